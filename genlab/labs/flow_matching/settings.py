"""The flow-matching lab's parameters, its named series and the constants of its budgets.

The other modules of the lab read the constants through this module (``S.DIST_N``), so a
test can make them smaller in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from genlab.engine.datasets import DATASETS
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Range, live_fields

VIEWS = ("samples", "fields", "vs diffusion")
NORMAL = "standard normal"
SOURCES = (NORMAL, *DATASETS)
METHODS = ("euler", "midpoint")
# The four flows a frame may show (internal keys) and the series that draws each, so a flow
# has one colour in the trajectories, the fields, the distance curves, the loss and the bars.
KINDS = ("independent", "OT", "exact", "PF-ODE")
LEGEND = {"independent": "independent", "OT": "OT-CFM", "exact": "exact field",
          "PF-ODE": "PF-ODE (VP)"}
FLOOR = "floor"  # the distance between two draws of the target
TARGET = "target x₁"  # target points drawn faintly behind the particles
SERIES = (
    Series(LEGEND["independent"], 1),
    Series(LEGEND["OT"], 2),
    Series(LEGEND["exact"], 4),
    Series(LEGEND["PF-ODE"], 0),
    Series(FLOOR, INK, dashed=True),
    Series(TARGET, 7),
)
CALLS = {"euler": 1, "midpoint": 2}

N_TRAIN = 4000  # points of each set the nets train on
N_FIT = 2000  # points a mixture is fitted to
MIN_POINTS = 5
DIST_STEPS = (1, 2, 4, 8, 16, 32, 64)
DIST_N = 1000  # samples per distance, and reference target points
FLOOR_DRAWS = 5
N_PROJ = 64
STRAIGHT_N = 500  # particles and ...
STRAIGHT_STEPS = 32  # ... Euler steps the straightness of a flow is measured with
TRAILS = 40  # particles with a fading trail
TRAIL_ROWS = 40
SHOW_TARGET = 800  # faint target points behind the samples
CLOUD_N = 600  # pairs whose x_t cloud is drawn behind a learned field
FIELD_N = 17  # arrows per side
HEAT_N = 56  # p_t cells per side
ERR_N = 1000  # x_t ~ p_t where the field error is averaged
PREVIEW_N, PREVIEW_MAX_STEPS = 300, 32  # trajectories drawn while the nets train
LOSS_N = 256  # fixed pairs of the plotted loss (the OT one is an OT problem of this size)
HIDDEN_DEPTH = 3
T_MIN = 1e-3  # the PF-ODE stops here
DIVERGED_LOSS = 1e4
# Estimated cost (ms) of one velocity call: per call, per point (per component pair for the
# exact fields).  Frames take jobs up to FRAME_BUDGET_MS of this estimate (an estimate, not a
# clock, so the frames are the same on every machine).
COST_NET = (0.3, 0.003)
COST_MIX = (0.1, 0.0003)
FRAME_BUDGET_MS = 40.0
DISTANCE_MS = 4.0

# Pacing at the lab's speed FPS.  The first training frames take one Adam step each (the
# preview flow changes fastest then), growing to STEPS_PER_FRAME steps of each net per
# frame after RAMP_FRAMES frames, so 1500 steps play in about 8 s, not 19.  Once trained,
# the particles move from the source to the target in SWEEP_S seconds whatever the number
# of steps (SWEEP_FRAMES frames at most), after a beat on the source.
FPS = 20.0
STEPS_PER_FRAME = 12
RAMP_FRAMES = 40
SWEEP_FRAMES = 30
SWEEP_S = 4.0
SOURCE_HOLD_S = 1.0

@dataclass(frozen=True)
class Params:
    source: Annotated[str, Choice(
        SOURCES, "where x₀ comes from: the standard normal N(0, I) (as in diffusion), or a "
        "gallery set (flow matching can join any two distributions)")] = NORMAL
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the target x₁: a gallery set, or the points you drew",
        label="target")] = "moons"
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the gallery sets (source and target) are blurred", step=0.01)] = 0.1
    n_components: Annotated[int, Range(
        1, 24, "number K of Gaussians fitted to a set that is not a mixture, for the exact "
        "field (8gaussians and gaussian are mixtures already)", label="components K")] = 10
    view: Annotated[str, Choice(
        VIEWS, "samples: both nets' trajectories and the distance against the steps; fields: "
        "learned and exact velocity fields at time t; vs diffusion: the exact straight-path "
        "ODE against the diffusion PF-ODE from the same noise", live=True)] = "samples"
    time: Annotated[float, Range(
        0.0, 1.0, "the time t shown: 0 the source, 1 the target (fields at t; trajectories "
        "after round(t·N) of their N steps)", step=0.01, live=True,
        label="time t")] = 1.0
    n_steps: Annotated[int, Range(
        1, 128, "number N of ODE steps from t = 0 to 1 (the same for every flow shown)",
        log=True, live=True, label="steps N")] = 8
    method: Annotated[str, Choice(
        METHODS, "the ODE solver: Euler x + h v(x, t), or midpoint (2nd order, two calls per "
        "step; the PF-ODE then uses Heun)", live=True)] = "euler"
    train_steps: Annotated[int, Range(
        50, 20_000, "Adam steps of each net", log=True, label="training steps")] = 1500
    lr: Annotated[float, Range(
        1e-4, 0.1, "Adam's learning rate (both nets)", log=True, live=True,
        label="learning rate")] = 3e-3
    batch_size: Annotated[int, Range(
        16, 1024, "pairs per minibatch; OT-CFM solves one exact OT problem of this size per "
        "step", step=16, live=True, label="batch size")] = 128
    hidden: Annotated[int, Range(
        16, 256, "width of the nets' three hidden layers", step=16,
        label="hidden width")] = 128
    n_particles: Annotated[int, Range(
        100, 4000, "source points carried by every flow shown", step=100,
        label="particles")] = 1000
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the initial weights (the same for both nets), "
        "the minibatches and the particles")] = 0


LIVE = live_fields(Params)
