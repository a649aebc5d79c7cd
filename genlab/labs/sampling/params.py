"""The sampling lab's parameters: one mode per step from uniform numbers to samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from genlab.labs.params import Choice, Range

MODES = ("lcg", "box-muller", "inverse-cdf", "cholesky", "ancestral")
LCG_CHOICES = ("RANDU", "MINSTD", "Numerical Recipes", "tiny lattice", "custom")
DISTS = ("exponential", "gaussian", "mixture")

_LCG = ("mode", ("lcg",))
_CUSTOM = ("generator", ("custom",))
_TRACED = ("mode", ("box-muller", "inverse-cdf"))
_INV = ("mode", ("inverse-cdf",))
_CHOL = ("mode", ("cholesky",))
_ANC = ("mode", ("ancestral",))



@dataclass(frozen=True)
class Params:
    mode: Annotated[str, Choice(
        MODES, "which step from uniform numbers to samples to animate")] = "box-muller"
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of numpy's PCG64 generator, which draws the uniforms "
        "(except the LCG's own)")] = 0
    n_samples: Annotated[int, Range(
        50, 20000, "how many samples the run draws", step=50, label="samples")] = 2000
    # --- lcg
    generator: Annotated[str, Choice(
        LCG_CHOICES, "a known linear congruential generator, or your own m, a, c",
        when=_LCG)] = "RANDU"
    m: Annotated[int, Range(
        2, 2**32, "modulus m of X ← (aX + c) mod m", when=_CUSTOM)] = 256
    a: Annotated[int, Range(
        0, 2**32 - 1, "multiplier a of X ← (aX + c) mod m (taken mod m)", when=_CUSTOM)] = 137
    c: Annotated[int, Range(
        0, 2**32 - 1, "increment c of X ← (aX + c) mod m (taken mod m)", when=_CUSTOM)] = 187
    x0: Annotated[int, Range(
        0, 2**32 - 1, "the LCG's seed X₀ (taken mod m); the first uniform is X₁ / m",
        when=_LCG, label="X₀")] = 1
    # --- box-muller and inverse-cdf
    traced: Annotated[int, Range(
        0, 12, "how many draws show their construction (R and θ, or the path u → x)",
        live=True, when=_TRACED)] = 4
    # --- inverse-cdf
    dist: Annotated[str, Choice(
        DISTS, "the distribution whose inverse CDF maps the uniforms",
        when=_INV, label="distribution")] = "exponential"
    rate: Annotated[float, Range(
        0.2, 5.0, "rate λ of the exponential, F(x) = 1 − e^(−λx)", step=0.1, live=True,
        when=("dist", ("exponential",)), label="rate λ")] = 1.0
    mu: Annotated[float, Range(
        -3.0, 3.0, "mean μ of the Gaussian", step=0.1, live=True,
        when=("dist", ("gaussian",)), label="μ")] = 0.0
    sigma: Annotated[float, Range(
        0.2, 3.0, "standard deviation σ of the Gaussian", step=0.05, live=True,
        when=("dist", ("gaussian",)), label="σ")] = 1.0
    separation: Annotated[float, Range(
        0.0, 6.0, "distance between the two mixture components' means", step=0.1,
        live=True, when=("dist", ("mixture",)))] = 3.0
    # --- cholesky
    mu_x: Annotated[float, Range(
        -2.0, 2.0, "target mean μ, x coordinate", step=0.1, live=True, when=_CHOL,
        label="μ x")] = 0.5
    mu_y: Annotated[float, Range(
        -2.0, 2.0, "target mean μ, y coordinate", step=0.1, live=True, when=_CHOL,
        label="μ y")] = -0.3
    sigma_x: Annotated[float, Range(
        0.2, 2.0, "target standard deviation along x", step=0.05, live=True, when=_CHOL,
        label="σ x")] = 1.5
    sigma_y: Annotated[float, Range(
        0.2, 2.0, "target standard deviation along y", step=0.05, live=True, when=_CHOL,
        label="σ y")] = 0.7
    rho: Annotated[float, Range(
        -0.95, 0.95, "target correlation ρ between x and y", step=0.05, live=True,
        when=_CHOL, label="ρ")] = 0.7
    # --- ancestral
    k: Annotated[int, Range(
        2, 8, "number of mixture components K", when=_ANC, label="K")] = 4
    spread: Annotated[float, Range(
        0.5, 3.0, "how far the component means lie from the origin", step=0.1,
        when=_ANC)] = 2.5
