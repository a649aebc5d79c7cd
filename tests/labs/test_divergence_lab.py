"""The divergence lab (genlab.labs.divergence): frames, captions, handles, live changes."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

import numpy as np
import pytest

from genlab.engine import divergences as dv
from genlab.labs import divergence as lab
from genlab.labs.base import LabError, RunContext
from genlab.labs.divergence.params import FIT
from genlab.labs.frame import (
    Curve,
    Ellipses,
    Frame,
    Handles,
    Heatmap,
    Labels,
    Paths,
    Points,
    Segments,
)
from genlab.labs.params import param_fields, replace, validate
from genlab.labs.presets import presets_for

CTX = RunContext(device="cpu")
PRESETS = {p.name: p for p in presets_for("divergence")}
METRIC_GROUPS = ("KL(p‖q)", "KL(q‖p)", "TV")
FWD, REV = "forward KL", "reverse KL"


def _frames(params: lab.Params, n: int | None = None) -> list[Frame]:
    gen = lab.run(params, CTX)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


def _preset(name: str) -> lab.Params:
    return PRESETS[name].params(lab.Params)


def _fit_1d(f: Frame, direction: str) -> tuple[float, float]:
    xy = f.panels[1].layers[f"{direction} fit"].xy
    return float(xy[0, 0]), float(xy[0, 1])


def _check(f: Frame, dim: int) -> None:
    assert f.caption.strip() and f.first_nonfinite() is None
    w1 = "W1" if dim == 1 else "sliced W1"
    expected = {f"{g}/{d}" for g in (*METRIC_GROUPS, w1) for d in (FWD, REV)}
    assert set(f.metrics) == expected
    assert all(v >= -1e-9 for v in f.metrics.values())
    assert f.nbytes < 1_000_000
    assert f.series == lab.SERIES and f.xlabel == "optimisation step"


def _cross_centres(f: Frame, panel: int) -> np.ndarray:
    """Centres of the optima's crosses (forward, reverse)."""
    opt = f.panels[panel].layers["optima"]
    assert isinstance(opt, Segments) and opt.series == "exact optimum"
    return 0.5 * (opt.starts[:2] + opt.ends[:2])


def _run_to_end(gen, first, n: int = 10**6) -> Frame:
    """Frames of a running generator until it ends (or n more): the last one."""
    f = first
    for _ in range(n):
        try:
            f = next(gen)
        except StopIteration:
            break
    return f


def test_defaults_full_run_1d() -> None:
    params = lab.Params()
    validate(params)
    frames = _frames(params)
    assert frames[-1].total == len(frames) and frames[-1].x < params.steps
    for i, f in enumerate(frames):
        _check(f, 1)
        assert f.step == i and f.total >= len(frames)
        dens, plane = f.panels
        for name, kind in (("target p", Curve), ("forward fit", Curve), ("reverse fit", Curve),
                           ("modes", Handles), ("forward name", Labels)):
            assert isinstance(dens.layers[name], kind)
        for name, kind in (("landscape", Heatmap), ("forward path", Paths),
                           ("reverse path", Paths), ("forward fit", Points),
                           ("optima", Segments), ("start", Handles)):
            assert isinstance(plane.layers[name], kind)
        # one point per optimisation step on each path; the metrics against that step
        assert plane.layers["forward path"].xy.shape == (1 + int(f.x), 1, 2)
    assert frames[0].title.endswith("start") and "start at N(0.50, 0.50²)" in frames[0].caption
    assert frames[-1].title.endswith("converged")
    # fixed axes all along
    assert len({(p.xlim, p.ylim) for f in frames for p in f.panels[:1]}) == 1
    assert len({(p.xlim, p.ylim) for f in frames for p in f.panels[1:]}) == 1
    # the end: forward = moments (mode covering), reverse = mode 2 (mode seeking)
    last = frames[-1]
    mean, std = dv.fit_gaussian([1, 1], [-2.5, 2.5], [0.6, 0.6], "forward")
    fm, fs = _fit_1d(last, "forward")
    assert fm == pytest.approx(mean, abs=0.1) and fs == pytest.approx(std, abs=0.1)
    rm, rs = _fit_1d(last, "reverse")
    assert rm == pytest.approx(2.5, abs=0.05) and rs == pytest.approx(0.6, abs=0.05)
    assert "locked onto mode 2" in last.caption
    m = last.metrics
    assert m[f"KL(q‖p)/{REV}"] == pytest.approx(np.log(2), abs=0.01)
    assert m[f"KL(p‖q)/{FWD}"] < m[f"KL(p‖q)/{REV}"]  # each wins its own KL
    assert m[f"KL(q‖p)/{REV}"] < m[f"KL(q‖p)/{FWD}"]
    # the crosses: the moments, and the reverse optimum from where the reverse fit is
    fwd_x, rev_x = _cross_centres(last, 1)
    np.testing.assert_allclose(fwd_x, [mean, std], atol=1e-6)
    np.testing.assert_allclose(rev_x, dv.fit_gaussian([1, 1], [-2.5, 2.5], [0.6, 0.6],
                                                      "reverse", init=(rm, rs)), atol=1e-6)


