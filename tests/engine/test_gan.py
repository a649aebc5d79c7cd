"""genlab.engine.gan and genlab.engine.images.gan: the GAN value at D* against 2·JSD − log 4,
the losses and WGAN-GP's penalty against hand computations, mode_coverage on constructed
samples, the 2D trainer's API, G's gradients, and the DCGAN's shapes and exact resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from genlab.engine.gan import (
    gan_value,
    jensen_shannon,
    mixture_density,
    mode_coverage,
    optimal_discriminator,
)

RING = 2.5 * np.column_stack([np.cos(2 * np.pi * np.arange(8) / 8),
                              np.sin(2 * np.pi * np.arange(8) / 8)])


def _grid(lo: float = -14.0, hi: float = 14.0, n: int = 40_001) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(lo, hi, n)
    w = np.full(n, x[1] - x[0])
    w[[0, -1]] *= 0.5  # the trapezoid rule
    return x, w


# ----------------------------------------------------------------- the value of the game


def test_minimax_value_at_the_optimal_discriminator_is_2jsd_minus_log4():
    x, w = _grid()
    p = norm.pdf(x, 0.0, 1.0)
    q = 0.5 * norm.pdf(x, 2.0, 0.5) + 0.5 * norm.pdf(x, -1.5, 1.5)
    d_star = optimal_discriminator(p, q)
    value = gan_value(d_star, p, q, w)
    # the JSD independently, by scipy, of the quadrature's discrete masses (base e: nats)
    jsd = jensenshannon(p * w, q * w) ** 2
    assert value == pytest.approx(2 * jsd - math.log(4), abs=1e-9)
    assert jensen_shannon(p, q, w) == pytest.approx(jsd, rel=1e-9)
    assert 0 < jsd < math.log(2)
    # D* maximises V(D, G): any other discriminator scores lower
    for bump in (0.05, -0.05):
        other = np.clip(d_star + bump * np.sin(x), 1e-6, 1 - 1e-6)
        assert gan_value(other, p, q, w) < value
    # equal densities: D* = 1/2 everywhere and the value is −log 4 (Goodfellow et al. 2014)
    assert np.allclose(optimal_discriminator(p, p), 0.5)
    assert gan_value(optimal_discriminator(p, p), p, p, w) == pytest.approx(-math.log(4))


def test_mixture_density_integrates_to_one_and_matches_scipy():
    from scipy.stats import multivariate_normal

    pts = np.random.default_rng(0).normal(size=(5, 2)) * 2
    want = np.mean([multivariate_normal(m, 0.3 ** 2 * np.eye(2)).pdf(pts) for m in RING],
                   axis=0)
    assert np.allclose(mixture_density(pts, RING, 0.3), want)
    g = np.linspace(-5, 5, 401)
    xx, yy = np.meshgrid(g, g)
    dens = mixture_density(np.column_stack([xx.ravel(), yy.ravel()]), RING, 0.3)
    assert dens.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=1e-4)


# ------------------------------------------------------------------------- mode coverage


def test_mode_coverage_counts_constructed_samples():
    rng = np.random.default_rng(0)
    std = 0.1
    on = [RING[k] + std * rng.normal(size=(100, 2)).clip(-1.5, 1.5) for k in range(5)]
    off = np.zeros((50, 2))  # the centre of the ring: far from every mode
    x = np.concatenate(on + [off])
    covered, good = mode_coverage(x, RING, std)
    assert covered == 5
    assert good == pytest.approx(500 / 550)
    # 3σ is the boundary of "high quality"
    assert mode_coverage(RING[:1] + [[0.29, 0.0]], RING, std) == (1, 1.0)
    assert mode_coverage(RING[:1] + [[0.31, 0.0]], RING, std) == (0, 0.0)
    # a few stragglers on a mode do not cover it (at least 2% of the samples must)
    stray = np.concatenate([x, RING[7] + np.zeros((5, 2))])
    assert mode_coverage(stray, RING, std)[0] == 5
    assert mode_coverage(stray, RING, std, min_fraction=0.0)[0] == 6
    assert mode_coverage(np.zeros((0, 2)), RING, std) == (0, 0.0)
    with pytest.raises(ValueError):
        mode_coverage(x, RING, 0.0)


# --------------------------------------------------------------------- losses and penalty

torch = pytest.importorskip("torch")


def test_losses_against_their_formulas():
    from genlab.engine.gan import LOSSES, d_loss, g_loss

    fr = torch.tensor([1.5, -0.3, 0.2], dtype=torch.float64)
    ff = torch.tensor([-2.0, 0.4, 1.1], dtype=torch.float64)
    a, b = fr.numpy(), ff.numpy()
    sig = 1 / (1 + np.exp(-np.concatenate([a, b])))
    dr, df = sig[:3], sig[3:]
    gan_d = -np.mean(np.log(dr)) - np.mean(np.log(1 - df))
    want_d = {"non-saturating": gan_d, "minimax": gan_d,
              "least-squares": 0.5 * np.mean((a - 1) ** 2) + 0.5 * np.mean(b ** 2),
              "wgan-gp": b.mean() - a.mean(),
              "hinge": np.mean(np.maximum(0, 1 - a)) + np.mean(np.maximum(0, 1 + b))}
    want_g = {"non-saturating": -np.mean(np.log(df)), "minimax": np.mean(np.log(1 - df)),
              "least-squares": 0.5 * np.mean((b - 1) ** 2), "wgan-gp": -b.mean(),
              "hinge": -b.mean()}
    for loss in LOSSES:
        assert float(d_loss(loss, fr, ff)) == pytest.approx(want_d[loss], rel=1e-12)
        assert float(g_loss(loss, ff)) == pytest.approx(want_g[loss], rel=1e-12)
    with pytest.raises(ValueError):
        d_loss("wasserstein", fr, ff)


def test_gradient_penalty_against_a_hand_computation():
    from genlab.engine.gan import gradient_penalty

    real = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, -1.0]], dtype=torch.float64)
    eps = torch.tensor([0.25, 0.5, 0.9], dtype=torch.float64)
    # f(x) = c/2 |x|²: ∇f(x̂) = c x̂, so the penalty is λ mean (c|x̂| − 1)²
    c = 0.7
    pen = gradient_penalty(lambda x: 0.5 * c * (x * x).sum(1), real, fake, weight=10.0,
                           eps=eps)
    e = eps.numpy()[:, None]
    hat = e * real.numpy() + (1 - e) * fake.numpy()
    want = 10.0 * np.mean((c * np.linalg.norm(hat, axis=1) - 1) ** 2)
    assert float(pen.detach()) == pytest.approx(want, rel=1e-12)
    # a linear critic w·x has gradient w everywhere: λ (|w| − 1)²
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)
    assert float(gradient_penalty(lambda x: x @ w, real, fake, weight=2.0)) == \
        pytest.approx(2.0 * (5.0 - 1.0) ** 2)
    # images: the norm is over all of a sample's pixels
    ri, fi = real.reshape(3, 1, 1, 2), fake.reshape(3, 1, 1, 2)
    img = gradient_penalty(lambda x: 0.5 * c * (x * x).flatten(1).sum(1), ri, fi, 10.0, eps)
    assert float(img.detach()) == pytest.approx(want, rel=1e-12)
    # it can be differentiated with respect to the critic's parameters
    wp = torch.tensor([0.3, 0.1], dtype=torch.float64, requires_grad=True)
    gradient_penalty(lambda x: x @ wp, real, fake).backward()
    assert wp.grad is not None and torch.isfinite(wp.grad).all()


# ---------------------------------------------------------------------------- the trainer


def _ring_points(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return RING[rng.integers(0, 8, n)] + 0.1 * rng.normal(size=(n, 2))


def test_gan_trainer_api_and_determinism():
    from genlab.engine.gan import GANTrainer

    x = _ring_points()
    a = GANTrainer(x, hidden=16, batch_size=32, seed=3)
    b = GANTrainer(x, hidden=16, batch_size=32, seed=3)
    la, lb = a.step(5), b.step(5)
    assert la.shape == (5, 2) and np.array_equal(la, lb) and a.step_ == 5
    assert len(a.history_) == 5
    assert np.array_equal(a.sample(50, seed=1), b.sample(50, seed=1))
    assert a.sample(50, seed=1).shape == (50, 2)
    d = a.discriminator(x[:10])
    assert d.shape == (10,) and ((d > 0) & (d < 1)).all()  # a probability
    assert np.allclose(d, 1 / (1 + np.exp(-a.critic(x[:10]))))
    a.lr_d, a.lr_g = 5e-4, 2e-4
    assert (a.lr_d, a.lr_g) == (5e-4, 2e-4)
    u = GANTrainer(x, loss="wgan-gp", latent="uniform", latent_dim=1, hidden=16,
                   batch_size=32)
    z = u.latent_draws(1000, seed=2)
    assert z.shape == (1000, 1) and np.abs(z).max() <= 1
    u.step(2)
    assert not np.allclose(u.discriminator(x[:10]), 1 / (1 + np.exp(-u.critic(x[:10]))))
    with pytest.raises(ValueError):
        GANTrainer(x, loss="wasserstein")
    with pytest.raises(ValueError):
        GANTrainer(np.zeros((5, 3)))


def test_training_only_one_player_leaves_the_other_unchanged():
    from genlab.engine.gan import GANTrainer

    tr = GANTrainer(_ring_points(), hidden=16, batch_size=32)
    z = tr.latent_draws(20, seed=4)
    cells = _ring_points(20, 1)
    g0, d0 = tr.generate(z), tr.discriminator(cells)
    tr.step(3, train="D")
    assert np.array_equal(tr.generate(z), g0) and not np.allclose(tr.discriminator(cells), d0)
    d1 = tr.discriminator(cells)
    tr.step(3, train="G")
    assert np.array_equal(tr.discriminator(cells), d1) and not np.allclose(tr.generate(z), g0)


def test_generator_gradients_are_D_or_1_minus_D_times_grad_f():
    """Minimax: −∂/∂x log(1 − D) = D ∇f, vanishing where D rejects the fakes; the
    non-saturating loss: ∂/∂x log D = (1 − D) ∇f."""
    from genlab.engine.gan import GANTrainer

    tr = GANTrainer(_ring_points(), loss="minimax", hidden=16, batch_size=64, lr_d=3e-3)
    tr.step(100, train="D")  # D learns to reject G's blob
    z = tr.latent_draws(30, seed=5)
    x, g_mm = tr.generator_gradient(z)
    _, g_ns = tr.generator_gradient(z, loss="non-saturating")
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    (grad_f,) = torch.autograd.grad(tr.D(xt).sum(), xt)
    d = tr.discriminator(x)[:, None]
    assert np.allclose(g_mm, d * grad_f.numpy(), atol=1e-6)
    assert np.allclose(g_ns, (1 - d) * grad_f.numpy(), atol=1e-6)
    assert d.mean() < 0.3  # D rejects the fakes ...
    assert np.linalg.norm(g_mm, axis=1).mean() < 0.5 * np.linalg.norm(g_ns, axis=1).mean()


def test_step_detail_records_the_iteration_it_takes():
    from genlab.engine.gan import GANTrainer

    tr = GANTrainer(_ring_points(), hidden=16, batch_size=32, d_steps=2)
    it = tr.step_detail()
    assert tr.step_ == 1 and tr.history_ == [(it["loss_d"], it["loss_g"])]
    assert it["real"].shape == it["fake"].shape == it["grad"].shape == (32, 2)
    assert it["z"].shape == (32, 2) and it["d_real"].shape == (32,)
    assert np.allclose(it["fake_after"], tr.generate(it["z"]), atol=1e-6)
    # G moved its fakes by one Adam step on the recorded gradient's loss
    assert not np.allclose(it["fake_after"], it["fake"])


# ------------------------------------------------------------------------------ images


def _tiny_images(n: int = 40, side: int = 8):
    from genlab.engine.images.data import ImageData

    rng = np.random.default_rng(0)
    x = np.tanh(rng.normal(size=(n, 1, side, side))).astype(np.float32)
    return ImageData(f"tiny{side}", x, np.arange(n, dtype=np.int64) % 2, 2, ("a", "b"))


def test_halvings_and_dcgan_shapes():
    from genlab.engine.images.gan import Discriminator, Generator, halvings

    assert [halvings(s) for s in (8, 16, 28, 30, 32, 64)] == [1, 2, 2, 1, 3, 3]
    for side in (8, 28, 32):
        g = Generator(16, (1, side, side), 8)
        d = Discriminator((1, side, side), 8)
        x = g(torch.zeros(3, 16))
        assert x.shape == (3, 1, side, side) and d(x).shape == (3,)


def test_image_gan_trains_samples_and_resumes_exactly(tmp_path):
    from genlab.engine.images.gan import ImageGANTrainer

    data = _tiny_images()
    kw = dict(width=8, latent_dim=8, batch_size=8, seed=1)
    whole = ImageGANTrainer(data, **kw)
    whole.step(4)
    half = ImageGANTrainer(data, **kw)
    half.step(2)
    half.save(tmp_path / "g.safetensors")
    back = ImageGANTrainer.load(tmp_path / "g.safetensors", data)
    back.step(2)
    assert back.step_ == 4 and back.history_ == whole.history_
    noise = whole.latent_draws(6, seed=3)
    s = whole.sample(6, noise=noise)
    assert s.shape == (6, 1, 8, 8) and np.abs(s).max() <= 1
    assert np.array_equal(s, back.sample(6, noise=noise))
    w = ImageGANTrainer(data, loss="wgan-gp", d_steps=2, **kw)
    assert np.isfinite(w.step(2)).all()
    with pytest.raises(ValueError):
        ImageGANTrainer.load(tmp_path / "g.safetensors", _tiny_images(side=16))
