r"""Lab "flow-matching": conditional flow matching with straight paths, independent pairing
against minibatch optimal-transport pairing (OT-CFM), trained side by side.

A pair (x₀, x₁), x₀ from the source and x₁ from the target, is joined by the straight path
x_t = (1 − t)x₀ + t x₁ with the constant velocity u = x₁ − x₀.  A net v_θ(x, t) regressed on u
at x_t learns the *marginal* velocity u_t(x) = E[x₁ − x₀ | x_t = x] (Lipman et al. 2023; Liu
et al. 2023), whose ODE ẋ = u_t(x) carries the source to the target.  One run trains two nets
with the same initial weights on the same batches of x₀, x₁ and t
(``genlab.engine.flow_matching_trainer``); they differ only in the pairing: as drawn
(independent), or re-paired within each batch by exact OT (OT-CFM, Tong et al. 2024), which
uncrosses the paths, so the learned flow is straighter and needs fewer steps.

Three live views of the run:

* ``samples``: both nets' Euler/midpoint trajectories from the same x₀ side by side, the
  sliced W₂ to the target and the straightness S of each flow, and the distance against the
  number of steps (1 … 64) for both nets and the exact field;
* ``fields``: at the slider's t, the learned field of each net over its x_t cloud and, in the
  middle, the exact marginal field ``mixture_velocity`` of the independent coupling over p_t
  (exact for the gallery mixtures, otherwise for K Gaussians fitted to the sets);
* ``vs diffusion``: from the same N(0, I) points, the straight-path ODE with the exact
  velocity against the diffusion probability-flow ODE with the exact score (VP linear), both
  with N steps: exact against exact, so only the path geometry differs.

Training frames come first (every view can be watched while the nets learn); then the
trajectories and distance curves are computed in jobs of ~40 ms (an estimate, so frames are the
same on every machine) while the shown time sweeps from the source to the target; then the
run ends.  The trained nets and what was computed with them are kept (one entry) for the next
run with the same data and training settings, so moving a live slider after the end restarts
at once without training again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine import flow_matching as fm
from genlab.engine.datasets import DATASETS, make_dataset
from genlab.engine.mixtures import GALLERY_MIXTURES, Mixture, fit_mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext, sub_seed
from genlab.labs.data import DATA_CHOICES, data_or_message
from genlab.labs.frame import (
    Curve,
    Frame,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
    VectorField,
    message_frame,
)
from genlab.labs.params import Choice, Range, live_fields, take_live
from genlab.labs.plane import cells, signed

VIEWS = ("samples", "fields", "vs diffusion")
NORMAL = "standard normal"
SOURCES = (NORMAL, *DATASETS)
METHODS = ("euler", "midpoint")
# the four flows a frame may show, and their palette colours (Curve/Paths series k is palette
# colour k, Points series k is palette colour k − 1)
KINDS = ("independent", "OT", "exact", "PF-ODE")
COLOUR = {"independent": 1, "OT": 2, "exact": 4, "PF-ODE": 0}
LEGEND = {"independent": "independent", "OT": "OT-CFM", "exact": "exact field",
          "PF-ODE": "PF-ODE (VP)"}
FLOOR = "floor"  # the distance between two target samples
# the metric curves take the colours of the same flows in the panels
METRIC_COLOURS = {**{LEGEND[k]: COLOUR[k] for k in KINDS}, FLOOR: 7}
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
STEPS_PER_FRAME = 4  # Adam steps of *each* net between two frames (OT pairing: ~10 ms each)
HIDDEN_DEPTH = 3
T_MIN = 1e-3  # the PF-ODE stops here
SWEEP_FRAMES = 30
# Estimated cost (ms) of one velocity call: per call, per point (per component pair for the
# exact fields).  Frames take jobs up to FRAME_BUDGET_MS of this estimate.
COST_NET = (0.3, 0.003)
COST_MIX = (0.1, 0.0003)
FRAME_BUDGET_MS = 40.0
DISTANCE_MS = 4.0
DIVERGED_LOSS = 1e4

_FIT_SOURCE: Any = ("source", tuple(d for d in DATASETS if d not in GALLERY_MIXTURES))
_FIT_TARGET: Any = ("dataset", tuple(d for d in DATA_CHOICES if d not in GALLERY_MIXTURES))


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


_LIVE = live_fields(Params)


# ------------------------------------------------------------------------------ set-up



def _mixture(name: str, x: np.ndarray, p: Params) -> tuple[Mixture, str, bool]:
    """The mixture standing for a set: (mixture, its description, exact)."""
    if name == NORMAL:
        return fm.STANDARD_NORMAL, "N(0, I)", True
    if name in GALLERY_MIXTURES:
        return gallery_mixture(name, p.noise), name, True
    mix = fit_mixture(x[:N_FIT], p.n_components, seed=p.seed)
    src = "the drawn points" if name == "drawn" else name
    return mix, f"{mix.n_components} Gaussians fitted to {src}", False


@dataclass
class _Data:
    """The run's sets: training points, particles, reference, mixtures and limits."""

    x1: np.ndarray  # target training points (n, 2)
    x0: np.ndarray | None  # source training points, None for N(0, I)
    start: np.ndarray  # particles (max(n, DIST_N), 2) every flow starts from
    noise_start: np.ndarray  # N(0, I) particles of the vs-diffusion view
    ref: np.ndarray  # target points the distances are measured against
    floor: float
    src_mix: Mixture
    tgt_mix: Mixture
    src_text: str  # the mixtures standing for the sets in the exact fields
    tgt_text: str
    src_name: str  # the sets the nets train on
    tgt_name: str
    exact: bool  # both mixtures are the sets themselves (no fit)
    lim: tuple[float, float]