def test_the_run_is_paced_and_ends_on_the_optima() -> None:
    """The start held, the first steps one per frame in slow motion (seconds at the lab's
    speed), and an end, held, once both fits sit on their crosses: the caption's distances
    are the frame's own."""
    frames = _frames(lab.Params())
    steps = np.diff([f.x for f in frames])
    assert frames[0].hold >= 1.0
    assert np.all(steps[:lab.SLOW_FRAMES] == 1)
    assert all(f.pace == lab.SLOW for f in frames[1:lab.SLOW_FRAMES + 1])
    assert sum(f.pace for f in frames[1:lab.SLOW_FRAMES + 1]) / lab.LAB.fps >= 2.5
    assert steps.max() == lab.Params().steps_per_frame  # ramped up to steps / frame
    last = frames[-1]
    assert last.hold >= 2.0 and all(f.hold == 0 for f in frames[1:-1])
    assert "Converged after" in last.caption and f"{int(last.x)} steps" in last.caption
    assert "Converged" not in frames[-2].caption
    assert last.x >= lab.MIN_STEPS
    # the end dots sit on the crosses (the caption's window averages are within tolerance;
    # the last step itself within twice that, Adam's jitter)
    for d, cross in zip(("forward", "reverse"), _cross_centres(last, 1), strict=True):
        mu, sigma = _fit_1d(last, d)
        assert abs(mu - cross[0]) <= 2 * lab.MEAN_TOL * cross[1]
        assert abs(np.log(sigma / cross[1])) <= 2 * lab.LOG_TOL
    numbers = [float(t.split(" ")[0].rstrip("%")) for t in
               last.caption.split("within ")[1:]]
    assert len(numbers) == 2 and numbers[0] <= lab.MEAN_TOL


def test_one_look_per_fit_in_every_panel_key_and_metric() -> None:
    frames = _frames(lab.Params(), 3) + _frames(_preset("2D: mode seeking in the plane"), 3)
    for f in frames:
        for name in f.metrics:
            assert name.partition("/")[2] in (FWD, REV)
        first = f.panels[0]
        assert first.series_names()[:2] == [FWD, REV]  # the key names both fits
        for d in ("forward", "reverse"):
            label = first.layers[f"{d} name"]
            assert label.texts == (FIT[d].name,) and label.series == FIT[d].name
            assert f.panels[1].layers[f"{d} fit"].series == FIT[d].name
    # 1D: the crosses are drawn last, over the end dots, and span more than a dot
    plane = frames[0].panels[1]
    names = list(plane.layers)
    assert names[-1] == "optima" and names.index("reverse fit") < names.index("optima")
    assert plane.series_names() == [FWD, REV, "exact optimum"]
    # 2D: each fit's ellipse in its series' colour, solid; the crosses over them
    layers = frames[-1].panels[0].layers
    for d in ("forward", "reverse"):
        assert list(layers[f"{d} fit"].labels) == [FIT[d].colour]
        assert not layers[f"{d} fit"].dashed
    assert list(layers).index("optima") > list(layers).index("reverse fit")


