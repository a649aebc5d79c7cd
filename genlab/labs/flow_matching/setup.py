"""The run's sets and the two nets: data, mixtures, floor, the trainers, the jobs that
integrate the flows, and the cache that keeps trained nets for the next run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from genlab.engine import flow_matching as fm
from genlab.engine.datasets import make_dataset
from genlab.engine.mixtures import GALLERY_MIXTURES, Mixture, fit_mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import LabError, RunContext, sub_seed
from genlab.labs.data import data_or_message
from genlab.labs.flow_matching import settings as S
from genlab.labs.flow_matching.settings import LEGEND, NORMAL, Params
from genlab.labs.frame import Frame


def _mixture(name: str, x: np.ndarray, p: Params) -> tuple[Mixture, str, bool]:
    """The mixture standing for a set: (mixture, its description, exact)."""
    if name == NORMAL:
        return fm.STANDARD_NORMAL, "N(0, I)", True
    if name in GALLERY_MIXTURES:
        return gallery_mixture(name, p.noise), name, True
    mix = fit_mixture(x[:S.N_FIT], p.n_components, seed=p.seed)
    src = "the drawn points" if name == "drawn" else name
    return mix, f"{mix.n_components} Gaussians fitted to {src}", False


@dataclass
class Data:
    """The run's sets: training points, particles, reference, mixtures and limits."""

    x1: np.ndarray  # target training points (n, 2)
    x0: np.ndarray | None  # source training points, None for N(0, I)
    start: np.ndarray  # particles (max(n, DIST_N), 2) every flow starts from
    noise_start: np.ndarray  # N(0, I) particles of the vs-diffusion view
    ref: np.ndarray  # target points the distances are measured against
    floor: float
    floor_text: str  # how the floor was measured
    src_mix: Mixture
    tgt_mix: Mixture
    src_text: str  # the mixtures standing for the sets in the exact fields
    tgt_text: str
    src_name: str  # the sets the nets train on
    tgt_name: str
    exact: bool  # both mixtures are the sets themselves (no fit)
    lim: tuple[float, float]


def make_data(p: Params, x1: np.ndarray) -> Data:
    n_start = max(p.n_particles, S.DIST_N)
    rng = np.random.default_rng(sub_seed(p.seed, 1))
    noise_start = rng.standard_normal((n_start, 2))
    if p.source == NORMAL:
        x0 = None
        start = noise_start
        src_points = noise_start
    else:
        x0 = make_dataset(p.source, S.N_TRAIN, p.noise, sub_seed(p.seed, 2))[0]
        start = make_dataset(p.source, n_start, p.noise, sub_seed(p.seed, 3))[0]
        src_points = x0
    if p.dataset == "drawn":
        ref = x1
        # two disjoint halves are independent draws of the law the points were drawn from; a
        # resample measured against the points themselves shares them and reads too low
        order = np.random.default_rng(sub_seed(p.seed, 4)).permutation(len(x1))
        half = len(x1) // 2
        floor = sliced_wasserstein(x1[order[:half]], x1[order[half:2 * half]], S.N_PROJ,
                                   p.seed)
        floor_text = "two disjoint halves of the drawn points"
    else:
        # a floor is what a perfect sampler reaches: the distance between independent draws
        ref = make_dataset(p.dataset, S.DIST_N, p.noise, sub_seed(p.seed, 5))[0]
        floor = float(np.mean([
            sliced_wasserstein(make_dataset(p.dataset, S.DIST_N, p.noise,
                                            sub_seed(p.seed, 6, i))[0], ref, S.N_PROJ, p.seed)
            for i in range(S.FLOOR_DRAWS)]))
        floor_text = "two draws of the target"
    src_mix, src_text, src_exact = _mixture(p.source, src_points, p)
    tgt_mix, tgt_text, tgt_exact = _mixture(p.dataset, x1, p)
    both = np.concatenate([start[:S.DIST_N], x1[:S.DIST_N]])
    reach = float(np.percentile(np.abs(both), 99.5))
    half = max(3.0, math.ceil(1.2 * reach * 2.0) / 2.0)
    names = {NORMAL: "N(0, I)", "drawn": "drawn points"}
    return Data(x1, x0, start, noise_start, ref, floor, floor_text, src_mix, tgt_mix,
                src_text, tgt_text, names.get(p.source, p.source), names.get(p.dataset, p.dataset),
                src_exact and tgt_exact, (-half, half))


