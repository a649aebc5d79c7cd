r"""Score-based diffusion in the plane: noise schedules, the exact score of a noised Gaussian
mixture, and samplers (probability-flow ODE, reverse SDE, DDIM, DDPM).

Plain numpy, written for 2D points ``x`` of shape (n, 2).  References: Song et al. 2021,
*Score-Based Generative Modeling through SDEs* (VP/VE SDEs, reverse SDE, probability-flow ODE);
Ho et al. 2020 (DDPM); Song, Meng & Ermon 2021 (DDIM); Nichol & Dhariwal 2021 (cosine schedule).

Every schedule is described by the Gaussian perturbation kernel
:math:`x_t \mid x_0 \sim \mathcal N(a(t)\,x_0,\; v(t)\,I)` (:meth:`VPSchedule.marginal`) and by
the forward SDE :math:`dx = f(t)\,x\,dt + g(t)\,dW` (:meth:`VPSchedule.sde`):

* VP (variance preserving): :math:`a = \sqrt{\bar\alpha(t)}`, :math:`v = 1-\bar\alpha(t)`,
  :math:`f = -\tfrac12\beta(t)`, :math:`g^2 = \beta(t)`, with
  :math:`\beta(t) = -\tfrac{d}{dt}\log\bar\alpha(t)`.
* VE (variance exploding): :math:`a = 1`, :math:`v = \sigma(t)^2`, :math:`f = 0`,
  :math:`g^2 = \tfrac{d}{dt}\sigma(t)^2 = 2\sigma(t)^2\log(\sigma_{max}/\sigma_{min})`.
  (Strictly the VE kernel has variance :math:`\sigma(t)^2 - \sigma(0)^2`; like Song et al. we use
  :math:`\sigma(t)^2`, i.e. the data are taken as already blurred by :math:`\sigma_{min}`.)

The score of the marginal, the probability-flow ODE
:math:`dx/dt = f x - \tfrac12 g^2 \nabla\log p_t(x)` and the reverse SDE
:math:`dx = [f x - g^2 \nabla\log p_t(x)]\,dt + g\,d\bar W` are written in terms of
:math:`a, v, f, g^2` only, so every function here works with both schedules; the VP
schedule is the one the labs and the tests exercise (the VE paths are covered by a smoke test
and by the same closed forms, but with :math:`\sigma_{max} = 10` the prior at t = 1 is
:math:`\mathcal N(0, 100 I)`, so the samplers need many more steps there).

Time runs over [0, 1]: t = 0 is the data, t = 1 the prior.  The samplers integrate from
t = 1 down to ``t_min`` on the uniform grid :math:`t_i = 1 - i(1-t_{min})/N`, i = 0..N, and
return the whole trajectory, shape (N + 1, n, 2), whose row 0 is ``x_T``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from genlab.engine import gmm as _gmm

__all__ = [
    "ScoreFn",
    "VESchedule",
    "VPSchedule",
    "ddim_sample",
    "ddim_step",
    "ddpm_sample",
    "ddpm_step",
    "forward_sample",
    "gmm_log_density_t",
    "gmm_score",
    "ode_step",
    "pf_ode_sample",
    "reverse_sde_sample",
    "sample_gmm",
    "sde_step",
    "time_grid",
    "tweedie_mean",
]

Array = NDArray[np.float64]
#: ``score_fn(x, t)``: x (n, 2), t a float in (0, 1]; returns the score, shape (n, 2).
ScoreFn = Callable[[Array, float], Array]


# ------------------------------------------------------------------------------ schedules


@dataclass(frozen=True)
class VPSchedule:
    r"""Variance-preserving schedule: :math:`x_t|x_0 \sim \mathcal N(\sqrt{\bar\alpha(t)}x_0,
    (1-\bar\alpha(t))I)`.

    ``kind="linear"`` (Song et al. 2021, VP SDE with :math:`\beta(t) = \beta_{min} +
    t(\beta_{max}-\beta_{min})`):

    .. math:: \bar\alpha(t) = \exp\!\big(-\beta_{min}t - \tfrac12(\beta_{max}-\beta_{min})t^2\big)

    ``kind="cosine"`` (Nichol & Dhariwal 2021, with offset ``s``):

    .. math:: \bar\alpha(t) = \frac{\cos^2\!\big(\frac{t+s}{1+s}\frac\pi2\big)}
              {\cos^2\!\big(\frac{s}{1+s}\frac\pi2\big)},\qquad
              \beta(t) = \frac{\pi}{1+s}\tan\!\Big(\frac{t+s}{1+s}\frac\pi2\Big)

    which reaches :math:`\bar\alpha(1) = 0` with :math:`\beta(1) = \infty`.  It gets a cap
    similar to Nichol & Dhariwal's, who clip each discrete :math:`\beta_t` at 0.999 (at
    T = 1000 steps a rate of :math:`-T\ln(1 - 0.999) \approx 6.9\times10^3`): here the
    continuous rate :math:`\beta` is capped at ``beta_cap`` (default 100) from the time
    :math:`t_c` where the cosine rate reaches it, and
    :math:`\bar\alpha` continues as :math:`\bar\alpha(t_c)e^{-\beta_{cap}(t-t_c)}`, so
    :math:`\beta = -d\log\bar\alpha/dt` still holds exactly, :math:`\bar\alpha` stays
    continuous, and :math:`\bar\alpha(1) \approx 1.3\times10^{-4}` (default ``s``, ``beta_cap``)
    is small but positive.  The two end alike: :math:`\bar\alpha(0.99) \approx 3.6\times10^{-4}`
    here and :math:`2.4\times10^{-4}` at step 990 of their 1000.  ``beta_cap`` is ignored by
    the linear kind; ``beta_min`` and ``beta_max`` by the cosine kind.
    """

    kind: Literal["linear", "cosine"] = "linear"
    beta_min: float = 0.1
    beta_max: float = 20.0
    s: float = 0.008
    beta_cap: float = 100.0

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "cosine"):
            raise ValueError(f"kind must be 'linear' or 'cosine', got {self.kind!r}")
        if self.kind == "linear" and not (0 <= self.beta_min <= self.beta_max):
            raise ValueError("need 0 <= beta_min <= beta_max")
        if self.kind == "linear" and self.beta_max <= 0:
            raise ValueError("beta_max must be > 0")
        if self.kind == "cosine" and not (self.s > 0 and self.beta_cap > 0):
            raise ValueError("need s > 0 and beta_cap > 0")

    # cosine helpers ------------------------------------------------------------------------
    def _u(self, t: Array) -> Array:
        return (t + self.s) / (1.0 + self.s) * (np.pi / 2.0)

    def _t_cap(self) -> float:
        """Time at which the cosine rate reaches ``beta_cap`` (may exceed 1: no clipping)."""
        u_c = np.arctan(self.beta_cap * (1.0 + self.s) / np.pi)
        return float(u_c * 2.0 / np.pi * (1.0 + self.s) - self.s)

    def log_alpha_bar(self, t: ArrayLike) -> Array:
        """:math:`\\log\\bar\\alpha(t)`, same shape as t (accurate where ᾱ underflows)."""
        ta = np.asarray(t, dtype=np.float64)
        if self.kind == "linear":
            return -(self.beta_min * ta + 0.5 * (self.beta_max - self.beta_min) * ta * ta)
        tc = self._t_cap()
        log_c0 = 2.0 * np.log(np.cos(self._u(np.float64(0.0))))
        tt = np.minimum(ta, tc)
        out = 2.0 * np.log(np.cos(self._u(tt))) - log_c0
        return out - self.beta_cap * np.maximum(ta - tc, 0.0)

    def alpha_bar(self, t: ArrayLike) -> Array:
        """:math:`\\bar\\alpha(t)` for t in [0, 1] (float or array), same shape as t."""
        return np.exp(self.log_alpha_bar(t))

    def beta(self, t: ArrayLike) -> Array:
        """Instantaneous rate :math:`\\beta(t) = -\\frac{d}{dt}\\log\\bar\\alpha(t)`."""
        ta = np.asarray(t, dtype=np.float64)
        if self.kind == "linear":
            return self.beta_min + (self.beta_max - self.beta_min) * ta
        tc = self._t_cap()
        rate = np.pi / (1.0 + self.s) * np.tan(self._u(np.minimum(ta, tc)))
        return np.where(ta > tc, self.beta_cap, rate)

    def snr(self, t: ArrayLike) -> Array:
        """Signal-to-noise ratio :math:`\\bar\\alpha/(1-\\bar\\alpha)` (inf at t = 0)."""
        la = self.log_alpha_bar(t)
        with np.errstate(divide="ignore"):
            return 1.0 / np.expm1(-la)

    def marginal(self, t: ArrayLike) -> tuple[Array, Array]:
        """(a, v): :math:`x_t|x_0 \\sim \\mathcal N(a x_0, v I)`, a = √ᾱ, v = 1 − ᾱ."""
        la = self.log_alpha_bar(t)
        return np.exp(0.5 * la), -np.expm1(la)

    def sde(self, t: ArrayLike) -> tuple[Array, Array]:
        """(f, g²) of the forward SDE dx = f x dt + g dW: f = −β/2, g² = β."""
        b = self.beta(t)
        return -0.5 * b, b


@dataclass(frozen=True)
class VESchedule:
    r"""Variance-exploding schedule: :math:`\sigma(t) = \sigma_{min}(\sigma_{max}/\sigma_{min})^t`,
    :math:`x_t = x_0 + \sigma(t)\,\varepsilon` (Song et al. 2021, SMLD / VE SDE).

    Forward SDE :math:`dx = \sqrt{d\sigma^2/dt}\,dW`,
    :math:`d\sigma^2/dt = 2\sigma^2\log(\sigma_{max}/\sigma_{min})`.
    """

    sigma_min: float = 0.01
    sigma_max: float = 10.0

    def __post_init__(self) -> None:
        if not (0 < self.sigma_min < self.sigma_max):
            raise ValueError("need 0 < sigma_min < sigma_max")

    def sigma(self, t: ArrayLike) -> Array:
        ta = np.asarray(t, dtype=np.float64)
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** ta

    def marginal(self, t: ArrayLike) -> tuple[Array, Array]:
        """(a, v) = (1, σ(t)²)."""
        sig = self.sigma(t)
        return np.ones_like(sig), sig * sig

    def sde(self, t: ArrayLike) -> tuple[Array, Array]:
        """(f, g²) = (0, dσ²/dt)."""
        sig = self.sigma(t)
        return np.zeros_like(sig), 2.0 * sig * sig * np.log(self.sigma_max / self.sigma_min)


Schedule = VPSchedule | VESchedule


def _check_schedule(schedule: object) -> None:
    if not isinstance(schedule, VPSchedule | VESchedule):
        raise TypeError(f"schedule must be a VPSchedule or VESchedule, got {type(schedule)}")


# ------------------------------------------------------------------------ forward process


def _points(x: ArrayLike, name: str = "x") -> Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {a.shape}")
    return a


def forward_sample(x0: ArrayLike, t: ArrayLike, schedule: Schedule,
                   seed: int = 0) -> tuple[Array, Array]:
    """Sample the perturbation kernel: :math:`x_t = a(t)x_0 + \\sqrt{v(t)}\\,\\varepsilon`,
    :math:`\\varepsilon\\sim\\mathcal N(0, I)`.

    x0: (n, 2); t: a float or (n,) per-point times.  Returns (x_t, eps), both (n, 2).
    """
    _check_schedule(schedule)
    x = _points(x0, "x0")
    ta = np.asarray(t, dtype=np.float64)
    if ta.ndim not in (0, 1) or (ta.ndim == 1 and ta.shape[0] != x.shape[0]):
        raise ValueError(f"t must be a float or have shape ({x.shape[0]},), got {ta.shape}")
    a, v = schedule.marginal(ta)
    a = np.asarray(a)[..., None] if ta.ndim == 1 else a
    v = np.asarray(v)[..., None] if ta.ndim == 1 else v
    eps = np.random.default_rng(seed).standard_normal(x.shape)
    return a * x + np.sqrt(v) * eps, eps


def sample_gmm(n: int, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike,
               seed: int = 0) -> Array:
    """n points (n, 2) from :math:`\\sum_k\\pi_k\\mathcal N(\\mu_k,\\Sigma_k)`."""
    w = np.asarray(weights, dtype=np.float64)
    m = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    c = np.asarray(covariances, dtype=np.float64).reshape(-1, 2, 2)
    rng = np.random.default_rng(seed)
    k = rng.choice(w.shape[0], size=int(n), p=w / w.sum())
    chol = np.linalg.cholesky(c)
    z = rng.standard_normal((int(n), 2))
    return m[k] + np.einsum("nij,nj->ni", chol[k], z)


# ------------------------------------------------------------- the noised mixture, exactly


def _noised_params(t: float, means: ArrayLike, covariances: ArrayLike,
                   schedule: Schedule) -> tuple[Array, Array]:
    """Means (K, 2) and covariances (K, 2, 2) of :math:`p_t`'s components:
    :math:`a\\mu_k` and :math:`a^2\\Sigma_k + vI`."""
    _check_schedule(schedule)
    tf = float(t)
    m = np.asarray(means, dtype=np.float64)
    c = np.asarray(covariances, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != 2 or c.shape != (m.shape[0], 2, 2):
        raise ValueError(f"means must be (K, 2) and covariances (K, 2, 2), "
                         f"got {m.shape} and {c.shape}")
    a, v = schedule.marginal(tf)
    a, v = float(a), float(v)
    return a * m, a * a * c + v * np.eye(2)


def gmm_log_density_t(x: ArrayLike, t: float, weights: ArrayLike, means: ArrayLike,
                      covariances: ArrayLike, schedule: Schedule) -> Array:
    """:math:`\\log p_t(x)`, shape (n,), for data :math:`p_0 = \\sum_k\\pi_k\\mathcal N(\\mu_k,
    \\Sigma_k)`:

    .. math:: p_t(x) = \\sum_k \\pi_k\\,\\mathcal N(x \\mid a\\mu_k,\\; a^2\\Sigma_k + vI)

    (VP: :math:`a^2 = \\bar\\alpha`, :math:`v = 1-\\bar\\alpha`).  x: (n, 2); t: a float;
    weights (K,), means (K, 2), covariances (K, 2, 2).
    """
    m, c = _noised_params(t, means, covariances, schedule)
    return _gmm.log_density(_points(x), weights, m, c)


def gmm_score(x: ArrayLike, t: float, weights: ArrayLike, means: ArrayLike,
              covariances: ArrayLike, schedule: Schedule) -> Array:
    """Exact score :math:`\\nabla_x\\log p_t(x)` of the noised mixture, shape (n, 2):

    .. math:: \\nabla\\log p_t(x) = -\\sum_k \\gamma_k(x)\\, C_k^{-1}(x - a\\mu_k),\\quad
              C_k = a^2\\Sigma_k + vI,\\quad
              \\gamma_k(x) = \\frac{\\pi_k\\mathcal N(x|a\\mu_k, C_k)}{\\sum_j\\pi_j
              \\mathcal N(x|a\\mu_j, C_j)}

    Vectorised over x (n, 2) (no loop over points; the 2x2 inverses are closed forms).
    Arguments as in :func:`gmm_log_density_t`.
    """
    xa = _points(x)
    m, c = _noised_params(t, means, covariances, schedule)
    resp, _ = _gmm.e_step(xa, weights, m, c)  # (n, K)
    # C^{-1} = [[d, -b], [-b, a]] / det for C = [[a, b], [b, d]]
    ca, cb, cd = c[:, 0, 0], 0.5 * (c[:, 0, 1] + c[:, 1, 0]), c[:, 1, 1]
    det = ca * cd - cb * cb
    dx = xa[:, None, :] - m[None, :, :]  # (n, K, 2)
    g0 = (cd * dx[..., 0] - cb * dx[..., 1]) / det
    g1 = (ca * dx[..., 1] - cb * dx[..., 0]) / det
    out = np.empty_like(xa)
    out[:, 0] = -(resp * g0).sum(axis=1)
    out[:, 1] = -(resp * g1).sum(axis=1)
    return out


# ------------------------------------------------------------------------------ samplers


def tweedie_mean(x: ArrayLike, score: ArrayLike, t: float, schedule: Schedule) -> Array:
    r"""Tweedie's formula: the posterior mean of the clean point given the noised one,

    .. math:: \mathbb E[x_0 \mid x_t = x] = \frac{x + v(t)\,\nabla\log p_t(x)}{a(t)},

    from x (n, 2), the score at x (n, 2) (exact, e.g. :func:`gmm_score`, or learned) and t.
    Returns (n, 2).
    """
    _check_schedule(schedule)
    a, v = schedule.marginal(float(t))
    return (_points(x) + float(v) * np.asarray(score, dtype=np.float64)) / float(a)


def time_grid(n_steps: int, t_min: float = 1e-3) -> Array:
    """The decreasing grid :math:`t_i = 1 - i(1-t_{min})/N`, i = 0..N, shape (N + 1,)."""
    if int(n_steps) < 1:
        raise ValueError("n_steps must be >= 1")
    if not (0 < t_min < 1):
        raise ValueError("t_min must be in (0, 1)")
    return np.linspace(1.0, float(t_min), int(n_steps) + 1)


def _start(x_T: ArrayLike, schedule: Schedule, n_steps: int) -> tuple[Array, Array]:
    _check_schedule(schedule)
    x = np.array(_points(x_T, "x_T"), dtype=np.float64)
    traj = np.empty((int(n_steps) + 1, x.shape[0], 2))
    traj[0] = x
    return x, traj


def _score(score_fn: ScoreFn, x: Array, t: float) -> Array:
    s = np.asarray(score_fn(x, float(t)), dtype=np.float64)
    if s.shape != x.shape:
        raise ValueError(f"score_fn returned shape {s.shape}, expected {x.shape}")
    return s


def ode_step(score_fn: ScoreFn, x: ArrayLike, t0: float, t1: float, schedule: Schedule,
             method: Literal["euler", "heun"] = "euler") -> Array:
    """One step t0 -> t1 < t0 of the probability-flow ODE (see :func:`pf_ode_sample`):
    x (n, 2) at t0 -> (n, 2) at t1.  Euler calls ``score_fn`` once, Heun twice."""
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    xa = _points(x)

    def rhs(y: Array, t: float) -> Array:
        f, g2 = schedule.sde(t)
        return float(f) * y - 0.5 * float(g2) * _score(score_fn, y, t)

    h = float(t0) - float(t1)
    d0 = rhs(xa, float(t0))
    if method == "euler":
        return xa - h * d0
    x_pred = xa - h * d0
    return xa - 0.5 * h * (d0 + rhs(x_pred, float(t1)))


def pf_ode_sample(score_fn: ScoreFn, x_T: ArrayLike, schedule: Schedule, n_steps: int,
                  method: Literal["euler", "heun"] = "euler", t_min: float = 1e-3) -> Array:
    """Integrate the probability-flow ODE from t = 1 down to ``t_min``.

    .. math:: \\frac{dx}{dt} = f(t)x - \\tfrac12 g(t)^2\\nabla\\log p_t(x)
              \\quad(\\text{VP: } -\\tfrac12\\beta(t)[x + \\nabla\\log p_t(x)])

    With :math:`h = t_i - t_{i+1} > 0` and :math:`u(x, t)` the right-hand side:
    Euler :math:`x_{i+1} = x_i - h\\,u(x_i, t_i)`; Heun (2nd order, 2 score calls per step)
    :math:`\\tilde x = x_i - h\\,u(x_i,t_i)`,
    :math:`x_{i+1} = x_i - \\tfrac h2[u(x_i,t_i) + u(\\tilde x, t_{i+1})]`.
    Deterministic.  x_T: (n, 2).  Returns the trajectory (n_steps + 1, n, 2), row 0 = x_T.
    One step is :func:`ode_step`.
    """
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    ts = time_grid(n_steps, t_min)
    x, traj = _start(x_T, schedule, n_steps)
    for i in range(int(n_steps)):
        x = traj[i + 1] = ode_step(score_fn, x, float(ts[i]), float(ts[i + 1]), schedule,
                                   method)
    return traj


def sde_step(x: ArrayLike, score: ArrayLike, t0: float, t1: float, schedule: Schedule,
             rng: np.random.Generator | None) -> Array:
    """One Euler-Maruyama step t0 -> t1 < t0 of the reverse SDE (see
    :func:`reverse_sde_sample`) from the score at (x, t0), both (n, 2); ``rng=None`` takes the
    drift step only (the sampler's last step)."""
    xa = _points(x)
    h = float(t0) - float(t1)
    f, g2 = (float(z) for z in schedule.sde(float(t0)))
    out = xa - h * (f * xa - g2 * np.asarray(score, dtype=np.float64))
    if rng is not None:
        out = out + np.sqrt(g2 * h) * rng.standard_normal(xa.shape)
    return out


def reverse_sde_sample(score_fn: ScoreFn, x_T: ArrayLike, schedule: Schedule, n_steps: int,
                       seed: int = 0, t_min: float = 1e-3) -> Array:
    """Euler-Maruyama on the reverse-time SDE from t = 1 down to ``t_min``.

    .. math:: dx = [f(t)x - g(t)^2\\nabla\\log p_t(x)]\\,dt + g(t)\\,d\\bar W
              \\quad(\\text{VP: } [-\\tfrac12\\beta x - \\beta\\nabla\\log p_t(x)]dt
              + \\sqrt\\beta\\,d\\bar W)

    With :math:`h = t_i - t_{i+1}`:
    :math:`x_{i+1} = x_i - h[f x_i - g^2 s(x_i, t_i)] + \\sqrt{g^2 h}\\,z_i`, coefficients at
    :math:`t_i`.  The last step adds no noise (it returns the drift step only, the usual
    "denoise at the end"), so the result is not blurred by a final :math:`\\sqrt{g^2h}` kick.
    Returns the trajectory (n_steps + 1, n, 2), row 0 = x_T.  One step is :func:`sde_step`.
    """
    ts = time_grid(n_steps, t_min)
    x, traj = _start(x_T, schedule, n_steps)
    rng = np.random.default_rng(seed)
    n = int(n_steps)
    for i in range(n):
        t0 = float(ts[i])
        x = traj[i + 1] = sde_step(x, _score(score_fn, x, t0), t0, float(ts[i + 1]), schedule,
                                   rng if i < n - 1 else None)
    return traj


def ddim_step(x: ArrayLike, score: ArrayLike, t0: float, t1: float,
              schedule: Schedule) -> Array:
    """One deterministic DDIM step t0 -> t1 < t0 (see :func:`ddim_sample`) from the score
    at (x, t0), both (n, 2)."""
    xa = _points(x)
    a0, v0 = (float(z) for z in schedule.marginal(float(t0)))
    a1, v1 = (float(z) for z in schedule.marginal(float(t1)))
    eps = -np.sqrt(v0) * np.asarray(score, dtype=np.float64)
    x0_hat = (xa - np.sqrt(v0) * eps) / a0
    return a1 * x0_hat + np.sqrt(v1) * eps


def ddim_sample(score_fn: ScoreFn, x_T: ArrayLike, schedule: Schedule, n_steps: int,
                t_min: float = 1e-3) -> Array:
    """Deterministic DDIM (η = 0; Song, Meng & Ermon 2021) on the same time grid.

    From the score, :math:`\\hat\\varepsilon = -\\sqrt{v_t}\\,s(x_t, t)` and
    :math:`\\hat x_0 = (x_t - \\sqrt{v_t}\\hat\\varepsilon)/a_t`; then

    .. math:: x_{s} = a_s\\hat x_0 + \\sqrt{v_s}\\,\\hat\\varepsilon

    (VP: :math:`a = \\sqrt{\\bar\\alpha}`, :math:`v = 1-\\bar\\alpha`).  With the exact score this
    is a first-order exponential integrator of the probability-flow ODE, stable for any step
    size.  Returns the trajectory (n_steps + 1, n, 2), row 0 = x_T.  One step is
    :func:`ddim_step`.
    """
    ts = time_grid(n_steps, t_min)
    x, traj = _start(x_T, schedule, n_steps)
    for i in range(int(n_steps)):
        t0 = float(ts[i])
        x = traj[i + 1] = ddim_step(x, _score(score_fn, x, t0), t0, float(ts[i + 1]), schedule)
    return traj


def ddpm_step(x: ArrayLike, score: ArrayLike, t0: float, t1: float, schedule: Schedule,
              rng: np.random.Generator | None) -> Array:
    """One ancestral DDPM step t0 -> t1 < t0 (see :func:`ddpm_sample`) from the score at
    (x, t0), both (n, 2): the posterior mean μ plus √β̃ z; ``rng=None`` returns μ (the
    sampler's last step).  Drawing z from the same generator in the same order reproduces
    :func:`ddpm_sample` step by step."""
    xa = _points(x)
    a0, v0 = (float(z) for z in schedule.marginal(float(t0)))
    a1, v1 = (float(z) for z in schedule.marginal(float(t1)))
    x0_hat = (xa + v0 * np.asarray(score, dtype=np.float64)) / a0
    alpha = a0 / a1
    beta_ts = max(v0 - alpha * alpha * v1, 0.0)
    mean = (a1 * beta_ts / v0) * x0_hat + (alpha * v1 / v0) * xa
    if rng is None:
        return mean
    return mean + np.sqrt(v1 * beta_ts / v0) * rng.standard_normal(xa.shape)


def ddpm_sample(eps_or_score_fn: ScoreFn, x_T: ArrayLike, schedule: Schedule, n_steps: int,
                seed: int = 0, t_min: float = 1e-3,
                prediction: Literal["score", "eps"] = "score") -> Array:
    """Ancestral DDPM sampling (Ho et al. 2020), discretised from the schedule on the grid.

    ``prediction="score"``: the function returns :math:`\\nabla\\log p_t(x)`;
    ``prediction="eps"``: it returns the noise :math:`\\hat\\varepsilon = -\\sqrt{v_t}\\,s`.
    Step :math:`t \\to s` (:math:`s < t` the next grid time): with :math:`\\alpha = a_t/a_s`
    and :math:`\\beta_{ts} = v_t - \\alpha^2 v_s` (VP: :math:`1 - \\bar\\alpha_t/\\bar\\alpha_s`,
    the DDPM step beta), :math:`\\hat x_0 = (x_t - \\sqrt{v_t}\\hat\\varepsilon)/a_t` and the
    Gaussian posterior :math:`q(x_s | x_t, \\hat x_0)`:

    .. math:: \\mu = \\frac{a_s\\beta_{ts}}{v_t}\\hat x_0 + \\frac{\\alpha v_s}{v_t}x_t,\\qquad
              \\tilde\\beta = \\frac{v_s\\beta_{ts}}{v_t},\\qquad
              x_s = \\mu + \\sqrt{\\tilde\\beta}\\,z

    (Ho et al. eqs. 6-7).  The last step returns :math:`\\mu` (no noise).
    Returns the trajectory (n_steps + 1, n, 2), row 0 = x_T.  One step is :func:`ddpm_step`.
    """
    if prediction not in ("score", "eps"):
        raise ValueError(f"prediction must be 'score' or 'eps', got {prediction!r}")
    ts = time_grid(n_steps, t_min)
    x, traj = _start(x_T, schedule, n_steps)
    rng = np.random.default_rng(seed)
    n = int(n_steps)
    for i in range(n):
        t0 = float(ts[i])
        out = _score(eps_or_score_fn, x, t0)
        if prediction == "eps":
            out = -out / np.sqrt(float(schedule.marginal(t0)[1]))
        x = traj[i + 1] = ddpm_step(x, out, t0, float(ts[i + 1]), schedule,
                                    rng if i < n - 1 else None)
    return traj
