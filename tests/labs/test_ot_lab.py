"""The OT lab (genlab.labs.ot): frame sequences of the three views, captions, live changes,
drawn data in two colours, degenerate inputs, presets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from genlab.engine import ot as got
from genlab.labs import ot
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import MUTED, Curve, Frame, Heatmap, Points, Segments
from genlab.labs.ot import plan as ot_plan
from genlab.labs.ot.common import ZERO_COLUMNS, e
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
DRAWN_LABELS = (DRAWN[:, 0] > 0.5).astype(np.int64)
CTX = RunContext(drawn=DRAWN, drawn_labels=DRAWN_LABELS, device="cpu")
SMALL = {"n": 120, "m": 100}


def _frames(params: ot.Params, n: int | None = None, ctx: RunContext = CTX) -> list[Frame]:
    gen = ot.run(params, ctx)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


def _check(f: Frame) -> None:
    assert f.caption.strip(), f.title
    assert f.first_nonfinite() is None, (f.title, f.first_nonfinite())
    assert f.nbytes < 1_000_000
    assert f.series == ot.SERIES


def _heat(f: Frame, panel: int) -> np.ndarray:
    """The plan matrix's block means, without the zero columns beyond the axes."""
    return f.panels[panel].layers["matrix"].values[:, :-ZERO_COLUMNS]


V = "marginal violation/entropic"
COST, OBJ = "cost/entropic", "cost/entropic + εKL"
BAR = "⟨C, P⟩ by coupling"


def _params(**kw) -> ot.Params:
    p = replace(ot.Params(), **kw)
    validate(p)
    return p


def test_first_preset_is_the_default_demo() -> None:
    assert presets_for("ot")[0].params(ot.Params) == ot.Params()


def test_exact_vs_sinkhorn_plan_run() -> None:
    params = _params(**SMALL, iters_per_frame=20)
    frames = _frames(params)
    for f in frames:
        _check(f)
    assert [f.step for f in frames] == list(range(len(frames)))
    assert "solving" in frames[0].title and "network simplex" in frames[0].caption
    first, last = frames[1], frames[-1]
    assert "P⁰" in first.caption and "ε = " in first.caption
    assert "converged" in last.title and "converged after" in last.caption
    assert last.total == last.step + 1
    for f in frames[1:]:
        assert f.log_metrics == ("marginal violation",)
        assert set(f.metrics) == {V, COST, OBJ}
        # metrics against the Sinkhorn iteration, the number in the panel's title
        assert f.xlabel == "Sinkhorn iteration"
        assert f"iteration {int(f.x)}" in f.panels[1].title
        exact_panel, sk_panel, matrix = f.panels
        assert isinstance(exact_panel.layers["plan"], Segments)
        assert exact_panel.layers["plan"].series == MUTED  # grey, behind the clouds
        assert isinstance(sk_panel.layers["source"], Points)
        assert sk_panel.layers["source"].xy.shape == (120, 2)
        assert sk_panel.layers["target"].xy.shape == (100, 2)
        # the key names the two clouds
        assert sk_panel.series_names() == ["source", "target"]
        heat = matrix.layers["matrix"]
        assert isinstance(heat, Heatmap) and heat.values.shape == (120, 100 + ZERO_COLUMNS)
        assert not matrix.equal_aspect and matrix.xlim == (0.0, 100.0)
        assert len(sk_panel.layers["plan"].starts) <= ot.MAX_SEGMENTS
    viol = [f.metrics[V] for f in frames[1:]]
    assert viol[-1] < got.TOL < viol[0]
    # the entropic plan costs more than the exact one, and its objective more than its cost;
    # the costs of the couplings are bars, the entropic one once it is a coupling
    m, bars = last.metrics, last.values
    assert bars[f"{BAR}/exact"] < m[COST] < m[OBJ]
    assert bars[f"{BAR}/entropic"] == m[COST]
    assert all(f"{BAR}/entropic" not in f.values for f in frames[:-1])
    assert bars[f"{BAR}/independent"] > m[COST]
    # the first iterations one per frame (slow motion), then more per frame
    assert [f.x for f in frames[1:4]] == [0, 1, 2]
    assert frames[2].pace == ot.pace_of(1) > 1 and "slow motion" in frames[2].caption
    # the exact plan of a uniform square problem would be a matching; here n != m
    seg = exact_panel.layers["plan"]
    assert len(seg.starts) <= 120 + 100 - 1 and seg.weights.max() == pytest.approx(1.0)


