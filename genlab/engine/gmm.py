r"""Gaussian mixture models in the plane, fitted by expectation-maximisation.

Everything here is plain numpy, written for 2D data so that the 2x2 inverses and determinants
are closed forms and every step is vectorised over the points (no Python loop over points).
Equations follow Bishop, *Pattern Recognition and Machine Learning* (PRML), ch. 9.2.

The model (PRML eq. 9.7), for K components with weights :math:`\pi_k` (summing to 1), means
:math:`\mu_k` and covariances :math:`\Sigma_k`:

.. math:: p(x) = \sum_{k=1}^K \pi_k \, \mathcal N(x \mid \mu_k, \Sigma_k)

EM alternates (PRML eqs. 9.23-9.27):

* E-step: responsibilities :math:`\gamma_{ik} = \pi_k \mathcal N(x_i|\mu_k,\Sigma_k)
  / \sum_j \pi_j \mathcal N(x_i|\mu_j,\Sigma_j)`;
* M-step: :math:`N_k = \sum_i \gamma_{ik}`, :math:`\pi_k = N_k / N`,
  :math:`\mu_k = \frac1{N_k}\sum_i \gamma_{ik} x_i`,
  :math:`\Sigma_k = \frac1{N_k}\sum_i \gamma_{ik}(x_i-\mu_k)(x_i-\mu_k)^\top + \varepsilon I`.

The mean log-likelihood :math:`\frac1N\sum_i \log p(x_i)` never decreases from one EM iteration
to the next (PRML 9.4).  ``reg_covar`` (:math:`\varepsilon`) is added to every covariance's
diagonal exactly as scikit-learn's ``GaussianMixture`` does, and ``N_k`` carries scikit-learn's
``10 * machine epsilon``, so from the same initial parameters both give the same iterates.
With :math:`\varepsilon > 0` the M-step is no longer the exact maximiser of the expected
log-likelihood, so near convergence the log-likelihood can dip slightly (measured: by at most a
few hundredths of ``reg_covar`` per iteration); with ``reg_covar = 0`` the guarantee is exact,
but a collapsing component then makes a covariance singular (``ValueError``).

Shapes: ``x`` (n, 2); ``weights`` (K,); ``means`` (K, 2); ``covariances`` (K, 2, 2) always, also
for the "diag" and "spherical" covariance types (whose matrices are then diagonal / isotropic).

Degenerate data are handled without NaNs: more components than points, duplicated points and
a component collapsing onto a single point (its covariance is then ``reg_covar * I``, finite as
long as ``reg_covar > 0``).  A component whose responsibilities sum to less than
``DEAD_MASS`` (it explains no point at all) keeps its previous mean and covariance when
:func:`m_step` is given them (``previous=``, as :func:`run_em` does), else it falls back to the
data mean and covariance.  Keeping a component's old parameters is a "generalised" M-step: the
expected complete-data log-likelihood still does not decrease, so neither does the
log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "COVARIANCE_TYPES",
    "DEAD_MASS",
    "GMMState",
    "component_log_prob",
    "constrain_covariances",
    "data_covariance",
    "e_step",
    "init_means",
    "initial_state",
    "log_density",
    "m_step",
    "run_em",
]

Array = NDArray[np.float64]
CovarianceType = Literal["full", "diag", "spherical"]
COVARIANCE_TYPES: tuple[str, ...] = ("full", "diag", "spherical")

#: Total responsibility below which a component counts as empty in the M-step.
DEAD_MASS = 1e-10

_LOG_2PI = float(np.log(2.0 * np.pi))
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, eq=False)
class GMMState:
    """Parameters of a 2D Gaussian mixture and the fit they give.

    weights: (K,) mixing proportions summing to 1; means: (K, 2); covariances: (K, 2, 2);
    log_likelihood: mean log-likelihood per point, :math:`\\frac1N\\sum_i\\log p(x_i)`, of the
    data under *these* parameters.
    """

    weights: Array
    means: Array
    covariances: Array
    log_likelihood: float

    def __post_init__(self) -> None:
        for name in ("weights", "means", "covariances"):
            a = np.array(getattr(self, name), dtype=np.float64)  # a private, read-only copy
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        object.__setattr__(self, "log_likelihood", float(self.log_likelihood))

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])


# ----------------------------------------------------------------------------- validation


def _points(x: ArrayLike) -> Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {a.shape}")
    return a


def _params(weights: ArrayLike | None, means: ArrayLike,
            covariances: ArrayLike) -> tuple[Array | None, Array, Array]:
    m = np.asarray(means, dtype=np.float64)
    c = np.asarray(covariances, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != 2:
        raise ValueError(f"means must have shape (K, 2), got {m.shape}")
    if c.shape != (m.shape[0], 2, 2):
        raise ValueError(f"covariances must have shape ({m.shape[0]}, 2, 2), got {c.shape}")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (m.shape[0],):
            raise ValueError(f"weights must have shape ({m.shape[0]},), got {w.shape}")
    return w, m, c


def _check_covariance_type(covariance_type: str) -> None:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, "
                         f"got {covariance_type!r}")


# ------------------------------------------------------------------------------ densities


def _whitening(means: Array, covariances: Array) -> tuple[Array, Array, Array]:
    """Per component, the linear map u = W^T x - b with |u|^2 the Mahalanobis distance.

    With :math:`\\Sigma = [[a, b], [b, c]] = L L^\\top` (Cholesky, :math:`l_{11} = \\sqrt a`,
    :math:`l_{21} = b/\\sqrt a`, :math:`l_{22} = \\sqrt{\\det\\Sigma / a}`),
    :math:`u = L^{-1}(x - \\mu)`: :math:`u_1 = (x_1-\\mu_1)/\\sqrt a` and
    :math:`u_2 = ((x_2-\\mu_2) - \\tfrac ba (x_1-\\mu_1))\\sqrt{a/\\det\\Sigma}`.

    Returns W (2, 2K) (columns: the K u_1 maps, then the K u_2 maps), the offsets (2K,) and
    the log-determinants (K,).
    """
    a = covariances[:, 0, 0]
    b = 0.5 * (covariances[:, 0, 1] + covariances[:, 1, 0])
    c = covariances[:, 1, 1]
    det = a * c - b * b
    if not (np.all(a > 0) and np.all(det > 0) and np.all(np.isfinite(det))):
        bad = int(np.flatnonzero(~((a > 0) & (det > 0) & np.isfinite(det)))[0])
        raise ValueError(f"covariance of component {bad} is not positive definite "
                         f"(use reg_covar > 0 to keep collapsing components finite)")
    k = means.shape[0]
    inv_sqrt_a = 1.0 / np.sqrt(a)
    s2 = np.sqrt(a / det)
    w = np.zeros((2, 2 * k))
    w[0, :k] = inv_sqrt_a
    w[0, k:] = -(b / a) * s2
    w[1, k:] = s2
    off = np.concatenate([means[:, 0] * w[0, :k],
                          means[:, 0] * w[0, k:] + means[:, 1] * w[1, k:]])
    return w, off, np.log(det)


def component_log_prob(x: ArrayLike, means: ArrayLike, covariances: ArrayLike) -> Array:
    """Log-densities :math:`\\log\\mathcal N(x_i \\mid \\mu_k, \\Sigma_k)`, shape (n, K).

    .. math:: \\log\\mathcal N(x|\\mu,\\Sigma) = -\\log 2\\pi - \\tfrac12\\log\\det\\Sigma
              - \\tfrac12 (x-\\mu)^\\top\\Sigma^{-1}(x-\\mu)

    x: (n, 2); means: (K, 2); covariances: (K, 2, 2) symmetric positive definite.
    (The result is a transposed view of a (K, n) array: component-major storage makes the
    reductions over components contiguous, which is what makes :func:`e_step` fast.)
    """
    xa = _points(x)
    _, m, c = _params(None, means, covariances)
    return _log_prob_t(xa, m, c, None).T


def _log_prob_t(x: Array, means: Array, covariances: Array, weights: Array | None) -> Array:
    """(K, n) log N(x_i | mu_k, Sigma_k) (+ log pi_k if weights given), a fresh array."""
    k = means.shape[0]
    w, off, logdet = _whitening(means, covariances)
    u = w.T @ x.T  # (2K, n): the whitened coordinates u_1 (first K rows) and u_2
    u -= off[:, None]
    np.square(u, out=u)
    maha = u[:k]
    maha += u[k:]  # (K, n) view into u, now the Mahalanobis distances
    const = -_LOG_2PI - 0.5 * logdet
    if weights is not None:
        with np.errstate(divide="ignore"):
            const = const + np.log(weights)
    maha *= -0.5
    maha += const[:, None]
    return maha


def _normalise_columns(lp: Array, normalise: bool = True) -> Array:
    """Returns logsumexp over components (n,) of lp (K, n); lp is overwritten, with
    exp(lp - logsumexp(lp)) (columns summing to 1) when ``normalise``."""
    mx = lp.max(axis=0)
    if not np.all(np.isfinite(mx)):
        raise ValueError("a point has zero density under every component")
    lp -= mx
    np.exp(lp, out=lp)
    s = lp.sum(axis=0)
    if normalise:
        lp /= s
    np.log(s, out=s)
    s += mx
    return s


def log_density(x: ArrayLike, weights: ArrayLike, means: ArrayLike,
                covariances: ArrayLike) -> Array:
    """Log of the mixture density, :math:`\\log p(x_i) = \\operatorname{logsumexp}_k
    (\\log\\pi_k + \\log\\mathcal N(x_i|\\mu_k,\\Sigma_k))` (PRML eq. 9.7), shape (n,).

    x: (n, 2); weights: (K,); means: (K, 2); covariances: (K, 2, 2).
    """
    xa = _points(x)
    w, m, c = _params(weights, means, covariances)
    assert w is not None
    lp = _log_prob_t(xa, m, c, w)
    if lp.shape[1] == 0:
        return np.zeros(0)
    return _normalise_columns(lp, normalise=False)


def e_step(x: ArrayLike, weights: ArrayLike, means: ArrayLike,
           covariances: ArrayLike) -> tuple[Array, float]:
    """E-step (PRML eq. 9.23): responsibilities and the mean log-likelihood.

    .. math:: \\gamma_{ik} = \\frac{\\pi_k\\mathcal N(x_i|\\mu_k,\\Sigma_k)}
              {\\sum_j \\pi_j\\mathcal N(x_i|\\mu_j,\\Sigma_j)}

    Returns resp (n, K), rows summing to 1 (a transposed view of a (K, n) array), and
    :math:`\\frac1N\\sum_i\\log p(x_i)` under the given parameters (the log-likelihood
    *before* the M-step that will use resp).
    """
    xa = _points(x)
    w, m, c = _params(weights, means, covariances)
    assert w is not None
    lp = _log_prob_t(xa, m, c, w)
    if lp.shape[1] == 0:
        return lp.T, 0.0
    logp = _normalise_columns(lp)
    return lp.T, float(logp.mean())


# --------------------------------------------------------------------------------- M-step


def data_covariance(x: ArrayLike) -> Array:
    """Maximum-likelihood covariance (divisor n) of x (n, 2), shape (2, 2); zeros if n < 2."""
    xa = _points(x)
    if xa.shape[0] < 2:
        return np.zeros((2, 2))
    d = xa - xa.mean(axis=0)
    return (d.T @ d) / xa.shape[0]


def constrain_covariances(covariances: ArrayLike,
                          covariance_type: str = "full") -> Array:
    """Project covariances (K, 2, 2) onto a covariance type, shape (K, 2, 2).

    "full": unchanged (symmetrised); "diag": off-diagonals set to 0; "spherical": the mean of
    the two variances times I (the same reduction scikit-learn uses).
    """
    _check_covariance_type(covariance_type)
    c = np.array(covariances, dtype=np.float64).reshape(-1, 2, 2)
    off = 0.5 * (c[:, 0, 1] + c[:, 1, 0])
    if covariance_type == "full":
        c[:, 0, 1] = c[:, 1, 0] = off
        return c
    c[:, 0, 1] = c[:, 1, 0] = 0.0
    if covariance_type == "spherical":
        v = 0.5 * (c[:, 0, 0] + c[:, 1, 1])
        c[:, 0, 0] = c[:, 1, 1] = v
    return c


def m_step(x: ArrayLike, resp: ArrayLike, reg_covar: float = 1e-6,
           covariance_type: str = "full", *,
           previous: tuple[ArrayLike, ArrayLike] | None = None) -> tuple[Array, Array, Array]:
    """M-step (PRML eqs. 9.24-9.27): the parameters maximising the expected log-likelihood.

    .. math::
        N_k = \\sum_i\\gamma_{ik} + 10\\,\\epsilon_{mach},\\quad
        \\pi_k = N_k / \\sum_j N_j,\\quad
        \\mu_k = \\frac1{N_k}\\sum_i\\gamma_{ik}x_i,\\quad
        \\Sigma_k = \\frac1{N_k}\\sum_i\\gamma_{ik}(x_i-\\mu_k)(x_i-\\mu_k)^\\top
                    + \\varepsilon I

    For "diag" only the diagonal of :math:`\\Sigma_k` is kept; for "spherical" the mean of the
    two variances (then :math:`+\\varepsilon`), as in scikit-learn.

    x: (n, 2); resp: (n, K) responsibilities; reg_covar: :math:`\\varepsilon \\ge 0`.
    previous: optional (means (K, 2), covariances (K, 2, 2)) kept for components whose total
    responsibility is below ``DEAD_MASS``; without it such components fall back to the data
    mean and covariance (+ reg_covar).
    Returns weights (K,), means (K, 2), covariances (K, 2, 2).
    """
    _check_covariance_type(covariance_type)
    xa = _points(x)
    r = np.asarray(resp, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != xa.shape[0]:
        raise ValueError(f"resp must have shape ({xa.shape[0]}, K), got {r.shape}")
    if reg_covar < 0:
        raise ValueError("reg_covar must be >= 0")
    k = r.shape[1]
    n = xa.shape[0]
    # Weighted moments of the centred data in one matrix product: resp^T [x, x*x] (K, 5).
    # Centring keeps E[x x^T] - mu mu^T accurate (error ~ eps * spread^2, far below reg_covar).
    center = xa.mean(axis=0) if n else np.zeros(2)
    xc = xa - center
    feats = np.empty((n, 5))
    feats[:, :2] = xc
    feats[:, 2] = xc[:, 0] * xc[:, 0]
    feats[:, 3] = xc[:, 0] * xc[:, 1]
    feats[:, 4] = xc[:, 1] * xc[:, 1]
    mass = r.sum(axis=0)
    nk = mass + 10.0 * _EPS
    mom = (r.T @ feats) / nk[:, None]
    mu_c = mom[:, :2]
    cov = np.empty((k, 2, 2))
    vx = mom[:, 2] - mu_c[:, 0] ** 2
    vy = mom[:, 4] - mu_c[:, 1] ** 2
    cxy = mom[:, 3] - mu_c[:, 0] * mu_c[:, 1]
    # E[x x^T] - mu mu^T loses ~eps * E|x|^2 to cancellation: exact for every spread that
    # matters next to reg_covar, but not for a component collapsing onto a point or a line.
    # Those (rare) components are recomputed from the centred deviations, as two passes do.
    half = 0.5 * (vx + vy)
    lam_min = half - np.sqrt((0.5 * (vx - vy)) ** 2 + cxy * cxy)
    for j in np.flatnonzero(lam_min < 1e-9 * (1.0 + mom[:, 2] + mom[:, 4])):
        d = xc - mu_c[j]
        rd = r[:, j] * d.T
        vx[j] = rd[0] @ d[:, 0] / nk[j]
        vy[j] = rd[1] @ d[:, 1] / nk[j]
        cxy[j] = rd[0] @ d[:, 1] / nk[j]
    # Rounding can make a collapsed component's variance a hair negative: clip onto the PSD cone.
    np.maximum(vx, 0.0, out=vx)
    np.maximum(vy, 0.0, out=vy)
    lim = np.sqrt(vx * vy)
    np.clip(cxy, -lim, lim, out=cxy)
    if covariance_type == "full":
        cov[:, 0, 0], cov[:, 1, 1] = vx, vy
        cov[:, 0, 1] = cov[:, 1, 0] = cxy
    elif covariance_type == "diag":
        cov[:, 0, 0], cov[:, 1, 1] = vx, vy
        cov[:, 0, 1] = cov[:, 1, 0] = 0.0
    else:
        v = 0.5 * (vx + vy)
        cov[:, 0, 0] = cov[:, 1, 1] = v
        cov[:, 0, 1] = cov[:, 1, 0] = 0.0
    cov[:, 0, 0] += reg_covar
    cov[:, 1, 1] += reg_covar
    means = mu_c + center

    dead = mass < DEAD_MASS
    if np.any(dead):
        if previous is not None:
            pm = np.asarray(previous[0], dtype=np.float64).reshape(k, 2)
            pc = np.asarray(previous[1], dtype=np.float64).reshape(k, 2, 2)
            means[dead] = pm[dead]
            cov[dead] = pc[dead]
        else:
            dc = constrain_covariances(data_covariance(xa)[None], covariance_type)[0]
            dc[0, 0] += reg_covar
            dc[1, 1] += reg_covar
            means[dead] = center
            cov[dead] = dc
    weights = nk / nk.sum()
    return weights, means, cov


# ------------------------------------------------------------------------------ the loop


def run_em(x: ArrayLike, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike,
           n_iter: int, reg_covar: float = 1e-6,
           covariance_type: str = "full") -> list[GMMState]:
    """Run ``n_iter`` EM iterations from the given parameters.

    Returns a list of length n_iter: entry k (0-based) holds the parameters after k + 1
    iterations, with the mean log-likelihood under *those* parameters (non-decreasing along
    the list, up to rounding).  x: (n, 2); weights (K,); means (K, 2); covariances (K, 2, 2).
    """
    xa = _points(x)
    w, m, c = _params(weights, means, covariances)
    assert w is not None
    resp, _ = e_step(xa, w, m, c)
    states: list[GMMState] = []
    for _ in range(int(n_iter)):
        w, m, c = m_step(xa, resp, reg_covar, covariance_type, previous=(m, c))
        resp, ll = e_step(xa, w, m, c)
        states.append(GMMState(w, m, c, ll))
    return states


# ------------------------------------------------------------------------- initialisation


def _jittered(x: Array, count: int, rng: np.random.Generator) -> Array:
    """``count`` random data points moved by a small Gaussian jitter (5% of the data's spread),
    used when there are fewer distinct points than components."""
    scale = float(np.sqrt(np.trace(data_covariance(x)) / 2.0))
    scale = 0.05 * (scale if scale > 0 else 1.0)
    idx = rng.integers(0, x.shape[0], size=count)
    return x[idx] + scale * rng.standard_normal((count, 2))


def init_means(x: ArrayLike, k: int, method: str = "random", seed: int = 0) -> Array:
    """Initial means (k, 2) picked from the data x (n, 2).

    "random": k distinct data points drawn uniformly without replacement.
    "k-means++": the first mean is a uniform data point, each next one a data point drawn with
    probability proportional to its squared distance to the nearest mean already chosen
    (:math:`D^2` sampling, Arthur & Vassilvitskii 2007).
    When the data hold fewer than k distinct points, every distinct point is used once and the
    remaining means are data points with a small jitter (so that components can separate).
    """
    xa = _points(x)
    if xa.shape[0] == 0:
        raise ValueError("init_means needs at least one data point")
    if k < 1:
        raise ValueError("k must be >= 1")
    rng = np.random.default_rng(seed)
    uniq = np.unique(xa, axis=0)
    if method == "random":
        if uniq.shape[0] >= k:
            if uniq.shape[0] == xa.shape[0]:
                return xa[rng.choice(xa.shape[0], size=k, replace=False)].copy()
            return uniq[rng.choice(uniq.shape[0], size=k, replace=False)].copy()
        first = uniq[rng.permutation(uniq.shape[0])]
        return np.concatenate([first, _jittered(xa, k - uniq.shape[0], rng)])
    if method != "k-means++":
        raise ValueError(f"method must be 'random' or 'k-means++', got {method!r}")
    out = np.empty((k, 2))
    out[0] = xa[rng.integers(xa.shape[0])]
    d2 = ((xa - out[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        total = d2.sum()
        if total > 0:
            p = d2 / total
            out[j] = xa[rng.choice(xa.shape[0], p=p)]
        else:  # every point already is a mean
            out[j] = _jittered(xa, 1, rng)[0]
        np.minimum(d2, ((xa - out[j]) ** 2).sum(axis=1), out=d2)
    return out


def initial_state(x: ArrayLike, means: ArrayLike, reg_covar: float = 1e-6,
                  covariance_type: str = "full") -> GMMState:
    """Uniform weights, the given means (K, 2), and every covariance equal to the data's
    covariance (divisor n, projected onto ``covariance_type``) plus reg_covar * I; with fewer
    than 2 points a small isotropic covariance 0.1 I (+ reg_covar) instead (0.1 I is also
    added when the result would be singular: duplicated points with reg_covar = 0).
    The state's log-likelihood is the mean log-likelihood of x (n, 2) under it.
    """
    xa = _points(x)
    m = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    k = m.shape[0]
    if xa.shape[0] >= 2:
        base = constrain_covariances(data_covariance(xa)[None], covariance_type)[0]
    else:
        base = 0.1 * np.eye(2)
    base = base + reg_covar * np.eye(2)
    if np.linalg.det(base) <= 0:  # duplicated or collinear points with reg_covar = 0
        base = base + 0.1 * np.eye(2)
    cov = np.repeat(base[None], k, axis=0)
    w = np.full(k, 1.0 / k)
    ll = float(log_density(xa, w, m, cov).mean()) if xa.shape[0] else 0.0
    return GMMState(w, m, cov, ll)
