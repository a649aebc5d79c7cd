"""Uniform numbers to samples: LCGs, the spectral test, Box-Muller, inverse CDF, Cholesky,
ancestral sampling (no Qt).  Statistical tests use fixed seeds and alpha = 1e-3."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from genlab.engine.sampling import (
    DISTRIBUTIONS,
    GENERATORS,
    ancestral_gmm,
    box_muller,
    categorical,
    cdf,
    cholesky,
    cholesky_transform,
    cov_from,
    inverse_cdf,
    lcg,
    lcg_uniforms,
    pdf,
    worst_planes,
)

ALPHA = 1e-3


def reference_lcg(m: int, a: int, c: int, x0: int, n: int) -> list[int]:
    out, x = [], x0
    for _ in range(n):
        x = (a * x + c) % m
        out.append(x)
    return out


# ---------------------------------------------------------------------------- LCG


def test_known_sequences() -> None:
    # MINSTD (Park-Miller, a = 48271) and RANDU from seed 1; checked by hand-written integer
    # arithmetic: 48271^2 mod (2^31 - 1) = 182605794, 65539^2 mod 2^31 = 393225.
    minstd = lcg(2**31 - 1, 48271, 0, 1, 5)
    assert minstd.dtype == np.uint64
    assert minstd[:3].tolist() == [48271, 182605794, 1291394886]
    assert minstd.tolist() == reference_lcg(2**31 - 1, 48271, 0, 1, 5)
    assert 48271**2 % (2**31 - 1) == 182605794
    randu = lcg(*GENERATORS["RANDU"], 1, 6)
    assert randu[:3].tolist() == [65539, 393225, 1769499]
    assert randu.tolist() == reference_lcg(2**31, 65539, 0, 1, 6)
    # MINSTD's published check value: X_10000 = 399268537 from X_0 = 1 (Park et al. 1993)
    assert int(lcg(2**31 - 1, 48271, 0, 1, 10000)[-1]) == 399268537


@pytest.mark.parametrize("m, a, c", [
    *[tuple(g) for g in GENERATORS.values()],
    (2**64, 6364136223846793005, 1442695040888963407),  # Knuth's MMIX, wraps uint64
    (2**64 - 59, 2862933555777941757, 1),  # huge, not a power of two: Python-int path
    (2**32 - 5, 4294967290, 4294967000),  # A X + C just below 2**64
    (7, 3, 0),
])
def test_lcg_is_exact(m: int, a: int, c: int) -> None:
    n = 5000
    got = lcg(m, a, c, 12345, n)
    assert got.tolist() == reference_lcg(m, a, c, 12345 % m, n)
    u = lcg_uniforms(m, a, c, 12345, n)
    assert u.dtype == np.float64 and ((u >= 0) & (u < 1)).all()
    np.testing.assert_allclose(u, got.astype(float) / m, rtol=1e-15)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 2**64), a=st.integers(0, 2**64), c=st.integers(0, 2**64),
       x0=st.integers(0, 2**64), n=st.integers(0, 400))
def test_lcg_matches_python_ints_for_any_parameters(m: int, a: int, c: int, x0: int,
                                                    n: int) -> None:
    got = lcg(m, a, c, x0, n)
    assert got.shape == (n,)
    assert got.tolist() == reference_lcg(m, a % m, c % m, x0 % m, n)


def test_lcg_first_output_is_x1_and_errors() -> None:
    assert lcg(10, 3, 1, 2, 1).tolist() == [7]
    with pytest.raises(ValueError):
        lcg(1, 1, 0, 0, 3)
    with pytest.raises(ValueError):
        lcg(2**64 + 1, 1, 0, 0, 3)
    with pytest.raises(ValueError):
        lcg(16, -1, 0, 0, 3)


def test_randu_recurrence() -> None:
    # a^2 = (2^16 + 3)^2 = 6 a - 9 (mod 2^31)  =>  x_{k+2} = 6 x_{k+1} - 9 x_k (mod 2^31)
    x = [int(v) for v in lcg(*GENERATORS["RANDU"], 1, 2000)]
    for k in range(len(x) - 2):
        assert x[k + 2] == (6 * x[k + 1] - 9 * x[k]) % 2**31


def test_full_period_of_the_tiny_lattice() -> None:
    g = GENERATORS["tiny lattice"]
    states = lcg(*g, 0, g.m)
    assert sorted(states.tolist()) == list(range(g.m))


# ---------------------------------------------------------------------------- spectral test


def test_randu_worst_planes() -> None:
    h, n_planes = worst_planes(2**31, 65539, 3)
    assert h.tolist() in ([9, -6, 1], [-9, 6, -1])
    assert n_planes == 15
    # and the triples really do lie on those planes
    u = lcg_uniforms(*GENERATORS["RANDU"], 1, 3002)
    triples = np.column_stack([u[:-2], u[1:-1], u[2:]])
    v = triples @ np.array([9.0, -6.0, 1.0])
    np.testing.assert_allclose(v, np.round(v), atol=1e-6)
    assert len(np.unique(np.round(v))) <= 15


@pytest.mark.parametrize("name", list(GENERATORS))
@pytest.mark.parametrize("dim", [2, 3])
def test_worst_planes_is_shortest_dual_vector(name: str, dim: int) -> None:
    m, a, c = GENERATORS[name]
    h, n_planes = worst_planes(m, a, dim, c)
    powers = [pow(a, i, m) for i in range(dim)]
    assert sum(int(x) * p for x, p in zip(h, powers, strict=True)) % m == 0
    assert next(x for x in h if x) > 0
    assert 1 <= n_planes <= int(np.abs(h).sum()) + 1
    # brute force (vectorised) over the box holding every vector no longer than h: for each
    # (h2, ..., h_d) the best h1 is the residue of -(a h2 + ...) nearest to 0
    r = int(math.ceil(np.linalg.norm(h)))
    grid = np.arange(-r, r + 1, dtype=np.int64)
    rest = np.stack(np.meshgrid(*([grid] * (dim - 1)), indexing="ij"), -1).reshape(-1, dim - 1)
    h1 = (-(rest * np.array(powers[1:], dtype=np.int64)).sum(axis=1)) % m
    h1 = np.where(h1 > m // 2, h1 - m, h1)
    n2 = h1.astype(float) ** 2 + (rest.astype(float) ** 2).sum(axis=1)
    n2[(h1 == 0) & (rest == 0).all(axis=1)] = np.inf
    best = n2.min()
    assert int(h @ h) == best


def test_tiny_lattice_pairs_on_lines() -> None:
    g = GENERATORS["tiny lattice"]
    h, n_lines = worst_planes(g.m, g.a, 2, g.c)
    u = lcg_uniforms(*g, 0, g.m + 1)
    v = np.column_stack([u[:-1], u[1:]]) @ h.astype(float)
    levels = np.unique(np.round(v - v[0], 9) % 1.0)
    assert levels.tolist() == [0.0]  # every pair on a line h . u = k + delta
    # n_lines counts the lines meeting the unit square: an upper bound on those in use
    assert n_lines - 1 <= len(np.unique(np.round(v, 9))) <= n_lines


# ---------------------------------------------------------------------------- Box-Muller


def test_box_muller_is_standard_normal_and_independent() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    z1, z2 = box_muller(rng.random(n), rng.random(n))
    for z in (z1, z2):
        assert stats.kstest(z, "norm").pvalue > ALPHA
        assert stats.normaltest(z).pvalue > ALPHA
        assert abs(z.mean()) < 4 / math.sqrt(n)
        assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    r = stats.pearsonr(z1, z2)
    assert r.pvalue > ALPHA
    # independence also of squares (uncorrelated is not independent in general)
    assert stats.pearsonr(z1**2, z2**2).pvalue > ALPHA


def test_box_muller_geometry_and_guard() -> None:
    u1 = np.array([0.0, np.exp(-0.5), 1.0])
    u2 = np.array([0.25, 0.0, 0.5])
    z1, z2 = box_muller(u1, u2)
    assert np.isfinite(z1).all() and np.isfinite(z2).all()
    np.testing.assert_allclose(np.hypot(z1, z2)[1:], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose([z1[1], z2[1]], [1.0, 0.0], atol=1e-12)
    assert z1[0] == pytest.approx(0.0, abs=1e-9) and 8 < z2[0] < 9


# ---------------------------------------------------------------------------- inverse CDF

MIX = {"weights": [0.3, 0.7], "means": [-1.5, 2.0], "stds": [0.5, 1.0]}


def test_inverse_cdf_matches_scipy() -> None:
    u = np.linspace(0.0005, 0.9995, 999)
    np.testing.assert_allclose(inverse_cdf("exponential", u, rate=2.5),
                               stats.expon(scale=1 / 2.5).ppf(u), rtol=1e-12)
    np.testing.assert_allclose(inverse_cdf("gaussian", u, mu=1.0, sigma=0.3),
                               stats.norm(1.0, 0.3).ppf(u), rtol=1e-12, atol=1e-14)
    assert inverse_cdf("exponential", 0.0).item() == 0.0
    assert inverse_cdf("gaussian", 1.0).item() == np.inf


def test_pdf_cdf_match_scipy() -> None:
    x = np.linspace(-5, 8, 301)
    np.testing.assert_allclose(pdf("exponential", x, rate=0.7),
                               stats.expon(scale=1 / 0.7).pdf(x), rtol=1e-12)
    np.testing.assert_allclose(cdf("exponential", x, rate=0.7),
                               stats.expon(scale=1 / 0.7).cdf(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pdf("gaussian", x, mu=1, sigma=2), stats.norm(1, 2).pdf(x),
                               rtol=1e-12)
    np.testing.assert_allclose(cdf("gaussian", x, mu=1, sigma=2), stats.norm(1, 2).cdf(x),
                               rtol=1e-12)
    mix_pdf = 0.3 * stats.norm(-1.5, 0.5).pdf(x) + 0.7 * stats.norm(2.0, 1.0).pdf(x)
    mix_cdf = 0.3 * stats.norm(-1.5, 0.5).cdf(x) + 0.7 * stats.norm(2.0, 1.0).cdf(x)
    np.testing.assert_allclose(pdf("mixture", x, **MIX), mix_pdf, rtol=1e-12)
    np.testing.assert_allclose(cdf("mixture", x, **MIX), mix_cdf, rtol=1e-12, atol=1e-15)


def test_mixture_inverse_roundtrip() -> None:
    u = np.concatenate([np.linspace(1e-9, 1 - 1e-9, 2001), [1e-15, 0.5, 1 - 1e-12]])
    x = inverse_cdf("mixture", u, **MIX)
    assert np.isfinite(x).all()
    np.testing.assert_allclose(cdf("mixture", x, **MIX), u, rtol=1e-9, atol=1e-13)
    assert (np.diff(x[:2001]) > 0).all()
    ends = inverse_cdf("mixture", [0.0, 1.0], **MIX)
    assert ends.tolist() == [-np.inf, np.inf]
    # a one-component mixture is a Gaussian
    np.testing.assert_allclose(
        inverse_cdf("mixture", u[:2001], weights=[1], means=[0.5], stds=[2]),
        stats.norm(0.5, 2).ppf(u[:2001]), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(u=st.floats(1e-12, 1 - 1e-12), sep=st.floats(0.0, 10.0), w=st.floats(0.01, 0.99),
       s1=st.floats(0.05, 3.0), s2=st.floats(0.05, 3.0))
def test_mixture_inverse_property(u: float, sep: float, w: float, s1: float,
                                  s2: float) -> None:
    params = {"weights": [w, 1 - w], "means": [-sep / 2, sep / 2], "stds": [s1, s2]}
    x = inverse_cdf("mixture", np.array([u]), **params)
    assert np.isfinite(x).all()
    assert cdf("mixture", x, **params)[0] == pytest.approx(u, rel=1e-8, abs=1e-14)


def test_inverse_cdf_samples_pass_ks() -> None:
    u = np.random.default_rng(1).random(5000)
    ref = {"exponential": stats.expon(scale=0.5).cdf, "gaussian": stats.norm(2, 3).cdf,
           "mixture": lambda x: cdf("mixture", x, **MIX)}
    params = {"exponential": {"rate": 2.0}, "gaussian": {"mu": 2, "sigma": 3},
              "mixture": MIX}
    for dist in DISTRIBUTIONS:
        x = inverse_cdf(dist, u, **params[dist])
        assert stats.kstest(x, ref[dist]).pvalue > ALPHA


def test_distribution_errors() -> None:
    with pytest.raises(ValueError, match="exponential"):
        inverse_cdf("cauchy", [0.5])
    with pytest.raises(ValueError):
        inverse_cdf("gaussian", [1.5])
    with pytest.raises(ValueError):
        pdf("exponential", [1.0], rate=-1)
    with pytest.raises(ValueError):
        cdf("mixture", [1.0], weights=[1, 1], means=[0], stds=[1])
    with pytest.raises(TypeError):
        pdf("gaussian", [1.0], rate=2)


# ---------------------------------------------------------------------------- Cholesky


def test_cov_from_and_cholesky() -> None:
    cov = cov_from(2.0, 0.5, -0.6)
    np.testing.assert_allclose(cov, [[4.0, -0.6], [-0.6, 0.25]])
    big_l = cholesky(cov)
    np.testing.assert_allclose(big_l @ big_l.T, cov)
    assert big_l[0, 1] == 0
    with pytest.raises(ValueError, match="positive definite"):
        cholesky_transform(np.zeros((3, 2)), [0, 0], cov_from(1, 1, 1.0))
    with pytest.raises(ValueError, match="positive definite"):
        cholesky_transform(np.zeros((3, 2)), [0, 0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        cholesky_transform(np.zeros((3, 2)), [0, 0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError):
        cov_from(1, 1, 1.5)
    with pytest.raises(ValueError):
        cov_from(0, 1, 0)


def test_cholesky_transform_moments() -> None:
    n = 20000
    rng = np.random.default_rng(2)
    mean = np.array([1.0, -0.5])
    cov = cov_from(1.5, 0.7, 0.8)
    x = cholesky_transform(rng.standard_normal((n, 2)), mean, cov)
    assert x.shape == (n, 2)
    # Hotelling's T^2 for the mean under the known covariance: n d' S^-1 d ~ chi2(2)
    d = x.mean(axis=0) - mean
    t2 = n * d @ np.linalg.solve(cov, d)
    assert stats.chi2(2).sf(t2) > ALPHA
    # each entry of the sample covariance within 4 standard errors
    s = np.cov(x.T)
    se = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    assert (np.abs(s - cov) < 4 * se).all()
    # whitening with L^-1 gives back N(0, I) marginals, uncorrelated
    w = np.linalg.solve(cholesky(cov), (x - mean).T).T
    for col in w.T:
        assert stats.kstest(col, "norm").pvalue > ALPHA
    assert stats.pearsonr(w[:, 0], w[:, 1]).pvalue > ALPHA


# ---------------------------------------------------------------------------- ancestral


def test_categorical_inverse_cdf() -> None:
    k = categorical([0.2, 0.0, 0.8], [0.0, 0.1999, 0.2, 0.5, 0.99999999])
    assert k.tolist() == [0, 0, 2, 2, 2]
    with pytest.raises(ValueError):
        categorical([0.0, 0.0], [0.5])


def test_ancestral_gmm_frequencies_and_components() -> None:
    weights = np.array([0.5, 0.3, 0.15, 0.05])
    means = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5], [0.0, -2.5]])
    covs = np.stack([cov_from(0.3, 0.5, 0.2), cov_from(0.4, 0.4, -0.5),
                     cov_from(0.2, 0.6, 0.0), cov_from(0.5, 0.2, 0.9)])
    n = 20000
    comp, x = ancestral_gmm(weights, means, covs, n, seed=3)
    assert comp.shape == (n,) and x.shape == (n, 2) and comp.dtype == np.int64
    counts = np.bincount(comp, minlength=4)
    assert stats.chisquare(counts, n * weights).pvalue > ALPHA
    for k in range(4):
        xk = x[comp == k]
        d = xk.mean(axis=0) - means[k]
        t2 = len(xk) * d @ np.linalg.solve(covs[k], d)
        assert stats.chi2(2).sf(t2) > ALPHA
    c2, x2 = ancestral_gmm(weights, means, covs, n, seed=3)
    np.testing.assert_array_equal(comp, c2)
    np.testing.assert_array_equal(x, x2)
