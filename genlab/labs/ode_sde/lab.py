"""What one run computes: the trajectories of every sampler from the shared noise, the
highlighted start's paths, the distances to the target against the number of steps, and the
distance of each sampler's particles to p_t along the way."""

from __future__ import annotations

import math

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine import gmm
from genlab.engine.mixtures import Mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import LabError, sub_seed
from genlab.labs.ode_sde import settings as S
from genlab.labs.ode_sde.settings import LABEL, Params
from genlab.labs.ode_sde.setup import Job, initial_noise, jobs, methods_of, sample


class Lab:
    """Everything one run computes (the pictures are drawn by ``panels.Pictures``)."""

    def __init__(self, p: Params, mix: Mixture, what: str) -> None:
        self.p = p
        self.mix = mix
        self.what = what
        self.schedule = dif.VPSchedule(p.schedule)
        self.methods = methods_of(p)
        self.n = p.n_particles
        self.N = p.n_steps
        self.ts = dif.time_grid(self.N, S.T_MIN)
        self.x_T = initial_noise(p)
        self.score_kind = p.score
        self.score: dif.ScoreFn = self._exact_score
        self.lim = self._limits()
        g = self.lim[0] + (np.arange(S.GRID) + 0.5) * (self.lim[1] - self.lim[0]) / S.GRID
        xx, yy = np.meshgrid(g, g)
        self.cells = np.column_stack([xx.ravel(), yy.ravel()])
        self._density: dict[int, np.ndarray] = {}
        self.traj = {m: np.zeros((self.N + 1, self.n, 2)) for m in self.methods}
        for m in self.methods:
            self.traj[m][0] = self.x_T[:self.n]
        self.labels: dict[str, np.ndarray] = {}
        self.highlight: dict[str, np.ndarray] = {}
        self.start = (math.nan, math.nan)
        # a learned score costs more per call: half the samples keep its run short
        self.n_dist = S.DIST_N if p.score == "exact" else S.DIST_N // 2
        self.ends: dict[tuple[str, int], np.ndarray] = {}
        self.filled: dict[tuple[str, int], int] = {}
        self.dist: dict[tuple[str, int], float] = {}
        self.dist_steps = tuple(sorted(set(S.DIST_STEPS) | {self.N}))
        self.ref = np.zeros((0, 2))
        self.floor = math.nan
        self.floor_sd = math.nan
        self.prior = math.nan
        self._track: dict[int, dict[str, float]] = {}
        self._draws: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.notes: list[str] = []
        # each deterministic sampler's mean endpoint distance to a fine solve of the same ODE
        # from the same noise: it separates the solvers where a distance between clouds, near
        # its own floor, cannot
        self.end_error: dict[str, float] = {}

    # -- numbers ----------------------------------------------------------------------------
    def _exact_score(self, x: np.ndarray, t: float) -> np.ndarray:
        return dif.gmm_score(x, t, *self.mix.as_tuple(), self.schedule)

    def _limits(self) -> tuple[float, float]:
        """A square box about the origin holding the noise the samplers start from and the
        target they end on (a quantile of each, with a margin): no empty space around
        them."""
        target = self.mix.sample(S.DIST_N, seed=sub_seed(self.p.seed, 9))[0]
        reach = max(float(np.quantile(np.abs(target), S.LIM_Q)),
                    float(np.quantile(np.abs(self.x_T[:self.n]), S.LIM_Q)))
        half = math.ceil(10 * S.LIM_MARGIN * reach) / 10
        return (-half, half)

    def measure_floor(self) -> None:
        """The reference sample, the floor (target vs target) and the prior's distance."""
        seed = self.p.seed
        self.ref = self.mix.sample(self.n_dist, seed=sub_seed(seed, 2))[0]
        draws = [sliced_wasserstein(self.mix.sample(self.n_dist, sub_seed(seed, 3, i))[0],
                                    self.ref, S.N_PROJ, seed) for i in range(S.FLOOR_DRAWS)]
        self.floor = float(np.mean(draws))
        self.floor_sd = float(np.std(draws))
        self.prior = sliced_wasserstein(self.x_T[:self.n_dist], self.ref, S.N_PROJ, seed)

    def density(self, k: int) -> np.ndarray:
        """p_t at step k's time on the grid, (GRID, GRID) (cached per step)."""
        if k not in self._density:
            logp = dif.gmm_log_density_t(self.cells, float(self.ts[k]), *self.mix.as_tuple(),
                                         self.schedule)
            self._density[k] = np.exp(logp - logp.max()).reshape(S.GRID, S.GRID)
        return self._density[k]

    def _p_t(self, k: int, draw: int) -> np.ndarray:
        """Draw ``draw`` of p_t at step k's time: a x₀ + √v ε with x₀ and ε fixed per draw, so
        the distances along the sweep change smoothly with t instead of jumping with every
        new sample."""
        if draw not in self._draws:
            n = min(self.n, S.TRACK_N)
            seed = sub_seed(self.p.seed, 7, draw)
            x0 = self.mix.sample(n, seed=seed)[0]
            eps = np.random.default_rng(seed).standard_normal((n, 2))
            self._draws[draw] = (x0, eps)
        x0, eps = self._draws[draw]
        a, v = (float(z) for z in self.schedule.marginal(float(self.ts[k])))
        return a * x0 + math.sqrt(v) * eps

    def track(self, k: int) -> dict[str, float]:
        """Sliced W₂ of each sampler's particles at step k to a draw of p_t at that time,
        and between two such draws (the floor, a mean over TRACK_FLOOR_DRAWS pairs): the ODE
        and the SDE share the marginals p_t, so both follow the floor down to the data, up
        to their step error."""
        if k not in self._track:
            n = min(self.n, S.TRACK_N)
            seed = self.p.seed
            ref = self._p_t(k, 0)
            out = {LABEL[m]: sliced_wasserstein(self.traj[m][k, :n], ref, S.TRACK_PROJ, seed)
                   for m in self.methods}
            out[S.FLOOR] = float(np.mean([
                sliced_wasserstein(self._p_t(k, i + 1), ref, S.TRACK_PROJ, seed)
                for i in range(S.TRACK_FLOOR_DRAWS)]))
            self._track[k] = out
        return self._track[k]

    def main_jobs(self) -> list[Job]:
        out: list[Job] = []
        for m in self.methods:
            out += jobs(m, self.N, self.n, self.p.seed, self.score_kind, main=True)
        return out

    def distance_jobs(self) -> list[Job]:
        """The current N first (its distances are the bars), then 2, 4, ... 128."""
        order = (self.N, *(s for s in self.dist_steps if s != self.N))
        out: list[Job] = []
        for s in order:
            for m in self.methods:
                out += jobs(m, s, self.n_dist, self.p.seed, self.score_kind, main=False)
        return out

    def do(self, job: Job) -> None:
        traj = sample(job.method, self.score, self.x_T[job.lo:job.hi], self.schedule,
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
            self.dist[key] = sliced_wasserstein(self.ends[key], self.ref, S.N_PROJ,
                                                self.p.seed)

    def finish_main(self) -> None:
        """End-mode colours: the target component each particle ends nearest to (E-step);
        the deterministic samplers' endpoint errors to a fine Heun solve (``end_error``)."""
        for m in self.methods:
            resp, _ = gmm.e_step(self.traj[m][-1], *self.mix.as_tuple())
            self.labels[m] = np.argmax(resp, axis=1).astype(np.int64)
        ode = [m for m in self.methods if m != "sde"]
        if ode:
            n = min(self.n, S.REF_N)
            fine = sample("heun", self.score, self.x_T[:n], self.schedule, S.REF_STEPS, 0)[-1]
            for m in ode:
                gap = np.linalg.norm(self.traj[m][-1][:n] - fine, axis=1)
                self.end_error[m] = float(gap.mean())

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
                path = sample(m, self.score, xs, self.schedule, self.N,
                              sub_seed(self.p.seed, 4))
            else:
                path = sample(m, self.score, x, self.schedule, self.N, 0)
            if not np.isfinite(path).all():
                raise LabError(f"The {LABEL[m]} path of the highlighted start diverged: raise "
                               "the number of steps.")
            self.highlight[m] = path

    def at_n(self) -> dict[str, float] | None:
        """The sliced W₂ of every sampler with the run's N steps, once all are measured."""
        if not all((m, self.N) in self.dist for m in self.methods):
            return None
        return {LABEL[m]: self.dist[(m, self.N)] for m in self.methods}
