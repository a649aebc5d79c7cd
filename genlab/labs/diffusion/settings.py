"""The diffusion lab's parameters, its named series, its pacing and its sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import diffusion as df
from genlab.engine.datasets import DATASETS
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, MUTED, Series
from genlab.labs.params import Choice, Flag, Range, live_fields

VIEWS = ("forward", "score", "reverse")
SCHEDULES = ("linear", "cosine", "VE")
DATA_MODELS = ("mixture", "raw points")
SCORES = ("learned", "exact")

# One look per thing in every view and preset: the exact score and the network's (arrows,
# Tweedie points, the DDPM particles sampled with each, the loss and its floor), the three
# schedules (curves, their names, the marker at t), the floor of a distance, and the sample
# variance of x_t against its closed form.
EXACT, LEARNED, FLOOR = "exact", "learned", "floor"
SAMPLE, CLOSED = "sample", "closed form"
SERIES = (Series(EXACT, 0), Series(LEARNED, 1),
          Series("linear", 2), Series("cosine", 4), Series("VE", 12),
          Series(FLOOR, INK, dashed=True),
          Series(SAMPLE, INK), Series(CLOSED, MUTED, dashed=True))

# Metric and bar groups (``group/series``).
LOSS = "ε-prediction loss"
LOSS_NOW = "loss now (exact: its floor)"
SCORE_ERR = "½E‖ε_θ − ε*‖², the loss over its floor"
VARIANCE = "variance of x_t"
TRACK = "sliced W₂ to p_t"
LAST_PASS = "last pass: sliced W₂ to the data"

# Pacing at FPS: training starts one Adam step a frame in slow motion (SLOW frame intervals,
# easing to 1 over RAMP_FRAMES) and ends once its loss has levelled off; a DDPM pass takes
# about PASS_S seconds, slower where t is small (where the clusters form), and its samples
# stay PASS_HOLD seconds; a forward sweep takes SWEEP_S seconds the same way.
FPS = 20.0
RAMP_FRAMES = 40
SLOW = 2.0
HOLD_START = 1.0
HOLD_END = 2.0
PASS_S = 6.0
PASS_START_HOLD = 0.5
PASS_HOLD = 2.0
FINAL_T = 0.5  # a pass whose network was finished from this t on is the last one
SWEEP = 90  # frames of one forward sweep of t
SWEEP_S = 9.0
T_WEIGHT = 0.15  # a frame at time t stays ∝ 1/(T_WEIGHT + t)
# The loss has levelled off when its smoothed mean moved by at most FLAT_LOSS over a window
# of FLAT_STEPS Adam steps (at least FLAT_WINDOW frames), never before MIN_STEPS.
FLAT_STEPS = 600
FLAT_WINDOW = 10
FLAT_LOSS = 0.002
SMOOTH = 0.2
MIN_STEPS = 1500
EMA_DECAY = 0.995  # of the weights the lab shows and samples with

T_MIN = 1e-3  # the samplers stop, and the denoiser trains from, here
HEAT_N = 60  # p_t heatmap cells per side
ERR_N = 40  # error heatmap cells per side
FIELD_N = 17  # arrows per side of the score fields
FIELD_CAP = 2.5  # arrows show √v·s (= −ε), their length capped here (ε units)
ERR_CAP = 2.0  # the error heatmap is clipped here (ε units)
N_SHOW = 2000  # data points drawn
N_EVAL = 1000  # points x_t ~ p_t where the score error is averaged
LOSS_T, LOSS_PER_T = 32, 64  # fixed draws of the losses: times (midpoints) × points each
N_TRAILS = 12
TRAIL_LEN = 30
N_REF = 2000  # fresh samples of p_t the particles are measured against
FLOOR_DRAWS = 4
MIN_POINTS = 5
DIVERGED_LOSS = 25.0  # a network predicting ε_θ = 0 scores 1
CURVE_T = np.linspace(T_MIN, 1.0, 240)
PROBE_ARROW_PX = 30.0

_VIEW: Any = ("view", ("forward", "score"))


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the data: a toy data set, or the points you drew")] = "8gaussians"
    n_points: Annotated[int, Range(
        100, 20_000, "how many points to draw from the data set", step=100,
        when=("dataset", DATASETS), label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    data_model: Annotated[str, Choice(
        DATA_MODELS, "mixture: the data are a Gaussian mixture (8gaussians and gaussian are "
        "one; other sets are fitted by EM and sampled), so p_t and its score are exact; raw "
        "points: p_t is the noised empirical distribution blurred by a bandwidth (a kernel "
        "estimate)", label="data model")] = "mixture"
    n_components: Annotated[int, Range(
        1, 40, "components K of the mixture fitted to a data set that is not one",
        when=("data_model", ("mixture",)), label="components K")] = 12
    bandwidth: Annotated[float, Range(
        0.01, 1.0, "kernel width h of the kernel estimate of p_t (raw points)", step=0.01,
        when=("data_model", ("raw points",)))] = 0.1
    schedule: Annotated[str, Choice(
        SCHEDULES, "noise schedule: VP linear (β from 0.1 to 20), VP cosine (Nichol & "
        "Dhariwal), or VE (x_t = x_0 + σ(t)ε, σ from 0.01 to σ_max)")] = "linear"
    sigma_max: Annotated[float, Range(
        1.0, 20.0, "VE: the largest noise σ_max (the prior is N(0, σ_max² I))", step=0.5,
        when=("schedule", ("VE",)), label="σ_max")] = 5.0
    view: Annotated[str, Choice(
        VIEWS, "forward: the noising process; score: the learned score against the exact "
        "one; reverse: DDPM sampling from noise to data", live=True)] = "reverse"
    t: Annotated[float, Range(
        0.01, 1.0, "the time shown (0: data, 1: noise)", step=0.01, live=True,
        when=_VIEW)] = 0.3
    animate: Annotated[bool, Flag(
        "sweep t from 0 to 1 over the frames", live=True,
        when=("view", ("forward",)))] = False
    probe_x: Annotated[float, Range(
        -12.0, 12.0, "x of the Tweedie probe point x_t (drag it)", step=0.05, live=True,
        when=("view", ("score",)), label="probe x")] = 0.8
    probe_y: Annotated[float, Range(
        -12.0, 12.0, "y of the Tweedie probe point x_t (drag it)", step=0.05, live=True,
        when=("view", ("score",)), label="probe y")] = 1.4
    score: Annotated[str, Choice(
        SCORES, "the score the reverse process uses: the network's (trained on between "
        "frames) or the exact one", live=True, when=("view", ("reverse",)))] = "learned"
    n_steps: Annotated[int, Range(
        2, 1000, "DDPM steps from t = 1 to t = 0 (applies from the next pass)", live=True,
        when=("view", ("reverse",)), label="reverse steps")] = 100
    reverse_per_frame: Annotated[int, Range(
        1, 50, "reverse steps between two frames (a pass takes about six seconds at the "
        "lab's speed however many frames it has)", live=True, when=("view", ("reverse",)),
        label="reverse steps / frame")] = 2
    n_particles: Annotated[int, Range(
        100, 10_000, "particles sampled by the reverse process", step=100,
        label="particles")] = 2000
    hidden: Annotated[int, Range(
        16, 512, "width of the denoiser's hidden layers", step=16, label="hidden width")] = 128
    depth: Annotated[int, Range(1, 6, "hidden layers of the denoiser")] = 3
    lr: Annotated[float, Range(
        1e-4, 1.0, "Adam's learning rate", log=True, live=True, label="learning rate")] = 2e-3
    batch_size: Annotated[int, Range(
        16, 4096, "points per minibatch of the ε-prediction loss", step=16, live=True,
        label="batch size")] = 256
    steps: Annotated[int, Range(
        10, 50_000, "most Adam steps of the denoiser (training ends sooner once its loss "
        "has levelled off)", step=10, live=True)] = 3000
    steps_per_frame: Annotated[int, Range(
        1, 100, "Adam steps between two frames once training is under way (the first "
        "frames show one step each)", live=True, label="steps / frame")] = 40
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the noise, the network and the "
        "minibatches")] = 0


LIVE = live_fields(Params)


def make_schedule(p: Params) -> df.VPSchedule | df.VESchedule:
    """The schedule named by ``p.schedule``."""
    if p.schedule == "VE":
        return df.VESchedule(sigma_min=0.01, sigma_max=p.sigma_max)
    return df.VPSchedule(kind=p.schedule)


def pace_over(ts: np.ndarray, i: int, k: int, seconds: float) -> float:
    """Frame intervals a frame showing steps i .. i + k − 1 of the time grid ts stays, so
    that the whole grid takes about ``seconds`` at FPS, each step ∝ 1/(T_WEIGHT + t): slow
    where t is small, where the clusters form (never faster than the lab's speed)."""
    w = 1.0 / (T_WEIGHT + np.asarray(ts, dtype=np.float64))
    return max(1.0, seconds * FPS * float(w[i:i + k].sum() / w.sum()))


def training_pace(frame_no: int) -> float:
    """Frame intervals training frame ``frame_no`` stays: SLOW at first, 1 after the ramp."""
    return max(1.0, SLOW - (SLOW - 1.0) * frame_no / RAMP_FRAMES)
