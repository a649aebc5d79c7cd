"""Lab "ode-sde": one set of noise points carried by the probability-flow ODE, the reverse SDE
and DDIM, side by side on one time axis.

The data are a Gaussian mixture (a gallery mixture, or K components fitted by EM to another
gallery set or to drawn points), so the score ∇log p_t of the noised data is known exactly
(``diffusion.gmm_score``) and the samplers can be compared without a model's error; or the
score of a denoiser trained on samples of that mixture (``score = learned``).

The same initial points x_T ~ N(0, I) start every sampler (``genlab.engine.diffusion``):

* PF-ODE, Euler or Heun: dx/dt = f(t)x − ½g(t)²∇log p_t(x), deterministic (Song et al. 2021,
  eq. 13);
* reverse SDE, Euler–Maruyama: dx = [f(t)x − g(t)²∇log p_t(x)]dt + g(t)dW̄ (eq. 6), fresh
  noise at every step;
* DDIM with η = 0 (Song, Meng & Ermon 2021), the discrete counterpart of the ODE.

Frames: (learned score) the denoiser's training, then a few frames integrating the samplers,
then a sweep of the shown time from the noise (t = 1) to the samples (t ≈ 0), one frame per
step or few steps, while the distance panel fills in: the sliced W₂ between each sampler's
samples and the target for 2, 4, … 128 steps, with the distance between two target samples as
the floor.  ``time`` is live: moving it during a run shows that step at once (the trajectories
are kept, not recomputed); so is the highlighted start (a handle), whose ODE path goes to the
same end on every run while its SDE runs, overlaid, scatter.

A trained denoiser is kept for the next run with the same data, schedule, training budget,
learning rate, seed and device (one entry), so changing the steps, the methods, the start or
the time after a run does not train again; that run then skips the training frames.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine import gmm
from genlab.engine.datasets import DATASETS
from genlab.engine.mixtures import GALLERY_MIXTURES, Mixture, fit_mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext, sub_seed
from genlab.labs.data import DATA_CHOICES, lab_data
from genlab.labs.frame import (
    Curve,
    Frame,
    Handles,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
    message_frame,
)
from genlab.labs.params import Choice, Flag, Range

METHOD_SETS = ("ode | sde", "ode | sde | ddim", "euler | heun | ddim")
SOLVERS = ("heun", "euler")
SCORES = ("exact", "learned")
SCHEDULES = ("linear", "cosine")
LABEL = {"euler": "Euler ODE", "heun": "Heun ODE", "sde": "SDE", "ddim": "DDIM"}
TITLE = {"euler": "PF-ODE · Euler", "heun": "PF-ODE · Heun",
         "sde": "reverse SDE · Euler–Maruyama", "ddim": "DDIM (η = 0)"}
HOW = {"ode": "ODE: dx/dt = f x − ½g²∇log p_t (deterministic);",
       "sde": "SDE: dx = [f x − g²∇log p_t]dt + g dW̄ (fresh noise each step);",
       "ddim": "DDIM: x_s = a_s x̂₀ + √v_s ε̂ (η = 0)."}
CALLS = {"euler": 1, "heun": 2, "sde": 1, "ddim": 1}  # score calls per step

DIST_STEPS = (2, 4, 8, 16, 32, 64, 128)  # the distance panel's step counts
DIST_N = 2000  # samples per distance, and target points they are measured against (equal
# sizes make the sliced W2 a plain sort)
FLOOR_DRAWS = 4  # independent target samples averaged into the floor
N_PROJ = 64  # directions of the sliced W2
N_FIT = 2000  # points drawn from a gallery set to fit a mixture to
N_TRAIN = 4000  # mixture samples the denoiser trains on
MIN_DRAWN = 5
T_MIN = 1e-3
TRAILS = 30  # particles with a fading trail
TRAIL_ROWS = 40  # at most this many rows per trail
PATH_ROWS = 130  # at most this many rows per highlighted path
SWEEP_FRAMES = 64  # at most this many frames sweep the time
GRID = 72  # density cells per axis
# Estimated cost of one score call: (ms per call, ms per point), exact and learned on a CPU.
# Frames take jobs up to FRAME_BUDGET_MS of this estimate (an estimate, not a clock, so the
# frames are the same on every machine).
COST = {"exact": (0.05, 0.0005), "learned": (0.15, 0.0012)}
FRAME_BUDGET_MS = 40.0
DISTANCE_MS = 10.0  # one sliced W2 of DIST_N points, counted against each distance job
TRAIN_STEPS_PER_FRAME = 15
HIDDEN, DEPTH, BATCH = 128, 3, 256
PREVIEW_N, PREVIEW_STEPS = 400, 16  # DDIM samples drawn while the denoiser trains

_FITTED: Any = ("dataset", tuple(d for d in DATA_CHOICES if d not in GALLERY_MIXTURES))
_LEARNED: Any = ("score", ("learned",))


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
        "learned: a denoiser ε̂(x, t) trained on samples of the mixture")] = "exact"
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


# ------------------------------------------------------------------------------ set-up


def methods_of(p: Params) -> tuple[str, ...]:
    """The samplers shown, left to right: keys of LABEL."""
    if p.methods == "euler | heun | ddim":
        return ("euler", "heun", "ddim")
    if p.methods == "ode | sde":
        return (p.ode_solver, "sde")
    return (p.ode_solver, "sde", "ddim")


def initial_noise(p: Params) -> np.ndarray:
    """The one set of noise points x_T every sampler starts from, (max(particles, DIST_N), 2):
    the panels show the first ``n_particles``, the distances use the first DIST_N."""
    rng = np.random.default_rng(p.seed)
    return rng.standard_normal((max(p.n_particles, DIST_N), 2))


def target_mixture(p: Params, ctx: RunContext) -> tuple[Mixture, str]:
    """The mixture the lab samples from, and a short description (LabError without data)."""
    if p.dataset in GALLERY_MIXTURES:
        return gallery_mixture(p.dataset, p.noise), f"the {p.dataset} mixture"
    x, _ = lab_data(p.dataset, N_FIT, p.noise, p.seed, ctx)
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    distinct = len(np.unique(x, axis=0))
    if distinct < MIN_DRAWN:
        raise LabError(f"The data hold {distinct} distinct points; a mixture needs at least "
                       f"{MIN_DRAWN}. Draw more points or choose a gallery set.")
    mix = fit_mixture(x, p.n_components, seed=p.seed)
    src = "the drawn points" if p.dataset == "drawn" else p.dataset
    return mix, f"{mix.n_components} Gaussians fitted to {src}"



def _sample(method: str, score: dif.ScoreFn, x: np.ndarray, schedule: dif.VPSchedule,
            n_steps: int, seed: int) -> np.ndarray:
    """One sampler's trajectory (n_steps + 1, n, 2) from x (n, 2)."""
    if method in ("euler", "heun"):
        return dif.pf_ode_sample(score, x, schedule, n_steps, method, T_MIN)
    if method == "sde":
        return dif.reverse_sde_sample(score, x, schedule, n_steps, seed, T_MIN)
    return dif.ddim_sample(score, x, schedule, n_steps, T_MIN)