def _make_data(p: Params, x1: np.ndarray) -> _Data:
    n_start = max(p.n_particles, DIST_N)
    rng = np.random.default_rng(sub_seed(p.seed, 1))
    noise_start = rng.standard_normal((n_start, 2))
    if p.source == NORMAL:
        x0 = None
        start = noise_start
        src_points = noise_start
    else:
        x0 = make_dataset(p.source, N_TRAIN, p.noise, sub_seed(p.seed, 2))[0]
        start = make_dataset(p.source, n_start, p.noise, sub_seed(p.seed, 3))[0]
        src_points = x0
    if p.dataset == "drawn":
        ref = x1
        boot = np.random.default_rng(sub_seed(p.seed, 4)).integers(0, len(x1), len(x1))
        floor = sliced_wasserstein(x1[boot], ref, N_PROJ, p.seed)
    else:
        ref = make_dataset(p.dataset, DIST_N, p.noise, sub_seed(p.seed, 5))[0]
        floor = float(np.mean([
            sliced_wasserstein(make_dataset(p.dataset, DIST_N, p.noise,
                                            sub_seed(p.seed, 6, i))[0], ref, N_PROJ, p.seed)
            for i in range(FLOOR_DRAWS)]))
    src_mix, src_text, src_exact = _mixture(p.source, src_points, p)
    tgt_mix, tgt_text, tgt_exact = _mixture(p.dataset, x1, p)
    both = np.concatenate([start[:DIST_N], x1[:DIST_N]])
    reach = float(np.percentile(np.abs(both), 99.5))
    half = max(3.0, math.ceil(1.2 * reach * 2.0) / 2.0)
    names = {NORMAL: "N(0, I)", "drawn": "drawn points"}
    return _Data(x1, x0, start, noise_start, ref, floor, src_mix, tgt_mix, src_text, tgt_text,
                 names.get(p.source, p.source), names.get(p.dataset, p.dataset),
                 src_exact and tgt_exact, (-half, half))


def _target_points(p: Params, ctx: RunContext) -> np.ndarray | Frame:
    got = data_or_message(p.dataset, N_TRAIN, p.noise, sub_seed(p.seed, 7), ctx,
                          "Flow matching", MIN_POINTS)
    if isinstance(got, Frame):
        return got
    return got[0]


# ------------------------------------------------------------------------------ jobs


@dataclass(frozen=True)
class _Job:
    """Integrate flow ``kind`` with (n_steps, method) for the particles [lo, hi).

    purpose: "main" (the shown trajectories, kept whole), "dist" (end points, then the
    sliced W₂) or "straight" (the straightness of the flow, STRAIGHT_STEPS Euler steps)."""

    kind: str
    n_steps: int
    method: str
    lo: int
    hi: int
    purpose: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.kind, self.n_steps, self.method)


def _job_cost(job: _Job, pairs: int) -> float:
    per_call, per_point = COST_MIX if job.kind in ("exact", "PF-ODE") else COST_NET
    per_point *= pairs if job.kind in ("exact", "PF-ODE") else 1
    calls = CALLS[job.method] * job.n_steps
    extra = DISTANCE_MS if job.purpose == "dist" else 0.0
    return calls * (per_call + (job.hi - job.lo) * per_point) + extra


