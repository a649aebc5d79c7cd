r"""Gaussian latents in high dimension: the annulus, and paths between latents.

**The Gaussian annulus.**  For :math:`x \sim \mathcal N(0, I_d)`, :math:`\lVert x\rVert^2 \sim
\chi^2_d`, so :math:`\lVert x\rVert \sim \chi_d` with density (``chi_pdf``)

.. math:: f_d(r) = \frac{r^{d-1} e^{-r^2/2}}{2^{d/2-1}\,\Gamma(d/2)},\qquad r \ge 0,

mean :math:`\sqrt2\,\Gamma(\tfrac{d+1}2)/\Gamma(\tfrac d2) \approx \sqrt d` and standard
deviation :math:`\to 1/\sqrt2`: almost all the mass lies in a thin shell of radius √d
(Blum, Hopcroft & Kannan, *Foundations of Data Science*, 2020, thm 2.9), far from the mode at
0.  Two independent draws are ≈ √(2d) apart and nearly orthogonal; the angle θ between them
has density :math:`\propto \sin^{d-2}\theta` on [0, π].

**Paths between latents** x₀, x₁ (each of shape (d,), or any batch (..., d)):

* ``lerp``: :math:`(1-t)\,x_0 + t\,x_1`.  Its midpoint of two independent draws of
  N(0, I) is N(0, I/2): its norm falls to ≈ √(d/2), off the annulus the generator was
  trained on.
* ``slerp`` (Shoemake 1985; White 2016, "Sampling generative networks"): along the great
  circle, :math:`\frac{\sin((1-t)\Omega)}{\sin\Omega}x_0 + \frac{\sin(t\Omega)}{\sin\Omega}x_1`
  with :math:`\cos\Omega = \hat x_0\cdot\hat x_1`; keeps the norm of equal-norm endpoints.
* ``combine`` (Bodin et al., "Linear combinations of latents in generative models:
  subspaces and beyond", ICLR 2025): for K i.i.d. latents :math:`x_k \sim \mathcal N(\mu,
  \Sigma)` (rows of X, (K, d)) and weights w (K,),

  .. math:: y = \sum_k w_k x_k = w^\top X \sim \mathcal N(\alpha\mu,\ \beta\Sigma),\qquad
            \alpha = \textstyle\sum_k w_k,\quad \beta = \sum_k w_k^2 = w^\top w,

  because the means add with weights w_k and the (independent) covariances with weights
  w_k².  Hence

  .. math:: z = \mu + \frac{y - \alpha\mu}{\sqrt\beta} \sim \mathcal N(\mu, \Sigma)

  for ANY weights (β > 0): the map back to the prior needs √β, not β.  Dividing by
  :math:`w^\top w = \beta` instead leaves covariance Σ/β (twice the prior's at the
  midpoint of two latents), and lerp (dividing by nothing, α = 1) leaves βΣ (half of it).

Everything here is numpy/scipy only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

__all__ = ["angle_pdf", "chi_cdf", "chi_logpdf", "chi_mean", "chi_pdf", "chi_std", "combine",
           "gaussian_logpdf", "lerp", "log10_ball_volume", "slerp"]


def _t_axis(t: ArrayLike, ndim: int) -> np.ndarray:
    """t (T...) reshaped to (T..., 1, ..., 1) so that it broadcasts against (..., d)."""
    ta = np.asarray(t, dtype=np.float64)
    return ta.reshape(ta.shape + (1,) * ndim)


def lerp(a: ArrayLike, b: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Linear interpolation (1 − t)·a + t·b.

    a, b: (..., d) (broadcast together to shape S); t: a scalar, or an array of shape (T...).
    Returns shape (T..., *S): one interpolant per value of t, e.g. a, b (d,) and t (T,)
    give (T, d); a, b (n, d) and t (T,) give (T, n, d).  t outside [0, 1] extrapolates."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    shape = np.broadcast_shapes(a.shape, b.shape)
    tt = _t_axis(t, len(shape))
    return (1.0 - tt) * a + tt * b


def slerp(a: ArrayLike, b: ArrayLike, t: ArrayLike, eps: float = 1e-7) -> np.ndarray:
    r"""Spherical interpolation :math:`\frac{\sin((1-t)\Omega)}{\sin\Omega}a +
    \frac{\sin(t\Omega)}{\sin\Omega}b`, Ω the angle between a and b (about the origin).

    Shapes as in ``lerp``: a, b (..., d) broadcast to S, t scalar or (T...) -> (T..., *S).
    For equal-norm endpoints every point has their norm (the path is a great-circle arc);
    for unequal norms the norm moves between them (not linearly).  Where a and b are
    (anti)parallel (sin Ω < eps) the arc is not defined and the result is ``lerp``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    denom = np.where((na > 0) & (nb > 0), na * nb, 1.0)
    cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / denom, -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    ok = sin > eps
    safe = np.where(ok, sin, 1.0)
    tt = _t_axis(t, len(shape))
    ca = np.where(ok, np.sin((1.0 - tt) * omega) / safe, 1.0 - tt)
    cb = np.where(ok, np.sin(tt * omega) / safe, tt)
    return ca * a + cb * b


