"""Tests for genlab.engine.diffusion: schedules, the exact noised-GMM score, and samplers.

Measured values (2-core CPU, seed-fixed) are quoted next to each bound.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from genlab.engine import diffusion as D

W = np.array([0.3, 0.7])
M = np.array([[-2.0, 0.5], [1.5, -1.0]])
C = np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.5, -0.2], [-0.2, 0.4]]])
N = 3000


def _exact_moments() -> tuple[np.ndarray, np.ndarray]:
    mean = W @ M
    second = np.einsum("k,kij->ij", W, C + np.einsum("ki,kj->kij", M, M))
    return mean, second - np.outer(mean, mean)


def _energy(a: np.ndarray, b: np.ndarray) -> float:
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (V-statistic)."""
    return float(2 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean())


@pytest.fixture(scope="module")
def setup() -> dict[str, object]:
    sch = D.VPSchedule("linear")
    x_T = np.random.default_rng(1).standard_normal((N, 2))
    ref = D.sample_gmm(N, W, M, C, seed=5)
    floor = _energy(ref, D.sample_gmm(N, W, M, C, seed=6))  # measured 6.7e-4
    return {"sch": sch, "x_T": x_T, "ref": ref, "floor": floor,
            "score": lambda x, t: D.gmm_score(x, t, W, M, C, sch)}


# ------------------------------------------------------------------------------ schedules


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_alpha_bar_endpoints_monotone_and_beta_is_log_derivative(kind: str) -> None:
    s = D.VPSchedule(kind)
    t = np.linspace(0.0, 1.0, 2001)
    ab = s.alpha_bar(t)
    assert abs(float(s.alpha_bar(0.0)) - 1.0) < 1e-12
    assert np.all(np.diff(ab) < 0)
    assert 0 < float(s.alpha_bar(1.0)) < 2e-4  # linear 4.3e-5, cosine 1.3e-4
    # beta = -d log(alpha_bar)/dt (central differences; measured rel. error < 1e-9)
    tt = np.linspace(0.01, 0.99, 97)
    h = 1e-6
    fd = -(s.log_alpha_bar(tt + h) - s.log_alpha_bar(tt - h)) / (2 * h)
    np.testing.assert_allclose(s.beta(tt), fd, rtol=1e-6)
    ab_t = s.alpha_bar(tt)
    np.testing.assert_allclose(s.snr(tt), ab_t / (1 - ab_t), rtol=1e-12)
    # float in, float-like out
    assert np.ndim(s.alpha_bar(0.3)) == 0


def test_linear_closed_form_and_cosine_formula_before_cap() -> None:
    lin = D.VPSchedule("linear", beta_min=0.1, beta_max=20.0)
    assert float(lin.alpha_bar(0.5)) == pytest.approx(np.exp(-(0.05 + 0.5 * 19.9 * 0.25)))
    cos = D.VPSchedule("cosine", s=0.008)
    t = np.linspace(0, 0.95, 20)
    f = np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2 / np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    np.testing.assert_allclose(cos.alpha_bar(t), f, rtol=1e-12)
    assert float(cos.beta(1.0)) == pytest.approx(100.0)  # capped rate
    with pytest.raises(ValueError):
        D.VPSchedule("quadratic")  # type: ignore[arg-type]


@pytest.mark.parametrize("sch", [D.VPSchedule("linear"), D.VPSchedule("cosine"),
                                 D.VESchedule()], ids=["vp-linear", "vp-cosine", "ve"])
