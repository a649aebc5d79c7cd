"""The classifier metric: Fréchet distance, the digits classifier, its disk cache, quality()."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.ndimage import uniform_filter

from genlab.engine.images import data as imdata
from genlab.engine.images import quality as q


@pytest.fixture(scope="module")
def digits_clf(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    train = imdata.digits("train")
    clf = q.classifier_for("digits", train, cache_dir=cache)
    return clf, cache, train, imdata.digits("test")


def _exact(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> np.ndarray:
    """n points whose sample mean and (n − 1) covariance are exactly ``mean``, ``cov``."""
    z = np.random.default_rng(seed).standard_normal((n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))).T
    return z @ np.linalg.cholesky(cov).T + mean


def _closed_form(m1, s1, m2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2).real  # the usual FID formula, fine when well posed
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_of_a_set_with_itself_is_zero():
    f = np.random.default_rng(0).standard_normal((300, 16))
    assert q.frechet_distance(f, f) == pytest.approx(0.0, abs=1e-8)
    few = f[:10]  # fewer samples than features: a singular covariance, still real and ~0
    assert q.frechet_distance(few, few) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    s1, s2 = a @ a.T + 0.5 * np.eye(4), b @ b.T + 0.1 * np.eye(4)  # not commuting
    m1, m2 = rng.standard_normal(4), rng.standard_normal(4)
    f1, f2 = _exact(500, m1, s1, 2), _exact(700, m2, s2, 3)
    expect = _closed_form(m1, s1, m2, s2)
    assert q.frechet_distance(f1, f2) == pytest.approx(expect, rel=1e-9)
    assert q.frechet_distance(f2, f1) == pytest.approx(expect, rel=1e-9)
    # 1-D: (μ1 − μ2)² + (σ1 − σ2)²
    g1, g2 = _exact(50, np.array([1.0]), np.array([[4.0]]), 4), _exact(60, np.zeros(1),
                                                                        np.ones((1, 1)), 5)
    assert q.frechet_distance(g1, g2) == pytest.approx(1.0 + 1.0, rel=1e-9)
    with pytest.raises(ValueError):
        q.frechet_distance(f1, f2[:, :3])
    with pytest.raises(ValueError):
        q.frechet_distance(f1[:1], f2)


def test_digits_classifier_is_accurate_on_held_out_digits(digits_clf):
    clf, _, _, test = digits_clf
    assert not clf.from_cache_ and clf.train_seconds_ > 0
    assert np.mean(clf.predict(test.x) == test.y) >= 0.95
    f = clf.features(test.x[:7])
    assert f.shape == (7, q.FEATURES) and f.dtype == np.float32
    with pytest.raises(ValueError, match="images must be"):
        clf.features(np.zeros((2, 1, 9, 9), np.float32))


def test_classifier_training_is_deterministic(digits_clf):
    _, _, train, test = digits_clf
    net = q.train_classifier(train)
    np.testing.assert_allclose(net(torch.from_numpy(test.x[:20]))[0].detach().numpy(),
                               digits_clf[0].features(test.x[:20]), atol=1e-5)


def test_the_cache_is_reused(digits_clf, monkeypatch):
    clf, cache, train, test = digits_clf
    again = q.classifier_for("digits", train, cache_dir=cache)
    assert again.from_cache_
    np.testing.assert_array_equal(again.features(test.x), clf.features(test.x))
    meta = json.loads(next((cache / "classifiers").glob("*.json")).read_text())
    assert meta["name"] == "digits" and meta["shape"] == [1, 8, 8]
    assert meta["data_hash"] == q.fingerprint(train)
    # $GENLAB_CACHE is where it looks when no folder is given
    env = cache.parent / "env-cache"
    shutil.copytree(cache, env)
    monkeypatch.setenv("GENLAB_CACHE", str(env))
    assert q.cache_root() == env
    assert q.classifier_for("digits", train).from_cache_


@pytest.fixture()
def tiny(monkeypatch):
    """A 300-image labelled set trained in a few tens of steps."""
    monkeypatch.setattr(q, "TRAIN_STEPS", 20)
    monkeypatch.setattr(q, "EPOCHS", 1)
    d = imdata.digits("train")
    return imdata.ImageData("tiny", d.x[:300].copy(), d.y[:300].copy(), 10, d.class_names)


@pytest.mark.parametrize("damage", ["weights", "json", "flip"])
def test_a_corrupt_cache_entry_is_retrained(tmp_path, tiny, damage):
    first = q.classifier_for("tiny", tiny, cache_dir=tmp_path)
    assert not first.from_cache_
    weights, meta = q._paths(tmp_path, "tiny")
    if damage == "weights":
        weights.write_bytes(b"garbage")
    elif damage == "json":
        meta.write_text("{not json")
    else:  # a flipped byte in the tensors: safetensors loads it, the digest does not match
        raw = bytearray(weights.read_bytes())
        raw[-5] ^= 0xFF
        weights.write_bytes(bytes(raw))
    second = q.classifier_for("tiny", tiny, cache_dir=tmp_path)
    assert not second.from_cache_
    np.testing.assert_allclose(second.features(tiny.x[:5]), first.features(tiny.x[:5]),
                               atol=1e-5)
    assert q.classifier_for("tiny", tiny, cache_dir=tmp_path).from_cache_  # mended


def test_changed_training_images_are_retrained(tmp_path, tiny):
    q.classifier_for("tiny", tiny, cache_dir=tmp_path)
    x = tiny.x.copy()
    x[0] = -x[0]
    changed = imdata.ImageData("tiny", x, tiny.y, 10, tiny.class_names)
    assert not q.classifier_for("tiny", changed, cache_dir=tmp_path).from_cache_


def test_lazily_drawn_sets_train_through_get(tmp_path, monkeypatch, tiny):
    monkeypatch.setattr(q, "MAX_TRAIN", 128)
    sprites = imdata.sprites("train", size=16)
    clf = q.classifier_for(sprites.name, sprites, cache_dir=tmp_path)
    assert clf.n_classes == 3 and clf.predict(sprites.get(np.arange(4))[0]).shape == (4,)
    assert q.classifier_for(sprites.name, sprites, cache_dir=tmp_path).from_cache_


def test_unlabelled_sets_have_no_classifier(tmp_path):
    d = imdata.ImageData("u", np.zeros((4, 1, 8, 8), np.float32), np.zeros(4, np.int64), 0, ())
    with pytest.raises(ValueError, match="0 classes"):
        q.classifier_for("u", d, cache_dir=tmp_path)


def test_fd_grows_as_images_are_blurred_or_noised(digits_clf):
    clf, _, train, test = digits_clf
    ref = clf.features(test.x)
    real = clf.features(train.x[:300])
    rng = np.random.default_rng(0)

    def fd(x: np.ndarray) -> float:
        return q.frechet_distance(clf.features(np.clip(x, -1, 1).astype(np.float32)), ref)

    x = train.x[:300]
    blurred = [fd(uniform_filter(x, size=(1, 1, k, k), mode="nearest")) for k in (2, 3, 5)]
    noisy = [fd(x + s * rng.standard_normal(x.shape)) for s in (0.2, 0.5, 1.0)]
    base = q.frechet_distance(real, ref)
    assert base < blurred[0] < blurred[1] < blurred[2]
    assert base < noisy[0] < noisy[1] < noisy[2]


def test_quality_floor_is_small_against_noise(digits_clf):
    clf, _, train, test = digits_clf
    labels = np.arange(200) % 10
    noise = np.random.default_rng(0).uniform(-1, 1, (200, 1, 8, 8)).astype(np.float32)
    r = q.quality(noise, labels, clf, test, train)
    assert r["n"] == 200 and r["n_ref"] == len(test)
    assert r["fd"] > 20 * r["floor"] > 0
    assert r["held_accuracy"] >= 0.95 and r["accuracy"] < 0.5
    pick = np.random.default_rng(5).choice(len(train), 200, replace=False)
    real, real_y = train.get(pick)  # real images score near the floor
    r2 = q.quality(real, real_y, clf, test, train)
    assert r2["floor"] == r["floor"]  # the same fixed subsets
    assert r2["fd"] < 2 * r2["floor"] and r2["accuracy"] >= 0.95
    assert q.quality(real, None, clf, test, train)["accuracy"] is None
    with pytest.raises(ValueError, match="samples must be"):
        q.quality(real[:1], None, clf, test, train)
