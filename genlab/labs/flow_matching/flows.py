"""The flows of one run: integrating each (the two nets, the exact field, the PF-ODE), and
the jobs that fill the trajectories, the distance curves and the straightness, a frame's
budget at a time."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine import flow_matching as fm
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import LabError, sub_seed
from genlab.labs.flow_matching import settings as S
from genlab.labs.flow_matching.settings import LEGEND, NORMAL, Params
from genlab.labs.flow_matching.setup import Data, Job, Nets, Store, job_cost
from genlab.labs.plane import cells


class Flows:
    """One run's state: the data, the nets and what was computed with them."""

    def __init__(self, p: Params, data: Data, nets: Nets, store: Store) -> None:
        self.p = p
        self.d = data
        self.nets = nets
        self.store = store
        self.trained = False
        self.schedule = dif.VPSchedule("linear")
        lim = data.lim
        inner = lim[1] * (1 - 1 / S.FIELD_N)
        self.field_cells = cells((-inner, inner), (-inner, inner), S.FIELD_N)
        self.heat_cells = cells(lim, lim, S.HEAT_N)
        rng = np.random.default_rng(sub_seed(p.seed, 8))
        n1 = rng.integers(0, len(data.x1), S.CLOUD_N)
        self.cloud1 = data.x1[n1]
        self.cloud0 = (rng.standard_normal((S.CLOUD_N, 2)) if data.x0 is None
                       else data.x0[rng.integers(0, len(data.x0), S.CLOUD_N)])
        self.cloud0_ot, self.cloud1_ot = fm.pair(self.cloud0, self.cloud1, "ot")
        self.err0 = data.src_mix.sample(S.ERR_N, seed=sub_seed(p.seed, 9))[0]
        self.err1 = data.tgt_mix.sample(S.ERR_N, seed=sub_seed(p.seed, 10))[0]
        self._heat: dict[float, np.ndarray] = {}
        self._exact_field: dict[float, np.ndarray] = {}
        self.pairs = data.src_mix.n_components * data.tgt_mix.n_components

    # -- flows ----------------------------------------------------------------------------
    def exact_v(self, x: np.ndarray, t: float) -> np.ndarray:
        return fm.mixture_velocity(x, t, self.d.src_mix, self.d.tgt_mix)

    def _normal_exact_v(self, x: np.ndarray, t: float) -> np.ndarray:
        return fm.mixture_velocity(x, t, fm.STANDARD_NORMAL, self.d.tgt_mix)

    def _score(self, x: np.ndarray, t: float) -> np.ndarray:
        return dif.gmm_score(x, t, *self.d.tgt_mix.as_tuple(), self.schedule)

    def integrate(self, kind: str, x: np.ndarray, n_steps: int, method: str) -> np.ndarray:
        """The trajectory (n_steps + 1, n, 2) of flow ``kind`` from x (row 0) to the target."""
        if kind == "PF-ODE":
            return dif.pf_ode_sample(self._score, x, self.schedule, n_steps,
                                     "euler" if method == "euler" else "heun", S.T_MIN)
        fn: Callable[[np.ndarray, float], np.ndarray]
        if kind == "exact":
            fn = self._normal_exact_v if self.p.view == "vs diffusion" else self.exact_v
        else:
            fn = self.nets.velocity(kind)
        traj = fm.sample(fn, x, n_steps, method)
        if not np.isfinite(traj).all():
            raise LabError(f"The {LEGEND[kind]} flow sent points to infinity with {n_steps} "
                           f"steps: raise the number of steps or lower the learning rate.")
        return traj

    def starts(self) -> np.ndarray:
        """The particles the flows start from in the current view."""
        return self.d.noise_start if self.p.view == "vs diffusion" else self.d.start

    def kinds(self) -> tuple[str, ...]:
        """The flows whose trajectories the view shows, left to right."""
        return ("exact", "PF-ODE") if self.p.view == "vs diffusion" else ("independent", "OT")

    def curves(self) -> tuple[str, ...]:
        """The flows of the distance panel."""
        if self.p.view == "vs diffusion":
            return ("exact", "PF-ODE", "OT")
        return ("independent", "OT", "exact")

    def store_key(self, kind: str, n_steps: int, method: str) -> tuple[str, int, str]:
        # the exact field joins N(0, I) to the target in the vs-diffusion view
        tag = "exact·normal" if kind == "exact" and self.p.view == "vs diffusion" else kind
        return (tag, n_steps, method)

    def straightness(self, kind: str) -> tuple[float, float] | None:
        return self.store.straight.get(self.store_key(kind, 0, "")[0])

    def diffusion_ok(self) -> bool:
        return self.p.source == NORMAL

    # -- jobs -----------------------------------------------------------------------------
    def _chunks(self, kind: str, n_steps: int, method: str, n: int, purpose: str) -> list[Job]:
        one = job_cost(Job(kind, n_steps, method, 0, 1, purpose), self.pairs)
        per_point = one - job_cost(Job(kind, n_steps, method, 0, 0, purpose), self.pairs)
        fixed = one - per_point
        chunk = max(20, int((S.FRAME_BUDGET_MS - fixed) / max(per_point, 1e-9)))
        parts = max(1, math.ceil(n / chunk))
        bounds = np.linspace(0, n, parts + 1).astype(int)
        return [Job(kind, n_steps, method, int(a), int(b), purpose)
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def pending(self) -> list[Job]:
        """The jobs the current view still needs: its trajectories, then its distance curves
        (the current N first) and the straightness of its flows."""
        p, s = self.p, self.store
        if p.view == "fields" or (p.view == "vs diffusion" and not self.diffusion_ok()):
            return []
        out: list[Job] = []
        n = p.n_particles
        for kind in self.kinds():
            key = self.store_key(kind, p.n_steps, p.method)
            if s.main_filled.get(key, 0) < n:
                out += [j for j in self._chunks(kind, p.n_steps, p.method, n, "main")
                        if j.hi > s.main_filled.get(key, 0)]
        steps = (p.n_steps, *(k for k in S.DIST_STEPS if k != p.n_steps))
        for n_steps in steps:
            for kind in self.curves():
                key = self.store_key(kind, n_steps, p.method)
                if key not in s.dist:
                    out += [j for j in self._chunks(kind, n_steps, p.method, S.DIST_N, "dist")
                            if j.hi > s.ends_filled.get(key, 0)]
        for kind in self.kinds():
            if self.straightness(kind) is None:
                out.append(Job(kind, S.STRAIGHT_STEPS, "euler", 0, S.STRAIGHT_N, "straight"))
        return out

    def work(self) -> None:
        """One frame's work: the pending jobs in order, within the frame budget (estimated
        costs; at least one job), through the engine's frame-budget jobs."""
        from genlab.engine.training.jobs import Job as StepJob
        from genlab.engine.training.jobs import advance

        advance([StepJob(j, 1, job_cost(j, self.pairs), lambda _k, j=j: self.do(j))
                 for j in self.pending()], S.FRAME_BUDGET_MS)

    def do(self, job: Job) -> None:
        s = self.store
        key = self.store_key(job.kind, job.n_steps, job.method)
        x = self.starts()[job.lo:job.hi]
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
                s.ends[key] = np.zeros((S.DIST_N, 2))
            s.ends[key][job.lo:job.hi] = traj[-1]
            s.ends_filled[key] = max(s.ends_filled.get(key, 0), job.hi)
            if s.ends_filled[key] >= S.DIST_N:
                s.dist[key] = sliced_wasserstein(s.ends[key], self.d.ref, S.N_PROJ,
                                                 self.p.seed)

    def trajectories(self, kind: str) -> np.ndarray | None:
        """The shown trajectories of ``kind`` (None while not computed): the stored ones once
        the nets are trained, else a preview with the nets as they are now."""
        p = self.p
        if self.trained or kind in ("exact", "PF-ODE"):
            key = self.store_key(kind, p.n_steps, p.method)
            if self.store.main_filled.get(key, 0) >= p.n_particles:
                return self.store.main[key]
            if self.trained:
                return None
        n_steps = min(p.n_steps, S.PREVIEW_MAX_STEPS)
        return self.integrate(kind, self.starts()[:S.PREVIEW_N], n_steps, p.method)

    def distances(self, kind: str) -> list[tuple[int, float]]:
        """(N, sliced W₂) computed so far for flow ``kind`` with the current method."""
        p, s = self.p, self.store
        return [(n, s.dist[self.store_key(kind, n, p.method)])
                for n in sorted({*S.DIST_STEPS, p.n_steps})
                if self.store_key(kind, n, p.method) in s.dist]
