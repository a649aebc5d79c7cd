"""The ODE-vs-SDE lab (genlab.labs.ode_sde): shared noise, determinism of the ODE against the
SDE's scatter, distances against the floor, the live time slider and start, learned score."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from genlab.engine import diffusion as dif
from genlab.engine.mixtures import gallery_mixture
from genlab.labs import ode_sde
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import INK, Curve, Frame, Handles, Labels, Paths, Points
from genlab.labs.ode_sde import settings as S
from genlab.labs.ode_sde.panels import STEP_UNIT, bars_group, error_group
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
CTX = RunContext(drawn=DRAWN, device="cpu")
SMALL = ode_sde.Params(n_particles=200, n_steps=16)


def _frames(params: ode_sde.Params, n: int | None = None,
            ctx: RunContext = CTX) -> list[Frame]:
    gen = ode_sde.run(params, ctx)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


def _layer(frame: Frame, panel: int, name: str):
    return frame.panels[panel].layers[name]


def _exact(params: ode_sde.Params):
    mix = gallery_mixture(params.dataset, params.noise)
    schedule = dif.VPSchedule(params.schedule)
    return (lambda x, t: dif.gmm_score(x, t, *mix.as_tuple(), schedule)), schedule


def _step_of(frame: Frame) -> int:
    return int(frame.title.split("step ")[1].split("/")[0])


@pytest.fixture
def few_distances(monkeypatch):
    """Fewer and smaller distance runs: the tests of the pictures need a few, not all."""
    monkeypatch.setattr(S, "DIST_N", 400)
    monkeypatch.setattr(S, "DIST_STEPS", (2, 4, 8))


def test_first_preset_is_the_default_demo() -> None:
    assert presets_for("ode-sde")[0].params(ode_sde.Params) == ode_sde.Params()
    validate(ode_sde.Params())


def test_every_method_starts_from_the_same_noise_and_the_ode_rows_are_the_engines(
        few_distances) -> None:
    p = replace(SMALL, animate=False, time=0.5)
    frames = _frames(p)
    n, N = p.n_particles, p.n_steps
    x_T = ode_sde.initial_noise(p)[:n]
    first = frames[0]
    assert len(first.panels) == 4  # three samplers and the distance panel
    for i in range(3):  # row 0 is the same noise in every panel
        np.testing.assert_array_equal(_layer(first, i, "particles").xy, x_T)
    score, schedule = _exact(p)
    heun = dif.pf_ode_sample(score, x_T, schedule, N, "heun", ode_sde.T_MIN)
    ddim = dif.ddim_sample(score, x_T, schedule, N, ode_sde.T_MIN)
    last = frames[-1]
    k = round(0.5 * N)
    assert _step_of(last) == k and last.caption.startswith("Done")
    np.testing.assert_allclose(_layer(last, 0, "particles").xy, heun[k], atol=1e-12)
    np.testing.assert_allclose(_layer(last, 2, "particles").xy, ddim[k], atol=1e-12)
    assert [pan.title for pan in last.panels[:3]] == [
        "PF-ODE · Heun", "reverse SDE · Euler–Maruyama", "DDIM (η = 0)"]


def _final(params: ode_sde.Params) -> Frame:
    return _frames(replace(params, animate=False))[-1]


def test_the_ode_end_of_the_start_is_the_same_for_every_seed_the_sde_ends_are_not(
        few_distances) -> None:
    a, b = _final(SMALL), _final(replace(SMALL, seed=7))
    ode_a, ode_b = (_layer(f, 0, "start now").xy for f in (a, b))
    np.testing.assert_allclose(ode_a, ode_b, atol=1e-12)
    sde_a, sde_b = (_layer(f, 1, "start now").xy for f in (a, b))
    assert sde_a.shape == (SMALL.n_sde_runs, 2)
    assert np.abs(sde_a - sde_b).min() > 1e-6  # new noise, new ends
    assert np.ptp(sde_a, axis=0).max() > 1.0  # the overlaid runs end apart
    paths = _layer(a, 1, "start paths").xy
    np.testing.assert_allclose(paths[0], np.repeat([[SMALL.start_x, SMALL.start_y]],
                                                   SMALL.n_sde_runs, 0))
    # the particles themselves depend on the seed (new x_T), the ODE still maps each alike
    assert not np.array_equal(_layer(a, 0, "particles").xy, _layer(b, 0, "particles").xy)


def test_distances_reach_the_floor_and_euler_is_worse_than_heun_at_few_steps() -> None:
    p = replace(SMALL, methods="euler | heun | ddim", n_steps=64)
    last = _final(p)
    assert not set(last.metrics) & set(last.values)  # end values are bars, not curves
    m = {k.partition("/")[2]: v for k, v in last.values.items() if k.startswith(bars_group(64))}
    assert {k.partition("/")[0] for k in last.values} == {bars_group(64), error_group(64)}
    floor = m[S.FLOOR]
    assert 0.03 < floor < 0.3
    for name in ("Euler ODE", "Heun ODE", "DDIM"):
        assert m[name] < 1.6 * floor, (name, m)
    assert f"{S.FLOOR}: {floor:.2f} ± " in last.caption
    dist = last.panels[3].layers
    euler, heun = dist["euler curve"], dist["heun curve"]
    np.testing.assert_allclose(euler.x[:2], [1.0, 2.0])  # log₂ 2, log₂ 4
    assert euler.y[0] > heun.y[0] and euler.y[1] > heun.y[1]
    assert heun.y[0] > heun.y[-1]  # the distance falls with the steps
    sde = _final(replace(SMALL, methods="ode | sde", n_steps=64)).panels[2].layers["sde curve"]
    assert sde.y[0] > 2 * sde.y[-1]


def test_the_live_time_slider_shows_another_step_without_restarting() -> None:
    p = SMALL
    gen = ode_sde.run(p, CTX)
    try:
        frames = [next(gen) for _ in range(5)]
        assert _step_of(frames[-1]) > 0  # the sweep has begun
        for t in (0.25, 0.75):
            f = gen.send(replace(p, time=t))
            assert f.step == frames[-1].step + 1  # the same run, the next frame
            assert _step_of(f) == round(t * p.n_steps)
            frames.append(f)
        a, b = frames[-2:]
        for i in range(3):
            assert not np.array_equal(_layer(a, i, "particles").xy, _layer(b, i, "particles").xy)
        # the sweep has stopped: the next frames hold the slider's step
        f = gen.send(None)
        assert _step_of(f) == round(0.75 * p.n_steps)
        np.testing.assert_array_equal(_layer(f, 0, "particles").xy, _layer(b, 0, "particles").xy)
    finally:
        gen.close()


def test_dragging_the_start_moves_the_highlighted_paths_live() -> None:
    p = replace(SMALL, animate=False)
    gen = ode_sde.run(p, CTX)
    try:
        frames = list(itertools.islice(gen, 4))
        before = frames[-1]
        f = gen.send(replace(p, start_x=-1.5, start_y=1.0))
        assert f.step == before.step + 1
        for i in range(3):
            h = _layer(f, i, "start")
            assert isinstance(h, Handles) and h.x_params == ("start_x",)
            np.testing.assert_allclose(h.xy, [[-1.5, 1.0]])
            np.testing.assert_allclose(_layer(f, i, "start paths").xy[0, 0], [-1.5, 1.0])
        old_end, new_end = (_layer(g, 0, "start now").xy for g in (before, f))
        assert np.linalg.norm(old_end - new_end) > 0.5
    finally:
        gen.close()


@pytest.fixture
def one_torch_thread():
    """As the app's worker does: two threads on a shared 2-core machine crawl."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_learned_score_trains_then_samples_and_is_kept_for_the_next_run(
        one_torch_thread, few_distances, monkeypatch) -> None:
    monkeypatch.setattr(S, "PREVIEW_N", 100)
    ode_sde.clear_cache()
    p = replace(SMALL, score="learned", train_steps=100, n_particles=200)
    steps, done = [], 0
    while done < 100:  # the first frames take one step each (early progress shows)
        steps.append(min(ode_sde.training_steps(len(steps)), 100 - done))
        done += steps[-1]
    assert steps[0] == 1 and max(steps) <= ode_sde.TRAIN_STEPS_PER_FRAME
    frames = _frames(p, len(steps) + 3)
    training = [f for f in frames if "training" in f.title]
    assert len(training) == len(steps) + 1
    assert [f.x for f in training] == list(np.cumsum([0, *steps]))  # x: the training step
    assert {f.xlabel for f in training} == {"training step"}
    loss = [f.metrics[S.LOSS] for f in training]
    assert loss[-1] < loss[0]
    assert isinstance(training[0].panels[0].layers["DDIM samples"], Points)
    after = frames[len(training)]
    assert "learned score" in after.title and len(after.panels) == 4
    again = _frames(p, 1)[0]
    assert "training" not in again.title and "reused" in again.caption
    ode_sde.clear_cache()


