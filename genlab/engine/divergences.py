r"""Fitting one Gaussian to a Gaussian mixture by forward or reverse KL, and divergences.

The target is a mixture of isotropic Gaussians in d = 1 or 2 dimensions,

.. math:: p(x) = \sum_{k=1}^K \pi_k \, \mathcal N(x \mid m_k, s_k^2 I),

and the model a single Gaussian :math:`q = \mathcal N(\mu, \Sigma)`, :math:`\Sigma = L L^\top`
(L lower triangular with a positive diagonal; in 1D, :math:`L = \sigma`).  The parameters
:math:`\theta` are :math:`\mu` (d values), :math:`\log L_{jj}` (d values) and, in 2D,
:math:`L_{21}`: 2 numbers in 1D, 5 in 2D.  (Bishop, PRML §10.1.2 and fig. 10.3, contrasts the
two directions on a bimodal target.)

* **Forward KL** :math:`\mathrm{KL}(p\|q) = E_p[\log p - \log q]`: minimising it over q is
  maximum likelihood on samples of p.  Every place where p has mass must get mass under q
  (``mode covering``).  For a Gaussian q its minimiser is moment matching:
  :math:`\mu = \sum_k \pi_k m_k`, :math:`\Sigma = \sum_k \pi_k (s_k^2 I + m_k m_k^\top) -
  \mu\mu^\top`, which :func:`optimal_gaussian` returns exactly.
* **Reverse KL** :math:`\mathrm{KL}(q\|p) = E_q[\log q - \log p]` (variational inference):
  q is punished wherever p is small, so with well-separated modes its best optima sit on one
  mode each (``mode seeking``), beside poorer local optima that straddle modes.  With the
  reparameterisation :math:`x = \mu + L\varepsilon`,
  :math:`\varepsilon \sim \mathcal N(0, I)` (the reparameterisation trick, Kingma & Welling
  2014, §2.4; Rezende et al. 2014), :math:`\log q(x) = -\tfrac d2\log 2\pi - \sum_j \log L_{jj}
  - \tfrac12|\varepsilon|^2`, and the gradients are

  .. math:: \nabla_\mu = -E_\varepsilon[\nabla\log p(x)], \qquad
            \nabla_L = -\operatorname{diag}(1/L_{jj})
                       - E_\varepsilon[\nabla \log p(x)\, \varepsilon^\top]
            \quad(\text{lower triangle}).

  It is not convex in :math:`\theta`: the result depends on where the fit starts.

Two ways to fit:

* :class:`GaussianFit` takes stochastic steps (Adam, Kingma & Ba 2015, Algorithm 1, on
  :math:`\theta`) from fresh minibatches: x ~ p for forward KL, :math:`\varepsilon` ~ N(0, I)
  for reverse KL.  :func:`kl_fit_steps` wraps it as the iterator the lab animates.
* :func:`optimal_gaussian` / :func:`fit_gaussian` return the optimum deterministically: the
  moments for forward KL; for reverse KL, L-BFGS on KL(q‖p) with :math:`E_\varepsilon` computed
  by a fixed quadrature (the trapezoid rule on a uniform ε grid over [-8, 8] per axis; its
  optima agree with scipy's adaptive quadrature + Nelder-Mead to ~1e-8 on the test cases):
  the same reparameterised objective with a fixed, dense set of ε instead of random draws.

Divergences between the mixture p and a Gaussian q (:func:`divergences`): KL both ways and
TV = ½∫|p − q| by sums on a uniform grid that covers both densities to 7 standard deviations
(1D: 4001 points; 2D: 201 × 201 points), W1 = ∫|F_p − F_q| dx in 1D with the exact CDFs on
that grid, and in 2D the *sliced* W1, the mean over 64 evenly spaced directions u of the 1D W1
between the projections u·x (each again a mixture and a Gaussian, so each exact up to the
grid).  The generic grid helpers (:func:`kl_on_grid`, :func:`tv_on_grid`, :func:`w1_on_grid`)
work for any densities tabulated on a uniform grid.

Everything is numpy/scipy: the fits have 2 to 5 parameters and minibatches of a few hundred
points, far too small for a GPU to pay off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DIRECTIONS",
    "Divergences",
    "FitDiverged",
    "GaussianFit",
    "Mixture",
    "default_init",
    "divergences",
    "divergences_many",
    "entropy",
    "fit_gaussian",
    "forward_kl_landscape",
    "kl_fit_steps",
    "kl_on_grid",
    "optimal_gaussian",
    "pack",
    "reverse_kl",
    "reverse_kl_landscape",
    "sliced_w1",
    "tv_on_grid",
    "unpack",
    "w1_on_grid",
]

Array = NDArray[np.float64]
Direction = Literal["forward", "reverse"]
DIRECTIONS: tuple[str, ...] = ("forward", "reverse")

_LOG_2PI = float(np.log(2.0 * np.pi))
#: Bounds beyond which a stochastic fit counts as diverged: |μ| and |log L_jj|, |L_21|.
MAX_ABS_MEAN = 1e3
MAX_ABS_LOG_SCALE = 12.0


def ndtr(x: ArrayLike) -> Array:
    """Φ(x), the standard normal CDF (scipy imported on first use: the lab list opens ~0.6 s
    faster without scipy.optimize and scipy.special)."""
    from scipy.special import ndtr as phi

    return phi(x)


class FitDiverged(FloatingPointError):
    """A stochastic fit left the finite, sensible region (NaN, or a huge mean or scale)."""


# ---------------------------------------------------------------------------- the target


@dataclass(frozen=True, eq=False)
class Mixture:
    """A mixture of isotropic Gaussians: weights (K,) summing to 1, means (K, d), stds (K,)."""

    weights: Array
    means: Array
    stds: Array

    @classmethod
    def make(cls, weights: ArrayLike, means: ArrayLike, stds: ArrayLike) -> Mixture:
        """Checked and normalised: weights ≥ 0 (rescaled to sum 1), stds > 0; 1D means may be
        given as (K,)."""
        w = np.asarray(weights, dtype=np.float64).ravel()
        s = np.asarray(stds, dtype=np.float64).ravel()
        m = np.asarray(means, dtype=np.float64)
        m = m.reshape(-1, 1) if m.ndim <= 1 else m
        k = len(w)
        if k == 0 or m.shape[0] != k or len(s) != k:
            raise ValueError(f"mixture: {k} weights, {m.shape[0]} means and {len(s)} stds "
                             "(need one of each per component, at least one)")
        if m.shape[1] not in (1, 2):
            raise ValueError(f"mixture: means of dimension {m.shape[1]}; only 1D and 2D")
        if not (np.isfinite(w).all() and np.isfinite(m).all() and np.isfinite(s).all()):
            raise ValueError("mixture: non-finite weight, mean or std")
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("mixture: weights must be ≥ 0 with a positive sum")
        if (s <= 0).any():
            raise ValueError("mixture: stds must be > 0")
        for a in (w, m, s):
            a.setflags(write=False)
        return cls(w / w.sum(), m, s)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def _log_components(self, x: Array) -> Array:
        """(n, K): log π_k + log N(x_i | m_k, s_k² I)."""
        d = self.dim
        if d == 1:
            sq = (x - self.means[:, 0]) ** 2
        else:
            sq = (x[:, :1] - self.means[:, 0]) ** 2 + (x[:, 1:] - self.means[:, 1]) ** 2
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)
        return (logw - d * np.log(self.stds) - 0.5 * d * _LOG_2PI) - sq * (0.5 / self.stds**2)

    def logpdf(self, x: ArrayLike) -> Array:
        """log p(x) for x (n, d) (or (n,) in 1D): (n,)."""
        lc = self._log_components(self._points(x))
        top = lc.max(axis=1)
        return top + np.log(np.exp(lc - top[:, None]).sum(axis=1))

    def score(self, x: ArrayLike) -> Array:
        """∇ log p(x) = Σ_k r_k(x) (m_k − x) / s_k², r_k the responsibilities: (n, d)."""
        return self.logpdf_and_score(x)[1]

    def logpdf_and_score(self, x: ArrayLike) -> tuple[Array, Array]:
        """(log p(x) (n,), ∇ log p(x) (n, d)) from one pass over the components."""
        x = self._points(x)
        lc = self._log_components(x)
        top = lc.max(axis=1, keepdims=True)
        e = np.exp(lc - top)
        total = e.sum(axis=1, keepdims=True)
        r = e / total  # responsibilities (n, K)
        prec = 1.0 / self.stds**2
        # einsum, not @: see _no_blas in optimal_gaussian
        score = (np.einsum("nk,kd->nd", r * prec, self.means)
                 - x * np.einsum("nk,k->n", r, prec)[:, None])
        return top[:, 0] + np.log(total[:, 0]), score

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """(n, d) draws: k ~ Cat(π), then x = m_k + s_k z (ancestral sampling)."""
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        z = rng.standard_normal((n, self.dim))
        return self.means[k] + self.stds[k, None] * z

    def moments(self) -> tuple[Array, Array]:
        """Mean Σ π_k m_k (d,) and covariance Σ π_k (s_k² I + m_k m_kᵀ) − mean meanᵀ (d, d)."""
        w, m = self.weights, self.means
        mean = w @ m
        second = np.einsum("k,ki,kj->ij", w, m, m) + (w @ self.stds**2) * np.eye(self.dim)
        cov = second - np.outer(mean, mean)
        return mean, 0.5 * (cov + cov.T)

    def cdf(self, x: ArrayLike) -> Array:
        """1D only: F(x) = Σ π_k Φ((x − m_k) / s_k), x (n,) -> (n,)."""
        if self.dim != 1:
            raise ValueError("cdf: the mixture is not 1D")
        x = np.asarray(x, dtype=np.float64).ravel()
        return ndtr((x[:, None] - self.means[None, :, 0]) / self.stds) @ self.weights

    def project(self, u: Array) -> Mixture:
        """The 1D mixture of u·x (u a unit vector (d,)): means m_k·u, the same stds."""
        return Mixture(self.weights, (self.means @ u).reshape(-1, 1), self.stds)

    def box(self, n_std: float) -> tuple[Array, Array]:
        """Corners (d,), (d,) of the box holding every component to n_std stds."""
        lo = (self.means - n_std * self.stds[:, None]).min(axis=0)
        hi = (self.means + n_std * self.stds[:, None]).max(axis=0)
        return lo, hi

    def _points(self, x: ArrayLike) -> Array:
        x = np.asarray(x, dtype=np.float64)
        return x.reshape(-1, 1) if self.dim == 1 and x.ndim <= 1 else x.reshape(-1, self.dim)


# ---------------------------------------------------------------------------- the model


def pack(mean: ArrayLike, cov: ArrayLike) -> Array:
    """θ = (μ, log L_jj, L_21 in 2D) from a mean (d,) and a covariance (d, d) (or a std in 1D)."""
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64)).ravel()
    d = len(mean)
    cov = np.asarray(cov, dtype=np.float64)
    if d == 1 and cov.size == 1 and cov.ndim < 2:
        chol = cov.reshape(1, 1)  # a std
    else:
        chol = np.linalg.cholesky(cov.reshape(d, d))
    theta = np.concatenate([mean, np.log(np.diag(chol))])
    if d == 2:
        theta = np.append(theta, chol[1, 0])
    return theta


def unpack(theta: Array, d: int) -> tuple[Array, Array]:
    """(μ (d,), L (d, d)) from θ."""
    mean = theta[:d]
    chol = np.diag(np.exp(theta[d:2 * d]))
    if d == 2:
        chol[1, 0] = theta[4]
    return mean, chol


def _grad_theta(d_mean: Array, d_chol: Array, chol: Array) -> Array:
    """Chain rule from (∂/∂μ, ∂/∂L) to ∂/∂θ: ∂/∂log L_jj = L_jj ∂/∂L_jj."""
    g = np.concatenate([d_mean, np.diag(d_chol) * np.diag(chol)])
    if len(d_mean) == 2:
        g = np.append(g, d_chol[1, 0])
    return g


def _reverse_terms(theta: Array, target: Mixture, eps: Array,
                   w: Array) -> tuple[float, Array]:
    r"""Σ_i w_i [log q(x_i) − log p(x_i)] with x_i = μ + L ε_i, and its gradient in θ.

    eps (n, d), w (n,) summing to 1 (1/n for a minibatch; quadrature weights otherwise).
    Gradient: ∇_μ = −Σ w_i s(x_i), ∇_L = −diag(1/L_jj) − Σ w_i s(x_i) ε_iᵀ (lower part).
    """
    d = target.dim
    mean, chol = unpack(theta, d)
    x = mean + np.einsum("nj,ij->ni", eps, chol)
    logq = -0.5 * d * _LOG_2PI - np.log(np.diag(chol)).sum() - 0.5 * (eps**2).sum(axis=1)
    logp, s = target.logpdf_and_score(x)
    value = float(np.einsum("n,n->", w, logq - logp))
    d_mean = -np.einsum("n,nd->d", w, s)
    d_chol = np.tril(-np.diag(1.0 / np.diag(chol)) - np.einsum("n,ni,nj->ij", w, s, eps))
    return value, _grad_theta(d_mean, d_chol, chol)


def _forward_terms(theta: Array, target: Mixture, x: Array) -> tuple[float, Array]:
    r"""Minibatch mean of log p(x_i) − log q(x_i) for x_i ~ p, and its gradient in θ.

    With z = L⁻¹(x − μ): −log q = Σ log L_jj + ½|z|² + (d/2) log 2π, so
    ∇_μ = −mean(L⁻ᵀ z), ∇_L = diag(1/L_jj) − L⁻ᵀ mean(z zᵀ) (lower part).
    """
    d = target.dim
    mean, chol = unpack(theta, d)
    z = np.linalg.solve(chol, (x - mean).T).T  # (n, d)
    neg_logq = np.log(np.diag(chol)).sum() + 0.5 * (z**2).sum(axis=1) + 0.5 * d * _LOG_2PI
    value = float(np.mean(target.logpdf(x) + neg_logq))
    inv_t = np.linalg.inv(chol).T
    d_mean = -(inv_t @ z.mean(axis=0))
    d_chol = np.tril(np.diag(1.0 / np.diag(chol)) - inv_t @ (z.T @ z / len(z)))
    return value, _grad_theta(d_mean, d_chol, chol)


# ---------------------------------------------------------------------------- stochastic fit


class GaussianFit:
    """A Gaussian q = N(μ, LLᵀ) fitted to a mixture by Adam on θ, one minibatch per step.

    ``direction``: "forward" draws ``n_samples`` points x ~ p per step and descends the
    minibatch estimate of KL(p‖q); "reverse" draws ε ~ N(0, I), sets x = μ + Lε and descends
    the estimate of KL(q‖p).  ``lr`` and ``n_samples`` may be changed between steps, and each
    step takes the target it should fit (so the target can move while the fit runs).  The
    minibatches come from ``numpy.random.default_rng([seed, 0 or 1])`` (forward or reverse).
    Adam: β₁ = 0.9, β₂ = 0.999, ε̂ = 1e-8 (Kingma & Ba 2015, Algorithm 1).

    State after each step: ``mean`` (d,), ``cov`` (d, d), ``loss`` (the minibatch KL
    estimate), ``samples`` (the minibatch: x ~ p, or x = μ + Lε ~ q), ``t`` (steps taken).
    """

    def __init__(self, direction: str, mean: ArrayLike, cov: ArrayLike, *, lr: float = 0.05,
                 n_samples: int = 256, seed: int = 0) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r}: valid directions are "
                             f"{', '.join(DIRECTIONS)}")
        self.direction = direction
        self.theta = pack(mean, cov)
        self.dim = 1 if len(self.theta) == 2 else 2
        self.lr = float(lr)
        self.n_samples = int(n_samples)
        # one stream per direction, so that both fits of one seed draw independent minibatches
        self.rng = np.random.default_rng([int(seed), DIRECTIONS.index(direction)])
        self._m = np.zeros_like(self.theta)
        self._v = np.zeros_like(self.theta)
        self.t = 0
        self.loss = float("nan")
        self.samples = np.zeros((0, self.dim))

    @property
    def mean(self) -> Array:
        return unpack(self.theta, self.dim)[0].copy()

    @property
    def cov(self) -> Array:
        chol = unpack(self.theta, self.dim)[1]
        return chol @ chol.T

    @property
    def std(self) -> float:
        """1D: σ."""
        return float(np.exp(self.theta[1]))

    def gradient(self, target: Mixture) -> tuple[float, Array, Array]:
        """(minibatch KL estimate, ∂/∂θ, the minibatch) at the current θ, one fresh draw."""
        if target.dim != self.dim:
            raise ValueError(f"the target is {target.dim}D but the fit is {self.dim}D")
        n = max(1, self.n_samples)
        if self.direction == "forward":
            x = target.sample(n, self.rng)
            value, grad = _forward_terms(self.theta, target, x)
            return value, grad, x
        eps = self.rng.standard_normal((n, self.dim))
        value, grad = _reverse_terms(self.theta, target, eps, np.full(n, 1.0 / n))
        mean, chol = unpack(self.theta, self.dim)
        return value, grad, mean + eps @ chol.T

    def step(self, target: Mixture) -> float:
        """One Adam step on a fresh minibatch; returns the minibatch KL estimate.

        Raises FitDiverged (θ left untouched) if the step would give a non-finite θ, a mean
        beyond MAX_ABS_MEAN or a log-scale beyond MAX_ABS_LOG_SCALE."""
        loss, grad, samples = self.gradient(target)
        t = self.t + 1
        m = 0.9 * self._m + 0.1 * grad
        v = 0.999 * self._v + 0.001 * grad**2
        m_hat, v_hat = m / (1.0 - 0.9**t), v / (1.0 - 0.999**t)
        theta = self.theta - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        d = self.dim
        if (not np.isfinite(theta).all() or not np.isfinite(loss)
                or np.abs(theta[:d]).max() > MAX_ABS_MEAN
                or np.abs(theta[d:]).max() > MAX_ABS_LOG_SCALE):
            raise FitDiverged(
                f"the {self.direction}-KL fit diverged at step {t} (from μ = "
                f"{_vec(self.theta[:d])}, log-scales {_vec(self.theta[d:])})")
        self.theta, self._m, self._v, self.t = theta, m, v, t
        self.loss, self.samples = loss, samples
        return loss


def _vec(a: Array) -> str:
    return ", ".join(f"{v:.3g}" for v in np.ravel(a))


def kl_fit_steps(weights: ArrayLike, means: ArrayLike, stds: ArrayLike, direction: str,
                 init: tuple[float, float] | None = None, lr: float = 0.05,
                 n_samples: int = 256, seed: int = 0, steps: int | None = None
                 ) -> Generator[tuple[float, float, float], Mixture | None, None]:
    """The stochastic 1D fit, step by step: yields (μ, σ, minibatch KL estimate) per step.

    The same steps as :class:`GaussianFit` (the lab animates exactly these).  ``init`` is the
    starting (μ, σ) (default: see :func:`default_init`); ``steps`` None runs forever.  Send a
    new :class:`Mixture` to change the target from the next step on.
    """
    target = Mixture.make(weights, means, stds)
    if target.dim != 1:
        raise ValueError("kl_fit_steps: a 1D mixture (means of shape (K,))")
    mean0, cov0 = default_init(target, seed) if init is None else (
        np.array([init[0]], dtype=np.float64), np.float64(init[1]))
    fit = GaussianFit(direction, mean0, cov0, lr=lr, n_samples=n_samples, seed=seed)
    t = 0
    while steps is None or t < steps:
        loss = fit.step(target)
        t += 1
        new = yield float(fit.theta[0]), fit.std, loss
        if new is not None:
            target = new


# ---------------------------------------------------------------------------- exact optimum


def default_init(target: Mixture, seed: int = 0) -> tuple[Array, Array]:
    """A start for a fit: one of the target's components, k ~ Cat(π) drawn with ``seed``.

    Returns (m_k (d,), s_k (1,) in 1D or s_k² I (2, 2) in 2D).  Reverse KL has a local optimum
    per mode (and often one straddling them), so the start decides which one is found; starting
    on a component makes the default reverse fit the mode-seeking one near that component.
    """
    k = int(np.random.default_rng(seed).choice(len(target.weights), p=target.weights))
    s = float(target.stds[k])
    return target.means[k].copy(), (np.array([s]) if target.dim == 1 else s * s * np.eye(2))


@dataclass(frozen=True)
class _Quadrature:
    eps: Array  # (n, d)
    w: Array  # (n,) summing to 1


_QUAD_CACHE: dict[tuple[int, int], _Quadrature] = {}


def _quadrature(d: int, per_axis: int) -> _Quadrature:
    """Trapezoid nodes for E_{ε ~ N(0, I_d)}: a uniform grid over [-8, 8] per axis."""
    key = (d, per_axis)
    q = _QUAD_CACHE.get(key)
    if q is None:
        g = np.linspace(-8.0, 8.0, per_axis)
        w1 = np.exp(-0.5 * g**2)
        if d == 1:
            eps, w = g[:, None], w1
        else:
            a, b = np.meshgrid(g, g, indexing="ij")
            eps = np.column_stack([a.ravel(), b.ravel()])
            w = np.outer(w1, w1).ravel()
        keep = w > 1e-300 * w.max()
        q = _Quadrature(eps[keep], w[keep] / w[keep].sum())
        _QUAD_CACHE[key] = q
    return q


#: ε nodes per axis of the quadrature of :func:`optimal_gaussian` and :func:`reverse_kl`.
QUAD_NODES = {1: 801, 2: 61}


def reverse_kl(target: Mixture, mean: ArrayLike, cov: ArrayLike) -> float:
    """KL(q‖p) for q = N(mean, cov) (1D: cov may be a std), by the ε quadrature."""
    theta = pack(mean, cov)
    q = _quadrature(target.dim, QUAD_NODES[target.dim])
    return _reverse_terms(theta, target, q.eps, q.w)[0]


_BLAS: list[object] = []


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """BLAS limited to one thread while L-BFGS-B runs.

    Measured on a busy 2-core machine: scipy's L-BFGS-B spent ~12 ms per iteration in
    OpenBLAS thread hand-offs on 2-5 parameters (44 iterations of Rosenbrock: 530 ms), and
    2 ms in all with one thread.  The controller is built once (~3 ms), a limit then costs
    ~15 µs.  Without threadpoolctl (a scikit-learn dependency) nothing is limited."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _BLAS.append(None)
    ctl = _BLAS[0]
    if ctl is None:  # pragma: no cover
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")  # type: ignore[attr-defined]