def target_points(p: Params, ctx: RunContext) -> np.ndarray | Frame:
    got = data_or_message(p.dataset, S.N_TRAIN, p.noise, sub_seed(p.seed, 7), ctx,
                          "Flow matching", S.MIN_POINTS)
    if isinstance(got, Frame):
        return got
    return got[0]


@dataclass(frozen=True)
class Job:
    """Integrate flow ``kind`` with (n_steps, method) for the particles [lo, hi).

    purpose: "main" (the shown trajectories, kept whole), "dist" (end points, then the
    sliced W₂) or "straight" (the straightness of the flow, STRAIGHT_STEPS Euler steps)."""

    kind: str
    n_steps: int
    method: str
    lo: int
    hi: int
    purpose: str


def job_cost(job: Job, pairs: int) -> float:
    per_call, per_point = S.COST_MIX if job.kind in ("exact", "PF-ODE") else S.COST_NET
    per_point *= pairs if job.kind in ("exact", "PF-ODE") else 1
    calls = S.CALLS[job.method] * job.n_steps
    extra = S.DISTANCE_MS if job.purpose == "dist" else 0.0
    return calls * (per_call + (job.hi - job.lo) * per_point) + extra


@dataclass
class Store:
    """What a run computed with its finished nets (kept across runs with them)."""

    main: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)
    main_filled: dict[tuple[str, int, str], int] = field(default_factory=dict)
    ends: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)
    ends_filled: dict[tuple[str, int, str], int] = field(default_factory=dict)
    dist: dict[tuple[str, int, str], float] = field(default_factory=dict)
    straight: dict[str, tuple[float, float]] = field(default_factory=dict)


class Nets:
    """The two velocity nets, their trainers and their loss history (torch imported when
    made)."""

    def __init__(self, p: Params, data: Data, device: str) -> None:
        from genlab.engine.denoiser import Denoiser
        from genlab.engine.flow_matching_trainer import FlowMatchingTrainer

        self.trainers = {}
        for kind, coupling in (("independent", "independent"), ("OT", "ot")):
            # the same seed: the same initial weights and the same batches of x0, x1 and t
            model = Denoiser(p.hidden, S.HIDDEN_DEPTH, seed=p.seed).to(device)
            self.trainers[kind] = FlowMatchingTrainer(
                model, data.x1, data.x0, coupling, lr=p.lr, batch_size=p.batch_size,
                seed=p.seed)
        self.done = 0
        self.losses = {"independent": math.nan, "OT": math.nan}
        # (training step, loss of each net) at every measure: the loss panel's curves
        self.history: list[tuple[int, float, float]] = []

    def velocity(self, kind: str) -> fm.VelocityFn:
        return self.trainers[kind].velocity

    def measure(self, lr: float) -> None:
        for kind, tr in self.trainers.items():
            value = tr.loss(S.LOSS_N)
            if not math.isfinite(value) or value > S.DIVERGED_LOSS:
                raise diverged(kind, f"its loss reached {value:.3g}", self.done, lr)
            self.losses[kind] = value
        if self.history and self.history[-1][0] == self.done:
            self.history.pop()
        self.history.append((self.done, self.losses["independent"], self.losses["OT"]))

    def train(self, p: Params, k: int) -> None:
        """Up to k Adam steps of each net (never past ``p.train_steps``)."""
        k = min(k, p.train_steps - self.done)
        if k <= 0:
            return
        for kind, tr in self.trainers.items():
            tr.lr, tr.batch_size = p.lr, p.batch_size
            losses = tr.step(k)
            if len(losses) < k or not np.isfinite(losses).all():
                raise diverged(kind, "its loss became NaN or infinite",
                               self.done + len(losses), p.lr)
        self.done += k


def diverged(kind: str, what: str, step: int, lr: float) -> LabError:
    return LabError(f"The {LEGEND[kind]} net diverged at step {step} ({what}): lower the "
                    f"learning rate (now {lr:.2g}) or use a larger batch.")


def cache_key(p: Params, x1: np.ndarray, device: str) -> str:
    """What the two nets, the data set-up and the flows computed with them depend on: the
    key of the engine's store of trained models."""
    from genlab.engine.training.store import model_key

    return model_key("flow-matching", p.source, p.dataset, p.noise, p.n_components,
                     p.train_steps, p.hidden, p.n_particles, p.seed, p.lr, p.batch_size,
                     device, x1 if p.dataset == "drawn" else None)