@dataclass(frozen=True)
class _Job:
    """Integrate ``method`` with ``n_steps`` steps for the rows [lo, hi) of x_T."""

    method: str
    n_steps: int
    lo: int
    hi: int
    seed: int
    main: bool  # the shown trajectories (kept whole) or a distance run (final rows only)

    def cost(self, score_kind: str) -> float:
        per_call, per_point = COST[score_kind]
        calls = CALLS[self.method] * self.n_steps
        return calls * (per_call + (self.hi - self.lo) * per_point) + (
            0.0 if self.main else DISTANCE_MS)


def _jobs(method: str, n_steps: int, n: int, seed: int, score_kind: str,
          main: bool) -> list[_Job]:
    """Chunks of rows small enough that each chunk's estimated cost fits in a frame."""
    per_call, per_point = COST[score_kind]
    calls = CALLS[method] * n_steps
    room = FRAME_BUDGET_MS - (0.0 if main else DISTANCE_MS)
    chunk = max(32, int((room / calls - per_call) / per_point))
    parts = max(1, math.ceil(n / chunk))
    bounds = np.linspace(0, n, parts + 1).astype(int)
    tag = 0 if main else 1
    return [_Job(method, n_steps, int(lo), int(hi),
                 sub_seed(seed, tag, n_steps, i), main)
            for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]


