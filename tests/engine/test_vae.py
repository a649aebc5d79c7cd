"""The VAE engine against closed forms: the KL term, PPCA's maximum likelihood, ELBO ≤ log p,
the linear VAE reaching PPCA, and the reparameterised gradient against finite differences;
and the image VAE's shapes and checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab.engine.datasets import make_dataset
from genlab.engine.vae import (
    VAETrainer,
    gaussian_kl,
    gaussian_log_lik,
    ppca,
    ppca_log_likelihood,
)


def _aniso(n: int = 600, seed: int = 0) -> np.ndarray:
    """3D points with covariance spectrum (4, 1, 0.25), rotated, off the origin."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return rng.standard_normal((n, 3)) * [2.0, 1.0, 0.5] @ q.T + [1.0, -2.0, 0.5]


# ------------------------------------------------------------------------------ closed forms
def test_kl_term_matches_torch_and_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 3, generator=g, dtype=torch.float64)
    ours = gaussian_kl(mu, logvar)
    q = torch.distributions.Independent(torch.distributions.Normal(mu, (0.5 * logvar).exp()), 1)
    p = torch.distributions.Independent(torch.distributions.Normal(torch.zeros_like(mu),
                                                                   torch.ones_like(mu)), 1)
    torch.testing.assert_close(ours, torch.distributions.kl_divergence(q, p))
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(ours, mc, atol=0.03, rtol=0.01)


def test_trainer_kl_is_the_closed_form_of_its_encoder():
    x, _ = make_dataset("moons", 300, 0.1, 0)
    tr = VAETrainer(x, latent_dim=2, hidden=16, seed=1)
    tr.step(20)
    mu, logvar = tr.encode(x)
    closed = 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).sum(1)
    assert tr.terms(x)["kl"] == pytest.approx(closed.mean(), rel=1e-5)
    np.testing.assert_allclose(tr.kl_per_dim(x).sum(), closed.mean(), rtol=1e-5)


def test_gaussian_log_lik_is_scipys():
    from scipy.stats import multivariate_normal

    x = torch.tensor([[0.3, -1.0], [2.0, 0.5]], dtype=torch.float64)
    m = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    ls2 = torch.tensor(math.log(0.7), dtype=torch.float64)
    ref = [multivariate_normal(m[i].numpy(), 0.7 * np.eye(2)).logpdf(x[i].numpy())
           for i in range(2)]
    np.testing.assert_allclose(gaussian_log_lik(x, m, ls2).numpy(), ref)


@pytest.mark.parametrize("q", [1, 2, 3])
def test_ppca_log_likelihood_is_the_maximum_of_its_gaussian(q):
    from scipy.stats import multivariate_normal

    x = _aniso()
    mean, w, s2 = ppca(x, q)
    cov = w @ w.T + s2 * np.eye(3)
    if q == 3:
        cov = np.cov(x, rowvar=False, bias=True)  # σ² -> 0: the full Gaussian
    ll = ppca_log_likelihood(x, q)
    assert ll == pytest.approx(multivariate_normal(mean, cov).logpdf(x).mean(), abs=1e-9)
    # a maximum: nudging W, σ² or the mean lowers it
    rng = np.random.default_rng(1)
    for _ in range(5):
        cw = (w + 0.05 * rng.standard_normal(w.shape)) if q < 3 else w
        c2 = cw @ cw.T + (s2 * 1.05 if q < 3 else 0.0) * np.eye(3) + (cov if q == 3 else 0)
        assert multivariate_normal(mean + 0.02, c2).logpdf(x).mean() < ll
    # Tipping & Bishop: σ² is the mean of the discarded eigenvalues
    lam = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False, bias=True)))[::-1]
    assert s2 == pytest.approx(lam[q:].mean() if q < 3 else 0.0)


def test_ppca_refuses_a_bad_latent_dim():
    with pytest.raises(ValueError):
        ppca_log_likelihood(_aniso(), 0)
    with pytest.raises(ValueError):
        ppca_log_likelihood(_aniso(), 4)


# --------------------------------------------------------------------------- ELBO <= log p
def test_linear_elbo_is_below_the_exact_log_likelihood_point_by_point():
    x = _aniso(400)
    tr = VAETrainer(x, latent_dim=1, decoder="linear", lr=1e-2, seed=0)
    for steps in (0, 30, 300):
        tr.step(steps)
        recon, kl = tr.point_terms(x)
        logp = tr.log_likelihood(x)
        assert np.all(recon - kl <= logp + 1e-9)
        # ... and the model's log-likelihood never beats PPCA's maximum
        assert logp.mean() <= ppca_log_likelihood(x, 1) + 1e-9


