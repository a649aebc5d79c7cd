"""The guidance lab's parameters, its named series, the w grid of the sweep and its pacing,
and the budgets of its sampling jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Flag, Range, live_fields

DATASETS = ("moons", "8gaussians", "circles", "2spirals", "pinwheel", "checkerboard",
            "swissroll", "drawn")
SCORES = ("learned + exact", "exact only")
SAMPLERS = ("DDIM", "DDPM")
VIEWS = ("samples", "fields")
KINDS = ("learned", "exact")
W_MAX = 10.0

# One look per thing: a measure has its colour (fidelity green, spread pink) and a source its
# line style (exact solid, learned dashed), in the trade-off panel and the metric plot alike.
# The three scores at the probe are the same things as the two losses: the net's
# unconditional (∅) and conditional (y) predictions, and their guided mix (w).
UNCOND, COND, GUIDED = "unconditional (∅)", "conditional (y)", "guided (w)"


def fidelity(kind: str) -> str:
    return f"fidelity ({kind})"


def spread(kind: str) -> str:
    return f"spread ({kind})"


SERIES = (
    Series(fidelity("exact"), 2), Series(fidelity("learned"), 2, dashed=True),
    Series(spread("exact"), 4), Series(spread("learned"), 4, dashed=True),
    Series(UNCOND, INK), Series(COND, 5), Series(GUIDED, 3),
)
TRADEOFF = "fidelity and spread"  # the metric group of the four curves against w

# The sweep: w steps over this grid, every value a frame held SLOW_S seconds up to w = 2
# (where samples leave the other class and fidelity climbs) and FAST_S beyond, with beats
# on the unconditional (w = 0) and the conditional (w = 1) model: about 12 s at FPS.
W_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0,
          10.0)
BEATS = {0.0: 2.0, 1.0: 2.0}
SLOW_UP_TO, SLOW_S, FAST_S = 2.0, 0.6, 0.45
FPS = 20.0

T_MIN = 1e-3
N_FIT = 2000  # points drawn from a gallery set to fit the class mixtures to
N_TRAIN = 4000  # mixture samples the denoiser trains on
N_SHOW = 800  # training points drawn faintly behind the samples
MIN_DISTINCT = 5
HIDDEN, DEPTH, BATCH = 128, 3, 256
TRAIN_STEPS_PER_FRAME = 15
PREVIEW_N, PREVIEW_STEPS = 300, 12  # guided DDIM samples drawn while the denoiser trains
FIELD_N = 15  # arrows per side of the guided field
HEAT_N = 48  # cells per side of the tilted density
DIVERGED_LOSS = 25.0  # a net predicting ε_θ = 0 scores 1
# Estimated cost (ms) of one sampler step per point: exact per mixture component, learned
# per point (a guided step is one forward pass on 2n points).  A frame takes work up to
# FRAME_BUDGET_MS of this estimate times the previous frame's length in frame intervals (a
# beat leaves time to sample the next w), at most MAX_BUDGET_MS (an estimate, not a clock:
# the frames are the same on every machine).
EXACT_MS_PER_POINT_COMPONENT = 3e-5
LEARNED_MS_PER_POINT = 4e-3
FRAME_BUDGET_MS = 35.0
MAX_BUDGET_MS = 400.0
N_CACHED = 64  # sample sets kept (the sweep's grid and recent slider values)

_LEARNED: Any = ("score", ("learned + exact",))
_FITTED: Any = ("dataset", tuple(d for d in DATASETS if d != "8gaussians"))


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATASETS, "labelled data: each class is a Gaussian mixture (8gaussians: one cluster "
        "per class, exactly; other sets: K Gaussians fitted per class); drawn: your points, "
        "one class per paint colour")] = "moons"
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred", step=0.01,
        when=("dataset", DATASETS[:-1]))] = 0.1
    n_components: Annotated[int, Range(
        1, 12, "Gaussians K fitted by EM to each class (the exact scores are those of this "
        "mixture)", when=_FITTED, label="components / class")] = 6
    label: Annotated[int, Range(
        0, 9, "the class y to sample (moved to the nearest class present)", live=True,
        label="class y")] = 0
    w: Annotated[float, Range(
        0.0, W_MAX, "guidance weight: 0 unconditional, 1 conditional, > 1 sharper p(y|x)^w",
        step=0.1, live=True, label="guidance w")] = 3.0
    view: Annotated[str, Choice(
        VIEWS, "samples: guided samples of class y, learned beside exact; fields: the guided "
        "score field at noise level t, learned beside exact, with the three scores at the "
        "probe", live=True)] = "samples"
    sweep: Annotated[bool, Flag(
        "sweep w from 0 to 10 when the run starts (filling the fidelity/diversity panel); "
        "moving w stops it", live=True, label="sweep w")] = True
    t: Annotated[float, Range(
        0.02, 1.0, "noise level t of the score fields (0 data, 1 noise)", step=0.01,
        live=True, label="field t")] = 0.3
    probe_x: Annotated[float, Range(
        -6.0, 6.0, "x of the probe where the three scores are drawn (drag it)", step=0.05,
        live=True, label="probe x")] = 2.0
    probe_y: Annotated[float, Range(
        -6.0, 6.0, "y of the probe where the three scores are drawn (drag it)", step=0.05,
        live=True, label="probe y")] = 0.5
    score: Annotated[str, Choice(
        SCORES, "learned + exact: train the conditional denoiser and show it beside the "
        "closed form; exact only: the closed-form scores, no training")] = "learned + exact"
    sampler: Annotated[str, Choice(
        SAMPLERS, "DDIM (deterministic, η = 0) or DDPM (ancestral, fresh noise each step)",
        live=True)] = "DDIM"
    n_steps: Annotated[int, Range(
        5, 200, "sampler steps from t = 1 to t ≈ 0", live=True, label="steps")] = 40
    n_samples: Annotated[int, Range(
        100, 2000, "samples drawn per guidance weight", step=100, label="samples")] = 500
    p_uncond: Annotated[float, Range(
        0.0, 1.0, "label dropout: share of training labels replaced by the null label ∅ (0: "
        "the unconditional model never trains)", step=0.01, when=_LEARNED,
        label="label dropout")] = 0.2
    train_steps: Annotated[int, Range(
        100, 20_000, "Adam steps training the denoiser", log=True, when=_LEARNED,
        label="training steps")] = 2000
    lr: Annotated[float, Range(
        1e-4, 1.0, "Adam's learning rate", log=True, when=_LEARNED,
        label="learning rate")] = 3e-3
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the network, the batches and the sampler "
        "noise")] = 0


LIVE = live_fields(Params)


def sweep_duration(w: float) -> tuple[float, float]:
    """(pace, hold) of the sweep's frame at w: its length in frame intervals at FPS, and the
    beat held on it."""
    seconds = SLOW_S if w <= SLOW_UP_TO else FAST_S
    return seconds * FPS, BEATS.get(w, 0.0)
