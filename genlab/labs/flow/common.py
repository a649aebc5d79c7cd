"""The flow lab's parameters, named series, pacing and the checks shared by its 1D and 2D
runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine.datasets import DATASETS
from genlab.labs.base import LabError
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, MUTED, Series
from genlab.labs.pacing import Plateau, ramp
from genlab.labs.params import Choice, Range
from genlab.labs.plane import signed

DIMENSIONS = ("2d", "1d")
MODELS = ("realnvp", "planar")
VIEWS = ("density", "warp", "log-det")
DATASETS_1D = ("two bumps", "three bumps", "skewed", "uniform")  # = flows_1d.DATASETS_1D

MIN_POINTS = 5
DIVERGED_RISE = 10.0  # nats per point above the best training NLL
EVAL_POINTS = 2000  # NLLs are estimated on at most this many points of each split

# One look per thing in every view and preset: the training points (and their histogram),
# the held-out points, the samples, the model's density and map, the true density, the
# untrained model; the NLL curves take the colours of their splits.
SERIES = (Series("train", 0), Series("held-out", 1), Series("samples", 2),
          Series("model", INK), Series("true p", 15, dashed=True),
          Series("start", MUTED, dashed=True))

# Pacing: the first frames show one Adam step each (the first hundred steps move the most),
# slowed down, then the steps per frame grow to ``steps_per_frame``; the run ends once both
# NLLs have levelled off.
RAMP_FRAMES = 40
SLOW = 2.0  # frame intervals per frame at the start, easing to 1 by RAMP_FRAMES
HOLD_START = 1.0  # seconds on the untrained model
HOLD_END = 2.0  # seconds on the last frame (in exports that loop)
FLAT_STEPS = 250  # Adam steps per Plateau window ...
FLAT_WINDOW = 10  # ... and at least this many frames
FLAT_NATS = 0.02  # a window's mean NLL moved by at most this much: levelled off
SMOOTH = 0.1  # the NLLs are smoothed (EMA) before that test: minibatch jitter is not a trend
MIN_STEPS = 300

_2D: Any = ("dimension", ("2d",))
_1D: Any = ("dimension", ("1d",))


@dataclass(frozen=True)
class Params:
    dimension: Annotated[str, Choice(
        DIMENSIONS, "2d: a flow on the plane; 1d: the lectures' picture of one monotone map "
        "from N(0, 1) to the data")] = "2d"
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the points to fit: a toy data set, or the points you drew",
        when=_2D)] = "moons"
    n_points: Annotated[int, Range(
        100, 20_000, "how many points to draw from the data set", step=100,
        when=("dataset", DATASETS), label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    data_1d: Annotated[str, Choice(
        DATASETS_1D, "the 1D data: two or three Gaussian bumps, a skewed log-normal, or a "
        "uniform (sharp edges a smooth map can only approach)", when=_1D,
        label="1D data")] = "two bumps"
    n_points_1d: Annotated[int, Range(
        50, 20_000, "how many 1D points to draw", step=50, when=_1D, label="points")] = 1000
    model: Annotated[str, Choice(
        MODELS, "realnvp: affine couplings z_b = x_b·exp(s(x_a)) + t(x_a) with alternating "
        "masks; planar: layers x + û·tanh(wᵀx + b)", when=_2D)] = "realnvp"
    n_layers: Annotated[int, Range(
        1, 32, "number of coupling or planar layers K", when=_2D, label="layers")] = 8
    hidden: Annotated[int, Range(
        4, 256, "width of the two hidden layers of each coupling's s, t network", step=4,
        when=("model", ("realnvp",)), label="hidden width")] = 32
    n_terms: Annotated[int, Range(
        1, 32, "number of tanh terms of the monotone map g(x) = a·x + b + Σ w_k tanh(s_k(x − "
        "c_k))", when=_1D, label="tanh terms")] = 8
    lr: Annotated[float, Range(
        1e-4, 0.1, "Adam's learning rate", log=True, live=True, label="learning rate")] = 2e-3
    batch_size: Annotated[int, Range(
        16, 2048, "points per minibatch of the negative log-likelihood", step=16, live=True,
        label="batch size")] = 256
    steps: Annotated[int, Range(
        10, 50_000, "most Adam steps in the run (it ends sooner once the training and "
        "held-out NLLs have levelled off; raise it to train on)", step=10, live=True)] = 2500
    steps_per_frame: Annotated[int, Range(
        1, 100, "Adam steps between two frames once training is under way (the first frames "
        "show one step each)", live=True, label="steps / frame")] = 5
    view: Annotated[str, Choice(
        VIEWS, "density: data, learned p(x) and samples; warp: grids pushed through the "
        "layers; log-det: log p(x) split into log N(F(x)) and log|det J|", live=True,
        when=_2D)] = "density"
    layer: Annotated[int, Range(
        0, 32, "how many layers the warped grids have gone through (at most the number of "
        "layers)", live=True, when=("view", ("warp",)), label="shown layer")] = 8
    held_out: Annotated[float, Range(
        0.0, 0.5, "fraction of the points kept out of training, to measure over-fitting",
        step=0.05, label="held-out fraction")] = 0.2
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the split, the initial weights and the "
        "minibatches")] = 0


LIVE = ("lr", "batch_size", "steps", "steps_per_frame", "view", "layer")


def steps_for(frame_no: int, p: Params, done: int) -> int:
    """Adam steps between frame ``frame_no`` and the next: one at first, growing to
    steps_per_frame over RAMP_FRAMES frames, never past ``p.steps``."""
    return max(0, min(ramp(frame_no, p.steps_per_frame, RAMP_FRAMES), p.steps - done))


def pace_of(frame_no: int) -> float:
    """Frame intervals frame ``frame_no`` stays: SLOW at first, 1 once the ramp is done."""
    return max(1.0, SLOW - (SLOW - 1.0) * frame_no / RAMP_FRAMES)


def total(p: Params, frame_no: int, done: int) -> int:
    """Frames of the run if it trains to ``p.steps``: those so far, this one, the rest."""
    n = frame_no + 1
    while done < p.steps:
        if frame_no >= RAMP_FRAMES:
            return n + -(-(p.steps - done) // p.steps_per_frame)
        done += steps_for(frame_no, p, done)
        frame_no, n = frame_no + 1, n + 1
    return n


def advance(p: Params, trainer: Any, frame_no: int, done: int) -> np.ndarray | None:
    """Apply the live learning rate and batch size, then train for the next frame; the
    losses of its steps, or None once ``p.steps`` steps are done."""
    trainer.lr, trainer.batch_size = p.lr, p.batch_size
    if done >= p.steps:
        return None
    return trainer.step(steps_for(frame_no, p, done))


class Converged:
    """Whether the smoothed training and held-out NLLs have both levelled off (a Plateau
    each), never before MIN_STEPS; restarts when the learning rate or the steps per frame
    change (a new regime)."""

    def __init__(self, p: Params) -> None:
        self.regime: tuple = ()
        self.reset(p)

    def reset(self, p: Params) -> None:
        self.regime = (p.lr, p.batch_size, p.steps_per_frame)
        self.window = max(FLAT_WINDOW, -(-FLAT_STEPS // p.steps_per_frame))
        self.flat: dict[str, Plateau] = {}
        self.smooth: dict[str, float] = {}
        self.at: list[int] = []

    def add(self, p: Params, nlls: dict[str, float], done: int) -> bool:
        if (p.lr, p.batch_size, p.steps_per_frame) != self.regime:
            self.reset(p)
        self.at = (self.at + [done])[-2 * self.window:]
        flat = []
        for name, v in nlls.items():
            s = self.smooth.get(name, v)
            self.smooth[name] = s = s + SMOOTH * (v - s)
            pl = self.flat.setdefault(name, Plateau(self.window, 0.0, FLAT_NATS))
            flat.append(pl.add(s))
        return all(flat) and done >= MIN_STEPS

    def story(self) -> str:
        """What levelled off: each smoothed NLL's mean over the two windows compared."""
        parts = []
        for name, pl in self.flat.items():
            v = np.asarray(pl.values)
            parts.append(f"{name} {signed(v[:self.window].mean())} → "
                         f"{signed(v[self.window:].mean())}")
        span = self.at[-1] - self.at[0]
        return (f"the mean NLLs ({', '.join(parts)} nats, smoothed, over the last {span} "
                f"steps) moved by at most {FLAT_NATS:g} nats")