def test_sinkhorn_frames_match_the_engine() -> None:
    params = _params(**SMALL, method="sinkhorn", iters_per_frame=7, eps_rel=0.1)
    frames = _frames(params)
    pb = ot._problem(params, CTX)
    plan = got.coupling(pb.x, pb.y, "sinkhorn", pb.eps, pb.a, pb.b)
    assert frames[-1].metrics[COST] == pytest.approx(got.transport_cost(plan, pb.c),
                                                     rel=1e-12)
    np.testing.assert_allclose(_heat(frames[-1], 1), np.sqrt(plan))  # one entry per block
    assert len(frames[0].panels) == 2
    assert np.all(np.diff([f.x for f in frames]) >= 1)


def test_sinkhorn_is_paced_slow_first_then_fast_forward_to_the_end() -> None:
    """P⁰ held, the first iterations one per frame in slow motion, a ramp to iterations /
    frame, a fast forward once ⟨C, P⟩ has levelled off (the caption quotes by how much), and
    a held last frame at convergence."""
    params = _params(**SMALL, method="sinkhorn", eps_rel=0.02, iters_per_frame=3)
    frames = _frames(params)
    its = np.array([f.x for f in frames])
    steps = np.diff(its)
    assert frames[0].hold >= 1.0 and frames[0].x == 0
    assert np.all(steps[:ot.SLOW_FRAMES] == 1)
    assert all(f.pace > 1 for f in frames[1:ot.SLOW_FRAMES + 1])
    # at 20 fps the first ten iterations take seconds, not half a second
    slow = sum(f.pace for f in frames[1:ot.SLOW_FRAMES + 1]) / ot.LAB.fps
    assert slow >= 2.0
    fast = [i for i, f in enumerate(frames) if "Fast forward" in f.caption]
    assert fast, "the run fast-forwards once the plan has levelled off"
    i0 = fast[0]
    # levelled: ⟨C, P⟩ moved less than FLAT_RTOL over the last FLAT_ITERS iterations
    costs = {f.x: f.metrics[COST] for f in frames}
    now, then = costs[its[i0]], costs[max(x for x in its if x <= its[i0] - ot.FLAT_ITERS)]
    assert abs(now - then) <= ot.FLAT_RTOL * now
    moved = float(frames[i0].caption.split(" moved ")[1].split("%")[0])
    assert moved == pytest.approx(100 * abs(now - then) / now, rel=0.05)
    assert np.all(steps[i0:-1] >= 2 * steps[i0 - 1]) or steps[i0] == ot_plan.work_cap(
        ot._problem(params, CTX), True)
    assert "converged" in frames[-1].title and frames[-1].hold >= 2.0
    assert frames[-1].metrics[V] < got.TOL
    # the frame count the run announced near its end is the count it had
    assert frames[-2].total == len(frames)


def test_live_iterations_per_frame_and_non_live_fields() -> None:
    params = _params(**SMALL, method="sinkhorn", iters_per_frame=1, eps_rel=0.01)
    gen = ot.run(params, CTX)
    try:
        assert "iteration 0" in next(gen).title
        for _ in range(ot.SLOW_FRAMES + 2 * ot_plan.RAMP_FRAMES):
            f = next(gen)  # past the slow start and the ramp: one iteration per frame
        it = int(f.x)
        assert "iteration" in f.title and int(next(gen).x) == it + 1
        f = gen.send(replace(params, iters_per_frame=50))
        assert int(f.x) == it + 51
        f = gen.send(replace(params, iters_per_frame=50, eps_rel=1.0, n=30))  # not live
        assert int(f.x) == it + 101
        assert f.panels[0].layers["source"].xy.shape == (120, 2)
    finally:
        gen.close()


