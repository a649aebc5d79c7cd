r"""Langevin samplers (ULA and MALA) and the 2D target densities the score-based labs sample.

Everything is plain numpy and vectorised over chains: ``x`` is always an (n_chains, d) array
and the only Python loop is over time steps.

Unadjusted Langevin algorithm (ULA), the Euler-Maruyama discretisation of the Langevin SDE
:math:`dX = \nabla\log p(X)\,dt + \sqrt2\,dW`, with step :math:`\eta`:

.. math:: x_{t+1} = x_t + \eta\,\nabla\log p(x_t) + \sqrt{2\eta}\,\xi_t,
          \qquad \xi_t \sim \mathcal N(0, I).

ULA is biased: its stationary law is not :math:`p`.  For :math:`p = \mathcal N(0, 1)` the chain
is :math:`x' = (1-\eta)x + \sqrt{2\eta}\xi`, whose stationary variance is
:math:`2\eta / (1-(1-\eta)^2) = 1/(1-\eta/2)` (stable for :math:`0<\eta<2`).

Metropolis-adjusted Langevin (MALA; Roberts & Tweedie 1996) uses the ULA step as a proposal
:math:`y \sim q(\cdot\mid x) = \mathcal N(x + \eta\nabla\log p(x),\, 2\eta I)` and accepts it
with probability

.. math:: \alpha(x, y) = \min\Bigl(1,\ \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}\Bigr),
          \qquad \log q(a\mid b) = -\frac{\lVert a - b - \eta\nabla\log p(b)\rVert^2}{4\eta}
          + \text{const},

so :math:`p` is exactly invariant for every :math:`\eta`.  A proposal whose ``log_p`` is not
finite (NaN, :math:`\pm\infty`) is rejected.

Targets (:class:`GaussianMixture`, :class:`Ring`, :class:`Banana`, :class:`Donut`,
:class:`Funnel`) expose ``log_p(x)`` (n, d) -> (n,) and ``grad_log_p(x)`` (n, d) -> (n, d) with
analytic gradients; all of them are normalised densities (``log_p`` includes the constant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, logsumexp

__all__ = [
    "TARGETS",
    "Banana",
    "Donut",
    "Funnel",
    "GaussianMixture",
    "Ring",
    "Target",
    "make_target",
    "recorded_steps",
    "run_chains",
    "run_chains_with_stats",
]

Array = NDArray[np.float64]
GradFn = Callable[[Array], Array]
LogPFn = Callable[[Array], Array]

_LOG_2PI = float(np.log(2.0 * np.pi))


# ----------------------------------------------------------------------------- samplers


def recorded_steps(n_steps: int, every: int) -> NDArray[np.int64]:
    """Step indices (1-based: step ``t`` is the state after ``t`` updates) that
    :func:`run_chains` records.

    There are ``n_steps // every`` of them, ``every`` apart, aligned on the end so that the last
    one is ``n_steps``: ``n_steps - every * (R - 1 - r)`` for ``r = 0 .. R-1``.  When ``every``
    divides ``n_steps`` these are ``every, 2*every, ..., n_steps``.
    """
    n_steps, every = _check_steps(n_steps, every)
    rows = n_steps // every
    return n_steps - every * np.arange(rows - 1, -1, -1, dtype=np.int64)


def _check_steps(n_steps: int, every: int) -> tuple[int, int]:
    n_steps, every = int(n_steps), int(every)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if n_steps < every:
        raise ValueError(f"n_steps ({n_steps}) must be >= every ({every})")
    return n_steps, every


def run_chains_with_stats(
    grad_log_p: GradFn,
    x0: ArrayLike,
    step: float,
    n_steps: int,
    log_p: LogPFn | None = None,
    mala: bool = False,
    seed: int = 0,
    every: int = 1,
) -> tuple[Array, Array]:
    r"""Run ULA or MALA chains and return ``(positions, acceptance)``.

    grad_log_p: (n, d) -> (n, d), :math:`\nabla\log p`; x0: (n_chains, d) starting points;
    step: :math:`\eta > 0`; log_p: (n, d) -> (n,), required when ``mala`` is true.

    positions: (n_steps // every, n_chains, d), the states at :func:`recorded_steps` (the last
    row is the final state).  acceptance: (n_steps // every,), for each recorded row the
    fraction of MALA proposals accepted over all chains and over the ``every`` steps that end
    at that row (the first row also covers the ``n_steps % every`` unrecorded leading steps).
    For ULA every move is taken, so acceptance is all ones.

    Deterministic for a given ``seed``.  The Gaussian noise ξ comes from its own stream
    (``default_rng(seed)``, one ``standard_normal((n_chains, d))`` per step) and MALA's
    acceptance uniforms from another (``default_rng([seed, 1])``), so ULA and MALA run with
    the same seed see the same ξ at every step: with every move accepted, their chains are
    identical, and any gap between them is the Metropolis correction alone.
    """
    n_steps, every = _check_steps(n_steps, every)
    eta = float(step)
    if not (eta > 0.0 and np.isfinite(eta)):
        raise ValueError(f"step must be a positive finite number, got {step}")
    if mala and log_p is None:
        raise ValueError("log_p is required when mala=True")
    x = np.array(x0, dtype=np.float64)  # a private copy
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (n_chains, d), got {x.shape}")
    n, d = x.shape

    rng = np.random.default_rng(seed)
    uniforms = np.random.default_rng([seed, 1])  # a stream of its own: see the docstring
    rows = n_steps // every
    out = np.empty((rows, n, d), dtype=np.float64)
    acc = np.empty(rows, dtype=np.float64)
    record = set(recorded_steps(n_steps, every).tolist())
    noise_scale = np.sqrt(2.0 * eta)

    g = np.asarray(grad_log_p(x), dtype=np.float64)
    lp = np.asarray(log_p(x), dtype=np.float64) if mala and log_p is not None else None
    accepted = 0
    proposed = 0
    row = 0
    for t in range(1, n_steps + 1):
        xi = rng.standard_normal((n, d))
        y = x + eta * g + noise_scale * xi
        if lp is None:  # ULA
            x = y
            g = np.asarray(grad_log_p(x), dtype=np.float64)
            accepted += n
        else:
            assert log_p is not None
            lp_y = np.asarray(log_p(y), dtype=np.float64)
            g_y = np.asarray(grad_log_p(y), dtype=np.float64)
            # log q(x | y) - log q(y | x); the forward residual y - x - eta g(x) is sqrt(2 eta) xi
            fwd = np.sum(xi * xi, axis=1) / 2.0
            back = np.sum((x - y - eta * g_y) ** 2, axis=1) / (4.0 * eta)
            with np.errstate(invalid="ignore", over="ignore"):
                log_alpha = lp_y - lp + fwd - back
                ok = np.isfinite(lp_y) & (np.log(uniforms.random(n)) < log_alpha)
            x = np.where(ok[:, None], y, x)
            g = np.where(ok[:, None], g_y, g)
            lp = np.where(ok, lp_y, lp)
            accepted += int(ok.sum())
        proposed += n
        if t in record:
            out[row] = x
            acc[row] = accepted / proposed
            accepted = proposed = 0
            row += 1
    return out, acc


def run_chains(
    grad_log_p: GradFn,
    x0: ArrayLike,
    step: float,
    n_steps: int,
    log_p: LogPFn | None = None,
    mala: bool = False,
    seed: int = 0,
    every: int = 1,
) -> Array:
    """Chain positions, (n_steps // every, n_chains, d), the last row being the final state.

    ULA by default, MALA with ``mala=True`` (then ``log_p`` is required, else ``ValueError``).
    See :func:`run_chains_with_stats` (same arguments, also returns the acceptance rates) and
    :func:`recorded_steps` (which steps the rows are).
    """
    pos, _ = run_chains_with_stats(grad_log_p, x0, step, n_steps, log_p=log_p, mala=mala,
                                   seed=seed, every=every)
    return pos


# ----------------------------------------------------------------------------- targets


class Target(Protocol):
    """A differentiable log-density on R^d: ``log_p`` (n, d) -> (n,), ``grad_log_p`` (n, d) ->
    (n, d)."""

    dim: int

    def log_p(self, x: ArrayLike) -> Array: ...

    def grad_log_p(self, x: ArrayLike) -> Array: ...


def _pts(x: ArrayLike, d: int) -> Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != d:
        raise ValueError(f"x must have shape (n, {d}), got {a.shape}")
    return a


class GaussianMixture:
    r"""Gaussian mixture :math:`p(x) = \sum_k \pi_k \mathcal N(x\mid\mu_k, \Sigma_k)` in R^d.

    weights: (K,) positive (normalised here to sum to 1); means: (K, d); covariances: (K, d, d)
    symmetric positive definite.  With responsibilities
    :math:`r_k(x) = \pi_k\mathcal N(x\mid\mu_k,\Sigma_k) / p(x)`:

    .. math:: \nabla\log p(x) = -\sum_k r_k(x)\,\Sigma_k^{-1}(x - \mu_k).
    """

    def __init__(self, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike) -> None:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        m = np.asarray(means, dtype=np.float64)
        c = np.asarray(covariances, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != w.shape[0]:
            raise ValueError(f"means must have shape ({w.shape[0]}, d), got {m.shape}")
        k, d = m.shape
        if c.shape != (k, d, d):
            raise ValueError(f"covariances must have shape ({k}, {d}, {d}), got {c.shape}")
        if np.any(w <= 0) or not np.all(np.isfinite(w)):
            raise ValueError("weights must be positive and finite")
        chol = np.linalg.cholesky(c)  # raises LinAlgError unless every Sigma_k is SPD
        self.dim = int(d)
        self.weights = w / w.sum()
        self.means = m.copy()
        self.covariances = c.copy()
        self.precisions = np.linalg.inv(c)
        log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        # log pi_k - (d log 2pi + log|Sigma_k|) / 2
        self._log_norm = np.log(self.weights) - 0.5 * (d * _LOG_2PI + log_det)

    def _parts(self, x: ArrayLike) -> tuple[Array, Array]:
        """diff (n, K, d) = x - mu_k and log of pi_k N(x | mu_k, Sigma_k), (n, K)."""
        a = _pts(x, self.dim)
        diff = a[:, None, :] - self.means[None, :, :]
        # pd[n, k, i] = sum_j P[k, i, j] diff[n, k, j]; a short loop over the dimension d is
        # several times faster than einsum/matmul on these (n, K, 2) shapes
        pd = sum(diff[:, :, j, None] * self.precisions[None, :, :, j] for j in range(self.dim))
        pd = np.asarray(pd, dtype=np.float64)
        maha = np.sum(diff * pd, axis=2)
        return pd, self._log_norm[None, :] - 0.5 * maha

    def log_p(self, x: ArrayLike) -> Array:
        """log p(x), (n,)."""
        _, lj = self._parts(x)
        return np.asarray(logsumexp(lj, axis=1), dtype=np.float64)

    def grad_log_p(self, x: ArrayLike) -> Array:
        """Score -sum_k r_k(x) Sigma_k^{-1}(x - mu_k), (n, d)."""
        pd, lj = self._parts(x)
        r = np.exp(lj - logsumexp(lj, axis=1, keepdims=True))
        return -np.einsum("nk,nki->ni", r, pd)


class Ring(GaussianMixture):
    r"""``n_modes`` equal-weight isotropic Gaussians, std ``sigma``, centred at
    :math:`\mu_j = R(\cos 2\pi j/n, \sin 2\pi j/n)` on a circle of radius ``radius`` (2D)."""

    def __init__(self, n_modes: int = 8, radius: float = 3.0, sigma: float = 0.3) -> None:
        if n_modes < 1 or radius < 0 or sigma <= 0:
            raise ValueError("need n_modes >= 1, radius >= 0, sigma > 0")
        th = 2.0 * np.pi * np.arange(n_modes) / n_modes
        means = radius * np.stack([np.cos(th), np.sin(th)], axis=1)
        covs = np.broadcast_to(sigma**2 * np.eye(2), (n_modes, 2, 2))
        super().__init__(np.ones(n_modes), means, covs)


class Banana:
    r"""Twisted Gaussian ("banana", Haario et al. 1999) in 2D:
    :math:`x_1 \sim \mathcal N(0, a^2)`, :math:`x_2 \mid x_1 \sim \mathcal N(b(x_1^2 - a^2), s^2)`,

    .. math:: \log p = -\frac{x_1^2}{2a^2} - \frac{u^2}{2s^2} - \log(2\pi a s),
              \quad u = x_2 - b(x_1^2 - a^2),

    .. math:: \nabla\log p = \Bigl(-\frac{x_1}{a^2} + \frac{2 b x_1 u}{s^2},\;
              -\frac{u}{s^2}\Bigr).
    """

    dim = 2

    def __init__(self, a: float = 2.0, b: float = 0.5, s: float = 0.5) -> None:
        if a <= 0 or s <= 0:
            raise ValueError("need a > 0 and s > 0")
        self.a, self.b, self.s = float(a), float(b), float(s)

    def _u(self, x: Array) -> Array:
        return x[:, 1] - self.b * (x[:, 0] ** 2 - self.a**2)

    def log_p(self, x: ArrayLike) -> Array:
        a = _pts(x, 2)
        u = self._u(a)
        return (-a[:, 0] ** 2 / (2 * self.a**2) - u**2 / (2 * self.s**2)
                - np.log(2 * np.pi * self.a * self.s))

    def grad_log_p(self, x: ArrayLike) -> Array:
        a = _pts(x, 2)
        u = self._u(a)
        g0 = -a[:, 0] / self.a**2 + 2 * self.b * a[:, 0] * u / self.s**2
        return np.stack([g0, -u / self.s**2], axis=1)


class Donut:
    r"""Annulus of radius ``radius`` and radial width ``sigma`` in 2D, with
    :math:`\rho = \lVert x\rVert`:

    .. math:: \log p = -\frac{(\rho - r)^2}{2\sigma^2} - \log Z, \quad
              Z = 2\pi\bigl[\sigma^2 e^{-r^2/2\sigma^2} + r\sigma\sqrt{2\pi}\,\Phi(r/\sigma)\bigr],

    .. math:: \nabla\log p = -\frac{\rho - r}{\sigma^2}\,\frac{x}{\rho}
              \quad (\text{taken as } 0 \text{ at } x = 0).
    """

    dim = 2

    def __init__(self, radius: float = 2.5, sigma: float = 0.3) -> None:
        if radius < 0 or sigma <= 0:
            raise ValueError("need radius >= 0 and sigma > 0")
        self.radius, self.sigma = float(radius), float(sigma)
        r, s = self.radius, self.sigma
        t1 = 2 * np.log(s) - r**2 / (2 * s**2)
        t2 = np.log(r * s) + 0.5 * _LOG_2PI + float(log_ndtr(r / s)) if r > 0 else -np.inf
        self._log_z = float(np.log(2 * np.pi) + np.logaddexp(t1, t2))

    def log_p(self, x: ArrayLike) -> Array:
        a = _pts(x, 2)
        rho = np.hypot(a[:, 0], a[:, 1])
        return -((rho - self.radius) ** 2) / (2 * self.sigma**2) - self._log_z

    def grad_log_p(self, x: ArrayLike) -> Array:
        a = _pts(x, 2)
        rho = np.hypot(a[:, 0], a[:, 1])
        safe = np.where(rho > 0, rho, 1.0)
        coef = np.where(rho > 0, -(rho - self.radius) / (self.sigma**2 * safe), 0.0)
        return coef[:, None] * a


class Funnel:
    r"""Neal's funnel (Neal 2003) in 2D; column 0 is :math:`x`, column 1 is :math:`v`:
    :math:`v \sim \mathcal N(0, \sigma_v^2)`, :math:`x \mid v \sim \mathcal N(0, e^{v})`,

    .. math:: \log p = -\frac{v^2}{2\sigma_v^2} - \frac{x^2}{2}e^{-v} - \frac v2
              - \log(2\pi\sigma_v),

    .. math:: \nabla\log p = \Bigl(-x e^{-v},\;
              -\frac{v}{\sigma_v^2} + \frac{x^2}{2}e^{-v} - \frac12\Bigr).

    For very negative :math:`v`, :math:`e^{-v}` overflows to ``inf``; chains that go there
    produce non-finite values (MALA rejects such proposals).
    """

    dim = 2

    def __init__(self, sigma_v: float = 3.0) -> None:
        if sigma_v <= 0:
            raise ValueError("need sigma_v > 0")
        self.sigma_v = float(sigma_v)

    def log_p(self, x: ArrayLike) -> Array:
        a = _pts(x, 2)
        xx, v = a[:, 0], a[:, 1]
        with np.errstate(over="ignore", invalid="ignore"):
            return (-(v**2) / (2 * self.sigma_v**2) - 0.5 * xx**2 * np.exp(-v) - 0.5 * v
                    - np.log(2 * np.pi * self.sigma_v))

    def grad_log_p(self, x: ArrayLike) -> Array:
        a = _pts(x, 2)
        xx, v = a[:, 0], a[:, 1]
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(-v)
            return np.stack([-xx * e, -v / self.sigma_v**2 + 0.5 * xx**2 * e - 0.5], axis=1)


def _default_mixture() -> GaussianMixture:
    return GaussianMixture(
        [0.5, 0.3, 0.2],
        [[-2.0, 0.0], [2.0, 1.0], [0.5, -2.5]],
        [[[0.6, 0.3], [0.3, 0.6]], [[0.4, -0.2], [-0.2, 0.8]], [[0.3, 0.0], [0.0, 0.3]]],
    )


#: Name -> factory (called with keyword arguments, defaults give the lab's standard target).
TARGETS: dict[str, Callable[..., Target]] = {
    "mixture": lambda **kw: GaussianMixture(**kw) if kw else _default_mixture(),
    "banana": Banana,
    "donut": Donut,
    "ring": Ring,
    "funnel": Funnel,
}


def make_target(name: str, **kwargs: float) -> Target:
    """Build a target by name (one of :data:`TARGETS`), passing ``kwargs`` to its class."""
    try:
        factory = TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; choose from {sorted(TARGETS)}") from None
    return factory(**kwargs)
