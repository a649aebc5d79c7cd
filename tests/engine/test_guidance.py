"""Guidance: exact guided scores of class mixtures and the conditional denoiser's CFG."""

from __future__ import annotations

import numpy as np
import pytest

from genlab.engine import diffusion as D
from genlab.engine.datasets import make_dataset
from genlab.engine.guidance import (
    ClassMixtures,
    class_mixtures,
    gallery_class_mixtures,
    guided,
)
from genlab.engine.mixtures import Mixture, gallery_mixture

SCHED = D.VPSchedule("linear")


def _two_class() -> ClassMixtures:
    a = Mixture([0.4, 0.6], [[-2.0, 0.5], [-1.0, -1.0]],
                [[[0.3, 0.1], [0.1, 0.2]], 0.25 * np.eye(2)])
    b = Mixture([1.0], [[2.0, 0.5]], [[[0.5, -0.2], [-0.2, 0.4]]])
    return ClassMixtures((a, b), [0.3, 0.7])


def test_guided_is_affine_in_w():
    u, c = np.array([[1.0, 2.0]]), np.array([[3.0, -1.0]])
    np.testing.assert_array_equal(guided(u, c, 0.0), u)
    np.testing.assert_array_equal(guided(u, c, 1.0), c)
    np.testing.assert_allclose(guided(u, c, 3.0), u + 3 * (c - u))


def test_exact_w0_is_unconditional_w1_conditional_and_pooled_mixture():
    cm = _two_class()
    x = np.random.default_rng(0).normal(size=(40, 2)) * 2
    for t in (0.05, 0.4):
        for y in (0, 1):
            np.testing.assert_allclose(cm.guided_score(x, t, y, 0.0, SCHED),
                                       cm.uncond_score(x, t, SCHED), atol=1e-12)
            np.testing.assert_allclose(cm.guided_score(x, t, y, 1.0, SCHED),
                                       cm.score(x, t, y, SCHED), atol=1e-12)
        pooled = cm.unconditional()
        np.testing.assert_allclose(pooled.weights, [0.12, 0.18, 0.7])
        np.testing.assert_allclose(cm.uncond_score(x, t, SCHED),
                                   D.gmm_score(x, t, *pooled.as_tuple(), SCHED))
        # p_t(x) = Σ_y π_y p_t(x|y)
        mix = np.log(0.3 * np.exp(cm.log_density(x, t, 0, SCHED))
                     + 0.7 * np.exp(cm.log_density(x, t, 1, SCHED)))
        np.testing.assert_allclose(cm.uncond_log_density(x, t, SCHED), mix, atol=1e-10)


def test_guided_score_is_the_gradient_of_log_p_plus_w_log_classifier():
    """Classifier-guidance identity, by central differences of the closed-form log
    densities: ∇[log p_t(x) + w log p_t(y|x)] equals the CFG combination."""
    cm = _two_class()
    x = np.random.default_rng(1).normal(size=(25, 2)) * 1.5
    h = 1e-5
    for t, y, w in ((0.1, 0, 3.0), (0.5, 1, 7.5), (0.3, 0, 0.4)):
        def f(z, y=y, t=t, w=w):
            return (cm.uncond_log_density(z, t, SCHED)
                    + w * cm.classifier_log_prob(z, t, y, SCHED))
        grad = np.column_stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(2)])
        np.testing.assert_allclose(cm.guided_score(x, t, y, w, SCHED), grad, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(cm.guided_log_density(x, t, y, w, SCHED), f(x))


def test_classifier_rows_are_probabilities_and_follow_bayes():
    cm = _two_class()
    x = np.random.default_rng(2).normal(size=(30, 2))
    lp = cm.classifier_log_probs(x, 0.2, SCHED)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0)
    want = np.log(0.7) + cm.log_density(x, 0.2, 1, SCHED) - cm.uncond_log_density(x, 0.2,
                                                                                   SCHED)
    np.testing.assert_allclose(cm.classifier_log_prob(x, 0.2, 1, SCHED), want, atol=1e-10)
    with pytest.raises(ValueError, match="class"):
        cm.score(x, 0.2, 2, SCHED)


def test_class_covariance_matches_samples_and_sample_shapes():
    cm = _two_class()
    x, y = cm.sample(40000, seed=3)
    assert abs((y == 1).mean() - 0.7) < 0.01
    for c in (0, 1):
        np.testing.assert_allclose(np.cov(x[y == c].T), cm.class_covariance(c), atol=0.03)


def test_8gaussians_classes_are_the_gallery_components_in_the_datasets_order():
    cm = gallery_class_mixtures("8gaussians", 0.1)
    mix = gallery_mixture("8gaussians", 0.1)
    assert cm.n_classes == 8
    np.testing.assert_allclose(cm.unconditional().means, mix.means)
    x, labels = make_dataset("8gaussians", 4000, 0.1, seed=0)
    # every gallery point's label is the class that explains it best
    best = np.argmax(cm.classifier_log_probs(x, 1e-3, SCHED), axis=1)
    assert (best == labels).mean() > 0.999
    with pytest.raises(ValueError):
        gallery_class_mixtures("moons")