def test_forward_sample_closed_form_moments(sch: D.VPSchedule | D.VESchedule) -> None:
    n = 200_000
    x0 = np.tile([[1.5, -0.7]], (n, 1))
    for t in (0.1, 0.4, 0.8):
        xt, eps = D.forward_sample(x0, t, sch, seed=3)
        a, v = (float(z) for z in sch.marginal(t))
        np.testing.assert_allclose(xt, a * x0 + np.sqrt(v) * eps, rtol=1e-12)
        # 5 standard errors: SE(mean) = sqrt(v/n), SE(var) ~ v sqrt(2/n)
        assert np.all(np.abs(xt.mean(0) - a * x0[0]) < 5 * np.sqrt(v / n))
        assert np.all(np.abs(xt.var(0) - v) < 5 * v * np.sqrt(2 / n))
    if isinstance(sch, D.VPSchedule):
        ab = float(sch.alpha_bar(0.4))
        a, v = sch.marginal(0.4)
        assert float(a) ** 2 == pytest.approx(ab) and float(v) == pytest.approx(1 - ab)
    else:
        assert float(sch.marginal(0.5)[1]) == pytest.approx(0.01 * 10.0)  # sigma(.5)=sqrt(.01*10)


# ---------------------------------------------------------------------- the exact score


@pytest.mark.parametrize("sch", [D.VPSchedule("linear"), D.VPSchedule("cosine"),
                                 D.VESchedule()], ids=["vp-linear", "vp-cosine", "ve"])
@pytest.mark.parametrize("t", [1e-3, 0.05, 0.3, 0.7, 1.0])
def test_gmm_score_is_gradient_of_log_density(sch: D.VPSchedule | D.VESchedule,
                                              t: float) -> None:
    x = np.random.default_rng(7).normal(scale=2.0, size=(200, 2))
    score = D.gmm_score(x, t, W, M, C, sch)
    h = 1e-5
    fd = np.empty_like(x)
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        fd[:, j] = (D.gmm_log_density_t(x + e, t, W, M, C, sch)
                    - D.gmm_log_density_t(x - e, t, W, M, C, sch)) / (2 * h)
    np.testing.assert_allclose(score, fd, rtol=1e-5, atol=1e-6)


def test_gmm_log_density_t_limits() -> None:
    sch = D.VPSchedule("linear")
    x = np.random.default_rng(2).normal(size=(50, 2))
    # t -> 1: p_1 ~ N(0, I); the means are still shifted by sqrt(alpha_bar(1)) mu = 0.0066 mu,
    # which moves log p by ~0.01 (measured max 0.012) and the score by ~0.01
    log_n01 = -np.log(2 * np.pi) - 0.5 * (x * x).sum(1)
    np.testing.assert_allclose(D.gmm_log_density_t(x, 1.0, W, M, C, sch), log_n01, atol=0.03)
    np.testing.assert_allclose(D.gmm_score(x, 1.0, W, M, C, sch), -x, atol=0.03)
    # t -> 0: p_t -> p_0 (variance 1 - alpha_bar(1e-5) = 1e-6 added)
    from genlab.engine import gmm
    np.testing.assert_allclose(D.gmm_log_density_t(x, 1e-5, W, M, C, sch),
                               gmm.log_density(x, W, M, C), rtol=1e-4)


# ------------------------------------------------------------------------------ samplers


def _check_matches_mixture(end: np.ndarray, setup: dict[str, object], bound: float) -> None:
    mean, cov = _exact_moments()
    # 3000 points, total std ~1.7: SE(mean) ~ 0.03, SE(cov entries) ~ 0.05-0.1
    assert np.abs(end.mean(0) - mean).max() < 0.1
    assert np.abs(np.cov(end.T) - cov).max() < 0.3
    dist = _energy(end, setup["ref"])  # type: ignore[arg-type]
    assert dist < bound, (dist, setup["floor"])
    # the prior itself is far: energy(N(0,I), mixture) measured 0.49
    assert _energy(setup["x_T"], setup["ref"]) > 50 * bound  # type: ignore[arg-type]


def test_pf_ode_heun_matches_mixture_and_is_deterministic(setup: dict[str, object]) -> None:
    sch, x_T, score = setup["sch"], setup["x_T"], setup["score"]
    traj = D.pf_ode_sample(score, x_T, sch, 100, method="heun")  # type: ignore[arg-type]
    assert traj.shape == (101, N, 2)
    np.testing.assert_array_equal(traj[0], x_T)
    # measured: |mean err| 0.017, |cov err| 0.024, energy 6.9e-4 (floor 6.7e-4)
    _check_matches_mixture(traj[-1], setup, bound=0.004)
    again = D.pf_ode_sample(score, x_T, sch, 100, method="heun")  # type: ignore[arg-type]
    np.testing.assert_array_equal(again, traj)


