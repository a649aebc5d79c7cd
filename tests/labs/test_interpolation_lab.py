"""The interpolation lab: its contract (run directly, before it is registered), the paths and
their numbers against closed forms, every preset's claim, and the decoded paths: the
endpoints of every row are the model's samples from those latents."""

from __future__ import annotations

import dataclasses
import itertools
import math
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import stats

from genlab.engine import latent as L
from genlab.labs import interpolation as lab
from genlab.labs.base import RunContext
from genlab.labs.frame import ImageGrid
from genlab.labs.interpolation import model as M
from genlab.labs.interpolation import panels as V
from genlab.labs.interpolation import settings as S
from genlab.labs.params import validate
from genlab.labs.presets import presets_for
from tests.labs.test_contract import _check_identity, _check_numpy_only, _same

CTX = RunContext(device="cpu")
SMALL = dict(decoder="diffusion", width=16, train_steps=100, steps_per_frame=50,
             sample_steps=8, columns=5)


def _frames(p, n=6, ctx=CTX):
    gen = lab.run(p, ctx)
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


def _preset(name_start: str) -> lab.Params:
    return next(p for p in presets_for("interpolation") if p.name.startswith(name_start)
                ).params(lab.Params)


# ------------------------------------------------------------------------------ contract

def test_defaults_valid_first_frame_fast_and_no_torch_in_the_opening():
    validate(lab.Params())
    t0 = time.perf_counter()
    next(lab.run(lab.Params(), CTX))
    assert time.perf_counter() - t0 < 1.5
    code = ("import itertools, sys; from genlab.labs import interpolation as I; "
            "from genlab.labs.base import RunContext; "
            "list(itertools.islice(I.run(I.Params(), RunContext()), 6)); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_numpy_only_and_same_seed_same_frames():
    a, b = _frames(lab.Params()), _frames(lab.Params())
    for f in a:
        _check_numpy_only(f)
        _check_identity(f, lab.LAB)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    assert not _same(a[0], _frames(dataclasses.replace(lab.Params(), seed=1), 1)[0])


@pytest.mark.parametrize("preset", [p.name for p in presets_for("interpolation")])
def test_every_preset_runs_six_frames(preset):
    p = _preset(preset)
    validate(p)
    for f in _frames(p):
        _check_numpy_only(f)
        _check_identity(f, lab.LAB)


def test_series_named_once_and_told_apart():
    from genlab.ui.theme import DARK, LIGHT, lab_distance

    assert len({s.name for s in lab.SERIES}) == len(lab.SERIES)
    for theme in (LIGHT, DARK):
        for i, a in enumerate(lab.SERIES):
            for b in lab.SERIES[i + 1:]:
                if a.dashed == b.dashed:
                    assert lab_distance(theme.colour_of(a.colour),
                                        theme.colour_of(b.colour)) >= 40


# ------------------------------------------------------------ paths and closed forms

def test_every_path_joins_the_two_latents():
    prior = S.Prior.of(50, 0.5, 2.0)
    X = prior.draw(2, 0, 11)
    for name, path in S.paths(X[0], X[1], np.array([0.0, 1.0]), prior.mean).items():
        np.testing.assert_allclose(path, X, atol=1e-12, err_msg=name)


def test_prior_draws_have_the_stated_mean_and_spread():
    prior = S.Prior.of(20, 1.5, 3.0)
    z = prior.draw(20_000, 0, 1)
    assert np.allclose(z.mean(0), 1.5, atol=4 * np.sqrt(prior.var / 20_000))
    assert np.allclose(z.var(0) / prior.var, 1.0, atol=0.06)
    assert prior.var.min() == pytest.approx(1 / 9) and prior.var.max() == pytest.approx(9)


def test_midpoint_norms_against_their_closed_forms():
    """Over many pairs in d = 784: lerp's midpoint ≈ √(d/2), the slide's ≈ √(2d), combine's
    follows χ_d exactly (it is a draw of the prior), slerp's stays at the endpoints' norm."""
    d, n = 784, 300
    prior = S.Prior.of(d)
    got = {k: [] for k in S.PATHS}
    for seed in range(n):
        X = prior.draw(2, seed, 11)
        for k, v in S.paths(X[0], X[1], np.array([0.5]), prior.mean).items():
            got[k].append(np.linalg.norm(v[0]))
    g = {k: np.array(v) for k, v in got.items()}
    assert g[S.LERP].mean() == pytest.approx(math.sqrt(d / 2), rel=0.01)
    assert g[S.SLIDE].mean() == pytest.approx(math.sqrt(2 * d), rel=0.01)
    assert stats.kstest(g[S.COMBINE], stats.chi(d).cdf).pvalue > 1e-3
    assert g[S.SLERP].mean() == pytest.approx(L.chi_mean(d), abs=4 * L.chi_std(d))


def test_presets_say_what_the_latents_do():
    # d = 3072: lerp's midpoint tens of sds inside, MORE probable than x₀; slerp, combine on it
    st = lab._State(_preset("d = 3072"), S.Prior.of(3072))
    sd, mean = L.chi_std(3072), L.chi_mean(3072)
    assert st.mid["inside sds"] > 20
    assert mean - st.mid[S.LERP] > 15 * sd
    assert abs(st.mid[S.SLERP] - mean) < 4 * sd and abs(st.mid[S.COMBINE] - mean) < 4 * sd
    mid = st.curves[S.LERP][50]
    assert st.prior.logpdf(mid) > st.prior.logpdf(st.X[0]) + 500
    # d = 2: √(d/2) = 1 is a typical radius
    assert 0.1 < L.chi_cdf(1.0, 2) < 0.9
    # μ ≠ 0: slerp about the origin leaves the annulus, combine does not
    p = _preset("μ ≠ 0")
    st = lab._State(p, S.Prior.of(p.d, p.mean, p.spread))
    sd, mean = L.chi_std(p.d), L.chi_mean(p.d)
    assert mean - st.mid[S.SLERP] > 5 * sd and abs(st.mid[S.COMBINE] - mean) < 4 * sd
    # the plain linear grid spans √(3d/8) .. √(3d)
    b = (S.grid_weights() ** 2).sum(1)
    assert b.min() == pytest.approx(3 / 8) and b.max() == pytest.approx(3.0)


def test_opening_captions_quote_the_computed_numbers():
    frames = list(itertools.islice(lab.run(lab.Params(decoder="none", d=784), CTX), 30))
    st = lab._State(lab.Params(decoder="none", d=784), S.Prior.of(784))
    mid = next(f for f in frames if "Lerp's midpoint falls" in f.caption)
    assert f"falls to {st.mid[S.LERP]:.2f} ≈ √(d/2) = 19.80" in mid.caption
    derive = frames[len(S.SWEEP)]
    assert derive.caption.startswith("Why √β") and f"{st.mid[S.SLIDE]:.2f}" in derive.caption
    assert derive.hold >= 4.0 and frames[0].hold >= 1.5 and mid.hold >= 1.5
    seconds = sum(f.pace / lab.LAB.fps + f.hold for f in frames)
    assert 8.0 <= seconds <= 20.0
    assert frames[-1].values[f"{lab.MID_NORM}/{S.SLIDE}"] == pytest.approx(
        st.mid[S.SLIDE] / 28.0)
    assert frames[-1].values[f"{lab.CENTROID}/{S.LERP}"] == pytest.approx(
        st.mid["centroid plain"] / 28.0)


def test_live_t_after_the_end_moves_the_marker():
    p = lab.Params(decoder="none", d=64)
    gen = lab.run(p, CTX)
    last = list(itertools.islice(gen, len(S.SWEEP) + 2))[-1]
    moved = gen.send(dataclasses.replace(p, t=0.2))
    assert "At t = 0.50" in last.caption and "At t = 0.20" in moved.caption
    marker = moved.panels[1].layers[S.LERP + " at t"].xy
    assert marker[0, 0] == pytest.approx(0.2)
    with pytest.raises(StopIteration):
        next(gen)


def test_grid_weights_corners_are_the_three_latents():
    w = S.grid_weights()
    np.testing.assert_allclose(w.sum(1), 1.0)
    g = S.GRID
    np.testing.assert_allclose(w[[0, g - 1, g * (g - 1)]], np.eye(3))


def test_digits_shape_is_the_data_sets():
    from genlab.engine.images.data import open_image_data

    assert tuple(open_image_data("digits").shape) == lab.DIGITS_SHAPE


# ------------------------------------------------------------------------- decoded paths

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small digits model trained by the lab, its frames and its store entry."""
    import torch

    from genlab.engine.training.store import STORE

    torch.set_num_threads(1)  # as the app's worker does: two threads fight on 2 busy cores
    STORE.clear("images")
    p = lab.Params(**SMALL)
    frames = list(lab.run(p, CTX))
    key = M.store_key(p, "cpu")
    run = STORE.get(key)
    path = tmp_path_factory.mktemp("ckpt") / "digits.safetensors"
    run.trainer.save(path)
    yield p, frames, run, path
    STORE.clear("images")


def test_decoded_endpoints_are_the_models_samples_from_those_latents(trained):
    p, frames, run, _ = trained
    last = frames[-1]
    assert "Trained: 100" in last.caption and last.x == 100
    st = lab._State(p, S.Prior.of(64))
    tr = run.trainer
    ends = tr.sample(2, noise=st.X[:2].reshape(2, 1, 8, 8).astype(np.float32),
                     steps=p.sample_steps, sampler="ddim")
    rows = last.panels[0].layers["images"]
    assert isinstance(rows, ImageGrid) and rows.images.shape == (4 * p.columns, 8, 8)
    tiles = rows.images.reshape(4, p.columns, 8, 8)
    want = (ends[:, 0] + 1) / 2
    for r in range(4):
        np.testing.assert_allclose(tiles[r, 0], want[0], atol=1e-5)
        np.testing.assert_allclose(tiles[r, -1], want[1], atol=1e-5)
    x2 = tr.sample(1, noise=st.X[2].reshape(1, 1, 8, 8).astype(np.float32),
                   steps=p.sample_steps, sampler="ddim")
    grid = last.panels[1].layers["images"].images
    np.testing.assert_allclose(grid[S.GRID * (S.GRID - 1)], (x2[0, 0] + 1) / 2, atol=1e-5)


def test_training_frames_show_the_loss_and_contrasts_are_measured(trained):
    p, frames, run, _ = trained
    training = [f for f in frames if "training loss" in f.metrics]
    assert training and all(f.xlabel == "training step" for f in training)
    last = frames[-1]
    # the bars: mean pixel sd of the decoded midpoints of the run's CONTRAST_PAIRS pairs
    st = lab._State(p, S.Prior.of(64))
    a, b = st.pairs
    assert len(a) == S.CONTRAST_PAIRS
    got = {}
    for name in S.PATHS:
        z = np.stack([S.paths(x0, x1, np.array([0.5]), st.prior.mean)[name][0]
                      for x0, x1 in zip(a, b, strict=True)])
        got[name] = V.contrast(M.decode(run.trainer, z, p.sample_steps)).mean()
        assert last.values[f"{lab.MID_CONTRAST}/{name}"] == pytest.approx(got[name], rel=1e-4)
    ends = V.contrast(M.decode(run.trainer, np.concatenate([a, b]), p.sample_steps)).mean()
    assert last.values[f"{lab.MID_CONTRAST}/{S.SAMPLES}"] == pytest.approx(ends, rel=1e-4)
    assert f"the training images {V.contrast(run.pool).mean():.3f}" in last.caption
    # the washed-out middle of lerp, quoted with its computed size
    drop = 100 * (1 - got[S.LERP] / got[S.COMBINE])
    assert drop > 5
    assert f"lerp's midpoints are {drop:.0f}% fainter than combine's" in last.caption


def test_the_model_is_the_images_labs_and_a_rerun_continues_it(trained):
    from genlab.labs import images

    p, _, run, _ = trained
    assert isinstance(run, images._Run) and run.trainer.config["conditional"] is False
    more = dataclasses.replace(p, train_steps=150)
    frames = list(lab.run(more, CTX))
    trained_at = [f.x for f in frames if f.xlabel == "training step"]
    assert trained_at[0] == 100 and trained_at[-1] == 150


def test_a_checkpoint_decodes_without_training(trained):
    p, _, _, path = trained
    params = lab.LAB.checkpoint_params(str(path), lab.Params(decoder="flow"))
    assert params.decoder == "diffusion" and params.width == 16
    frames = list(lab.run(params, RunContext(device="cpu", checkpoint=str(path))))
    assert "Trained: 1" in frames[-1].caption
    assert not any("Training the digits" in f.caption for f in frames)
    bad = path.parent / "bad.safetensors"
    bad.write_bytes(b"nope")
    out = list(lab.run(params, RunContext(device="cpu", checkpoint=str(bad))))
    assert len(out) == 1 and "Cannot open" in out[0].caption


def test_a_live_grid_map_decodes_the_plain_combinations(trained):
    p, _, run, _ = trained
    gen = lab.run(dataclasses.replace(p, train_steps=run.trainer.step_), CTX)
    frames = list(itertools.islice(gen, len(S.SWEEP) + 3))
    linear = gen.send(dataclasses.replace(p, train_steps=run.trainer.step_, grid_map="linear"))
    gen.close()
    assert frames[-1].panels[1].title.endswith("combine") and linear.panels[1].title.endswith(
        "linear")
    st = lab._State(p, S.Prior.of(64))
    corner = st.X[1] + st.X[2] - st.X[0]  # w = (−1, 1, 1) at the bottom right
    want = M.decode(run.trainer, corner[None], p.sample_steps)
    np.testing.assert_allclose(linear.panels[1].layers["images"].images[-1],
                               (want[0, 0] + 1) / 2, atol=1e-5)


@pytest.mark.parametrize("kind,sampler", [("diffusion", "ddim"), ("flow", "euler")])
def test_decode_is_the_models_deterministic_sampler(kind, sampler):
    from genlab.engine.images.data import open_image_data
    from genlab.engine.images.trainer import ImageTrainer

    tr = ImageTrainer(open_image_data("digits"), model=kind, width=8, conditional=False,
                      device="cpu")
    z = np.random.default_rng(0).standard_normal((3, 64))
    noise = z.reshape(3, 1, 8, 8).astype(np.float32)
    out = M.decode(tr, z, 5)
    np.testing.assert_array_equal(out, tr.sample(3, noise=noise, steps=5, sampler=sampler))
    np.testing.assert_array_equal(out, M.decode(tr, z, 5))  # deterministic


def test_cancel_honoured_within_half_a_second(qapp):
    from genlab.ui.worker import RunThread

    params = presets_for("interpolation")[0].params(lab.Params)
    thread = RunThread(1, lambda: lab.run(params, CTX), fps=0)
    got = []
    thread.frame_ready.connect(lambda g, f: (got.append(f), thread.ack()))
    thread.start()
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        qapp.processEvents()
        thread.wait(10)
    assert got
    t0 = time.monotonic()
    thread.cancel()
    assert thread.wait(500) or thread.isFinished()
    assert time.monotonic() - t0 < 0.55


def test_preset_descriptions_state_the_closed_forms():
    """The numbers typed in the presets' descriptions are the closed forms, rounded."""
    presets = {p.name: p for p in presets_for("interpolation")}
    far = next(p for n, p in presets.items() if n.startswith("d = 3072"))
    assert "√(d/2) = 39.2" in far.description and "annulus at 55.4" in far.description
    assert (round(math.sqrt(3072 / 2), 1), round(L.chi_mean(3072), 1)) == (39.2, 55.4)
    st = lab._State(far.params(lab.Params), S.Prior.of(3072))
    assert st.mid["lerp as probable"] < 1e-100  # above every sample's log-density
    flat = next(p for n, p in presets.items() if n.startswith("d = 2"))
    assert "(1.25 ± 0.66)" in flat.description and "√(d/2) = 1" in flat.description
    assert (round(L.chi_mean(2), 2), round(L.chi_std(2), 2)) == (1.25, 0.66)
    off = _preset("μ ≠ 0")
    assert "μ = 2·(1, …, 1)" in presets[next(n for n in presets if n.startswith("μ"))].description
    prior = S.Prior.of(off.d, off.mean, off.spread)
    assert off.d == 784 and np.all(prior.mean == 2.0)
    assert np.sqrt(prior.var).min() == pytest.approx(1 / 3) and np.sqrt(prior.var).max() == 3
    assert all(p.params(lab.Params).decoder in ("diffusion", "flow")
               for n, p in presets.items() if n.startswith("digits"))
    # the plain grid at d = 64: √(3d/8) and √(3d) both outside the annulus (> 3 sds away)
    mean, sd = L.chi_mean(64), L.chi_std(64)
    assert math.sqrt(3 * 64 / 8) < mean - 3 * sd and math.sqrt(3 * 64) > mean + 3 * sd