@dataclass
class _Store:
    """What a run computed with its finished nets (kept across runs with them)."""

    main: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)
    main_filled: dict[tuple[str, int, str], int] = field(default_factory=dict)
    ends: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)
    ends_filled: dict[tuple[str, int, str], int] = field(default_factory=dict)
    dist: dict[tuple[str, int, str], float] = field(default_factory=dict)
    straight: dict[str, tuple[float, float]] = field(default_factory=dict)


class _Nets:
    """The two velocity nets and their trainers (torch imported when made)."""

    def __init__(self, p: Params, data: _Data, device: str) -> None:
        from genlab.engine.denoiser import Denoiser
        from genlab.engine.flow_matching_trainer import FlowMatchingTrainer

        self.trainers = {}
        for kind, coupling in (("independent", "independent"), ("OT", "ot")):
            # the same seed: the same initial weights and the same batches of x0, x1 and t
            model = Denoiser(p.hidden, HIDDEN_DEPTH, seed=p.seed).to(device)
            self.trainers[kind] = FlowMatchingTrainer(
                model, data.x1, data.x0, coupling, lr=p.lr, batch_size=p.batch_size,
                seed=p.seed)
        self.done = 0
        self.losses = {"independent": math.nan, "OT": math.nan}

    def velocity(self, kind: str) -> fm.VelocityFn:
        return self.trainers[kind].velocity

    def measure(self, lr: float) -> None:
        for kind, tr in self.trainers.items():
            value = tr.loss(LOSS_N)
            if not math.isfinite(value) or value > DIVERGED_LOSS:
                raise _diverged(kind, f"its loss reached {value:.3g}", self.done, lr)
            self.losses[kind] = value

    def train(self, p: Params) -> None:
        k = min(STEPS_PER_FRAME, p.train_steps - self.done)
        if k <= 0:
            return
        for kind, tr in self.trainers.items():
            tr.lr, tr.batch_size = p.lr, p.batch_size
            losses = tr.step(k)
            if len(losses) < k or not np.isfinite(losses).all():
                raise _diverged(kind, "its loss became NaN or infinite",
                                self.done + len(losses), p.lr)
        self.done += k


def _diverged(kind: str, what: str, step: int, lr: float) -> LabError:
    return LabError(f"The {LEGEND[kind]} net diverged at step {step} ({what}): lower the "
                    f"learning rate (now {lr:.2g}) or use a larger batch.")


_CACHE: dict[tuple[Any, ...], tuple[_Nets, _Store, _Data]] = {}


def clear_cache() -> None:
    """Forget the nets kept from the last finished run."""
    _CACHE.clear()


def _cache_key(p: Params, x1: np.ndarray, device: str) -> tuple[Any, ...]:
    return (p.source, p.dataset, p.noise, p.n_components, p.train_steps, p.hidden,
            p.n_particles, p.seed, p.lr, p.batch_size, device,
            x1.tobytes() if p.dataset == "drawn" else b"")


# ------------------------------------------------------------------------------ the run


