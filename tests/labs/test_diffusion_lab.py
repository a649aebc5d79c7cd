"""The diffusion lab (genlab.labs.diffusion): forward process, score view, DDPM, its named
series, its pacing, the claims of its captions and presets, bad inputs."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace as dc_replace

import numpy as np
import pytest

from genlab.engine import diffusion as df
from genlab.engine import gmm
from genlab.engine.datasets import make_dataset
from genlab.engine.mixtures import Mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs import diffusion
from genlab.labs.base import LabError, RunContext
from genlab.labs.diffusion import settings as S
from genlab.labs.diffusion.net import Converged
from genlab.labs.diffusion.noised import make_noised_data
from genlab.labs.frame import (
    Arrows,
    Frame,
    Handles,
    Heatmap,
    Labels,
    Paths,
    Points,
    VectorField,
)
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

torch = pytest.importorskip("torch")

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
CTX = RunContext(drawn=DRAWN, device="cpu")
MIX = gallery_mixture("8gaussians", 0.1)


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
    """The run's frames after the one shown while torch loads (a run that trains has one)."""
    gen = diffusion.run(params, ctx)
    try:
        frames = (f for f in gen if not _loading(f))
        return list(frames if n is None else itertools.islice(frames, n))
    finally:
        gen.close()


def _loading(f: Frame) -> bool:
    return f.title.endswith("loading torch")


def _first(gen) -> Frame:
    """The first frame after the one shown while torch loads."""
    f = next(gen)
    return gen.send(None) if _loading(f) else f


def _check(f: Frame) -> None:
    assert f.caption.strip() and f.title
    assert f.first_nonfinite() is None, (f.title, f.first_nonfinite())
    assert f.nbytes < 1_000_000
    assert f.series == diffusion.SERIES


def _seconds(frames: list[Frame]) -> float:
    """Playback time of frames at the lab's speed."""
    return sum(f.pace / diffusion.LAB.fps + f.hold for f in frames)


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
    closed = f.metrics[f"{S.VARIANCE}/{S.CLOSED}"]
    assert closed == pytest.approx(a * a * var0.mean() + v, rel=0.05)
    assert f.metrics[f"{S.VARIANCE}/{S.SAMPLE}"] == pytest.approx(xt.var(axis=0).mean())
    # the caption's numbers are the frame's
    assert f"{f.metrics[f'{S.VARIANCE}/{S.SAMPLE}']:.3f} sampled, {closed:.3f} in closed" \
        in f.caption
    sig = a * a / (a * a + v)
    assert f"ᾱ = {sig:.3g}" in f.caption
    if schedule != "VE":
        assert sig == pytest.approx(float(sched.alpha_bar(0.35)))
    # the marker at t sits on this schedule's curve, in its colour
    now = f.panels[2].layers["now"]
    assert now.series == schedule and now.xy[0, 1] == pytest.approx(sig)
    assert (f.x, f.xlabel) == (0.35, "diffusion time t")


def test_forward_heatmap_is_the_exact_marginal_and_integrates_to_one() -> None:
    p = _params(view="forward", t=0.3)
    (f,) = _frames(p)
    heat = f.panels[1].layers["p_t"]
    assert isinstance(heat, Heatmap) and heat.values.shape == (diffusion.HEAT_N,) * 2
    x0, x1, y0, y1 = heat.extent
    mass = heat.values.sum() * (x1 - x0) * (y1 - y0) / diffusion.HEAT_N**2
    assert 0.97 < mass < 1.01
    # the values are the closed form of the noised mixture at the cell centres
    c = (np.arange(diffusion.HEAT_N) + 0.5) / diffusion.HEAT_N
    xs, ys = x0 + c * (x1 - x0), y0 + c * (y1 - y0)
    cell = np.array([[xs[7], ys[40]]])
    want = np.exp(df.gmm_log_density_t(cell, 0.3, *MIX.as_tuple(), df.VPSchedule()))[0]
    assert heat.values[40, 7] == pytest.approx(want, rel=1e-9)


