r"""Gaussian mixtures as *exact* targets for the score-based labs.

A mixture :math:`p = \sum_k \pi_k \mathcal N(\mu_k, \Sigma_k)` has a closed-form density, score
and (after Gaussian noising) noised score, so a lab that samples its data from a mixture can
show the true answer beside the learned one.  Two ways to get one:

* :func:`gallery_mixture`: the gallery sets that *are* mixtures ("8gaussians", "gaussian"),
  with the parameters ``genlab.engine.datasets.make_dataset`` samples from;
* :func:`fit_mixture`: K components fitted by EM (``genlab.engine.gmm``) to any points
  (another gallery set, or points the user drew); the lab then samples from the fitted
  mixture, so the "exact" score is exact for the data it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from genlab.engine import gmm

Array = NDArray[np.float64]

#: Gallery sets that are Gaussian mixtures; any other set is fitted with :func:`fit_mixture`.
GALLERY_MIXTURES = ("8gaussians", "gaussian")
#: Smallest component standard deviation, so a noise of 0 still gives a proper density.
MIN_STD = 0.02


@dataclass(frozen=True)
class Mixture:
    """weights (K,) summing to 1, means (K, 2), covariances (K, 2, 2) (symmetric positive
    definite)."""

    weights: Array
    means: Array
    covariances: Array

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64).ravel()
        m = np.asarray(self.means, dtype=np.float64).reshape(-1, 2)
        c = np.asarray(self.covariances, dtype=np.float64).reshape(-1, 2, 2)
        if not (len(w) == len(m) == len(c)) or len(w) == 0:
            raise ValueError("a mixture needs as many weights, means and covariances (K >= 1)")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("mixture weights must be finite, >= 0, with a positive sum")
        for name, a in (("weights", w / w.sum()), ("means", m), ("covariances", c)):
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])

    def sample(self, n: int, seed: int = 0) -> tuple[Array, NDArray[np.int64]]:
        """n points (n, 2) and the component each came from (n,)."""
        rng = np.random.default_rng(seed)
        k = rng.choice(self.n_components, size=int(n), p=self.weights)
        chol = np.linalg.cholesky(self.covariances)
        z = rng.standard_normal((int(n), 2))
        return self.means[k] + np.einsum("nij,nj->ni", chol[k], z), k.astype(np.int64)

    def log_density(self, x: ArrayLike) -> Array:
        """log p(x), shape (n,), for x (n, 2)."""
        return gmm.log_density(x, self.weights, self.means, self.covariances)

    def as_tuple(self) -> tuple[Array, Array, Array]:
        """(weights, means, covariances): the argument order of ``diffusion.gmm_score``."""
        return self.weights, self.means, self.covariances


def gallery_mixture(name: str, noise: float = 0.1) -> Mixture:
    """The mixture a gallery set is drawn from (see ``datasets.make_dataset``).

    "8gaussians": eight equal components at radius 2.5 with std 2·noise (at least MIN_STD);
    "gaussian": one component N(0, (1 + noise²) I).
    """
    s = float(noise)
    if name == "8gaussians":
        ang = 2.0 * np.pi * np.arange(8) / 8.0
        means = 2.5 * np.column_stack([np.cos(ang), np.sin(ang)])
        std = max(2.0 * s, MIN_STD)
        return Mixture(np.full(8, 1 / 8), means, np.repeat(std**2 * np.eye(2)[None], 8, 0))
    if name == "gaussian":
        return Mixture([1.0], [[0.0, 0.0]], [(1.0 + s * s) * np.eye(2)])
    raise ValueError(f"'{name}' is not a mixture in the gallery; valid: "
                     f"{', '.join(GALLERY_MIXTURES)} (fit others with fit_mixture)")


def fit_mixture(x: ArrayLike, k: int, seed: int = 0, n_iter: int = 100,
                reg_covar: float = 1e-3) -> Mixture:
    """K full-covariance components fitted to x (n, 2) by EM from k-means++ means.

    ``reg_covar`` is added to every covariance (as in scikit-learn), which keeps components on
    few points (a drawn stroke) from collapsing; the fit is deterministic for ``seed``.
    """
    xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    if len(xa) == 0:
        raise ValueError("fit_mixture needs at least one point")
    k = max(1, min(int(k), len(np.unique(xa, axis=0))))
    state = gmm.initial_state(xa, gmm.init_means(xa, k, "k-means++", seed), reg_covar)
    states = gmm.run_em(xa, state.weights, state.means, state.covariances, n_iter, reg_covar)
    last = states[-1] if states else state
    return Mixture(last.weights, last.means, last.covariances)
