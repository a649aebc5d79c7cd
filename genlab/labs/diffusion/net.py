"""The diffusion lab's denoiser: trained live, its loss and the exact score's loss (the floor)
on the same fixed draws, and the test that ends training once the loss has levelled off."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genlab.labs.base import LabError, sub_seed
from genlab.labs.diffusion import settings as S
from genlab.labs.diffusion.noised import NoisedData
from genlab.labs.diffusion.settings import Params
from genlab.labs.pacing import Plateau, ramp
from genlab.labs.plane import signed


def diverged(what: str, step: int, lr: float) -> LabError:
    return LabError(f"the denoiser diverged at step {step} ({what}): lower the learning rate "
                    f"(now {lr:.2g}) or use a larger batch.")


def check_finite(step: int, lr: float, *arrays: np.ndarray) -> None:
    for a in arrays:
        if not np.isfinite(a).all():
            raise diverged("the network's output is not finite", step, lr)


class LossDraws:
    """Fixed draws (x₀ ~ p₀, t, ε) of the ε-prediction loss, the mean over coordinates
    ½E‖ε_θ(x_t, t) − ε‖² (in 2D), and the exact ε* = −√v ∇log p_t's loss on them: its floor,
    since ε* = E[ε | x_t] minimises it.  In expectation
    ½E‖ε_θ − ε‖² = ½E‖ε* − ε‖² + ½E‖ε_θ − ε*‖² (the cross term vanishes because
    E[ε − ε* | x_t] = 0), so the loss's excess over the floor is ``gap``.  The times are the
    midpoints of LOSS_T equal bins of [T_MIN, 1] (the trainer draws t uniformly there), so
    the exact score is evaluated once per time."""

    def __init__(self, data: NoisedData, seed: int) -> None:
        sched = data.schedule
        self.ts = S.T_MIN + (1.0 - S.T_MIN) * (np.arange(S.LOSS_T) + 0.5) / S.LOSS_T
        x0 = data.sample_t(S.LOSS_T * S.LOSS_PER_T, 0.0, seed=sub_seed(seed, 51))
        self.eps = np.random.default_rng(sub_seed(seed, 52)).standard_normal(x0.shape)
        self.t = np.repeat(self.ts, S.LOSS_PER_T)
        a, v = (np.asarray(z, dtype=np.float64) for z in sched.marginal(self.t))
        self.x_t = a[:, None] * x0 + np.sqrt(v)[:, None] * self.eps
        exact = np.empty_like(self.x_t)
        for i, t in enumerate(self.ts):
            rows = slice(i * S.LOSS_PER_T, (i + 1) * S.LOSS_PER_T)
            v_t = float(sched.marginal(float(t))[1])
            exact[rows] = -math.sqrt(v_t) * data.score(self.x_t[rows], float(t))
        self.exact = exact
        self.floor = float(((exact - self.eps) ** 2).mean())

    def loss(self, trainer: Any) -> float:
        """½E‖ε_θ − ε‖² over the draws (the mean over the two coordinates)."""
        return self.loss_and_gap(trainer)[0]

    def loss_and_gap(self, trainer: Any) -> tuple[float, float]:
        """(½E‖ε_θ − ε‖², ½E‖ε_θ − ε*‖²) over the draws, both averaged over t."""
        eps = trainer.eps(self.x_t, self.t)
        return float(((eps - self.eps) ** 2).mean()), float(((eps - self.exact) ** 2).mean())


class Converged:
    """Whether the smoothed loss has levelled off (``pacing.Plateau``), never before
    MIN_STEPS; starts afresh when the learning rate, the batch or the steps per frame
    change (a new regime)."""

    def __init__(self, p: Params) -> None:
        self.reset(p)

    def reset(self, p: Params) -> None:
        self.regime = (p.lr, p.batch_size, p.steps_per_frame)
        self.window = max(S.FLAT_WINDOW, -(-S.FLAT_STEPS // p.steps_per_frame))
        self.plateau = Plateau(self.window, 0.0, S.FLAT_LOSS)
        self.smooth = math.nan
        self.at: list[int] = []

    def add(self, p: Params, loss: float, done: int) -> bool:
        if (p.lr, p.batch_size, p.steps_per_frame) != self.regime:
            self.reset(p)
        self.at = (self.at + [done])[-2 * self.window:]
        s = loss if math.isnan(self.smooth) else self.smooth + S.SMOOTH * (loss - self.smooth)
        self.smooth = s
        return self.plateau.add(s) and done >= S.MIN_STEPS

    def story(self) -> str:
        v = np.asarray(self.plateau.values)
        w = self.window
        mid = self.at[-w - 1] if len(self.at) > w else self.at[0]
        return (f"smoothed, it averaged {signed(v[:w].mean())} up to step {mid} and "
                f"{signed(v[w:].mean())} over the {self.at[-1] - mid} steps since, less than "
                f"{S.FLAT_LOSS:g} apart")


class Net:
    """The denoiser, its trainer, and the exponential moving average of its weights that the
    lab shows and samples with (as diffusion models do: the raw weights of a constant-rate
    Adam wander, and DDPM with them lands better or worse from one hundred steps to the
    next).  Torch is imported when the first one is made."""

    def __init__(self, data: NoisedData, p: Params, device: str, draws: LossDraws) -> None:
        from genlab.engine.denoiser import Denoiser, DenoiserTrainer

        model = Denoiser(hidden=p.hidden, depth=p.depth, seed=p.seed).to(device)
        # the engine's weight average (training.ema, updated after every step, with its
        # warm-up): eps, score and posterior mean are the averaged network's
        self.trainer = DenoiserTrainer(model, data.x0, data.schedule, lr=p.lr,
                                       batch_size=p.batch_size, seed=p.seed, t_min=S.T_MIN,
                                       ema=S.EMA_DECAY)
        self.draws = draws
        self.done = 0
        self.frames = 0  # frames that trained (the ramp counts them)
        self.converged = False
        self.watch = Converged(p)
        self.loss = self._measure(p)
        self.first_loss = self.loss

    def pending(self, p: Params) -> bool:
        return self.done < p.steps and not self.converged

    def _measure(self, p: Params) -> float:
        value, self.gap = self.draws.loss_and_gap(self.trainer)
        if not math.isfinite(value) or value > S.DIVERGED_LOSS:
            raise diverged(f"the ε-prediction loss reached {value:.3g}", self.done, p.lr)
        return value

    def train(self, p: Params) -> None:
        """Steps for the next frame: one at first, growing to steps_per_frame (pacing.ramp),
        never past ``p.steps``; then the average's loss on the fixed draws."""
        self.trainer.lr, self.trainer.batch_size = p.lr, p.batch_size
        k = min(ramp(self.frames, p.steps_per_frame, S.RAMP_FRAMES), p.steps - self.done)
        if k <= 0 or self.converged:
            return
        losses = self.trainer.step(k)
        n = int(np.isfinite(losses).sum())
        self.done += n
        self.frames += 1
        if not np.isfinite(losses).all():
            raise diverged("the ε-prediction loss became NaN or infinite", self.done, p.lr)
        self.loss = self._measure(p)
        self.converged = self.watch.add(p, self.loss, self.done)

    def status(self, p: Params) -> str:
        """How training stands, for captions."""
        if self.converged:
            return (f"Training ended at step {self.done}: the loss levelled off "
                    f"({self.watch.story()}).")
        if self.done >= p.steps:
            return f"Training used its {p.steps} steps."
        return f"The denoiser trains on: step {self.done} / {p.steps}."