def test_schedule_curves_and_their_names_share_one_look() -> None:
    (f,) = _frames(_params(view="forward", t=0.3, schedule="cosine"))
    for panel in f.panels[2:]:
        for name in ("linear", "cosine", "VE"):
            curve, label = panel.layers[name], panel.layers[f"{name} name"]
            assert curve.series == name and isinstance(label, Labels)
            assert label.series == name and label.texts == (name,)
            # the name is anchored on its own curve
            assert np.interp(label.xy[0, 0], curve.x, curve.y) == pytest.approx(label.xy[0, 1],
                                                                               abs=0.02)
            assert curve.dashed == (name != "cosine")
    # the preset's claim: the cosine schedule keeps more signal early on than the linear one
    sig = f.panels[2].layers
    early = (sig["cosine"].x > 0.02) & (sig["cosine"].x < 0.6)
    assert np.all(sig["cosine"].y[early] > sig["linear"].y[early])


def test_forward_sweep_plays_t_slowly_where_the_clusters_dissolve_and_ends() -> None:
    frames = _frames(_params(view="forward", animate=True))
    assert len(frames) == diffusion.SWEEP
    ts = np.array([f.x for f in frames])
    assert ts[0] == pytest.approx(S.T_MIN) and ts[-1] == pytest.approx(1.0)
    assert np.all(np.diff(ts) > 0) and {f.xlabel for f in frames} == {"diffusion time t"}
    # about SWEEP_S seconds plus a beat on the data and one on the noise
    assert frames[0].hold == S.HOLD_START and frames[-1].hold == S.HOLD_END
    assert S.SWEEP_S - 1 < _seconds(frames) - S.HOLD_START - S.HOLD_END < S.SWEEP_S + 2
    # per unit of t, the first tenth (clusters still apart) plays far slower than the last
    # half (noise turning into noise)
    early = [f for f in frames[1:] if f.x <= 0.1]
    late = [f for f in frames[:-1] if f.x >= 0.5]
    assert _seconds(early) / 0.1 > 3 * _seconds(late) / 0.5
    assert frames[-1].total == len(frames)


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


def test_score_view_learns_towards_its_floor_and_shows_the_exact_field() -> None:
    p = _params(view="score", t=0.3, steps=200, steps_per_frame=100)
    frames = _frames(p)
    for f in frames[::10]:
        _check(f)
    first, last = frames[0], frames[-1]
    assert [f.x for f in frames] == sorted(f.x for f in frames) and last.x == 200
    assert {f.xlabel for f in frames} == {"training step"}
    loss = f"{S.LOSS}/{S.LEARNED}"
    assert last.metrics[loss] < first.metrics[loss] - 0.3
    assert last.metrics[S.SCORE_ERR] < 0.5 * first.metrics[S.SCORE_ERR]
    # the exact score's loss on the same draws is the floor: below the network's
    floor = last.values[f"{S.LOSS_NOW}/{S.EXACT}"]
    assert all(floor < f.metrics[loss] for f in frames)
    assert last.values[f"{S.LOSS_NOW}/{S.LEARNED}"] == last.metrics[loss]
    assert f"now {last.metrics[loss]:.3f}" in last.caption and f"scores {floor:.3f}" in \
        last.caption
    assert last.caption.startswith("The denoiser after 200 Adam steps")
    assert "Training used its 200 steps" in last.caption and last.hold == S.HOLD_END
    # the exact field is √v·gmm_score on the arrow grid (arrows below the display cap)
    field = last.panels[0].layers[S.EXACT]
    assert isinstance(field, VectorField) and len(field.xy) == diffusion.FIELD_N**2
    assert field.series == S.EXACT and last.panels[0].layers[S.LEARNED].series == S.LEARNED
    sched = df.VPSchedule()
    _, v = sched.marginal(0.3)
    want = np.sqrt(v) * df.gmm_score(field.xy, 0.3, *MIX.as_tuple(), sched)
    short = np.linalg.norm(want, axis=1) < diffusion.FIELD_CAP
    assert short.sum() > 20
    np.testing.assert_allclose(field.uv[short], want[short], rtol=1e-9, atol=1e-12)
    assert np.linalg.norm(field.uv, axis=1).max() <= diffusion.FIELD_CAP + 1e-9
    # the score error is learned first where p_t has mass (the preset says so): after the
    # first steps the error map is lower over the densest cells than over the emptiest
    early = next(f for f in frames if f.x >= 100)
    err = early.panels[1].layers["error"].values.ravel()
    dens = np.exp(df.gmm_log_density_t(_cells(early), 0.3, *MIX.as_tuple(), sched))
    order = np.argsort(dens)
    assert err[order[-200:]].mean() < err[order[:200]].mean()


