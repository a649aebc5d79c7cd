"""The guidance lab's data and sampling: the class mixtures, the guided sampling jobs (split
over frames, a budget at a time), the cache of finished sample sets, and their fidelity and
spread."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine.guidance import ClassMixtures, class_mixtures, gallery_class_mixtures
from genlab.labs.base import LabError, RunContext, sub_seed
from genlab.labs.data import data_or_message
from genlab.labs.frame import Frame, message_frame
from genlab.labs.guidance import settings as S
from genlab.labs.guidance.settings import Params
from genlab.labs.plane import cells


def class_data(p: Params, ctx: RunContext) -> tuple[ClassMixtures, np.ndarray, str] | Frame:
    """The class mixtures, the label value of each class (C,) and a description; or a message
    frame (no drawn points, a single class)."""
    got = data_or_message(p.dataset, S.N_FIT, p.noise, p.seed, ctx, "Guidance", S.MIN_DISTINCT)
    if isinstance(got, Frame):
        return got
    x, labels = got
    values = np.unique(labels)
    if len(values) < 2:
        return message_frame(
            "Guidance · one class",
            "Guidance needs at least two classes: paint the points in two or more colours "
            "(the colour is the class), or choose a labelled data set.")
    if p.dataset == "8gaussians":
        return (gallery_class_mixtures("8gaussians", p.noise), np.arange(8),
                "the 8 gaussians (one exact component per class)")
    src = "the drawn points" if p.dataset == "drawn" else p.dataset
    if len(x) > S.N_FIT:
        # the mixtures need a few thousand points, not 200k (seconds before any frame)
        keep = np.random.default_rng(p.seed).choice(len(x), S.N_FIT, replace=False)
        src = f"{S.N_FIT} of the {len(x)} drawn points"
        x, labels = x[keep], labels[keep]
    cm, values = class_mixtures(x, labels, p.n_components, seed=p.seed)
    return cm, values, f"{p.n_components} Gaussians fitted to each class of {src}"


def class_index(values: np.ndarray, label: int) -> int:
    """Index of the class whose label value is nearest ``label`` (ties: the lower one)."""
    return int(np.argmin(np.abs(values - int(label)) * 2 + (values > label)))


@dataclass
class Job:
    """One guided sampling run in progress: ``kind`` ("learned" or "exact"), class c,
    weight w, sampler and steps; x the current points, i the steps done."""

    key: tuple[Any, ...]
    ts: np.ndarray
    x: np.ndarray
    rng: np.random.Generator | None
    i: int = 0

    @property
    def kind(self) -> str:
        return str(self.key[0])

    @property
    def c(self) -> int:
        return int(self.key[1])

    @property
    def w(self) -> float:
        return float(self.key[2])

    @property
    def n_steps(self) -> int:
        return int(self.key[4])


class Sampling:
    """One run's data, scores, sample cache and measures."""

    def __init__(self, p: Params, cm: ClassMixtures, values: np.ndarray, what: str) -> None:
        self.p = p
        self.cm = cm
        self.values = values
        self.what = what
        self.schedule = dif.VPSchedule("linear")
        self.trainer: Any = None  # set once the denoiser has trained
        self.kinds: tuple[str, ...] = ("exact",)
        self.x_T = np.random.default_rng(sub_seed(p.seed, 1)).standard_normal((p.n_samples, 2))
        self.x_train, self.c_train = cm.sample(S.N_TRAIN, seed=sub_seed(p.seed, 2))
        self.show = self.x_train[:S.N_SHOW]
        self.show_labels = values[self.c_train[:S.N_SHOW]]
        self.lim = self._limits()
        lo, hi = self.lim
        inner = hi * (1 - 1 / S.FIELD_N)
        self.field_cells = cells((-inner, inner), (-inner, inner), S.FIELD_N)
        self.heat_cells = cells(self.lim, self.lim, S.HEAT_N)
        self.samples: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self.last: dict[str, tuple[tuple[Any, ...], np.ndarray]] = {}
        self.jobs: dict[tuple[Any, ...], Job] = {}
        self._measured: dict[tuple[Any, ...], tuple[float, float, np.ndarray]] = {}
        self.class_sd = [math.sqrt(float(np.trace(cm.class_covariance(c))))
                         for c in range(cm.n_classes)]
        n_comp = cm.unconditional().n_components
        self.exact_cost = [(n_comp + m.n_components) * S.EXACT_MS_PER_POINT_COMPONENT
                           for m in cm.mixtures]

    def _limits(self) -> tuple[float, float]:
        mix = self.cm.unconditional()
        sd = np.sqrt(np.linalg.eigvalsh(mix.covariances).max(axis=1))
        reach = float((np.abs(mix.means).max(axis=1) + 2.0 * sd).max())
        half = max(3.5, math.ceil(reach * 2.0) / 2.0)
        return (-half, half)

    # -- scores -----------------------------------------------------------------------------
    def score_fn(self, kind: str, c: int, w: float) -> dif.ScoreFn:
        if kind == "exact":
            return lambda x, t: self.cm.guided_score(x, t, c, w, self.schedule)
        return lambda x, t: self.trainer.guided_score(x, t, c, w)

    # -- sampling jobs ----------------------------------------------------------------------
    def key(self, kind: str, c: int, w: float, p: Params) -> tuple[Any, ...]:
        return (kind, c, round(float(w), 6), p.sampler, p.n_steps)

    def _new_job(self, key: tuple[Any, ...]) -> Job:
        rng = (np.random.default_rng(sub_seed(self.p.seed, 3, key[4]))
               if key[3] == "DDPM" else None)
        _, v1 = self.schedule.marginal(1.0)
        return Job(key, dif.time_grid(int(key[4]), S.T_MIN),
                    math.sqrt(float(v1)) * self.x_T, rng)

    def _cost(self, job: Job) -> float:
        n = len(self.x_T)
        if job.kind == "exact":
            return n * self.exact_cost[job.c]
        return n * S.LEARNED_MS_PER_POINT

    def _steps(self, job: Job, k: int) -> None:
        """The next k steps of ``job``; a finished job's samples are kept."""
        fn = self.score_fn(job.kind, job.c, job.w)
        for _ in range(k):
            t0, t1 = float(job.ts[job.i]), float(job.ts[job.i + 1])
            score = fn(job.x, t0)
            last = job.i == job.n_steps - 1
            if job.rng is None:
                job.x = dif.ddim_step(job.x, score, t0, t1, self.schedule)
            else:
                job.x = dif.ddpm_step(job.x, score, t0, t1, self.schedule,
                                      None if last else job.rng)
            job.i += 1
        if not np.isfinite(job.x).all():
            raise LabError(
                f"The {job.kind} guided samples became NaN or infinite (class "
                f"{self.values[job.c]}, w = {job.w:g}, {job.n_steps} {job.key[3]} steps): "
                "lower w or raise the steps"
                + (", or train the denoiser longer." if job.kind == "learned" else "."))
        if job.i >= job.n_steps:
            self.samples[job.key] = job.x
            self.samples.move_to_end(job.key)
            self._measured.pop(job.key, None)
            while len(self.samples) > S.N_CACHED:
                self._measured.pop(self.samples.popitem(last=False)[0], None)
            del self.jobs[job.key]

    def wanted(self, p: Params, c: int, w_show: float) -> list[tuple[Any, ...]]:
        """Sample sets still to compute, most urgent first: the shown w, then the grid."""
        out = [self.key(k, c, w_show, p) for k in self.kinds]
        out += [self.key(k, c, w, p) for w in S.W_GRID for k in self.kinds]
        return [k for k in dict.fromkeys(out) if k not in self.samples]

    def work(self, p: Params, c: int, w_show: float, budget: float | None = None) -> bool:
        """Spend about ``budget`` ms (default: one frame's, estimated) on the wanted sample
        sets, most urgent first, through the engine's frame-budget jobs; True if any work
        was done."""
        from genlab.engine.training.jobs import Job as StepJob
        from genlab.engine.training.jobs import advance

        budget = S.FRAME_BUDGET_MS if budget is None else budget
        queue = []
        for key in self.wanted(p, c, w_show):
            job = self.jobs.get(key) or self.jobs.setdefault(key, self._new_job(key))
            queue.append(StepJob(key, job.n_steps, self._cost(job),
                                 functools.partial(self._steps, job), done=job.i))
        did = bool(queue) and budget > 0 and advance(queue, budget) > 0
        # jobs no longer wanted (another class, steps or sampler) are dropped
        keep = set(self.wanted(p, c, w_show))
        for key in [k for k in self.jobs if k not in keep]:
            del self.jobs[key]
        return did

    def ready(self, p: Params, c: int, w: float) -> bool:
        """Every kind's sample set at w is computed."""
        return all(self.key(k, c, w, p) in self.samples for k in self.kinds)

    def shown(self, kind: str, p: Params, c: int, w: float
              ) -> tuple[np.ndarray | None, bool]:
        """The samples to draw for (kind, c, w) and whether they are those (False: the last
        good set while the new one is computed)."""
        key = self.key(kind, c, w, p)
        if key in self.samples:
            self.last[kind] = (key, self.samples[key])
            return self.samples[key], True
        got = self.last.get(kind)
        return (None if got is None else got[1]), False

    # -- measures ---------------------------------------------------------------------------
    def measures(self, x: np.ndarray, c: int) -> tuple[float, float, np.ndarray]:
        """(fidelity, spread, class of each sample): fidelity = mean exact p(y | x₀) at
        t ≈ 0; spread = √tr Cov of the samples weighted by p(y | x₀), over the class's own."""
        logp = self.cm.classifier_log_probs(x, S.T_MIN, self.schedule)
        r = np.exp(logp[:, c])
        fid = float(r.mean())
        if r.sum() < 2.0:
            return fid, 0.0, np.argmax(logp, axis=1)
        m = (r[:, None] * x).sum(0) / r.sum()
        var = float((r * ((x - m) ** 2).sum(1)).sum() / r.sum())
        return fid, math.sqrt(var) / max(self.class_sd[c], 1e-9), np.argmax(logp, axis=1)

    def measures_of(self, key: tuple[Any, ...]) -> tuple[float, float, np.ndarray]:
        """:meth:`measures` of a finished sample set, computed once."""
        if key not in self._measured:
            self._measured[key] = self.measures(self.samples[key], int(key[1]))
        return self._measured[key]

    def curve(self, kind: str, p: Params, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, fidelity, spread) over the grid values computed so far."""
        rows = [(w, *self.measures_of(self.key(kind, c, w, p))[:2])
                for w in S.W_GRID if self.key(kind, c, w, p) in self.samples]
        if not rows:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        a = np.array(rows)
        return a[:, 0], a[:, 1], a[:, 2]

    def check(self, *arrays: np.ndarray) -> None:
        for a in arrays:
            if not np.isfinite(a).all():
                raise LabError("The denoiser's output is not finite: lower the learning rate "
                               "or train again.")
