"""genlab.engine.gmm (EM) and genlab.engine.gmm_grad (gradient ascent): invariants and
references (scikit-learn's GaussianMixture, scipy's multivariate normal).  No Qt."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genlab.engine import gmm

COV_TYPES = ("full", "diag", "spherical")


def _dataset(name: str, n: int, seed: int) -> np.ndarray:
    from genlab.engine.datasets import make_dataset  # written alongside; imported lazily

    x, _ = make_dataset(name, n, 0.1, seed)
    return x


def _blobs(seed: int = 0, n: int = 300, spread: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    return centres[rng.integers(0, 3, n)] + spread * rng.standard_normal((n, 2))


def _start(x: np.ndarray, k: int, seed: int, cov_type: str = "full",
           reg: float = 1e-6) -> gmm.GMMState:
    return gmm.initial_state(x, gmm.init_means(x, k, "k-means++", seed), reg, cov_type)


def _assert_finite(state: gmm.GMMState) -> None:
    assert np.isfinite(state.weights).all()
    assert np.isfinite(state.means).all()
    assert np.isfinite(state.covariances).all()
    assert np.isfinite(state.log_likelihood)
    assert np.all(np.linalg.eigvalsh(state.covariances) > 0)


# ---------------------------------------------------------------------- monotonicity


@pytest.mark.parametrize("name", ["8gaussians", "moons", "circles", "pinwheel"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_em_log_likelihood_never_decreases(name: str, seed: int, cov_type: str) -> None:
    # Exact EM (reg_covar = 0): the log-likelihood is non-decreasing (PRML 9.4).
    x = _dataset(name, 400, seed)
    s0 = _start(x, 6, seed, cov_type, reg=0.0)
    states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 40, 0.0, cov_type)
    assert len(states) == 40
    ll = np.array([s0.log_likelihood] + [s.log_likelihood for s in states])
    assert np.all(np.diff(ll) >= -1e-12), np.diff(ll).min()
    assert ll[-1] > ll[0]
    for s in states:
        _assert_finite(s)
        np.testing.assert_allclose(s.weights.sum(), 1.0, rtol=1e-12)
    # With reg_covar > 0 (scikit-learn's regulariser) the M-step is no longer the exact
    # maximiser: near convergence the log-likelihood may dip, by a small fraction of reg_covar.
    reg = 1e-3
    s0 = _start(x, 6, seed, cov_type, reg=reg)
    states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 40, reg, cov_type)
    ll = np.array([s0.log_likelihood] + [s.log_likelihood for s in states])
    assert np.all(np.diff(ll) >= -1e-2 * reg), np.diff(ll).min()


def _well_conditioned(covariances: np.ndarray, floor: float) -> bool:
    return bool(np.linalg.eigvalsh(covariances).min() > floor)


@settings(max_examples=60, deadline=None, database=None)
@given(
    n=st.integers(8, 30),
    data_seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 3),
    cov_type=st.sampled_from(COV_TYPES),
    method=st.sampled_from(["random", "k-means++"]),
    seed=st.integers(0, 1000),
)
def test_exact_em_monotone_on_random_small_data(n: int, data_seed: int, k: int, cov_type: str,
                                                method: str, seed: int) -> None:
    # Random small data sets: a few blobs of random sizes, shapes and places.
    rng = np.random.default_rng(data_seed)
    centres = rng.uniform(-4, 4, size=(3, 2))
    scales = rng.uniform(0.2, 2.0, size=(3, 2))
    c = rng.integers(0, 3, size=n)
    x = centres[c] + scales[c] * rng.normal(size=(n, 2))
    # Exact EM on arbitrary small data sets.  Runs where a component collapses (a covariance
    # eigenvalue below 1e-2, where float64 can no longer resolve it without reg_covar) are
    # not examples of the property and are discarded.
    assume(_well_conditioned(gmm.data_covariance(x)[None], 1e-2))
    s0 = gmm.initial_state(x, gmm.init_means(x, k, method, seed), 0.0, cov_type)
    try:
        states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 10, 0.0, cov_type)
    except ValueError:  # collapsed to a singular covariance
        assume(False)
        return
    assume(all(_well_conditioned(s.covariances, 1e-2) for s in states))
    ll = np.array([s0.log_likelihood] + [s.log_likelihood for s in states])
    assert np.all(np.diff(ll) >= -1e-12 * np.maximum(1.0, np.abs(ll[1:]))), np.diff(ll).min()


@settings(max_examples=40, deadline=None, database=None)
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 25), st.just(2)),
             elements=st.floats(-5, 5, allow_nan=False, allow_subnormal=False)),
    k=st.integers(1, 6),
    cov_type=st.sampled_from(COV_TYPES),
    reg=st.sampled_from([1e-6, 1e-3, 1e-1]),
    seed=st.integers(0, 1000),
)
def test_regularised_em_stays_finite_on_any_small_data(x: np.ndarray, k: int, cov_type: str,
                                                       reg: float, seed: int) -> None:
    # Duplicates, collinear points, K > n: reg_covar keeps every iterate finite.
    s0 = _start(x, k, seed, cov_type, reg)
    _assert_finite(s0)
    for s in gmm.run_em(x, s0.weights, s0.means, s0.covariances, 15, reg, cov_type):
        _assert_finite(s)
        assert np.all(np.linalg.eigvalsh(s.covariances) >= reg * (1 - 1e-9))


def test_run_em_states_hold_their_own_log_likelihood() -> None:
    x = _blobs(1)
    s0 = _start(x, 3, 0)
    states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 5)
    for s in states:
        assert s.log_likelihood == pytest.approx(
            gmm.log_density(x, s.weights, s.means, s.covariances).mean(), abs=1e-12)
    # state k is k + 1 iterations: re-running from state k gives state k + 1
    again = gmm.run_em(x, states[1].weights, states[1].means, states[1].covariances, 1)
    np.testing.assert_allclose(again[0].means, states[2].means, atol=1e-12)
    with pytest.raises(AttributeError):
        states[0].log_likelihood = 0.0  # type: ignore[misc]


# ------------------------------------------------------------------ scikit-learn oracle


def _sklearn_covariances(g: object, cov_type: str) -> np.ndarray:
    cv = np.asarray(g.covariances_)  # type: ignore[attr-defined]
    if cov_type == "diag":
        return np.stack([np.diag(c) for c in cv])
    if cov_type == "spherical":
        return cv[:, None, None] * np.eye(2)
    return cv


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("name", ["8gaussians", "moons"])
def test_matches_sklearn_at_every_iteration(cov_type: str, name: str) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    x = _dataset(name, 500, 3)
    k, reg = 5, 1e-4
    s0 = _start(x, k, 2, cov_type, reg)
    prec = np.linalg.inv(s0.covariances)
    prec_init = {"full": prec,
                 "diag": np.diagonal(prec, axis1=1, axis2=2).copy(),
                 "spherical": prec[:, 0, 0].copy()}[cov_type]
    ref = GaussianMixture(k, covariance_type=cov_type, reg_covar=reg, tol=0.0, max_iter=1,
                          warm_start=True, weights_init=s0.weights, means_init=s0.means,
                          precisions_init=prec_init, init_params="random_from_data",
                          random_state=0)
    states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 30, reg, cov_type)
    for it, s in enumerate(states):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref.fit(x)
        msg = f"iteration {it + 1}"
        np.testing.assert_allclose(s.weights, ref.weights_, rtol=1e-6, atol=1e-9, err_msg=msg)
        np.testing.assert_allclose(s.means, ref.means_, rtol=1e-6, atol=1e-9, err_msg=msg)
        np.testing.assert_allclose(s.covariances, _sklearn_covariances(ref, cov_type),
                                   rtol=1e-6, atol=1e-9, err_msg=msg)
        assert s.log_likelihood == pytest.approx(ref.score(x), rel=1e-6, abs=1e-9)


# -------------------------------------------------------------------------- densities


def _example_mixture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = np.array([0.5, 0.3, 0.2])
    m = np.array([[0.0, 0.0], [2.0, 1.0], [-1.5, 2.0]])
    c = np.array([[[1.0, 0.4], [0.4, 0.6]], [[0.3, -0.1], [-0.1, 0.5]], [[0.2, 0.0], [0.0, 1.2]]])
    return w, m, c


def test_log_density_matches_scipy() -> None:
    from scipy.stats import multivariate_normal

    w, m, c = _example_mixture()
    x = np.random.default_rng(0).uniform(-5, 5, (200, 2))
    ref_comp = np.stack([multivariate_normal(m[k], c[k]).logpdf(x) for k in range(3)], axis=1)
    np.testing.assert_allclose(gmm.component_log_prob(x, m, c), ref_comp, rtol=1e-12, atol=1e-12)
    ref = np.log(sum(w[k] * multivariate_normal(m[k], c[k]).pdf(x) for k in range(3)))
    np.testing.assert_allclose(gmm.log_density(x, w, m, c), ref, rtol=1e-12, atol=1e-12)


def test_density_integrates_to_one() -> None:
    w, m, c = _example_mixture()
    g = np.linspace(-9, 9, 601)
    h = g[1] - g[0]
    xx, yy = np.meshgrid(g, g)
    p = np.exp(gmm.log_density(np.column_stack([xx.ravel(), yy.ravel()]), w, m, c))
    assert p.sum() * h * h == pytest.approx(1.0, abs=1e-4)


def test_e_step_responsibilities() -> None:
    w, m, c = _example_mixture()
    x = np.random.default_rng(1).normal(size=(100, 2))
    resp, ll = gmm.e_step(x, w, m, c)
    assert resp.shape == (100, 3)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    assert ll == pytest.approx(gmm.log_density(x, w, m, c).mean(), abs=1e-12)
    joint = np.log(w) + gmm.component_log_prob(x, m, c)
    np.testing.assert_allclose(np.log(resp), joint - joint.max(1, keepdims=True)
                               - np.log(np.exp(joint - joint.max(1, keepdims=True)).sum(1,
                                                                                    keepdims=True)),
                               atol=1e-10)


def test_m_step_covariance_types() -> None:
    x = _blobs(2)
    resp, _ = gmm.e_step(x, *_example_mixture())
    for cov_type in COV_TYPES:
        w, m, c = gmm.m_step(x, resp, 1e-3, cov_type)
        assert c.shape == (3, 2, 2) and w.shape == (3,) and m.shape == (3, 2)
        np.testing.assert_allclose(c, np.transpose(c, (0, 2, 1)))
        if cov_type != "full":
            assert np.all(c[:, 0, 1] == 0)
        if cov_type == "spherical":
            np.testing.assert_allclose(c[:, 0, 0], c[:, 1, 1])
        assert np.all(np.linalg.eigvalsh(c) >= 1e-3 - 1e-12)
    # full: the closed form of the weighted covariance
    w, m, c = gmm.m_step(x, resp, 0.0, "full")
    for k in range(3):
        d = x - m[k]
        ref = (resp[:, k, None] * d).T @ d / resp[:, k].sum()
        np.testing.assert_allclose(c[k], ref, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError):
        gmm.m_step(x, resp, 1e-3, "tied")


# ---------------------------------------------------------------------- degenerate data


def test_more_components_than_points_stays_finite() -> None:
    x = np.random.default_rng(0).normal(size=(12, 2))
    for method in ("random", "k-means++"):
        means = gmm.init_means(x, 30, method, seed=1)
        assert means.shape == (30, 2)
        s0 = gmm.initial_state(x, means, 1e-3)
        states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 50, 1e-3)
        for s in states:
            _assert_finite(s)
        ll = np.array([s.log_likelihood for s in states])
        assert np.all(np.diff(ll) >= -1e-12)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_all_points_duplicated(cov_type: str) -> None:
    x = np.tile([[1.0, -2.0]], (20, 1))
    for method in ("random", "k-means++"):
        means = gmm.init_means(x, 3, method)
        assert np.isfinite(means).all()
        s0 = gmm.initial_state(x, means, 1e-6, cov_type)
        _assert_finite(s0)
        states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 20, 1e-6, cov_type)
        for s in states:
            _assert_finite(s)
        # every component ends on the point with covariance reg_covar * I
        np.testing.assert_allclose(states[-1].covariances, np.broadcast_to(1e-6 * np.eye(2),
                                                                           (3, 2, 2)), atol=1e-9)
    # reg_covar = 0 cannot hold the covariance: initial_state still gives a usable start
    s0 = gmm.initial_state(x, x[:2], 0.0)
    _assert_finite(s0)


def test_collapse_onto_one_point_held_by_reg_covar() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(60, 2)), [[8.0, 8.0]]])
    means = np.array([[0.0, 0.0], [8.0, 8.0]])
    s0 = gmm.initial_state(x, means, 1e-6)
    states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 30, 1e-6)
    last = states[-1]
    _assert_finite(last)
    np.testing.assert_allclose(last.means[1], [8.0, 8.0], atol=1e-6)
    assert np.linalg.det(last.covariances[1]) == pytest.approx(1e-12, rel=1e-3)
    assert last.weights[1] == pytest.approx(1 / 61, rel=1e-6)


def test_empty_component_keeps_previous_parameters() -> None:
    x = _blobs(3, n=100, spread=0.3)
    means = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [300.0, 300.0]])
    s0 = gmm.initial_state(x, means, 1e-6)
    s0 = gmm.GMMState(s0.weights, s0.means, s0.covariances * 0.01, s0.log_likelihood)
    states = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 5)
    for s in states:
        _assert_finite(s)
        np.testing.assert_array_equal(s.means[3], [300.0, 300.0])
        np.testing.assert_array_equal(s.covariances[3], s0.covariances[3])
        assert s.weights[3] < 1e-12
    # without previous parameters an empty component falls back to the data's mean
    resp, _ = gmm.e_step(x, s0.weights, s0.means, s0.covariances)
    _, m, c = gmm.m_step(x, resp)
    np.testing.assert_allclose(m[3], x.mean(axis=0))
    assert np.all(np.linalg.eigvalsh(c[3]) > 0)


# ----------------------------------------------------------------------- initialisation


def test_init_means_random_distinct_data_points() -> None:
    x = _blobs(4, n=50)
    m = gmm.init_means(x, 10, "random", seed=5)
    assert m.shape == (10, 2)
    assert len(np.unique(m, axis=0)) == 10
    assert all(any(np.array_equal(mi, xi) for xi in x) for mi in m)
    np.testing.assert_array_equal(m, gmm.init_means(x, 10, "random", seed=5))
    assert not np.array_equal(m, gmm.init_means(x, 10, "random", seed=6))
    # duplicates in the data: distinct means as long as there are enough distinct points
    xd = np.repeat(x[:4], 5, axis=0)
    md = gmm.init_means(xd, 4, "random", seed=0)
    assert len(np.unique(md, axis=0)) == 4
    # fewer distinct points than k: each point once, the rest jittered copies, all distinct
    mk = gmm.init_means(xd, 9, "random", seed=0)
    assert len(np.unique(mk, axis=0)) == 9
    assert all(any(np.array_equal(p, q) for q in mk) for p in x[:4])
    with pytest.raises(ValueError):
        gmm.init_means(x, 3, "bogus")
    with pytest.raises(ValueError):
        gmm.init_means(np.zeros((0, 2)), 3)


def test_init_means_kmeanspp_spreads_over_clusters() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[-10.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = np.repeat(centres, 40, axis=0) + 0.01 * rng.normal(size=(120, 2))
    for seed in range(20):
        m = gmm.init_means(x, 3, "k-means++", seed)
        assert all(any(np.array_equal(mi, xi) for xi in x) for mi in m)
        nearest = np.argmin(((m[:, None] - centres) ** 2).sum(-1), axis=1)
        assert sorted(nearest) == [0, 1, 2], seed
    np.testing.assert_array_equal(gmm.init_means(x, 3, "k-means++", 7),
                                  gmm.init_means(x, 3, "k-means++", 7))
    assert len(np.unique(gmm.init_means(x[:5], 5, "k-means++", 0), axis=0)) == 5


def test_initial_state() -> None:
    x = _blobs(5)
    m = x[:4]
    s = gmm.initial_state(x, m, 1e-3)
    np.testing.assert_allclose(s.weights, 0.25)
    cov = np.cov(x, rowvar=False, bias=True) + 1e-3 * np.eye(2)
    np.testing.assert_allclose(s.covariances, np.broadcast_to(cov, (4, 2, 2)))
    assert s.log_likelihood == pytest.approx(gmm.log_density(x, s.weights, m,
                                                             s.covariances).mean())
    sd = gmm.initial_state(x, m, 1e-3, "diag")
    assert np.all(sd.covariances[:, 0, 1] == 0)
    one = gmm.initial_state(x[:1], x[:1], 1e-3)
    _assert_finite(one)
    np.testing.assert_allclose(one.covariances[0], (0.1 + 1e-3) * np.eye(2))


# -------------------------------------------------------------------- gradient ascent


def test_gradient_ascent_approaches_em_optimum() -> None:
    pytest.importorskip("torch")
    from genlab.engine.gmm_grad import GradientGMM

    x = _blobs(0, spread=0.5)
    s0 = _start(x, 3, 0)
    best = gmm.run_em(x, s0.weights, s0.means, s0.covariances, 200)[-1].log_likelihood
    model = GradientGMM(x, s0.weights, s0.means, s0.covariances, lr=0.05, seed=0)
    start = model.state()
    np.testing.assert_allclose(start.means, s0.means)
    np.testing.assert_allclose(start.covariances, s0.covariances, rtol=1e-9)
    assert start.log_likelihood == pytest.approx(s0.log_likelihood, abs=1e-9)
    s10 = model.step(10)
    assert s10.log_likelihood > start.log_likelihood
    assert model.n_steps_ == 10
    for _ in range(4):
        last = model.step(75)
    assert last.log_likelihood <= best + 1e-9
    assert last.log_likelihood == pytest.approx(best, abs=1e-3)
    assert model.state().log_likelihood == last.log_likelihood
    assert np.all(np.linalg.eigvalsh(last.covariances) > 0)
    model.lr = 0.01
    assert model.lr == 0.01
    assert all(g["lr"] == 0.01 for g in model.optimizer.param_groups)
    # "auto" picks the best device present; the fit starts from the same state there
    auto = GradientGMM(x, s0.weights, s0.means, s0.covariances, device="auto")
    assert auto.state().log_likelihood == pytest.approx(s0.log_likelihood, rel=1e-5)
