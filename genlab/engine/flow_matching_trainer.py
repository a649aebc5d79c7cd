r"""Training a velocity net by conditional flow matching (torch).

The loss (Lipman et al. 2023, eq. 9 with :math:`\sigma_{min} = 0`; Tong et al. 2024, OT-CFM):

.. math:: L(\theta) = \mathbb E_{t\sim U[0,1],\,(x_0, x_1)\sim q}
          \big\lVert v_\theta(x_t, t) - (x_1 - x_0)\big\rVert^2,
          \qquad x_t = (1 - t)x_0 + t x_1,

with :math:`q` the coupling of ``genlab.engine.flow_matching.pair``: each minibatch of
source and target points as drawn (independent), or re-paired by exact optimal transport
within the batch ("ot").  The net is a ``genlab.engine.denoiser.Denoiser``: the same MLP on
x and sinusoidal features of t, read here as a velocity :math:`v_\theta(x, t)`.  The labs
import this module inside their run, never at import time (it imports torch).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from genlab.engine.denoiser import Denoiser
from genlab.engine.flow_matching import COUPLINGS, Coupling, conditional_path, pairing
from genlab.engine.optim import LiveLearningRate, applied, guarded_steps

Array = NDArray[np.float64]

__all__ = ["FlowMatchingTrainer"]


def _points(x: ArrayLike, name: str) -> torch.Tensor:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or len(a) == 0:
        raise ValueError(f"{name} must be a non-empty (n, 2) array, got shape {a.shape}")
    return torch.as_tensor(a, dtype=torch.float32)


class FlowMatchingTrainer(LiveLearningRate):
    """Adam on minibatches of the flow-matching loss.

    model: a :class:`~genlab.engine.denoiser.Denoiser` (already on its device) used as
    :math:`v_\\theta(x, t)`; x1: target points (n, 2); source: None for the standard normal
    :math:`x_0\\sim\\mathcal N(0, I)`, or source points (m, 2) to draw x0 from; coupling:
    "independent" or "ot" (minibatch OT pairing, squared Euclidean cost).  lr and batch_size
    can be changed between steps; seed fixes the batches, times and source noise (a CPU
    generator), so two trainers with the same seed and batch size see the same x0, x1 and t
    and differ only in how the batch is paired.  ``step(k)`` takes up to k steps and returns
    their losses; it stops at the first non-finite loss without applying that update.
    ``velocity(x, t)`` takes x (n, 2) and t (a float or (n,)) and returns (n, 2) float64: a
    ``flow_matching.VelocityFn`` for ``flow_matching.sample``.
    """

    def __init__(self, model: Denoiser, x1: ArrayLike, source: ArrayLike | None = None,
                 coupling: Coupling | str = "independent", lr: float = 2e-3,
                 batch_size: int = 256, seed: int = 0) -> None:
        if coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling {coupling!r}: valid couplings are "
                             f"{', '.join(COUPLINGS)}")
        self.model = model
        self.coupling = str(coupling)
        self.device = next(model.parameters()).device
        self.x1 = _points(x1, "x1")
        self.x0 = None if source is None else _points(source, "source")
        self.batch_size = int(batch_size)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.optimizer = torch.optim.Adam(model.parameters(), lr=float(lr))
        self.n_steps_ = 0

    def batch(self, b: int, generator: torch.Generator
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x0, x1, t) for b pairs, paired by the trainer's coupling, on the model's device:
        (b, 2), (b, 2), (b,)."""
        x1 = self.x1[torch.randint(0, self.x1.shape[0], (b,), generator=generator)]
        if self.x0 is None:
            x0 = torch.randn(b, 2, generator=generator)
        else:
            x0 = self.x0[torch.randint(0, self.x0.shape[0], (b,), generator=generator)]
        t = torch.rand(b, generator=generator)
        if self.coupling == "ot":
            perm = pairing(x0.numpy(), x1.numpy(), "ot")
            x1 = x1[torch.as_tensor(perm)]
        dev = self.device
        return x0.to(dev), x1.to(dev), t.to(dev)

    def _loss(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x_t, u_t = conditional_path(x0, x1, t)
        return ((self.model(x_t, t) - u_t) ** 2).sum(dim=1).mean()

    def step(self, k: int = 1) -> np.ndarray:
        """Up to k Adam steps; their batch losses (mean squared velocity error)."""
        b = max(1, self.batch_size)
        losses = guarded_steps(self.optimizer,
                               lambda: self._loss(*self.batch(b, self.generator)), k)
        self.n_steps_ += applied(losses)
        return losses

    def loss(self, n: int = 1024, seed: int = 12345) -> float:
        """The loss on n fixed (seeded) pairs and times, paired by the trainer's coupling: a
        steady curve to plot, unlike the noisy batch losses.  With "ot" the n pairs are one
        exact OT problem of size n (about 0.1 s at n = 1024, seconds at 4096)."""
        with torch.no_grad():
            return float(self._loss(*self.batch(int(n), torch.Generator().manual_seed(seed))))

    def velocity(self, x: ArrayLike, t: float | ArrayLike) -> Array:
        r""":math:`v_\theta(x, t)`, shape (n, 2) float64."""
        xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        ta = np.array(np.broadcast_to(np.asarray(t, dtype=np.float64), (len(xa),)))
        with torch.no_grad():
            out = self.model(torch.as_tensor(xa, dtype=torch.float32, device=self.device),
                             torch.as_tensor(ta, dtype=torch.float32, device=self.device))
        return out.cpu().numpy().astype(np.float64)