def test_drawn_points_are_fitted_and_no_drawing_gives_a_message() -> None:
    p = replace(SMALL, dataset="drawn", n_components=3)
    f = _frames(p, 1)[0]
    assert "3 Gaussians fitted to the drawn points" in f.caption
    msg = _frames(p, ctx=RunContext())
    assert len(msg) == 1 and "Paint" in msg[0].caption
    few = _frames(p, ctx=RunContext(drawn=np.zeros((3, 2))))
    assert len(few) == 1 and "distinct" in few[0].caption


def test_a_nan_score_stops_the_run_with_a_lab_error(monkeypatch) -> None:
    monkeypatch.setattr(dif, "gmm_score", lambda x, *a: np.full_like(x, np.nan))
    with pytest.raises(LabError, match="NaN"):
        _frames(SMALL, 3)


@pytest.mark.parametrize("preset", [p.name for p in presets_for("ode-sde")])
def test_every_preset_runs(preset: str, one_torch_thread) -> None:
    ode_sde.clear_cache()
    p = next(p for p in presets_for("ode-sde") if p.name == preset)
    params = p.params(ode_sde.Params)
    validate(params)
    if params.score == "learned":  # a short budget: the test checks the frames, not the fit
        params = dataclasses.replace(params, train_steps=100)
    frames = _frames(params, 10)
    assert frames
    for f in frames:
        assert f.caption and f.first_nonfinite() is None
        assert f.nbytes < 1_000_000
    ode_sde.clear_cache()