def test_work_per_frame_cap_at_large_n() -> None:
    params = _params(n=2000, m=2000, method="sinkhorn", iters_per_frame=500, eps_rel=0.05)
    assert ot.iters_for(ot.SLOW_FRAMES + 100, 500, 2) == 2  # 8e6 / (2000 × 2000)
    frames = _frames(params, 2)
    for f in frames:
        _check(f)  # < 1 MB although the plan is 2000 × 2000
    assert _heat(frames[1], 1).shape == (ot.HEAT, ot.HEAT)


def test_max_iterations_reached_is_said() -> None:
    params = _params(**SMALL, method="sinkhorn", eps_rel=1e-3, max_iter=30,
                     iters_per_frame=10)
    frames = _frames(params)
    assert frames[-1].x == 30 and frames[-1].total == len(frames)
    assert "max iterations" in frames[-1].title
    assert "raise max iterations or ε" in frames[-1].caption
    assert frames[-1].metrics[V] > got.TOL
    assert frames[-1].hold > 0 and f"{BAR}/entropic" in frames[-1].values


def test_independent_and_exact_are_shown_at_once() -> None:
    frames = _frames(_params(**SMALL, method="independent"))
    assert len(frames) == 1
    f = frames[0]
    _check(f)
    assert "a⊗b" in f.caption and "every entry 1/(n m)" in f.panels[1].title
    assert len(f.panels[0].layers["plan"].starts) == ot.INDEPENDENT_SEGMENTS
    # the cost is a bar, not a flat metric line, and the one frame is held
    pb = ot._problem(_params(**SMALL), CTX)
    assert not f.metrics and f.values == {f"{BAR}/independent": pytest.approx(
        float(pb.a @ pb.c @ pb.b), rel=1e-12)}
    assert f.hold > 0
    # every entry is equal: the matrix draws at the top of a scale anchored at 0 by the zero
    # columns beyond the axes (else it would be as blank as zeros)
    heat = f.panels[1].layers["matrix"]
    assert heat.extent[1] > f.panels[1].xlim[1] and heat.values[:, -1].max() == 0
    assert np.ptp(_heat(f, 1)) < 1e-12 < _heat(f, 1).min()
    frames = _frames(_params(**SMALL, method="exact"))
    assert len(frames) == 2 and "earth mover's" in frames[1].title
    bars = frames[1].values
    assert set(bars) == {f"{BAR}/independent", f"{BAR}/exact"} and not frames[1].metrics
    assert bars[f"{BAR}/exact"] < bars[f"{BAR}/independent"]
    assert "non-zero entries" in frames[1].caption and "against" in frames[1].caption


def test_interpolation_view_moves_pairs_from_source_to_target() -> None:
    params = _params(**SMALL, method="exact vs sinkhorn", view="interpolation", eps_rel=0.1)
    frames = _frames(params)
    for f in frames:
        _check(f)
        assert len(f.panels) == 2  # the solving frames already show both panels, at t = 0
    moving = [f for f in frames if "t = " in f.title and "solving" not in f.title]
    assert len(moving) == ot.T_FRAMES
    pb = ot._problem(params, CTX)
    start, end = moving[0].panels, moving[-1].panels
    ex0, ex1 = start[0].layers["moving"].xy, end[0].layers["moving"].xy
    # every pair starts on a source point and ends on a target point
    assert np.isin(ex0.view([("", float)] * 2), pb.x.view([("", float)] * 2)).all()
    assert np.isin(ex1.view([("", float)] * 2), pb.y.view([("", float)] * 2)).all()
    np.testing.assert_allclose(start[1].layers["moving"].xy, pb.x)
    plan = got.coupling(pb.x, pb.y, "sinkhorn", pb.eps, pb.a, pb.b)
    np.testing.assert_allclose(end[1].layers["moving"].xy,
                               got.barycentric_projection(plan, pb.y), atol=1e-9)
    assert "t = 1.00" in moving[-1].title and moving[-1].total == moving[-1].step + 1


def test_interpolation_live_t() -> None:
    params = _params(**SMALL, method="independent", view="interpolation")
    gen = ot.run(params, CTX)
    try:
        f0 = next(gen)
        assert "t = 0.00" in f0.title
        f1 = gen.send(replace(params, animate_t=False, t=0.25))
        assert "t = 0.25" in f1.title
        with pytest.raises(StopIteration):  # a fixed t is one frame: the run holds it
            gen.send(None)
    finally:
        gen.close()
    frames = _frames(_params(**SMALL, method="exact", view="interpolation", animate_t=False,
                             t=0.4))
    assert len(frames) == 2 and "t = 0.40" in frames[-1].title


