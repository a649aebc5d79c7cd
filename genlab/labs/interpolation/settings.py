"""The interpolation lab's parameters, named series, pacing, the prior and the paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import latent
from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Range

DECODERS = ("none", "diffusion", "flow")
GRID_MAPS = ("combine", "linear")
DEVICES = ("auto", "cpu", "cuda", "mps")
_NONE: Any = ("decoder", ("none",))
_MODEL: Any = ("decoder", ("diffusion", "flow"))

LERP, SLERP, COMBINE, SLIDE = "lerp", "slerp", "combine", "wᵀX / wᵀw"
PATHS = (LERP, SLERP, COMBINE, SLIDE)
SAMPLES = "samples"
SERIES = (Series(LERP, 0), Series(SLERP, 1), Series(COMBINE, 2), Series(SLIDE, 4, dashed=True),
          Series(SAMPLES, INK))

FPS = 8.0
T_FINE = 101  # points per path in the curves
SWEEP = np.round(np.linspace(0.0, 1.0, 21), 2)  # the marker's t in the opening
HOLD_START, HOLD_MID, HOLD_DERIVE, HOLD_END = 2.0, 2.0, 5.0, 3.0
GRID = 5  # the subspace grid is GRID × GRID images
REFRESH = 250  # training steps between two decodings while a model trains
CONTRAST_PAIRS = 24  # pairs of latents whose decoded midpoints give the contrast bars


@dataclass(frozen=True)
class Params:
    decoder: Annotated[str, Choice(
        DECODERS, "none: latents only (any d, μ, Σ); diffusion / flow: a model of the 8×8 "
        "digits trained here, or the checkpoint opened with File → Open checkpoint, decodes "
        "each latent with its deterministic map (DDIM, Euler)")] = "diffusion"
    d: Annotated[int, Range(
        2, 10_000, "dimension d of the latents", log=True, when=_NONE,
        label="dimension d")] = 784
    mean: Annotated[float, Range(
        -2.0, 2.0, "the prior's mean μ = m·(1, …, 1)", step=0.1, when=_NONE,
        label="mean m")] = 0.0
    spread: Annotated[float, Range(
        1.0, 10.0, "the prior's Σ = diag(σᵢ²), σᵢ spaced evenly in log from 1/s to s",
        step=0.5, when=_NONE, label="spread s")] = 1.0
    t: Annotated[float, Range(
        0.0, 1.0, "the point marked on every path after the opening", step=0.01, live=True,
        when=_NONE, label="t")] = 0.5
    k: Annotated[int, Range(
        2, 16, "latents averaged in the centroid bars: their plain mean has norm √(d/K)",
        label="K")] = 4
    columns: Annotated[int, Range(
        5, 13, "images along each decoded path", when=_MODEL)] = 9
    grid_map: Annotated[str, Choice(
        GRID_MAPS, "how the subspace grid combines its 3 latents: combine (back to the "
        "prior) or the plain linear combination wᵀX", live=True, when=_MODEL,
        label="grid")] = "combine"
    width: Annotated[int, Range(
        8, 128, "the digits model's width (an MLP)", step=8, when=_MODEL)] = 32
    train_steps: Annotated[int, Range(
        100, 50_000, "training steps of the digits model (a stored model goes on from where "
        "it was)", step=100, live=True, when=_MODEL, label="training steps")] = 3000
    steps_per_frame: Annotated[int, Range(
        1, 500, "training steps between two frames", live=True, when=_MODEL,
        label="steps / frame")] = 50
    sample_steps: Annotated[int, Range(
        1, 200, "steps of the deterministic sampler (DDIM or Euler)", live=True,
        when=_MODEL, label="sampler steps")] = 40
    device: Annotated[str, Choice(
        DEVICES, "where to train: auto picks CUDA, then Apple's MPS, then the CPU",
        when=_MODEL)] = "auto"
    seed: Annotated[int, Range(0, 2**31 - 1, "seed of the latents and the model")] = 0


LIVE = ("t", "grid_map", "train_steps", "steps_per_frame", "sample_steps")


@dataclass(frozen=True)
class Prior:
    """N(μ, diag(var)) in d dimensions."""

    mean: np.ndarray  # (d,)
    var: np.ndarray  # (d,)

    @property
    def d(self) -> int:
        return int(self.mean.shape[0])

    @property
    def standard(self) -> bool:
        return bool(np.all(self.mean == 0) and np.all(self.var == 1))

    @classmethod
    def of(cls, d: int, m: float = 0.0, s: float = 1.0) -> Prior:
        sigma = np.geomspace(1.0 / s, s, d) if d > 1 else np.ones(1)
        return cls(np.full(d, float(m)), sigma ** 2)

    def draw(self, n: int, seed: int, stream: int) -> np.ndarray:
        """(n, d) i.i.d. draws, from their own stream of the run's seed."""
        eps = np.random.default_rng([seed, stream]).standard_normal((n, self.d))
        return self.mean + np.sqrt(self.var) * eps

    def whiten(self, z: np.ndarray) -> np.ndarray:
        """Σ^(-1/2)(z − μ): the prior becomes N(0, I), its annulus the sphere of radius √d."""
        return (z - self.mean) / np.sqrt(self.var)

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        return latent.gaussian_logpdf(z, self.mean, self.var)

    @property
    def log_mode(self) -> float:
        return float(self.logpdf(self.mean))


def paths(x0: np.ndarray, x1: np.ndarray, t: np.ndarray, mean: np.ndarray
          ) -> dict[str, np.ndarray]:
    """The four paths from x0 to x1 at t (T,): each (T, d).  combine and the slide's version
    use the weights w = (1 − t, t): α = 1, β = (1 − t)² + t²."""
    X = np.stack([x0, x1])
    w = np.stack([1.0 - t, t], axis=1)
    beta = (w * w).sum(1, keepdims=True)
    y = w @ X
    return {LERP: latent.lerp(x0, x1, t), SLERP: latent.slerp(x0, x1, t),
            COMBINE: latent.combine(w, X, mean), SLIDE: mean + (y - mean) / beta}


def grid_weights(g: int = GRID) -> np.ndarray:
    """(g·g, 3) weights of the subspace grid, row-major from the top left: x₀ at the top left,
    x₁ at the top right, x₂ at the bottom left, w = (1 − s − u, s, u) for s, u in [0, 1]."""
    s = np.linspace(0.0, 1.0, g)
    u, ss = np.meshgrid(s, s, indexing="ij")
    return np.stack([1.0 - ss - u, ss, u], axis=-1).reshape(-1, 3)


def grid_latents(X3: np.ndarray, mean: np.ndarray, how: str) -> np.ndarray:
    """(g·g, d) latents of the subspace grid from 3 latents X3 (3, d)."""
    w = grid_weights()
    return latent.combine(w, X3, mean) if how == "combine" else w @ X3
