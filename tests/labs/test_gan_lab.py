"""The GAN lab (genlab.labs.gan): the contract checks run on the module itself, what each
preset's name says (collapse, cure, D alone, saturation, one curve), slow motion, live
changes, D* against the exact optimum, drawn data, and the DCGAN image mode."""

from __future__ import annotations

import dataclasses
import itertools
import queue
import subprocess
import sys

import numpy as np
import pytest

from genlab.labs import gan
from genlab.labs.base import RunContext
from genlab.labs.frame import Arrows, Frame, Heatmap, ImageGrid, Paths
from genlab.labs.params import param_fields, replace, validate
from genlab.labs.presets import presets_for
from tests.labs.test_contract import (
    CTX,
    _check_identity,
    _check_numpy_only,
    _same,
)
from tests.labs.test_contract import (
    test_series_are_named_once_and_told_apart as _contract_series,
)

torch = pytest.importorskip("torch")

LAB = gan.LAB
CPU = dataclasses.replace(CTX, device="cpu")


def _preset(name: str) -> gan.Params:
    return next(p for p in presets_for("gan") if p.name == name).params(gan.Params)


def _frames(p: gan.Params, n: int | None = None, ctx: RunContext = CPU) -> list[Frame]:
    gen = LAB.run(p, ctx)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    from genlab.engine.training.store import STORE

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path_factory.getbasetemp() / "gan-cache"))
    STORE.clear("gan")
    yield
    STORE.clear("gan")


# -------------------------------------------------------------------------- the contract