def _pack(jobs: list[_Job], score_kind: str) -> list[list[_Job]]:
    """Jobs grouped in order, each group within the frame budget (at least one job)."""
    groups: list[list[_Job]] = []
    cur: list[_Job] = []
    used = 0.0
    for j in jobs:
        c = j.cost(score_kind)
        if cur and used + c > FRAME_BUDGET_MS:
            groups.append(cur)
            cur, used = [], 0.0
        cur.append(j)
        used += c
    if cur:
        groups.append(cur)
    return groups


def _n(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}".replace("-", "−")


# ------------------------------------------------------------------------------ the denoiser

_CACHE: dict[tuple[Any, ...], tuple[Any, float]] = {}


def clear_cache() -> None:
    """Forget the trained denoiser kept from the last learned-score run."""
    _CACHE.clear()


def _cache_key(p: Params, mix: Mixture, device: str) -> tuple[Any, ...]:
    w, m, c = mix.as_tuple()
    return (w.tobytes(), m.tobytes(), c.tobytes(), p.schedule, p.train_steps, p.lr, p.seed,
            device)


# ------------------------------------------------------------------------------ the run


class _Lab:
    """Everything one run computes, and the frames it draws from it."""

    def __init__(self, p: Params, mix: Mixture, what: str) -> None:
        self.p = p
        self.mix = mix
        self.what = what
        self.schedule = dif.VPSchedule(p.schedule)
        self.methods = methods_of(p)
        self.n = p.n_particles
        self.N = p.n_steps
        self.ts = dif.time_grid(self.N, T_MIN)
        self.x_T = initial_noise(p)
        self.score_kind = p.score
        self.score: dif.ScoreFn = self._exact_score
        self.lim = self._limits()
        g = self.lim[0] + (np.arange(GRID) + 0.5) * (self.lim[1] - self.lim[0]) / GRID
        xx, yy = np.meshgrid(g, g)
        self.cells = np.column_stack([xx.ravel(), yy.ravel()])
        self._density: dict[int, np.ndarray] = {}
        self.traj = {m: np.zeros((self.N + 1, self.n, 2)) for m in self.methods}
        for m in self.methods:
            self.traj[m][0] = self.x_T[:self.n]
        self.labels: dict[str, np.ndarray] = {}
        self.highlight: dict[str, np.ndarray] = {}
        self.start = (np.nan, np.nan)
        # a learned score costs more per call: half the samples keep its run short
        self.n_dist = DIST_N if p.score == "exact" else DIST_N // 2
        self.ends: dict[tuple[str, int], np.ndarray] = {}
        self.filled: dict[tuple[str, int], int] = {}
        self.dist: dict[tuple[str, int], float] = {}
        self.dist_steps = tuple(sorted(set(DIST_STEPS) | {self.N}))
        self.ref = np.zeros((0, 2))
        self.floor = math.nan
        self.prior = math.nan
        self.notes: list[str] = []

    # -- numbers ----------------------------------------------------------------------------
    def _exact_score(self, x: np.ndarray, t: float) -> np.ndarray:
        return dif.gmm_score(x, t, *self.mix.as_tuple(), self.schedule)

    def _limits(self) -> tuple[float, float]:
        sd = np.sqrt(np.linalg.eigvalsh(self.mix.covariances).max(axis=1))
        reach = float((np.abs(self.mix.means).max(axis=1) + 2.5 * sd).max())
        half = max(3.5, math.ceil(reach * 2.0) / 2.0)
        return (-half, half)

    def measure_floor(self) -> None:
        """The reference sample, the floor (target vs target) and the prior's distance."""
        seed = self.p.seed
        self.ref = self.mix.sample(self.n_dist, seed=sub_seed(seed, 2))[0]
        draws = [sliced_wasserstein(self.mix.sample(self.n_dist, sub_seed(seed, 3, i))[0],
                                    self.ref, N_PROJ, seed) for i in range(FLOOR_DRAWS)]
        self.floor = float(np.mean(draws))
        self.prior = sliced_wasserstein(self.x_T[:self.n_dist], self.ref, N_PROJ, seed)

    def density(self, k: int) -> np.ndarray:
        """p_t at step k's time on the grid, (GRID, GRID) (cached per step)."""
        if k not in self._density:
            logp = dif.gmm_log_density_t(self.cells, float(self.ts[k]), *self.mix.as_tuple(),
                                         self.schedule)
            self._density[k] = np.exp(logp - logp.max()).reshape(GRID, GRID)
        return self._density[k]

    def main_jobs(self) -> list[_Job]:
        out: list[_Job] = []
        for m in self.methods:
            out += _jobs(m, self.N, self.n, self.p.seed, self.score_kind, main=True)
        return out

    def distance_jobs(self) -> list[_Job]:
        """The current N first (its distances are the metrics), then 2, 4, ... 128."""
        order = (self.N, *(s for s in self.dist_steps if s != self.N))
        out: list[_Job] = []
        for s in order:
            for m in self.methods:
                out += _jobs(m, s, self.n_dist, self.p.seed, self.score_kind, main=False)
        return out

    def do(self, job: _Job) -> None:
        traj = _sample(job.method, self.score, self.x_T[job.lo:job.hi], self.schedule,
                       job.n_steps, job.seed)
        if not np.isfinite(traj).all():
            raise LabError(
                f"The {LABEL[job.method]} sampler produced NaN or infinity with "
                f"{job.n_steps} steps ({self.score_kind} score): raise the number of steps"
                + (" or train the denoiser longer." if self.score_kind == "learned" else "."))
        if job.main:
            self.traj[job.method][:, job.lo:job.hi] = traj
            return
        key = (job.method, job.n_steps)
        if key not in self.ends:
            self.ends[key] = np.zeros((self.n_dist, 2))
            self.filled[key] = 0
        self.ends[key][job.lo:job.hi] = traj[-1]
        self.filled[key] += job.hi - job.lo
        if self.filled[key] == self.n_dist:
            self.dist[key] = sliced_wasserstein(self.ends[key], self.ref, N_PROJ, self.p.seed)

    def finish_main(self) -> None:
        """End-mode colours: the target component each particle ends nearest to (E-step)."""
        for m in self.methods:
            resp, _ = gmm.e_step(self.traj[m][-1], *self.mix.as_tuple())
            self.labels[m] = np.argmax(resp, axis=1).astype(np.int64)

    def set_start(self, p: Params) -> None:
        """Paths of the highlighted start: one per deterministic sampler, n_sde_runs SDEs."""
        start = (p.start_x, p.start_y)
        if start == self.start:
            return
        self.start = start
        x = np.array([start], dtype=np.float64)
        for m in self.methods:
            if m == "sde":
                xs = np.repeat(x, self.p.n_sde_runs, axis=0)
                path = _sample(m, self.score, xs, self.schedule, self.N,
                               sub_seed(self.p.seed, 4))
            else:
                path = _sample(m, self.score, x, self.schedule, self.N, 0)
            if not np.isfinite(path).all():
                raise LabError(f"The {LABEL[m]} path of the highlighted start diverged: raise "
                               "the number of steps.")
            self.highlight[m] = path

    # -- frames -----------------------------------------------------------------------------
    def method_panel(self, i: int, m: str, k: int, integrated: bool) -> Panel:
        lim = self.lim
        traj = self.traj[m]
        labels = self.labels.get(m)
        layers: dict[str, Layer] = {
            "p_t": Heatmap(self.density(k), (*lim, *lim), contours=5),
        }
        if integrated and k > 0:
            rows = np.unique(np.linspace(0, k, min(k + 1, TRAIL_ROWS)).astype(int))
            layers["trails"] = Paths(traj[rows, :TRAILS],
                                     labels=None if labels is None else labels[:TRAILS],
                                     fade=True, alpha=0.8)
        layers["particles"] = Points(traj[k], labels=labels, size=0.55, alpha=0.7,
                                     series=0 if labels is not None else 1)
        if m in self.highlight:
            path = self.highlight[m]
            rows = np.unique(np.linspace(0, k, min(k + 1, PATH_ROWS)).astype(int))
            alpha = 0.9 if path.shape[1] == 1 else 0.55
            layers["start paths"] = Paths(path[rows], series=-1, alpha=alpha)
            layers["start now"] = Points(path[k], series=0, highlight=True, size=0.8)
        layers["start"] = Handles(np.array([[self.p.start_x, self.p.start_y]]), ("start_x",),
                                  ("start_y",), texts=("start",), series=-1)
        # linked canvases: zooming into one sampler's panel zooms the others the same way
        return Panel(layers, title=TITLE[m], xlim=lim, ylim=lim, xlabel="x₁", ylabel="x₂",
                     link="samplers")

    def distance_panel(self) -> Panel:
        xs = np.log2(np.array(self.dist_steps, dtype=np.float64))
        x_lim = (0.5, float(max(xs.max(), 7.0)) + 0.5)
        top = 1.25 * max(self.prior, 2.0 * self.floor, 1e-3)
        layers: dict[str, Layer] = {}
        xn = math.log2(self.N)
        layers["current N"] = Segments(np.array([[xn, 0.0]]), np.array([[xn, top]]),
                                       weights=np.array([0.5]), series=7)
        layers["floor"] = Curve(np.array(x_lim), np.full(2, self.floor), series=-1,
                                width=1.5, dashed=True)
        for i, m in enumerate(self.methods):
            done = [(math.log2(s), self.dist[(m, s)]) for s in self.dist_steps
                    if (m, s) in self.dist]
            if not done:
                continue
            x, y = np.array(done).T
            y = np.minimum(y, 0.97 * top)  # an exploding sampler is drawn at the top edge
            layers[f"{m} curve"] = Curve(x, y, series=i, width=2.0)
            layers[f"{m} dots"] = Points(np.column_stack([x, y]), series=i + 1, size=0.6)
            if (m, self.N) in self.dist:
                layers[f"{m} now"] = Points(
                    np.array([[xn, min(self.dist[(m, self.N)], 0.97 * top)]]),
                    series=i + 1, highlight=True)
        # a legend in the top right corner, one name per colour
        # (names are centred on their anchor: kept well inside the narrow panel)
        mid = x_lim[1] - 0.35 * (x_lim[1] - x_lim[0])
        for i, m in enumerate(self.methods):
            layers[f"{m} name"] = Labels(
                np.array([[mid, (0.92 - 0.08 * i) * top]]), (LABEL[m],), series=i)
        layers["floor name"] = Labels(np.array([[mid, self.floor + 0.05 * top]]),
                                      ("floor",), series=-1)
        return Panel(layers, title="sliced W₂ to the target", xlim=x_lim, ylim=(0.0, top),
                     equal_aspect=False, xlabel="log₂ steps", ylabel="sliced W₂")

    def metrics(self) -> dict[str, float]:
        # all methods at once, so the metric plot colours them in the panels' order
        if not all((m, self.N) in self.dist for m in self.methods):
            return {}
        out = {f"sliced W₂/{LABEL[m]}": self.dist[(m, self.N)] for m in self.methods}
        out["sliced W₂/target vs target"] = self.floor
        return out

    def frame(self, step: int, total: int, k: int, integrated: bool, lead: str) -> Frame:
        panels = [self.method_panel(i, m, k, integrated) for i, m in enumerate(self.methods)]
        panels.append(self.distance_panel())
        t = float(self.ts[k])
        title = f"ODE vs SDE · {self.p.score} score · step {k}/{self.N}, t = {t:.2f}"
        how = " ".join(HOW[m] for m in dict.fromkeys(
            "ode" if m in ("euler", "heun") else m for m in self.methods))
        colours = ("Colours: the target component each particle ends in; contours: p_t at "
                   "this t. " if integrated else "")
        if "sde" in self.methods:
            start = (f"The ringed start (drag it) has one ODE end; its {self.p.n_sde_runs} SDE "
                     "runs end apart. ")
        else:
            start = "The ringed start (drag it) follows one deterministic path per method. "
        dist = ""
        if self.metrics():
            parts = ", ".join(f"{LABEL[m]} {_n(self.dist[(m, self.N)])}" for m in self.methods
                              if (m, self.N) in self.dist)
            dist = (f"Sliced W₂ at N = {self.N}: {parts} (two target samples: "
                    f"{_n(self.floor)}).")
        caption = lead + how + " " + colours + start + dist
        return Frame(step=step, total=total, title=title, panels=tuple(panels),
                     metrics=self.metrics(), caption=caption.strip())


