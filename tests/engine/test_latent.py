"""genlab.engine.latent against closed forms and scipy: the χ_d density, lerp and slerp, and
the linear-combination transform that maps combinations of latents back to their prior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from genlab.engine import latent as L


@pytest.mark.parametrize("d", [1, 2, 3, 10, 64, 784, 3072, 10_000])
def test_chi_pdf_matches_scipy_and_integrates_to_one(d):
    m, s = stats.chi.mean(d), stats.chi.std(d)
    r = np.linspace(max(0.0, m - 10 * s), m + 10 * s, 2001)
    np.testing.assert_allclose(L.chi_pdf(r, d), stats.chi.pdf(r, d), rtol=1e-9, atol=1e-300)
    lo, hi = max(0.0, m - 40 * s), m + 40 * s  # the rest is below 1e-300
    total, _ = integrate.quad(lambda x: float(L.chi_pdf(x, d)), lo, hi, points=[m], limit=200)
    assert total == pytest.approx(1.0, abs=1e-7)
    np.testing.assert_allclose(L.chi_cdf(r, d), stats.chi.cdf(r, d), rtol=1e-8, atol=1e-14)
    assert L.chi_mean(d) == pytest.approx(m, rel=1e-10)
    assert L.chi_std(d) == pytest.approx(s, rel=1e-6)


def test_chi_pdf_edges_and_the_annulus():
    assert L.chi_pdf(0.0, 1) == pytest.approx(np.sqrt(2 / np.pi))
    assert L.chi_pdf(0.0, 5) == 0.0 and L.chi_pdf(-1.0, 3) == 0.0
    assert L.chi_pdf(np.zeros((2, 3)), 4).shape == (2, 3)
    assert L.chi_std(10_000) == pytest.approx(1 / np.sqrt(2), abs=1e-4)  # spread -> 1/√2
    assert L.chi_mean(10_000) == pytest.approx(100.0, abs=1e-2)  # mean ≈ √d


@pytest.mark.parametrize("d", [2, 3, 7, 100])
def test_angle_pdf_integrates_to_one_and_matches_a_monte_carlo(d):
    total, _ = integrate.quad(lambda t: float(L.angle_pdf(t, d)), 0, np.pi)
    assert total == pytest.approx(1.0, abs=1e-8)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 20_000, d))
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    ang = np.sort(np.arccos(cos))
    grid = np.linspace(0, np.pi, 20_001)
    cdf = integrate.cumulative_trapezoid(L.angle_pdf(grid, d), grid, initial=0.0)
    ks = np.abs(np.interp(ang, grid, cdf) - np.arange(1, len(ang) + 1) / len(ang)).max()
    assert ks < 1.6 / np.sqrt(len(ang))  # Kolmogorov's 1% point is 1.63/√n


def test_ball_volume_closed_form():
    assert 10 ** L.log10_ball_volume(2) == pytest.approx(np.pi)
    assert 10 ** L.log10_ball_volume(3) == pytest.approx(4 * np.pi / 3)
    v = L.log10_ball_volume(np.arange(1, 30))
    assert int(np.argmax(v)) + 1 == 5  # largest at d = 5


def test_gaussian_logpdf_matches_scipy():
    rng = np.random.default_rng(1)
    mu, var = rng.normal(size=5), rng.uniform(0.5, 2, 5)
    z = rng.normal(size=(7, 5))
    ref = stats.multivariate_normal(mu, np.diag(var)).logpdf(z)
    np.testing.assert_allclose(L.gaussian_logpdf(z, mu, var), ref, rtol=1e-12)


def test_lerp_shapes_and_endpoints():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 4, 6))
    t = np.linspace(0, 1, 5)
    out = L.lerp(a, b, t)
    assert out.shape == (5, 4, 6)
    np.testing.assert_allclose(out[0], a)
    np.testing.assert_allclose(out[-1], b)
    np.testing.assert_allclose(out[2], (a + b) / 2)
    assert L.lerp(a[0], b[0], 0.25).shape == (6,)
    assert L.lerp(a, b, np.zeros((2, 3))).shape == (2, 3, 4, 6)


def test_slerp_keeps_the_norm_of_equal_norm_endpoints():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 10, 50))
    b *= (np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))[:, None]
    t = np.linspace(0, 1, 11)
    out = L.slerp(a, b, t)
    assert out.shape == (11, 10, 50)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1),
                               np.broadcast_to(np.linalg.norm(a, axis=1), (11, 10)), rtol=1e-12)
    np.testing.assert_allclose(out[0], a, atol=1e-12)
    np.testing.assert_allclose(out[-1], b, atol=1e-12)
    # equal angular steps: the angle to a grows linearly in t
    cos = (out[:, 0] @ a[0]) / np.linalg.norm(a[0]) ** 2
    omega = np.arccos(np.clip(cos, -1, 1))
    np.testing.assert_allclose(np.diff(omega), omega[-1] / 10, rtol=1e-8)


def test_slerp_of_parallel_endpoints_is_lerp():
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(L.slerp(a, 2 * a, 0.5), 1.5 * a)


def test_combine_formula_and_special_cases():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3, 8))
    mu = rng.normal(size=8)
    w = np.array([0.2, -0.5, 1.1])
    alpha, beta = w.sum(), (w * w).sum()
    np.testing.assert_allclose(L.combine(w, X, mu), mu + (w @ X - alpha * mu) / np.sqrt(beta))
    np.testing.assert_allclose(L.combine([0, 1, 0], X, mu), X[1])  # one latent: itself
    np.testing.assert_allclose(L.combine(np.eye(3), X, mu), X)  # batched weights
    with pytest.raises(ValueError):
        L.combine([0, 0, 0], X)
    with pytest.raises(ValueError):
        L.combine([1, 1], X)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_combine_returns_prior_distributed_points_for_random_weights(k):
    """Many draws of K latents from N(μ, Σ) and random weights: the combined points have mean
    μ and covariance Σ (within statistical tolerance), while the plain combination has
    N(αμ, βΣ)."""
    rng = np.random.default_rng(5 + k)
    d, n = 3, 12_000
    mu = np.array([1.0, -2.0, 0.5])
    A = rng.normal(size=(d, d))
    cov = A @ A.T + 0.5 * np.eye(d)
    chol = np.linalg.cholesky(cov)
    X = mu + rng.standard_normal((n, k, d)) @ chol.T  # (n, K, d)
    w = rng.normal(size=(n, k)) * rng.uniform(0.2, 3.0, size=(n, 1))  # a fresh w per draw
    z = np.stack([L.combine(w[i], X[i], mu) for i in range(0, n)])
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(z.mean(0) - mu) < 4 * se)
    emp = np.cov(z.T)
    # sd of a sample covariance entry: sqrt((Σ_ij² + Σ_ii Σ_jj) / n)
    tol = 4 * np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    assert np.all(np.abs(emp - cov) < tol)
    # the normalised residual is N(0, I): its squared Mahalanobis norm is χ²_d
    u = np.linalg.solve(chol, (z - mu).T).T
    assert stats.kstest((u ** 2).sum(1), stats.chi2(d).cdf).pvalue > 1e-3


def test_lerp_midpoint_shrinks_and_the_slide_normalisation_overshoots():
    """At t = ½ lerp's point is N(0, I/2) (norm ≈ √(d/2)); dividing wᵀX by wᵀw gives N(0, 2I)
    (≈ √(2d)); dividing by √(wᵀw) restores N(0, I) (≈ √d)."""
    rng = np.random.default_rng(6)
    d = 3072
    a, b = rng.standard_normal((2, 200, d))
    mid = L.lerp(a, b, 0.5)
    w = np.array([0.5, 0.5])
    assert np.linalg.norm(mid, axis=-1).mean() == pytest.approx(np.sqrt(d / 2), rel=0.01)
    slide = mid / (w @ w)
    assert np.linalg.norm(slide, axis=-1).mean() == pytest.approx(np.sqrt(2 * d), rel=0.01)
    comb = np.stack([L.combine(w, np.stack([a[i], b[i]])) for i in range(200)])
    assert np.linalg.norm(comb, axis=-1).mean() == pytest.approx(np.sqrt(d), rel=0.01)
