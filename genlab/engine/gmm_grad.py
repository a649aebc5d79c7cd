r"""Fitting the same 2D Gaussian mixture as :mod:`genlab.engine.gmm` by gradient ascent.

Instead of EM's closed-form M-step, the mean log-likelihood

.. math:: \ell(\theta) = \frac1N\sum_{i=1}^N \log\sum_{k=1}^K \pi_k\,
          \mathcal N(x_i \mid \mu_k, \Sigma_k)

is maximised with Adam (Kingma & Ba 2015) on an unconstrained parametrisation:

* weights :math:`\pi = \operatorname{softmax}(a)` from logits :math:`a` (K,);
* means :math:`\mu_k` (K, 2) as they are;
* covariances :math:`\Sigma_k = L_k L_k^\top + \varepsilon I` with :math:`L_k` lower triangular,
  its diagonal :math:`\exp(s_k)` (always positive) and its off-diagonal entry free.  The
  :math:`\varepsilon I` term (``reg_covar``) keeps a component from collapsing to a singular
  covariance, as in EM.

torch is imported inside the class, never at module import, so that the app starts fast.
Computations use float64 (float32 on Apple's "mps", which has no float64).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from genlab.engine.gmm import GMMState
from genlab.engine.optim import LiveLearningRate

__all__ = ["GradientGMM"]

_LOG_2PI = math.log(2.0 * math.pi)


def _initial_cholesky(covariances: np.ndarray, reg_covar: float) -> np.ndarray:
    """Lower Cholesky factors L (K, 2, 2) with L L^T + reg I equal to the given covariances
    (as nearly as possible: the part left after removing reg I is clipped to be positive
    definite)."""
    out = np.empty_like(covariances)
    for k, c in enumerate(covariances):
        c = 0.5 * (c + c.T) - reg_covar * np.eye(2)
        vals, vecs = np.linalg.eigh(c)
        floor = max(1e-12, 1e-9 * float(np.abs(vals).max()))
        vals = np.maximum(vals, floor)
        out[k] = np.linalg.cholesky((vecs * vals) @ vecs.T)
    return out


class GradientGMM(LiveLearningRate):
    """A Gaussian mixture fitted by full-batch Adam on the mean log-likelihood.

    x: (n, 2) data; weights (K,), means (K, 2), covariances (K, 2, 2): the starting point
    (e.g. the same :func:`genlab.engine.gmm.initial_state` EM starts from); lr: Adam's step
    size (``lr`` can be changed between steps, the optimizer follows); reg_covar: the
    :math:`\\varepsilon` added to every covariance's diagonal; seed: seeds torch's generator
    (the full-batch objective itself is deterministic); device: "cpu", "cuda", "mps" or
    "auto" (the best one present, see :func:`genlab.engine.device.resolve`).

    ``step(n)`` takes n Adam steps and returns the new :class:`GMMState`; ``state()`` returns
    the current one; ``n_steps_`` counts the steps taken.
    """

    def __init__(self, x: ArrayLike, weights: ArrayLike, means: ArrayLike,
                 covariances: ArrayLike, lr: float = 0.05, seed: int = 0,
                 device: str = "cpu", reg_covar: float = 1e-6) -> None:
        import torch

        from genlab.engine.device import resolve

        self._torch = torch
        self.device = torch.device(resolve(device))
        self.dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self.reg_covar = float(reg_covar)
        self.seed = int(seed)
        self.generator = torch.Generator(device="cpu").manual_seed(self.seed)
        w = np.asarray(weights, dtype=np.float64).ravel()
        m = np.asarray(means, dtype=np.float64).reshape(-1, 2)
        c = np.asarray(covariances, dtype=np.float64).reshape(-1, 2, 2)
        if not (w.shape[0] == m.shape[0] == c.shape[0]):
            raise ValueError("weights, means and covariances disagree on K")
        chol = _initial_cholesky(c, self.reg_covar)

        def t(a: np.ndarray) -> Any:
            return torch.tensor(a, dtype=self.dtype, device=self.device)

        self.x = t(np.asarray(x, dtype=np.float64).reshape(-1, 2))
        self.logits = t(np.log(np.maximum(w, 1e-300))).requires_grad_(True)
        self.means = t(m).requires_grad_(True)
        self.log_diag = t(np.log(np.stack([chol[:, 0, 0], chol[:, 1, 1]], axis=1)))
        self.log_diag.requires_grad_(True)
        self.offdiag = t(chol[:, 1, 0].copy()).requires_grad_(True)
        self.optimizer = torch.optim.Adam(
            [self.logits, self.means, self.log_diag, self.offdiag], lr=float(lr))
        self.n_steps_ = 0

    def _covariance_entries(self) -> tuple[Any, Any, Any]:
        """(a, b, c) (K,) each with Sigma_k = [[a, b], [b, c]] = L L^T + reg I."""
        torch = self._torch
        l11 = torch.exp(self.log_diag[:, 0])
        l22 = torch.exp(self.log_diag[:, 1])
        l21 = self.offdiag
        return l11 * l11 + self.reg_covar, l11 * l21, l21 * l21 + l22 * l22 + self.reg_covar

    def _log_prob(self) -> Any:
        """(n, K) log pi_k + log N(x_i | mu_k, Sigma_k), closed-form 2x2 inverse."""
        torch = self._torch
        a, b, c = self._covariance_entries()
        det = a * c - b * b
        dx = self.x[:, :1] - self.means[:, 0]
        dy = self.x[:, 1:] - self.means[:, 1]
        maha = (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det
        log_n = -_LOG_2PI - 0.5 * torch.log(det) - 0.5 * maha
        return torch.log_softmax(self.logits, dim=0) + log_n

    def log_likelihood(self) -> float:
        """Mean log-likelihood of the data under the current parameters."""
        with self._torch.no_grad():
            return float(self._torch.logsumexp(self._log_prob(), dim=1).mean())

    # ---------------------------------------------------------------------------- stepping

    def step(self, n: int = 1) -> GMMState:
        """Take n Adam steps on -(mean log-likelihood) and return the new state."""
        torch = self._torch
        for _ in range(int(n)):
            self.optimizer.zero_grad(set_to_none=True)
            loss = -torch.logsumexp(self._log_prob(), dim=1).mean()
            loss.backward()
            self.optimizer.step()
            self.n_steps_ += 1
        return self.state()

    def state(self) -> GMMState:
        """The current parameters as numpy, with their mean log-likelihood."""
        torch = self._torch
        with torch.no_grad():
            a, b, c = self._covariance_entries()
            cov = torch.stack([torch.stack([a, b], dim=-1), torch.stack([b, c], dim=-1)], dim=-2)
            weights = torch.softmax(self.logits, dim=0)
            ll = torch.logsumexp(self._log_prob(), dim=1).mean()
            return GMMState(
                weights.detach().cpu().numpy().astype(np.float64),
                self.means.detach().cpu().numpy().astype(np.float64),
                cov.detach().cpu().numpy().astype(np.float64),
                float(ll),
            )