def split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out): a seeded permutation, at least MIN_POINTS - 1 to train."""
    perm = np.random.default_rng([seed, 7]).permutation(n)
    n_held = min(int(round(frac * n)), max(n - (MIN_POINTS - 1), 0))
    return perm[n_held:], perm[:n_held]


def diverged(what: str, step: int, lr: float) -> LabError:
    return LabError(f"the flow diverged at step {step} ({what}): lower the learning rate (now "
                    f"{lr:.2g}), or use a larger batch or fewer layers.")


class Watch:
    """Stops a run whose loss is NaN or has risen DIVERGED_RISE nats above its best."""

    def __init__(self) -> None:
        self.best = math.inf

    def check(self, losses: np.ndarray, nll: float, step: int, lr: float) -> None:
        if not (np.isfinite(losses).all() and math.isfinite(nll)):
            raise diverged("the loss became NaN or infinite", step, lr)
        if nll > self.best + DIVERGED_RISE:
            raise diverged(f"the training NLL rose from {signed(self.best, 2)} to "
                           f"{signed(nll, 2)} nats per point", step, lr)
        self.best = min(self.best, nll)


def finite(arrays: tuple[np.ndarray, ...], step: int, lr: float) -> None:
    for a in arrays:
        if not np.isfinite(a).all():
            raise diverged("the map sent points to infinity", step, lr)


def lead(p: Params, frame_no: int, done: int, moved: int, converged: Converged | None,
         start: str) -> str:
    """The caption's first words: the start, the step, or why the run ends here (``moved``:
    the steps since the last frame)."""
    if frame_no == 0:
        return start
    if converged is not None:
        return (f"Converged after {done} Adam steps: {converged.story()}, so the run ends "
                "here. ")
    if done >= p.steps:
        return f"Done: {done} Adam steps (raise 'steps' to go on). "
    if moved == 1 and p.steps_per_frame > 1:
        return f"Step {done} (early training, one step per frame): "
    return f"Step {done}: "