def test_frames_show_the_curves_and_handles_of_the_params() -> None:
    params = lab.Params()
    f = _frames(params, 4)[-1]
    dens = f.panels[0].layers
    fm, fs = _fit_1d(f, "forward")
    curve = dens["forward fit"]
    np.testing.assert_allclose(curve.y, np.exp(-0.5 * ((curve.x - fm) / fs) ** 2)
                               / (fs * np.sqrt(2 * np.pi)), rtol=1e-12)
    target = dv.Mixture.make([1, 1], [-2.5, 2.5], [0.6, 0.6])
    np.testing.assert_allclose(dens["target p"].y, np.exp(target.logpdf(dens["target p"].x)))
    assert dens["target p"].fill
    handles = dens["modes"]
    np.testing.assert_allclose(handles.xy, [[-2.5, 0.0], [2.5, 0.0]])
    assert handles.x_params == ("mu1", "mu2") and handles.y_params == (None, None)
    start = f.panels[1].layers["start"]
    np.testing.assert_allclose(start.xy, [[params.init_mean, params.init_std]])
    names = {fld.name for fld in param_fields(lab.Params)}
    for layer in (handles, start):
        assert {n for n in (*layer.x_params, *layer.y_params) if n} <= names
    # the minibatches as rugs below the axis: x ~ p (forward) and x = μ + σε (reverse)
    rug = dens["reverse minibatch"].xy
    assert (rug[:, 1] < 0).all() and len(rug) == lab.RUG
    rm, rs = _fit_1d(f, "reverse")
    assert rug[:, 0].mean() == pytest.approx(rm, abs=0.5 * rs)
    assert rug[:, 0].std() == pytest.approx(rs, rel=0.25)


def test_the_animated_path_is_the_engines_kl_fit_steps() -> None:
    params = lab.Params()
    frames = _frames(params, 40)
    steps = int(frames[-1].x)
    for d in ("forward", "reverse"):
        path = frames[-1].panels[1].layers[f"{d} path"].xy[1:, 0]
        ref = np.array(list(dv.kl_fit_steps(
            [1, 1], [-2.5, 2.5], [0.6, 0.6], d, init=(params.init_mean, params.init_std),
            lr=params.lr, n_samples=params.n_samples, seed=params.seed, steps=steps)))
        np.testing.assert_allclose(path, ref[:, :2], rtol=1e-12)


def test_2d_run() -> None:
    params = _preset("2D: mode seeking in the plane")
    frames = _frames(params)
    assert frames[-1].title.endswith("converged") and frames[-1].x <= params.steps
    for f in frames[::10]:
        _check(f, 2)
        plane, cut = f.panels
        assert isinstance(plane.layers["target p"], Heatmap)
        assert plane.layers["target p"].values.shape == (lab.panels.DENSITY_CELLS_2D,) * 2
        assert isinstance(plane.layers["forward fit"], Ellipses)
        assert plane.layers["modes"].x_params == ("mu1x", "mu2x")
        assert plane.layers["modes"].y_params == ("mu1y", "mu2y")
        assert {"target p", "forward fit", "reverse fit"} <= set(cut.layers)
    last = frames[-1].panels[0].layers
    target = dv.Mixture.make([1, 1], [[-2, -1.5], [2, 1.5]], [0.6, 0.6])
    mean, cov = target.moments()
    np.testing.assert_allclose(last["forward fit"].means[0], mean, atol=0.15)
    np.testing.assert_allclose(last["forward fit"].covs[0], cov, atol=0.3)
    np.testing.assert_allclose(last["reverse fit"].means[0], [2.0, 1.5], atol=0.1)
    np.testing.assert_allclose(last["reverse fit"].covs[0], 0.36 * np.eye(2), atol=0.06)
    np.testing.assert_allclose(_cross_centres(frames[-1], 0)[0], mean, atol=1e-6)
    assert frames[-1].metrics[f"KL(q‖p)/{REV}"] == pytest.approx(np.log(2), abs=0.02)
    assert "locked onto mode 2" in frames[-1].caption


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_runs(name: str) -> None:
    params = _preset(name)
    validate(params)
    frames = _frames(params, 8)
    dim = 1 if params.dimension == "1d" else 2
    for f in frames:
        _check(f, dim)
        handles = f.panels[0].layers["modes"]
        assert len(handles.xy) == params.n_modes


