"""genlab.engine.ot, ot_summary and ot_gaussian: couplings against POT (the exact LP and its
log-domain Sinkhorn), closed forms, invariants.  No Qt."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.engine import ot as got
from genlab.engine import ot_gaussian as g1d
from genlab.engine import ot_summary as summ

pot = pytest.importorskip("ot")


def _clouds(n: int, m: int, seed: int = 0, weights: str = "uniform"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = rng.normal(size=(m, 2)) * [1.5, 0.5] + [2.0, 1.0]
    if weights == "uniform":
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    else:
        a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    return x, y, a, b


def _pot_sinkhorn_log(a, b, c, eps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT warns at its own cap; we check the result
        return pot.sinkhorn(a, b, c, eps, method="sinkhorn_log", numItermax=200_000,
                            stopThr=1e-14)


# ------------------------------------------------------------------------------ basics


def test_cost_matrix_is_squared_euclidean() -> None:
    x, y, _, _ = _clouds(30, 20)
    c = got.cost_matrix(x, y)
    assert c.shape == (30, 20)
    np.testing.assert_allclose(c, pot.dist(x, y, metric="sqeuclidean"), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(c[3, 5], np.sum((x[3] - y[5]) ** 2), rtol=1e-14)
    assert np.all(np.diag(got.cost_matrix(x, x)) == 0.0)
    with pytest.raises(ValueError):
        got.cost_matrix(x, y[:, :1])


def test_check_weights() -> None:
    np.testing.assert_allclose(got.check_weights(None, 4), 0.25)
    np.testing.assert_allclose(got.check_weights([1, 3], 2), [0.25, 0.75])
    for bad in ([1.0, -1.0], [np.nan, 1.0], [0.0, 0.0], [1.0, 1.0, 1.0]):
        with pytest.raises(ValueError):
            got.check_weights(bad, 2)


def test_independent_is_the_outer_product() -> None:
    x, y, a, b = _clouds(12, 9, weights="dirichlet")
    p = got.coupling(x, y, "independent", a=a, b=b)
    np.testing.assert_array_equal(p, np.outer(a, b))
    np.testing.assert_allclose(got.transport_cost(p, got.cost_matrix(x, y)),
                               np.einsum("i,j,ij->", a, b, got.cost_matrix(x, y)))
    assert got.kl_to_product(p, a, b) == pytest.approx(0.0, abs=1e-15)
    # uniform weights when none are given
    np.testing.assert_allclose(got.coupling(x, y, "independent"), 1.0 / (12 * 9))


def test_unknown_method_and_missing_eps() -> None:
    x, y, _, _ = _clouds(4, 5)
    with pytest.raises(ValueError, match="valid methods"):
        got.coupling(x, y, "greedy")
    with pytest.raises(ValueError, match="eps"):
        got.coupling(x, y, "sinkhorn")
    with pytest.raises(ValueError):
        got.LogSinkhorn(got.cost_matrix(x, y), 0.0)


# ------------------------------------------------------------------------------ exact


@pytest.mark.parametrize("n,m,weights,seed", [(40, 40, "uniform", 0), (35, 50, "uniform", 1),
                                              (60, 45, "dirichlet", 2), (1, 7, "dirichlet", 3)])
def test_exact_matches_pot_emd2_and_has_exact_marginals(n, m, weights, seed) -> None:
    x, y, a, b = _clouds(n, m, seed, weights)
    p = got.coupling(x, y, "exact", a=a, b=b)
    c = got.cost_matrix(x, y)
    assert p.shape == (n, m) and (p >= 0).all()
    assert got.transport_cost(p, c) == pytest.approx(pot.emd2(a, b, c), abs=1e-9)
    assert got.marginal_violation(p, a, b) < 1e-12
    assert np.count_nonzero(p) <= n + m - 1  # a vertex of the coupling polytope


def test_exact_uniform_square_is_a_permutation() -> None:
    x, y, a, b = _clouds(25, 25, 4)
    p = got.coupling(x, y, "exact")
    assert np.count_nonzero(p) == 25
    np.testing.assert_allclose(np.sort(p[p > 0]), 1.0 / 25)


# ------------------------------------------------------------------------------ sinkhorn


@pytest.mark.parametrize("rel", [0.01, 0.1, 1.0])
@pytest.mark.parametrize("weights", ["uniform", "dirichlet"])
def test_sinkhorn_matches_pot_log_domain(rel, weights) -> None:
    x, y, a, b = _clouds(45, 55, 5, weights)
    c = got.cost_matrix(x, y)
    eps = rel * got.median_cost(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # must converge without a SinkhornWarning
        p = got.coupling(x, y, "sinkhorn", eps, a, b, max_iter=100_000)
    q = _pot_sinkhorn_log(a, b, c, eps)
    assert got.marginal_violation(p, a, b) < 1e-9
    # Both solve the same strictly convex problem to ~1e-9 in marginals.
    np.testing.assert_allclose(p, q, atol=1e-9 * p.max() + 1e-12, rtol=1e-5)
    assert got.transport_cost(p, c) == pytest.approx(got.transport_cost(q, c), rel=1e-7)


def test_small_eps_stays_finite_and_approaches_the_exact_plan() -> None:
    x, y, a, b = _clouds(60, 60, 6)
    c = got.cost_matrix(x, y)
    eps = 1e-3 * got.median_cost(c)
    s = got.LogSinkhorn(c, eps, a, b)
    s.run(6000)
    p = s.plan()
    assert np.isfinite(p).all() and np.isfinite(s.f).all() and np.isfinite(s.g).all()
    # e^(−C/ε) underflows to 0 for most pairs: the scaling form u = a / (K v) breaks here
    assert np.mean(np.exp(-c / eps) == 0.0) > 0.5
    assert s.violation < 1e-3
    exact = got.transport_cost(got.coupling(x, y, "exact"), c)
    assert got.transport_cost(p, c) == pytest.approx(exact, rel=1e-3)


def test_sinkhorn_cap_warns_and_convergence_does_not() -> None:
    x, y, a, b = _clouds(30, 30, 7)
    eps = 0.01 * got.median_cost(got.cost_matrix(x, y))
    with pytest.warns(got.SinkhornWarning, match=r"3 iterations, marginal violation"):
        got.coupling(x, y, "sinkhorn", eps, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got.coupling(x, y, "sinkhorn", eps)


def test_sinkhorn_iterates_end_at_the_coupling() -> None:
    x, y, a, b = _clouds(20, 25, 8, "dirichlet")
    c = got.cost_matrix(x, y)
    eps = 0.05 * got.median_cost(c)
    plans = list(got.sinkhorn_iterates(x, y, eps, a, b, every=7))
    np.testing.assert_allclose(plans[0], np.outer(a, b) * np.exp(-c / eps), rtol=1e-12)
    np.testing.assert_array_equal(plans[-1], got.coupling(x, y, "sinkhorn", eps, a, b))
    viol = [got.marginal_violation(p, a, b) for p in plans]
    assert viol[-1] < 1e-9 < viol[0]
    assert len(plans) > 3
    with pytest.warns(got.SinkhornWarning):
        capped = list(got.sinkhorn_iterates(x, y, eps, a, b, max_iter=10, every=4))
    assert len(capped) == 4  # the start, then 4, 8 and 10 iterations


def test_solver_state_and_kl() -> None:
    x, y, a, b = _clouds(15, 18, 9, "dirichlet")
    c = got.cost_matrix(x, y)
    eps = 0.2 * got.median_cost(c)
    s = got.LogSinkhorn(c, eps, a, b)
    s.run(5)
    assert s.iterations == 5
    p = s.plan()
    assert s.violation == pytest.approx(got.marginal_violation(p, a, b), abs=1e-15)
    assert s.kl_to_product(p) == pytest.approx(got.kl_to_product(p, a, b), rel=1e-10)
    # the plan has the Gibbs form of the dual potentials
    np.testing.assert_allclose(
        p, np.outer(a, b) * np.exp((s.f[:, None] + s.g[None, :] - c) / eps), rtol=1e-10)


def test_zero_weights_get_empty_rows_and_columns() -> None:
    x, y, a, b = _clouds(10, 12, 10, "dirichlet")
    a[[1, 4]] = 0.0
    b[0] = 0.0
    a, b = a / a.sum(), b / b.sum()
    c = got.cost_matrix(x, y)
    eps = 0.1 * got.median_cost(c)
    p = got.coupling(x, y, "sinkhorn", eps, a, b)
    assert np.all(p[[1, 4]] == 0) and np.all(p[:, 0] == 0)
    assert got.marginal_violation(p, a, b) < 1e-9
    keep_r, keep_c = a > 0, b > 0
    q = _pot_sinkhorn_log(a[keep_r], b[keep_c], c[np.ix_(keep_r, keep_c)], eps)
    np.testing.assert_allclose(p[np.ix_(keep_r, keep_c)], q, atol=1e-11, rtol=1e-5)


def test_entropic_objective_convention_and_optimality() -> None:
    x, y, a, b = _clouds(25, 30, 11, "dirichlet")
    c = got.cost_matrix(x, y)
    eps = 0.1 * got.median_cost(c)
    p = got.coupling(x, y, "sinkhorn", eps, a, b)
    obj = got.entropic_objective(p, c, eps, a, b)
    # POT's  <C,P> − ε H(P), H(P) = −Σ P (log P − 1), differs by ε (H(a) + H(b) + 1)
    h_p = -np.sum(p[p > 0] * (np.log(p[p > 0]) - 1.0))
    h = lambda w: -np.sum(w * np.log(w))  # noqa: E731
    assert obj == pytest.approx(got.transport_cost(p, c) - eps * h_p
                                + eps * (h(a) + h(b) + 1.0), rel=1e-10)
    # the entropic plan beats every other coupling on this objective
    for other in (got.coupling(x, y, "exact", a=a, b=b), np.outer(a, b)):
        assert obj < got.entropic_objective(other, c, eps, a, b)
    assert got.entropic_objective(np.outer(a, b), c, eps, a, b) == pytest.approx(
        got.transport_cost(np.outer(a, b), c))


# ------------------------------------------------------------------------------ geodesics


def test_interpolation_of_a_permutation() -> None:
    x, y, _, _ = _clouds(10, 10, 12)
    p = got.coupling(x, y, "exact")
    perm = np.argmax(p, axis=1)
    np.testing.assert_allclose(got.barycentric_projection(p, y), y[perm])
    for t in (0.0, 0.3, 1.0):
        pts, mass = got.interpolate(x, y, p, t)  # auto: pairs for a vertex plan
        i = np.arange(10)
        np.testing.assert_allclose(pts, (1 - t) * x[i] + t * y[perm[i]])
        np.testing.assert_allclose(mass.sum(), 1.0)


def test_interpolation_of_an_entropic_plan_is_barycentric() -> None:
    x, y, a, b = _clouds(15, 20, 13)
    p = got.coupling(x, y, "sinkhorn", 0.1 * got.median_cost(got.cost_matrix(x, y)))
    pts, mass = got.interpolate(x, y, p, 1.0)
    assert pts.shape == (15, 2)
    np.testing.assert_allclose(pts, p @ y / p.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(mass, a, atol=1e-9)
    np.testing.assert_allclose(got.interpolate(x, y, p, 0.0)[0], x)
    # pairs on request: every positive entry is a particle
    pairs, m = got.interpolate(x, y, p, 0.5, mode="pairs")
    assert len(pairs) == np.count_nonzero(p) and m.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------ properties


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 9), seed=st.integers(0, 10_000),
       rel=st.sampled_from([0.1, 0.5, 2.0]), dirichlet=st.booleans())
def test_every_plan_has_the_weights_as_marginals(n, m, seed, rel, dirichlet) -> None:
    x, y, a, b = _clouds(n, m, seed, "dirichlet" if dirichlet else "uniform")
    c = got.cost_matrix(x, y)
    # ε relative to the largest cost: Sinkhorn contracts by about tanh(max C / 4ε)² per
    # iteration, so an ε far below the cost spread of a tiny problem can take millions
    eps = rel * max(c.max(), 1e-3)
    for method, tol in (("independent", 1e-14), ("exact", 1e-12), ("sinkhorn", 1e-9)):
        p = got.coupling(x, y, method, eps, a, b, max_iter=100_000)
        assert p.shape == (n, m) and (p >= 0).all() and np.isfinite(p).all()
        assert got.marginal_violation(p, a, b) < tol, method
    # the exact plan costs least of all couplings (Sinkhorn's only up to its 1e-9 violation)
    costs = {k: got.transport_cost(got.coupling(x, y, k, eps, a, b), c)
             for k in ("independent", "exact", "sinkhorn")}
    assert costs["exact"] <= costs["independent"] + 1e-12
    assert costs["exact"] <= costs["sinkhorn"] + 2e-9 * c.max() + 1e-12


# ------------------------------------------------------------------------------ summaries


def test_block_means_and_principal_order() -> None:
    p = np.full((300, 170), 1.0 / (300 * 170))
    blocks = summ.block_means(p, 150, 150)
    assert blocks.shape == (150, 150)
    np.testing.assert_allclose(blocks, 1.0 / (300 * 170))
    small = summ.block_means(np.arange(12.0).reshape(3, 4), 150, 150)
    np.testing.assert_array_equal(small, np.arange(12.0).reshape(3, 4))
    rng = np.random.default_rng(0)
    q = rng.random((101, 57))
    b = summ.block_means(q, 10, 7)
    er, ec = summ._edges(101, 10), summ._edges(57, 7)
    areas = np.outer(np.diff(np.append(er, 101)), np.diff(np.append(ec, 57)))
    assert (b * areas).sum() == pytest.approx(q.sum())
    x = np.column_stack([np.linspace(-5, 5, 50), 0.1 * rng.normal(size=50)])[::-1]
    ox, oy = summ.principal_order(x, x + [0.0, 1.0])
    assert np.all(np.diff(x[ox, 0]) > 0) and np.all(np.diff(x[oy, 0]) > 0)
    np.testing.assert_allclose(np.abs(summ.principal_direction(x, x)), [1.0, 0.0], atol=0.01)


def test_top_entries_and_sample_pairs() -> None:
    rng = np.random.default_rng(1)
    p = rng.random((40, 30)) ** 8
    p[p < 0.5] = 0.0
    i, j, mass = summ.top_entries(p, 25)
    assert len(mass) == min(25, np.count_nonzero(p))
    np.testing.assert_array_equal(mass, p[i, j])
    assert np.all(np.diff(mass) >= 0)
    assert mass.min() >= np.sort(p.ravel())[-25]
    i, j, mass = summ.top_entries(p, 10_000)
    assert len(mass) == np.count_nonzero(p)
    q = np.zeros((3, 2))
    q[0, 1], q[2, 0] = 0.25, 0.75
    i, j = summ.sample_pairs(q, 4000, rng)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == {(0, 1), (2, 0)}
    assert np.mean(i == 2) == pytest.approx(0.75, abs=0.03)


# ------------------------------------------------------------------------------ 1D Gaussians


def test_gaussian_closed_forms() -> None:
    from scipy import stats

    # D = X − Y ~ N(−1, 2): D² / 2 is non-central χ²(1, λ = 1/2)
    med = g1d.median_sq_distance(0.0, 1.0, 1.0)
    assert med == pytest.approx(2.0 * stats.ncx2.ppf(0.5, 1, 0.5), rel=1e-9)
    assert g1d.expected_sq_distance(0.0) == 3.0 and g1d.expected_sq_distance(1.0) == 1.0
    assert g1d.entropic_correlation(0.0) == 1.0
    for eps in (0.01, 1.0, 50.0):
        rho = g1d.entropic_correlation(eps)
        assert 2 * rho**2 + eps * rho - 2 == pytest.approx(0.0, abs=1e-12)
        assert rho == pytest.approx((math.sqrt(eps**2 + 16) - eps) / 4, rel=1e-9)
    xs = np.linspace(-8, 9, 400)
    dens = g1d.gaussian_joint_density(xs[:, None], xs[None, :], 0.0, 1.0, 1.0, 0.6)
    dx = xs[1] - xs[0]
    np.testing.assert_allclose(dens.sum(axis=1) * dx, g1d.gaussian_pdf(xs, 0.0), atol=1e-6)


@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_entropic_gaussian_coupling_matches_discretised_sinkhorn(eps) -> None:
    """The closed-form correlation against our Sinkhorn on a fine grid of the two Gaussians."""
    grid = np.linspace(-6.0, 7.0, 260)
    a = g1d.gaussian_pdf(grid, 0.0)
    b = g1d.gaussian_pdf(grid, 1.0)
    a, b = a / a.sum(), b / b.sum()
    p = got.coupling(grid[:, None], grid[:, None], "sinkhorn", eps, a, b)
    mx, my = a @ grid, b @ grid
    cov = grid @ p @ grid - mx * my
    rho = cov / math.sqrt((a @ grid**2 - mx**2) * (b @ grid**2 - my**2))
    assert rho == pytest.approx(g1d.entropic_correlation(eps), abs=2e-3)
    cost = got.transport_cost(p, got.cost_matrix(grid[:, None], grid[:, None]))
    assert cost == pytest.approx(g1d.expected_sq_distance(g1d.entropic_correlation(eps)),
                                 abs=5e-3)


def test_the_independent_plan_is_optimal_exactly_when_the_clouds_are_orthogonal():
    """a⊗b is optimal iff (x_i − x_i')·(y_j − y_j') = 0 for all pairs (the docstring's
    condition), e.g. points on the x axis against points on the y axis; not otherwise."""
    from genlab.engine.ot import coupling

    rng = np.random.default_rng(0)
    a = np.full(6, 1 / 6)
    b = np.full(5, 1 / 5)
    x = np.column_stack([rng.normal(size=6), np.zeros(6)])
    y = np.column_stack([np.full(5, 0.7), rng.normal(size=5)])
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    ind = (coupling(x, y, "independent", a=a, b=b) * cost).sum()
    exact = (coupling(x, y, "exact", a=a, b=b) * cost).sum()
    assert ind == pytest.approx(exact, rel=1e-9)
    y2 = np.column_stack([rng.normal(size=5), rng.normal(size=5)])  # not orthogonal
    cost2 = ((x[:, None] - y2[None]) ** 2).sum(-1)
    assert (coupling(x, y2, "independent", a=a, b=b) * cost2).sum() > \
        (coupling(x, y2, "exact", a=a, b=b) * cost2).sum() + 1e-3