def test_mlp_elbo_is_below_log_p_by_quadrature():
    """A 1D latent: log p(x) = log ∫ N(x; f(z), s²I) N(z; 0, 1) dz on a fine grid of z."""
    x, _ = make_dataset("moons", 400, 0.1, 0)
    tr = VAETrainer(x, latent_dim=1, hidden=16, lr=5e-3, seed=0)
    tr.step(300)
    zs = np.linspace(-9, 9, 9001)
    f = tr.decode(zs[:, None])  # (Z, 2)
    s2 = tr.noise_std ** 2
    pts = x[:100]
    d2 = ((pts[:, None, :] - f[None]) ** 2).sum(-1)
    log_terms = -0.5 * d2 / s2 - math.log(2 * math.pi * s2) - 0.5 * zs ** 2 \
        - 0.5 * math.log(2 * math.pi) + math.log(zs[1] - zs[0])
    mx = log_terms.max(1, keepdims=True)
    logp = (mx[:, 0] + np.log(np.exp(log_terms - mx).sum(1)))
    recon, kl = tr.point_terms(pts, samples=512)
    elbo = recon - kl
    assert elbo.mean() < logp.mean()
    # the importance-sampled estimate lies between the two and close to the truth
    iw = tr.log_likelihood(pts, samples=512)
    assert elbo.mean() <= iw.mean() <= logp.mean() + 0.02


def test_elbo_on_gaussian_data_is_below_the_datas_log_density():
    """x ~ N(0, (1 + s²)I) (make_dataset's "gaussian"): held-out points' mean ELBO is below
    their mean log p(x), far beyond the sampling error."""
    from scipy.stats import multivariate_normal

    x, _ = make_dataset("gaussian", 1000, 0.3, 0)
    held, _ = make_dataset("gaussian", 4000, 0.3, 1)
    tr = VAETrainer(x, latent_dim=2, hidden=16, lr=5e-3, seed=0)
    tr.step(300)
    recon, kl = tr.point_terms(held)
    logp = multivariate_normal(np.zeros(2), (1 + 0.3 ** 2) * np.eye(2)).logpdf(held)
    gap = logp - (recon - kl)
    assert gap.mean() > 3 * gap.std() / math.sqrt(len(gap))


# ----------------------------------------------------------------------- linear VAE = PPCA
def test_linear_vae_reaches_ppcas_maximum_likelihood():
    x = _aniso(500)
    tr = VAETrainer(x, latent_dim=1, decoder="linear", lr=5e-2, seed=0)
    tr.batch_size = len(x)
    start = tr.elbo(x)
    ceiling = ppca_log_likelihood(x, 1)
    tr.step(1000)
    for g in tr.optimizer.param_groups:  # a short cool-down: Adam's jitter shrinks
        g["lr"] = 2e-3
    tr.step(300)
    elbo, logp = tr.elbo(x), float(tr.log_likelihood(x).mean())
    assert ceiling - start > 1.0  # it had a long way to go
    assert elbo <= logp + 1e-9 <= ceiling + 1e-6
    assert ceiling - elbo < 0.01


# ------------------------------------------------------------------ reparameterised gradient
def _double(tr: VAETrainer) -> None:
    tr.encoder.double()
    tr.decoder.double()
    with torch.no_grad():
        tr.log_s2.data = tr.log_s2.data.double()


def _params(tr: VAETrainer) -> list[torch.Tensor]:
    return [*tr.encoder.parameters(), *tr.decoder.parameters(), tr.log_s2]


def test_reparameterised_gradient_with_fixed_noise_matches_finite_differences():
    x, _ = make_dataset("moons", 64, 0.1, 0)
    tr = VAETrainer(x, latent_dim=2, hidden=8, seed=0)
    _double(tr)
    xt = tr._std(x)
    eps = torch.randn((3, len(x), 2), generator=torch.Generator().manual_seed(1),
                      dtype=torch.float64)

    def objective() -> torch.Tensor:
        recon, kl = tr.terms_t(xt, eps)
        return (recon - kl).mean()

    params = _params(tr)
    grads = torch.autograd.grad(objective(), params)
    rng = np.random.default_rng(0)
    h = 1e-6
    for p, g in zip(params, grads, strict=True):
        flat = p.data.view(-1)
        for i in rng.choice(flat.numel(), size=min(3, flat.numel()), replace=False):
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + h
                up = float(objective())
                flat[i] = old - h
                down = float(objective())
                flat[i] = old
            assert float(g.view(-1)[i]) == pytest.approx((up - down) / (2 * h), rel=1e-5,
                                                         abs=1e-7)


