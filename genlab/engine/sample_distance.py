r"""Distances between two clouds of 2D samples: how close a sampler's output is to its target.

* :func:`sliced_wasserstein`: the sliced 2-Wasserstein distance (Rabin et al. 2011;
  Bonneel et al. 2015)

  .. math:: SW_2(\mu, \nu) = \Big(\frac1L\sum_{l=1}^{L} W_2^2(\theta_l^\top\mu,
            \theta_l^\top\nu)\Big)^{1/2},

  with L directions :math:`\theta_l` on the unit circle; each 1D W₂ is computed exactly between
  the empirical measures by matching quantiles (sorted samples), so the clouds may have
  different sizes.
* :func:`energy_distance`: the energy distance (Székely & Rizzo)

  .. math:: D^2(\mu,\nu) = 2\,\mathbb E\lVert X-Y\rVert - \mathbb E\lVert X-X'\rVert
            - \mathbb E\lVert Y-Y'\rVert,

  from V-statistics (all pairs, including a point with itself), on at most ``max_points``
  points of each cloud.

Both are zero for equal clouds, symmetric, and seeded (directions, subsampling), so a lab
plotting them over time shows the sampler's progress and not the metric's own noise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

__all__ = ["energy_distance", "sliced_wasserstein", "wasserstein_1d_sq"]


def _cloud(x: ArrayLike, name: str) -> Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array, got shape {a.shape}")
    return a


def wasserstein_1d_sq(u: ArrayLike, v: ArrayLike) -> Array:
    r"""Squared W₂ between 1D empirical measures, for each column: u (n, L), v (m, L) →
    (L,).  :math:`W_2^2 = \int_0^1 (F_u^{-1}(q) - F_v^{-1}(q))^2\,dq`, exact for piecewise
    constant quantile functions (integrated over the union of their breakpoints)."""
    us, vs = np.sort(np.asarray(u, dtype=np.float64), axis=0), np.sort(
        np.asarray(v, dtype=np.float64), axis=0)
    n, m = len(us), len(vs)
    if n == m:
        return ((us - vs) ** 2).mean(axis=0)
    # the quantile levels where either function jumps; on each piece both are constant
    q = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    w = np.diff(np.concatenate([[0.0], q]))
    mid = q - 0.5 * w
    iu = np.minimum((mid * n).astype(np.int64), n - 1)
    iv = np.minimum((mid * m).astype(np.int64), m - 1)
    return (w[:, None] * (us[iu] - vs[iv]) ** 2).sum(axis=0)


def sliced_wasserstein(x: ArrayLike, y: ArrayLike, n_proj: int = 64, seed: int = 0) -> float:
    """Sliced W₂ between the clouds x (n, d) and y (m, d), over ``n_proj`` random unit
    directions drawn from ``seed`` (the same directions for the same seed)."""
    xa, ya = _cloud(x, "x"), _cloud(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {xa.shape[1]} and "
                         f"{ya.shape[1]}")
    theta = np.random.default_rng(seed).standard_normal((xa.shape[1], int(n_proj)))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    return float(np.sqrt(wasserstein_1d_sq(xa @ theta, ya @ theta).mean()))


def _mean_dist(a: Array, b: Array) -> float:
    """Mean Euclidean distance over all pairs, in blocks (bounded memory)."""
    total = 0.0
    for i in range(0, len(a), 512):
        d = a[i:i + 512, None, :] - b[None, :, :]
        total += float(np.sqrt((d * d).sum(axis=-1)).sum())
    return total / (len(a) * len(b))


def energy_distance(x: ArrayLike, y: ArrayLike, max_points: int = 2000, seed: int = 0) -> float:
    """The energy distance D (the square root of D², so it scales like a length) between the
    clouds x (n, d) and y (m, d); each is subsampled (seeded) to at most ``max_points``."""
    xa, ya = _cloud(x, "x"), _cloud(y, "y")
    rng = np.random.default_rng(seed)
    if len(xa) > max_points:
        xa = xa[rng.choice(len(xa), max_points, replace=False)]
    if len(ya) > max_points:
        ya = ya[rng.choice(len(ya), max_points, replace=False)]
    d2 = 2.0 * _mean_dist(xa, ya) - _mean_dist(xa, xa) - _mean_dist(ya, ya)
    return float(np.sqrt(max(d2, 0.0)))