def test_1d_gaussians() -> None:
    frames = _frames(_params(view="1D Gaussians", method="exact"))
    assert len(frames) == 1
    f = frames[0]
    _check(f)
    assert len(f.panels) == 2 and f.hold > 0
    bars = "E|X−Y|² by coupling"
    # the two costs are bars (end values), not flat metric lines
    assert not f.metrics
    assert f.values == {f"{bars}/independent": 3.0, f"{bars}/exact": 1.0}
    assert "1 + 1 + 1 = 3" in f.caption
    mono = f.panels[1].layers
    assert isinstance(mono["T(x) = x + 1"], Curve) and mono["T(x) = x + 1"].series == "exact"
    np.testing.assert_allclose(np.diff(mono["T(x) = x + 1"].y - mono["T(x) = x + 1"].x), 0)
    pairs = mono["pairs"].xy
    np.testing.assert_allclose(pairs[:, 1] - pairs[:, 0], 1.0)
    # each panel's key names the source, the target and its coupling
    assert [p.series_names() for p in f.panels] == [["source", "target", "independent"],
                                                    ["source", "target", "exact"]]
    frames = _frames(_params(view="1D Gaussians", method="sinkhorn", eps_rel=0.01))
    assert len(frames) == ot.SWEEP_FRAMES
    costs = [f.metrics["E|X−Y|²/entropic"] for f in frames]
    assert np.all(np.diff(costs) < 0) and 1.0 < costs[-1] < costs[0] < 3.0
    # against the sweep's own unit, log₁₀(median cost / ε), rising from −1 to 2
    xs = [f.x for f in frames]
    assert xs[0] == pytest.approx(-1.0) and xs[-1] == pytest.approx(2.0)
    assert np.all(np.diff(xs) > 0) and frames[0].xlabel == "log₁₀(median cost / ε)"
    # the sweep is paced: seconds on screen at the lab's speed, held at both ends
    secs = sum(f.pace for f in frames) / ot.LAB.fps + sum(f.hold for f in frames)
    assert secs >= 6.0 and frames[0].hold > 0 and frames[-1].hold > 0
    for f in frames:
        _check(f)
        assert len(f.panels) == 3 and "ρ = " in f.caption
        assert f.values[f"{bars}/entropic"] == f.metrics["E|X−Y|²/entropic"]
        # short titles: three panels side by side must not run into each other
        assert all(len(p.title) <= 24 for p in f.panels), [p.title for p in f.panels]
        assert f.panels[1].series_names()[-1] == "entropic"


def test_dirichlet_masses_draw_as_marker_areas() -> None:
    params = _params(**SMALL, weights="dirichlet", concentration=0.5, method="exact")
    pb = ot._problem(params, CTX)
    f = _frames(params)[-1]
    for name, mass in (("source", pb.a), ("target", pb.b)):
        sizes = f.panels[0].layers[name].sizes
        # area ∝ mass: size² = count · mass, a uniform mass is size 1; a tiny one still shows
        big = sizes > ot.MIN_SIZE
        np.testing.assert_allclose(sizes[big] ** 2, len(mass) * mass[big], rtol=1e-12)
        assert sizes.min() >= ot.MIN_SIZE and sizes.max() > 2 * sizes.min()
    assert "area ∝ its mass" in _frames(params, 1)[0].caption
    # equal masses: every marker one size
    f = _frames(_params(**SMALL, method="exact"))[-1]
    assert f.panels[0].layers["source"].sizes is None
    # the interpolation carries each pair's mass
    frames = _frames(replace(params, view="interpolation"))
    moving = frames[-1].panels[0].layers["moving"]
    assert moving.sizes is not None and len(moving.sizes) == len(moving.xy)
    assert "area is the mass it carries" in frames[-1].caption


def test_small_numbers_read_as_powers_of_ten() -> None:
    assert e(9.8e-10) == "9.8 × 10⁻¹⁰" and e(1e-9) == "1 × 10⁻⁹"
    assert e(9.996e-5) == "1 × 10⁻⁴" and e(0.57) == "0.57" and e(1.97) == "1.97"


