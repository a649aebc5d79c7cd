"""The diffusion lab (genlab.labs.diffusion): forward process, score view, DDPM, bad inputs."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace as dc_replace

import numpy as np
import pytest

from genlab.engine import diffusion as df
from genlab.engine.datasets import make_dataset
from genlab.engine.mixtures import Mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs import diffusion
from genlab.labs.base import LabError, RunContext
from genlab.labs.diffusion_data import make_noised_data
from genlab.labs.frame import Frame, Handles, Heatmap, Paths, Points, VectorField
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

torch = pytest.importorskip("torch")

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
CTX = RunContext(drawn=DRAWN, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _params(**kw) -> diffusion.Params:
    return replace(diffusion.Params(), **kw)


def _frames(params: diffusion.Params, n: int | None = None,
            ctx: RunContext = CTX) -> list[Frame]:
    gen = diffusion.run(params, ctx)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


def _check(f: Frame) -> None:
    assert f.caption.strip() and f.title
    assert f.first_nonfinite() is None, (f.title, f.first_nonfinite())
    assert f.nbytes < 1_000_000


# ------------------------------------------------------------------------------ forward


@pytest.mark.parametrize("schedule", ["linear", "cosine", "VE"])
def test_forward_cloud_follows_the_closed_form(schedule: str) -> None:
    p = _params(view="forward", schedule=schedule, t=0.35, n_points=4000)
    (f,) = _frames(p)  # nothing trains and nothing animates: one frame
    _check(f)
    sched = diffusion.make_schedule(p)
    a, v = (float(z) for z in sched.marginal(0.35))
    x0, _ = make_dataset("8gaussians", 4000, 0.1, 0)
    xt = f.panels[0].layers["x_t"].xy
    assert xt.shape == (diffusion.N_SHOW, 2)
    # mean √ᾱ·E x₀ (≈ 0 here) and variance ᾱ Var x₀ + (1 − ᾱ), per coordinate
    var0 = x0.var(axis=0)
    se = np.sqrt(2 * (a * a * var0 + v) ** 2 / len(xt))  # std error of a variance
    assert np.all(np.abs(xt.var(axis=0) - (a * a * var0 + v)) < 5 * se + 0.05 * a * a)
    assert np.all(np.abs(xt.mean(axis=0) - a * x0.mean(axis=0))
                  < 5 * np.sqrt((a * a * var0 + v) / len(xt)))
    assert f.metrics["variance/a² Var x₀ + v"] == pytest.approx(a * a * var0.mean() + v,
                                                                rel=0.05)
    assert f.metrics["variance/x_t (sample)"] == pytest.approx(xt.var(axis=0).mean())
    sig, lsnr = a * a / (a * a + v), math.log10(a * a / v)
    assert f.metrics["ᾱ(t)"] == pytest.approx(sig)
    assert f.metrics["log₁₀ SNR"] == pytest.approx(lsnr)
    if schedule != "VE":
        assert sig == pytest.approx(float(sched.alpha_bar(0.35)))


def test_forward_heatmap_is_the_exact_marginal_and_integrates_to_one() -> None:
    p = _params(view="forward", t=0.3)
    (f,) = _frames(p)
    heat = f.panels[1].layers["p_t"]
    assert isinstance(heat, Heatmap) and heat.values.shape == (diffusion.HEAT_N,) * 2
    x0, x1, y0, y1 = heat.extent
    mass = heat.values.sum() * (x1 - x0) * (y1 - y0) / diffusion.HEAT_N**2
    assert 0.97 < mass < 1.01
    # the values are the closed form of the noised mixture at the cell centres
    mix = gallery_mixture("8gaussians", 0.1)
    c = (np.arange(diffusion.HEAT_N) + 0.5) / diffusion.HEAT_N
    xs, ys = x0 + c * (x1 - x0), y0 + c * (y1 - y0)
    cell = np.array([[xs[7], ys[40]]])
    want = np.exp(df.gmm_log_density_t(cell, 0.3, *mix.as_tuple(), df.VPSchedule()))[0]
    assert heat.values[40, 7] == pytest.approx(want, rel=1e-9)


def test_forward_animation_sweeps_t_and_then_ends() -> None:
    frames = _frames(_params(view="forward", animate=True))
    assert len(frames) == diffusion.SWEEP
    ts = [f.metrics["log₁₀ SNR"] for f in frames]
    assert np.all(np.diff(ts) < 0)  # the SNR falls as t sweeps from 0 to 1
    assert frames[-1].metrics["ᾱ(t)"] < 1e-3 < 0.99 < frames[0].metrics["ᾱ(t)"]


def test_kernel_estimate_for_raw_points_is_the_noised_empirical_mixture() -> None:
    x, labels = make_dataset("moons", 300, 0.1, 0)
    sched = df.VPSchedule("cosine")
    data = make_noised_data(x, labels, "moons", 0.1, "raw points", 12, 0.1, sched, 0)
    assert not data.exact and len(data.centres) == 300
    m = len(data.centres)
    mix = Mixture(np.full(m, 1 / m), data.centres, np.repeat(0.01 * np.eye(2)[None], m, 0))
    q = np.random.default_rng(2).normal(size=(50, 2)) * 2
    for t in (0.05, 0.5):
        np.testing.assert_allclose(data.score(q, t), df.gmm_score(q, t, *mix.as_tuple(), sched),
                                   rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(data.log_density(q, t),
                                   df.gmm_log_density_t(q, t, *mix.as_tuple(), sched),
                                   rtol=1e-10, atol=1e-10)
    (f,) = _frames(_params(view="forward", dataset="moons", data_model="raw points"))
    assert "kernel estimate" in f.panels[1].title and "kernel estimate" in f.caption


# ------------------------------------------------------------------------------ score


def test_score_view_learns_and_shows_the_exact_field() -> None:
    p = _params(view="score", t=0.3, steps=300)
    frames = _frames(p)
    assert len(frames) == 31  # the untrained net, then one frame per 10 steps
    for f in frames[::10]:
        _check(f)
    first, last = frames[0], frames[-1]
    assert last.metrics["loss/ε-MSE"] < first.metrics["loss/ε-MSE"] - 0.3
    key = "score error/E‖ε̂_θ − ε̂*‖² over p_t"
    assert last.metrics[key] < 0.5 * first.metrics[key]
    assert last.caption.startswith("The denoiser after 300 Adam steps")
    # the exact panel is √v·gmm_score on the arrow grid (arrows below the display cap)
    field = last.panels[0].layers["exact"]
    assert isinstance(field, VectorField) and len(field.xy) == diffusion.FIELD_N**2
    sched = df.VPSchedule()
    _, v = sched.marginal(0.3)
    want = np.sqrt(v) * df.gmm_score(field.xy, 0.3, *gallery_mixture("8gaussians", 0.1)
                                     .as_tuple(), sched)
    short = np.linalg.norm(want, axis=1) < diffusion.FIELD_CAP
    assert short.sum() > 20
    np.testing.assert_allclose(field.uv[short], want[short], rtol=1e-9, atol=1e-12)
    assert np.linalg.norm(field.uv, axis=1).max() <= diffusion.FIELD_CAP + 1e-9


def test_probe_handle_moves_the_tweedie_markers_live() -> None:
    p = _params(view="score", t=0.4, steps=200, probe_x=0.9, probe_y=0.35)
    gen = diffusion.run(p, CTX)
    try:
        f0 = next(gen)
        f1 = gen.send(None)
        probe_panel = f1.panels[2]
        handle = probe_panel.layers["probe"]
        assert isinstance(handle, Handles)
        assert handle.x_params == ("probe_x",) and handle.y_params == ("probe_y",)
        np.testing.assert_allclose(handle.xy, [[0.9, 0.35]])
        # the exact marker is Tweedie's formula with the exact score
        sched = df.VPSchedule()
        probe = np.array([[0.9, 0.35]])
        mix = gallery_mixture("8gaussians", 0.1)
        want = df.tweedie_mean(probe, df.gmm_score(probe, 0.4, *mix.as_tuple(), sched), 0.4,
                               sched)
        np.testing.assert_allclose(probe_panel.layers["exact"].xy, want, atol=1e-12)
        before = (probe_panel.layers["exact"].xy.copy(), probe_panel.layers["learned"].xy.copy())
        f2 = gen.send(replace(p, probe_x=-2.0, probe_y=1.5))  # a drag: live
        panel = f2.panels[2]
        np.testing.assert_allclose(panel.layers["probe"].xy, [[-2.0, 1.5]])
        assert not np.allclose(panel.layers["exact"].xy, before[0])
        assert not np.allclose(panel.layers["learned"].xy, before[1])
        # the segments start at the probe; training went on (no restart)
        np.testing.assert_allclose(panel.layers["to E[x₀|x_t]"].starts, [[-2.0, 1.5]] * 2)
        assert "step 20 / 200" in f2.title and "step 0 / 200" in f0.title
    finally:
        gen.close()


def test_switching_view_live_keeps_training() -> None:
    p = _params(view="score", steps=200)
    gen = diffusion.run(p, CTX)
    try:
        next(gen)
        gen.send(None)
        f = gen.send(replace(p, view="forward"))
        assert "forward" in f.title and "(The denoiser trains on: step 20 / 200.)" in f.caption
        f = gen.send(replace(p, view="reverse"))
        assert "training 30 / 200" in f.title
        assert set(f.metrics) == {"sliced W₂/particles vs p_t", "loss/ε-MSE"}
    finally:
        gen.close()


# ------------------------------------------------------------------------------ reverse


def test_reverse_with_the_exact_score_ends_near_the_data() -> None:
    p = _params(view="reverse", score="exact", n_steps=100, reverse_per_frame=5)
    frames = _frames(p)
    assert len(frames) == 1 + 100 // 5 + diffusion.HOLD
    for f in frames[::5]:
        _check(f)
    x_T = frames[0].panels[0].layers["particles"].xy
    final = frames[-1].panels[0].layers["particles"].xy
    assert final.shape == (2000, 2)
    data = gallery_mixture("8gaussians", 0.1).sample(4000, seed=9)[0]
    d_prior, d_final = sliced_wasserstein(x_T, data), sliced_wasserstein(final, data)
    # the floor: two independent draws of the mixture of the same sizes
    floor = sliced_wasserstein(gallery_mixture("8gaussians", 0.1).sample(2000, seed=3)[0], data)
    assert d_final < 2.0 * floor and d_final < 0.2 * d_prior, (d_final, floor, d_prior)
    assert frames[-1].caption.startswith("Pass 1 done")
    trails = frames[10].panels[0].layers["trails"]
    assert isinstance(trails, Paths) and trails.fade
    assert trails.xy.shape == (min(diffusion.TRAIL_LEN, 1 + 10 * 5), diffusion.N_TRAILS, 2)
    # the trails are the first particles' positions
    np.testing.assert_allclose(trails.xy[-1], frames[10].panels[0].layers["particles"].xy[:20])


@pytest.mark.parametrize("n_steps,per_frame", [(10, 1), (30, 4)])
def test_n_steps_sets_the_number_of_reverse_frames(n_steps: int, per_frame: int) -> None:
    p = _params(view="reverse", score="exact", n_steps=n_steps, reverse_per_frame=per_frame,
                n_particles=300)
    frames = _frames(p)
    assert len(frames) == 1 + math.ceil(n_steps / per_frame) + diffusion.HOLD
    assert frames[-1].title.endswith(f"step {n_steps} / {n_steps}")


def test_learned_reverse_samples_with_the_training_network() -> None:
    p = _params(view="reverse", score="learned", steps=60, steps_per_frame=20, n_steps=10,
                reverse_per_frame=5, n_particles=300)
    frames = _frames(p)
    # pass 1 (untrained at its start): 3 frames + HOLD; then a last pass with the finished net
    assert len(frames) == 2 * (3 + diffusion.HOLD)
    assert "training 60 / 60" in frames[-1].title and "pass 2" in frames[-1].title
    assert frames[-1].caption.startswith("Pass 2 done") and "after 60 Adam steps" in \
        frames[-1].caption


# ------------------------------------------------------------------------------ bad input


def test_drawn_without_points_gives_a_message() -> None:
    (f,) = _frames(_params(dataset="drawn"), ctx=RunContext(device="cpu"))
    assert f.title == "Diffusion · no data" and "Paint" in f.caption
    (f,) = _frames(_params(dataset="drawn"), ctx=RunContext(drawn=np.zeros((10, 2)),
                                                             device="cpu"))
    assert "too few points" in f.title


def test_drawn_points_are_fitted_by_a_mixture() -> None:
    f = _frames(_params(dataset="drawn", view="forward", n_components=3))[0]
    assert "3-component mixture fitted to drawn" in f.caption


def test_absurd_learning_rate_stops_with_a_lab_error() -> None:
    with pytest.raises(LabError, match="lower the learning rate"):
        _frames(_params(view="score", lr=1.0), 20)


def test_every_preset_runs_a_few_frames() -> None:
    presets = presets_for("diffusion")
    assert presets[0].name == "DDPM on 8 gaussians"
    assert {"forward process, cosine vs linear", "score field: learned vs exact",
            "Tweedie probe", "moons (kernel estimate)"} <= {p.name for p in presets}
    assert presets[0].params(diffusion.Params) == diffusion.Params()  # the default demo
    for preset in presets:
        params = preset.params(diffusion.Params)
        validate(params)
        frames = _frames(params, 3)
        assert frames
        for f in frames:
            _check(f)
            assert any(isinstance(lay, Points) for p in f.panels for lay in p.layers.values())


def test_same_seed_same_frames_with_training() -> None:
    p = _params(steps=40, n_particles=300)
    a, b = _frames(p, 4), _frames(dc_replace(p), 4)
    for fa, fb in zip(a, b, strict=True):
        assert fa.metrics == fb.metrics
        np.testing.assert_array_equal(fa.panels[0].layers["particles"].xy,
                                      fb.panels[0].layers["particles"].xy)
