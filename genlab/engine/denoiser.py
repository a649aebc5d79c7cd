r"""A denoiser for 2D diffusion, trained with the ε-prediction loss (torch).

The network :math:`\hat\varepsilon_\theta(x_t, t)` predicts the noise that made
:math:`x_t = a(t)\,x_0 + \sqrt{v(t)}\,\varepsilon` from a data point :math:`x_0` (Ho et al. 2020,
eq. 14, in continuous time):

.. math:: L(\theta) = \mathbb E_{t\sim U[t_{min},1],\,x_0,\,\varepsilon}
          \,\tfrac12\lVert\hat\varepsilon_\theta(a(t)x_0+\sqrt{v(t)}\varepsilon,\,t)
          - \varepsilon\rVert^2

(reported per coordinate: the mean of the squared error over the batch and both coordinates).
Its minimiser is :math:`\hat\varepsilon = -\sqrt{v}\,\nabla\log p_t(x_t)`, so the trained net
gives the score :math:`s_\theta = -\hat\varepsilon_\theta/\sqrt{v}` the samplers of
``genlab.engine.diffusion`` take, and Tweedie's posterior mean
:math:`\mathbb E[x_0\mid x_t] = (x_t - \sqrt{v}\,\hat\varepsilon_\theta)/a`.

``a(t), v(t)`` come from a schedule of ``genlab.engine.diffusion`` (``marginal``), so the
same code trains for the VP (linear, cosine) and VE schedules.  The labs import this module
inside their run, never at import time (it imports torch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from genlab.engine.optim import LiveLearningRate

Array = NDArray[np.float64]

__all__ = ["Denoiser", "DenoiserTrainer", "time_embedding"]


def time_embedding(t: torch.Tensor, n_freq: int) -> torch.Tensor:
    r"""Sinusoidal features of t (n,) in [0, 1]: :math:`[\sin\omega_j t, \cos\omega_j t]_j`
    with :math:`\omega_j` log-spaced from 1 to 200 (so both the slow drift of the score over t
    and its fast change near t = 0 are easy to represent).  Shape (n, 2·n_freq)."""
    omega = torch.exp(torch.linspace(0.0, math.log(200.0), n_freq, device=t.device,
                                     dtype=t.dtype))
    arg = t[:, None] * omega[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class Denoiser(nn.Module):
    r""":math:`\hat\varepsilon_\theta(x, t)`: an MLP (SiLU) on the point x (n, 2) and the time
    embedding of t (n,), ``depth`` hidden layers of width ``hidden``; returns (n, 2).
    Weights are initialised from ``seed`` (a private CPU generator: the same on every device).
    """

    def __init__(self, hidden: int = 128, depth: int = 3, n_freq: int = 8,
                 seed: int = 0) -> None:
        super().__init__()
        if hidden < 1 or depth < 1 or n_freq < 1:
            raise ValueError("hidden, depth and n_freq must be >= 1")
        self.n_freq = int(n_freq)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            layers: list[nn.Module] = []
            width = 2 + 2 * self.n_freq
            for _ in range(int(depth)):
                layers += [nn.Linear(width, int(hidden)), nn.SiLU()]
                width = int(hidden)
            layers.append(nn.Linear(width, 2))
            self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, time_embedding(t, self.n_freq)], dim=1))


def _schedule_terms(schedule: Any, t: ArrayLike) -> tuple[Array, Array]:
    """a(t), v(t) as float64 arrays of t's shape."""
    a, v = schedule.marginal(np.asarray(t, dtype=np.float64))
    return np.asarray(a, dtype=np.float64), np.asarray(v, dtype=np.float64)