def test_reverse_sde_matches_mixture_and_depends_on_seed(setup: dict[str, object]) -> None:
    sch, x_T, score = setup["sch"], setup["x_T"], setup["score"]
    traj = D.reverse_sde_sample(score, x_T, sch, 500, seed=3)  # type: ignore[arg-type]
    assert traj.shape == (501, N, 2)
    np.testing.assert_array_equal(traj[0], x_T)
    # measured: |mean err| 0.023, |cov err| 0.019, energy 1.7e-3
    _check_matches_mixture(traj[-1], setup, bound=0.005)
    small = x_T[:200]  # type: ignore[index]
    a = D.reverse_sde_sample(score, small, sch, 50, seed=0)  # type: ignore[arg-type]
    b = D.reverse_sde_sample(score, small, sch, 50, seed=1)  # type: ignore[arg-type]
    c = D.reverse_sde_sample(score, small, sch, 50, seed=0)  # type: ignore[arg-type]
    assert np.abs(a[-1] - b[-1]).min(axis=1).mean() > 0.05
    np.testing.assert_array_equal(a, c)


def test_ddim_and_ddpm_match_mixture(setup: dict[str, object]) -> None:
    sch, x_T, score = setup["sch"], setup["x_T"], setup["score"]
    ddim = D.ddim_sample(score, x_T, sch, 50)  # type: ignore[arg-type]
    assert ddim.shape == (51, N, 2)
    np.testing.assert_array_equal(ddim[0], x_T)
    _check_matches_mixture(ddim[-1], setup, bound=0.005)  # measured energy 1.4e-3
    ddpm = D.ddpm_sample(score, x_T, sch, 200, seed=3)  # type: ignore[arg-type]
    assert ddpm.shape == (201, N, 2)
    _check_matches_mixture(ddpm[-1], setup, bound=0.005)  # measured energy 1.0e-3


def test_ddpm_eps_and_score_parameterisations_agree(setup: dict[str, object]) -> None:
    sch = setup["sch"]
    x_T = setup["x_T"][:100]  # type: ignore[index]
    score = setup["score"]

    def eps_fn(x: np.ndarray, t: float) -> np.ndarray:
        v = float(sch.marginal(t)[1])  # type: ignore[attr-defined]
        return -np.sqrt(v) * score(x, t)  # type: ignore[operator]

    a = D.ddpm_sample(score, x_T, sch, 40, seed=4)  # type: ignore[arg-type]
    b = D.ddpm_sample(eps_fn, x_T, sch, 40, seed=4, prediction="eps")  # type: ignore[arg-type]
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gaussian_data_is_a_fixed_point_and_euler_heun_converge() -> None:
    """Data N(0, I) under VP: p_t = N(0, I) for all t, score = -x, the PF ODE drift is 0."""
    sch = D.VPSchedule("cosine")
    x_T = np.random.default_rng(0).normal(size=(64, 2))
    traj = D.pf_ode_sample(lambda x, t: -x, x_T, sch, 20, method="heun")
    np.testing.assert_allclose(traj, np.broadcast_to(x_T, traj.shape), atol=1e-12)
    # Heun is 2nd order: on the mixture its end point moves far less between 50 and 100
    # steps than Euler's does (measured: Heun 0.0057 vs Euler 0.050, ratio 0.11).
    lin = D.VPSchedule("linear")
    x = x_T[:32]

    def score(y: np.ndarray, t: float) -> np.ndarray:
        return D.gmm_score(y, t, W, M, C, lin)

    ref = D.pf_ode_sample(score, x, lin, 400, method="heun")[-1]
    err_e = np.abs(D.pf_ode_sample(score, x, lin, 50, method="euler")[-1] - ref).max()
    err_h = np.abs(D.pf_ode_sample(score, x, lin, 50, method="heun")[-1] - ref).max()
    assert err_h < 0.2 * err_e


