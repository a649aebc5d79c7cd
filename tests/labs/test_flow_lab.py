"""The flow lab (genlab.labs.flow): views, live changes, training, 1D mode, bad inputs."""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np
import pytest

from genlab.labs import flow
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import Curve, Frame, Heatmap, Histogram, Paths, Points, Segments
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

torch = pytest.importorskip("torch")

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
CTX = RunContext(drawn=DRAWN, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # as the app's worker does; a second torch thread spin-waits on a busy 2-core machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(params: flow.Params, ctx: RunContext = CTX):
    """The lab's frames after its preview (the data shown while torch loads, tested on its
    own), passing live changes on."""
    gen = flow.run(params, ctx)
    try:
        f = next(gen)
        if f.caption.startswith("Preparing"):
            f = next(gen)
        while True:
            new = yield f
            f = gen.send(new)
    except StopIteration:
        return
    finally:
        gen.close()


def test_the_first_frame_shows_the_data_before_torch() -> None:
    f = next(flow.run(flow.Params(), CTX))
    assert f.caption.startswith("Preparing") and len(f.panels[0].layers["train"].xy) > 100


def _frames(params: flow.Params, n: int | None = None, ctx: RunContext = CTX) -> list[Frame]:
    gen = _run(params, ctx)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


def _check(f: Frame) -> None:
    assert f.caption.strip() and f.title
    assert f.first_nonfinite() is None, (f.title, f.first_nonfinite())
    assert f.nbytes < 1_000_000


def _nll(f: Frame, which: str = "train") -> float:
    return f.metrics[f"NLL/{which}"]


# ------------------------------------------------------------------------------ 2D


def test_default_density_view() -> None:
    params = flow.Params()
    validate(params)
    frames = _frames(params, 3)
    for i, f in enumerate(frames):
        _check(f)
        assert f.step == i
        assert f.title == f"RealNVP · moons · step {i} / {params.steps}"  # one step a frame
        assert f.x == i and f.xlabel == "training step"
        # the frames of a run that trains to the end: the ramp, then 5 steps a frame
        ramp = sum(flow.steps_for(k, params, 0) for k in range(flow.RAMP_FRAMES))
        assert f.total == flow.RAMP_FRAMES + 1 + -(-(params.steps - ramp) // 5)
        assert set(f.metrics) == {"NLL/train", "NLL/held-out"}
        titles = [p.title for p in f.panels]
        assert titles[1] == "learned density p(x)" and titles[2].startswith("1000 samples")
        assert len({(p.xlim, p.ylim) for p in f.panels}) == 1  # one fixed plane
        heat = f.panels[1].layers["p(x)"]
        assert isinstance(heat, Heatmap) and heat.values.shape == (flow.GRID, flow.GRID)
        assert heat.extent == (*f.panels[1].xlim, *f.panels[1].ylim)
        data = f.panels[0].layers
        assert len(data["training points"].xy) == 1500 and len(data["held-out points"].xy) == 400
    f0 = frames[0]
    assert f0.caption.startswith("Start: a RealNVP of 8 affine couplings")
    assert "1600 training and 400 held-out points" in f0.caption
    assert "log p(x) = log N(F(x); 0, I) + log|det ∂F/∂x|" in f0.caption
    assert frames[1].caption.startswith("Step 1 (early training, one step per frame): ")
    # the density is a density: it integrates to about 1 over the panel (the moons lie inside)
    heat = f0.panels[1].layers["p(x)"]
    x0, x1, y0, y1 = heat.extent
    mass = heat.values.sum() * (x1 - x0) * (y1 - y0) / flow.GRID**2
    assert 0.9 < mass < 1.01


def test_training_lowers_both_nlls_and_moves_the_samples() -> None:
    # a fast ramp (to 20 steps a frame) keeps the test short: about 300 Adam steps
    frames = _frames(replace(flow.Params(), steps_per_frame=20), 46)
    assert 250 <= frames[-1].x <= 350
    for f in frames[::10]:
        _check(f)
    first, last = frames[0], frames[-1]
    assert _nll(last) < _nll(first) - 0.8
    assert _nll(last, "held-out") < _nll(first, "held-out") - 0.8
    s0 = first.panels[2].layers["samples"].xy
    s1 = last.panels[2].layers["samples"].xy
    assert s0.shape == s1.shape == (flow.N_SAMPLES, 2) and not np.allclose(s0, s1)
    # the trained samples lie closer to the data than the untrained ones
    data = np.concatenate([first.panels[0].layers[k].xy for k in ("training points",
                                                                  "held-out points")])

    def mean_gap(s: np.ndarray) -> float:
        d = np.linalg.norm(s[:, None, :] - data[None, :, :], axis=-1)
        return float(d.min(axis=1).mean())

    assert mean_gap(s1) < 0.6 * mean_gap(s0)


def test_warp_view_layer_by_layer() -> None:
    params = replace(flow.Params(), view="warp", layer=0)
    gen = _run(params, CTX)
    try:
        f0 = next(gen)
        _check(f0)
        fwd, inv = f0.panels
        assert fwd.title == "data → latent: x′ after 0 of 8 layers"
        assert inv.title == "latent → data: z after 0 of 8 inverse layers"
        grid = fwd.layers["data grid"]
        lines = inv.layers["latent grid"]
        assert isinstance(grid, Paths) and grid.xy.shape == (flow.LINE_POINTS,
                                                             2 * flow.GRID_LINES, 2)
        # layer 0: straight lines; horizontal lines have constant y, vertical constant x
        for paths in (grid, lines):
            xy = paths.xy
            assert np.ptp(xy[:, :flow.GRID_LINES, 1], axis=0).max() < 1e-12
            assert np.ptp(xy[:, flow.GRID_LINES:, 0], axis=0).max() < 1e-12
        np.testing.assert_allclose([lines.xy[..., 0].min(), lines.xy[..., 0].max()],
                                   [-flow.LATENT_LIM, flow.LATENT_LIM])
        assert "at the start" in f0.caption
        samples0 = inv.layers["samples"].xy
        # slide the layer to the end: the data reach the latent plane, the samples the data
        f1 = gen.send(replace(params, layer=8))
        assert f1.step == 1 and "step 1 /" in f1.title  # a live change: training went on
        assert f1.panels[0].title.endswith("after 8 of 8 layers")
        assert "after all of them" in f1.caption
        assert not np.allclose(f1.panels[1].layers["samples"].xy, samples0)
        bent = f1.panels[0].layers["data grid"].xy
        assert np.ptp(bent[:, :flow.GRID_LINES, 1], axis=0).max() > 1e-3
        # a layer beyond the model's is clipped to its number of layers
        f2 = gen.send(replace(params, layer=30))
        assert f2.panels[0].title.endswith("after 8 of 8 layers")
        f3 = gen.send(replace(params, layer=3))
        assert f3.panels[1].title == "latent → data: z after 3 of 8 inverse layers"
        assert f3.panels[0].layers["data"].values is not None  # coloured by latent angle
        # and back to the density view, still the same run
        f4 = gen.send(replace(params, view="density"))
        assert len(f4.panels) == 3 and f4.step == 4 and "step 4 /" in f4.title
    finally:
        gen.close()


def test_warp_points_are_the_flow_of_the_standardised_data() -> None:
    """After all layers the forward panel holds F(x′) with a mean near 0 once trained."""
    params = replace(flow.Params(), view="warp", layer=8, steps_per_frame=20)
    frames = _frames(params, 46)
    pts = frames[-1].panels[0].layers["data"].xy
    assert np.abs(pts.mean(axis=0)).max() < 0.3
    assert 0.6 < pts.std() < 1.4


def test_log_det_view_splits_log_p() -> None:
    params = replace(flow.Params(), view="log-det")
    f = _frames(params, 11)[-1]
    _check(f)
    names = [p.title for p in f.panels]
    assert names == ["log N(F(x); 0, I)", "log|det ∂F/∂x|", "log p(x)"]
    base, ld, logp = (p.layers[n].values for p, n in zip(f.panels, names, strict=True))
    # where none is clipped, log p = log N(F(x)) + log|det|
    keep = (base > base.min()) & (logp > logp.min()) & (ld > ld.min())
    assert keep.sum() > 500
    np.testing.assert_allclose(logp[keep], base[keep] + ld[keep], atol=1e-9)
    assert logp.max() - logp.min() == pytest.approx(flow.LOG_RANGE)


def test_planar_model() -> None:
    params = replace(flow.Params(), model="planar", n_layers=6, view="warp", layer=6)
    frames = _frames(params, 4)
    for f in frames:
        _check(f)
        assert f.title.startswith("Planar flow · moons")
    assert "6 planar layers" in frames[0].caption
    assert frames[-1].panels[1].title == "latent → data: z after 6 of 6 inverse layers"


def test_run_ends_after_steps_and_steps_is_live() -> None:
    params = replace(flow.Params(), steps=10, steps_per_frame=1)
    frames = _frames(params)
    assert [f.step for f in frames] == list(range(11)) and [f.x for f in frames] == list(range(11))
    assert frames[-1].caption.startswith("Done: 10 Adam steps")
    assert all(f.total == 11 for f in frames)
    gen = _run(params, CTX)
    try:
        next(gen)
        next(gen)
        f = gen.send(replace(params, steps=12))  # train on
        assert "step 2 / 12" in f.title and f.total == 13
        titles = [g.title for g in gen]
    finally:
        gen.close()
    assert titles[-1].endswith("step 12 / 12") and len(titles) == 10


def test_live_learning_rate_reaches_adam(monkeypatch) -> None:
    from genlab.engine import flows

    seen = []
    original = flows.MLETrainer.step

    def spy(self, k=1):
        seen.append((self.lr, self.batch_size))
        return original(self, k)

    monkeypatch.setattr(flows.MLETrainer, "step", spy)
    params = flow.Params()
    gen = _run(params, CTX)
    try:
        next(gen)
        gen.send(replace(params, lr=1e-3, batch_size=64))
        gen.send(None)
        gen.send(replace(params, lr=1e-2, n_layers=3))  # n_layers is not live: ignored
    finally:
        gen.close()
    assert seen == [(1e-3, 64), (1e-3, 64), (1e-2, 256)]


def test_held_out_fraction_zero() -> None:
    params = replace(flow.Params(), held_out=0.0)
    f = _frames(params, 2)[-1]
    _check(f)
    assert set(f.metrics) == {"NLL/train"}
    assert "held-out points" not in f.panels[0].layers
    assert "held-out" not in f.caption.split("Mean NLL")[1]


def test_drawn_data_are_used_as_they_are() -> None:
    params = replace(flow.Params(), dataset="drawn", n_layers=4, hidden=16)
    f = _frames(params, 2)[0]
    shown = np.concatenate([f.panels[0].layers[k].xy for k in ("training points",
                                                               "held-out points")])
    assert len(shown) == len(DRAWN)
    np.testing.assert_array_equal(np.sort(shown, axis=0), np.sort(DRAWN, axis=0))


def test_bad_inputs_get_a_message() -> None:
    params = replace(flow.Params(), dataset="drawn")
    few = RunContext(drawn=np.eye(2).repeat(20, axis=0), device="cpu")  # 2 distinct points
    # 6 distinct points, all of them in the held-out split: the training points coincide
    held_out = 0.1
    pts = np.zeros((60, 2))
    _, held = flow._split(len(pts), held_out, params.seed)
    pts[held] = np.random.default_rng(0).normal(size=(len(held), 2))
    cases = [(params, RunContext(device="cpu"), "Paint"),
             (params, few, "at least 5 distinct points"),
             (replace(params, held_out=held_out), RunContext(drawn=pts, device="cpu"),
              "coincide")]
    for p, ctx, expected in cases:
        frames = _frames(p, ctx=ctx)
        assert len(frames) == 1, expected
        _check(frames[0])
        assert expected in frames[0].caption


def test_divergence_stops_with_a_lab_error(monkeypatch) -> None:
    from genlab.engine import flows

    calls = {"n": 0}
    original = flows.MLETrainer.step

    def flaky(self, k=1):
        calls["n"] += 1
        if calls["n"] == 3:
            return np.array([1.0, np.nan])
        return original(self, k)

    monkeypatch.setattr(flows.MLETrainer, "step", flaky)
    gen = _run(replace(flow.Params(), lr=0.05), CTX)
    frames = []
    with pytest.raises(LabError, match="diverged at step 4 .*lower the learning rate"):
        for f in gen:
            frames.append(f)
    assert len(frames) == 3  # the last good frame was yielded before the error
    for f in frames:
        _check(f)


def test_watch_catches_a_rising_loss() -> None:
    w = flow._Watch()
    w.check(np.zeros(3), 2.0, 10, 1e-2)
    w.check(np.zeros(3), 2.0 + flow.DIVERGED_RISE - 0.1, 20, 1e-2)
    with pytest.raises(LabError, match="rose from 2.00 to 12.50"):
        w.check(np.zeros(3), 12.5, 30, 1e-2)
    with pytest.raises(LabError, match="NaN"):
        flow._Watch().check(np.array([np.inf]), 1.0, 1, 1e-2)


def test_large_data_frames_stay_small_and_quick() -> None:
    import time

    params = replace(flow.Params(), n_points=20_000)
    for view in flow.VIEWS:
        gen = _run(replace(params, view=view), CTX)
        try:
            next(gen)
            t0 = time.perf_counter()
            frames = [next(gen) for _ in range(3)]
            per_frame = (time.perf_counter() - t0) / 3
        finally:
            gen.close()
        for f in frames:
            _check(f)
            assert f.nbytes < 400_000, (view, f.nbytes)
        assert per_frame < 1.0, (view, per_frame)  # ~30-50 ms on an idle core


# ------------------------------------------------------------------------------ 1D


def test_1d_view() -> None:
    params = replace(flow.Params(), dimension="1d", lr=0.02)
    frames = _frames(params, 41)
    for f in frames[::10]:
        _check(f)
        assert f.title.startswith("1D flow · two bumps · step")
        base, fmap, dens = f.panels
        assert isinstance(base.layers["N(0, 1)"], Curve)
        assert isinstance(base.layers["f⁻¹(xᵢ)"], Histogram)
        curve = fmap.layers["x = f(z)"]
        assert np.all(np.diff(curve.y) > 0)  # the map is increasing
        p = dens.layers["p(x)"]
        mass = np.trapezoid(p.y, p.x)
        assert mass == pytest.approx(1.0, abs=0.02)
        slices = dens.layers["slices"]
        assert isinstance(slices, Segments) and len(slices.starts) == len(flow.QUANTILES)
        # the slice lines stand at x = f(z_q): on the map's curve
        xq = slices.starts[:, 0]
        zq = fmap.layers["slices"].starts[:len(xq), 0]
        np.testing.assert_allclose(np.interp(zq, curve.x, curve.y), xq, atol=0.05)
    assert "p(x) = N(f⁻¹(x)) |df⁻¹/dx|" in frames[0].caption
    assert frames[0].caption.startswith("Start")
    assert _nll(frames[-1]) < _nll(frames[0]) - 0.3
    assert _nll(frames[-1], "held-out") < _nll(frames[0], "held-out") - 0.3
    # the start curves stay put while the map moves
    first, last = frames[0].panels[1].layers, frames[-1].panels[1].layers
    np.testing.assert_array_equal(first["start"].y, last["start"].y)
    assert not np.allclose(first["x = f(z)"].y, last["x = f(z)"].y)
    # the pulled-back data look more like N(0, 1) after training
    hist0, hist1 = (f.panels[0].layers["f⁻¹(xᵢ)"] for f in (frames[0], frames[-1]))
    mid = 0.5 * (hist0.edges[1:] + hist0.edges[:-1])
    normal = np.exp(-0.5 * mid**2) / np.sqrt(2 * np.pi)
    width = np.diff(hist0.edges)
    tv0 = 0.5 * np.sum(np.abs(hist0.heights - normal) * width)
    tv1 = 0.5 * np.sum(np.abs(hist1.heights - normal) * width)
    assert tv1 < tv0


@pytest.mark.parametrize("data_1d", flow.DATASETS_1D)
def test_1d_datasets_run(data_1d) -> None:
    from genlab.engine.flows_1d import DATASETS_1D

    assert flow.DATASETS_1D == DATASETS_1D
    params = replace(flow.Params(), dimension="1d", data_1d=data_1d, lr=0.02)
    frames = _frames(params, 3)
    for f in frames:
        _check(f)
        assert isinstance(f.panels[2].layers["data"], Histogram)
        assert isinstance(f.panels[2].layers["true density"], Curve)


# ------------------------------------------------------------------------------ shared


@pytest.mark.parametrize("overrides", [{}, {"dimension": "1d"}, {"view": "warp"},
                                       {"model": "planar", "n_layers": 4}])
def test_deterministic_for_a_seed(overrides) -> None:
    params = replace(flow.Params(), **overrides)
    a, b = _frames(params, 4), _frames(params, 4)
    for fa, fb in zip(a, b, strict=True):
        assert (fa.title, fa.caption, dict(fa.metrics)) == (fb.title, fb.caption,
                                                             dict(fb.metrics))
        for (na, xa), (nb, xb) in zip(fa.arrays(), fb.arrays(), strict=True):
            assert na == nb and np.array_equal(xa, xb)
    c = _frames(replace(params, seed=3), 2)
    assert dict(c[1].metrics) != dict(a[1].metrics)  # another seed, another run


@pytest.mark.parametrize("preset", [p.name for p in presets_for("flow")])
def test_every_preset_runs(preset: str) -> None:
    p = next(p for p in presets_for("flow") if p.name == preset)
    params = p.params(flow.Params)
    validate(params)
    assert p.description
    frames = _frames(params, 3)
    assert len(frames) == 3
    for f in frames:
        _check(f)
        assert "NLL/train" in f.metrics
    if params.dimension == "2d":
        n_panels = {"density": 3, "warp": 2, "log-det": 3}[params.view]
        assert len(frames[0].panels) == n_panels
        assert params.layer <= params.n_layers
    else:
        assert len(frames[0].panels) == 3


def test_first_preset_is_the_default_demo() -> None:
    assert presets_for("flow")[0].params(flow.Params) == flow.Params()


def test_points_layers_are_numpy() -> None:
    f = _frames(flow.Params(), 1)[0]
    for panel in f.panels:
        for layer in panel.layers.values():
            if isinstance(layer, Points):
                assert isinstance(layer.xy, np.ndarray) and layer.xy.dtype == np.float64


# ------------------------------------------------------------------------------ pictures


@functools.cache
def _preset_run(name: str) -> tuple[Frame, ...]:
    p = next(p for p in presets_for("flow") if p.name == name).params(flow.Params)
    return tuple(_frames(p))


def test_each_thing_has_one_series_in_panels_and_nll_curves() -> None:
    assert [s.name for s in flow.SERIES] == ["train", "held-out", "samples", "model", "true p",
                                             "start"]
    assert flow.LAB.series == flow.SERIES
    f = _frames(flow.Params(), 1)[0]
    data, _, samples = f.panels
    assert data.layers["training points"].series == "train"
    assert data.layers["held-out points"].series == "held-out"
    assert data.series_names() == ["train", "held-out"] and data.legend
    assert samples.layers["samples"].series == "samples" and samples.legend
    # the NLL curves are drawn in the colours of the points they are measured on
    assert {k.partition("/")[2] for k in f.metrics} == {"train", "held-out"}
    logdet = _frames(replace(flow.Params(), view="log-det"), 1)[0]
    assert all(pan.layers["data"].series == "train" for pan in logdet.panels)
    one = _frames(replace(flow.Params(), dimension="1d", lr=0.02), 1)[0]
    base, fmap, dens = one.panels
    assert base.series_names() == ["train", "model"]
    assert fmap.series_names() == ["start", "model"]
    assert dens.series_names() == ["train", "true p", "start", "model"]
    for frame in (f, logdet, one):
        assert frame.series == flow.SERIES


def test_warp_clouds_share_one_colour_code_the_latent_angle() -> None:
    """Both warp panels colour a point by the angle of its latent z: after all layers the
    forward cloud is in the latent plane, so its colour value is its own angle."""
    f = _frames(replace(flow.Params(), view="warp", layer=8), 2)[-1]
    fwd, inv = f.panels
    xy, v = fwd.layers["data"].xy, fwd.layers["data"].values
    np.testing.assert_allclose(v, np.arctan2(xy[:, 1], xy[:, 0]), atol=1e-9)
    z = inv.layers["samples"].values
    assert z.min() >= -np.pi and z.max() <= np.pi
    f0 = _frames(replace(flow.Params(), view="warp", layer=0), 1)[0]
    assert "coloured by the angle of their latent point z" in f0.caption


def test_1d_titles_are_short_enough_for_a_third_of_the_canvas() -> None:
    """They ran into each other (about 55 characters each)."""
    f = _frames(replace(flow.Params(), dimension="1d"), 1)[0]
    assert all(len(p.title) <= 32 for p in f.panels), [p.title for p in f.panels]


def test_early_training_is_shown_step_by_step_in_slow_motion() -> None:
    frames = _preset_run("1D: a monotone map to two bumps")
    assert [f.x for f in frames[:8]] == list(range(8))
    assert frames[0].hold > 0 and frames[1].pace > 1.5 and frames[-1].pace == 1.0
    # the NLL falls most over the first 100 steps: they stay on screen for seconds
    fps = flow.LAB.fps
    early = [f for f in frames[1:] if f.x <= 100]
    assert sum(f.pace / fps + f.hold for f in early) >= 2.5
    nll = np.array([f.metrics["NLL/train"] for f in frames])
    first = next(i for i, f in enumerate(frames) if f.x >= 100)
    assert nll[0] - nll[first] > 0.6 * (nll[0] - nll[-1])
    steps = np.diff([f.x for f in frames[flow.RAMP_FRAMES:]])
    assert set(steps[:-1]) == {5}


def test_a_converged_run_ends_and_its_caption_says_so() -> None:
    frames = _preset_run("1D: a monotone map to two bumps")
    last = frames[-1]
    p = presets_for("flow")[5].params(flow.Params)
    assert flow.MIN_STEPS <= last.x < p.steps and last.total == len(frames)
    m = re.match(r"Converged after (\d+) Adam steps: the mean NLLs \(train ([\d.]+) → "
                 r"([\d.]+), held-out ([\d.]+) → ([\d.]+) nats, smoothed, over the last "
                 r"(\d+) steps\) moved by at most 0.02 nats, so the run ends here\.",
                 last.caption)
    assert m and int(m.group(1)) == last.x
    # the numbers are the curves' own: the smoothed NLL over the two halves of the span
    span = int(m.group(6))
    for name, old, new in (("train", 2, 3), ("held-out", 4, 5)):
        v = np.array([f.metrics[f"NLL/{name}"] for f in frames])
        ema = [v[0]]
        for x in v[1:]:
            ema.append(ema[-1] + 0.1 * (x - ema[-1]))
        tail = np.array(ema)[[f.x >= last.x - span for f in frames]]
        half = len(tail) // 2
        assert float(m.group(old)) == pytest.approx(tail[:half].mean(), abs=1e-3)
        assert float(m.group(new)) == pytest.approx(tail[half:].mean(), abs=1e-3)
        assert abs(tail[half:].mean() - tail[:half].mean()) <= flow.FLAT_NATS
    assert not any(f.caption.startswith("Converged") for f in frames[:-1])


def test_a_falling_training_nll_keeps_the_run_going() -> None:
    """Over-fitting: the held-out NLL is flat but the training NLL still falls, so the run
    is not over (the story of a preset)."""
    from genlab.labs.flow.common import Converged

    p = flow.Params()
    c = Converged(p)
    done, ends = 0, []
    for k in range(400):
        done += 5
        ends.append(c.add(p, {"train": 2.0 - 0.001 * k, "held-out": 3.0}, done))
    assert not any(ends)
    c = Converged(p)
    assert any(c.add(p, {"train": 2.0, "held-out": 3.0}, 5 * (k + 1)) for k in range(400))


def test_sample_panel_axes_read_the_data_after_a_restyle(qapp) -> None:
    """The flow's sample panel once read ±6000 after a theme toggle."""
    from genlab.ui.render import Renderer
    from genlab.ui.theme import DARK, LIGHT
    from tests.ui.test_pictures import _check_axes

    frames = _frames(flow.Params(), 2)
    r = Renderer((1200, 500), LIGHT, metrics=True)
    try:
        r.render(frames[0])
        r.canvas.apply_theme(DARK)
        r.metrics.apply_theme(DARK)
        r.render(frames[1])
        _check_axes(r.canvas, frames[1])
        for plot in r.metrics.plots.values():
            assert plot.getAxis("left").autoSIPrefixScale == 1.0
        assert r.metrics.xlabels["NLL"] == "training step"
    finally:
        r.close()


def test_the_1d_start_caption_states_the_start_densitys_own_std_and_peak():
    """The untrained 1D flow's density is not 'nearly N(0, 1)': its std (0.82 for the
    default seed) and peak, stated on screen, are those of the density drawn."""
    import re

    frame = next(_run(flow.Params(dimension="1d"), RunContext()))
    m = re.search(r"std ([\d.]+) and peak ([\d.]+)", frame.caption)
    assert m, frame.caption
    curve = frame.panels[2].layers["start"]
    x, y = curve.x, curve.y
    mass = np.trapezoid(y, x)
    mean = np.trapezoid(x * y, x) / mass
    std = np.sqrt(np.trapezoid((x - mean) ** 2 * y, x) / mass)
    assert float(m.group(1)) == pytest.approx(std, abs=0.006)
    assert float(m.group(2)) == pytest.approx(y.max(), abs=0.006)
    assert abs(std - 1.0) > 0.1  # not "nearly N(0, 1)"
