r"""An energy-based model (EBM) on the plane, trained by contrastive divergence with persistent
Langevin chains (torch).

The model is a density :math:`p_\theta(x) = e^{-E_\theta(x)} / Z_\theta` with an MLP energy
:math:`E_\theta`.  The gradient of the negative log-likelihood is

.. math:: \nabla_\theta\bigl(-\log p_\theta(x)\bigr)
          = \nabla_\theta E_\theta(x) - \mathbb E_{\tilde x\sim p_\theta}\nabla_\theta
          E_\theta(\tilde x),

so one lowers the energy on data and raises it on samples of the model.  Following Du &
Mordatch (2019, "Implicit generation and generalization in energy-based models", eq. 2 and
§3.3) the loss on a batch of data :math:`x^+` and model samples :math:`x^-` (held fixed, no
gradient through the sampler) is

.. math:: L(\theta) = \overline{E_\theta(x^+)} - \overline{E_\theta(x^-)}
          + \alpha\,\bigl(\overline{E_\theta(x^+)^2} + \overline{E_\theta(x^-)^2}\bigr),

(bars: batch means) where the :math:`\alpha` term keeps the energies near 0 (the loss is
invariant to a constant shift of :math:`E` otherwise, and the energies would drift).

Samples come from unadjusted Langevin dynamics on :math:`\log p_\theta = -E_\theta`,

.. math:: x \leftarrow x - \eta\,\nabla_x E_\theta(x) + \sqrt{2\eta}\,\xi,
          \qquad \xi\sim\mathcal N(0, I),

run for K steps per training step from a persistent replay buffer (Tieleman 2008; Du &
Mordatch's buffer), a small fraction of which is re-initialised from uniform noise over a box
each step so that new modes can still be found.  Chains are clamped to the box: an energy
that is still flat outside the data would otherwise let them drift off for ever.

The labs import this module inside their run, never at import time (it imports torch).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from genlab.engine.optim import LiveLearningRate

Array = NDArray[np.float64]

__all__ = ["EBMTrainer", "EnergyMLP", "contrastive_loss", "langevin_energy"]

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


class EnergyMLP(nn.Module):
    r""":math:`E_\theta(x)`: an MLP (SiLU) from points (n, 2) to energies (n,).

    ``depth`` hidden layers of width ``hidden``; the weights are drawn from ``seed`` with a
    private CPU generator, so they are the same on every device.
    """

    def __init__(self, hidden: int = 64, depth: int = 3, seed: int = 0,
                 base_std: float | None = None) -> None:
        super().__init__()
        self.base_precision = 0.0 if base_std is None else 1.0 / float(base_std) ** 2
        if hidden < 1 or depth < 1:
            raise ValueError("hidden and depth must be >= 1")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            layers: list[nn.Module] = []
            width = 2
            for _ in range(int(depth)):
                layers += [nn.Linear(width, int(hidden)), nn.SiLU()]
                width = int(hidden)
            layers.append(nn.Linear(width, 1))
            self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.net(x)[:, 0]
        if self.base_precision:
            e = e + 0.5 * self.base_precision * (x * x).sum(dim=1)
        return e


def contrastive_loss(energy: EnergyFn, x_data: torch.Tensor, x_samples: torch.Tensor,
                     alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Du & Mordatch's loss :math:`\overline{E(x^+)} - \overline{E(x^-)} + \alpha(\overline{
    E(x^+)^2} + \overline{E(x^-)^2})`.

    x_data: (n, 2) data :math:`x^+`; x_samples: (m, 2) model samples :math:`x^-` (detached
    here: the sampler is not differentiated).  Returns (loss, mean energy on the data, mean
    energy on the samples), the last two detached.
    """
    e_pos = energy(x_data)
    e_neg = energy(x_samples.detach())
    loss = e_pos.mean() - e_neg.mean() + alpha * ((e_pos**2).mean() + (e_neg**2).mean())
    return loss, e_pos.mean().detach(), e_neg.mean().detach()


def langevin_energy(energy: EnergyFn, x: torch.Tensor, step: float, n_steps: int,
                    generator: torch.Generator | None = None,
                    box: tuple[float, float] | None = None) -> torch.Tensor:
    r"""``n_steps`` ULA steps on :math:`\log p = -E`: :math:`x \leftarrow x - \eta\nabla_x E(x)
    + \sqrt{2\eta}\,\xi`.

    x: (n, d) starting points (not modified); step: :math:`\eta > 0`; generator: the source
    of the noise :math:`\xi` (on x's device); box: (lo, hi) every coordinate is clamped to
    after each step (None: no clamp).  Returns the final points (n, d), detached.
    :math:`\nabla_x E` comes from autograd (the sum of the energies' gradient, each point's
    energy depending on that point only).
    """
    eta = float(step)
    noise = float(np.sqrt(2.0 * eta))
    x = x.detach().clone()
    for _ in range(int(n_steps)):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
        xi = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x = (x.detach() - eta * grad + noise * xi)
        if box is not None:
            x = x.clamp(box[0], box[1])
    return x.detach()