def test_ve_schedule_smoke() -> None:
    sch = D.VESchedule()
    assert float(sch.sigma(0.0)) == pytest.approx(0.01)
    assert float(sch.sigma(1.0)) == pytest.approx(10.0)
    x_T = 10.0 * np.random.default_rng(0).normal(size=(500, 2))

    def score(x: np.ndarray, t: float) -> np.ndarray:
        return D.gmm_score(x, t, W, M, C, sch)

    end = D.ddim_sample(score, x_T, sch, 200)[-1]
    assert np.all(np.isfinite(end))
    mean, _ = _exact_moments()
    assert np.abs(end.mean(0) - mean).max() < 0.3


def test_input_validation() -> None:
    sch = D.VPSchedule()
    with pytest.raises(ValueError):
        D.pf_ode_sample(lambda x, t: -x, np.zeros((3, 2)), sch, 10, method="rk4")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        D.pf_ode_sample(lambda x, t: -x, np.zeros((3, 3)), sch, 10)
    with pytest.raises(ValueError):
        D.reverse_sde_sample(lambda x, t: -x, np.zeros((3, 2)), sch, 0)
    with pytest.raises(TypeError):
        D.forward_sample(np.zeros((3, 2)), 0.5, "vp")  # type: ignore[arg-type]


def test_one_step_functions_reproduce_the_samplers():
    """A lab animating a sampler step by step (one frame per step) gets the same trajectory
    as the sampler itself."""
    sched = D.VPSchedule("linear")

    def score(x, t):
        return D.gmm_score(x, t, W, M, C, sched)

    x_T = np.random.default_rng(3).normal(size=(200, 2))
    n = 12
    ts = D.time_grid(n)
    ref = {"ddpm": D.ddpm_sample(score, x_T, sched, n, seed=4),
           "sde": D.reverse_sde_sample(score, x_T, sched, n, seed=4),
           "ddim": D.ddim_sample(score, x_T, sched, n),
           "heun": D.pf_ode_sample(score, x_T, sched, n, method="heun")}
    for name, traj in ref.items():
        rng = np.random.default_rng(4)
        x = x_T
        for i in range(n):
            t0, t1 = float(ts[i]), float(ts[i + 1])
            noise = rng if i < n - 1 else None
            if name == "ddpm":
                x = D.ddpm_step(x, score(x, t0), t0, t1, sched, noise)
            elif name == "sde":
                x = D.sde_step(x, score(x, t0), t0, t1, sched, noise)
            elif name == "ddim":
                x = D.ddim_step(x, score(x, t0), t0, t1, sched)
            else:
                x = D.ode_step(score, x, t0, t1, sched, "heun")
            np.testing.assert_allclose(x, traj[i + 1], rtol=1e-12, atol=1e-12, err_msg=name)


def test_the_cosine_cap_ends_like_nichol_and_dhariwals_discrete_one():
    """The docstring's figures: their β_t ≤ 0.999 at T = 1000 is a rate of ≈ 6.9e3, and
    ᾱ(0.99) is ≈ 3.6e-4 here and ≈ 2.4e-4 at their step 990."""
    from genlab.engine.diffusion import VPSchedule

    T, s = 1000, 0.008
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
    beta = np.minimum(1 - f[1:] / f[:-1], 0.999)
    theirs = np.cumprod(1 - beta)[989]
    a, _ = VPSchedule(kind="cosine").marginal(np.array([0.99]))
    ours = float(a[0] ** 2)
    assert abs(-T * np.log(1 - 0.999) - 6.9e3) < 0.01e3
    assert abs(ours - 3.6e-4) < 0.05e-4 and abs(theirs - 2.4e-4) < 0.05e-4