def combine(weights: ArrayLike, X: ArrayLike, mean: ArrayLike = 0.0) -> np.ndarray:
    r"""The linear combination of latents mapped back to their prior (Bodin et al. 2025):

    .. math:: z = \mu + \frac{w^\top X - \alpha\mu}{\sqrt\beta},\quad
              \alpha = \textstyle\sum_k w_k,\ \beta = \sum_k w_k^2 .

    If the rows of X (K, d) are i.i.d. N(μ, Σ), z ~ N(μ, Σ) for any fixed weights with
    β > 0 (Σ need not be known).  weights: (K,) or a batch (..., K); mean μ: a scalar or
    (d,).  Returns (d,) or (..., d).  ValueError for all-zero weights or mismatched K."""
    w = np.asarray(weights, dtype=np.float64)
    x = np.asarray(X, dtype=np.float64)
    mu = np.asarray(mean, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"X must be (K, d), got shape {x.shape}")
    if w.ndim < 1 or w.shape[-1] != x.shape[0]:
        raise ValueError(f"weights must be (..., {x.shape[0]}), got shape {w.shape}")
    alpha = w.sum(axis=-1, keepdims=True)
    beta = (w * w).sum(axis=-1, keepdims=True)
    if np.any(beta <= 0):
        raise ValueError("weights must not all be zero (β = Σ w_k² > 0)")
    return mu + (w @ x - alpha * mu) / np.sqrt(beta)


# ----------------------------------------------------------------------- closed forms

def chi_logpdf(r: ArrayLike, d: float) -> np.ndarray:
    """log of the χ_d density at r (any shape); −inf for r < 0 (and at r = 0 for d > 1)."""
    r = np.asarray(r, dtype=np.float64)
    d = float(d)
    if d <= 0:
        raise ValueError(f"d must be positive, got {d}")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ((d - 1.0) * np.log(np.where(r > 0, r, 1.0)) - 0.5 * r * r
               - (0.5 * d - 1.0) * np.log(2.0) - special.gammaln(0.5 * d))
    out = np.where(r > 0, out, -np.inf)
    if d == 1.0:  # r^0: the density is sqrt(2/π) at 0
        out = np.where(r == 0, 0.5 * np.log(2.0 / np.pi), out)
    return out


def chi_pdf(r: ArrayLike, d: float) -> np.ndarray:
    r"""Density of :math:`\chi_d`, the norm of N(0, I_d): :math:`r^{d-1}e^{-r^2/2} /
    (2^{d/2-1}\Gamma(d/2))` for r ≥ 0, 0 below; computed in logs (fine at d = 10⁴).
    r: any shape; returns the same shape."""
    return np.exp(chi_logpdf(r, d))


def chi_cdf(r: ArrayLike, d: float) -> np.ndarray:
    """P(‖x‖ ≤ r) for x ~ N(0, I_d): the regularised lower incomplete gamma P(d/2, r²/2)."""
    r = np.asarray(r, dtype=np.float64)
    return special.gammainc(0.5 * float(d), 0.5 * np.maximum(r, 0.0) ** 2)


def chi_mean(d: float) -> float:
    """E‖x‖ = √2 Γ((d+1)/2) / Γ(d/2) (→ √d − 1/(4√d) …)."""
    d = float(d)
    return float(np.sqrt(2.0) * np.exp(special.gammaln(0.5 * (d + 1)) - special.gammaln(0.5 * d)))


def chi_std(d: float) -> float:
    """Standard deviation of ‖x‖: √(d − (E‖x‖)²), → 1/√2 as d grows."""
    return float(np.sqrt(max(float(d) - chi_mean(d) ** 2, 0.0)))


def angle_pdf(theta: ArrayLike, d: int) -> np.ndarray:
    r"""Density of the angle θ ∈ [0, π] between two independent isotropic vectors in R^d
    (d ≥ 2): :math:`\sin^{d-2}\theta\,\Gamma(d/2) / (\sqrt\pi\,\Gamma((d-1)/2))`.  Its mean is
    π/2 and its standard deviation ≈ 1/√(d − 2) for large d."""
    if int(d) < 2:
        raise ValueError("the angle has a density for d >= 2 only (d = 1: 0 or π)")
    th = np.asarray(theta, dtype=np.float64)
    log_norm = special.gammaln(0.5 * d) - special.gammaln(0.5 * (d - 1)) - 0.5 * np.log(np.pi)
    s = np.sin(np.clip(th, 0.0, np.pi))
    with np.errstate(divide="ignore"):
        logp = (d - 2) * np.log(s) + log_norm if d > 2 else np.full_like(s, log_norm)
    inside = (th >= 0) & (th <= np.pi)
    return np.where(inside, np.exp(logp), 0.0)


def log10_ball_volume(d: ArrayLike) -> np.ndarray:
    r"""log₁₀ of the volume of the unit ball in R^d, :math:`\pi^{d/2}/\Gamma(d/2 + 1)` (its
    bounding cube [−1, 1]^d has volume 2^d).  d: any shape."""
    d = np.asarray(d, dtype=np.float64)
    return (0.5 * d * np.log(np.pi) - special.gammaln(0.5 * d + 1.0)) / np.log(10.0)


def gaussian_logpdf(z: ArrayLike, mean: ArrayLike = 0.0, var: ArrayLike = 1.0) -> np.ndarray:
    """log N(z; μ, diag(var)) for z (..., d); mean, var scalars or (d,).  Returns (...)."""
    z = np.asarray(z, dtype=np.float64)
    v = np.broadcast_to(np.asarray(var, dtype=np.float64), z.shape[-1:])
    u = z - np.asarray(mean, dtype=np.float64)
    return -0.5 * (z.shape[-1] * np.log(2.0 * np.pi) + np.log(v).sum()
                   + np.sum(u * u / v, axis=-1))