class _Lab:
    """One run's state: the data, the nets, the computed trajectories, and the frames."""

    def __init__(self, p: Params, data: _Data, nets: _Nets, store: _Store) -> None:
        self.p = p
        self.d = data
        self.nets = nets
        self.store = store
        self.trained = False
        self.schedule = dif.VPSchedule("linear")
        lim = data.lim
        inner = lim[1] * (1 - 1 / FIELD_N)
        self.field_cells = cells((-inner, inner), (-inner, inner), FIELD_N)
        self.heat_cells = cells(lim, lim, HEAT_N)
        rng = np.random.default_rng(sub_seed(p.seed, 8))
        n1 = rng.integers(0, len(data.x1), CLOUD_N)
        self.cloud1 = data.x1[n1]
        self.cloud0 = (rng.standard_normal((CLOUD_N, 2)) if data.x0 is None
                       else data.x0[rng.integers(0, len(data.x0), CLOUD_N)])
        self.cloud0_ot, self.cloud1_ot = fm.pair(self.cloud0, self.cloud1, "ot")
        self.err0 = data.src_mix.sample(ERR_N, seed=sub_seed(p.seed, 9))[0]
        self.err1 = data.tgt_mix.sample(ERR_N, seed=sub_seed(p.seed, 10))[0]
        self._heat: dict[float, np.ndarray] = {}
        self._exact_field: dict[float, np.ndarray] = {}
        self.pairs = data.src_mix.n_components * data.tgt_mix.n_components

    # -- flows ----------------------------------------------------------------------------
    def _exact_v(self, x: np.ndarray, t: float) -> np.ndarray:
        return fm.mixture_velocity(x, t, self.d.src_mix, self.d.tgt_mix)

    def _normal_exact_v(self, x: np.ndarray, t: float) -> np.ndarray:
        return fm.mixture_velocity(x, t, fm.STANDARD_NORMAL, self.d.tgt_mix)

    def _score(self, x: np.ndarray, t: float) -> np.ndarray:
        return dif.gmm_score(x, t, *self.d.tgt_mix.as_tuple(), self.schedule)

    def integrate(self, kind: str, x: np.ndarray, n_steps: int, method: str) -> np.ndarray:
        """The trajectory (n_steps + 1, n, 2) of flow ``kind`` from x (row 0) to the target."""
        if kind == "PF-ODE":
            return dif.pf_ode_sample(self._score, x, self.schedule, n_steps,
                                     "euler" if method == "euler" else "heun", T_MIN)
        fn: Callable[[np.ndarray, float], np.ndarray]
        if kind == "exact":
            fn = self._normal_exact_v if self.p.view == "vs diffusion" else self._exact_v
        else:
            fn = self.nets.velocity(kind)
        traj = fm.sample(fn, x, n_steps, method)
        if not np.isfinite(traj).all():
            raise LabError(f"The {LEGEND[kind]} flow sent points to infinity with {n_steps} "
                           f"steps: raise the number of steps or lower the learning rate.")
        return traj

    def starts(self, kind: str) -> np.ndarray:
        """The particles flow ``kind`` starts from in the current view."""
        return self.d.noise_start if self.p.view == "vs diffusion" else self.d.start

    def kinds(self) -> tuple[str, ...]:
        """The flows whose trajectories the view shows, left to right."""
        return ("exact", "PF-ODE") if self.p.view == "vs diffusion" else ("independent", "OT")

    def curves(self) -> tuple[str, ...]:
        """The flows of the distance panel."""
        if self.p.view == "vs diffusion":
            return ("exact", "PF-ODE", "OT")
        return ("independent", "OT", "exact")

    def _store_key(self, kind: str, n_steps: int, method: str) -> tuple[str, int, str]:
        # the exact field joins N(0, I) to the target in the vs-diffusion view
        tag = "exact·normal" if kind == "exact" and self.p.view == "vs diffusion" else kind
        return (tag, n_steps, method)

    def diffusion_ok(self) -> bool:
        return self.p.source == NORMAL

    # -- jobs -----------------------------------------------------------------------------
    def _chunks(self, kind: str, n_steps: int, method: str, n: int, purpose: str) -> list[_Job]:
        one = _job_cost(_Job(kind, n_steps, method, 0, 1, purpose), self.pairs)
        per_point = one - _job_cost(_Job(kind, n_steps, method, 0, 0, purpose), self.pairs)
        fixed = one - per_point
        chunk = max(20, int((FRAME_BUDGET_MS - fixed) / max(per_point, 1e-9)))
        parts = max(1, math.ceil(n / chunk))
        bounds = np.linspace(0, n, parts + 1).astype(int)
        return [_Job(kind, n_steps, method, int(a), int(b), purpose)
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def pending(self) -> list[_Job]:
        """The jobs the current view still needs: its trajectories, then its distance curves
        (the current N first) and the straightness of its flows."""
        p, s = self.p, self.store
        if p.view == "fields" or (p.view == "vs diffusion" and not self.diffusion_ok()):
            return []
        out: list[_Job] = []
        n = p.n_particles
        for kind in self.kinds():
            key = self._store_key(kind, p.n_steps, p.method)
            if s.main_filled.get(key, 0) < n:
                out += [j for j in self._chunks(kind, p.n_steps, p.method, n, "main")
                        if j.hi > s.main_filled.get(key, 0)]
        steps = (p.n_steps, *(k for k in DIST_STEPS if k != p.n_steps))
        for n_steps in steps:
            for kind in self.curves():
                key = self._store_key(kind, n_steps, p.method)
                if key not in s.dist:
                    out += [j for j in self._chunks(kind, n_steps, p.method, DIST_N, "dist")
                            if j.hi > s.ends_filled.get(key, 0)]
        for kind in self.kinds():
            if self._store_key(kind, 0, "")[0] not in s.straight:
                out.append(_Job(kind, STRAIGHT_STEPS, "euler", 0, STRAIGHT_N, "straight"))
        return out

    def next_group(self) -> list[_Job]:
        """Jobs for one frame: in order, within the frame budget (at least one)."""
        group, used = [], 0.0
        for job in self.pending():
            c = _job_cost(job, self.pairs)
            if group and used + c > FRAME_BUDGET_MS:
                break
            group.append(job)
            used += c
        return group

    def do(self, job: _Job) -> None:
        s = self.store
        key = self._store_key(job.kind, job.n_steps, job.method)
        x = self.starts(job.kind)[job.lo:job.hi]
        traj = self.integrate(job.kind, x, job.n_steps, job.method)
        if job.purpose == "straight":
            s.straight[key[0]] = (fm.straightness(traj), fm.path_length_ratio(traj))
        elif job.purpose == "main":
            if key not in s.main:
                s.main[key] = np.zeros((job.n_steps + 1, self.p.n_particles, 2))
            s.main[key][:, job.lo:job.hi] = traj
            s.main_filled[key] = max(s.main_filled.get(key, 0), job.hi)
        else:
            if key not in s.ends:
                s.ends[key] = np.zeros((DIST_N, 2))
            s.ends[key][job.lo:job.hi] = traj[-1]
            s.ends_filled[key] = max(s.ends_filled.get(key, 0), job.hi)
            if s.ends_filled[key] >= DIST_N:
                s.dist[key] = sliced_wasserstein(s.ends[key], self.d.ref, N_PROJ, self.p.seed)

    def trajectories(self, kind: str) -> np.ndarray | None:
        """The shown trajectories of ``kind`` (None while not computed): the stored ones once
        the nets are trained, else a preview with the nets as they are now."""
        p = self.p
        if self.trained or kind in ("exact", "PF-ODE"):
            key = self._store_key(kind, p.n_steps, p.method)
            if self.store.main_filled.get(key, 0) >= p.n_particles:
                return self.store.main[key]
            if self.trained:
                return None
        n_steps = min(p.n_steps, PREVIEW_MAX_STEPS)
        return self.integrate(kind, self.starts(kind)[:PREVIEW_N], n_steps, p.method)

    # -- panels ---------------------------------------------------------------------------
    def _lims(self, link: str) -> dict[str, Any]:
        return {"xlim": self.d.lim, "ylim": self.d.lim, "xlabel": "x₁", "ylabel": "x₂",
                "link": link}

    def trajectory_panel(self, kind: str, frac: float) -> tuple[Panel, int, int]:
        """The particles of flow ``kind`` after round(frac·N) steps, with fading trails;
        returns (panel, steps shown, N)."""
        traj = self.trajectories(kind)
        layers: dict[str, Layer] = {
            "target": Points(self.d.ref[:SHOW_TARGET], series=8, size=0.45, alpha=0.5)}
        if traj is None:
            return (Panel(layers, title=f"{LEGEND[kind]}: integrating …",
                          **self._lims("flows")), 0, self.p.n_steps)
        n_steps = traj.shape[0] - 1
        k = int(round(frac * n_steps))
        if k > 0:
            rows = np.unique(np.linspace(0, k, min(k + 1, TRAIL_ROWS)).astype(int))
            layers["trails"] = Paths(traj[rows, :TRAILS], series=COLOUR[kind], alpha=0.9,
                                     fade=True)
        layers["particles"] = Points(traj[k], series=COLOUR[kind] + 1, size=0.55, alpha=0.8)
        # short titles: three panels share a window that also holds the parameters
        title = {"independent": "independent pairs", "OT": "OT pairs (OT-CFM)",
                 "exact": "FM, exact u_t", "PF-ODE": "diffusion PF-ODE, exact"}[kind]
        solver = ("Euler" if self.p.method == "euler" else
                  ("Heun" if kind == "PF-ODE" else "midpoint"))
        title += f" · {solver} {k}/{n_steps}"
        return Panel(layers, title=title, **self._lims("flows")), k, n_steps

    def distance_panel(self) -> Panel:
        p, s = self.p, self.store
        xs = np.log2(np.array(DIST_STEPS, dtype=np.float64))
        x_lim = (-0.5, float(xs.max()) + 0.5)
        vals = [v for (kind, _, m), v in s.dist.items() if m == p.method]
        top = 1.2 * max([self.d.floor * 2.0, 0.3, *[min(v, 3.0) for v in vals]])
        layers: dict[str, Layer] = {}
        xn = math.log2(p.n_steps)
        layers["current N"] = Segments(np.array([[xn, 0.0]]), np.array([[xn, top]]),
                                       weights=np.array([0.5]), series=7)
        layers["floor"] = Curve(np.array(x_lim), np.full(2, self.d.floor), series=-1,
                                width=1.5, dashed=True)
        names = []
        for kind in self.curves():
            done = [(math.log2(n), s.dist[self._store_key(kind, n, p.method)])
                    for n in sorted({*DIST_STEPS, p.n_steps})
                    if self._store_key(kind, n, p.method) in s.dist]
            names.append(kind)
            if not done:
                continue
            x, y = np.array(done).T
            y = np.minimum(y, 0.97 * top)
            layers[f"{kind} curve"] = Curve(x, y, series=COLOUR[kind], width=2.5,
                                            dashed=kind == "exact" and p.view == "samples")
            layers[f"{kind} dots"] = Points(np.column_stack([x, y]), series=COLOUR[kind] + 1,
                                            size=0.6)
            now = self._store_key(kind, p.n_steps, p.method)
            if now in s.dist:
                layers[f"{kind} now"] = Points(np.array([[xn, min(s.dist[now], 0.97 * top)]]),
                                               series=COLOUR[kind] + 1, highlight=True)
        mid = x_lim[1] - 0.3 * (x_lim[1] - x_lim[0])
        for i, kind in enumerate(names):
            layers[f"{kind} name"] = Labels(np.array([[mid, (0.93 - 0.08 * i) * top]]),
                                            (LEGEND[kind],), series=COLOUR[kind])
        solver = "Euler" if p.method == "euler" else "midpoint"
        return Panel(layers, title=f"sliced W₂, {solver} (dashed: floor)", xlim=x_lim,
                     ylim=(0.0, top), equal_aspect=False, xlabel="log₂ steps N",
                     ylabel="sliced W₂")

    def exact_field(self, t: float) -> np.ndarray:
        if t not in self._exact_field:
            self._exact_field[t] = self._exact_v(self.field_cells, t)
        return self._exact_field[t]

    def heat(self, t: float) -> np.ndarray:
        if t not in self._heat:
            logp = fm.mixture_log_density(self.heat_cells, t, self.d.src_mix, self.d.tgt_mix)
            self._heat[t] = np.exp(logp - logp.max()).reshape(HEAT_N, HEAT_N)
        return self._heat[t]

    def field_panels(self, t: float) -> tuple[list[Panel], dict[str, float], str]:
        x_t = (1 - t) * self.err0 + t * self.err1  # x_t ~ p_t
        u = self._exact_v(x_t, t)
        # one arrow length for the three panels: the 90th percentile of |u_t| where p_t is
        cap = float(np.percentile(np.linalg.norm(u, axis=1), 90))

        def capped(uv: np.ndarray) -> np.ndarray:
            norm = np.linalg.norm(uv, axis=1, keepdims=True)
            return uv * np.minimum(1.0, cap / np.maximum(norm, 1e-12))

        panels = []
        for kind, c0, c1 in (("independent", self.cloud0, self.cloud1),
                             ("OT", self.cloud0_ot, self.cloud1_ot)):
            uv = self.nets.velocity(kind)(self.field_cells, t)
            if not np.isfinite(uv).all():
                raise _diverged(kind, "its velocity is not finite", self.nets.done, self.p.lr)
            panels.append(Panel({
                "x_t": Points((1 - t) * c0 + t * c1, series=8, size=0.45, alpha=0.5),
                "v_θ": VectorField(self.field_cells, capped(uv), series=COLOUR[kind]),
            }, title=f"learned v_θ, {LEGEND[kind]} pairs, t = {t:.2f}", **self._lims("fields")))
        exact_title = ("exact u_t over p_t" if self.d.exact else
                       "exact u_t for the fitted mixtures") + f", t = {t:.2f}"
        panels.insert(1, Panel({
            "p_t": Heatmap(self.heat(t), (*self.d.lim, *self.d.lim), contours=4),
            "u_t": VectorField(self.field_cells, capped(self.exact_field(t)),
                               series=COLOUR["exact"]),
        }, title=exact_title, **self._lims("fields")))
        err = {kind: float(np.linalg.norm(self.nets.velocity(kind)(x_t, t) - u, axis=1).mean())
               for kind in ("independent", "OT")}
        scale = float(np.linalg.norm(u, axis=1).mean())
        metrics = {"field gap to u_t/independent": err["independent"],
                   "field gap to u_t/OT-CFM": err["OT"]}
        fit = "" if self.d.exact else (
            f" (exact for {self.d.src_text} → {self.d.tgt_text}, standing in for the sets)")
        caption = (f"Velocity fields at t = {t:.2f}, arrows capped at {cap:.2g}.  Middle: the "
                   f"exact marginal field u_t(x) = E[x₁ − x₀ | x_t = x] of independent pairs"
                   f"{fit}, over the density p_t of x_t = (1 − t)x₀ + t x₁.  Mean gap ‖v_θ − "
                   f"u_t‖ over x_t ~ p_t: independent {signed(err['independent'], 2)}, OT-CFM "
                   f"{signed(err['OT'], 2)} (mean |u_t| {signed(scale, 2)}): the independent "
                   "net learns u_t; the OT net learns another field, that of the OT coupling, "
                   "whose paths do not cross (grey: its x_t cloud of OT-paired points).")
        return panels, metrics, caption

    def straight_text(self, kind: str) -> str:
        got = self.store.straight.get(self._store_key(kind, 0, "")[0])
        if got is None:
            return ""
        return f"{LEGEND[kind]}: S = {signed(got[0], 2)}, chord/length {got[1]:.3f}"

    def flow_panels(self, frac: float) -> tuple[list[Panel], dict[str, float], str]:
        p, s = self.p, self.store
        if p.view == "vs diffusion" and not self.diffusion_ok():
            panel = Panel({"note": Labels(np.array([[0.0, 0.0]]), (
                "choose source = standard normal",))}, title="vs diffusion: needs N(0, I)",
                **self._lims("flows"))
            caption = ("The diffusion PF-ODE starts from N(0, I): set the source to 'standard "
                       "normal' to compare the two ODEs from the same noise points.")
            return [panel], {}, caption
        panels, shown = [], 0
        for kind in self.kinds():
            panel, shown, _ = self.trajectory_panel(kind, frac)
            panels.append(panel)
        panels.append(self.distance_panel())
        metrics: dict[str, float] = {}
        dists = []
        for kind in self.curves():
            key = self._store_key(kind, p.n_steps, p.method)
            if key in s.dist:
                metrics[f"sliced W₂/{LEGEND[kind]}"] = s.dist[key]
                dists.append(f"{LEGEND[kind]} {signed(s.dist[key], 2)}")
        if metrics:
            metrics[f"sliced W₂/{FLOOR}"] = self.d.floor
        for kind in self.kinds():
            got = s.straight.get(self._store_key(kind, 0, "")[0])
            if got is not None:
                metrics[f"straightness S/{LEGEND[kind]}"] = got[0]
        dist_text = (f"  Sliced W₂ to the target with N = {p.n_steps}: " + ", ".join(dists)
                     + f" (two target samples: {signed(self.d.floor, 2)})." if dists else "")
        straight = "; ".join(t for t in (self.straight_text(k) for k in self.kinds()) if t)
        straight_text = (f"  Straightness (Liu et al.; 0 = straight lines at constant speed, "
                         f"{STRAIGHT_STEPS} Euler steps): {straight}." if straight else "")
        if p.view == "vs diffusion":
            caption = (f"The same N(0, I) points carried to {self.d.tgt_text} with N = "
                       f"{p.n_steps} steps by two exact ODEs, no model error, so only the paths "
                       "differ: left, flow matching's ẋ = u_t(x) of the straight-path "
                       "interpolation; right, diffusion's probability-flow ODE ẋ = "
                       "−½β(t)[x + ∇log p_t(x)] (VP linear; shown from the noise, t = 1, to "
                       "the data), whose speed changes sharply near the data, so few Euler "
                       "steps miss more (S measures that unevenness)." + dist_text
                       + straight_text)
        else:
            n_shown = p.n_particles if self.trained else PREVIEW_N
            caption = (f"The same {n_shown} source points carried by both learned flows "
                       f"(trails: {TRAILS} particles), {shown} of {p.n_steps} steps.  OT "
                       "pairing uncrosses the training paths, so its flow is straighter and "
                       "a few steps already land on the target; the dashed curve is the exact "
                       "field of independent pairs" + ("" if self.d.exact else
                                                       f" ({self.d.tgt_text}: it levels off at "
                                                       "the fit's own distance)")
                       + "." + dist_text + straight_text)
        return panels, metrics, caption

    def frame(self, step: int, total: int | None, frac: float, lead: str) -> Frame:
        p = self.p
        if p.view == "fields":
            panels, metrics, caption = self.field_panels(round(p.time, 4))
        else:
            panels, metrics, caption = self.flow_panels(frac)
        if not self.trained:
            metrics = {"loss/independent": self.nets.losses["independent"],
                       "loss/OT-CFM": self.nets.losses["OT"]}
        if p.view == "vs diffusion":
            pair = f"N(0, I) → {self.d.tgt_text}"
        else:
            pair = f"{self.d.src_name} → {self.d.tgt_name}"
        title = (f"Flow matching · {pair} · {p.view}"
                 + ("" if self.trained else f" · training {self.nets.done} / {p.train_steps}"))
        return Frame(step=step, total=total, title=title, panels=tuple(panels),
                     metrics=metrics, caption=(lead + caption).strip(),
                     metric_colours=METRIC_COLOURS)


def _training_lead(lab: _Lab) -> str:
    n = lab.nets
    loss = (f"losses on fixed pairs: independent {signed(n.losses['independent'], 3)}, "
            f"OT-CFM {signed(n.losses['OT'], 3)}")
    preview = ("" if lab.p.view == "fields" else
               f"  Preview: {PREVIEW_N} particles"
               + (f", {PREVIEW_MAX_STEPS} steps" if lab.p.n_steps > PREVIEW_MAX_STEPS else "")
               + ".")
    return (f"Training both nets on ‖v_θ((1 − t)x₀ + t x₁, t) − (x₁ − x₀)‖², t ~ U[0, 1], "
            f"from the same weights and batches: Adam step {n.done} / {lab.p.train_steps}; "
            f"{loss} (the OT loss is lower: re-paired targets are less ambiguous).{preview}  ")


def _train(lab: _Lab, box: list[Params]) -> Generator[Frame, Any, int]:
    """Training frames of both nets; returns the number of frames yielded."""
    nets = lab.nets
    frame_no = 0
    while True:
        p = box[0]
        nets.measure(p.lr)
        left = math.ceil(max(0, p.train_steps - nets.done) / STEPS_PER_FRAME)
        new = yield lab.frame(frame_no, frame_no + 1 + left + 2, p.time, _training_lead(lab))
        box[0] = lab.p = take_live(p, new, _LIVE)
        frame_no += 1
        if nets.done >= p.train_steps:
            return frame_no
        nets.train(box[0])


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames: the training of both nets, then the flows and distances, then the run ends."""
    p = params
    got = _target_points(p, ctx)
    if isinstance(got, Frame):
        yield got
        return
    x1 = got
    if float(np.sqrt(x1.var(axis=0).mean())) < 1e-6:
        yield message_frame("Flow matching · degenerate data",
                            "The target points all coincide: draw points over an area.")
        return
    from genlab.engine.device import resolve  # imports torch

    device = resolve(ctx.device)
    key = _cache_key(p, x1, device)
    cached = _CACHE.get(key)
    if cached is not None:
        # the key holds every input of _make_data: the kept sets, fits and floor are these
        nets, store, data = cached
    else:
        data = _make_data(p, x1)
        nets, store = _Nets(p, data, device), _Store()
    lab = _Lab(p, data, nets, store)
    box = [p]
    step = 0
    if cached is None:
        step = yield from _train(lab, box)
        _CACHE.clear()
    lab.trained = True
    p = lab.p = box[0]
    _CACHE[_cache_key(p, x1, device)] = (nets, store, data)

    # the shown time sweeps from the source to the slider's value while the jobs run
    # (unless the run reuses trained nets: then the user moved a slider, which shows at once)
    manual = cached is not None
    sweep = 0
    while True:
        p = lab.p
        for job in lab.next_group():
            lab.do(job)
        left = len(lab.pending())
        n_sweep = min(SWEEP_FRAMES, p.n_steps)
        sweeping = not manual and p.view != "fields" and sweep < n_sweep
        frac = p.time * min(1.0, sweep / n_sweep) if sweeping else p.time
        if sweeping:
            sweep += 1
        finished = left == 0 and not sweeping
        if finished:
            lead = ("Done: move 'time t', 'steps N' or the view to explore (the trained nets "
                    "are kept).  ")
        else:
            lead = f"Integrating the flows ({left} jobs left).  " if left else ""
        frames_left = max(math.ceil(left / 2), n_sweep - sweep if sweeping else 0)
        new = yield lab.frame(step, step + 1 + frames_left, frac, lead)
        step += 1
        if new is not None:
            old = lab.p
            lab.p = take_live(old, new, _LIVE)
            if lab.p.time != old.time:
                manual = True
            if lab.p != old:
                continue
        if finished:
            return


LAB = LabInfo(
    name="flow-matching",
    title="Flow matching",
    description="Conditional flow matching with straight paths: two velocity nets trained side "
                "by side with independent and OT pairing, their fields against the exact one, "
                "samples against the number of steps, and the diffusion PF-ODE from the same "
                "noise.",
    params=Params,
    run=run,
    takes_data=True,
)