class DenoiserTrainer(LiveLearningRate):
    """Adam on minibatches of the ε-prediction loss.

    model: a :class:`Denoiser` (already on its device); x0: the training points (n, 2);
    schedule: a ``diffusion.VPSchedule`` or ``VESchedule``; lr and batch_size can be changed
    between steps; seed fixes the batches, times and noise (a CPU generator).  Times are drawn
    uniformly in [t_min, 1].  ``step(k)`` takes up to k steps and returns their losses; it
    stops at the first non-finite loss without applying that update.

    The numpy helpers ``eps``, ``score`` and ``posterior_mean`` take x (n, 2) and t (a float
    or (n,)) and return (n, 2) float64; ``score`` is a ``diffusion.ScoreFn``.
    """

    def __init__(self, model: Denoiser, x0: ArrayLike, schedule: Any, lr: float = 2e-3,
                 batch_size: int = 256, seed: int = 0, t_min: float = 1e-3) -> None:
        x = np.asarray(x0, dtype=np.float64).reshape(-1, 2)
        if len(x) == 0:
            raise ValueError("the denoiser needs at least one training point")
        self.model = model
        self.schedule = schedule
        self.t_min = float(t_min)
        self.device = next(model.parameters()).device
        self.x0 = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        self.batch_size = int(batch_size)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.optimizer = torch.optim.Adam(model.parameters(), lr=float(lr))
        self.n_steps_ = 0

    def _batch(self, b: int, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_t, t, eps) for b random training points, times and noises."""
        idx = torch.randint(0, self.x0.shape[0], (b,), generator=generator)
        t = self.t_min + (1.0 - self.t_min) * torch.rand(b, generator=generator,
                                                         dtype=torch.float64)
        eps = torch.randn(b, 2, generator=generator)
        a, v = _schedule_terms(self.schedule, t.numpy())
        at = torch.as_tensor(a, dtype=torch.float32)[:, None]
        sv = torch.as_tensor(np.sqrt(v), dtype=torch.float32)[:, None]
        dev = self.device
        x_t = at.to(dev) * self.x0[idx.to(dev)] + sv.to(dev) * eps.to(dev)
        return x_t, t.to(dev, torch.float32), eps.to(dev)

    def step(self, k: int = 1) -> np.ndarray:
        """Up to k Adam steps; their batch losses (mean squared error per coordinate)."""
        b = max(1, self.batch_size)
        losses = []
        for _ in range(int(k)):
            x_t, t, eps = self._batch(b, self.generator)
            loss = ((self.model(x_t, t) - eps) ** 2).mean()
            value = float(loss.detach())
            losses.append(value)
            if not math.isfinite(value):
                break
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.n_steps_ += 1
        return np.array(losses)

    def loss(self, n: int = 4096, seed: int = 12345) -> float:
        """The loss on n fixed (seeded) draws of point, time and noise: a steady curve to
        plot, unlike the noisy batch losses."""
        with torch.no_grad():
            x_t, t, eps = self._batch(int(n), torch.Generator().manual_seed(int(seed)))
            return float(((self.model(x_t, t) - eps) ** 2).mean())

    def eps(self, x: ArrayLike, t: float | ArrayLike) -> Array:
        r""":math:`\hat\varepsilon_\theta(x, t)`, shape (n, 2)."""
        xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        ta = np.array(np.broadcast_to(np.asarray(t, dtype=np.float64), (len(xa),)))
        with torch.no_grad():
            out = self.model(torch.as_tensor(xa, dtype=torch.float32, device=self.device),
                             torch.as_tensor(ta, dtype=torch.float32, device=self.device))
        return out.cpu().numpy().astype(np.float64)

    def score(self, x: ArrayLike, t: float | ArrayLike) -> Array:
        r"""The learned score :math:`-\hat\varepsilon_\theta(x, t)/\sqrt{v(t)}`, (n, 2)."""
        _, v = _schedule_terms(self.schedule, t)
        sv = np.sqrt(v)
        return -self.eps(x, t) / (sv[:, None] if sv.ndim else sv)

    def posterior_mean(self, x: ArrayLike, t: float | ArrayLike) -> Array:
        r"""Tweedie's :math:`\mathbb E[x_0\mid x_t] = (x_t - \sqrt{v}\,\hat\varepsilon)/a`,
        (n, 2)."""
        xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        a, v = _schedule_terms(self.schedule, t)
        if np.ndim(a):
            a, v = a[:, None], v[:, None]
        return (xa - np.sqrt(v) * self.eps(xa, t)) / a