# ------------------------------------------------------------------------------ pictures


def test_each_method_is_one_named_series_in_every_method_set(few_distances) -> None:
    """A sampler has one look whatever the panels beside it ("Heun ODE" was blue in one
    preset and orange in another): its curve, dots and bar are its Series."""
    names = {s.name for s in ode_sde.SERIES}
    assert names == {"Euler ODE", "Heun ODE", "SDE", "DDIM", S.FLOOR}
    seen: dict[str, set[str]] = {}
    for methods in S.METHOD_SETS:
        p = replace(SMALL, methods=methods, n_steps=8)
        last = _final(p)
        assert last.series == ode_sde.SERIES
        dist = last.panels[-1]
        for name, layer in dist.layers.items():
            if isinstance(layer, Curve):
                seen.setdefault(name, set()).add(layer.series)
        assert dist.legend is None and len(dist.series_names()) >= 3  # the automatic key
        assert not any(isinstance(lay, Labels) for lay in dist.layers.values())
        bars = {k.partition("/")[2] for k in last.values}
        assert bars == {ode_sde.LABEL[m] for m in ode_sde.methods_of(p)} | {S.FLOOR}
    assert seen["heun curve"] == {"Heun ODE"} and seen["ddim curve"] == {"DDIM"}
    assert seen["floor"] == {S.FLOOR}


def test_the_sweep_is_paced_held_at_both_ends_and_plots_the_distance_to_p_t(
        few_distances) -> None:
    p = replace(SMALL, n_steps=32)
    frames = _frames(p)
    sweep = [f for f in frames if f.metrics]
    ks = ode_sde.sweep_steps(1.0, 32)
    assert [int(f.x) for f in sweep[:len(ks)]] == ks and sweep[0].hold == S.HOLD_START
    assert {f.xlabel for f in sweep} == {STEP_UNIT}
    seconds = sum(f.pace for f in sweep[:len(ks)]) / S.FPS
    assert abs(seconds - S.SWEEP_S) < 0.05 * S.SWEEP_S
    paces = [f.pace for f in sweep[:len(ks)]]
    assert paces[-1] > 3 * paces[0]  # slow motion near the data, where the clusters form
    few = S.sweep_paces(dif.time_grid(4, ode_sde.T_MIN))  # four steps: none held for long
    assert few.max() <= S.STEP_MAX_S * S.FPS and few.sum() < S.SWEEP_S * S.FPS
    assert frames[-1].caption.startswith("Done") and frames[-1].hold == S.HOLD_END
    assert all(f.hold == 0 for f in frames[1:-1] if f is not sweep[0])
    # the distance to p_t: every sampler near the floor at the noise, a curve that moves
    track = {name: [f.metrics[f"{S.TRACK}/{name}"] for f in sweep[:len(ks)]]
             for name in ("Heun ODE", "SDE", "DDIM", S.FLOOR)}
    for name in ("Heun ODE", "SDE", "DDIM"):
        assert track[name][0] < 1.5 * track[S.FLOOR][0]
    assert np.ptp(track[S.FLOOR]) > 0.02
    # fixed draws of p_t: the floor changes smoothly from step to step
    assert np.abs(np.diff(track[S.FLOOR])).max() < 0.25 * np.ptp(track[S.FLOOR]) + 1e-9