def optimal_gaussian(target: Mixture, direction: str, init: tuple[ArrayLike, ArrayLike] | None
                     = None, seed: int = 0, nodes: int | None = None) -> tuple[Array, Array]:
    """The Gaussian minimising KL in ``direction``: (mean (d,), cov (d, d)).

    forward: the mixture's moments (exact; ``init`` and ``seed`` are not used).
    reverse: L-BFGS-B on θ from ``init`` = (mean, cov or 1D std) (default:
    :func:`default_init` with ``seed``) of KL(q‖p) with E_ε by the fixed trapezoid quadrature
    (QUAD_NODES per axis over [-8, 8]); gradients as in the module docstring.  A local
    optimum: the one reached from ``init``.  ``nodes``: ε nodes per axis instead of
    QUAD_NODES[d] (fewer for speed, e.g. for a marker redrawn while a mode is dragged).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r}: valid directions are {', '.join(DIRECTIONS)}")
    if direction == "forward":
        return target.moments()
    d = target.dim
    mean0, cov0 = default_init(target, seed) if init is None else init
    theta0 = pack(mean0, cov0)
    quad = _quadrature(d, QUAD_NODES[d] if nodes is None else nodes)
    scale = float(np.sqrt(np.max(np.sum(target.means**2, axis=1)) + np.max(target.stds)**2))
    bounds = [(-MAX_ABS_MEAN, MAX_ABS_MEAN)] * d + [(-8.0, np.log(50.0 * scale + 1.0))] * d
    bounds += [(None, None)] * (d * (d - 1) // 2)
    from scipy.optimize import minimize

    with _one_blas_thread():
        res = minimize(_reverse_terms, theta0, args=(target, quad.eps, quad.w), jac=True,
                       method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
    mean, chol = unpack(res.x, d)
    return mean.copy(), chol @ chol.T


def fit_gaussian(weights: Sequence[float] | ArrayLike, means: Sequence[float] | ArrayLike,
                 stds: Sequence[float] | ArrayLike, direction: str,
                 init: tuple[float, float] | None = None, seed: int = 0) -> tuple[float, float]:
    """The 1D Gaussian N(μ, σ²) minimising KL(p‖q) ("forward") or KL(q‖p) ("reverse").

    weights, means, stds: (K,) each, the 1D target mixture (weights are normalised).
    forward: exactly the moments, μ = Σ π_k m_k and σ² = Σ π_k (s_k² + m_k²) − μ².
    reverse: the local optimum reached from ``init`` = (μ, σ) (default: a component drawn with
    ``seed``, see :func:`default_init`), see :func:`optimal_gaussian`; deterministic.
    Returns (μ, σ).
    """
    target = Mixture.make(weights, means, stds)
    if target.dim != 1:
        raise ValueError("fit_gaussian: a 1D mixture (means of shape (K,))")
    start = None if init is None else (np.array([init[0]], dtype=np.float64),
                                       np.float64(init[1]))
    if start is not None and not start[1] > 0:
        raise ValueError(f"fit_gaussian: the initial σ must be > 0, got {init[1]}")
    mean, cov = optimal_gaussian(target, direction, start, seed)
    return float(mean[0]), float(np.sqrt(cov[0, 0]))


# ---------------------------------------------------------------------------- landscapes


def forward_kl_landscape(target: Mixture, mu: Array, sigma: Array, entropy: float) -> Array:
    r"""1D KL(p‖N(μ, σ²)) on a grid: mu (a,), sigma (b,) -> (b, a).

    Closed form given the entropy H(p): KL = −H(p) + log σ + ½ log 2π + (v + (m − μ)²)/(2σ²),
    m and v the mixture's mean and variance.
    """
    m, c = target.moments()
    mm, ss = np.meshgrid(mu, sigma)
    return -entropy + np.log(ss) + 0.5 * _LOG_2PI + (c[0, 0] + (m[0] - mm) ** 2) / (2 * ss**2)


def reverse_kl_landscape(target: Mixture, mu: Array, sigma: Array, nodes: int = 81,
                         table: int = 4001) -> Array:
    """1D KL(N(μ, σ²)‖p) on a grid: mu (a,), sigma (b,) -> (b, a).

    KL = −H(q) − E_ε[log p(μ + σε)] with a trapezoid ε rule of ``nodes`` nodes over [-8, 8],
    and log p linearly interpolated from a table of ``table`` points over the range those x
    reach (for a picture: coarser and ~20x cheaper than :func:`reverse_kl`).
    """
    q = _quadrature(1, nodes)
    mm, ss = np.meshgrid(mu, sigma)
    reach = 8.0 * float(np.max(sigma))
    xt = np.linspace(float(np.min(mu)) - reach, float(np.max(mu)) + reach, table)
    x = mm[..., None] + ss[..., None] * q.eps[:, 0]  # (b, a, n)
    # linear interpolation on the uniform table, by index arithmetic (np.interp searches)
    pos = np.clip((x - xt[0]) / (xt[1] - xt[0]), 0.0, table - 1.000001)
    i = pos.astype(np.intp)
    frac = pos - i
    lt = target.logpdf(xt)
    logp = lt[i] + frac * (lt[i + 1] - lt[i])
    neg_h = -np.log(ss) - 0.5 * _LOG_2PI - 0.5
    return neg_h - np.einsum("ban,n->ba", logp, q.w)


# ---------------------------------------------------------------------------- divergences


def kl_on_grid(log_p: ArrayLike, log_q: ArrayLike, cell: float) -> float:
    """KL(p‖q) ≈ Σ_j p_j (log p_j − log q_j) · cell, densities tabulated on a uniform grid
    (any shape) whose cells have size ``cell``; terms where p_j = 0 count 0."""
    lp, lq = np.asarray(log_p, dtype=np.float64), np.asarray(log_q, dtype=np.float64)
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, p * (lp - lq), 0.0)
    return float(terms.sum() * cell)


def tv_on_grid(p: ArrayLike, q: ArrayLike, cell: float) -> float:
    """Total variation ½ ∫ |p − q| ≈ ½ Σ_j |p_j − q_j| · cell on a uniform grid."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum() * cell)


