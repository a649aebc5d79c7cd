"""The divergence lab's parameters and named series."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Range, live_fields

DIMENSIONS = ("1d", "2d")
LANDSCAPES = ("reverse KL", "forward KL")
DIRECTIONS = ("forward", "reverse")

# One look per thing: each fit (its curve, rug, ellipse, path, end dot, name and metric
# curves) and the exact optima, crosses in the ink colour drawn over the fits' end dots.
FORWARD, REVERSE = Series("forward KL", 0), Series("reverse KL", 1)
OPTIMUM = Series("exact optimum", INK, marker="x")
SERIES = (FORWARD, REVERSE, OPTIMUM)
FIT = {"forward": FORWARD, "reverse": REVERSE}  # direction -> its series

_1D: Any = ("dimension", ("1d",))
_2D: Any = ("dimension", ("2d",))


def _pos(help: str, label: str, dims: Any, lim: float) -> Any:
    return Range(-lim, lim, help, step=0.05, live=True, when=dims, label=label)


_M1 = _pos("position of mode 1 (drag its handle)", "mode 1", _1D, 5.0)
_M2 = _pos("position of mode 2 (drag its handle)", "mode 2", _1D, 5.0)
_M3 = _pos("position of mode 3, used when modes = 3 (drag its handle)", "mode 3", _1D, 5.0)
_M1X = _pos("mode 1, x coordinate (drag its handle)", "mode 1 x", _2D, 4.0)
_M1Y = _pos("mode 1, y coordinate (drag its handle)", "mode 1 y", _2D, 4.0)
_M2X = _pos("mode 2, x coordinate (drag its handle)", "mode 2 x", _2D, 4.0)
_M2Y = _pos("mode 2, y coordinate (drag its handle)", "mode 2 y", _2D, 4.0)
_M3X = _pos("mode 3, x coordinate, used when modes = 3 (drag its handle)", "mode 3 x", _2D, 4.0)
_M3Y = _pos("mode 3, y coordinate, used when modes = 3 (drag its handle)", "mode 3 y", _2D, 4.0)


@dataclass(frozen=True)
class Params:
    dimension: Annotated[str, Choice(
        DIMENSIONS, "fit on the line (1d: with the (μ, σ) plane) or in the plane (2d)")] = "1d"
    n_modes: Annotated[int, Range(
        2, 3, "number of modes K of the target mixture p", live=True, label="modes")] = 2
    mu1: Annotated[float, _M1] = -2.5
    mu2: Annotated[float, _M2] = 2.5
    mu3: Annotated[float, _M3] = 0.5
    mu1x: Annotated[float, _M1X] = -2.0
    mu1y: Annotated[float, _M1Y] = -1.5
    mu2x: Annotated[float, _M2X] = 2.0
    mu2y: Annotated[float, _M2Y] = 1.5
    mu3x: Annotated[float, _M3X] = -1.5
    mu3y: Annotated[float, _M3Y] = 2.5
    std1: Annotated[float, Range(
        0.2, 1.5, "standard deviation of mode 1", step=0.05, live=True,
        label="σ of mode 1")] = 0.6
    std2: Annotated[float, Range(
        0.2, 1.5, "standard deviation of mode 2", step=0.05, live=True,
        label="σ of mode 2")] = 0.6
    std3: Annotated[float, Range(
        0.2, 1.5, "standard deviation of mode 3 (used when modes = 3)", step=0.05, live=True,
        label="σ of mode 3")] = 0.6
    w1: Annotated[float, Range(
        0.05, 1.0, "relative weight of mode 1 (the weights are normalised: π_k = w_k / Σ w)",
        step=0.05, live=True, label="weight 1")] = 1.0
    w2: Annotated[float, Range(
        0.05, 1.0, "relative weight of mode 2 (π_k = w_k / Σ w)", step=0.05, live=True,
        label="weight 2")] = 1.0
    w3: Annotated[float, Range(
        0.05, 1.0, "relative weight of mode 3, used when modes = 3 (π_k = w_k / Σ w)",
        step=0.05, live=True, label="weight 3")] = 1.0
    lr: Annotated[float, Range(
        1e-3, 0.5, "Adam's step size for both fits (on μ and the log standard deviations)",
        log=True, live=True, label="learning rate")] = 0.05
    n_samples: Annotated[int, Range(
        4, 4096, "minibatch size: samples x ~ p (forward) or ε ~ N(0, I) (reverse) per step",
        step=4, live=True, label="samples / step")] = 256
    steps: Annotated[int, Range(
        10, 5000, "optimisation steps of each fit at most (the run ends sooner once both "
        "fits have levelled off)")] = 300
    steps_per_frame: Annotated[int, Range(
        1, 50, "optimisation steps taken between two frames once the slow start is over "
        "(the first steps are shown one by one)", live=True, label="steps / frame")] = 3
    init_mean: Annotated[float, Range(
        -5.0, 5.0, "mean μ₀ where both fits start (drag the start handle in the (μ, σ) plane)",
        step=0.05, when=_1D, label="start μ₀")] = 0.5
    init_x: Annotated[float, Range(
        -4.0, 4.0, "x of the mean where both fits start (drag the start handle)", step=0.05,
        when=_2D, label="start x")] = 0.5
    init_y: Annotated[float, Range(
        -4.0, 4.0, "y of the mean where both fits start (drag the start handle)", step=0.05,
        when=_2D, label="start y")] = 0.0
    init_std: Annotated[float, Range(
        0.2, 5.0, "standard deviation σ₀ where both fits start (2d: a circle of radius σ₀)",
        step=0.05, label="start σ₀")] = 0.5
    landscape: Annotated[str, Choice(
        LANDSCAPES, "which objective the (μ, σ) plane shows under the two paths", live=True,
        when=_1D)] = "reverse KL"
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of both fits' minibatches")] = 0


LIVE = live_fields(Params)