def _cells(f: Frame) -> np.ndarray:
    x0, x1, y0, y1 = f.panels[1].layers["error"].extent
    c = (np.arange(S.ERR_N) + 0.5) / S.ERR_N
    xx, yy = np.meshgrid(x0 + c * (x1 - x0), y0 + c * (y1 - y0))
    return np.column_stack([xx.ravel(), yy.ravel()])


def test_the_loss_floor_is_the_exact_scores_loss_and_the_gap_its_score_error() -> None:
    from genlab.labs.diffusion.net import LossDraws

    data = make_noised_data(MIX.sample(500, seed=1)[0], np.zeros(500, int), "8gaussians",
                            0.1, "mixture", 8, 0.1, df.VPSchedule(), 0)
    draws = LossDraws(data, 0)

    class Exact:  # a "network" predicting the exact ε*
        @staticmethod
        def eps(x, t):
            out = np.empty_like(x)
            for tt in np.unique(t):
                rows = t == tt
                out[rows] = -math.sqrt(float(data.schedule.marginal(tt)[1])) * data.score(
                    x[rows], float(tt))
            return out

    class Off(Exact):  # ε* shifted by a constant δ: its loss is the floor plus |δ|²/2
        @staticmethod
        def eps(x, t):
            return Exact.eps(x, t) + np.array([0.3, -0.2])

    assert draws.loss(Exact) == pytest.approx(draws.floor, rel=1e-12)
    cross = 2 * ((Exact.eps(draws.x_t, draws.t) - draws.eps) @ np.array([0.3, -0.2])).mean() / 2
    assert draws.loss(Off) == pytest.approx(draws.floor + (0.09 + 0.04) / 2 + cross, rel=1e-9)
    assert abs(cross) < 0.02  # ε* = E[ε | x_t]: the cross term averages out


def test_probe_arrows_points_and_names_move_live_in_their_series() -> None:
    p = _params(view="score", t=0.4, steps=200, probe_x=0.9, probe_y=0.35)
    gen = diffusion.run(p, CTX)
    try:
        f0 = _first(gen)
        f1 = gen.send(None)
        panel = f1.panels[2]
        handle = panel.layers["probe"]
        assert isinstance(handle, Handles)
        assert handle.x_params == ("probe_x",) and handle.y_params == ("probe_y",)
        np.testing.assert_allclose(handle.xy, [[0.9, 0.35]])
        probe = np.array([[0.9, 0.35]])
        want = df.tweedie_mean(probe, df.gmm_score(probe, 0.4, *MIX.as_tuple(),
                                                   df.VPSchedule()), 0.4, df.VPSchedule())
        np.testing.assert_allclose(panel.layers["exact E"].xy, want, atol=1e-12)
        for who in (S.EXACT, S.LEARNED):
            point, arrow, name = (panel.layers[f"{who} {k}"] for k in ("E", "arrow", "name"))
            assert point.series == arrow.series == name.series == who
            assert isinstance(arrow, Arrows) and isinstance(name, Labels)
            np.testing.assert_allclose(arrow.starts, probe)  # from the probe ...
            np.testing.assert_allclose(arrow.ends, point.xy)  # ... to the point it names
            np.testing.assert_allclose(name.xy, point.xy)  # the name is anchored on it
        before = (panel.layers["exact E"].xy.copy(), panel.layers["learned E"].xy.copy())
        f2 = gen.send(replace(p, probe_x=-2.0, probe_y=1.5))  # a drag: live
        panel = f2.panels[2]
        np.testing.assert_allclose(panel.layers["probe"].xy, [[-2.0, 1.5]])
        assert not np.allclose(panel.layers["exact E"].xy, before[0])
        assert not np.allclose(panel.layers["learned E"].xy, before[1])
        np.testing.assert_allclose(panel.layers["exact arrow"].starts, [[-2.0, 1.5]])
        assert "step 0 / 200" in f0.title and f2.x > f1.x > f0.x  # training went on
    finally:
        gen.close()


