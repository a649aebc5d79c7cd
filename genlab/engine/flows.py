r"""Normalising flows in the plane: RealNVP affine couplings and planar flows, trained by
maximum likelihood.

A flow is an invertible map :math:`z = F(x) = F_K \circ \dots \circ F_1(x)` from data to a
latent space where :math:`z \sim \mathcal N(0, I)`.  By the change of variables (Rezende &
Mohamed 2015, eq. 1; Dinh et al. 2017, eq. 3)

.. math:: \log p(x) = \log \mathcal N(F(x); 0, I)
          + \sum_{k=1}^K \log\left|\det \frac{\partial F_k}{\partial h_{k-1}}\right|,

with :math:`h_0 = x` and :math:`h_k = F_k(h_{k-1})`.  Conventions, shared by both models:

* ``forward(x)`` maps data → latent (the normalising direction) and returns
  ``(z, log_det)`` with ``log_det`` :math:`= \log|\det \partial z / \partial x|` per point;
* ``log_prob(x)`` :math:`= \log\mathcal N(z; 0, I) + \mathrm{log\_det}`;
* ``inverse(z)`` maps latent → data; ``sample(n)`` draws :math:`z \sim \mathcal N(0, I)`
  and inverts it;
* ``forward_layers(x)`` / ``inverse_layers(z)`` return the n_layers + 1 intermediate point
  sets :math:`h_0, \dots, h_K` (resp. the latent points and their images after each inverse
  layer), to show the warp layer by layer.

Types: numpy (or lists) in → numpy float64 out, computed in the model's dtype (float32 unless
you call ``.double()``) and without autograd; a torch tensor in → a tensor out, in the model's
dtype and on its device, differentiable (except the planar flow's ``inverse``, solved
numerically, whose result carries no gradient).  Shapes: x, z (n, 2); log_det, log_prob (n,).

Models (both ``torch.nn.Module``, deterministic for ``seed``, moved with ``.to(device)``):

* :class:`RealNVP` (Dinh, Sohl-Dickstein & Bengio 2017, eqs. 4-6): affine couplings with
  alternating masks.  In 2D a coupling keeps one coordinate :math:`x_a` and maps the other,
  :math:`z_b = x_b \, e^{s(x_a)} + t(x_a)`, :math:`z_a = x_a`, so
  :math:`\log|\det| = s(x_a)`; layer k keeps coordinate k mod 2.  :math:`s, t` come from a
  small MLP (1 → hidden → hidden → 2, SiLU).  The log-scale is soft-clamped,
  :math:`s = S \tanh(\tilde s / S)` with :math:`S` = ``SCALE_BOUND``, so one layer stretches
  by at most :math:`e^{S}` and the exponential cannot overflow (the shift :math:`t` is
  free, so a too-large learning rate can still throw points far away: callers watch the
  loss).
* :class:`PlanarFlow` (Rezende & Mohamed 2015, eqs. 10-12 and appendix A.1): layers
  :math:`f(x) = x + \hat u\, \tanh(w^\top x + b)`, used in the normalising direction.
  :math:`\log|\det| = \log|1 + \hat u^\top \psi(x)|` with
  :math:`\psi(x) = \tanh'(w^\top x + b)\, w`.  The reparameterisation
  :math:`\hat u = u + (m(w^\top u) - w^\top u)\, w / |w|^2`, :math:`m(a) = -1 +
  \log(1 + e^a)`, guarantees :math:`w^\top \hat u > -1`, hence invertibility.  The inverse
  solves the scalar monotone equation :math:`\alpha + (w^\top\hat u) \tanh(\alpha + b) =
  w^\top y` for :math:`\alpha = w^\top x` (safeguarded Newton on all points at once) and
  sets :math:`x = y - \hat u \tanh(\alpha + b)`.

:class:`MLETrainer` fits either by Adam on minibatches of the negative log-likelihood.

This module imports torch (its models are ``nn.Module`` subclasses): import it where a run
needs it, as the flow lab does inside ``run``, so that the app starts without torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from genlab.engine.optim import LiveLearningRate, applied, guarded_steps

__all__ = ["SCALE_BOUND", "FlowBase", "MLETrainer", "PlanarFlow", "RealNVP", "flow_parameters",
           "solve_monotone"]

#: Bound S of every RealNVP log-scale: s = S tanh(s_raw / S).
SCALE_BOUND = 2.5
_LOG_2PI = math.log(2.0 * math.pi)

Input = ArrayLike | Tensor


# ------------------------------------------------------------------------- shared helpers


def solve_monotone(fn: Callable[[Tensor], tuple[Tensor, Tensor]], target: Tensor, lo: Tensor,
                   hi: Tensor, iters: int = 100, start: Tensor | None = None) -> Tensor:
    """Solve g(a) = target elementwise for an increasing g, with a in the bracket [lo, hi].

    fn(a) returns (g(a), g'(a)); all tensors have one shape.  Safeguarded Newton ("rtsafe",
    Press et al., *Numerical Recipes*, 3rd ed., §9.4): the bracket shrinks around the root
    at every step; Newton's step is taken when it stays inside the bracket and is less than
    half the step before last, else the bracket's midpoint, so it never cycles and always
    converges (quadratically near the root).  ``start``: a first guess (clipped to the
    bracket; default its midpoint).  Stops when no point moves by more than a few ulps.  No
    autograd.
    """
    with torch.no_grad():
        lo, hi = lo.clone(), hi.clone()
        a = 0.5 * (lo + hi) if start is None else torch.minimum(torch.maximum(start, lo), hi)
        dx = (hi - lo).abs()
        dx_old = dx.clone()
        tol = 8.0 * torch.finfo(a.dtype).eps
        for _ in range(iters):
            g, dg = fn(a)
            r = g - target
            lo = torch.where(r < 0, a, lo)
            hi = torch.where(r > 0, a, hi)
            step = r / dg.clamp_min(1e-30)
            newton = a - step
            ok = (newton >= lo) & (newton <= hi) & (2.0 * step.abs() <= dx_old)
            dx_old, dx = dx, torch.where(ok, step.abs(), 0.5 * (hi - lo))
            a_new = torch.where(ok, newton, 0.5 * (lo + hi))
            a_new = torch.where(r == 0, a, a_new)
            done = bool(((a_new - a).abs() <= tol * (1.0 + a.abs())).all())
            a = a_new
            if done:
                break
        return a


class FlowBase(nn.Module):
    """Base of the flows: conversions, log_prob, sampling and the per-layer point sets.

    Subclasses fill ``self.layers`` with modules having ``forward(h) -> (h', log_det)`` and
    ``inverse(h') -> h``.
    """

    dim = 2
    layers: nn.ModuleList

    # -- where and in what the model computes
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _in(self, x: Input) -> tuple[Tensor, bool]:
        """(tensor on the model's device and dtype, whether the caller gave numpy)."""
        if isinstance(x, Tensor):
            return x.to(device=self.device, dtype=self.dtype), False
        arr = np.asarray(x, dtype=np.float64)
        if not arr.flags.writeable:  # torch warns on (and cannot share) read-only memory
            arr = arr.copy()
        if self.dim > 1:
            arr = arr.reshape(-1, self.dim)
        else:
            arr = arr.reshape(-1)
        return torch.as_tensor(arr, dtype=self.dtype, device=self.device), True

    @staticmethod
    def _out(t: Tensor, numpy: bool) -> Any:
        return t.detach().cpu().numpy().astype(np.float64) if numpy else t

    # -- the maps
    def _forward_t(self, x: Tensor) -> tuple[Tensor, Tensor]:
        ld = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, d = layer(x)
            ld = ld + d
        return x, ld

    def _inverse_t(self, z: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def _log_prob_t(self, x: Tensor) -> Tensor:
        z, ld = self._forward_t(x)
        sq = (z * z).sum(dim=-1) if self.dim > 1 else z * z
        return -0.5 * sq - 0.5 * self.dim * _LOG_2PI + ld

    def forward(self, x: Input) -> tuple[Any, Any]:
        """Data → latent: (z (n, 2), log|det ∂z/∂x| (n,))."""
        t, numpy = self._in(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not numpy):
            z, ld = self._forward_t(t)
        return self._out(z, numpy), self._out(ld, numpy)

    def inverse(self, z: Input) -> Any:
        """Latent → data: x (n, 2) with forward(x)[0] = z."""
        t, numpy = self._in(z)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not numpy):
            x = self._inverse_t(t)
        return self._out(x, numpy)

    def log_prob(self, x: Input) -> Any:
        """log p(x) (n,) = log N(F(x); 0, I) + log|det ∂F/∂x|."""
        t, numpy = self._in(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not numpy):
            lp = self._log_prob_t(t)
        return self._out(lp, numpy)

    def forward_layers(self, x: Input) -> list[Any]:
        """[h_0 = x, h_1, ..., h_K = z]: the points after each forward (data → latent) layer."""
        t, numpy = self._in(x)
        out = [t]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not numpy):
            for layer in self.layers:
                t, _ = layer(t)
                out.append(t)
        return [self._out(h, numpy) for h in out]

    def inverse_layers(self, z: Input) -> list[Any]:
        """[z, F_K⁻¹(z), ..., x]: the latent points after each inverse layer (K + 1 sets)."""
        t, numpy = self._in(z)
        out = [t]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not numpy):
            for layer in reversed(self.layers):
                t = layer.inverse(t)
                out.append(t)
        return [self._out(h, numpy) for h in out]

    def sample(self, n: int, seed: int | None = None, generator: torch.Generator | None = None,
               tensor: bool = False) -> Any:
        """n points x = F⁻¹(z), z ~ N(0, I): numpy (n, 2) float64, or a tensor if ``tensor``.

        ``seed`` (or a CPU ``generator``) makes the draw reproducible; z is drawn on the CPU
        so the same seed gives the same z on every device.
        """
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        shape = (int(n), self.dim) if self.dim > 1 else (int(n),)
        z = torch.randn(shape, generator=generator, dtype=torch.float64)
        z = z.to(device=self.device, dtype=self.dtype)
        if tensor:
            return self.inverse(z)
        with torch.no_grad():
            x = self._inverse_t(z)
        return self._out(x, True)

    @property
    def n_layers(self) -> int:
        return len(self.layers)


# ------------------------------------------------------------------------------- RealNVP


class AffineCoupling(nn.Module):
    """One RealNVP coupling in 2D: keeps coordinate ``keep``, z_b = x_b e^{s(x_a)} + t(x_a).

    s, t come from one MLP 1 → hidden (→ hidden) × (depth − 1) → 2 with SiLU activations; its
    last layer starts at ``init_scale`` times torch's default init, so a small value gives a
    near-identity coupling.
    """

    def __init__(self, keep: int, hidden: int, init_scale: float = 0.1,
                 depth: int = 2) -> None:
        super().__init__()
        self.keep = int(keep)
        self.change = 1 - self.keep
        mods: list[nn.Module] = [nn.Linear(1, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            mods += [nn.Linear(hidden, hidden), nn.SiLU()]
        self.net = nn.Sequential(*mods, nn.Linear(hidden, 2))
        with torch.no_grad():
            last = self.net[-1]
            last.weight.mul_(init_scale)
            last.bias.mul_(init_scale)

    def _st(self, xa: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(xa.unsqueeze(-1))
        s = SCALE_BOUND * torch.tanh(out[:, 0] / SCALE_BOUND)
        return s, out[:, 1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        xa, xb = x[:, self.keep], x[:, self.change]
        s, t = self._st(xa)
        zb = xb * torch.exp(s) + t
        cols = [xa, zb] if self.keep == 0 else [zb, xa]
        return torch.stack(cols, dim=1), s

    def inverse(self, z: Tensor) -> Tensor:
        za, zb = z[:, self.keep], z[:, self.change]
        s, t = self._st(za)
        xb = (zb - t) * torch.exp(-s)
        cols = [za, xb] if self.keep == 0 else [xb, za]
        return torch.stack(cols, dim=1)


class RealNVP(FlowBase):
    """A 2D RealNVP: ``n_layers`` affine couplings, layer k keeping coordinate k mod 2.

    n_layers >= 1; hidden: width of the hidden layers of each coupling's s, t network
    (``depth`` of them, 2 by default: one hidden layer fits clearly worse at the same cost);
    seed: fixes the initial weights (torch's default init, the last layer of each network
    scaled by ``init_scale`` so the untrained flow is close to the identity; 1.0 for a
    strongly random flow).
    """

    def __init__(self, n_layers: int, hidden: int, seed: int = 0,
                 init_scale: float = 0.1, depth: int = 2) -> None:
        super().__init__()
        if n_layers < 1 or hidden < 1:
            raise ValueError(f"RealNVP needs n_layers >= 1 and hidden >= 1, got {n_layers}, "
                             f"{hidden}")
        self.hidden = int(hidden)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.layers = nn.ModuleList(
                AffineCoupling(k % 2, hidden, init_scale, depth) for k in range(int(n_layers)))


# ---------------------------------------------------------------------------- planar flow


class PlanarLayer(nn.Module):
    """f(x) = x + û tanh(wᵀx + b) with wᵀû > −1 (Rezende & Mohamed 2015, appendix A.1)."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.u = nn.Parameter(0.5 * torch.randn(2, generator=generator))
        self.w = nn.Parameter(torch.randn(2, generator=generator))
        self.b = nn.Parameter(0.5 * torch.randn((), generator=generator))

    def u_hat(self) -> Tensor:
        """û = u⊥ + m w / |w|² with u⊥ the part of u orthogonal to w and
        m = −1 + softplus(wᵀu) + δ, so wᵀû = m > −1.

        δ is a few rounding errors of wᵀu⊥ (each about eps·|u||w|): without it, in float32 with u
        scaled by −50, wᵀû came out −1.0000005 and the layer was not invertible."""
        ww = (self.w @ self.w).clamp_min(1e-12)
        wu = self.w @ self.u
        u_perp = self.u - (wu / ww) * self.w
        eps = torch.finfo(self.u.dtype).eps
        margin = 16 * eps * (1.0 + torch.linalg.vector_norm(self.u) * ww.sqrt())
        m = -1.0 + nn.functional.softplus(wu) + margin.detach()
        return u_perp + (m / ww) * self.w

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        u = self.u_hat()
        h = torch.tanh(x @ self.w + self.b)
        y = x + h.unsqueeze(-1) * u
        # det(I + u ψᵀ) = 1 + ψᵀu, ψ = (1 − tanh²) w (the matrix determinant lemma)
        det = 1.0 + (1.0 - h * h) * (self.w @ u)
        return y, torch.log(det.abs())

    def inverse(self, y: Tensor) -> Tensor:
        u = self.u_hat()
        c = self.w @ u  # > -1, so alpha + c tanh(alpha + b) increases strictly
        target = y @ self.w
        span = c.abs().expand_as(target)

        def g(a: Tensor) -> tuple[Tensor, Tensor]:
            th = torch.tanh(a + self.b)
            return a + c * th, 1.0 + c * (1.0 - th * th)

        with torch.no_grad():
            # one fixed-point step from alpha = w·y is a good start: tanh is bounded
            guess = target - c * torch.tanh(target + self.b)
            alpha = solve_monotone(g, target, target - span - 1e-6, target + span + 1e-6,
                                   start=guess)
            return y - torch.tanh(alpha + self.b).unsqueeze(-1) * u


class PlanarFlow(FlowBase):
    """A stack of ``n_layers`` planar layers in the normalising direction x → z.

    seed fixes the initial u, w (N(0, 0.5²) and N(0, 1)) and b (N(0, 0.5²)).
    """

    def __init__(self, n_layers: int, seed: int = 0) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"PlanarFlow needs n_layers >= 1, got {n_layers}")
        gen = torch.Generator().manual_seed(int(seed))
        self.layers = nn.ModuleList(PlanarLayer(gen) for _ in range(int(n_layers)))

    def condition(self) -> np.ndarray:
        """wᵀû per layer (n_layers,): all > −1 for an invertible flow."""
        with torch.no_grad():
            return np.array([float(layer.w @ layer.u_hat()) for layer in self.layers])


# ----------------------------------------------------------------------------- training


def _adam(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Adam, fused where torch offers it for these tensors (about 25% less time per step on
    the CPU for these small models), plain otherwise."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(model.parameters(), lr=lr)


class MLETrainer(LiveLearningRate):
    """Adam on minibatches of the negative log-likelihood −(1/B) Σ log p(x_i).

    model: any flow here (2D or 1D); x: the training points (n, 2) or (n,); lr, batch_size
    can be changed between steps; seed fixes the minibatch draws (a CPU torch.Generator,
    so batches are the same on every device).  ``step(k)`` takes up to k steps and returns
    their losses; it stops at the first non-finite loss without applying that update (the
    caller decides what to say).
    """

    def __init__(self, model: FlowBase, x: Input, lr: float = 1e-3, batch_size: int = 256,
                 seed: int = 0, max_grad_norm: float | None = None) -> None:
        self.model = model
        self.x, _ = model._in(x)
        self.x = self.x.detach()
        self.batch_size = int(batch_size)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.optimizer = _adam(model, float(lr))
        self.max_grad_norm = max_grad_norm
        self.n_steps_ = 0

    def step(self, k: int = 1) -> np.ndarray:
        """Up to k Adam steps; the batch losses (mean NLL per point), at most k of them."""
        n = self.x.shape[0]
        b = min(self.batch_size, n)

        def batch_loss() -> torch.Tensor:
            idx = torch.randint(0, n, (b,), generator=self.generator).to(self.x.device)
            return -self.model._log_prob_t(self.x[idx]).mean()

        def clip() -> None:
            if self.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)

        losses = guarded_steps(self.optimizer, batch_loss, k, clip)
        self.n_steps_ += applied(losses)
        return losses

    def nll(self, x: Input) -> float:
        """Mean negative log-likelihood of x under the current model (no autograd)."""
        with torch.no_grad():
            t, _ = self.model._in(x)
            return float(-self.model._log_prob_t(t).mean())


def flow_parameters(model: nn.Module) -> int:
    """Number of trainable scalars of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