def w1_on_grid(cdf_p: ArrayLike, cdf_q: ArrayLike, dx: float) -> float:
    """1D Wasserstein-1 W1 = ∫ |F_p(x) − F_q(x)| dx ≈ Σ_j |F_p − F_q| · dx (the 1D closed form
    of optimal transport with cost |x − y|, see Peyré & Cuturi 2019, *Computational Optimal
    Transport*, on the 1D case), CDFs tabulated on a uniform grid of spacing dx covering both
    supports."""
    return float(np.abs(np.asarray(cdf_p) - np.asarray(cdf_q)).sum() * dx)


@dataclass(frozen=True)
class Divergences:
    """Divergences between the target p and a Gaussian q; ``w1`` is the sliced W1 in 2D."""

    kl_pq: float
    kl_qp: float
    tv: float
    w1: float
    sliced: bool


GRID_1D = 4001
GRID_2D = 201
N_DIRECTIONS = 64
SPAN_STD = 7.0


def _gaussian_logpdf(x: Array, mean: Array, cov: Array) -> Array:
    """log N(x | mean, cov) for x (n, d) with d = 1 or 2 (closed-form inverse, no BLAS)."""
    d = len(mean)
    r = x - mean
    if d == 1:
        return -0.5 * r[:, 0] ** 2 / cov[0, 0] - 0.5 * np.log(cov[0, 0]) - 0.5 * _LOG_2PI
    det = cov[0, 0] * cov[1, 1] - cov[0, 1] * cov[1, 0]
    quad = (cov[1, 1] * r[:, 0] ** 2 - 2.0 * cov[0, 1] * r[:, 0] * r[:, 1]
            + cov[0, 0] * r[:, 1] ** 2) / det
    return -0.5 * quad - 0.5 * np.log(det) - _LOG_2PI