def test_tweedie_mean_shrinks_towards_the_data_mean_at_larger_t() -> None:
    # the Tweedie preset's claim, for probes across the plane
    sched = df.VPSchedule()
    probe = np.random.default_rng(3).uniform(-3, 3, size=(200, 2))
    dist = [np.linalg.norm(df.tweedie_mean(probe, df.gmm_score(probe, t, *MIX.as_tuple(), sched),
                                           t, sched) - MIX.sample(20000, seed=1)[0].mean(0),
                           axis=1).mean() for t in (0.1, 0.4, 0.9)]
    assert dist[0] > dist[1] > dist[2] and dist[2] < 0.3 * dist[0]


def test_training_starts_slow_and_ends_once_the_loss_has_levelled_off(monkeypatch) -> None:
    monkeypatch.setattr(S, "MIN_STEPS", 150)
    monkeypatch.setattr(S, "FLAT_STEPS", 100)
    monkeypatch.setattr(S, "FLAT_LOSS", 0.02)
    p = _params(view="score", steps=50_000, steps_per_frame=20, hidden=32, depth=1)
    frames = _frames(p, 400)
    last = frames[-1]
    assert last.x < 50_000 and last.x >= 150, "ended once flat, never before MIN_STEPS"
    assert "the loss levelled off" in last.caption and last.hold == S.HOLD_END
    assert last.total == len(frames) + 1  # and the frame shown while torch loaded
    # the first frames show one Adam step each, in slow motion, after a beat on the start
    steps = np.diff([f.x for f in frames[:6]])
    assert list(steps) == [1] * 5 and frames[0].hold == S.HOLD_START
    assert frames[1].pace == pytest.approx(S.SLOW, rel=0.05) and frames[-2].pace == 1.0
    # the caption's numbers are the plateau's
    got = float(last.caption.split("averaged ")[1].split()[0])
    assert abs(got - last.metrics[f"{S.LOSS}/{S.LEARNED}"]) < 0.05