def _training_frame(step: int, total: int, lab: _Lab, x_train: np.ndarray,
                    preview: np.ndarray, done: int, p: Params, loss: float,
                    batch_loss: float) -> Frame:
    lim = lab.lim
    layers: dict[str, Layer] = {
        "p_0": Heatmap(lab.density(lab.N), (*lim, *lim), contours=5),
        "training points": Points(x_train[:600], series=8, size=0.45, alpha=0.5),
        "DDIM samples": Points(preview, series=1, size=0.55, alpha=0.8),
    }
    panel = Panel(layers, title="training the denoiser ε̂(x, t)", xlim=lim, ylim=lim,
                  xlabel="x₁", ylabel="x₂")
    metrics = {"denoiser loss/fixed draws": loss}
    if math.isfinite(batch_loss):
        metrics["denoiser loss/batch"] = batch_loss
    caption = (f"Training the denoiser on {N_TRAIN} samples of {lab.what}: Adam step {done} / "
               f"{p.train_steps} on ½‖ε̂(a x₀ + √v ε, t) − ε‖² (loss {loss:.3f}); its score is "
               f"−ε̂/√v.  Blue: {PREVIEW_N} DDIM samples ({PREVIEW_STEPS} steps) from the "
               "denoiser as it is; grey: the training points.")
    return Frame(step=step, total=total,
                 title=f"ODE vs SDE · training the denoiser · step {done} / {p.train_steps}",
                 panels=(panel,), metrics=metrics, caption=caption)


