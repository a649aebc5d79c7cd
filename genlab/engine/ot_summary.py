"""Small summaries of a transport plan, for drawing one without sending an (n, m) matrix.

* :func:`principal_order`: sort both clouds along the first principal direction of the pooled
  points, so a plan's matrix shows its structure (the monotone coupling of a 1D problem is a
  diagonal staircase in that order);
* :func:`block_means`: the plan downsampled to at most (rows, cols) blocks, each the mean
  entry of its block of the matrix;
* :func:`top_entries`: the heaviest entries (i, j, mass), for drawing segments x_i → y_j;
* :func:`sample_pairs`: pairs (i, j) drawn with probability P_ij (for a plan whose entries are
  all alike, such as the independent coupling, where "the heaviest" would be arbitrary).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["block_means", "principal_direction", "principal_order", "sample_pairs",
           "top_entries"]

Array = NDArray[np.float64]
Index = NDArray[np.int64]


def principal_direction(x: ArrayLike, y: ArrayLike) -> Array:
    """Unit vector (d,) along which the pooled points x (n, d) and y (m, d) vary most.

    The leading eigenvector of the pooled covariance, its sign fixed so that its largest
    component is positive (deterministic).  For coinciding points: the first axis.
    """
    pts = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
    d = pts.shape[1]
    if len(pts) < 2:
        return np.eye(d)[0]
    cov = np.cov(pts, rowvar=False).reshape(d, d)
    if not np.any(cov):
        return np.eye(d)[0]
    vals, vecs = np.linalg.eigh(cov)
    v = vecs[:, -1]
    return v if v[np.argmax(np.abs(v))] > 0 else -v


def principal_order(x: ArrayLike, y: ArrayLike) -> tuple[Index, Index]:
    """Stable argsorts (n,), (m,) of x and y by their projections on principal_direction."""
    v = principal_direction(x, y)
    px = np.asarray(x, dtype=np.float64) @ v
    py = np.asarray(y, dtype=np.float64) @ v
    return np.argsort(px, kind="stable"), np.argsort(py, kind="stable")


def _edges(n: int, k: int) -> Index:
    """Start indices of min(n, k) nearly equal consecutive blocks of range(n)."""
    k = max(1, min(n, k))
    return np.floor(np.arange(k) * (n / k)).astype(np.int64)


def block_means(plan: ArrayLike, rows: int = 150, cols: int = 150) -> Array:
    """The plan (n, m) as (min(n, rows), min(m, cols)) blocks, each its mean entry.

    Blocks are consecutive runs of nearly equal size (they differ by at most one row or
    column), so a constant plan gives a constant picture.  Multiply by the block's area to get
    its mass.
    """
    p = np.asarray(plan, dtype=np.float64)
    n, m = p.shape
    er, ec = _edges(n, rows), _edges(m, cols)
    sums = np.add.reduceat(np.add.reduceat(p, er, axis=0), ec, axis=1)
    hr = np.diff(np.append(er, n))
    hc = np.diff(np.append(ec, m))
    return sums / np.outer(hr, hc)


def top_entries(plan: ArrayLike, k: int) -> tuple[Index, Index, Array]:
    """The (at most) k heaviest positive entries of a plan (n, m): rows i, columns j, masses.

    Sorted by increasing mass (so the heaviest are drawn last, on top).  Among equal masses the
    choice is arbitrary but deterministic.
    """
    p = np.asarray(plan, dtype=np.float64)
    flat = p.ravel()
    # Partitioning among many equal zeros (a sparse plan) is introselect's slow case: drop them.
    idx = np.flatnonzero(flat > 0)
    if len(idx) > k:
        idx = idx[np.argpartition(flat[idx], len(idx) - k)[len(idx) - k:]]
    idx = idx[np.argsort(flat[idx], kind="stable")]
    i, j = np.divmod(idx, p.shape[1])
    return i, j, flat[idx]


def sample_pairs(plan: ArrayLike, k: int, rng: np.random.Generator) -> tuple[Index, Index]:
    """k pairs (i, j) drawn independently with probability P_ij / Σ P (rows (k,), cols (k,))."""
    p = np.asarray(plan, dtype=np.float64)
    flat = p.ravel()
    cdf = np.cumsum(flat)
    u = rng.random(k) * cdf[-1]
    idx = np.minimum(np.searchsorted(cdf, u, side="right"), flat.size - 1)
    i, j = np.divmod(idx, p.shape[1])
    return i, j
