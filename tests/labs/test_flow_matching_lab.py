"""The flow-matching lab: training frames then the flows, both nets from the same start, OT
straighter than independent, the exact field panel, live changes without retraining, the
PF-ODE comparison, drawn data, the NaN guard, the presets (small budgets), and the pictures'
promises: loss against the training step, end values as bars, no empty panel, pacing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genlab.engine import flow_matching as fm
from genlab.engine.mixtures import gallery_mixture
from genlab.labs import flow_matching as lab
from genlab.labs.base import LabError, RunContext
from genlab.labs.flow_matching import settings as S
from genlab.labs.frame import Curve, Frame, VectorField
from genlab.labs.params import replace
from genlab.labs.presets import presets_for

FAST = dict(source="8gaussians", train_steps=50, n_particles=300, hidden=32, batch_size=64)
CTX = RunContext(device="cpu")
RAMP_FRAMES = S.RAMP_FRAMES  # the lab's own, before the fixture makes it short


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    # fewer distance samples and step counts keep the tests short; the logic is the same
    monkeypatch.setattr(S, "DIST_N", 400)
    monkeypatch.setattr(S, "DIST_STEPS", (1, 2, 4, 8, 16))
    monkeypatch.setattr(S, "STRAIGHT_N", 200)
    monkeypatch.setattr(S, "RAMP_FRAMES", 8)  # fewer preview frames of 50 steps
    lab.clear_cache()
    yield
    lab.clear_cache()


def _params(**kw) -> lab.Params:
    return replace(lab.Params(), **{**FAST, **kw})


def _run_all(p: lab.Params, ctx: RunContext = CTX, sends: dict[int, dict] | None = None
             ) -> list[Frame]:
    """Every frame of a run after the preview (the data shown while torch loads, checked on
    its own); ``sends`` maps a frame index to live changes sent after it."""
    gen = lab.run(p, ctx)
    first = next(gen)
    frames = [next(gen) if first.caption.startswith("Preparing") else first]
    cur = p
    try:
        while True:
            change = (sends or {}).get(len(frames) - 1)
            new = None
            if change is not None:
                cur = new = dataclasses.replace(cur, **change)
            frames.append(gen.send(new))
    except StopIteration:
        pass
    return frames


def _first(gen) -> Frame:
    """The first frame after the preview (the data shown while torch loads)."""
    f = next(gen)
    return next(gen) if f.caption.startswith("Preparing") else f


def _training(f: Frame) -> bool:
    return "training" in f.title


def _n_training_frames(train_steps: int) -> int:
    """One frame before any step, then one per ramped group of steps."""
    n, done = 1, 0
    while done < train_steps:
        done += lab.training_steps(n - 1)
        n += 1
    return n


def test_training_frames_then_flows_then_done():
    frames = _run_all(_params(source="standard normal", dataset="8gaussians"))
    n_train = sum(_training(f) for f in frames)
    assert n_train == _n_training_frames(50)
    assert all(_training(f) for f in frames[:n_train])
    assert not any(_training(f) for f in frames[n_train:])
    assert [f.step for f in frames] == list(range(len(frames)))
    assert {"loss/independent", "loss/OT-CFM"} == set(frames[0].metrics)
    last = frames[-1]
    assert last.caption.startswith("Done:")
    assert [p.title.split(" ·")[0] for p in last.panels[:2]] == [
        "independent pairs", "OT pairs (OT-CFM)"]
    # end results are bars, not metric lines repeated every frame
    assert {"sliced W₂ at N/independent", "sliced W₂ at N/OT-CFM", "sliced W₂ at N/exact field",
            "sliced W₂ at N/floor", "straightness S/independent",
            "straightness S/OT-CFM"} == set(last.values)
    assert not any(f.metrics for f in frames[n_train:])
    # the distance panel holds a curve for every flow over all the step counts
    dist = last.panels[2]
    for kind in ("independent", "OT", "exact"):
        assert len(dist.layers[f"{kind} curve"].x) == len(S.DIST_STEPS)
    for f in frames:
        assert f.caption and f.first_nonfinite() is None
        assert f.nbytes < 1_000_000


def test_both_nets_start_from_the_same_weights():
    gen = lab.run(_params(view="fields", time=0.3), CTX)
    next(gen)  # the preview
    first = next(gen)
    gen.close()
    ind, ot = first.panels[0].layers["v_θ"], first.panels[2].layers["v_θ"]
    assert isinstance(ind, VectorField)
    np.testing.assert_array_equal(ind.uv, ot.uv)  # same init, no step yet
    # the same batches of x0, x1, t: the OT batch is a re-pairing, so it is no worse
    assert first.metrics["loss/OT-CFM"] < first.metrics["loss/independent"]


def test_ot_pairing_gives_straighter_flow_and_fewer_steps():
    p = _params(source="standard normal", dataset="8gaussians", train_steps=300,
                batch_size=128, n_steps=2)
    last = _run_all(p)[-1]
    m = last.values
    assert m["straightness S/OT-CFM"] < 0.3 * m["straightness S/independent"]
    assert m["sliced W₂ at N/OT-CFM"] < m["sliced W₂ at N/independent"]


def test_exact_panel_is_the_engine_mixture_velocity():
    p = _params(source="standard normal", dataset="8gaussians", view="fields", time=0.4)
    gen = lab.run(p, CTX)
    f = _first(gen)
    gen.close()
    panel = f.panels[1]
    assert panel.title.startswith("exact u_t over p_t")
    field = panel.layers["u_t"]
    u = fm.mixture_velocity(field.xy, 0.4, fm.STANDARD_NORMAL, gallery_mixture("8gaussians", 0.1))
    # arrows are capped at one length for the three panels; below the cap they are u itself
    norm = np.linalg.norm(u, axis=1)
    cap = np.linalg.norm(field.uv, axis=1).max()
    below = norm < cap - 1e-9
    assert below.sum() > 0.5 * len(u)
    np.testing.assert_allclose(field.uv[below], u[below], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(field.uv[~below], u[~below] * (cap / norm[~below])[:, None])
    assert "p_t" in panel.layers


def test_fitted_target_is_said_in_the_panel():
    gen = lab.run(_params(dataset="moons", n_components=6, view="fields"), CTX)
    f = _first(gen)
    gen.close()
    assert "fitted" in f.panels[1].title
    assert "6 Gaussians fitted to moons" in f.caption


def test_live_time_steps_and_view_rerender_without_retraining():
    p = _params()
    frames = _run_all(p)
    n_done = len(frames)
    # after the end, a live change restarts the run (the window's rule); the kept nets make
    # it skip training and show the change at once
    q = dataclasses.replace(p, time=0.5, n_steps=4)
    again = _run_all(q, sends={0: {"view": "fields"}, 1: {"time": 0.2},
                                2: {"view": "vs diffusion"}})
    assert not any(_training(f) for f in again)
    assert len(again) < n_done
    first = again[0]
    # 2 of 4 steps shown
    assert "2/4" in first.panels[0].title and "2/4" in first.panels[1].title
    assert again[1].panels[1].title.endswith("t = 0.50")
    assert again[2].panels[1].title.endswith("t = 0.20")
    assert "needs N(0, I)" in again[3].panels[0].title  # source is 8gaussians here
    # the trained nets are the same objects: same distances as in the first run for N = 8
    from genlab.engine.training.store import STORE

    trained = next(v for k, v in STORE._items.items() if k.startswith("flow-matching:"))[1]
    assert ("independent", 8, "euler") in trained.dist


def test_live_steps_during_training_keeps_training():
    p = _params(train_steps=52, source="standard normal", dataset="8gaussians")
    frames = _run_all(p, sends={2: {"n_steps": 2, "method": "midpoint"}})
    assert sum(_training(f) for f in frames) == _n_training_frames(52)
    last = frames[-1]
    assert "midpoint 2/2" in last.panels[0].title


def test_fm_exact_beats_pf_ode_at_four_steps():
    p = _params(source="standard normal", dataset="8gaussians", view="vs diffusion",
                n_steps=4, train_steps=50)
    last = _run_all(p)[-1]
    assert [pl.title.split(" ·")[0] for pl in last.panels[:2]] == [
        "FM, exact u_t", "diffusion PF-ODE, exact"]
    m = last.values
    assert m["sliced W₂ at N/exact field"] < m["sliced W₂ at N/PF-ODE (VP)"]
    # both carry the same noise points: row 0 of their trajectories is the same
    start = [pl.layers["trails"].xy[0] for pl in last.panels[:2]]
    np.testing.assert_array_equal(*start)


def test_drawn_target_and_no_drawn_points():
    gen = lab.run(_params(dataset="drawn"), RunContext(device="cpu"))
    f = _first(gen)
    gen.close()
    assert "no data" in f.title and f.total == 1
    drawn = np.random.default_rng(0).normal(size=(80, 2)) * [1.5, 0.5]
    gen = lab.run(_params(dataset="drawn", source="standard normal", n_components=4,
                          view="fields"), RunContext(drawn=drawn, device="cpu"))
    f = _first(gen)
    gen.close()
    assert "N(0, I) → drawn points" in f.title  # the nets train on the points themselves
    assert "4 Gaussians fitted to the drawn points" in f.caption  # the exact field's stand-in
    same = np.zeros((20, 2))
    gen = lab.run(_params(dataset="drawn"), RunContext(drawn=same, device="cpu"))
    f = _first(gen)
    gen.close()
    assert "too few points" in f.title


def test_divergence_raises_lab_error(monkeypatch):
    from genlab.engine.flow_matching_trainer import FlowMatchingTrainer

    real_step = FlowMatchingTrainer.step

    def blow_up(self, k=1):
        # the OT net's loss turns NaN after some steps, as with a far too large step size
        if self.coupling == "ot" and self.n_steps_ >= 8:
            return np.array([np.nan])
        return real_step(self, k)

    monkeypatch.setattr(FlowMatchingTrainer, "step", blow_up)
    with pytest.raises(LabError, match="OT-CFM net diverged.*lower the learning rate"):
        _run_all(_params(source="standard normal", dataset="8gaussians"))


def test_non_finite_trajectories_raise_lab_error(monkeypatch):
    from genlab.engine.flow_matching_trainer import FlowMatchingTrainer

    def wild(self, x, t):
        return np.full((len(x), 2), np.inf)

    monkeypatch.setattr(FlowMatchingTrainer, "velocity", wild)
    with pytest.raises(LabError, match="raise the number of steps"):
        _run_all(_params(source="standard normal", dataset="8gaussians"))


@pytest.mark.parametrize("preset", [pr.name for pr in presets_for("flow-matching")])
def test_every_preset_runs_briefly(preset):
    pr = next(x for x in presets_for("flow-matching") if x.name == preset)
    p = replace(pr.params(lab.Params), train_steps=50, n_particles=200, hidden=32)
    drawn = np.random.default_rng(2).normal(size=(100, 2))
    frames = _run_all(p, RunContext(drawn=drawn, device="cpu"))
    assert frames[-1].caption.startswith("Done:")
    assert all(f.first_nonfinite() is None for f in frames)


def test_first_preset_is_the_default():
    pr = presets_for("flow-matching")[0]
    assert pr.params(lab.Params) == lab.Params()


def test_loss_is_plotted_against_the_training_step():
    frames = _run_all(_params(source="standard normal", dataset="8gaussians"))
    train = [f for f in frames if _training(f)]
    steps = [int(f.title.split("training ")[1].split(" /")[0]) for f in train]
    assert [f.x for f in train] == steps and steps[-1] == 50
    assert all(f.xlabel == "training step" for f in frames)
    # after training the frames stay at the last step: the loss plot's cursor does not jump
    assert all(f.x == 50 for f in frames[len(train):])
    # the first frames show single steps, later ones more at a time
    assert steps[:3] == [0, 1, 2] and max(np.diff(steps)) > 1


def test_no_panel_before_it_has_something_to_show():
    """While the nets train the third panel is the loss (both curves drawn), and the distance
    panel replaces it only once it holds a point; every drawn curve has the series colour of
    its flow, and the bars name the same series."""
    frames = _run_all(_params(source="standard normal", dataset="8gaussians"))
    seen_distance = False
    for f in frames:
        third = f.panels[2]
        curves = [layer for layer in third.layers.values() if isinstance(layer, Curve)]
        if third.title.startswith("training loss"):
            assert not seen_distance
            assert {c.series for c in curves} <= {"independent", "OT-CFM"}
            assert third.xlabel == "training step"
        else:
            seen_distance = True
            assert third.title.startswith("sliced W₂")
            assert any(len(c.x) for c in curves if c.series != "floor")
    assert seen_distance and frames[0].panels[2].title.startswith("training loss")
    last = frames[-1]
    names = {v.partition("/")[2] for v in last.values}
    assert set(last.panels[2].series_names()) == names  # independent, OT, exact, floor


def test_the_trained_flow_moves_from_source_to_target_in_seconds():
    p = _params(source="standard normal", dataset="8gaussians", n_steps=4)
    frames = _run_all(p)
    after = [f for f in frames if not _training(f)]
    shown = [int(f.panels[0].title.split("/")[0].split()[-1]) for f in after]
    sweep = [f for f, k in zip(after, shown, strict=True) if k < 4]
    assert shown[0] == 0 and sweep[0].hold >= 1.0  # a beat on the source
    assert shown == sorted(shown)
    seconds = sum(f.pace / S.FPS + f.hold for f in sweep)
    assert seconds >= S.SWEEP_S  # not 4 frames (0.2 s) as before
    assert lab.LAB.fps == S.FPS


def test_default_training_plays_in_seconds_not_twenty(monkeypatch):
    monkeypatch.setattr(S, "RAMP_FRAMES", RAMP_FRAMES)
    n = _n_training_frames(lab.Params().train_steps)
    assert 5.0 <= n / S.FPS <= 10.0


def test_the_floor_says_how_it_was_measured():
    drawn = np.random.default_rng(0).normal(size=(80, 2)) * [1.5, 0.5]
    last = _run_all(_params(dataset="drawn", source="standard normal", n_components=4),
                    RunContext(drawn=drawn, device="cpu"))[-1]
    assert "floor, two disjoint halves of the drawn points" in last.caption
    last = _run_all(_params(source="standard normal", dataset="8gaussians"))[-1]
    assert "floor, two draws of the target" in last.caption


def test_the_first_frame_shows_the_data_before_torch_loads():
    import subprocess
    import sys

    code = ("import sys, genlab.labs.flow_matching as fm\n"
            "from genlab.labs.base import RunContext\n"
            "f = next(fm.run(fm.Params(), RunContext()))\n"
            "print(f.caption.startswith('Preparing'), 'torch' in sys.modules,"
            " len(f.panels[0].layers['target'].xy) > 100)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "True"]
