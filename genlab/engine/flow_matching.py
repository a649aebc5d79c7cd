r"""Conditional flow matching with straight paths (numpy; the trainer is in
``genlab.engine.flow_matching_trainer``).

A pair :math:`(x_0, x_1)`, :math:`x_0` from the source and :math:`x_1` from the target, is
joined by the straight path and its constant velocity (Lipman et al. 2023 with
:math:`\sigma_{min} = 0`; Liu et al. 2023, rectified flow):

.. math:: x_t = (1 - t)\,x_0 + t\,x_1,\qquad u_t = \frac{d x_t}{dt} = x_1 - x_0,
          \qquad t\in[0, 1].

Regressing a net :math:`v_\theta(x, t)` on :math:`u_t` at :math:`x_t` learns the *marginal*
velocity :math:`u_t(x) = \mathbb E[x_1 - x_0 \mid x_t = x]`, whose ODE
:math:`\dot x = u_t(x)` carries the source distribution to the target.  How the pairs are
drawn is the coupling: independent (the product of the marginals), or re-paired within a
minibatch by optimal transport (OT-CFM, Tong et al. 2024; Pooladian et al. 2023), which makes
the learned paths straighter.

For Gaussian-mixture source and target drawn independently the marginal velocity and the
density of :math:`x_t` are closed forms (:func:`mixture_velocity`, :func:`mixture_log_density`):
the ground truth the labs draw beside a learned field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from genlab.engine import gmm
from genlab.engine.mixtures import Mixture

Array = NDArray[np.float64]
#: A velocity field v(x, t): x (n, d), t a float -> (n, d).
VelocityFn = Callable[[Array, float], Array]
Coupling = Literal["independent", "ot"]
Method = Literal["euler", "midpoint"]
COUPLINGS: tuple[str, ...] = ("independent", "ot")
METHODS: tuple[str, ...] = ("euler", "midpoint")
#: The standard normal N(0, I) in 2D as a one-component mixture (the usual source).
STANDARD_NORMAL = Mixture([1.0], [[0.0, 0.0]], [np.eye(2)])

__all__ = ["COUPLINGS", "METHODS", "STANDARD_NORMAL", "VelocityFn", "conditional_path",
           "mixture_log_density", "mixture_velocity", "pair", "pairing", "path_length_ratio",
           "sample", "step", "straightness", "time_grid"]


# ------------------------------------------------------------------------ paths and pairs


def conditional_path(x0: Any, x1: Any, t: Any) -> tuple[Any, Any]:
    r"""The straight conditional path and its target velocity:
    :math:`x_t = (1 - t)x_0 + t x_1`, :math:`u_t = x_1 - x_0`.

    x0, x1: (n, d) numpy arrays or torch tensors (the same kind); t: a float, or (n,) (one
    time per pair).  Returns (x_t, u_t), both (n, d), of the inputs' kind.
    """
    if getattr(t, "ndim", 0) == 1:
        t = t[:, None]
    return (1 - t) * x0 + t * x1, x1 - x0


def _cloud(x: ArrayLike, name: str) -> Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got {a.shape}")
    return a


def pairing(x0: ArrayLike, x1: ArrayLike, coupling: Coupling | str = "independent"
            ) -> NDArray[np.int64]:
    r"""Which target point each source point is paired with: perm (n,), x1[perm[i]] goes with
    x0[i].

    "independent": the batches as drawn (perm = 0..n−1): independent draws are already a
    sample of the product coupling.  "ot": the exact optimal-transport plan between the two
    batches with uniform weights and cost :math:`\lVert x_0 - x_1\rVert^2`
    (``genlab.engine.ot.coupling(..., "exact")``); with equal weights an optimal plan is a
    permutation matrix (Birkhoff), which minimises :math:`\sum_i\lVert x_0^i - x_1^{\pi(i)}
    \rVert^2` over permutations.  x0, x1: (n, d) with the same n.
    """
    a, b = _cloud(x0, "x0"), _cloud(x1, "x1")
    if a.shape != b.shape:
        raise ValueError(f"pairing needs batches of the same shape, got {a.shape} and "
                         f"{b.shape}")
    n = len(a)
    if coupling == "independent":
        return np.arange(n, dtype=np.int64)
    if coupling != "ot":
        raise ValueError(f"unknown coupling {coupling!r}: valid couplings are "
                         f"{', '.join(COUPLINGS)}")
    from genlab.engine.ot import coupling as ot_coupling

    plan = ot_coupling(a, b, "exact")
    perm = np.argmax(plan, axis=1).astype(np.int64)
    if len(np.unique(perm)) != n:
        # a degenerate plan (ties) that is not a vertex: solve the assignment directly
        from scipy.optimize import linear_sum_assignment

        cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        _, perm = linear_sum_assignment(cost)
        perm = perm.astype(np.int64)
    return perm


def pair(x0: ArrayLike, x1: ArrayLike, coupling: Coupling | str = "independent"
         ) -> tuple[Array, Array]:
    """The re-paired batch (x0, x1[perm]) with perm from :func:`pairing`; (n, d) each."""
    a, b = _cloud(x0, "x0"), _cloud(x1, "x1")
    return a, b[pairing(a, b, coupling)]


# ------------------------------------------------------------------------------ sampling


def time_grid(n_steps: int, t0: float = 0.0, t1: float = 1.0) -> Array:
    """The uniform grid of ``n_steps`` steps from t0 to t1, shape (n_steps + 1,)."""
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    return np.linspace(float(t0), float(t1), int(n_steps) + 1)


def _velocity(velocity_fn: VelocityFn, x: Array, t: float) -> Array:
    v = np.asarray(velocity_fn(x, float(t)), dtype=np.float64)
    if v.shape != x.shape:
        raise ValueError(f"the velocity field returned shape {v.shape} for x of shape {x.shape}")
    return v


def step(velocity_fn: VelocityFn, x: ArrayLike, t0: float, t1: float,
         method: Method | str = "euler") -> Array:
    r"""One step of :math:`\dot x = v(x, t)` from t0 to t1 (h = t1 − t0), x (n, d):

    euler: :math:`x + h\,v(x, t_0)`;  midpoint: :math:`x + h\,v(x + \tfrac h2 v(x, t_0),
    t_0 + \tfrac h2)` (second order, two evaluations).
    """
    xa = np.asarray(x, dtype=np.float64)
    h = float(t1) - float(t0)
    v = _velocity(velocity_fn, xa, t0)
    if method == "euler":
        return xa + h * v
    if method == "midpoint":
        return xa + h * _velocity(velocity_fn, xa + 0.5 * h * v, float(t0) + 0.5 * h)
    raise ValueError(f"unknown method {method!r}: valid methods are {', '.join(METHODS)}")


def sample(velocity_fn: VelocityFn, x0: ArrayLike, n_steps: int,
           method: Method | str = "euler", t0: float = 0.0, t1: float = 1.0) -> Array:
    """Integrate :math:`\\dot x = v(x, t)` from x0 (n, d) at t0 to t1 in ``n_steps`` equal
    steps of :func:`step`.  Returns the trajectory (n_steps + 1, n, d); row 0 is x0."""
    xa = _cloud(x0, "x0")
    ts = time_grid(n_steps, t0, t1)
    out = np.empty((len(ts), *xa.shape))
    out[0] = xa
    for k in range(len(ts) - 1):
        out[k + 1] = step(velocity_fn, out[k], ts[k], ts[k + 1], method)
    return out


def _trajectory(traj: ArrayLike) -> Array:
    a = np.asarray(traj, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] < 2:
        raise ValueError(f"a trajectory must have shape (T + 1, n, d) with T >= 1, "
                         f"got {a.shape}")
    return a


def straightness(traj: ArrayLike, t: ArrayLike | None = None) -> float:
    r"""Straightness of sampled paths (Liu et al. 2023, rectified flow, eq. 8, discretised):

    .. math:: S = \frac1n\sum_i\sum_k \Delta t_k\,\Big\lVert
              \frac{x^i_N - x^i_0}{t_N - t_0} - \frac{x^i_{k+1} - x^i_k}{\Delta t_k}
              \Big\rVert^2

    0 exactly when every path is a straight line run at constant speed; larger the more the
    velocity turns.  traj: (T + 1, n, d); t: the times (T + 1,) (default: uniform on [0, 1]).
    """
    a = _trajectory(traj)
    ts = time_grid(a.shape[0] - 1) if t is None else np.asarray(t, dtype=np.float64)
    dt = np.diff(ts)
    mean_v = (a[-1] - a[0]) / (ts[-1] - ts[0])
    v = np.diff(a, axis=0) / dt[:, None, None]
    dev = ((v - mean_v[None]) ** 2).sum(axis=2)  # (T, n)
    return float((dt[:, None] * dev).sum(axis=0).mean())


def path_length_ratio(traj: ArrayLike) -> float:
    r"""Mean over paths of :math:`\lVert x_N - x_0\rVert / \sum_k\lVert x_{k+1} - x_k\rVert`:
    1 for straight paths, smaller the more they bend.  traj: (T + 1, n, d); paths that do
    not move count as straight."""
    a = _trajectory(traj)
    chord = np.linalg.norm(a[-1] - a[0], axis=1)
    length = np.linalg.norm(np.diff(a, axis=0), axis=2).sum(axis=0)
    ratio = np.where(length > 0, chord / np.where(length > 0, length, 1.0), 1.0)
    return float(ratio.mean())


# ------------------------------------------------------------ the exact marginal field


def _pair_components(t: float, source: Mixture, target: Mixture
                     ) -> tuple[Array, Array, Array, Array, Array]:
    r"""The components of :math:`x_t` under independent mixtures: one per pair (j, k),
    P = J·K of them: weights :math:`\pi_j\rho_k` (P,), means :math:`(1-t)\mu_j + t\nu_k`
    (P, 2), covariances :math:`S = (1-t)^2A_j + t^2B_k` (P, 2, 2), the mean velocity
    :math:`\nu_k - \mu_j` (P, 2) and the cross-covariance
    :math:`D = \mathrm{Cov}(x_1 - x_0, x_t) = tB_k - (1-t)A_j` (P, 2, 2)."""
    tf = float(t)
    if not 0.0 <= tf <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    w = (source.weights[:, None] * target.weights[None, :]).ravel()
    mu, nu = source.means[:, None, :], target.means[None, :, :]
    a, b = source.covariances[:, None], target.covariances[None, :]
    means = ((1 - tf) * mu + tf * nu).reshape(-1, 2)
    covs = ((1 - tf) ** 2 * a + tf**2 * b).reshape(-1, 2, 2)
    drift = (nu - mu).reshape(-1, 2)
    cross = (tf * b - (1 - tf) * a).reshape(-1, 2, 2)
    return w, means, covs, drift, cross


def mixture_log_density(x: ArrayLike, t: float, source: Mixture, target: Mixture) -> Array:
    r""":math:`\log p_t(x)`, shape (n,), of :math:`x_t = (1-t)x_0 + t x_1` with
    :math:`x_0\sim\sum_j\pi_j\mathcal N(\mu_j, A_j)` and :math:`x_1\sim\sum_k\rho_k
    \mathcal N(\nu_k, B_k)` independent:

    .. math:: p_t(x) = \sum_{j,k}\pi_j\rho_k\,
              \mathcal N\big(x \mid (1-t)\mu_j + t\nu_k,\ (1-t)^2A_j + t^2B_k\big).

    x: (n, 2); t in [0, 1].
    """
    w, means, covs, _, _ = _pair_components(t, source, target)
    return gmm.log_density(np.asarray(x, dtype=np.float64), w, means, covs)


def mixture_velocity(x: ArrayLike, t: float, source: Mixture, target: Mixture) -> Array:
    r"""The exact marginal velocity :math:`u_t(x) = \mathbb E[x_1 - x_0\mid x_t = x]` of the
    straight-path interpolation between independent Gaussian mixtures, shape (n, 2).

    Given the pair of components (j, k), :math:`(x_1 - x_0, x_t)` is jointly Gaussian, so
    (Gaussian conditioning, with the notation of :func:`mixture_log_density`)

    .. math:: u_t(x) = \sum_{j,k}\gamma_{jk}(x)\big[\nu_k - \mu_j
              + (tB_k - (1-t)A_j)\,S_{jk}^{-1}(x - m_{jk})\big],

    :math:`m_{jk} = (1-t)\mu_j + t\nu_k`, :math:`S_{jk} = (1-t)^2A_j + t^2B_k`, and
    :math:`\gamma_{jk}(x)` the posterior of the pair given :math:`x_t = x` (the components of
    :math:`p_t`).  It satisfies the continuity equation
    :math:`\partial_t p_t + \nabla\cdot(p_t u_t) = 0`.  x: (n, 2); t in [0, 1].
    """
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim != 2 or xa.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {xa.shape}")
    w, means, covs, drift, cross = _pair_components(t, source, target)
    resp, _ = gmm.e_step(xa, w, means, covs)  # (n, P)
    # S^{-1}(x - m) with the closed-form 2x2 inverse
    ca, cb, cd = covs[:, 0, 0], 0.5 * (covs[:, 0, 1] + covs[:, 1, 0]), covs[:, 1, 1]
    det = ca * cd - cb * cb
    dx = xa[:, None, :] - means[None, :, :]  # (n, P, 2)
    z = np.stack([(cd * dx[..., 0] - cb * dx[..., 1]) / det,
                  (ca * dx[..., 1] - cb * dx[..., 0]) / det], axis=-1)
    per_pair = drift[None] + np.einsum("pij,npj->npi", cross, z)  # (n, P, 2)
    return np.einsum("np,npi->ni", resp, per_pair)
