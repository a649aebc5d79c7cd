"""The OT lab's parameters, constants and named series."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.engine.datasets import DATASETS
from genlab.engine.ot import TOL
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Flag, Range

METHODS = ("independent", "exact", "sinkhorn", "exact vs sinkhorn")
VIEWS = ("plan", "interpolation", "1D Gaussians")
WEIGHTS = ("uniform", "dirichlet")

# One look per thing: the two clouds, and the three couplings (their costs in every metric
# plot and bar, their pairs in the 1D view).  The entropic objective ⟨C, P⟩ + ε KL is the
# entropic plan's other number, so it shares its colour, dashed.
SERIES = (Series("source", 0), Series("target", 1), Series("exact", 2),
          Series("entropic", 4), Series("entropic + εKL", 4, dashed=True),
          Series("independent", INK))

_SINKHORN: Any = ("method", ("sinkhorn", "exact vs sinkhorn"))
_INTERP: Any = ("view", ("interpolation",))


@dataclass(frozen=True)
class Params:
    # The source is named ``dataset`` so the window's Paint tool switches it to the drawing.
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the source cloud: a toy data set, or the points you drew in colour 1",
        label="source")] = "gaussian"
    target: Annotated[str, Choice(
        DATA_CHOICES, "the target cloud: a toy data set, or the points you drew in colour 2",
        label="target")] = "moons"
    n: Annotated[int, Range(
        2, 2000, "how many source points to draw from the data set", step=10,
        when=("dataset", DATASETS), label="source points n")] = 400
    m: Annotated[int, Range(
        2, 2000, "how many target points to draw from the data set", step=10,
        when=("target", DATASETS), label="target points m")] = 400
    noise: Annotated[float, Range(
        0.0, 1.0, "how much both data sets are blurred (drawn points are used as they are)",
        step=0.01)] = 0.1
    weights: Annotated[str, Choice(
        WEIGHTS, "the points' masses a_i, b_j: all equal, or random from a Dirichlet (a "
        "marker's area is then proportional to its mass)")] = "uniform"
    concentration: Annotated[float, Range(
        0.1, 10.0, "Dirichlet concentration α: small α gives a few heavy points, large α "
        "nearly equal masses", log=True, when=("weights", ("dirichlet",)),
        label="Dirichlet α")] = 1.0
    method: Annotated[str, Choice(
        METHODS, "the coupling: independent a⊗b, exact (earth mover's, POT), entropic "
        "(Sinkhorn), or exact and entropic side by side")] = "exact vs sinkhorn"
    eps_rel: Annotated[float, Range(
        1e-3, 10.0, "entropic regularisation ε as a multiple of the median cost "
        "(the caption gives the absolute ε)", log=True, when=_SINKHORN,
        label="ε / median cost")] = 0.02
    view: Annotated[str, Choice(
        VIEWS, "what to show: the plan, the points moved along it, or the 1D picture "
        "N(0, 1) → N(1, 1)")] = "plan"
    t: Annotated[float, Range(
        0.0, 1.0, "time of the displacement interpolation (0: source, 1: target)", step=0.01,
        live=True, when=_INTERP)] = 0.5
    animate_t: Annotated[bool, Flag(
        "sweep t from 0 to 1 over the frames, then hold (off: show the slider's t)",
        live=True, when=_INTERP, label="animate t")] = True
    iters_per_frame: Annotated[int, Range(
        1, 500, "Sinkhorn iterations per frame once the slow start is over (the first "
        "iterations are shown one by one; fewer at large n·m, to keep frames quick)",
        log=True, live=True, when=_SINKHORN, label="iterations / frame")] = 3
    max_iter: Annotated[int, Range(
        10, 100_000, f"Sinkhorn stops here if the marginal violation is not yet below "
        f"{TOL:.0e}", log=True, when=_SINKHORN, label="max iterations")] = 5000
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data sets and the Dirichlet weights")] = 0