def test_reparameterised_gradient_is_unbiased_for_the_expected_elbo():
    """Linear model: E_q log p(x|z) is closed form, so the finite difference of the exact
    expected ELBO is the target; the mean of the pathwise gradients over many ε reaches it."""
    x = _aniso(32)
    tr = VAETrainer(x, latent_dim=2, decoder="linear", seed=3)
    _double(tr)
    with torch.no_grad():  # away from the symmetric start, so every gradient is sizeable
        for p in _params(tr):
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(5),
                                     dtype=torch.float64))
    xt = tr._std(x)
    eps = torch.randn((20_000, len(x), 2), generator=torch.Generator().manual_seed(2),
                      dtype=torch.float64)
    recon, kl = tr.terms_t(xt, eps)
    params = _params(tr)
    grads = torch.autograd.grad((recon - kl).mean(), params)

    def exact() -> float:
        r, k = tr._linear_terms(xt)
        return float((r - k).mean())

    h = 1e-6
    for p, g in zip(params, grads, strict=True):
        flat = p.data.view(-1)
        for i in range(min(flat.numel(), 3)):
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + h
                up = exact()
                flat[i] = old - h
                down = exact()
                flat[i] = old
            fd = (up - down) / (2 * h)
            assert float(g.view(-1)[i]) == pytest.approx(fd, rel=0.03, abs=0.01)


# -------------------------------------------------------------------------------- the API
def test_trainer_api_shapes_determinism_and_live_beta():
    x, _ = make_dataset("pinwheel", 500, 0.1, 0)
    a = VAETrainer(x, latent_dim=1, hidden=16, depth=1, seed=4)
    b = VAETrainer(x, latent_dim=1, hidden=16, depth=1, seed=4)
    la, lb = a.step(15), b.step(15)
    np.testing.assert_array_equal(la, lb)
    assert a.step_ == 15 and len(a.history_) == 15
    mu, logvar = a.encode(x[:7])
    assert mu.shape == logvar.shape == (7, 1)
    assert a.decode(np.zeros((4, 1))).shape == (4, 2)
    assert a.sample(9).shape == (9, 2)
    np.testing.assert_array_equal(a.sample(5, seed=1), a.sample(5, seed=1))
    assert a.elbo(x) == a.elbo(x)  # a fixed noise stream: the same value each call
    a.beta = 50.0
    a.step(200)
    assert a.terms(x)["kl"] < 0.1  # a large β pushes q(z|x) onto the prior
    with pytest.raises(ValueError):
        VAETrainer(x, decoder="flow")
    with pytest.raises(ValueError):
        VAETrainer(np.zeros((10, 2)))


def test_noise_std_is_in_the_datas_units():
    x, _ = make_dataset("moons", 300, 0.1, 0)
    tr = VAETrainer(x * 10.0, latent_dim=1, hidden=8)
    tr.set_noise_std(2.5)
    assert tr.noise_std == pytest.approx(2.5)
    big = tr.sample(4000, seed=0) - tr.decode(
        np.random.default_rng(0).standard_normal((4000, 1)))
    assert big.std() == pytest.approx(2.5, rel=0.05)


# ------------------------------------------------------------------------------ image VAE
def test_image_vae_learns_digits_and_its_checkpoint_resumes_exactly(tmp_path):
    from genlab.engine.images.data import digits
    from genlab.engine.images.vae import ImageVAETrainer

    data = digits("train")
    tr = ImageVAETrainer(data, latent_dim=3, width=8, batch_size=64, lr=2e-3, device="cpu")
    x = data.x[:100]
    before = tr.terms(x)["elbo"]
    tr.step(40)
    assert tr.terms(x)["elbo"] > before + 5  # it learns
    mu, logvar = tr.encode(x[:5])
    assert mu.shape == logvar.shape == (5, 3)
    out = tr.decode(np.zeros((2, 3)))
    assert out.shape == (2, 1, 8, 8) and out.min() >= -1 and out.max() <= 1
    assert tr.sample(6, seed=1).shape == (6, 1, 8, 8)
    assert tr.kl_per_dim(x).shape == (3,)
    path = tmp_path / "vae.safetensors"
    tr.save(path)
    again = ImageVAETrainer.load(path, data=data, device="cpu")
    np.testing.assert_array_equal(tr.step(5), again.step(5))
    assert again.step_ == 45 and len(again.history_) == 45
    with pytest.raises(ValueError):
        ImageVAETrainer.load(tmp_path / "nothing.safetensors")


def test_image_vae_sizes():
    from genlab.engine.images.vae import ImageVAE

    for side in (8, 16, 32):
        net = ImageVAE((1, side, side), 4, 8)
        mu, logvar = net.encode(torch.zeros(2, 1, side, side))
        assert mu.shape == (2, 4) and net.logits(mu).shape == (2, 1, side, side)
    with pytest.raises(ValueError):
        ImageVAE((1, 28, 28), 2, 8)