def test_the_plane_fits_the_noise_and_the_target(few_distances) -> None:
    last = _final(SMALL)
    lo, hi = last.panels[0].xlim
    assert last.panels[0].ylim == (lo, hi) and lo == -hi
    x_T = ode_sde.initial_noise(SMALL)[:SMALL.n_particles]
    ends = _layer(last, 0, "particles").xy
    for pts in (x_T, ends):
        assert np.mean(np.abs(pts).max(axis=1) <= hi) > 0.99
    reach = max(np.quantile(np.abs(x_T), 0.995), np.quantile(np.abs(ends), 0.995))
    assert hi < 1.3 * reach  # no empty margin around the clusters


def test_the_start_runs_are_faint_and_the_start_is_named_in_ink(few_distances) -> None:
    last = _final(replace(SMALL, n_sde_runs=8))
    ode_path, sde_runs = _layer(last, 0, "start paths"), _layer(last, 1, "start paths")
    assert isinstance(sde_runs, Paths) and sde_runs.fade and not ode_path.fade
    assert sde_runs.alpha < ode_path.alpha and sde_runs.xy.shape[1] == 8
    trails = [_layer(last, i, "trails") for i in range(2)]
    assert trails[1].xy.shape[1] < trails[0].xy.shape[1] and trails[1].alpha < trails[0].alpha
    handle = _layer(last, 1, "start")
    assert handle.texts == ("start",) and handle.series == INK


def _preset(name: str) -> ode_sde.Params:
    return next(p for p in presets_for("ode-sde") if p.name == name).params(ode_sde.Params)


def test_the_preset_claims_about_the_distance_to_p_t_hold(few_distances) -> None:
    """50 steps: every sampler stays about as close to p_t as two draws of it; 10 steps: the
    SDE leaves p_t along the way while the Heun ODE does not."""
    for name, sde_far in (("ODE, SDE and DDIM with 50 steps", False),
                          ("ODE vs SDE with 10 steps", True)):
        # fewer particles than the preset's (a shorter test); the floor scales alike
        frames = [f for f in _frames(replace(_preset(name), n_particles=500)) if f.metrics]
        floor = np.array([f.metrics[f"{S.TRACK}/{S.FLOOR}"] for f in frames])
        for m in ode_sde.methods_of(_preset(name)):
            d = np.array([f.metrics[f"{S.TRACK}/{ode_sde.LABEL[m]}"] for f in frames])
            if m == "sde" and sde_far:
                assert d.max() > 3 * floor[np.argmax(d)]
            else:
                assert np.all(d < 1.6 * floor), (name, m, (d / floor).max())


def test_ddim_vs_euler_preset_says_what_the_endpoint_errors_show(few_distances) -> None:
    """Issue 12.7: against a fine solve, Heun ends nearest; Euler overshoots the ring, DDIM
    undershoots it and is no nearer than Euler; the bars and caption carry the errors."""
    preset = next(q for q in presets_for("ode-sde") if q.name == "DDIM vs Euler ODE")
    p = replace(preset.params(ode_sde.Params), n_particles=400)
    assert f"{S.REF_STEPS}-step Heun solve" in preset.description
    last = _final(p)
    err = {k.partition("/")[2]: v for k, v in last.values.items()
           if k.startswith(error_group(p.n_steps))}
    assert set(err) == {"Euler ODE", "Heun ODE", "DDIM"}
    assert err["Heun ODE"] < 0.75 * min(err["Euler ODE"], err["DDIM"])
    assert err["DDIM"] > 0.8 * err["Euler ODE"]  # "no nearer than Euler"
    for name, v in err.items():
        assert f"{name} {v:.3f}" in last.caption
    # the errors against an independent fine solve here (engine's Heun at 2000 steps)
    score, schedule = _exact(p)
    x_t = ode_sde.initial_noise(p)[:S.REF_N]
    fine = dif.pf_ode_sample(score, x_t, schedule, 2000, "heun", S.T_MIN)[-1]
    target_r = np.linalg.norm(gallery_mixture(p.dataset, p.noise).sample(20000)[0], axis=1)
    for m, name in (("euler", "Euler ODE"), ("heun", "Heun ODE")):
        end = dif.pf_ode_sample(score, x_t, schedule, p.n_steps, m, S.T_MIN)[-1]
        assert abs(np.linalg.norm(end - fine, axis=1).mean() - err[name]) < 1e-3
    euler = dif.pf_ode_sample(score, x_t, schedule, p.n_steps, "euler", S.T_MIN)[-1]
    ddim = dif.ddim_sample(score, x_t, schedule, p.n_steps, S.T_MIN)[-1]
    r = target_r.mean()
    assert np.linalg.norm(euler, axis=1).mean() > r > np.linalg.norm(ddim, axis=1).mean()
