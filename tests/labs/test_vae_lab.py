"""The VAE lab: the contract checks (before the lab is registered), and each preset showing
what its name says within its training budget."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys

import numpy as np
import pytest

from genlab.engine.datasets import make_dataset
from genlab.labs import vae
from genlab.labs.base import RunContext
from genlab.labs.frame import INK, MUTED, ImageGrid, Points
from genlab.labs.params import param_fields, replace, validate
from genlab.labs.presets import find_preset, presets_for
from genlab.labs.vae.params import BOUND_GROUP, ELBO, KL, LOGP, PPCA, TERMS_GROUP
from genlab.labs.vae.plane import COLLAPSED_KL, IGNORED, beta_at, boundaries, make_trainer
from tests.labs.test_contract import CTX, _check_identity, _check_numpy_only, _combining, _same

LAB = vae.LAB
PRESETS = [p.name for p in presets_for("vae")]


@pytest.fixture(autouse=True)
def fresh_store():
    import torch

    from genlab.engine.training.store import STORE

    torch.set_num_threads(1)  # as the app's worker: two threads thrash on a busy machine
    STORE.clear("vae")
    yield
    STORE.clear("vae")


def _frames(params, n=6, ctx=CTX):
    gen = LAB.run(params, ctx)
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


def _preset(name: str) -> vae.Params:
    return find_preset("vae", name).params(vae.Params)


# ----------------------------------------------------------------------------- the contract
def test_defaults_valid_with_seed_help_and_no_combining_marks():
    params = vae.Params()
    validate(params)
    fields = param_fields(vae.Params)
    assert any(f.name == "seed" for f in fields)
    texts = [LAB.title, LAB.description]
    for f in fields:
        assert f.spec.help, f"{f.name} has no help text"
        texts += [f.spec.help, f.label]
    for p in presets_for("vae"):
        texts += [p.name, p.description]
    assert all(_combining(t) is None for t in texts)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.seed = 3  # type: ignore[misc]


def test_first_frame_is_quick_and_imports_no_torch():
    # scikit-learn (~1 s to import, for the moons) is every 2D lab's cost, not this lab's
    code = ("import sys, time, sklearn.datasets\n"
            "from genlab.labs import vae\n"
            "from genlab.labs.base import RunContext\n"
            "gen = vae.run(vae.Params(), RunContext(device='cpu'))\n"
            "t = time.perf_counter(); f = next(gen); t = time.perf_counter() - t\n"
            "print(t, 'torch' in sys.modules, len(f.panels))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert float(out[0]) < 1.5 and out[1] == "False" and out[2] == "4"


def test_frames_numpy_only_and_deterministic():
    a, b = _frames(vae.Params()), _frames(vae.Params())
    for f in a:
        _check_numpy_only(f)
        _check_identity(f, LAB)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))


def test_series_are_named_once_and_told_apart():
    from genlab.ui.theme import DARK, LIGHT, lab_distance

    names = [s.name for s in LAB.series]
    assert len(names) == len(set(names))
    for theme in (LIGHT, DARK):
        for i, a in enumerate(LAB.series):
            for b in LAB.series[i + 1:]:
                if a.dashed != b.dashed or a.marker != b.marker and a.colour == b.colour:
                    continue
                if {a.colour, b.colour} <= {INK, MUTED} and a.colour != b.colour:
                    continue
                assert lab_distance(theme.colour_of(a.colour), theme.colour_of(b.colour)) >= 40


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_runs_six_frames(name):
    params = _preset(name)
    validate(params)
    frames = _frames(params, ctx=dataclasses.replace(CTX, device="cpu"))
    assert len(frames) == 6
    for f in frames:
        _check_numpy_only(f)
        _check_identity(f, LAB)


def test_metrics_against_the_training_step_and_the_elbo_terms_add_up():
    frames = _frames(vae.Params(), n=8)
    f = frames[-1]
    assert f.xlabel == "training step" and f.x == frames[-2].x + 1  # one step per frame
    m = f.metrics
    elbo, recon, kl = m[f"{BOUND_GROUP}/{ELBO}"], m[f"{TERMS_GROUP}/reconstruction"], \
        m[f"{TERMS_GROUP}/{KL}"]
    assert elbo == pytest.approx(recon - kl)
    assert elbo <= m[f"{BOUND_GROUP}/{LOGP}"] + 1e-6
    assert frames[1].hold > 0 and frames[1].pace > frames[-1].pace >= 1.0  # slow start


def test_live_beta_reaches_the_trainer():
    gen = LAB.run(vae.Params(), CTX)
    try:
        for _ in range(3):
            next(gen)
        f = gen.send(replace(vae.Params(), beta=3.0))
        f = next(gen)
        assert "β = 3" in f.title
    finally:
        gen.close()


def test_drawn_data_without_points_says_so():
    f = _frames(replace(vae.Params(), dataset="drawn"), ctx=RunContext())[0]
    assert "No drawn points" in f.caption


# ------------------------------------------------------------------ presets: their stories
def _train(p: vae.Params, x: np.ndarray, steps: int | None = None):
    """Train as the lab does (β from the preset's schedule), without drawing frames."""
    tr = make_trainer(p, x)
    done, end = 0, p.steps if steps is None else steps
    stops = sorted(set(int(b) for b in boundaries(p)) | {end}) if p.schedule == "sweep" \
        else [end]
    points = []
    for stop in stops:
        while done < stop:
            tr.beta = beta_at(p, done)
            k = min(50, stop - done)
            tr.step(k)
            done += k
        if p.schedule == "sweep":
            te = tr.terms(x[:500])
            points.append((beta_at(p, done - 1), te["kl"], -te["reconstruction"]))
    return tr, points


def test_the_default_curve_threads_through_both_moons():
    p = _preset(PRESETS[0])
    assert p.latent_dim == 1 and p.dataset == "moons"
    x, moon = make_dataset(p.dataset, p.n_points, p.noise, p.seed)
    tr, _ = _train(p, x, steps=1250)  # of the preset's 4000
    curve = tr.decode(np.linspace(-3, 3, 601)[:, None])
    dist = np.sqrt(((x[:, None] - curve[None]) ** 2).sum(-1)).min(1)
    for k in (0, 1):  # most of each moon lies within 0.3 of the curve f(z)
        assert np.mean(dist[moon == k] < 0.3) > 0.9
    assert tr.z_share() > 0.8


def test_rate_distortion_sweep_traces_the_trade_off():
    p = _preset("rate–distortion: a β sweep")
    x, _ = make_dataset(p.dataset, p.n_points, p.noise, p.seed)
    _, pts = _train(p, x)
    betas, rates, dists = (np.array(v) for v in zip(*pts, strict=True))
    assert len(pts) == 9 and np.all(np.diff(betas) > 0)
    assert np.all(np.diff(rates) < 0.05)  # the rate falls as β grows ...
    coding = rates > 0.05
    assert np.all(np.diff(dists[coding]) > -0.05)  # ... and the distortion rises
    assert rates[0] > 3.0 and rates[-1] < 0.05  # from a real code to none


def test_large_beta_collapses_the_posterior():
    p = _preset("posterior collapse at large β")
    assert p.beta >= 4
    x, _ = make_dataset(p.dataset, p.n_points, p.noise, p.seed)
    tr, _ = _train(p, x, steps=600)  # of the preset's 2000
    assert tr.terms(x[:500])["kl"] < COLLAPSED_KL  # q(z|x) = p(z) for every x
    assert tr.z_share() < IGNORED  # and the decoder ignores z:
    sheet = tr.decode(np.random.default_rng(0).uniform(-2, 2, (500, 2)))
    assert np.ptp(sheet, axis=0).max() < 0.1 * np.ptp(x, axis=0).max()  # f(z) ~ one point
    # β is the cause: the same model at β = 1 keeps a code
    kept, _ = _train(replace(p, beta=1.0), x, steps=600)
    assert kept.terms(x[:500])["kl"] > 1.0 and kept.z_share() > 0.5


def test_a_decoder_strong_enough_without_z_collapses_and_a_weak_start_does_not():
    p = _preset("posterior collapse: a decoder strong enough without z")
    assert p.beta == 1.0 and p.s_start >= 1.0
    x, _ = make_dataset(p.dataset, p.n_points, p.noise, p.seed)
    strong, _ = _train(p, x, steps=800)
    assert strong.terms(x[:500])["kl"] < 0.05 and strong.z_share() < 0.05
    weak, _ = _train(replace(p, s_start=0.3), x, steps=800)
    assert weak.terms(x[:500])["kl"] > 1.0 and weak.z_share() > 0.5


def test_linear_preset_reaches_ppcas_maximum():
    p = _preset("linear VAE = probabilistic PCA")
    assert p.decoder == "linear"
    *_, last = LAB.run(p, RunContext(device="cpu"))
    m = last.metrics
    ceiling = m[f"{BOUND_GROUP}/{PPCA}"]
    assert m[f"{BOUND_GROUP}/{ELBO}"] <= m[f"{BOUND_GROUP}/{LOGP}"] + 1e-9 <= ceiling + 1e-6
    assert ceiling - m[f"{BOUND_GROUP}/{ELBO}"] < 0.01


def test_digits_latent_map_clusters_by_class():
    from sklearn.neighbors import KNeighborsClassifier

    from genlab.engine.images.data import digits
    from genlab.engine.images.vae import ImageVAETrainer

    p = _preset("images: a 2D latent map of the digits")
    train, held = digits("train"), digits("test")
    tr = ImageVAETrainer(train, latent_dim=p.image_latent, width=p.width, beta=p.beta,
                         lr=p.lr, batch_size=p.batch_size, seed=p.seed, device="cpu")
    tr.step(300)  # of the preset's 2000
    knn = KNeighborsClassifier(5).fit(tr.encode(train.x)[0], train.y)
    assert knn.score(tr.encode(held.x)[0], held.y) > 0.5  # chance: 0.1


def test_digits_frames_show_the_map_and_the_decoded_grid():
    p = replace(_preset("images: a 2D latent map of the digits"), steps_per_frame=2)
    frames = _frames(p, n=3, ctx=RunContext(device="cpu"))
    recon, samples, latent_map, grid = frames[-1].panels
    assert recon.layers["images"].images.shape == (32, 8, 8)
    assert isinstance(latent_map.layers["codes"], Points)
    assert latent_map.layers["codes"].labels is not None  # coloured by class
    assert latent_map.layers["classes"].texts == tuple(str(i) for i in range(10))
    assert isinstance(grid.layers["images"], ImageGrid)
    assert grid.layers["images"].images.shape == (100, 8, 8)


def test_sprite_traversals_follow_the_factors():
    from genlab.engine.images.data import sprites
    from genlab.engine.images.vae import ImageVAETrainer
    from genlab.labs.vae.images import _match, _View

    p = _preset("images: sprites at β = 4, latent traversals")
    assert p.beta > 1 and p.image_latent > 2
    tr = ImageVAETrainer(sprites("train"), latent_dim=p.image_latent, width=p.width,
                         beta=p.beta, lr=p.lr, batch_size=p.batch_size, seed=p.seed,
                         device="cpu")
    tr.step(250)  # of the preset's 3000
    v = _View(sprites("test"), "sprites", p.image_latent, p.seed)
    kl = tr.kl_per_dim(v.x)
    matched = _match(tr.encode(v.x)[0], v.factors)
    used = [matched[j] for j in range(len(kl)) if kl[j] > 0.05]
    assert any(name.endswith("position") and score > 0.8 for name, score in used)
    assert min(kl) < 0.05  # β > 1 switches coordinates off