def sliced_w1(target: Mixture, mean: ArrayLike, cov: ArrayLike,
              n_directions: int = N_DIRECTIONS, n_grid: int = 401) -> float:
    r"""Sliced W1 between a 2D mixture and N(mean, cov): the mean over u_j = (cos φ_j, sin φ_j),
    φ_j = π j / n_directions, of W1(u·p, u·q) (Rabin et al. 2011; evenly spaced directions
    instead of random ones).  u·x is a 1D mixture (means m_k·u, the same stds) under p and
    N(u·μ, uᵀΣu) under q, so each W1 = ∫|F_p − F_q| uses the exact CDFs on a uniform grid of
    ``n_grid`` points over both to SPAN_STD stds (:func:`w1_on_grid`)."""
    return _sliced_w1_many(target, [np.asarray(mean, dtype=np.float64).ravel()],
                           [np.asarray(cov, dtype=np.float64).reshape(2, 2)], n_directions,
                           n_grid)[0]


def _sliced_w1_many(target: Mixture, means: Sequence[Array], covs: Sequence[Array],
                    n_directions: int = N_DIRECTIONS, n_grid: int = 401) -> list[float]:
    """:func:`sliced_w1` for several Gaussians, sharing each direction's grid and F_p."""
    phi = np.pi * np.arange(n_directions) / n_directions
    u = np.column_stack([np.cos(phi), np.sin(phi)])  # (J, 2)
    pm = np.einsum("kd,jd->jk", target.means, u)  # projected component means (J, K)
    qm = [np.einsum("jd,d->j", u, m) for m in means]
    qs = [np.sqrt(np.einsum("ji,ik,jk->j", u, c, u)) for c in covs]
    lo = (pm - SPAN_STD * target.stds).min(axis=1)
    hi = (pm + SPAN_STD * target.stds).max(axis=1)
    for m, s in zip(qm, qs, strict=True):
        lo, hi = np.minimum(lo, m - SPAN_STD * s), np.maximum(hi, m + SPAN_STD * s)
    x = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, n_grid)  # (J, n)
    fp = np.einsum("jnk,k->jn", ndtr((x[..., None] - pm[:, None, :]) / target.stds),
                   target.weights)
    dx = (hi - lo) / (n_grid - 1)
    out = []
    for m, s in zip(qm, qs, strict=True):
        fq = ndtr((x - m[:, None]) / s[:, None])
        out.append(float(np.mean(np.abs(fp - fq).sum(axis=1) * dx)))
    return out


