"""genlab.engine.langevin: ULA's closed-form stationary variance, MALA's exactness, shapes and
``every`` semantics, determinism, and the targets' gradients and normalisation.  No Qt."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from genlab.engine import langevin as lv

N_CHAINS = 100_000
# Sample variance of n iid N(0, V) draws has standard error V * sqrt(2 / (n - 1)).
REL_SE = float(np.sqrt(2.0 / (N_CHAINS - 1)))  # ~0.0045
TOL = 5.0 * REL_SE  # ~2.2 %, relative


def _std_normal_grad(x: np.ndarray) -> np.ndarray:
    return -x


def _std_normal_logp(x: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(x * x, axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi)


@pytest.mark.parametrize("eta", [0.1, 0.5])
def test_ula_stationary_variance_matches_closed_form(eta: float) -> None:
    # x' = (1 - eta) x + sqrt(2 eta) xi  =>  Var = 2 eta / (1 - (1 - eta)^2) = 1 / (1 - eta / 2)
    theory = 1.0 / (1.0 - eta / 2.0)
    x0 = np.zeros((N_CHAINS, 1))
    # from x0 = 0 the variance gap decays like (1 - eta)^(2t): 0.9^400 ~ 5e-19
    pos = lv.run_chains(_std_normal_grad, x0, eta, 200, seed=1, every=200)
    var = float(pos[-1, :, 0].var())
    assert abs(var / theory - 1.0) < TOL
    # and the bias is resolved: the target's variance 1 lies outside the band (at eta = 0.1
    # the bias 0.053 is ~11 standard errors, the band half-width ~5)
    assert abs(var - 1.0) > TOL * theory
    assert abs(float(pos[-1].mean())) < 5 * np.sqrt(theory / N_CHAINS)


@pytest.mark.parametrize("eta", [0.1, 0.5])
def test_mala_reaches_exact_variance(eta: float) -> None:
    x0 = np.zeros((N_CHAINS, 1))  # start far from stationarity (a point mass)
    pos, acc = lv.run_chains_with_stats(_std_normal_grad, x0, eta, 300,
                                        log_p=_std_normal_logp, mala=True, seed=2, every=100)
    var = float(pos[-1, :, 0].var())
    assert abs(var - 1.0) < TOL
    assert abs(float(pos[-1].mean())) < 5 * np.sqrt(1.0 / N_CHAINS)
    assert acc.shape == (3,)
    # MALA really rejects some proposals at these steps, but not most of them
    assert np.all((acc > 0.5) & (acc < 1.0))


def test_mala_correlated_gaussian_covariance() -> None:
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    tgt = lv.GaussianMixture([1.0], [[1.0, -1.0]], cov[None])
    x0 = np.zeros((20_000, 2))
    pos = lv.run_chains(tgt.grad_log_p, x0, 0.3, 200, log_p=tgt.log_p, mala=True, seed=3,
                        every=200)
    x = pos[-1]
    se = np.sqrt(2.0 / x.shape[0])
    assert np.allclose(x.mean(axis=0), [1.0, -1.0], atol=5 * np.sqrt(1.0 / x.shape[0]))
    assert np.allclose(np.cov(x.T), cov, atol=5 * se)


def test_shapes_and_every_semantics() -> None:
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((7, 3))
    full = lv.run_chains(_std_normal_grad, x0, 0.2, 12, seed=5)
    assert full.shape == (12, 7, 3)
    sub = lv.run_chains(_std_normal_grad, x0, 0.2, 12, seed=5, every=4)
    assert sub.shape == (3, 7, 3)
    np.testing.assert_array_equal(sub, full[[3, 7, 11]])
    # every not dividing n_steps: n_steps // every rows, aligned on the end
    odd = lv.run_chains(_std_normal_grad, x0, 0.2, 12, seed=5, every=5)
    assert odd.shape == (2, 7, 3)
    np.testing.assert_array_equal(lv.recorded_steps(12, 5), [7, 12])
    np.testing.assert_array_equal(odd, full[[6, 11]])
    # x0 is not modified and is not the first row
    assert not np.array_equal(full[0], x0)
    # ULA acceptance is all ones
    _, acc = lv.run_chains_with_stats(_std_normal_grad, x0, 0.2, 12, every=4)
    np.testing.assert_array_equal(acc, np.ones(3))


def test_one_ula_step_is_the_formula() -> None:
    x0 = np.array([[1.0, -2.0], [0.5, 0.0]])
    eta = 0.3
    out = lv.run_chains(_std_normal_grad, x0, eta, 1, seed=11)
    xi = np.random.default_rng(11).standard_normal(x0.shape)
    np.testing.assert_allclose(out[0], x0 + eta * (-x0) + np.sqrt(2 * eta) * xi)


def test_mala_needs_log_p_and_bad_arguments() -> None:
    x0 = np.zeros((3, 2))
    with pytest.raises(ValueError, match="log_p"):
        lv.run_chains(_std_normal_grad, x0, 0.1, 10, mala=True)
    with pytest.raises(ValueError):
        lv.run_chains(_std_normal_grad, x0, 0.1, 10, every=0)
    with pytest.raises(ValueError):
        lv.run_chains(_std_normal_grad, x0, 0.1, 3, every=4)
    with pytest.raises(ValueError):
        lv.run_chains(_std_normal_grad, x0, -0.1, 10)
    with pytest.raises(ValueError):
        lv.run_chains(_std_normal_grad, np.zeros(3), 0.1, 10)


@pytest.mark.parametrize("mala", [False, True])
def test_deterministic_for_a_seed(mala: bool) -> None:
    tgt = lv.Banana()
    x0 = np.random.default_rng(0).standard_normal((50, 2))
    a = lv.run_chains_with_stats(tgt.grad_log_p, x0, 0.05, 30, log_p=tgt.log_p, mala=mala,
                                 seed=7, every=3)
    b = lv.run_chains_with_stats(tgt.grad_log_p, x0, 0.05, 30, log_p=tgt.log_p, mala=mala,
                                 seed=7, every=3)
    c = lv.run_chains_with_stats(tgt.grad_log_p, x0, 0.05, 30, log_p=tgt.log_p, mala=mala,
                                 seed=8, every=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_mala_rejects_nonfinite_proposals() -> None:
    # log p = -inf outside the unit disc: no chain may ever leave it
    def logp(x: np.ndarray) -> np.ndarray:
        return np.where(np.sum(x * x, axis=1) < 1.0, 0.0, -np.inf)

    x0 = np.zeros((500, 2))
    pos, acc = lv.run_chains_with_stats(lambda x: np.zeros_like(x), x0, 0.05, 50, log_p=logp,
                                        mala=True, every=10)
    assert np.all(np.sum(pos**2, axis=2) < 1.0)
    assert np.all((acc > 0.0) & (acc < 1.0))


ALL_TARGETS = [
    lv.make_target("mixture"),
    lv.Ring(n_modes=5, radius=2.0, sigma=0.4),
    lv.Banana(a=1.5, b=0.7, s=0.6),
    lv.Donut(radius=2.0, sigma=0.4),
    lv.Donut(radius=0.0, sigma=1.0),
    lv.Funnel(sigma_v=1.5),
]


@pytest.mark.parametrize("tgt", ALL_TARGETS, ids=lambda t: type(t).__name__)
def test_grad_matches_finite_differences(tgt: lv.Target) -> None:
    x = np.random.default_rng(4).uniform(-2.5, 2.5, (40, 2))
    h = 1e-5
    fd = np.empty_like(x)
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        fd[:, j] = (tgt.log_p(x + e) - tgt.log_p(x - e)) / (2 * h)
    g = tgt.grad_log_p(x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tgt", ALL_TARGETS, ids=lambda t: type(t).__name__)
def test_targets_are_normalised(tgt: lv.Target) -> None:
    # Riemann sum (spectrally accurate for these smooth, fast-decaying densities) on a grid
    # that holds each target's mass.  The funnel's x-width is e^(v/2), so it is integrated in
    # z = x e^(-v/2), dx = e^(v/2) dz; the banana in u = x2 - b (x1^2 - a^2) (Jacobian 1).
    z = u = np.linspace(-8, 8, 321)
    gz, gu = np.meshgrid(z, u, indexing="ij")
    jac = np.ones_like(gz)
    second = gu
    if isinstance(tgt, lv.Funnel):
        jac = np.exp(gu / 2)
    if isinstance(tgt, lv.Banana):
        second = gu + tgt.b * (gz**2 - tgt.a**2)
    pts = np.stack([(gz * jac).ravel(), second.ravel()], axis=1)
    mass = np.sum(np.exp(tgt.log_p(pts)) * jac.ravel()) * (z[1] - z[0]) * (u[1] - u[0])
    assert abs(mass - 1.0) < 1e-6


def test_mixture_log_p_matches_scipy() -> None:
    w = np.array([0.2, 0.5, 0.3])
    mu = np.array([[-1.0, 0.5], [2.0, 2.0], [0.0, -3.0]])
    cov = np.array([[[1.0, 0.4], [0.4, 0.5]], [[0.3, -0.1], [-0.1, 0.2]], [[2.0, 0.0], [0.0, 1.0]]])
    tgt = lv.GaussianMixture(w, mu, cov)
    x = np.random.default_rng(9).uniform(-5, 5, (200, 2))
    ref = np.log(sum(w[k] * multivariate_normal(mu[k], cov[k]).pdf(x) for k in range(3)))
    np.testing.assert_allclose(tgt.log_p(x), ref, rtol=1e-10, atol=1e-10)
    # unnormalised weights are normalised
    np.testing.assert_allclose(lv.GaussianMixture(10 * w, mu, cov).log_p(x), ref, rtol=1e-10)
    # far from every mode: logsumexp keeps it finite, the score points back
    far = np.array([[300.0, -300.0]])
    assert np.isfinite(tgt.log_p(far)).all()
    assert np.all(np.isfinite(tgt.grad_log_p(far)))


def test_make_target_and_registry() -> None:
    for name in lv.TARGETS:
        t = lv.make_target(name)
        assert t.log_p(np.zeros((4, 2))).shape == (4,)
        assert t.grad_log_p(np.zeros((4, 2))).shape == (4, 2)
    with pytest.raises(ValueError, match="unknown target"):
        lv.make_target("nope")


def test_mala_samples_banana_marginal() -> None:
    # x1 ~ N(0, a^2) exactly under the banana; x2 has mean 0 and Var = s^2 + 2 b^2 a^4
    tgt = lv.Banana(a=1.0, b=0.5, s=0.5)
    x0 = np.random.default_rng(0).standard_normal((20_000, 2))
    pos = lv.run_chains(tgt.grad_log_p, x0, 0.05, 600, log_p=tgt.log_p, mala=True, seed=6,
                        every=600)
    x = pos[-1]
    n = x.shape[0]
    assert abs(x[:, 0].var() - 1.0) < 5 * np.sqrt(2 / n)
    var2 = 0.25 + 2 * 0.25
    assert abs(x[:, 1].mean()) < 5 * np.sqrt(var2 / n)
    assert abs(x[:, 1].var() / var2 - 1.0) < 0.08  # x2 is non-Gaussian: looser band


def test_ula_and_mala_with_one_seed_share_their_noise_step_for_step():
    """With every move accepted (a tiny step on a Gaussian), MALA's chains are ULA's exactly:
    the acceptance uniforms have a stream of their own (they used to be drawn from the noise
    stream, which split the two after the first step: 0.023 apart after 2 steps)."""
    from genlab.engine.langevin import run_chains_with_stats

    def grad(x):
        return -x

    def logp(x):
        return -0.5 * (x**2).sum(1)

    x0 = np.random.default_rng(3).normal(size=(200, 2))
    ula, _ = run_chains_with_stats(grad, x0, 1e-4, 5, seed=11)
    mala, acc = run_chains_with_stats(grad, x0, 1e-4, 5, log_p=logp, mala=True, seed=11)
    assert acc.min() == 1.0  # every proposal accepted
    np.testing.assert_array_equal(ula, mala)