def test_class_mixtures_fit_each_class_and_keep_the_label_values():
    x, labels = make_dataset("moons", 1000, 0.1, seed=0)
    labels = np.where(labels == 1, 5, 2)  # paint colours need not be 0..C-1
    cm, values = class_mixtures(x, labels, 4, seed=0)
    np.testing.assert_array_equal(values, [2, 5])
    assert cm.n_classes == 2 and all(m.n_components == 4 for m in cm.mixtures)
    best = np.argmax(cm.classifier_log_probs(x, 1e-3, SCHED), axis=1)
    assert (values[best] == labels).mean() > 0.97


# --------------------------------------------------------------------------- learned (torch)


def _blobs(n=3000):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0]])
    return centres[y] + 0.4 * rng.standard_normal((n, 2)), y


@pytest.fixture(scope="module")
def trained():
    pytest.importorskip("torch")
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer

    x, y = _blobs()
    model = Denoiser(hidden=64, depth=2, seed=0, n_classes=2)
    tr = DenoiserTrainer(model, x, SCHED, lr=4e-3, batch_size=256, seed=0, labels=y,
                         p_uncond=0.2)
    tr.step(600)
    return tr


def test_learned_guided_eps_w0_is_null_and_w1_is_conditional(trained):
    x = np.random.default_rng(4).normal(size=(50, 2))
    for t in (0.1, 0.6):
        np.testing.assert_allclose(trained.guided_eps(x, t, 1, 0.0), trained.eps(x, t),
                                   atol=1e-6)
        np.testing.assert_allclose(trained.guided_eps(x, t, 1, 1.0), trained.eps(x, t, 1),
                                   atol=1e-6)
        np.testing.assert_allclose(trained.guided_score(x, t, 0, 2.5),
                                   guided(trained.score(x, t), trained.score(x, t, 0), 2.5),
                                   rtol=1e-5, atol=1e-5)
        # per-point labels, and the explicit null label, work like an int / None
        ys = np.array([0, 1] * 25)
        np.testing.assert_allclose(trained.eps(x, t, ys)[1::2], trained.eps(x, t, 1)[1::2],
                                   atol=1e-6)
        np.testing.assert_allclose(trained.eps(x, t, trained.null_label), trained.eps(x, t),
                                   atol=1e-6)


def test_conditional_samples_land_in_their_blob_and_guidance_sharpens(trained):
    z = np.random.default_rng(5).standard_normal((400, 2))

    def sample(y, w):
        return D.ddim_sample(lambda x, t: trained.guided_score(x, t, y, w), z, SCHED, 40)[-1]

    for y, side in ((0, -1), (1, 1)):
        s1 = sample(y, 1.0)
        assert (np.sign(s1[:, 0]) == side).mean() > 0.9
    s0, s5 = sample(0, 0.0), sample(0, 5.0)
    # w = 0 covers both blobs; w = 5 is purer and less spread
    assert 0.25 < (s0[:, 0] < 0).mean() < 0.75
    assert (s5[:, 0] < 0).mean() > (sample(0, 1.0)[:, 0] < 0).mean() - 1e-9
    assert (s5[:, 0] < 0).mean() > 0.97
    assert s5.std(axis=0).sum() < 0.5 * s0.std(axis=0).sum()


def test_label_dropout_rate_and_p_uncond_one_trains_only_the_null_label():
    pytest.importorskip("torch")
    import torch

    from genlab.engine.denoiser import Denoiser, DenoiserTrainer

    x, y = _blobs(500)
    model = Denoiser(hidden=16, depth=1, seed=0, n_classes=2)
    tr = DenoiserTrainer(model, x, SCHED, seed=1, labels=y, p_uncond=0.3)
    _, _, _, lab = tr._batch(20000, torch.Generator().manual_seed(0))
    assert abs(float((lab == 2).float().mean()) - 0.3) < 0.015
    tr.p_uncond = 1.0
    before = {k: v.clone() for k, v in model.label_embedding.state_dict().items()}
    tr.step(5)
    after = model.label_embedding.weight.detach()
    # only the null label's embedding row got gradients
    np.testing.assert_array_equal(after[:2].numpy(), before["weight"][:2].numpy())
    assert not np.allclose(after[2].numpy(), before["weight"][2].numpy())
    with pytest.raises(ValueError):
        tr.p_uncond = 1.5


def test_conditional_denoiser_checks_its_labels():
    pytest.importorskip("torch")
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer

    x, y = _blobs(100)
    with pytest.raises(ValueError, match="conditional"):
        DenoiserTrainer(Denoiser(16, 1), x, SCHED, labels=y)
    with pytest.raises(ValueError, match="labels"):
        DenoiserTrainer(Denoiser(16, 1, n_classes=2), x, SCHED, labels=y + 1)
    tr = DenoiserTrainer(Denoiser(16, 1), x, SCHED)
    with pytest.raises(ValueError, match="unconditional"):
        tr.eps(x, 0.5, 0)
    assert Denoiser(16, 1, n_classes=3).null_label == 3
