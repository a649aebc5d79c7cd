"""The ε-prediction denoiser: its loss, its score and Tweedie's posterior mean."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genlab.engine import diffusion as D  # noqa: E402
from genlab.engine.denoiser import Denoiser, DenoiserTrainer, time_embedding  # noqa: E402
from genlab.engine.mixtures import Mixture, fit_mixture, gallery_mixture  # noqa: E402

MU = np.array([1.0, -0.5])
S2 = 0.25  # data N(MU, S2 I)


def _gaussian_data(n: int = 4000) -> np.ndarray:
    return MU + np.sqrt(S2) * np.random.default_rng(0).standard_normal((n, 2))


def test_tweedie_mean_with_the_exact_score_is_the_gaussian_posterior_mean():
    sched = D.VPSchedule("linear")
    x = np.random.default_rng(1).normal(size=(50, 2))
    for t in (0.05, 0.3, 0.9):
        score = D.gmm_score(x, t, [1.0], [MU], [S2 * np.eye(2)], sched)
        a, v = (float(u) for u in sched.marginal(t))
        # x0 ~ N(mu, s2), x_t = a x0 + sqrt(v) eps: E[x0 | x_t] = mu + a s2 (x_t - a mu)/(a² s2 + v)
        want = MU + a * S2 * (x - a * MU) / (a * a * S2 + v)
        np.testing.assert_allclose(D.tweedie_mean(x, score, t, sched), want, rtol=1e-10)


def test_time_embedding_shape_and_range():
    e = time_embedding(torch.linspace(0, 1, 7), 5)
    assert e.shape == (7, 10)
    assert float(e.abs().max()) <= 1.0
    np.testing.assert_allclose(e[0, 5:].numpy(), 1.0)  # cos(0)


def test_same_seed_same_training_and_the_loss_falls():
    sched = D.VPSchedule("linear")
    runs = []
    for _ in range(2):
        model = Denoiser(hidden=32, depth=2, seed=3)
        tr = DenoiserTrainer(model, _gaussian_data(500), sched, lr=3e-3, batch_size=128, seed=4)
        before = tr.loss(2048)
        losses = tr.step(300)
        runs.append(losses)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert tr.n_steps_ == 300
    # an untrained net predicts ~0, loss ~ E|eps|²/2 per coordinate = 1; trained: well below
    assert before > 0.8 and tr.loss(2048) < 0.6 * before


def test_trained_score_and_posterior_mean_match_the_closed_form_on_gaussian_data():
    """For Gaussian data the optimal denoiser is known in closed form; a short training run
    gets its score to within 15% (relative, averaged over points near the data) at mid t."""
    sched = D.VPSchedule("linear")
    model = Denoiser(hidden=64, depth=2, seed=0)
    tr = DenoiserTrainer(model, _gaussian_data(), sched, lr=3e-3, batch_size=256, seed=0)
    tr.step(1500)
    rng = np.random.default_rng(2)
    for t in (0.3, 0.6):
        x, _ = D.forward_sample(_gaussian_data(400), t, sched, seed=5)
        exact = D.gmm_score(x, t, [1.0], [MU], [S2 * np.eye(2)], sched)
        err = np.linalg.norm(tr.score(x, t) - exact, axis=1).mean()
        assert err < 0.15 * np.linalg.norm(exact, axis=1).mean(), (t, err)
        # Tweedie from the learned eps equals Tweedie from the learned score (identity)
        np.testing.assert_allclose(tr.posterior_mean(x, t),
                                   D.tweedie_mean(x, tr.score(x, t), t, sched), atol=1e-5)
    # per-point times broadcast like scalar ones
    x = rng.normal(size=(5, 2))
    ts = np.full(5, 0.4)
    np.testing.assert_allclose(tr.score(x, ts), tr.score(x, 0.4), atol=1e-6)


def test_gallery_mixture_matches_the_gallery_samples():
    from genlab.engine.datasets import make_dataset

    x, _ = make_dataset("8gaussians", 20000, 0.1, seed=0)
    mix = gallery_mixture("8gaussians", 0.1)
    y, comp = mix.sample(20000, seed=1)
    assert y.shape == (20000, 2) and comp.max() == 7
    np.testing.assert_allclose(np.cov(x.T), np.cov(y.T), atol=0.1)
    # the mixture's log-likelihood of gallery data equals that of its own samples (same law)
    assert abs(mix.log_density(x).mean() - mix.log_density(y).mean()) < 0.03
    with pytest.raises(ValueError, match="not a mixture"):
        gallery_mixture("moons")


def test_fit_mixture_recovers_well_separated_components():
    true = Mixture([0.3, 0.7], [[-3.0, 0.0], [3.0, 1.0]], [0.2 * np.eye(2), 0.5 * np.eye(2)])
    x, _ = true.sample(3000, seed=0)
    fit = fit_mixture(x, 2, seed=0)
    order = np.argsort(fit.means[:, 0])
    np.testing.assert_allclose(fit.weights[order], true.weights, atol=0.03)
    np.testing.assert_allclose(fit.means[order], true.means, atol=0.08)
    np.testing.assert_allclose(fit.covariances[order], true.covariances, atol=0.08)
    # fewer distinct points than components: K is lowered, not a singular fit
    assert fit_mixture(np.array([[0.0, 0.0], [1.0, 1.0]]), 5).n_components == 2


def test_the_moving_average_predicts_when_asked_and_lags_the_weights():
    """With ema > 0 the helpers use the averaged weights (not the trained ones); with 0 the
    trainer behaves as before, batch for batch."""
    import torch

    from genlab.engine import diffusion as dif
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer

    x = np.random.default_rng(0).normal(size=(200, 2))
    plain = DenoiserTrainer(Denoiser(32, 2, seed=1), x, dif.VPSchedule(), seed=2)
    avg = DenoiserTrainer(Denoiser(32, 2, seed=1), x, dif.VPSchedule(), seed=2, ema=0.99)
    la, lb = plain.step(30), avg.step(30)
    np.testing.assert_allclose(la, lb)  # the same training
    for a, b in zip(plain.model.parameters(), avg.model.parameters(), strict=True):
        assert torch.equal(a, b)
    probe = np.array([[0.3, -0.2]])
    assert np.allclose(plain.eps(probe, 0.5), plain.model(
        torch.tensor(probe, dtype=torch.float32), torch.tensor([0.5])).detach().numpy(),
        atol=1e-6)
    assert not np.allclose(avg.eps(probe, 0.5), plain.eps(probe, 0.5))  # the average differs


def test_the_loss_is_half_the_squared_norm_in_2d():
    """What the diffusion and guidance captions call ½E‖ε_θ − ε‖²: a net that outputs 0
    scores ½E‖ε‖² = 1, not E‖ε‖² = 2."""
    sched = D.VPSchedule("linear")
    model = Denoiser(hidden=8, depth=1, seed=0)
    with torch.no_grad():
        for prm in model.parameters():
            prm.zero_()
    tr = DenoiserTrainer(model, _gaussian_data(100), sched, seed=0)
    draws = torch.Generator().manual_seed(12345)
    _, _, eps, _ = tr._batch(4096, draws)
    assert tr.loss(4096) == pytest.approx(0.5 * float((eps ** 2).sum(1).mean()), rel=1e-6)
    assert tr.loss(4096) == pytest.approx(1.0, abs=0.05)