def test_defaults_valid_and_the_first_frame_comes_fast_without_torch():
    validate(gan.Params())
    assert any(f.name == "seed" for f in param_fields(gan.Params))
    code = ("import sys, time; t = time.perf_counter(); from genlab.labs import gan; "
            "from genlab.labs.base import RunContext; "
            "f = next(gan.run(gan.Params(), RunContext(device='cpu'))); "
            "print(time.perf_counter() - t, 'torch' in sys.modules, len(f.panels))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert float(out[0]) < 1.5 and out[1] == "False" and out[2] == "1"


def test_frames_are_numpy_only_deterministic_and_named_once():
    a, b = _frames(gan.Params(), 6), _frames(gan.Params(), 6)
    for f in a:
        _check_numpy_only(f)
        _check_identity(f, LAB)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    _contract_series("gan")  # the contract's own check


@pytest.mark.parametrize("preset", [p.name for p in presets_for("gan")])
def test_every_preset_runs_six_frames(preset):
    frames = _frames(_preset(preset), 6)
    assert len(frames) == 6
    for f in frames:
        _check_numpy_only(f)
        _check_identity(f, LAB)


# -------------------------------------------------------------------- the 2D pictures


def test_the_default_frame_shows_gan_labs_views_and_the_optimum():
    f = _frames(gan.Params(), 3)[-1]
    left, middle, right = f.panels
    assert isinstance(left.layers["D"], Heatmap) and left.layers["D"].levels == (0.0, 1.0)
    arrows = left.layers["gradients"]
    assert isinstance(arrows, Arrows) and len(arrows.starts) == 60
    manifold = left.layers["manifold"]
    assert isinstance(manifold, Paths) and manifold.xy.shape[1] == 22  # 11 + 11 lines
    assert middle.title.startswith("G's density") and right.title.startswith("optimal D*")
    assert {"loss/D", "loss/G", "sliced W₂/G", "sliced W₂/floor", "modes covered",
            "high-quality fraction", "|D − D*|"} <= set(f.metrics)
    assert f.x == 1 and f.xlabel == "training iteration"  # frame 1 is the untrained start
    assert "of 8 modes covered" in f.caption and "floor" in f.caption


def test_d_star_is_the_optimum_of_the_exact_densities():
    """The right panel is p/(p + p_g) from the ring's exact mixture density and G's KDE."""
    from genlab.engine.datasets import make_dataset
    from genlab.engine.gan import mixture_density
    from genlab.labs.gan.geometry import Plane, ring_law

    p = gan.Params()
    means, std = ring_law("8gaussians", p.noise)
    assert std == pytest.approx(0.1) and np.allclose(np.linalg.norm(means, axis=1), 2.5)
    g = Plane(p, make_dataset(p.dataset, p.n_points, p.noise, p.seed)[0])  # the lab's data
    assert np.allclose(g.p_data.ravel(), mixture_density(g.cells, means, std))
    f = _frames(p, 2)[-1]
    d_star = f.panels[2].layers["field"].values
    p_g = f.panels[1].layers["p_g"].values
    top = max(g.p_data.max(), p_g.max())
    shown = (g.p_data >= 1e-4 * top) | (p_g >= 1e-4 * top)
    assert np.allclose(d_star[shown], (g.p_data / (g.p_data + p_g))[shown])
    assert np.all(d_star[~shown] == 0.5)


def test_wgan_gp_draws_the_critic_as_a_potential_and_no_d_star():
    f = _frames(_preset("WGAN-GP: the critic as a potential"), 3)[-1]
    critic = f.panels[0].layers["D"]
    assert critic.contours > 5 and critic.levels is None  # iso-lines of a raw critic
    assert len(f.panels) == 3 and "No optimal D is drawn" in f.caption
    assert "critic f(x) as a potential" in f.panels[0].title


def test_one_d_latent_draws_one_curve():
    """G's manifold is one path: consecutive latent points map to nearby points."""
    f = _frames(_preset("1D latent: G draws one curve"), 30)[-1]
    curve = f.panels[0].layers["manifold"].xy
    assert curve.shape[1:] == (1, 2)
    steps = np.linalg.norm(np.diff(curve[:, 0], axis=0), axis=1)
    assert steps.max() < 0.1 * np.linalg.norm(curve[-1, 0] - curve[0, 0]) + 0.05


def test_least_squares_bends_into_the_moons():
    frames = _frames(_preset("least squares on the moons"), 60)
    sw = [f.metrics["sliced W₂/G"] for f in frames if f.metrics]
    assert sw[-1] < 0.35 * sw[0]


def test_the_hinge_preset_draws_the_best_hinge_critic_and_wgan_its_slope():
    f = _frames(_preset("hinge loss: the best critic is sign(p_data − p_g)"), 3)[-1]
    field = f.panels[2].layers["field"].values
    assert set(np.unique(field)) <= {-1.0, 0.0, 1.0} and field.max() == 1
    f = _frames(_preset("WGAN-GP: the critic as a potential"), 3)[-1]
    slope = f.panels[2].layers["slope"]
    assert slope.levels == (0.0, 2.0) and slope.contours == 1  # the iso-line |∇f| = 1


def test_drawn_data_without_points_is_a_message_and_with_points_has_no_d_star():
    f = _frames(_preset("drawn data"), 1, RunContext(device="cpu"))[0]
    assert "No drawn points" in f.caption
    f = _frames(_preset("drawn data"), 3)[-1]
    assert len(f.panels) == 2 and "not known in closed form" in f.caption
    assert "Right: G's density" in f.caption and "Middle" not in f.caption
    assert "modes covered" not in f.metrics and "sliced W₂/floor" not in f.metrics


# --------------------------------------------------------------------- what presets say


def _run_metrics(name: str) -> list[dict[str, float]]:
    return [dict(f.metrics) for f in _frames(_preset(name)) if f.metrics]


def test_the_collapse_preset_collapses():
    """'G learns 4× faster than D': G's samples pile into one small clump, and at most 2 of
    the 8 modes are ever covered."""
    frames = [f for f in _frames(_preset("mode collapse: G learns 4× faster than D"))
              if f.metrics]
    assert frames[-1].x == 800
    assert max(f.metrics["modes covered"] for f in frames) <= 2
    # once past its first lunges (iteration 150), half of G's samples lie within 0.75 of
    # their median point (half of the data lie 2.5 from theirs): one small clump
    for f in frames:
        xy = f.panels[0].layers["fake"].xy
        if f.x >= 150:
            assert np.median(np.linalg.norm(xy - np.median(xy, axis=0), axis=1)) < 0.75


def test_the_cure_covers_the_ring():
    """'D learns 4× faster than G': at least 7 of the 8 modes at the end of its budget."""
    cure = _run_metrics("the cure: D learns 4× faster than G")
    assert cure[-1]["modes covered"] >= 7


def test_training_d_alone_approaches_d_star():
    """Both learn up to iteration 300; then G stays put and D's gap to D* falls."""
    frames = [f for f in _frames(_preset("train D alone: it becomes D*")) if f.metrics]
    frozen = [f for f in frames if f.x >= 300]
    gaps = [f.metrics["|D − D*|"] for f in frozen]
    assert gaps[-1] < 0.6 * gaps[0]
    assert len({f.metrics["sliced W₂/G"] for f in frozen}) == 1  # G never moved
    assert all("Only D learns" in f.caption for f in frozen)
    assert not any("Only D learns" in f.caption for f in frames if f.x < 300)


def test_the_minimax_loss_saturates_where_d_rejects_the_fakes():
    """On the minimax preset's GAN, early on, G's gradients under log(1 − D) are far shorter
    than the non-saturating loss's on the same D."""
    from genlab.engine.datasets import make_dataset
    from genlab.labs.gan.two_d import make_trainer

    p = _preset("minimax: the saturating loss")
    x, _ = make_dataset(p.dataset, p.n_points, p.noise, p.seed)
    tr = make_trainer(p, x, "cpu")
    tr.step(30)
    z = tr.latent_draws(200, seed=1)
    mm = np.linalg.norm(tr.generator_gradient(z)[1], axis=1).mean()
    ns = np.linalg.norm(tr.generator_gradient(z, "non-saturating")[1], axis=1).mean()
    assert mm < 0.5 * ns
    f = _frames(p, 20)[-1]  # the caption quotes both on the lab's own D
    assert "the non-saturating loss on the same D would give" in f.caption


def test_slow_motion_shows_each_iteration_in_five_held_stages():
    p = replace(gan.Params(), slow_motion=True, slow_from=20, steps=22)
    frames = _frames(p)
    stages = [f for f in frames if "stage" in f.title]
    assert len(stages) == 10  # iterations 21 and 22
    for i, f in enumerate(stages):
        assert f.title.endswith(("G samples", "D scores", "losses", "gradients",
                                 "update")[i % 5])
        assert f.hold >= 0.8
    g_samples, scores, losses, grads, update = stages[:5]
    assert scores.values["batch mean D(x)/data"] > 0 and "batch loss/D" in losses.values
    assert isinstance(grads.panels[0].layers["gradients"], Arrows)
    assert update.metrics and update.x == 21
    before, after = update.panels[0].layers["before"].xy, update.panels[0].layers["fake"].xy
    assert np.array_equal(before, grads.panels[0].layers["fake"].xy)
    assert not np.allclose(before, after)  # G's update moved the fakes
    assert g_samples.panels[1].layers["z"].xy.shape == (256, 2)
    assert frames[-1].caption.startswith("Done: 22 iterations")


def test_live_changes_reach_the_trainer():
    gen = LAB.run(gan.Params(), CPU)
    try:
        next(gen)
        for _ in range(3):
            gen.send(None)
        frozen = gen.send(replace(gan.Params(), train="D only", steps_per_frame=5))
        fakes = frozen.panels[0].layers["fake"].xy
        later = [gen.send(None) for _ in range(40)][-1]
        assert np.array_equal(later.panels[0].layers["fake"].xy, fakes)
        assert "Only D learns" in later.caption
        faster = gen.send(replace(gan.Params(), train="both", steps_per_frame=5))
        moved = gen.send(None)
        assert not np.array_equal(moved.panels[0].layers["fake"].xy, faster.panels[0]
                                  .layers["fake"].xy)
    finally:
        gen.close()


# --------------------------------------------------------------------------- images


def test_image_mode_trains_a_dcgan_with_fixed_noise_history_and_quality(tmp_path):
    p = replace(_preset("images: a DCGAN on digits"), steps=200, steps_per_frame=100,
                width=16)
    requests: queue.SimpleQueue = queue.SimpleQueue()
    ctx = RunContext(device="cpu", requests=requests)
    gen = LAB.run(p, ctx)
    try:
        frames = [next(gen)]
        requests.put(("save", str(tmp_path / "gan.safetensors")))
        frames += list(gen)
    finally:
        gen.close()
    last = frames[-1]
    samples, history, losses = last.panels
    assert isinstance(samples.layers["samples"], ImageGrid)
    assert samples.layers["samples"].images.shape == (64, 8, 8)
    assert history.layers["history"].images.shape == (3 * 8, 8, 8)  # iterations 0, 100, 200
    assert set(losses.layers) == {"D", "G"} and last.x == 200
    assert {"Fréchet distance ÷ floor", "classes covered"} == set(last.metrics)
    assert "Trained: 200 iterations" in last.caption
    assert any("Saved the checkpoint" in f.notice for f in frames)
    assert (tmp_path / "gan.safetensors").exists()
    # a rerun continues the kept model
    again = _frames(p, 2)
    assert again[-1].x == 200


def test_the_cached_sliced_w2_is_the_engines():
    from genlab.engine.datasets import make_dataset
    from genlab.engine.sample_distance import sliced_wasserstein
    from genlab.labs.gan.geometry import N_EVAL, Plane
    from genlab.labs.gan.two_d import SW_SEED, Run, make_trainer

    p = gan.Params()
    x = make_dataset(p.dataset, p.n_points, p.noise, p.seed)[0]
    r = Run(p, Plane(p, x), make_trainer(p, x, "cpu"))
    y = np.random.default_rng(3).normal(size=(N_EVAL, 2))
    assert r.sliced(y) == pytest.approx(sliced_wasserstein(y, r.g.ref, seed=SW_SEED), rel=1e-12)
    assert r.sliced(y[:10]) == sliced_wasserstein(y[:10], r.g.ref, seed=SW_SEED)


def test_the_image_history_spreads_its_rows_over_the_whole_run():
    from genlab.labs.gan.images import HISTORY_ROWS, _Run

    class _Tr:
        step_ = 0

        def latent_draws(self, n, seed):
            return np.zeros((n, 2))

    r = _Run(_Tr(), 0)
    r.history = [(100 * i, np.full((8, 2, 2), i)) for i in range(31)]
    shown = [s for s, _ in r.shown_history()]
    assert len(shown) == HISTORY_ROWS and shown[0] == 0 and shown[-1] == 3000
    assert np.all(np.diff(shown) >= 400)  # spread, not the latest eight
    r.history = r.history[:3]
    assert [s for s, _ in r.shown_history()] == [0, 100, 200]
