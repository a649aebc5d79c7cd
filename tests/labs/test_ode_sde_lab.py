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
from genlab.labs.frame import Frame, Handles, Points
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


def test_first_preset_is_the_default_demo() -> None:
    assert presets_for("ode-sde")[0].params(ode_sde.Params) == ode_sde.Params()
    validate(ode_sde.Params())


def test_every_method_starts_from_the_same_noise_and_the_ode_rows_are_the_engines() -> None:
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


def test_the_ode_end_of_the_start_is_the_same_for_every_seed_the_sde_ends_are_not() -> None:
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
    m = last.metrics
    floor = m["sliced W₂/target vs target"]
    assert 0.03 < floor < 0.3
    for name in ("Euler ODE", "Heun ODE", "DDIM"):
        assert m[f"sliced W₂/{name}"] < 1.6 * floor, (name, m)
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
        one_torch_thread) -> None:
    ode_sde.clear_cache()
    p = replace(SMALL, score="learned", train_steps=100, n_particles=200)
    frames = _frames(p, 12)
    training = [f for f in frames if "training" in f.title]
    assert len(training) == 1 + -(-100 // ode_sde.TRAIN_STEPS_PER_FRAME)
    loss = [f.metrics["denoiser loss/fixed draws"] for f in training]
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