def _train(lab: _Lab, p: Params, ctx: RunContext, box: list[Params],
           tail: int) -> Generator[Frame, Any, int]:
    """Frames of the denoiser's training (``tail``: frames the run has after them); sets
    ``lab.score`` to the learned score and returns the number of frames yielded."""
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer
    from genlab.engine.device import resolve

    device = resolve(ctx.device)
    key = _cache_key(p, lab.mix, device)
    if key in _CACHE:
        trainer, loss = _CACHE[key]
        lab.score = trainer.score
        lab.notes.append(f"The denoiser trained in an earlier run ({p.train_steps} steps, loss "
                         f"{loss:.3f}) is reused.")
        return 0
    x_train = lab.mix.sample(N_TRAIN, seed=sub_seed(p.seed, 5))[0]
    model = Denoiser(HIDDEN, DEPTH, seed=p.seed).to(device)
    trainer = DenoiserTrainer(model, x_train, lab.schedule, lr=p.lr, batch_size=BATCH,
                              seed=p.seed, t_min=T_MIN)
    z = np.random.default_rng(sub_seed(p.seed, 6)).standard_normal((PREVIEW_N, 2))
    n_frames = 1 + math.ceil(p.train_steps / TRAIN_STEPS_PER_FRAME)
    done, frame_no, batch_loss = 0, 0, math.nan
    while True:
        loss = trainer.loss(2048)
        if not math.isfinite(loss):
            raise LabError(f"The denoiser's loss became {loss} at step {done}: lower the "
                           f"learning rate (now {p.lr:g}).")
        preview = dif.ddim_sample(trainer.score, z, lab.schedule, PREVIEW_STEPS, T_MIN)[-1]
        preview = np.where(np.isfinite(preview), preview, 0.0)
        new = yield _training_frame(frame_no, n_frames + tail, lab, x_train, preview,
                                    done, p, loss, batch_loss)
        if new is not None:
            box[0] = new
        if done >= p.train_steps:
            break
        k = min(TRAIN_STEPS_PER_FRAME, p.train_steps - done)
        losses = trainer.step(k)
        if len(losses) and not np.isfinite(losses).all():
            bad = float(losses[~np.isfinite(losses)][0])
            raise LabError(f"The denoiser's loss became {bad} at step {done + len(losses)}: "
                           f"lower the learning rate (now {p.lr:g}).")
        done += len(losses)
        batch_loss = float(np.mean(losses))
        frame_no += 1
    _CACHE.clear()
    _CACHE[key] = (trainer, loss)
    lab.score = trainer.score
    return frame_no + 1


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames: (learned) training, integrating, the time sweep with the distances, hold."""
    p = params
    try:
        mix, what = target_mixture(p, ctx)
    except LabError as e:
        yield message_frame("ODE vs SDE · no data", str(e))
        return
    lab = _Lab(p, mix, what)
    box = [p]
    main = _pack(lab.main_jobs(), lab.score_kind)
    dist = _pack(lab.distance_jobs(), lab.score_kind)
    stride = max(1, math.ceil(lab.N / SWEEP_FRAMES))
    step = 0
    if p.score == "learned":
        tail = len(main) + max(len(dist), int(round(p.time * lab.N)) // stride + 1)
        step = yield from _train(lab, p, ctx, box, tail)
    lab.measure_floor()

    def sweep_to(p: Params) -> list[int]:
        end = int(round(p.time * lab.N))
        return sorted(set(range(0, end + 1, stride)) | {end})

    sweep = sweep_to(box[0])
    setup = " ".join([f"Target: {what}; {len(lab.x_T[:lab.n])} noise points x_T ~ N(0, I), "
                      f"the same for every sampler.", *lab.notes])

    def take(new: Any) -> bool:
        """Apply a live change; True when it changes what the frame shows."""
        if new is None:
            return False
        old, box[0] = box[0], new
        lab.p = new
        return (old.time, old.animate, old.start_x, old.start_y) != (
            new.time, new.animate, new.start_x, new.start_y)

    for i, group in enumerate(main):
        for job in group:
            lab.do(job)
        total = step + len(main) - i + max(len(sweep), len(dist))
        take((yield lab.frame(step, total, 0, False,
                              f"Integrating every sampler from t = 1 ({i + 1}/{len(main)}). "
                              + setup + " ")))
        step += 1
    lab.finish_main()

    # a time moved before the sweep began takes over from the animation
    manual = not box[0].animate or box[0].time != params.time
    i_sweep = 0
    while True:
        p = box[0]
        if manual or not p.animate:
            manual = True
            k = int(round(p.time * lab.N))
        else:
            k = sweep[min(i_sweep, len(sweep) - 1)]
            i_sweep += 1
        lab.set_start(p)
        if dist:
            for job in dist.pop(0):
                lab.do(job)
        sweeping = not manual and i_sweep < len(sweep)
        finished = not dist and not sweeping
        left = max(len(dist), len(sweep) - i_sweep if not manual else 0)
        if finished:
            lead = f"Done: t = {lab.ts[k]:.3f}, step {k} of {lab.N}; move 'time shown' to scrub. "
        elif sweeping:
            lead = f"Step {k} of {lab.N}, t = {lab.ts[k]:.2f}. "
        else:
            lead = (f"Step {k} of {lab.N}, t = {lab.ts[k]:.2f}; measuring the distances "
                    f"({len(dist)} frames left). ")
        changed = take((yield lab.frame(step, step + 1 + left, k, True, lead)))
        step += 1
        if changed:
            old_time = p.time
            if box[0].time != old_time:
                manual = True
            continue
        if finished:
            return


LAB = LabInfo(
    name="ode-sde",
    title="ODE vs SDE samplers",
    description="The same noise carried to the data by the probability-flow ODE (Euler, Heun), "
                "the reverse SDE and DDIM, with the exact or a learned score: trajectories, "
                "one start's ends, and the distance to the target against the step count.",
    params=Params,
    run=run,
    takes_data=True,
)
