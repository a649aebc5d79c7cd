"""The guidance lab (genlab.labs.guidance): training then sampling, live w / class / probe
without retraining, the exact fidelity-diversity trade-off, drawn classes, the NaN guard, and
the pictures' promises: one look per series, metrics against w, a paced sweep, arrows with
named tips, a y limit that holds the curves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genlab.engine import diffusion as dif
from genlab.labs import guidance as G
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import Arrows, Curve, Frame, Handles, Labels, Points
from genlab.labs.guidance import settings as S
from genlab.labs.guidance.settings import COND, GUIDED, TRADEOFF, UNCOND, fidelity, spread
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

CTX = RunContext(device="cpu")
EXACT = G.Params(score="exact only", sweep=False, n_samples=200, n_steps=20)
SMALL = G.Params(train_steps=60, n_samples=100, n_steps=10)


@pytest.fixture(autouse=True)
def fresh_cache():
    G.clear_cache()  # a denoiser kept from another test would skip the training frames
    yield
    G.clear_cache()


def _until(gen, cond, limit=400, send=None) -> list[Frame]:
    """Frames from gen (sending ``send`` first) until cond(frame) holds (included)."""
    out = [gen.send(send)] if send is not None else [next(gen)]
    while not cond(out[-1]):
        assert len(out) < limit, out[-1].title
        out.append(next(gen))
    return out


def _done(f: Frame) -> bool:
    return f.caption.startswith("Done")


def _layers(f: Frame, i: int):
    return f.panels[i].layers


def test_first_preset_is_the_default_demo() -> None:
    assert presets_for("guidance")[0].params(G.Params) == G.Params()
    validate(G.Params())


def test_training_frames_then_the_sweep_then_the_slider_w() -> None:
    gen = G.run(SMALL, CTX)
    frames = _until(gen, _done)
    gen.close()
    assert frames[0].caption.startswith("Preparing")  # the data, while torch loads
    frames = frames[1:]
    titles = [f.title for f in frames]
    n_train = sum("training" in t for t in titles)
    assert n_train == 1 + SMALL.train_steps // G.TRAIN_STEPS_PER_FRAME  # 15 steps a frame
    assert all("training" in t for t in titles[:n_train])  # training comes first
    first = frames[0]
    assert set(first.metrics) == {f"loss/{COND}", f"loss/{UNCOND}"}
    assert "label dropout" in first.caption
    assert frames[n_train - 1].metrics[f"loss/{COND}"] < first.metrics[f"loss/{COND}"]
    main = frames[n_train:]
    shown_w = [float(t.split("w = ")[1].split(" ")[0]) for t in titles[n_train:]]
    assert shown_w[0] == 0.0 and 10.0 in shown_w  # the sweep goes from 0 to 10 ...
    assert shown_w[-1] == SMALL.w  # ... and ends on the slider's value
    last = main[-1]
    assert len(last.panels) == 3  # learned samples, exact samples, trade-off
    names = {f"{TRADEOFF}/{m(k)}" for m in (fidelity, spread) for k in ("learned", "exact")}
    assert any(set(f.metrics) == names for f in main)
    assert "∇log p(x) + w ∇log p(y|x)" in last.caption
    # the trade-off panel has both kinds' curves over the whole grid
    for kind in ("learned", "exact"):
        curve = _layers(last, 2)[fidelity(kind)]
        np.testing.assert_allclose(curve.x, G.W_GRID)


def test_live_w_and_class_resample_without_retraining() -> None:
    p = replace(SMALL, sweep=False, w=1.0)
    gen = G.run(p, CTX)
    frames = _until(gen, _done)
    at_1 = _layers(frames[-1], 0)["samples"].xy.copy()
    more = _until(gen, _done, send=replace(p, w=6.0))
    assert not any("training" in f.title for f in more)  # the denoiser is kept
    assert "w = 6.0" in more[-1].title
    at_6 = _layers(more[-1], 0)["samples"].xy
    assert not np.allclose(at_1, at_6)
    # while the new samples are computed the last good ones stay on screen
    if len(more) > 1:
        assert "sampling" in more[0].panels[0].title
        np.testing.assert_array_equal(_layers(more[0], 0)["samples"].xy, at_1)
    other = _until(gen, _done, send=replace(p, w=6.0, label=1))
    gen.close()
    assert "class 1" in other[-1].title
    ex0 = _layers(more[-1], 1)["samples"].xy
    ex1 = _layers(other[-1], 1)["samples"].xy
    # the moons: class 0 is the upper one, class 1 the lower one
    assert ex0[:, 1].mean() > ex1[:, 1].mean() + 1.0


def test_exact_fidelity_rises_and_spread_falls_with_w() -> None:
    gen = G.run(replace(EXACT, w=0.0), CTX)
    low = _until(gen, _done)[-1].metrics
    high = _until(gen, _done, send=replace(EXACT, w=8.0))[-1].metrics
    gen.close()
    fid, spr = f"{TRADEOFF}/{fidelity('exact')}", f"{TRADEOFF}/{spread('exact')}"
    assert 0.3 < low[fid] < 0.7  # w = 0: both moons, about half in class 0
    assert high[fid] > 0.99
    assert high[spr] < 0.8 * low[spr]


def test_probe_arrows_are_the_engines_exact_scores_and_follow_the_handle() -> None:
    p = replace(EXACT, probe_x=1.0, probe_y=-0.5, t=0.4, w=4.0, view="fields")
    gen = G.run(p, CTX)
    f = next(gen)
    cm, _, _ = G.class_data(p, CTX)
    sched = dif.VPSchedule("linear")

    def check(frame: Frame, q: G.Params) -> None:
        layers = _layers(frame, 0)  # exact only: the exact field, then the trade-off
        probe = np.array([[q.probe_x, q.probe_y]])
        handle = layers["probe"]
        assert isinstance(handle, Handles) and handle.x_params == ("probe_x",)
        np.testing.assert_allclose(handle.xy, probe)
        v = float(sched.marginal(q.t)[1])
        u = cm.uncond_score(probe, q.t, sched)
        c = cm.score(probe, q.t, 0, sched)
        for name, want in (("∅", u), ("y", c), ("w", u + q.w * (c - u))):
            seg = layers[f"exact {name}"]
            assert isinstance(seg, Arrows)
            np.testing.assert_allclose(seg.starts, probe)
            np.testing.assert_allclose(seg.ends, probe + v * want, atol=1e-9)

    check(f, p)
    q = replace(p, probe_x=-2.0, probe_y=1.5)
    g = gen.send(q)
    gen.close()
    check(g, q)
    assert not np.allclose(_layers(g, 0)["exact w"].ends, _layers(f, 0)["exact w"].ends)


def test_the_fields_view_shows_the_learned_field_beside_the_exact_one() -> None:
    p = replace(SMALL, sweep=False, view="fields", probe_x=1.0, probe_y=0.0)
    frames = _until(G.run(p, CTX), _done)
    last = frames[-1]
    assert [panel.title.split(" guided")[0] for panel in last.panels[:2]] == [
        "learned", "exact"]
    learned, exact = _layers(last, 0), _layers(last, 1)
    assert {"learned w", "probe", "guided field"} <= set(learned)
    assert {"exact w", "probe", "guided field"} <= set(exact)
    # a short training gives a field of the right sign: the guided arrows at the probe point
    # the same way (cosine > 0), but they are not the same arrays
    a = learned["learned w"].ends - learned["learned w"].starts
    b = exact["exact w"].ends - exact["exact w"].starts
    assert float((a * b).sum()) > 0 and not np.allclose(a, b)


def test_drawn_points_in_two_colours_are_two_classes() -> None:
    rng = np.random.default_rng(0)
    left = rng.normal(size=(60, 2)) * 0.4 + [-2.0, 0.0]
    right = rng.normal(size=(60, 2)) * 0.4 + [2.0, 1.0]
    ctx = RunContext(drawn=np.concatenate([left, right]),
                     drawn_labels=np.repeat([0, 3], 60), device="cpu")
    p = replace(EXACT, dataset="drawn", label=3, w=2.0)
    gen = G.run(p, ctx)
    frames = _until(gen, _done)
    gen.close()
    last = frames[-1]
    assert "class 3" in last.title
    samples = _layers(last, 0)["samples"]
    assert isinstance(samples, Points)
    assert (samples.labels == 3).mean() > 0.95  # coloured by the paint colour they land in
    assert samples.xy[:, 0].mean() > 1.0
    # label 2 is not painted: the nearest colour present (3) is sampled
    assert G.class_index(np.array([0, 3]), 2) == 1 and G.class_index(np.array([0, 3]), 1) == 0


@pytest.mark.parametrize("drawn,labels,what", [
    (None, None, "no data"),
    (np.random.default_rng(0).normal(size=(30, 2)), np.zeros(30, np.int64), "one class"),
])
def test_missing_or_single_class_data_give_a_message(drawn, labels, what) -> None:
    ctx = RunContext(drawn=drawn, drawn_labels=labels, device="cpu")
    frames = list(G.run(replace(EXACT, dataset="drawn"), ctx))
    assert len(frames) == 1 and what in frames[0].title


def test_a_huge_learning_rate_stops_with_advice() -> None:
    with pytest.raises(LabError, match="lower the learning rate"):
        for _ in G.run(replace(SMALL, lr=0.5, train_steps=300), CTX):
            pass


def test_the_run_ends_when_done_and_a_rerun_reuses_the_denoiser_and_samples() -> None:
    G.clear_cache()
    p = replace(SMALL, sweep=False)
    first = list(G.run(p, CTX))
    assert _done(first[-1]) and sum(_done(f) for f in first) == 1  # no idle frames
    assert [f.step for f in first] == list(range(len(first)))
    # a change after the end restarts the run (the window's rule): the kept denoiser and
    # sample sets make it skip training and show the change at once
    again = list(G.run(replace(p, w=p.w), CTX))
    assert not any("training" in f.title for f in again)
    assert len(again) == 1 and _done(again[0])
    np.testing.assert_array_equal(_layers(again[0], 0)["samples"].xy,
                                  _layers(first[-1], 0)["samples"].xy)
    # other training settings train again
    other = list(G.run(replace(p, p_uncond=0.3), CTX))
    assert other[0].caption.startswith("Preparing") and "training" in other[1].title
    G.clear_cache()


@pytest.mark.parametrize("name", [p.name for p in presets_for("guidance")])
def test_every_preset_runs_to_the_end(name) -> None:
    preset = next(p for p in presets_for("guidance") if p.name == name)
    p = preset.params(G.Params)
    p = dataclasses.replace(p, train_steps=min(p.train_steps, 45), n_samples=100)
    frames = list(G.run(p, CTX))
    assert _done(frames[-1])
    for f in frames[-3:]:
        assert f.first_nonfinite() is None and f.caption


def _sweep_run() -> list[Frame]:
    gen = G.run(SMALL, CTX)
    frames = _until(gen, _done)
    gen.close()
    return frames


def test_the_sweep_is_paced_with_beats_on_w_0_and_1_and_plotted_against_w() -> None:
    frames = _sweep_run()
    train = [f for f in frames if "training" in f.title]
    assert [f.x for f in train] == [int(f.title.split("step ")[1].split(" ")[0])
                                    for f in train]
    assert all(f.xlabel == "training step" for f in train)
    sweep = [f for f in frames[len(train):] if f.caption.startswith("Sweeping")]
    assert all(f.xlabel == "guidance w" and f.x == float(f.title.split("w = ")[1].split()[0])
               for f in sweep)
    seconds = {}
    for f in sweep:
        seconds[f.x] = seconds.get(f.x, 0.0) + f.pace / S.FPS + f.hold
    assert sorted(seconds) == list(G.W_GRID)  # every w of the grid is shown
    assert sum(seconds.values()) >= 10.0  # not 1.5 s
    assert seconds[0.0] >= 2.0 and seconds[1.0] >= 2.0  # beats: unconditional, conditional
    assert min(v for w, v in seconds.items() if w <= 2) > max(v for w, v in seconds.items()
                                                              if w > 2)  # slow motion
    assert G.LAB.fps == S.FPS
    # the metric curves are the panel's: the same series, the same numbers at each w
    last_at = {f.x: f for f in sweep if f.metrics}
    panel = _layers(frames[-1], 2)
    for kind in ("learned", "exact"):
        for measure in (fidelity, spread):
            curve = panel[measure(kind)]
            assert isinstance(curve, Curve) and curve.series == measure(kind)
            got = [last_at[w].metrics[f"{TRADEOFF}/{measure(kind)}"] for w in curve.x]
            np.testing.assert_allclose(got, curve.y)
    # after the sweep the slider's w only moves the cursor: no point cuts the curves
    assert not frames[-1].metrics and frames[-1].x == SMALL.w


def test_one_look_per_measure_and_source() -> None:
    table = {s.name: s for s in G.LAB.series}
    for kind, dashed in (("exact", False), ("learned", True)):
        assert table[fidelity(kind)].dashed == table[spread(kind)].dashed == dashed
    assert table[fidelity("exact")].colour == table[fidelity("learned")].colour
    assert table[spread("exact")].colour == table[spread("learned")].colour
    assert table[fidelity("exact")].colour != table[spread("exact")].colour


def test_the_trade_off_panel_holds_its_curves() -> None:
    """Without label dropout the learned spread climbs far above 1 (the reported curve ran
    off the top): the y limit grows to hold every curve and marker."""
    p = replace(SMALL, p_uncond=0.0, train_steps=100)
    gen = G.run(p, CTX)
    frames = _until(gen, _done)
    gen.close()
    tops = []
    for f in frames[-len(G.W_GRID):]:
        panel = f.panels[2]
        tops.append(panel.ylim[1])
        for layer in panel.layers.values():
            ys = layer.y if isinstance(layer, Curve) else (
                layer.xy[:, 1] if isinstance(layer, Points) else np.zeros(0))
            assert (ys <= panel.ylim[1]).all()
    assert tops == sorted(tops)  # it only grows within a run: no jumping axis


def test_probe_scores_are_arrows_named_at_their_tips() -> None:
    p = replace(EXACT, probe_x=1.0, probe_y=-0.5, t=0.4, w=4.0, view="fields")
    gen = G.run(p, CTX)
    f = next(gen)
    gen.close()
    layers = _layers(f, 0)
    probe = np.array([p.probe_x, p.probe_y])
    span = f.panels[0].xlim[1] - f.panels[0].xlim[0]
    for series, short in ((UNCOND, "∅"), (COND, "y"), (GUIDED, "w")):
        arrow, name = layers[f"exact {short}"], layers[f"{short} name"]
        assert isinstance(arrow, Arrows) and arrow.series == series and arrow.min_px >= 28
        assert isinstance(name, Labels) and name.series == series and name.texts == (short,)
        d = arrow.ends[0] - probe
        a = name.xy[0] - probe
        # on the arrow's line, at its tip or (a short arrow, drawn longer) further out
        assert abs(d[0] * a[1] - d[1] * a[0]) < 1e-9 * max(1.0, float(d @ d))
        assert float(a @ d) > 0
        assert np.linalg.norm(a) >= max(np.linalg.norm(d), 0.07 * span) - 1e-9
    assert f.panels[0].series_names()[:3] == [UNCOND, COND, GUIDED]


def test_the_sweep_reveals_the_curves_as_w_grows() -> None:
    frames = _sweep_run()
    for f in frames:
        if f.caption.startswith("Sweeping"):
            curves = [la for la in f.panels[2].layers.values() if isinstance(la, Curve)]
            assert all(c.x.max() <= f.x + 1e-9 for c in curves if len(c.x))


def test_guided_samples_do_not_follow_the_tilted_density_and_depend_on_the_sampler():
    """What the lab now says of w > 1: class 2 of 8 gaussians at w = 4 with the exact guided
    score, DDIM and DDPM samples differ from each other and from p₀(x)p₀(y|x)^w (by
    quadrature), whose std is ≈ 0.20 while DDIM's is ≈ 0.05 across the ring."""
    from genlab.engine import diffusion as dif
    from genlab.engine.guidance import gallery_class_mixtures

    cm = gallery_class_mixtures("8gaussians")
    sched = dif.VPSchedule()
    y, w = 2, 4.0

    def score(x, t):
        return cm.guided_score(x, t, y, w, sched)

    x_T = np.random.default_rng(0).standard_normal((2000, 2))
    ddim = dif.ddim_sample(score, x_T, sched, 200)[-1]
    ddpm = dif.ddpm_sample(score, x_T, sched, 200, seed=1)[-1]
    g = np.linspace(-5, 5, 401)
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    logd = cm.guided_log_density(xy, 1e-3, y, w, sched)
    d = np.exp(logd - logd.max())
    d /= d.sum()
    mean = d @ xy
    std = np.sqrt(d @ (xy - mean) ** 2)
    ddim_std, ddpm_std = ddim.std(0), ddpm.std(0)
    assert std[0] > 0.15 and ddim_std[0] < 0.6 * std[0]  # not the tilted density's spread
    assert abs(ddim_std[0] - ddpm_std[0]) > 0.05  # the sampler changes the result
    from genlab.labs.guidance import panels

    assert "not the marginals of one diffusion" in panels.W_ABOVE_ONE
