"""The flow-matching lab: training frames then the flows, both nets from the same start, OT
straighter than independent, the exact field panel, live changes without retraining, the
PF-ODE comparison, drawn data, the NaN guard and the presets (small budgets)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genlab.engine import flow_matching as fm
from genlab.engine.mixtures import gallery_mixture
from genlab.labs import flow_matching as lab
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import Frame, VectorField
from genlab.labs.params import replace
from genlab.labs.presets import presets_for

FAST = dict(source="8gaussians", train_steps=50, n_particles=300, hidden=32, batch_size=64)
CTX = RunContext(device="cpu")


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    # fewer distance samples and step counts keep the tests short; the logic is the same
    monkeypatch.setattr(lab, "DIST_N", 400)
    monkeypatch.setattr(lab, "DIST_STEPS", (1, 2, 4, 8, 16))
    monkeypatch.setattr(lab, "STRAIGHT_N", 200)
    lab.clear_cache()
    yield
    lab.clear_cache()


def _params(**kw) -> lab.Params:
    return replace(lab.Params(), **{**FAST, **kw})


def _run_all(p: lab.Params, ctx: RunContext = CTX, sends: dict[int, dict] | None = None
             ) -> list[Frame]:
    """Every frame of a run; ``sends`` maps a frame index to live changes sent after it."""
    gen = lab.run(p, ctx)
    frames = [next(gen)]
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


def _training(f: Frame) -> bool:
    return "training" in f.title


def test_training_frames_then_flows_then_done():
    frames = _run_all(_params(source="standard normal", dataset="8gaussians"))
    n_train = sum(_training(f) for f in frames)
    # one frame before any step, then one per STEPS_PER_FRAME steps
    assert n_train == 1 + -(-50 // lab.STEPS_PER_FRAME)
    assert all(_training(f) for f in frames[:n_train])
    assert not any(_training(f) for f in frames[n_train:])
    assert [f.step for f in frames] == list(range(len(frames)))
    assert {"loss/independent", "loss/OT-CFM"} == set(frames[0].metrics)
    last = frames[-1]
    assert last.caption.startswith("Done:")
    assert [p.title.split(" ·")[0] for p in last.panels[:2]] == [
        "independent pairs", "OT pairs (OT-CFM)"]
    assert {"sliced W₂/independent", "sliced W₂/OT-CFM", "sliced W₂/exact field",
            "straightness S/independent", "straightness S/OT-CFM"} <= set(last.metrics)
    # the distance panel holds a curve for every flow over all the step counts
    dist = last.panels[2]
    for kind in ("independent", "OT", "exact"):
        assert len(dist.layers[f"{kind} curve"].x) == len(lab.DIST_STEPS)
    for f in frames:
        assert f.caption and f.first_nonfinite() is None
        assert f.nbytes < 1_000_000


def test_both_nets_start_from_the_same_weights():
    gen = lab.run(_params(view="fields", time=0.3), CTX)
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
    m = last.metrics
    assert m["straightness S/OT-CFM"] < 0.3 * m["straightness S/independent"]
    assert m["sliced W₂/OT-CFM"] < m["sliced W₂/independent"]


def test_exact_panel_is_the_engine_mixture_velocity():
    p = _params(source="standard normal", dataset="8gaussians", view="fields", time=0.4)
    gen = lab.run(p, CTX)
    f = next(gen)
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
    f = next(gen)
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
    trained = next(iter(lab._CACHE.values()))[1]
    assert ("independent", 8, "euler") in trained.dist


def test_live_steps_during_training_keeps_training():
    p = _params(train_steps=52, source="standard normal", dataset="8gaussians")
    frames = _run_all(p, sends={2: {"n_steps": 2, "method": "midpoint"}})
    assert sum(_training(f) for f in frames) == 1 + 52 // lab.STEPS_PER_FRAME
    last = frames[-1]
    assert "midpoint 2/2" in last.panels[0].title


def test_fm_exact_beats_pf_ode_at_four_steps():
    p = _params(source="standard normal", dataset="8gaussians", view="vs diffusion",
                n_steps=4, train_steps=50)
    last = _run_all(p)[-1]
    assert [pl.title.split(" ·")[0] for pl in last.panels[:2]] == [
        "FM, exact u_t", "diffusion PF-ODE, exact"]
    m = last.metrics
    assert m["sliced W₂/exact field"] < m["sliced W₂/PF-ODE (VP)"]
    # both carry the same noise points: row 0 of their trajectories is the same
    start = [pl.layers["trails"].xy[0] for pl in last.panels[:2]]
    np.testing.assert_array_equal(*start)


def test_drawn_target_and_no_drawn_points():
    gen = lab.run(_params(dataset="drawn"), RunContext(device="cpu"))
    f = next(gen)
    gen.close()
    assert "no data" in f.title and f.total == 1
    drawn = np.random.default_rng(0).normal(size=(80, 2)) * [1.5, 0.5]
    gen = lab.run(_params(dataset="drawn", source="standard normal", n_components=4),
                  RunContext(drawn=drawn, device="cpu"))
    f = next(gen)
    gen.close()
    assert "N(0, I) → drawn points" in f.title  # the nets train on the points themselves
    assert "4 Gaussians fitted to the drawn points" in f.caption  # the exact field's stand-in
    same = np.zeros((20, 2))
    gen = lab.run(_params(dataset="drawn"), RunContext(drawn=same, device="cpu"))
    f = next(gen)
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