class EBMTrainer(LiveLearningRate):
    r"""Trains an :class:`EnergyMLP` on data x (n, 2) with :func:`contrastive_loss`, negatives
    from a persistent buffer of Langevin chains (:func:`langevin_energy`).

    One :meth:`step`: draw ``batch_size`` data points and ``batch_size`` buffer chains,
    re-initialise a fraction ``reinit`` of those chains uniformly in the box, move them by
    ``k_steps`` Langevin steps of size ``step_size``, write them back, then one Adam step on
    the loss.  ``lr``, ``batch_size``, ``step_size``, ``k_steps``, ``alpha`` and ``reinit``
    may change between steps (live).  ``box`` (lo, hi) bounds every coordinate of the chains
    (and of the uniform re-initialisation).  Deterministic for ``seed`` on the CPU (float32).

    Attributes after steps: ``n_steps_``; ``chains`` (buffer, 2) numpy; ``history_``: a list
    of (loss, mean E on data, mean E on samples) per step.
    """

    def __init__(self, x: ArrayLike, hidden: int = 64, depth: int = 3, lr: float = 1e-3,
                 batch_size: int = 256, step_size: float = 0.01, k_steps: int = 20,
                 alpha: float = 0.1, reinit: float = 0.05, buffer: int = 2000,
                 box: tuple[float, float] = (-3.0, 3.0), base_std: float | None = 2.0,
                 seed: int = 0,
                 device: str = "cpu") -> None:
        from genlab.engine.device import resolve

        self.device = torch.device(resolve(device))
        self.dtype = torch.float32
        xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        if len(xa) == 0:
            raise ValueError("EBMTrainer needs at least one data point")
        self.x = torch.as_tensor(xa, dtype=self.dtype, device=self.device)
        self.model = EnergyMLP(hidden, depth, seed, base_std).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(lr),
                                          betas=(0.0, 0.999))
        self.batch_size = int(batch_size)
        self.step_size = float(step_size)
        self.k_steps = int(k_steps)
        self.alpha = float(alpha)
        self.reinit = float(reinit)
        self.box = (float(box[0]), float(box[1]))
        # torch's CPU generator drives index draws (device independent); noise uses one on
        # the model's device so chains stay there
        self._gen_cpu = torch.Generator().manual_seed(int(seed))
        self._gen_dev = torch.Generator(device=self.device).manual_seed(int(seed) + 1)
        self._buffer = self._uniform(int(buffer))
        self.n_steps_ = 0
        self.history_: list[tuple[float, float, float]] = []

    def _uniform(self, n: int) -> torch.Tensor:
        lo, hi = self.box
        u = torch.rand((n, 2), generator=self._gen_cpu, dtype=self.dtype)
        return (lo + (hi - lo) * u).to(self.device)

    def step(self, n: int = 1) -> Array:
        """n training steps; returns their losses (n,)."""
        losses = np.empty(int(n))
        n_data, n_buf = len(self.x), len(self._buffer)
        for i in range(int(n)):
            b = self.batch_size
            idx_d = torch.randint(n_data, (b,), generator=self._gen_cpu).to(self.device)
            # distinct chains, so that writing them back loses none
            m = min(b, n_buf)
            idx_b = torch.randperm(n_buf, generator=self._gen_cpu)[:m].to(self.device)
            start = self._buffer[idx_b]
            fresh = torch.rand(m, generator=self._gen_cpu).to(self.device) < self.reinit
            start = torch.where(fresh[:, None], self._uniform(m), start)
            neg = langevin_energy(self.model, start, self.step_size, self.k_steps,
                                  self._gen_dev, self.box)
            self._buffer[idx_b] = neg
            loss, e_pos, e_neg = contrastive_loss(self.model, self.x[idx_d], neg, self.alpha)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses[i] = float(loss.detach())
            self.history_.append((losses[i], float(e_pos), float(e_neg)))
            self.n_steps_ += 1
        return losses

    @property
    def chains(self) -> Array:
        """The persistent chains (buffer, 2), as numpy."""
        return self._buffer.detach().cpu().numpy().astype(np.float64)

    def energy(self, x: ArrayLike) -> Array:
        """E_θ(x) (n,) for points x (n, 2), as numpy (no gradient)."""
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1, 2), dtype=self.dtype,
                             device=self.device)
        with torch.no_grad():
            return self.model(xt).cpu().numpy().astype(np.float64)
