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

Class conditioning (classifier-free guidance, Ho & Salimans 2022): with ``n_classes = C > 0``
the net also takes a label :math:`y \in \{0..C-1\}` or the *null* label :math:`\varnothing = C`
(learned embedding concatenated to the input), and training replaces each point's label by
:math:`\varnothing` with probability ``p_uncond`` (label dropout), so one net learns both
:math:`\hat\varepsilon(x, t, y) \approx -\sqrt v\,\nabla\log p_t(x\mid y)` and
:math:`\hat\varepsilon(x, t, \varnothing) \approx -\sqrt v\,\nabla\log p_t(x)`.  The guided
prediction (Ho & Salimans 2022, eq. 6, with their :math:`1 + w` written :math:`w` here)

.. math:: \hat\varepsilon_w(x, t, y) = \hat\varepsilon(x, t, \varnothing)
          + w\,[\hat\varepsilon(x, t, y) - \hat\varepsilon(x, t, \varnothing)]

is the unconditional model at w = 0 and the conditional one at w = 1; its score is that of
:math:`p_t(x)\,p_t(y\mid x)^w`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from genlab.engine.optim import LiveLearningRate, applied, guarded_steps

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


#: Width of the class embedding a conditional :class:`Denoiser` concatenates to its input.
CLASS_EMBEDDING = 8