def test_first_preset_is_the_default_demo() -> None:
    assert list(PRESETS.values())[0].params(lab.Params) == lab.Params()


def test_presets_end_as_their_descriptions_say() -> None:
    f = _frames(_preset("overlapping modes: the two fits agree"))[-1]
    assert "The two fits agree" in f.caption
    (fm, fs), (rm, rs) = _fit_1d(f, "forward"), _fit_1d(f, "reverse")
    assert abs(fm - rm) < 0.1 and abs(fs - rs) < 0.1
    f = _frames(_preset("unequal weights: reverse KL takes the light mode"))[-1]
    assert "locked onto mode 2" in f.caption
    f = _frames(_preset("a wide start: reverse KL straddles the modes"))[-1]
    assert "a local optimum of reverse KL" in f.caption
    # the description's numbers: KL(q‖p) ≈ 2.1 here against log 2 ≈ 0.69 on one mode
    assert f.metrics[f"KL(q‖p)/{REV}"] == pytest.approx(2.1, abs=0.1)
    assert "would score KL(q‖p) = 0.69 <" in f.caption
    assert "≈ 2.1 against log 2 ≈ 0.69" in PRESETS["a wide start: reverse KL straddles the "
                                                  "modes"].description
    f = _frames(_preset("three modes: the start decides"))[-1]
    assert "locked onto mode" in f.caption


def test_dragging_a_mode_moves_the_target_and_the_fits_go_on() -> None:
    params = lab.Params()
    gen = lab.run(params, CTX)
    try:
        frames = [next(gen) for _ in range(40)]
        before = frames[-1]
        land0 = before.panels[1].layers["landscape"].values
        f = gen.send(replace(params, mu2=4.0))
        assert "The target moved" in f.caption
        np.testing.assert_allclose(f.panels[0].layers["modes"].xy[:, 0], [-2.5, 4.0])
        # the paths go on (no restart) and the landscape is the new target's
        n0 = before.panels[1].layers["reverse path"].xy.shape[0]
        assert f.panels[1].layers["reverse path"].xy.shape[0] == n0 + lab.steps_for(
            40, params.steps_per_frame)
        assert not np.array_equal(f.panels[1].layers["landscape"].values, land0)
        assert f.step == before.step + 1
        # the run ends only once the fits sit on the new target's optima
        f = _run_to_end(gen, f)
        assert "The target moved" not in f.caption and "Converged" in f.caption
        assert f.x - before.x >= lab.FLAT_STEPS
        rm, rs = _fit_1d(f, "reverse")
        assert rm == pytest.approx(4.0, abs=0.1)  # the reverse fit followed its mode
        target = dv.Mixture.make([1, 1], [-2.5, 4.0], [0.6, 0.6])
        fm, _ = _fit_1d(f, "forward")
        assert fm == pytest.approx(target.moments()[0][0], abs=0.2)
    finally:
        gen.close()


def test_live_landscape_lr_and_non_live_fields() -> None:
    params = lab.Params()
    gen = lab.run(params, CTX)
    try:
        f0 = next(gen)
        assert "KL(q‖p)" in f0.panels[1].title
        f1 = gen.send(replace(params, landscape="forward KL"))
        assert "KL(p‖q)" in f1.panels[1].title
        target = dv.Mixture.make([1, 1], [-2.5, 2.5], [0.6, 0.6])
        heat = f1.panels[1].layers["landscape"]
        # the darkest cell (−log KL largest) is the forward optimum's (the moments)
        i, j = np.unravel_index(np.argmax(heat.values), heat.values.shape)
        x0, x1, y0, y1 = heat.extent
        ny, nx = heat.values.shape
        mu = x0 + (j + 0.5) * (x1 - x0) / nx
        sigma = y0 + (i + 0.5) * (y1 - y0) / ny
        mean, std = dv.fit_gaussian(target.weights, target.means[:, 0], target.stds, "forward")
        assert abs(mu - mean) < (x1 - x0) / nx and abs(sigma - std) < (y1 - y0) / ny
        # a non-live field sent by mistake changes nothing
        f2 = gen.send(replace(params, landscape="forward KL", init_mean=-3.0, seed=9))
        np.testing.assert_allclose(f2.panels[1].layers["start"].xy, [[0.5, 0.5]])
        # the steps per frame are live (once the slow start and the ramp are over)
        for _ in range(lab.SLOW_FRAMES + lab.RAMP_FRAMES):
            f2 = gen.send(None)
        n = f2.panels[1].layers["forward path"].xy.shape[0]
        f3 = gen.send(replace(params, landscape="forward KL", steps_per_frame=10))
        assert f3.panels[1].layers["forward path"].xy.shape[0] == n + 10
        assert f3.total == f3.step + 1 + math.ceil((params.steps - (n - 1 + 10)) / 10)
    finally:
        gen.close()


