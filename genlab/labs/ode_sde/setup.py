"""The target, the shared noise, the samplers' jobs and the kept denoiser."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from genlab.engine import diffusion as dif
from genlab.engine.mixtures import GALLERY_MIXTURES, Mixture, fit_mixture, gallery_mixture
from genlab.labs.base import LabError, RunContext, sub_seed
from genlab.labs.data import lab_data
from genlab.labs.ode_sde import settings as S
from genlab.labs.ode_sde.settings import Params


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
    return rng.standard_normal((max(p.n_particles, S.DIST_N), 2))


def target_mixture(p: Params, ctx: RunContext) -> tuple[Mixture, str]:
    """The mixture the lab samples from, and a short description (LabError without data)."""
    if p.dataset in GALLERY_MIXTURES:
        return gallery_mixture(p.dataset, p.noise), f"the {p.dataset} mixture"
    x, _ = lab_data(p.dataset, S.N_FIT, p.noise, p.seed, ctx)
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    distinct = len(np.unique(x, axis=0))
    if distinct < S.MIN_DRAWN:
        raise LabError(f"The data hold {distinct} distinct points; a mixture needs at least "
                       f"{S.MIN_DRAWN}. Draw more points or choose a gallery set.")
    mix = fit_mixture(x, p.n_components, seed=p.seed)
    src = "the drawn points" if p.dataset == "drawn" else p.dataset
    return mix, f"{mix.n_components} Gaussians fitted to {src}"


def sample(method: str, score: dif.ScoreFn, x: np.ndarray, schedule: dif.VPSchedule,
           n_steps: int, seed: int) -> np.ndarray:
    """One sampler's trajectory (n_steps + 1, n, 2) from x (n, 2)."""
    if method in ("euler", "heun"):
        return dif.pf_ode_sample(score, x, schedule, n_steps, method, S.T_MIN)
    if method == "sde":
        return dif.reverse_sde_sample(score, x, schedule, n_steps, seed, S.T_MIN)
    return dif.ddim_sample(score, x, schedule, n_steps, S.T_MIN)


@dataclass(frozen=True)
class Job:
    """Integrate ``method`` with ``n_steps`` steps for the rows [lo, hi) of x_T."""

    method: str
    n_steps: int
    lo: int
    hi: int
    seed: int
    main: bool  # the shown trajectories (kept whole) or a distance run (final rows only)

    def cost(self, score_kind: str) -> float:
        per_call, per_point = S.COST[score_kind]
        calls = S.CALLS[self.method] * self.n_steps
        return calls * (per_call + (self.hi - self.lo) * per_point) + (
            0.0 if self.main else S.DISTANCE_MS)


def jobs(method: str, n_steps: int, n: int, seed: int, score_kind: str,
         main: bool) -> list[Job]:
    """Chunks of rows small enough that each chunk's estimated cost fits in a frame."""
    per_call, per_point = S.COST[score_kind]
    calls = S.CALLS[method] * n_steps
    room = S.FRAME_BUDGET_MS - (0.0 if main else S.DISTANCE_MS)
    chunk = max(32, int((room / calls - per_call) / per_point))
    parts = max(1, math.ceil(n / chunk))
    bounds = np.linspace(0, n, parts + 1).astype(int)
    tag = 0 if main else 1
    return [Job(method, n_steps, int(lo), int(hi), sub_seed(seed, tag, n_steps, i), main)
            for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]


class Queue:
    """Jobs in order, handed out a frame's budget at a time (at least one job)."""

    def __init__(self, todo: list[Job], score_kind: str) -> None:
        self.todo = deque(todo)
        self.kind = score_kind

    def __len__(self) -> int:
        return len(self.todo)

    def take(self, budget_ms: float) -> list[Job]:
        out: list[Job] = []
        used = 0.0
        while self.todo:
            c = self.todo[0].cost(self.kind)
            if out and used + c > budget_ms:
                break
            out.append(self.todo.popleft())
            used += c
        return out

    def frames_left(self, budget_ms: float = S.FRAME_BUDGET_MS) -> int:
        """Frames the rest takes at ``budget_ms`` per frame (an estimate for ``total``)."""
        total = sum(j.cost(self.kind) for j in self.todo)
        return math.ceil(total / budget_ms) if self.todo else 0


# ------------------------------------------------------------------------------ the denoiser

def cache_key(p: Params, mix: Mixture, device: str) -> str:
    """The key of a trained denoiser in the engine's store: everything that determines it."""
    from genlab.engine.training.store import model_key

    return model_key("ode-sde", *mix.as_tuple(), p.schedule, p.train_steps, p.lr, p.seed,
                     device)
