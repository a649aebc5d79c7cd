"""Flow matching: the straight path, OT pairing, the samplers, straightness, the exact mixture
field (continuity equation, Tweedie identity, transport to the target) and the trainer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from genlab.engine import flow_matching as fm
from genlab.engine.mixtures import Mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein


def test_conditional_path_matches_the_formulas() -> None:
    rng = np.random.default_rng(0)
    x0, x1 = rng.standard_normal((50, 2)), rng.standard_normal((50, 2)) + 3.0
    t = rng.random(50)
    x_t, u_t = fm.conditional_path(x0, x1, t)
    np.testing.assert_allclose(x_t, (1 - t)[:, None] * x0 + t[:, None] * x1, atol=1e-15)
    np.testing.assert_allclose(u_t, x1 - x0, atol=1e-15)
    # the ends, and u is the time derivative of the path (central difference)
    np.testing.assert_allclose(fm.conditional_path(x0, x1, 0.0)[0], x0)
    np.testing.assert_allclose(fm.conditional_path(x0, x1, 1.0)[0], x1)
    h = 1e-6
    diff = (fm.conditional_path(x0, x1, t + h)[0] - fm.conditional_path(x0, x1, t - h)[0]) / (2 * h)
    np.testing.assert_allclose(diff, u_t, atol=1e-7)


def test_conditional_path_takes_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    x0, x1 = torch.zeros(4, 2), torch.ones(4, 2)
    x_t, u_t = fm.conditional_path(x0, x1, torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert isinstance(x_t, torch.Tensor)
    assert torch.allclose(x_t[:, 0], torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert torch.equal(u_t, torch.ones(4, 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ot_pairing_is_an_optimal_permutation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((64, 2))
    x1 = gallery_mixture("8gaussians", 0.1).sample(64, seed=seed)[0]
    perm = fm.pairing(x0, x1, "ot")
    assert sorted(perm.tolist()) == list(range(64))  # a permutation: the batch is kept
    cost = ((x0[:, None] - x1[None]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    assert cost[np.arange(64), perm].sum() == pytest.approx(cost[rows, cols].sum(), rel=1e-9)
    # lower mean pair distance than the independent pairing of the same batch
    a, b = fm.pair(x0, x1, "ot")
    ai, bi = fm.pair(x0, x1, "independent")
    np.testing.assert_array_equal(bi, x1)
    np.testing.assert_array_equal(np.sort(b, axis=0), np.sort(x1, axis=0))
    assert ((a - b) ** 2).sum(1).mean() < 0.7 * ((ai - bi) ** 2).sum(1).mean()


def test_pairing_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same shape"):
        fm.pairing(np.zeros((3, 2)), np.zeros((4, 2)), "ot")
    with pytest.raises(ValueError, match="unknown coupling"):
        fm.pairing(np.zeros((3, 2)), np.zeros((3, 2)), "sinkhorn")


def test_euler_is_exact_for_a_constant_field_and_midpoint_is_second_order() -> None:
    x0 = np.array([[1.0, -2.0], [0.5, 0.5]])
    traj = fm.sample(lambda x, t: np.ones_like(x) * [2.0, -1.0], x0, 4, "euler")
    assert traj.shape == (5, 2, 2)
    np.testing.assert_array_equal(traj[0], x0)
    np.testing.assert_allclose(traj[-1], x0 + [2.0, -1.0], atol=1e-14)

    # dx/dt = -x t: x(1) = x0 exp(-1/2); Euler errors halve, midpoint errors quarter
    def field(x: np.ndarray, t: float) -> np.ndarray:
        return -x * t

    exact = x0 * np.exp(-0.5)
    err = {(m, n): np.abs(fm.sample(field, x0, n, m)[-1] - exact).max()
           for m in fm.METHODS for n in (8, 16)}
    assert err[("euler", 8)] / err[("euler", 16)] == pytest.approx(2.0, rel=0.15)
    assert err[("midpoint", 8)] / err[("midpoint", 16)] == pytest.approx(4.0, rel=0.15)
    assert err[("midpoint", 16)] < 0.05 * err[("euler", 16)]
    with pytest.raises(ValueError, match="unknown method"):
        fm.step(field, x0, 0.0, 0.1, "rk4")


def test_straightness_and_length_ratio() -> None:
    ts = fm.time_grid(20)
    start, end = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0], [1.0, -1.0]])
    line = (1 - ts)[:, None, None] * start + ts[:, None, None] * end
    assert fm.straightness(line) == pytest.approx(0.0, abs=1e-24)
    assert fm.path_length_ratio(line) == pytest.approx(1.0)
    # a half circle of radius 1 run at constant speed: chord / length = 2/pi, and
    # S = ∫|v - mean v|^2 dt = pi^2 - 4 (|v| = pi, mean velocity 2 in length)
    ang = np.pi * fm.time_grid(2000)
    arc = np.stack([np.cos(ang), np.sin(ang)], axis=1)[:, None, :]
    assert fm.path_length_ratio(arc) == pytest.approx(2 / np.pi, rel=1e-5)
    assert fm.straightness(arc) == pytest.approx(np.pi**2 - 4, rel=1e-4)


SOURCES = {"standard normal": fm.STANDARD_NORMAL,
           "two blobs": Mixture([0.3, 0.7], [[-1.0, 0.0], [1.0, 0.5]],
                                [[[0.3, 0.1], [0.1, 0.2]], [[0.2, 0.0], [0.0, 0.5]]])}
TARGETS = {"8gaussians": gallery_mixture("8gaussians", 0.15),
           "correlated": Mixture([0.5, 0.5], [[2.0, 1.0], [-1.0, -2.0]],
                                 [[[0.5, 0.3], [0.3, 0.4]], [[0.1, 0.0], [0.0, 0.3]]])}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("t", [0.1, 0.5, 0.85])
def test_mixture_velocity_satisfies_the_continuity_equation(source: str, target: str,
                                                            t: float) -> None:
    src, tgt = SOURCES[source], TARGETS[target]
    x = np.random.default_rng(3).uniform(-3, 3, (40, 2))

    def p(x: np.ndarray, t: float) -> np.ndarray:
        return np.exp(fm.mixture_log_density(x, t, src, tgt))

    h = 1e-5
    dp_dt = (p(x, t + h) - p(x, t - h)) / (2 * h)
    div = np.zeros(len(x))
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        flux_plus = p(x + e, t) * fm.mixture_velocity(x + e, t, src, tgt)[:, i]
        flux_minus = p(x - e, t) * fm.mixture_velocity(x - e, t, src, tgt)[:, i]
        div += (flux_plus - flux_minus) / (2 * h)
    scale = np.abs(dp_dt).max() + np.abs(div).max()
    np.testing.assert_allclose(dp_dt + div, 0.0, atol=1e-6 * scale)


@pytest.mark.parametrize("t", [0.2, 0.6, 0.95])
def test_mixture_velocity_obeys_tweedie_for_a_gaussian_source(t: float) -> None:
    # x_t = (1 - t) x0 + t x1 with x0 ~ N(0, I): E[x0 | x_t] = -(1 - t) ∇log p_t, so
    # u = E[x1 - x0 | x_t] = (x + (1 - t) ∇log p_t(x)) / t, the score by finite differences
    tgt = TARGETS["8gaussians"]
    x = np.random.default_rng(4).uniform(-3, 3, (30, 2))
    h = 1e-6
    score = np.column_stack([
        (fm.mixture_log_density(x + [h, 0], t, fm.STANDARD_NORMAL, tgt)
         - fm.mixture_log_density(x - [h, 0], t, fm.STANDARD_NORMAL, tgt)) / (2 * h),
        (fm.mixture_log_density(x + [0, h], t, fm.STANDARD_NORMAL, tgt)
         - fm.mixture_log_density(x - [0, h], t, fm.STANDARD_NORMAL, tgt)) / (2 * h)])
    expected = (x + (1 - t) * score) / t
    np.testing.assert_allclose(fm.mixture_velocity(x, t, fm.STANDARD_NORMAL, tgt), expected,
                               atol=1e-6)


def test_mixture_density_ends_are_the_source_and_the_target() -> None:
    src, tgt = SOURCES["two blobs"], TARGETS["correlated"]
    x = np.random.default_rng(5).uniform(-3, 3, (20, 2))
    np.testing.assert_allclose(fm.mixture_log_density(x, 0.0, src, tgt), src.log_density(x))
    np.testing.assert_allclose(fm.mixture_log_density(x, 1.0, src, tgt), tgt.log_density(x))
    # at t = 0 the field points from x to the target's mean: u_0(x) = E[x1] - x
    mean1 = tgt.weights @ tgt.means
    np.testing.assert_allclose(fm.mixture_velocity(x, 0.0, src, tgt), mean1 - x, atol=1e-12)


def test_the_exact_field_carries_the_source_to_the_target() -> None:
    tgt = TARGETS["8gaussians"]
    x0 = np.random.default_rng(6).standard_normal((2000, 2))
    traj = fm.sample(lambda x, t: fm.mixture_velocity(x, t, fm.STANDARD_NORMAL, tgt), x0, 100,
                     "midpoint")
    ref = tgt.sample(2000, seed=7)[0]
    floor = sliced_wasserstein(tgt.sample(2000, seed=8)[0], ref)
    assert sliced_wasserstein(traj[-1], ref) < 1.5 * floor


# ---------------------------------------------------------------------------- the trainer


def _trainer(coupling: str, seed: int = 0, **kw):  # type: ignore[no-untyped-def]
    from genlab.engine.denoiser import Denoiser
    from genlab.engine.flow_matching_trainer import FlowMatchingTrainer

    x1 = kw.pop("x1", gallery_mixture("8gaussians", 0.1).sample(1000, seed=1)[0])
    return FlowMatchingTrainer(Denoiser(64, 2, seed=seed), x1, coupling=coupling,
                               seed=seed, **kw)


def test_trainers_with_one_seed_see_the_same_batches_paired_differently() -> None:
    torch = pytest.importorskip("torch")
    ind, ot = _trainer("independent"), _trainer("ot")
    a0, a1, at = ind.batch(128, torch.Generator().manual_seed(3))
    b0, b1, bt = ot.batch(128, torch.Generator().manual_seed(3))
    assert torch.equal(a0, b0) and torch.equal(at, bt)
    assert not torch.equal(a1, b1)
    assert torch.equal(torch.sort(a1, dim=0).values, torch.sort(b1, dim=0).values)
    cost_ind = ((a0 - a1) ** 2).sum(1).mean()
    cost_ot = ((b0 - b1) ** 2).sum(1).mean()
    assert cost_ot < 0.5 * cost_ind


def test_training_learns_the_exact_field_of_a_gaussian_target() -> None:
    # N(0, I) -> N(m, s^2 I): the marginal velocity is exact and smooth; 600 steps learn it
    tgt = Mixture([1.0], [[1.5, -1.0]], [0.25 * np.eye(2)])
    x1 = tgt.sample(4000, seed=2)[0]
    trainer = _trainer("independent", x1=x1, lr=3e-3)
    before = trainer.loss(2048)
    losses = trainer.step(600)
    assert np.isfinite(losses).all() and trainer.n_steps_ == 600
    assert trainer.loss(2048) < 0.8 * before
    x = np.random.default_rng(3).standard_normal((300, 2))
    for t in (0.2, 0.5, 0.8):
        x_t = (1 - t) * x + t * tgt.sample(300, seed=4)[0]
        exact = fm.mixture_velocity(x_t, t, fm.STANDARD_NORMAL, tgt)
        err = np.linalg.norm(trainer.velocity(x_t, t) - exact, axis=1).mean()
        assert err < 0.15 * np.linalg.norm(exact, axis=1).mean()


def test_ot_training_gives_straighter_paths() -> None:
    x0 = np.random.default_rng(5).standard_normal((500, 2))
    s = {}
    for c in fm.COUPLINGS:
        trainer = _trainer(c, lr=3e-3)
        trainer.step(500)
        s[c] = fm.straightness(fm.sample(trainer.velocity, x0, 20))
    assert s["ot"] < 0.5 * s["independent"]


def test_a_non_finite_loss_stops_without_an_update() -> None:
    trainer = _trainer("independent", lr=1e-3)
    trainer.x1[0] = float("nan")
    trainer.x1[:] = trainer.x1[0]
    losses = trainer.step(5)
    assert len(losses) == 1 and not np.isfinite(losses[0])
    assert trainer.n_steps_ == 0


def test_trainer_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="coupling"):
        _trainer("sinkhorn")
    with pytest.raises(ValueError, match="non-empty"):
        _trainer("independent", x1=np.zeros((0, 2)))