def test_live_learning_rate_changes_the_steps() -> None:
    params = lab.Params()
    slow = replace(params, lr=0.005)

    def run_with(second: lab.Params) -> np.ndarray:
        gen = lab.run(params, CTX)
        try:
            next(gen)
            gen.send(second)
            f = next(gen)
            return f.panels[1].layers["reverse path"].xy[:, 0]
        finally:
            gen.close()

    fast_path, slow_path = run_with(params), run_with(slow)
    np.testing.assert_array_equal(fast_path[:1], slow_path[:1])
    assert np.abs(np.diff(slow_path[1:], axis=0)).max() < np.abs(np.diff(fast_path[1:],
                                                                        axis=0)).max()


def test_a_third_mode_and_coinciding_modes() -> None:
    params = replace(lab.Params(), n_modes=3, mu3=0.0)
    f = _frames(params, 3)[-1]
    assert f.panels[0].layers["modes"].x_params == ("mu1", "mu2", "mu3")
    # the number of modes is live: a third mode appears mid-run
    gen = lab.run(lab.Params(), CTX)
    try:
        next(gen)
        f = gen.send(replace(lab.Params(), n_modes=3, mu3=0.0))
        np.testing.assert_allclose(f.panels[0].layers["modes"].xy[:, 0], [-2.5, 2.5, 0.0])
        assert "The target moved" in f.caption
    finally:
        gen.close()
    # 2D, two modes on top of each other: p is one Gaussian, both fits agree on it
    same = replace(lab.Params(), dimension="2d", mu1x=1.0, mu1y=1.0, mu2x=1.0, mu2y=1.0,
                   init_x=-1.0, init_y=0.0, init_std=1.0, steps=450)
    frames = _frames(same)
    for f in frames[::20]:
        _check(f, 2)
    last = frames[-1]
    assert "The two fits agree" in last.caption
    assert last.metrics[f"KL(q‖p)/{REV}"] < 0.01
    assert last.metrics[f"KL(p‖q)/{FWD}"] < 0.01


def test_divergence_stops_the_run_with_a_message(monkeypatch) -> None:
    # make any real step count as diverged: the engine's bound, then the lab's message
    monkeypatch.setattr(dv, "MAX_ABS_LOG_SCALE", 0.0)
    gen = lab.run(lab.Params(), CTX)
    try:
        next(gen)
        with pytest.raises(LabError, match="diverged.*lower the learning rate"):
            next(gen)
    finally:
        gen.close()


def test_frames_are_cheap() -> None:
    for params in (lab.Params(), _preset("2D: three modes")):
        gen = lab.run(params, CTX)
        try:
            next(gen)
            times = []
            for i in range(15):
                t0 = time.perf_counter()
                if i % 3 == 0:  # a mode dragged: the target and its pictures are recomputed
                    gen.send(dataclasses.replace(params, mu2=params.mu2 + 0.05 * i,
                                                 mu2x=params.mu2x + 0.05 * i))
                else:
                    next(gen)
                times.append(time.perf_counter() - t0)
        finally:
            gen.close()
        # ≤ 50 ms a frame on a quiet machine (measured ~2-30 ms); loose bound for a busy one
        assert np.median(times) < 0.15, times