def _as_cov(cov: ArrayLike, d: int) -> Array:
    """A (d, d) covariance from a covariance, or in 1D from a std (a scalar or shape (1,))."""
    c = np.asarray(cov, dtype=np.float64)
    if d == 1 and c.ndim < 2:
        return c.reshape(1, 1) ** 2
    return c.reshape(d, d)


def _grid(target: Mixture, means: Sequence[Array], stds: Sequence[Array],
          n: int | None = None) -> tuple[Array, float, Array]:
    """A uniform grid over the target and the given Gaussians to SPAN_STD stds: (points (m, d),
    cell size, 1D axis (1D only, else empty))."""
    lo, hi = target.box(SPAN_STD)
    for m, s in zip(means, stds, strict=True):
        lo = np.minimum(lo, m - SPAN_STD * s)
        hi = np.maximum(hi, m + SPAN_STD * s)
    if target.dim == 1:
        x = np.linspace(lo[0], hi[0], n or GRID_1D)
        return x[:, None], float(x[1] - x[0]), x
    gx = np.linspace(lo[0], hi[0], n or GRID_2D)
    gy = np.linspace(lo[1], hi[1], n or GRID_2D)
    xx, yy = np.meshgrid(gx, gy)
    cell = float((gx[1] - gx[0]) * (gy[1] - gy[0]))
    return np.column_stack([xx.ravel(), yy.ravel()]), cell, np.zeros(0)


