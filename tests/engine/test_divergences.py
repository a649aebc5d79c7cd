"""genlab.engine.divergences against closed forms and scipy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats
from scipy.special import ndtr

from genlab.engine import divergences as dv

# The reverse-KL optimum must match scipy's quadrature-and-minimise solution to this:
REVERSE_TOL = 1e-4


# ---------------------------------------------------------------------------- references


def _mixture_moments(w, m, s) -> tuple[float, float]:
    w = np.asarray(w, float) / np.sum(w)
    m, s = np.asarray(m, float), np.asarray(s, float)
    mean = float(w @ m)
    var = float(w @ (s**2 + m**2) - mean**2)
    return mean, var


def _scipy_reverse_fit(w, m, s, init) -> tuple[float, float]:
    """argmin over (μ, log σ) of KL(q‖p) = ∫ q (log q − log p), by scipy.integrate.quad and
    Nelder-Mead from ``init``: an independent reference (no gradients, no fixed nodes)."""
    w = [float(v) / float(np.sum(w)) for v in w]
    comps = [(math.log(wk), float(mk), float(sk)) for wk, mk, sk in zip(w, m, s, strict=True)]
    half_log_2pi = 0.5 * math.log(2 * math.pi)

    def logp(x: float) -> float:  # plain floats: quad calls it ~10⁵ times
        terms = [lw - math.log(sk) - half_log_2pi - 0.5 * ((x - mk) / sk) ** 2
                 for lw, mk, sk in comps]
        top = max(terms)
        return top + math.log(sum(math.exp(t - top) for t in terms))

    def kl(theta: np.ndarray) -> float:
        mu, sg = float(theta[0]), math.exp(float(theta[1]))

        def f(x: float) -> float:
            logq = -math.log(sg) - half_log_2pi - 0.5 * ((x - mu) / sg) ** 2
            return math.exp(logq) * (logq - logp(x))

        return integrate.quad(f, mu - 12 * sg, mu + 12 * sg, limit=200, epsabs=1e-13,
                              epsrel=1e-11)[0]

    res = optimize.minimize(kl, [init[0], np.log(init[1])], method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-14, "maxiter": 4000})
    return float(res.x[0]), float(np.exp(res.x[1]))


def _kl_gauss(m0, c0, m1, c1) -> float:
    """KL(N(m0, c0) ‖ N(m1, c1)) in closed form, any dimension."""
    m0, m1 = np.atleast_1d(m0), np.atleast_1d(m1)
    c0, c1 = np.atleast_2d(c0), np.atleast_2d(c1)
    inv = np.linalg.inv(c1)
    d = m1 - m0
    return 0.5 * float(np.trace(inv @ c0) + d @ inv @ d - len(m0)
                       + np.log(np.linalg.det(c1) / np.linalg.det(c0)))


# ---------------------------------------------------------------------------- forward KL


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 3.0), st.floats(-5, 5), st.floats(0.1, 2.0)),
                min_size=1, max_size=4))
def test_forward_fit_is_the_mixtures_moments(comps) -> None:
    w, m, s = (list(c) for c in zip(*comps, strict=True))
    mean, var = _mixture_moments(w, m, s)
    mu, sigma = dv.fit_gaussian(w, m, s, "forward")
    assert mu == pytest.approx(mean, abs=1e-12)
    assert sigma**2 == pytest.approx(var, rel=1e-12, abs=1e-12)


def test_forward_fit_2d_is_the_moments() -> None:
    target = dv.Mixture.make([1.0, 3.0], [[-2.0, 1.0], [1.0, 2.0]], [0.5, 1.0])
    mean, cov = dv.optimal_gaussian(target, "forward")
    x = target.sample(400_000, np.random.default_rng(0))
    np.testing.assert_allclose(mean, [0.25, 1.75], atol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axis=0), atol=0.01)
    np.testing.assert_allclose(cov, np.cov(x.T), atol=0.02)
    # Σ π_k (s_k² I + m_k m_kᵀ) − mean meanᵀ by hand
    expected = (0.25 * (0.25 * np.eye(2) + np.outer([-2, 1], [-2, 1]))
                + 0.75 * (np.eye(2) + np.outer([1, 2], [1, 2])) - np.outer(mean, mean))
    np.testing.assert_allclose(cov, expected, atol=1e-12)


def test_stochastic_forward_fit_converges_to_the_moments() -> None:
    w, m, s = [1.0, 0.5], [-2.0, 2.0], [0.6, 0.8]
    path = np.array(list(dv.kl_fit_steps(w, m, s, "forward", init=(1.0, 0.5), lr=0.05,
                                         n_samples=512, seed=3, steps=600)))
    mean, var = _mixture_moments(w, m, s)
    tail = path[-150:]
    assert tail[:, 0].mean() == pytest.approx(mean, abs=0.05)
    assert tail[:, 1].mean() == pytest.approx(np.sqrt(var), abs=0.05)
    # the loss is the minibatch estimate of KL(p‖q): near the exact value at the end
    exact = dv.divergences(dv.Mixture.make(w, m, s), [mean], np.sqrt(var)).kl_pq
    assert tail[:, 2].mean() == pytest.approx(exact, abs=0.03)


# ---------------------------------------------------------------------------- reverse KL


REVERSE_CASES = [
    # weights, means, stds, init
    ([1, 1], [-2.5, 2.5], [0.6, 0.6], (0.5, 0.5)),  # separated: one mode
    ([1, 1], [-2.5, 2.5], [0.6, 0.6], (0.5, 1.5)),  # the same, a wide start: straddles
    ([1, 0.25], [-2, 2], [0.8, 0.5], (1.0, 1.5)),  # unequal weights
    ([1, 1], [-0.8, 0.8], [1.0, 1.0], (0.3, 1.0)),  # overlapping: unimodal
    ([1, 2, 1], [-3, 0, 3], [0.5, 0.7, 0.4], (-1.0, 2.0)),  # three modes
]


@pytest.mark.parametrize("w,m,s,init", REVERSE_CASES)
def test_reverse_fit_matches_scipy_quadrature_and_minimise(w, m, s, init) -> None:
    ours = dv.fit_gaussian(w, m, s, "reverse", init=init)
    ref = _scipy_reverse_fit(w, m, s, init)
    np.testing.assert_allclose(ours, ref, atol=REVERSE_TOL)
    # and it is a stationary point with a lower KL than the start
    target = dv.Mixture.make(w, m, s)
    assert dv.reverse_kl(target, [ours[0]], ours[1]) < dv.reverse_kl(target, [init[0]],
                                                                       init[1])


def test_symmetric_mixture_reverse_fit_picks_the_mode_of_its_start() -> None:
    w, m, s = [1, 1], [-2.5, 2.5], [0.6, 0.6]
    left = dv.fit_gaussian(w, m, s, "reverse", init=(-1.0, 0.5))
    right = dv.fit_gaussian(w, m, s, "reverse", init=(1.0, 0.5))
    assert left[0] == pytest.approx(-2.5, abs=0.01) and left[1] == pytest.approx(0.6, abs=0.01)
    assert right[0] == pytest.approx(2.5, abs=0.01)
    assert left[0] == pytest.approx(-right[0], abs=1e-7)  # mirror images
    assert left[1] == pytest.approx(right[1], abs=1e-7)
    # reverse KL on one mode of two equal, far-apart modes ≈ log 2
    target = dv.Mixture.make(w, m, s)
    assert dv.reverse_kl(target, [right[0]], right[1]) == pytest.approx(np.log(2), abs=1e-3)
    # the forward fit is the same whatever the start
    assert dv.fit_gaussian(w, m, s, "forward", init=(-1, 0.5)) == dv.fit_gaussian(
        w, m, s, "forward", init=(1, 0.5))


def test_reverse_fit_is_deterministic_and_its_default_start_is_a_component() -> None:
    w, m, s = [1, 1, 1], [-3, 0, 3], [0.5, 0.5, 0.5]
    a = dv.fit_gaussian(w, m, s, "reverse", seed=4)
    assert a == dv.fit_gaussian(w, m, s, "reverse", seed=4)
    # from a component, the reverse fit stays on that mode
    found = {round(dv.fit_gaussian(w, m, s, "reverse", seed=k)[0]) for k in range(12)}
    assert found <= {-3, 0, 3} and len(found) >= 2


def test_reverse_fit_of_a_single_gaussian_is_that_gaussian() -> None:
    mu, sigma = dv.fit_gaussian([1.0], [0.7], [1.3], "reverse", init=(-2.0, 0.3))
    assert mu == pytest.approx(0.7, abs=1e-6) and sigma == pytest.approx(1.3, abs=1e-6)
    target = dv.Mixture.make([1.0], [[0.5, -1.0]], [0.8])
    mean, cov = dv.optimal_gaussian(target, "reverse", (np.array([1.5, 0.0]), 2.0 * np.eye(2)))
    np.testing.assert_allclose(mean, [0.5, -1.0], atol=1e-4)
    np.testing.assert_allclose(cov, 0.64 * np.eye(2), atol=1e-4)


def test_reverse_fit_2d_seeks_the_mode_near_its_start() -> None:
    target = dv.Mixture.make([1, 1], [[-2.0, -1.5], [2.0, 1.5]], [0.6, 0.6])
    mean, cov = dv.optimal_gaussian(target, "reverse", (np.array([1.0, 0.5]), 0.25 * np.eye(2)))
    np.testing.assert_allclose(mean, [2.0, 1.5], atol=0.01)
    np.testing.assert_allclose(cov, 0.36 * np.eye(2), atol=0.01)
    coarse = dv.optimal_gaussian(target, "reverse", (np.array([1.0, 0.5]), 0.25 * np.eye(2)),
                                 nodes=41)
    np.testing.assert_allclose(coarse[0], mean, atol=1e-4)


def test_stochastic_reverse_fit_ends_near_the_exact_optimum() -> None:
    w, m, s = [1, 1], [-2.5, 2.5], [0.6, 0.6]
    path = np.array(list(dv.kl_fit_steps(w, m, s, "reverse", init=(0.5, 0.5), seed=0,
                                         steps=300)))
    exact = dv.fit_gaussian(w, m, s, "reverse", init=(0.5, 0.5))
    np.testing.assert_allclose(path[-50:, :2].mean(axis=0), exact, atol=0.03)
    assert path[-50:, 2].mean() == pytest.approx(np.log(2), abs=0.02)


def test_fit_steps_deterministic_and_take_a_new_target() -> None:
    args = ([1, 1], [-2, 2], [0.5, 0.5], "reverse", (-0.5, 0.4))
    a = list(dv.kl_fit_steps(*args, seed=7, steps=40))
    assert a == list(dv.kl_fit_steps(*args, seed=7, steps=40))
    assert a != list(dv.kl_fit_steps(*args, seed=8, steps=40))
    gen = dv.kl_fit_steps(*args, seed=7)
    for _ in range(200):
        mu, sigma, _ = next(gen)
    assert mu == pytest.approx(-2.0, abs=0.1)  # it found mode 1 ...
    moved = dv.Mixture.make([1, 1], [-1.5, 2.0], [0.7, 0.5])
    for _ in range(300):
        mu, sigma, _ = gen.send(moved)
    # ... and follows it when the mode moves and widens
    assert mu == pytest.approx(-1.5, abs=0.1) and sigma == pytest.approx(0.7, abs=0.1)


def test_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    targets = [dv.Mixture.make([1, 2], [-1.0, 1.5], [0.5, 0.9]),
               dv.Mixture.make([0.3, 0.7], [[-2, -1], [2, 1]], [0.6, 0.9])]
    for target in targets:
        d = target.dim
        theta = rng.normal(size=2 * d + d * (d - 1) // 2) * 0.4
        eps = rng.standard_normal((64, d))
        w = np.full(64, 1 / 64)
        x = target.sample(64, rng)
        for fn, args in ((dv._reverse_terms, (target, eps, w)), (dv._forward_terms, (target, x))):
            grad = fn(theta, *args)[1]
            num = optimize.approx_fprime(theta, lambda t, fn=fn, args=args: fn(t, *args)[0],
                                         1e-7)
            np.testing.assert_allclose(grad, num, atol=2e-5)


def test_score_is_the_gradient_of_logpdf() -> None:
    target = dv.Mixture.make([1, 2, 1], [[-2, 0], [1, 1], [0, -2]], [0.5, 1.0, 0.7])
    x = np.random.default_rng(1).normal(size=(20, 2)) * 2
    h = 1e-6
    num = np.column_stack([(target.logpdf(x + h * e) - target.logpdf(x - h * e)) / (2 * h)
                           for e in np.eye(2)])
    np.testing.assert_allclose(target.score(x), num, atol=1e-6)
    np.testing.assert_allclose(np.exp(target.logpdf(x)),
                               sum(wk * stats.multivariate_normal.pdf(x, mk, sk**2)
                                   for wk, mk, sk in zip([0.25, 0.5, 0.25],
                                                         target.means, target.stds,
                                                         strict=True)), rtol=1e-12)


def test_a_diverging_fit_raises_and_keeps_its_last_state() -> None:
    fit = dv.GaussianFit("forward", [0.0], [1.0], lr=50.0, seed=0)
    target = dv.Mixture.make([1.0], [300.0], [0.01])
    with pytest.raises(dv.FitDiverged, match="forward-KL fit diverged"):
        for _ in range(100):
            fit.step(target)
    assert np.isfinite(fit.theta).all()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="direction"):
        dv.fit_gaussian([1], [0], [1], "sideways")
    with pytest.raises(ValueError, match="stds"):
        dv.fit_gaussian([1], [0], [0.0], "forward")
    with pytest.raises(ValueError, match="weights"):
        dv.Mixture.make([-1, 1], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="one of each"):
        dv.Mixture.make([1, 1], [0], [1, 1])
    with pytest.raises(ValueError, match="initial σ"):
        dv.fit_gaussian([1], [0], [1], "reverse", init=(0.0, -1.0))


# ---------------------------------------------------------------------------- divergences


@pytest.mark.parametrize("m0,s0,m1,s1", [(0.0, 1.0, 0.0, 1.0), (0.5, 0.7, -1.0, 1.6),
                                         (2.0, 1.5, 1.0, 0.4)])
def test_kl_between_two_gaussians(m0, s0, m1, s1) -> None:
    d = dv.divergences(dv.Mixture.make([1.0], [m0], [s0]), [m1], s1)
    assert d.kl_pq == pytest.approx(_kl_gauss(m0, s0**2, m1, s1**2), rel=1e-6, abs=1e-9)
    assert d.kl_qp == pytest.approx(_kl_gauss(m1, s1**2, m0, s0**2), rel=1e-6, abs=1e-9)
    # TV between two Gaussians of equal σ: 2Φ(|Δμ| / 2σ) − 1; identical: 0
    if s0 == s1:
        assert d.tv == pytest.approx(2 * ndtr(abs(m0 - m1) / (2 * s0)) - 1, abs=1e-6)


def test_kl_2d_gaussians() -> None:
    target = dv.Mixture.make([1.0], [[0.5, -0.5]], [0.8])
    cov = np.array([[1.5, 0.6], [0.6, 0.9]])
    d = dv.divergences(target, [0.0, 0.3], cov)
    c0 = 0.64 * np.eye(2)
    assert d.kl_pq == pytest.approx(_kl_gauss([0.5, -0.5], c0, [0, 0.3], cov), rel=1e-5)
    assert d.kl_qp == pytest.approx(_kl_gauss([0, 0.3], cov, [0.5, -0.5], c0), rel=1e-5)
    assert d.sliced


def test_tv_of_identical_densities_is_zero() -> None:
    for target, mean, cov in ((dv.Mixture.make([1.0], [1.2], [0.7]), [1.2], 0.7),
                              (dv.Mixture.make([1.0], [[1.0, -1.0]], [0.5]), [1.0, -1.0],
                               0.25 * np.eye(2))):
        d = dv.divergences(target, mean, cov)
        assert d.tv == pytest.approx(0.0, abs=1e-12)
        assert d.kl_pq == pytest.approx(0.0, abs=1e-12)
        assert d.kl_qp == pytest.approx(0.0, abs=1e-12)
        assert d.w1 == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("delta", [0.0, 0.4, 3.0])
def test_w1_between_gaussians_of_equal_sigma_is_the_mean_shift(delta) -> None:
    d = dv.divergences(dv.Mixture.make([1.0], [-1.0], [0.8]), [-1.0 + delta], 0.8)
    assert d.w1 == pytest.approx(delta, abs=1e-6)


def test_w1_against_scipy_on_samples() -> None:
    rng = np.random.default_rng(0)
    target = dv.Mixture.make([1.0, 0.4], [-2.0, 2.5], [0.6, 0.9])
    mean, std = 0.7, 1.4
    xp = target.sample(200_000, rng)[:, 0]
    xq = rng.normal(mean, std, 200_000)
    ref = stats.wasserstein_distance(xp, xq)
    assert dv.divergences(target, [mean], std).w1 == pytest.approx(ref, abs=0.01)


def test_sliced_w1_closed_form_and_samples() -> None:
    # equal covariances, shifted by Δ: W1 along u is |Δ·u|; its mean over the circle (2/π)|Δ|
    delta = np.array([1.2, -0.5])
    target = dv.Mixture.make([1.0], [[0.0, 0.0]], [0.7])
    got = dv.sliced_w1(target, delta, 0.49 * np.eye(2))
    assert got == pytest.approx(2 / np.pi * np.linalg.norm(delta), rel=2e-3)
    # a mixture against a correlated Gaussian: the same 64 directions on samples
    rng = np.random.default_rng(2)
    target = dv.Mixture.make([1, 1], [[-2.0, -1.5], [2.0, 1.5]], [0.6, 0.6])
    mean, cov = np.array([0.3, 0.0]), np.array([[2.0, 0.8], [0.8, 1.0]])
    xp = target.sample(40_000, rng)
    xq = rng.multivariate_normal(mean, cov, 40_000)
    phi = np.pi * np.arange(dv.N_DIRECTIONS) / dv.N_DIRECTIONS
    u = np.column_stack([np.cos(phi), np.sin(phi)])
    ref = np.mean([stats.wasserstein_distance(xp @ v, xq @ v) for v in u])
    assert dv.sliced_w1(target, mean, cov) == pytest.approx(ref, abs=0.02)
    assert dv.divergences(target, mean, cov).w1 == pytest.approx(ref, abs=0.02)


def test_grid_kl_matches_the_quadrature_and_the_landscapes() -> None:
    target = dv.Mixture.make([1.0, 0.4], [-2.0, 2.5], [0.6, 0.9])
    for mean, std in ((0.0, 2.0), (2.4, 0.8), (-3.0, 0.5)):
        d = dv.divergences(target, [mean], std)
        assert d.kl_qp == pytest.approx(dv.reverse_kl(target, [mean], std), abs=1e-6)
        land = dv.reverse_kl_landscape(target, np.array([mean]), np.array([std]))
        assert land[0, 0] == pytest.approx(d.kl_qp, abs=2e-3)
        fwd = dv.forward_kl_landscape(target, np.array([mean]), np.array([std]),
                                      dv.entropy(target))
        assert fwd[0, 0] == pytest.approx(d.kl_pq, abs=1e-6)
    # several Gaussians on one shared (wider) grid: the same values
    many = dv.divergences_many(target, [([0.0], 2.0), ([2.4], 0.8)])
    one = dv.divergences(target, [2.4], 0.8)
    for name in ("kl_pq", "kl_qp", "tv", "w1"):
        assert getattr(many[1], name) == pytest.approx(getattr(one, name), abs=1e-5)


def test_entropy_of_gaussians() -> None:
    assert dv.entropy(dv.Mixture.make([1.0], [0.3], [0.7])) == pytest.approx(
        0.5 * np.log(2 * np.pi * np.e * 0.49), abs=1e-9)
    assert dv.entropy(dv.Mixture.make([1.0], [[0.3, 1.0]], [0.7])) == pytest.approx(
        np.log(2 * np.pi * np.e * 0.49), abs=1e-6)


def test_generic_grid_helpers() -> None:
    x = np.linspace(-12, 12, 8001)
    dx = x[1] - x[0]
    lp = stats.norm.logpdf(x, 0, 1)
    lq = stats.norm.logpdf(x, 1, 2)
    assert dv.kl_on_grid(lp, lq, dx) == pytest.approx(_kl_gauss(0, 1, 1, 4), rel=1e-6)
    assert dv.tv_on_grid(np.exp(lp), np.exp(lp), dx) == 0.0
    assert dv.w1_on_grid(stats.norm.cdf(x), stats.norm.cdf(x, 0.5), dx) == pytest.approx(
        0.5, abs=1e-6)
    # p = 0 somewhere counts 0, not NaN
    assert np.isfinite(dv.kl_on_grid(np.full(3, -np.inf), np.zeros(3), 1.0))