def test_drawn_two_colours_one_colour_and_none() -> None:
    params = _params(dataset="drawn", target="drawn", method="exact")
    f = _frames(params)[-1]
    assert f.panels[0].layers["source"].xy.shape == (int((DRAWN_LABELS == 0).sum()), 2)
    assert f.panels[0].layers["target"].xy.shape == (int((DRAWN_LABELS == 1).sum()), 2)
    one = RunContext(drawn=DRAWN)
    frames = _frames(params, ctx=one)
    assert "same drawn points" in frames[0].caption
    assert frames[-1].values[f"{BAR}/exact"] == pytest.approx(0.0, abs=1e-12)
    frames = _frames(replace(params, target="moons"), ctx=one)
    assert "all 150 drawn points are the source" in frames[0].caption
    for ctx in (RunContext(), RunContext(drawn=np.zeros((0, 2)))):
        frames = _frames(params, ctx=ctx)
        assert len(frames) == 1 and "Paint" in frames[0].caption


def test_coinciding_points_stay_finite() -> None:
    same = RunContext(drawn=np.ones((6, 2)))
    frames = _frames(_params(dataset="drawn", target="drawn", iters_per_frame=5), ctx=same)
    for f in frames:
        _check(f)
    assert "Every point coincides" in frames[0].caption
    assert "converged" in frames[-1].title


def test_dirichlet_weights() -> None:
    params = _params(**SMALL, weights="dirichlet", concentration=0.3, method="exact")
    pb = ot._problem(params, CTX)
    assert pb.a.sum() == pytest.approx(1.0) and pb.a.std() > 1.0 / 120
    frames = _frames(params)
    assert "Dirichlet(α = 0.3) masses" in frames[0].caption
    # unequal masses split: the exact plan is no longer a matching of 100 of the points
    assert len(frames[-1].panels[0].layers["plan"].starts) > 120


def test_deterministic_for_a_seed() -> None:
    params = _params(**SMALL)
    a, b = _frames(params, 5), _frames(params, 5)
    for fa, fb in zip(a, b, strict=True):
        assert (fa.title, fa.caption, dict(fa.metrics)) == (fb.title, fb.caption,
                                                             dict(fb.metrics))
        for (na, xa), (nb, xb) in zip(fa.arrays(), fb.arrays(), strict=True):
            assert na == nb and np.array_equal(xa, xb)
    c = _frames(replace(params, seed=1), 2)
    assert not np.array_equal(c[1].panels[0].layers["source"].xy,
                              a[1].panels[0].layers["source"].xy)


def test_divergence_stops_with_a_message(monkeypatch) -> None:
    class Broken(got.LogSinkhorn):
        def run(self, steps, tol=got.TOL):
            raise FloatingPointError("Sinkhorn produced a NaN or an infinity at iteration 3")

    monkeypatch.setattr(ot_plan, "LogSinkhorn", Broken)
    gen = ot.run(_params(**SMALL, method="sinkhorn"), CTX)
    try:
        next(gen)
        with pytest.raises(LabError, match="NaN"):
            next(gen)
    finally:
        gen.close()


@pytest.mark.parametrize("preset", [p.name for p in presets_for("ot")])
def test_every_preset_runs(preset: str) -> None:
    p = next(p for p in presets_for("ot") if p.name == preset)
    params = p.params(ot.Params)
    validate(params)
    frames = _frames(params, 4)
    assert frames
    for f in frames:
        _check(f)


def test_a_hundred_thousand_drawn_points_are_subsampled_and_said_so():
    import time

    from genlab.labs.ot import Params as OTParams
    from genlab.labs.ot import run as ot_run

    pts = np.random.default_rng(0).normal(size=(100_000, 2))
    labels = (pts[:, 0] > 0).astype(np.int64)
    t0 = time.perf_counter()
    gen = ot_run(OTParams(dataset="drawn", target="drawn", method="exact"),
                 RunContext(drawn=pts, drawn_labels=labels))
    frames = [next(gen), next(gen)]
    gen.close()
    assert time.perf_counter() - t0 < 60  # minutes and gigabytes before
    assert "2000 of its" in frames[-1].caption