def divergences_many(target: Mixture, models: Sequence[tuple[ArrayLike, ArrayLike]]
                     ) -> list[Divergences]:
    """:func:`divergences` for several Gaussians (mean, cov) at once, on one shared grid."""
    d = target.dim
    means = [np.atleast_1d(np.asarray(m, dtype=np.float64)).ravel() for m, _ in models]
    covs = [_as_cov(c, d) for _, c in models]
    x, cell, axis = _grid(target, means, [np.sqrt(np.diag(c)) for c in covs])
    log_p = target.logpdf(x)
    p = np.exp(log_p)
    cdf_p = target.cdf(axis) if d == 1 else None
    if d == 1:
        w1s = [w1_on_grid(cdf_p, ndtr((axis - m[0]) / np.sqrt(c[0, 0])), cell)
               for m, c in zip(means, covs, strict=True)]
    else:
        w1s = _sliced_w1_many(target, means, covs)
    out = []
    for mean, cov, w1 in zip(means, covs, w1s, strict=True):
        log_q = _gaussian_logpdf(x, mean, cov)
        out.append(Divergences(kl_on_grid(log_p, log_q, cell), kl_on_grid(log_q, log_p, cell),
                               tv_on_grid(p, np.exp(log_q), cell), w1, sliced=d == 2))
    return out


def divergences(target: Mixture, mean: ArrayLike, cov: ArrayLike) -> Divergences:
    """KL(p‖q), KL(q‖p), TV and W1 (2D: sliced W1) between the mixture p and q = N(mean, cov).

    KL and TV by sums on a uniform grid covering both densities to SPAN_STD = 7 stds (1D:
    GRID_1D = 4001 points; 2D: GRID_2D² = 201² points); W1 in 1D from the exact CDFs on that
    grid; sliced W1 in 2D by :func:`sliced_w1`.  ``cov``: (d, d), or in 1D a std.
    """
    return divergences_many(target, [(mean, cov)])[0]


def entropy(target: Mixture) -> float:
    """H(p) = −∫ p log p, by a sum on the uniform grid of :func:`divergences` (over the
    components to SPAN_STD stds)."""
    x, cell, _ = _grid(target, [], [])
    lp = target.logpdf(x)
    return float(-(np.exp(lp) * lp).sum() * cell)