class Denoiser(nn.Module):
    r""":math:`\hat\varepsilon_\theta(x, t)`: an MLP (SiLU) on the point x (n, 2) and the time
    embedding of t (n,), ``depth`` hidden layers of width ``hidden``; returns (n, 2).
    Weights are initialised from ``seed`` (a private CPU generator: the same on every device).

    ``n_classes = C > 0`` makes it :math:`\hat\varepsilon_\theta(x, t, y)`: a learned
    embedding (``CLASS_EMBEDDING`` wide) of the label y (n,) in {0..C−1}, or of the null label
    ``null_label = C`` ("no class"), is concatenated to the input.  ``forward(x, t, y=None)``:
    y None means the null label (the only option when C = 0).  With C = 0 the net, and its
    weights for a seed, are exactly those of the unconditional denoiser.
    """

    def __init__(self, hidden: int = 128, depth: int = 3, n_freq: int = 8,
                 seed: int = 0, n_classes: int = 0) -> None:
        super().__init__()
        if hidden < 1 or depth < 1 or n_freq < 1:
            raise ValueError("hidden, depth and n_freq must be >= 1")
        if n_classes < 0:
            raise ValueError("n_classes must be >= 0")
        self.n_freq = int(n_freq)
        self.n_classes = int(n_classes)
        self.null_label = self.n_classes
        emb = CLASS_EMBEDDING if self.n_classes else 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            layers: list[nn.Module] = []
            width = 2 + 2 * self.n_freq + emb
            for _ in range(int(depth)):
                layers += [nn.Linear(width, int(hidden)), nn.SiLU()]
                width = int(hidden)
            layers.append(nn.Linear(width, 2))
            self.net = nn.Sequential(*layers)
            # made after the MLP, so the MLP's draws from the seed do not depend on it
            self.label_embedding = (nn.Embedding(self.n_classes + 1, emb)
                                    if self.n_classes else None)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        parts = [x, time_embedding(t, self.n_freq)]
        if self.label_embedding is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.null_label, dtype=torch.long,
                               device=x.device)
            parts.append(self.label_embedding(y))
        elif y is not None:
            raise ValueError("this denoiser is unconditional (n_classes = 0): y must be None")
        return self.net(torch.cat(parts, dim=1))


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

    Class conditioning: ``labels`` (n,) ints in {0..C−1} for a model with ``n_classes = C``;
    each batch point carries its label, replaced by the null label with probability
    ``p_uncond`` (label dropout, Ho & Salimans 2022, Alg. 1), settable between steps.  Without
    labels (the model must then be unconditional) everything is as before, batch for batch.

    The numpy helpers ``eps``, ``score`` and ``posterior_mean`` take x (n, 2), t (a float
    or (n,)) and an optional label y (an int or (n,) ints; None: the null label, i.e. the
    unconditional model) and return (n, 2) float64; ``score`` is a ``diffusion.ScoreFn``.
    ``guided_eps`` / ``guided_score`` give the classifier-free guided prediction.

    ``ema`` > 0 keeps an exponential moving average of the weights (the engine's
    ``training.ema``, with its warm-up) and the helpers above use it: a net trained at a
    constant learning rate keeps jittering around a minimum, and its average does not (on
    2D data the sampled distance to the data grew with longer training without it).  With
    ``ema = 0`` the helpers use the trained weights themselves.
    """

    def __init__(self, model: Denoiser, x0: ArrayLike, schedule: Any, lr: float = 2e-3,
                 batch_size: int = 256, seed: int = 0, t_min: float = 1e-3,
                 labels: ArrayLike | None = None, p_uncond: float = 0.1,
                 ema: float = 0.0) -> None:
        x = np.asarray(x0, dtype=np.float64).reshape(-1, 2)
        if len(x) == 0:
            raise ValueError("the denoiser needs at least one training point")
        self.model = model
        self.schedule = schedule
        self.t_min = float(t_min)
        self.device = next(model.parameters()).device
        self.x0 = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        self.labels: torch.Tensor | None = None
        n_classes = int(getattr(model, "n_classes", 0))
        if labels is not None:
            lab = np.asarray(labels).reshape(-1)
            if lab.shape != (len(x),):
                raise ValueError(f"labels must be ({len(x)},), got {lab.shape}")
            if n_classes == 0:
                raise ValueError("labels need a conditional Denoiser (n_classes > 0)")
            if lab.size and (lab.min() < 0 or lab.max() >= n_classes
                             or not np.array_equal(lab, np.round(lab))):
                raise ValueError(f"labels must be whole numbers in 0..{n_classes - 1}")
            self.labels = torch.as_tensor(lab.astype(np.int64), device=self.device)
        self.p_uncond = p_uncond
        self.batch_size = int(batch_size)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.optimizer = torch.optim.Adam(model.parameters(), lr=float(lr))
        self.n_steps_ = 0
        self.ema_ = None
        if ema > 0:
            from genlab.engine.training.ema import ema_model

            self.ema_ = ema_model(model, float(ema))

    @property
    def net(self) -> Denoiser:
        """The weights that predict: the moving average when there is one."""
        return self.model if self.ema_ is None else self.ema_.module  # type: ignore[return-value]

    @property
    def p_uncond(self) -> float:
        """Probability that a training label is replaced by the null label (label dropout)."""
        return self._p_uncond

    @p_uncond.setter
    def p_uncond(self, value: float) -> None:
        v = float(value)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"p_uncond must be in [0, 1], got {v}")
        self._p_uncond = v

    @property
    def null_label(self) -> int:
        return int(getattr(self.model, "null_label", 0))

    def _batch(self, b: int, generator: torch.Generator, p_uncond: float | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(x_t, t, eps, y) for b random training points, times, noises and (with labels)
        their labels after dropout (y None without labels)."""
        idx = torch.randint(0, self.x0.shape[0], (b,), generator=generator)
        t = self.t_min + (1.0 - self.t_min) * torch.rand(b, generator=generator,
                                                         dtype=torch.float64)
        eps = torch.randn(b, 2, generator=generator)
        a, v = _schedule_terms(self.schedule, t.numpy())
        at = torch.as_tensor(a, dtype=torch.float32)[:, None]
        sv = torch.as_tensor(np.sqrt(v), dtype=torch.float32)[:, None]
        dev = self.device
        x_t = at.to(dev) * self.x0[idx.to(dev)] + sv.to(dev) * eps.to(dev)
        y = None
        if self.labels is not None:
            # drawn after the rest, so the unconditional batches keep their stream
            drop = torch.rand(b, generator=generator) < (
                self.p_uncond if p_uncond is None else float(p_uncond))
            y = torch.where(drop.to(dev), torch.full_like(idx, self.null_label).to(dev),
                            self.labels[idx.to(dev)])
        return x_t, t.to(dev, torch.float32), eps.to(dev), y

    def step(self, k: int = 1) -> np.ndarray:
        """Up to k Adam steps; their batch losses (mean squared error per coordinate)."""
        b = max(1, self.batch_size)

        def batch_loss() -> torch.Tensor:
            x_t, t, eps, y = self._batch(b, self.generator)
            out = self.model(x_t, t) if y is None else self.model(x_t, t, y)
            return ((out - eps) ** 2).mean()

        update = None if self.ema_ is None else (lambda: self.ema_.update_parameters(self.model))
        losses = guarded_steps(self.optimizer, batch_loss, k, after=update)
        self.n_steps_ += applied(losses)
        return losses

    def loss(self, n: int = 4096, seed: int = 12345, p_uncond: float | None = None) -> float:
        """The loss on n fixed (seeded) draws of point, time and noise: a steady curve to
        plot, unlike the noisy batch losses.  With labels, ``p_uncond`` (default: the
        trainer's) is the share of null labels in the draws: 0 measures the conditional
        model alone, 1 the unconditional one."""
        with torch.no_grad():
            x_t, t, eps, y = self._batch(int(n), torch.Generator().manual_seed(int(seed)),
                                         p_uncond)
            net = self.net
            out = net(x_t, t) if y is None else net(x_t, t, y)
            return float(((out - eps) ** 2).mean())

    def _labels(self, y: int | ArrayLike | None, n: int) -> torch.Tensor | None:
        """y as a (n,) long tensor on the device (None stays None: the null label)."""
        if y is None:
            return None
        ya = np.broadcast_to(np.asarray(y, dtype=np.int64), (n,))
        n_classes = int(getattr(self.model, "n_classes", 0))
        if n_classes == 0:
            raise ValueError("this denoiser is unconditional: y must be None")
        if ya.size and (ya.min() < 0 or ya.max() > n_classes):
            raise ValueError(f"labels must be in 0..{n_classes} ({n_classes} = null)")
        return torch.as_tensor(np.array(ya), device=self.device)

    def _inputs(self, x: ArrayLike, t: float | ArrayLike
                ) -> tuple[torch.Tensor, torch.Tensor]:
        xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        ta = np.array(np.broadcast_to(np.asarray(t, dtype=np.float64), (len(xa),)))
        return (torch.as_tensor(xa, dtype=torch.float32, device=self.device),
                torch.as_tensor(ta, dtype=torch.float32, device=self.device))

    def eps(self, x: ArrayLike, t: float | ArrayLike,
            y: int | ArrayLike | None = None) -> Array:
        r""":math:`\hat\varepsilon_\theta(x, t, y)`, shape (n, 2); y None: the null label."""
        xt, tt = self._inputs(x, t)
        yt = self._labels(y, xt.shape[0])
        net = self.net
        with torch.no_grad():
            out = net(xt, tt) if yt is None else net(xt, tt, yt)
        return out.cpu().numpy().astype(np.float64)

    def guided_eps(self, x: ArrayLike, t: float | ArrayLike, y: int | ArrayLike,
                   w: float) -> Array:
        r"""Classifier-free guidance :math:`\hat\varepsilon(x,t,\varnothing) + w\,
        [\hat\varepsilon(x,t,y) - \hat\varepsilon(x,t,\varnothing)]`, (n, 2): w = 0 the
        unconditional model, w = 1 the conditional one.  Both predictions come from one
        forward pass on the stacked batch [x; x] with labels [∅; y]."""
        xt, tt = self._inputs(x, t)
        n = xt.shape[0]
        yt = self._labels(y, n)
        assert yt is not None
        null = torch.full_like(yt, self.null_label)
        with torch.no_grad():
            out = self.net(torch.cat([xt, xt]), torch.cat([tt, tt]), torch.cat([null, yt]))
        both = out.cpu().numpy().astype(np.float64)
        uncond, cond = both[:n], both[n:]
        return uncond + float(w) * (cond - uncond)

    def _over_sqrt_v(self, eps: Array, t: float | ArrayLike) -> Array:
        _, v = _schedule_terms(self.schedule, t)
        sv = np.sqrt(v)
        return -eps / (sv[:, None] if sv.ndim else sv)

    def score(self, x: ArrayLike, t: float | ArrayLike,
              y: int | ArrayLike | None = None) -> Array:
        r"""The learned score :math:`-\hat\varepsilon_\theta(x, t, y)/\sqrt{v(t)}`, (n, 2)."""
        return self._over_sqrt_v(self.eps(x, t, y), t)

    def guided_score(self, x: ArrayLike, t: float | ArrayLike, y: int | ArrayLike,
                     w: float) -> Array:
        r"""The guided score :math:`-\hat\varepsilon_w/\sqrt v = s(x,t,\varnothing) +
        w\,[s(x,t,y) - s(x,t,\varnothing)]`, (n, 2) (see :meth:`guided_eps`)."""
        return self._over_sqrt_v(self.guided_eps(x, t, y, w), t)

    def posterior_mean(self, x: ArrayLike, t: float | ArrayLike,
                       y: int | ArrayLike | None = None) -> Array:
        r"""Tweedie's :math:`\mathbb E[x_0\mid x_t, y] = (x_t - \sqrt{v}\,\hat\varepsilon)/a`,
        (n, 2)."""
        xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        a, v = _schedule_terms(self.schedule, t)
        if np.ndim(a):
            a, v = a[:, None], v[:, None]
        return (xa - np.sqrt(v) * self.eps(xa, t, y)) / a