def test_converged_needs_a_flat_window_and_restarts_after_a_change() -> None:
    p = _params(steps_per_frame=100)
    c = Converged(p)
    window = c.window
    assert window == max(S.FLAT_WINDOW, -(-S.FLAT_STEPS // 100))
    falling = [1.0 / (1 + 0.01 * k) for k in range(4 * window)]
    assert not any(c.add(p, v, 100 * k) for k, v in enumerate(falling))
    flat = [c.add(p, 0.3, S.MIN_STEPS + 100 * k) for k in range(8 * window)]
    assert flat[-1] and not flat[0]
    c.add(dc_replace(p, lr=1e-3), 0.3, 10**6)  # a new learning rate: measured afresh
    assert not c.plateau.flat


def test_switching_view_live_keeps_training() -> None:
    p = _params(view="score", steps=200)
    gen = diffusion.run(p, CTX)
    try:
        _first(gen)
        gen.send(None)
        f = gen.send(replace(p, view="forward"))
        assert "forward" in f.title and "The denoiser trains on: step 2 / 200." in f.caption
        f = gen.send(replace(p, view="reverse"))
        assert "training 3 / 200" in f.title
        assert set(f.metrics) == {f"{S.LOSS}/{S.LEARNED}"} and f.xlabel == "training step"
    finally:
        gen.close()


# ------------------------------------------------------------------------------ reverse


def test_reverse_with_the_exact_score_ends_near_the_data_in_about_six_seconds() -> None:
    p = _params(view="reverse", score="exact", n_steps=100, reverse_per_frame=5)
    frames = _frames(p)
    assert len(frames) == 1 + 100 // 5
    for f in frames[::5]:
        _check(f)
    x_T = frames[0].panels[0].layers["particles"].xy
    final = frames[-1].panels[0].layers["particles"].xy
    assert final.shape == (2000, 2)
    data = MIX.sample(4000, seed=9)[0]
    d_prior, d_final = sliced_wasserstein(x_T, data), sliced_wasserstein(final, data)
    floor = sliced_wasserstein(MIX.sample(2000, seed=3)[0], data)
    assert d_final < 2.0 * floor and d_final < 0.2 * d_prior, (d_final, floor, d_prior)
    last = frames[-1]
    assert last.caption.startswith("Pass 1 done") and last.hold == S.PASS_HOLD
    # the bars: this pass against the floor, the numbers the caption quotes
    w, fl = (last.values[f"{S.LAST_PASS}/{k}"] for k in (S.EXACT, S.FLOOR))
    assert f"sliced W₂ to the data {w:.3f}" in last.caption and f"floor {fl:.3f}" in last.caption
    assert w < 1.6 * fl
    # metrics against the DDPM step; the particles are the exact score's series
    assert [f.x for f in frames] == list(range(0, 101, 5)) and last.xlabel == "DDPM step"
    assert frames[3].panels[0].layers["particles"].series == S.EXACT
    # a pass plays in about PASS_S seconds, slower as t nears 0
    assert S.PASS_S - 1 < _seconds(frames[:-1]) - frames[0].hold < S.PASS_S + 1
    assert frames[-2].pace > 2 * frames[1].pace
    trails = frames[10].panels[0].layers["trails"]
    assert isinstance(trails, Paths) and trails.fade
    assert trails.xy.shape == (min(diffusion.TRAIL_LEN, 1 + 10 * 5), diffusion.N_TRAILS, 2)
    # the trails are the first particles' positions
    np.testing.assert_allclose(trails.xy[-1],
                               frames[10].panels[0].layers["particles"].xy[:diffusion.N_TRAILS])


@pytest.mark.parametrize("n_steps,per_frame", [(10, 1), (30, 4)])
def test_n_steps_sets_the_number_of_reverse_frames(n_steps: int, per_frame: int) -> None:
    p = _params(view="reverse", score="exact", n_steps=n_steps, reverse_per_frame=per_frame,
                n_particles=300)
    frames = _frames(p)
    assert len(frames) == 1 + math.ceil(n_steps / per_frame)
    assert frames[-1].title.endswith(f"step {n_steps} / {n_steps}")
    assert [f.total for f in frames] == [len(frames)] * len(frames)


def test_five_ddpm_steps_spread_the_samples_a_hundred_do_not() -> None:
    # the "DDPM with 5 steps" preset's claim, on its own run
    preset = next(x for x in presets_for("diffusion") if x.name == "DDPM with 5 steps")
    five = _frames(preset.params(diffusion.Params))[-1]
    fl = five.values[f"{S.LAST_PASS}/{S.FLOOR}"]
    assert five.values[f"{S.LAST_PASS}/{S.EXACT}"] > 1.6 * fl
    x = five.panels[0].layers["particles"].xy
    resp, _ = gmm.e_step(x, *MIX.as_tuple())
    near = np.linalg.norm(x - MIX.means[resp.argmax(1)], axis=1) < 3 * 0.2
    assert near.mean() < 0.8  # many samples sit between the clusters
    hundred = _frames(replace(preset.params(diffusion.Params), n_steps=100,
                              reverse_per_frame=10))[-1]
    assert hundred.values[f"{S.LAST_PASS}/{S.EXACT}"] < 1.3 * fl


def test_learned_passes_carry_an_exact_twin_through_the_same_noise() -> None:
    p = _params(view="reverse", score="learned", steps=10, steps_per_frame=1, n_steps=20,
                reverse_per_frame=2, n_particles=300)
    frames = _frames(p)
    # pass 1 trains as it samples (a step a frame) and training ends near its end, so a
    # second pass with the finished network follows
    assert len(frames) == 2 * 11
    last = frames[-1]
    assert "training 10 / 10" in last.title and "pass 2" in last.title
    assert last.caption.startswith("Pass 2 done") and "after 10 Adam steps" in last.caption
    assert {f.xlabel for f in frames} == {"training step"}
    assert last.panels[0].layers["particles"].series == S.LEARNED
    # the twin: DDPM with the exact score from the same x_T through the same noise
    rng = np.random.default_rng([p.seed, 31, 1])
    _, v1 = df.VPSchedule().marginal(1.0)
    x_T = math.sqrt(float(v1)) * rng.standard_normal((300, 2))
    np.testing.assert_allclose(frames[11].panels[0].layers["particles"].xy, x_T)
    ts = df.time_grid(20, S.T_MIN)
    x = x_T
    for i in range(20):
        s = df.gmm_score(x, ts[i], *MIX.as_tuple(), df.VPSchedule())
        x = df.ddpm_step(x, s, ts[i], ts[i + 1], df.VPSchedule(), None if i == 19 else rng)
    ref = diffusion.make_noised_data(*make_dataset("8gaussians", 2000, 0.1, 0), "8gaussians",
                                     0.1, "mixture", 12, 0.1, df.VPSchedule(), 0)
    from genlab.labs.diffusion.views import Floor

    twin = Floor(ref, p).distance(x, p.seed)
    assert last.values[f"{S.LAST_PASS}/{S.EXACT}"] == pytest.approx(twin, rel=1e-12)
    assert f"the exact score's from the same noise {twin:.3f}" in last.caption


def test_the_first_pass_lands_in_a_blur_later_ones_closer_to_the_data() -> None:
    # the default demo's claim, on a shorter run of it (fewer particles, steps and passes)
    p = _params(n_particles=400, n_steps=20, reverse_per_frame=1, steps=500)
    ends = [f for f in _frames(p) if f.hold == S.PASS_HOLD]
    w = [f.values[f"{S.LAST_PASS}/{S.LEARNED}"] for f in ends]
    assert len(w) >= 3 and w[-1] < 0.75 * w[0], w
    # the first pass is the network's blur, not the luck of its noise: its exact twin is
    # much closer to the data
    assert ends[0].values[f"{S.LAST_PASS}/{S.EXACT}"] < 0.6 * w[0]


def test_a_pass_whose_network_finished_early_on_is_the_last() -> None:
    # training ends in pass 2's first frame (t = 1): no third pass
    p = _params(view="reverse", score="learned", steps=12, steps_per_frame=1, n_steps=20,
                reverse_per_frame=2, n_particles=200)
    frames = _frames(p)
    assert len(frames) == 2 * 11 and "pass 2" in frames[-1].title
    assert "finished from t = 1.00 on" in frames[-1].caption


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


def test_the_loss_splits_into_its_floor_and_the_score_error_on_one_footing():
    """Issue 12.2: ½E‖ε_θ − ε‖² = ½E‖ε* − ε‖² + ½E‖ε_θ − ε*‖², averaged over t.  A network
    off the exact ε* by a fixed δ with |δ|² = 0.25 adds 0.125 to the loss, and the metric
    reads the same 0.125."""
    from genlab.engine import diffusion as df
    from genlab.engine.datasets import make_dataset
    from genlab.labs.diffusion.net import LossDraws
    from genlab.labs.diffusion.noised import make_noised_data

    x, labels = make_dataset("8gaussians", 2000, 0.1, 0)
    data = make_noised_data(x, labels, "8gaussians", 0.1, "mixture", 8, 0.1,
                            df.VPSchedule(), 0)
    draws = LossDraws(data, seed=0)
    delta = np.array([0.3, 0.4])  # |δ| = 0.5

    class OffByDelta:
        def eps(self, x_t, t):
            rows = np.searchsorted(draws.t, t)  # the draws' own times, in order
            assert np.array_equal(draws.t[rows], t)
            return draws.exact + delta

    loss, gap = draws.loss_and_gap(OffByDelta())
    assert gap == pytest.approx(0.125, abs=1e-12)
    # on finite draws the loss is floor + gap + a cross term whose mean is 0
    terms = 2.0 * (draws.exact + delta - draws.exact) * (draws.exact - draws.eps)
    assert loss == pytest.approx(draws.floor + gap + terms.mean(), abs=1e-12)
    assert abs(terms.mean()) < 4.0 * terms.std() / math.sqrt(terms.size)
    assert draws.loss(OffByDelta()) == loss


def test_the_first_frame_shows_the_data_before_torch_loads():
    """Issue 13: a lab chosen in a fresh process shows a frame at once; the default preset
    trains a denoiser, and its first frame (the data and p_t) comes before torch is imported."""
    import subprocess
    import sys

    code = ("import sys, genlab.labs.diffusion as d\n"
            "from genlab.labs.base import RunContext\n"
            "f = next(d.run(d.Params(), RunContext()))\n"
            "print('torch' in sys.modules, f.caption.startswith('Importing torch'),"
            " len(f.panels[0].layers) > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "True"]
