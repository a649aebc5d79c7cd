"""The ODE-vs-SDE lab's parameters, its named series, its pacing and its budgets.

The other modules of the lab read the constants through this module (``S.DIST_N``), so a
test can make them smaller in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine.datasets import DATASETS
from genlab.engine.mixtures import GALLERY_MIXTURES
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Flag, Range

METHOD_SETS = ("ode | sde", "ode | sde | ddim", "euler | heun | ddim")
SOLVERS = ("heun", "euler")
SCORES = ("exact", "learned")
SCHEDULES = ("linear", "cosine")

# One look per sampler in every preset (a method keeps its colour whichever panels a preset
# shows), and the floor every distance is read against.
LABEL = {"euler": "Euler ODE", "heun": "Heun ODE", "sde": "SDE", "ddim": "DDIM"}
FLOOR = "two target draws"
SERIES = (
    Series(LABEL["heun"], 0),
    Series(LABEL["sde"], 1),
    Series(LABEL["ddim"], 2),
    Series(LABEL["euler"], 4),
    Series(FLOOR, INK, dashed=True),
)
TITLE = {"euler": "PF-ODE · Euler", "heun": "PF-ODE · Heun",
         "sde": "reverse SDE · Euler–Maruyama", "ddim": "DDIM (η = 0)"}
HOW = {"ode": "ODE: dx/dt = f x − ½g²∇log p_t (deterministic);",
       "sde": "SDE: dx = [f x − g²∇log p_t]dt + g dW, W a reverse-time Brownian motion (fresh "
              "noise each step);",
       "ddim": "DDIM: x_s = a_s E[x₀|x_t] + √v_s ε(x_t), ε = −√v_t ∇log p_t (η = 0)."}
CALLS = {"euler": 1, "heun": 2, "sde": 1, "ddim": 1}  # score calls per step

# Metric and bar groups (``group/series``).
TRACK = "sliced W₂ to p_t along the way"
LOSS = "ε-prediction loss"

DIST_STEPS = (2, 4, 8, 16, 32, 64, 128)  # the distance panel's step counts
DIST_N = 2000  # samples per distance, and target points they are measured against (equal
# sizes make the sliced W2 a plain sort)
REF_STEPS = 400  # the fine Heun solve the endpoint errors are measured to (its own error at
REF_N = 400  # 8 gaussians is ~6e-5, against 0.09 for Heun at N = 8); on this many points
FLOOR_DRAWS = 4  # independent target samples averaged into the floor
TRACK_N = 1000  # particles (and fresh draws of p_t) of the distance along the sweep ...
TRACK_FLOOR_DRAWS = 3  # ... whose floor is a mean over this many pairs of draws
TRACK_PROJ = 64
N_PROJ = 64  # directions of the sliced W2
N_FIT = 2000  # points drawn from a gallery set to fit a mixture to
N_TRAIN = 4000  # mixture samples the denoiser trains on
MIN_DRAWN = 5
T_MIN = 1e-3
# Trails: the ODE's smooth paths carry many, the SDE's jagged ones few and faint (thirty of
# them, and six start runs in ink, were a dark tangle over the start).
TRAILS = {"euler": 30, "heun": 30, "ddim": 30, "sde": 8}
TRAIL_ALPHA = {"euler": 0.8, "heun": 0.8, "ddim": 0.8, "sde": 0.4}
RUNS_ALPHA = 0.35  # the start's SDE runs, drawn fading, and fainter beyond ...
RUNS_FAINT_FROM = 6  # ... this many runs
TRAIL_ROWS = 40  # at most this many rows per trail
PATH_ROWS = 130  # at most this many rows per highlighted path
GRID = 72  # density cells per axis
LIM_Q = 0.995  # the plane holds this quantile of |x| of the noise and of the target ...
LIM_MARGIN = 1.1  # ... times this
# Estimated cost of one score call: (ms per call, ms per point), exact and learned on a CPU.
# Frames take jobs up to FRAME_BUDGET_MS of this estimate per frame interval they stay (an
# estimate, not a clock, so the frames are the same on every machine).
COST = {"exact": (0.05, 0.0005), "learned": (0.15, 0.0012)}
FRAME_BUDGET_MS = 40.0
MAX_BUDGET_MS = 160.0
DISTANCE_MS = 10.0  # one sliced W2 of DIST_N points, counted against each distance job
TRAIN_STEPS_PER_FRAME = 15
TRAIN_RAMP_FRAMES = 20  # the first training frames take fewer steps (the first moves shown)
HIDDEN, DEPTH, BATCH = 128, 3, 256
PREVIEW_N, PREVIEW_STEPS = 400, 16  # DDIM samples drawn while the denoiser trains

# Pacing at FPS.  The time sweep from the noise (t = 1) to the samples takes about SWEEP_S
# seconds (at most SWEEP_FRAMES frames), slower where t is small, where the clusters form (a
# frame at t stays in proportion to 1/(T_WEIGHT + t), but at most STEP_MAX_S: with few steps
# the sweep is shorter rather than one jump held for seconds); the noise is held HOLD_START
# seconds before it and the samples HOLD_END seconds after.
FPS = 20.0
SWEEP_FRAMES = 64
SWEEP_S = 8.0
T_WEIGHT = 0.15
STEP_MAX_S = 1.0
HOLD_START = 1.0
HOLD_END = 2.0

_FITTED: Any = ("dataset", tuple(d for d in DATA_CHOICES if d not in GALLERY_MIXTURES))
_LEARNED: Any = ("score", ("learned",))


def sweep_paces(ts: np.ndarray) -> np.ndarray:
    """Frame intervals each frame of a sweep over the times ``ts`` stays: SWEEP_S seconds in
    all at FPS, each in proportion to 1/(T_WEIGHT + t), none over STEP_MAX_S."""
    w = 1.0 / (T_WEIGHT + np.asarray(ts, dtype=np.float64))
    return np.minimum(SWEEP_S * FPS * w / w.sum(), STEP_MAX_S * FPS)


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the target: 8gaussians and gaussian are mixtures; any other set (or "
        "the points you drew) is replaced by K Gaussians fitted to it, so the score is "
        "exact for what is shown")] = "8gaussians"
    n_components: Annotated[int, Range(
        1, 24, "number K of Gaussians fitted by EM to a set that is not a mixture",
        when=_FITTED, label="components K")] = 10
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (8gaussians: component std 2·noise)",
        step=0.01, when=("dataset", DATASETS))] = 0.1
    schedule: Annotated[str, Choice(
        SCHEDULES, "VP noise schedule: linear β(t) from 0.1 to 20, or cosine ᾱ(t)")] = "linear"
    score: Annotated[str, Choice(
        SCORES, "exact: ∇log p_t of the noised mixture in closed form (no model error); "
        "learned: a denoiser ε_θ(x, t) trained on samples of the mixture")] = "exact"
    methods: Annotated[str, Choice(
        METHOD_SETS, "the samplers side by side: the ODE (solver below) with the SDE, with "
        "DDIM too, or three ODE discretisations")] = "ode | sde | ddim"
    ode_solver: Annotated[str, Choice(
        SOLVERS, "how the probability-flow ODE is stepped: Heun (2nd order, 2 score calls "
        "per step) or Euler (1st order)", when=("methods", METHOD_SETS[:2]),
        label="ODE solver")] = "heun"
    n_steps: Annotated[int, Range(
        2, 256, "number of steps N from t = 1 to t ≈ 0 (every sampler uses the same grid)",
        log=True, label="steps N")] = 50
    n_particles: Annotated[int, Range(
        200, 4000, "noise points x_T ~ N(0, I) carried by every sampler", step=100,
        label="particles")] = 1000
    n_sde_runs: Annotated[int, Range(
        1, 32, "SDE runs from the highlighted start, each with its own noise",
        label="SDE runs")] = 6
    start_x: Annotated[float, Range(
        -3.0, 3.0, "x of the highlighted start point x_T (drag the ringed handle)",
        step=0.05, live=True, label="start x")] = 0.3
    start_y: Annotated[float, Range(
        -3.0, 3.0, "y of the highlighted start point x_T (drag the ringed handle)",
        step=0.05, live=True, label="start y")] = 0.2
    time: Annotated[float, Range(
        0.0, 1.0, "how far the reverse process is shown: 0 the noise at t = 1, 1 the samples "
        "at t ≈ 0 (the nearest step is drawn)", step=0.01, live=True,
        label="time shown")] = 1.0
    animate: Annotated[bool, Flag(
        "sweep the shown time from the noise up to the slider's value when a run starts "
        "(off: show the slider's time at once)", live=True)] = True
    train_steps: Annotated[int, Range(
        100, 20_000, "Adam steps training the denoiser", log=True, when=_LEARNED,
        label="training steps")] = 2000
    lr: Annotated[float, Range(
        1e-4, 1e-2, "Adam's learning rate for the denoiser", log=True, when=_LEARNED,
        label="learning rate")] = 2e-3
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the noise points, the SDE noise, the data and the "
        "denoiser")] = 0
