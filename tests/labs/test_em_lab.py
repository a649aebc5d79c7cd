"""The EM lab (genlab.labs.em): frame sequence, captions, live changes, degenerate cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from genlab.labs import em
from genlab.labs.base import RunContext
from genlab.labs.frame import Ellipses, Frame, Heatmap, Points
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
PICKS = np.array([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]])
CTX = RunContext(drawn=DRAWN, picks=PICKS, device="cpu")


def _frames(params: em.Params, n: int | None = None, ctx: RunContext = CTX) -> list[Frame]:
    gen = em.run(params, ctx)
    try:
        return list(gen if n is None else itertools.islice(gen, n))
    finally:
        gen.close()


def _ll(f: Frame, key: str = "mean log-likelihood/EM") -> float:
    return f.metrics[key]


def _check(f: Frame) -> None:
    assert f.caption.strip(), f.title
    assert f.first_nonfinite() is None, (f.title, f.first_nonfinite())


def _span(title: str) -> tuple[int, int]:
    """The iterations a frame title names: "iteration 7 / …" or "iterations 7–12 / …"."""
    words = title.split("EM · ")[1].split(" /")[0].split()
    a, _, b = words[1].partition("–")
    return int(a), int(b or a)


def _check_sequence(frames: list[Frame], params: em.Params) -> None:
    """Frame 0 is the start; then an E-step (at x = i − ½) and an M-step (at x = i) frame per
    iteration i, one frame per iteration of Adam alone once EM has converged beside it, or one
    frame for iterations a–b of a fast forward (at x = b), which a frame of every iteration
    after a quiet one ends."""
    total = 1 + 2 * params.n_iter
    em_done = False
    it = 0
    for i, f in enumerate(frames):
        _check(f)
        assert f.step == i and f.total == total
        assert f.series == em.SERIES and f.xlabel
        if i == 0:
            assert f.x == 0 and f.hold == em.HOLD_START
            continue
        layers = f.panels[0].layers
        expected = ["data", "ellipses"] if params.density == "none" else [
            "density", "data", "ellipses"]
        assert list(layers) == expected
        assert isinstance(layers["data"], Points)
        assert isinstance(layers["ellipses"], Ellipses)
        assert layers["ellipses"].n_std == (1.0, 2.0) and layers["ellipses"].series == "EM"
        if "fast forward" in f.title:
            a, b = _span(f.title)
            assert a == it + 1 and b >= a and f.x == b and f.pace == em.FF_PACE
            assert b - a < em.FF_MAX and "ast forward" in f.caption
            assert f.x > em.SLOW_ITERS
            it = b
            em_done = em_done or "converged" in f.title
            continue
        if em_done:
            it += 1
            assert "Adam alone" in f.title and f.caption.startswith("Adam alone")
            assert f.x == it
        elif "E-step" in f.title:
            it += 1
            assert f.caption.startswith("E-step") and f.x == it - 0.5
        else:
            assert "M-step" in f.title and f.caption.startswith("M-step") and f.x == it
            em_done = "converged" in f.title
        assert _span(f.title) == (it, it)
        assert f.title.startswith(f"EM · iteration {it} / {params.n_iter}")
        assert f.pace == em.pace_of(it)


def _assert_never_decreases(frames: list[Frame], reg: float) -> None:
    ll = np.array([_ll(f) for f in frames])
    # exact EM never lowers it; sklearn's ε regulariser may cost a tiny dip near convergence
    assert np.all(np.diff(ll) >= -1e-2 * reg), np.diff(ll).min()


def test_defaults_full_run() -> None:
    params = em.Params()
    validate(params)
    frames = _frames(params)
    _check_sequence(frames, params)
    assert len(frames) % 2 == 1 and 5 < len(frames) <= 1 + 2 * params.n_iter
    _assert_never_decreases(frames, params.reg_covar)
    assert _ll(frames[-1]) > _ll(frames[0]) + 1.0
    k = params.k
    f0 = frames[0]
    assert "K = 8" in f0.caption and list(f0.panels[0].layers) == ["density", "data",
                                                                     "ellipses"]
    assert f0.panels[0].layers["data"].soft_labels is None
    heat = f0.panels[0].layers["density"]
    assert isinstance(heat, Heatmap) and heat.values.shape == (em.GRID, em.GRID)
    assert heat.extent == (*f0.panels[0].xlim, *f0.panels[0].ylim)
    # the peak at 1/1.6 of the ramp: the coloured points stay visible on it in both themes
    assert heat.levels == pytest.approx((0.0, em.DENSITY_HEADROOM * heat.values.max()))
    # 8 gaussians: one component per cluster at the end, and EM said it converged
    last = frames[-1]
    assert "converged" in last.title and "converged" in last.caption
    ell = last.panels[0].layers["ellipses"]
    assert len(ell.means) == k
    np.testing.assert_allclose(np.hypot(*ell.means.T), 2.5, atol=0.15)
    assert ell.weights.max() == pytest.approx(1.0) and ell.weights.min() > 0.7


def test_e_and_m_frames() -> None:
    params = em.Params()
    frames = _frames(params, 9)
    n, k = params.n_points, params.k
    for i in range(1, 9):
        data = frames[i].panels[0].layers["data"]
        assert data.soft_labels.shape == (n, k)
        np.testing.assert_allclose(data.soft_labels.sum(axis=1), 1.0)
        if i % 2 == 0:  # M-step: same colours as the E-step, new ellipses
            np.testing.assert_array_equal(data.soft_labels,
                                          frames[i - 1].panels[0].layers["data"].soft_labels)
    for i in range(1, 9, 2):  # an E-step shows the previous frame's (old) parameters
        prev, cur = (frames[j].panels[0].layers["ellipses"] for j in (i - 1, i))
        np.testing.assert_array_equal(prev.means, cur.means)
        np.testing.assert_array_equal(prev.covs, cur.covs)
        assert _ll(frames[i]) == _ll(frames[i - 1])
        nxt = frames[i + 1].panels[0].layers["ellipses"]
        assert not np.array_equal(nxt.means, cur.means)
        assert "γ_ik" in frames[i].caption
        assert "→" in frames[i + 1].caption
    # every frame keeps the same fixed axes
    assert len({(f.panels[0].xlim, f.panels[0].ylim) for f in frames}) == 1


def test_deterministic_for_a_seed() -> None:
    a, b = _frames(em.Params(), 7), _frames(em.Params(), 7)
    for fa, fb in zip(a, b, strict=True):
        assert (fa.title, fa.caption, dict(fa.metrics)) == (fb.title, fb.caption,
                                                             dict(fb.metrics))
        for (na, xa), (nb, xb) in zip(fa.arrays(), fb.arrays(), strict=True):
            assert na == nb and np.array_equal(xa, xb)


@pytest.mark.parametrize("preset", [p.name for p in presets_for("em")])
def test_every_preset_runs(preset: str) -> None:
    p = next(p for p in presets_for("em") if p.name == preset)
    params = p.params(em.Params)
    validate(params)
    frames = _frames(params, 12)
    assert frames
    _check_sequence(frames, params)
    _assert_never_decreases(frames, params.reg_covar)
    if params.compare_adam:
        assert len(frames[0].panels) == 2
        assert frames[0].panels[1].title == "Gradient ascent (Adam)"
        adam = [f.metrics["mean log-likelihood/Adam"] for f in frames]
        assert adam[-1] > adam[0]


def test_first_preset_is_the_default_demo() -> None:
    first = presets_for("em")[0].params(em.Params)
    assert first == em.Params()


def test_message_frame_when_nothing_drawn() -> None:
    params = replace(em.Params(), dataset="drawn")
    for ctx in (RunContext(), RunContext(drawn=np.zeros((0, 2)))):
        frames = _frames(params, ctx=ctx)
        assert len(frames) == 1
        _check(frames[0])
        assert "Paint" in frames[0].caption


def test_clicked_init_needs_picks_and_uses_them() -> None:
    params = replace(em.Params(), init="clicked")
    frames = _frames(params, ctx=RunContext(device="cpu"))
    assert len(frames) == 1 and "Place" in frames[0].caption
    frames = _frames(params, 3)
    np.testing.assert_array_equal(frames[0].panels[0].layers["ellipses"].means, PICKS)
    assert frames[1].panels[0].layers["data"].soft_labels.shape[1] == len(PICKS)


def test_drawn_data_are_used_as_they_are() -> None:
    params = replace(em.Params(), dataset="drawn", k=3)
    frames = _frames(params, 3)
    np.testing.assert_array_equal(frames[0].panels[0].layers["data"].xy, DRAWN)


def test_more_components_than_points_stays_finite_and_says_so() -> None:
    params = replace(em.Params(), dataset="circles", n_points=10, k=20, init="random",
                     n_iter=80)
    frames = _frames(params)
    _check_sequence(frames, params)
    assert "K = 20 components for 10 points" in frames[0].caption
    assert "ε" in frames[0].caption
    _assert_never_decreases(frames, params.reg_covar)
    assert any("almost no point" in f.caption for f in frames)


def test_collapse_is_explained() -> None:
    p = next(p for p in presets_for("em") if p.name == "collapse held by ε")
    params = p.params(em.Params)
    frames = _frames(params)
    _check_sequence(frames, params)
    assert any("collapsing" in f.caption and "ε = 1e-6" in f.caption for f in frames)
    dens = frames[-1].panels[0].layers["density"].values
    assert np.isfinite(dens).all() and dens.max() > 0


def test_duplicated_points() -> None:
    pts = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]]), 10, axis=0)
    params = replace(em.Params(), dataset="drawn", k=5, reg_covar=1e-4)
    frames = _frames(params, ctx=RunContext(drawn=pts, device="cpu"))
    _check_sequence(frames, params)
    assert "duplicates" in frames[0].caption
    same = RunContext(drawn=np.ones((7, 2)), device="cpu")
    frames = _frames(params, ctx=same)
    _check_sequence(frames, params)
    assert "coincide" in frames[0].caption


def test_live_density_change() -> None:
    params = em.Params()
    gen = em.run(params, CTX)
    try:
        f0 = next(gen)
        assert "density" in f0.panels[0].layers
        f1 = gen.send(replace(params, density="none"))
        assert list(f1.panels[0].layers) == ["data", "ellipses"]
        f2 = gen.send(None)
        assert "density" not in f2.panels[0].layers
        f3 = gen.send(replace(params, density="contours"))
        heat = f3.panels[0].layers["density"]
        assert heat.contours == 8 and not heat.show_image and heat.levels is None
        # a non-live change sent by mistake does not alter the run
        f4 = gen.send(replace(params, density="contours", k=3))
        assert f4.panels[0].layers["ellipses"].means.shape == (params.k, 2)
    finally:
        gen.close()


def test_adam_live_step_size() -> None:
    pytest.importorskip("torch")
    params = replace(em.Params(), compare_adam=True, adam_steps_per_iter=2)
    gen = em.run(params, CTX)
    try:
        next(gen)
        next(gen)
        f = gen.send(replace(params, adam_lr=0.01))
        assert "step size 0.01" in f.caption
        assert f.metrics["mean log-likelihood/Adam"] > -np.inf
        assert [p.title for p in f.panels][1] == "Gradient ascent (Adam)"
        for name in ("density", "data", "ellipses"):
            assert name in f.panels[1].layers
        assert f.panels[1].xlim == f.panels[0].xlim
    finally:
        gen.close()


def test_large_data_hard_labels_and_quick_yields() -> None:
    import time

    params = replace(em.Params(), n_points=20000, overfit=True)
    gen = em.run(params, CTX)
    try:
        t0 = time.perf_counter()
        frames = [next(gen) for _ in range(3)]
        assert time.perf_counter() - t0 < 10
    finally:
        gen.close()
    data = frames[1].panels[0].layers["data"]
    assert data.soft_labels is None and data.labels.shape == (20000,)
    assert frames[0].panels[0].layers["ellipses"].means.shape == (em.OVERFIT_K, 2)
    for f in frames:
        _check(f)


# ------------------------------------------------------------------------------ issue 11


def _seconds(frames: list[Frame]) -> np.ndarray:
    """How long each frame stays on screen at the lab's own speed."""
    return np.array([f.pace / em.LAB.fps + f.hold for f in frames])


def test_log_likelihood_is_plotted_against_the_em_iteration() -> None:
    """The x axis counts EM iterations (the M-step of iteration i at i, its E-step at i − ½),
    not frames: a run of 36 iterations ends at x = 36, not 72."""
    frames = _frames(em.Params())
    last = frames[-1]
    iterations = int(last.title.split("iteration ")[1].split(" /")[0])
    assert last.x == iterations and len(frames) == 1 + 2 * iterations
    assert all("EM iteration" in f.xlabel and "half" in f.xlabel for f in frames)
    for e, m in zip(frames[1::2], frames[2::2], strict=True):
        assert "E-step" in e.title and m.x - e.x == 0.5
        # the E-step does not change the parameters: the curve is flat over its half step
        assert _ll(e) == _ll(frames[e.step - 1])
    assert set(last.metrics) == {"mean log-likelihood/EM"}


def test_first_iterations_are_slow_and_the_converged_end_is_held() -> None:
    frames = _frames(em.Params())
    secs = _seconds(frames)
    assert secs[0] >= 1.5  # the start: data and the initial components
    assert secs[1] >= 2.0 and secs[2] >= 2.0  # the first E-step, then the first M-step
    per_iter = [secs[2 * i - 1] + secs[2 * i] for i in range(1, len(frames) // 2 + 1)]
    assert min(per_iter[:em.SLOW_ITERS]) >= 1.5  # the first iterations in slow motion ...
    assert np.all(np.diff(per_iter[:-1]) <= 1e-12)  # ... then faster and faster ...
    assert max(per_iter[em.EASE_ITERS:-1]) <= 2 * em.FAST / em.FPS  # ... to FAST
    assert frames[-1].hold == em.HOLD_END and "converged" in frames[-1].title
    assert 20 <= secs.sum() <= 40  # the default demo, at its own speed


def test_the_default_demo_shows_every_iteration() -> None:
    """The 8 gaussians pause with two components on one cluster before they split: that
    stretch is shown iteration by iteration, never fast-forwarded."""
    frames = _frames(em.Params())
    assert not any("fast forward" in f.title for f in frames)
    assert len(frames) == 1 + 2 * int(frames[-1].x)


def _plain(params: em.Params, monkeypatch: pytest.MonkeyPatch) -> list[Frame]:
    """The same run never fast-forwarded: an M-step frame for every iteration."""
    with monkeypatch.context() as m:
        m.setattr(em.pacing, "next_batch", lambda *a: 0)
        return _frames(params)


def _per_iteration(plain: list[Frame]) -> dict[int, tuple[float, np.ndarray]]:
    """Iteration -> (mean log-likelihood, means) from a run's start and M-step frames."""
    return {int(f.x): (_ll(f), f.panels[0].layers["ellipses"].means) for f in plain
            if f.x == int(f.x)}


def test_a_quiet_stretch_is_fast_forwarded_without_skipping_a_move(monkeypatch) -> None:
    """Diagonal covariances on the moons creep for 30 iterations: a fast forward (2, 4, 8 …
    iterations a frame) plays them in a second, starts only after QUIET_ITERS quiet
    iterations, covers only quiet ones (but its last), and shows each fit exactly as the
    iteration it ends at."""
    p = next(p for p in presets_for("em") if p.name == "diagonal vs full")
    params = p.params(em.Params)
    fast, plain = _frames(params), _plain(params, monkeypatch)
    path = _per_iteration(plain)
    width = fast[0].panels[0].xlim[1] - fast[0].panels[0].xlim[0]

    def quiet(i: int) -> bool:
        (l0, m0), (l1, m1) = path[i - 1], path[i]
        return abs(l1 - l0) < em.QUIET_GAIN and \
            np.linalg.norm(m1 - m0, axis=1).max() < em.QUIET_MOVE * width

    ff = [f for f in fast if "fast forward" in f.title]
    assert len(ff) >= 3
    sizes = []
    for f in ff:
        a, b = _span(f.title)
        sizes.append(b - a + 1)
        assert all(quiet(i) for i in range(a, b))
        assert all(quiet(i) for i in range(a - em.QUIET_ITERS, a))
        assert _ll(f) == path[b][0]
        np.testing.assert_array_equal(f.panels[0].layers["ellipses"].means, path[b][1])
        gains = [path[i][0] - path[i - 1][0] for i in range(a, b + 1)]
        assert f"{_fmt(path[a - 1][0])} → {_fmt(path[b][0])}" in f.caption
        assert all(g < em.QUIET_GAIN for g in gains[:-1])
        assert ("while the fit barely moves" in f.caption) == quiet(b)
        assert ("until the fit moves again" in f.caption) == (not quiet(b))
    assert sizes[:3] == [2, 4, 8]
    assert fast[-1].x == plain[-1].x == params.n_iter
    assert fast[-1].caption.endswith(plain[-1].caption.split(". ")[-1])
    tail = _seconds(fast[fast.index(ff[0]):-1]).sum()
    assert tail <= 2.0 < _seconds(plain).sum() - _seconds(fast).sum()


def _fmt(v: float) -> str:
    return f"{v:.4f}".replace("-", "−")


def test_a_creeping_fit_ends_once_it_has_settled(monkeypatch) -> None:
    """The moons with K = 2 gain ~8e-7 per iteration for ever: the run ends once that has
    lasted STILL_ITERS iterations, and the caption's numbers are those of the iterations."""
    p = next(p for p in presets_for("em") if p.name.startswith("moons with K = 2"))
    params = p.params(em.Params)
    frames = _frames(params)
    last = frames[-1]
    assert last.x < params.n_iter and "converged" in last.title
    assert f"last {em.STILL_ITERS} iterations" in last.caption
    path = _per_iteration(_plain(params, monkeypatch))
    assert max(path) == last.x
    its = sorted(path)
    ll = np.array([path[i][0] for i in its])
    gains = np.abs(np.diff(ll))[-em.STILL_ITERS:]
    assert gains.max() < em.STILL_GAIN
    assert f"at most {gains.max():.1e} per iteration" in last.caption
    width = last.panels[0].xlim[1] - last.panels[0].xlim[0]
    moves = [np.linalg.norm(path[i][1] - path[i - 1][1], axis=1).max() / width
             for i in its[1:]][-em.STILL_ITERS:]
    assert max(moves) < em.STILL_MOVE
    assert f"more than {100 * max(moves):.2g}% of the view" in last.caption
    assert last.hold == em.HOLD_END
    # the creep before that is fast-forwarded, not played iteration by iteration
    assert "fast forward" in last.title and last.pace == em.FF_PACE
    assert len(frames) < 1 + 2 * last.x


def test_a_pause_before_a_split_does_not_end_the_run() -> None:
    """The 8 gaussians pause (~5e-5 per iteration) with two components on one cluster: the
    run goes on until every cluster has its own component."""
    frames = _frames(em.Params())
    ll = np.array([_ll(f) for f in frames[::2]])
    assert (np.diff(ll)[10:30] < 1e-4).sum() >= 3  # the pause is there ...
    means = frames[-1].panels[0].layers["ellipses"].means
    angles = np.sort(np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 4, atol=0.1)  # ... and is passed


def test_the_iteration_limit_says_so() -> None:
    frames = _frames(replace(em.Params(), n_iter=3))
    assert len(frames) == 7 and frames[-1].hold == em.HOLD_END
    assert "raise 'iterations'" in frames[-1].caption and "converged" not in frames[-1].title


def test_em_and_adam_one_look_each_and_adam_goes_on_alone() -> None:
    """EM solid, Adam dashed, in the ellipses, the panel keys and the curves; once EM has
    converged each frame is one iteration of Adam alone, EM's panel unchanged."""
    pytest.importorskip("torch")
    params = replace(em.Params(), compare_adam=True, dataset="gaussian", n_points=200, k=1,
                     n_iter=6)
    frames = _frames(params)
    _check_sequence(frames, params)
    look = {s.name: s for s in em.SERIES}
    assert look["EM"].colour == look["Adam"].colour and look["Adam"].dashed
    assert not look["EM"].dashed
    for f in frames:
        em_panel, adam_panel = f.panels
        assert em_panel.series_names() == ["EM"] and adam_panel.series_names() == ["Adam"]
        assert em_panel.legend and adam_panel.legend
        assert em_panel.layers["ellipses"].series == "EM"
        assert adam_panel.layers["ellipses"].series == "Adam"
        assert set(f.metrics) == {"mean log-likelihood/EM", "mean log-likelihood/Adam"}
        assert "Adam steps" in f.xlabel
    alone = [f for f in frames if "Adam alone" in f.title]
    assert len(alone) >= 3 and [f.x for f in alone] == list(range(int(alone[0].x), 7))
    ells = [f.panels[0].layers["ellipses"] for f in alone]
    for a in ells[1:]:
        np.testing.assert_array_equal(a.means, ells[0].means)
    adam = [f.metrics["mean log-likelihood/Adam"] for f in alone]
    assert np.all(np.diff(adam) > 0)
    em_iters = int(alone[0].title.split("converged at ")[1].rstrip(")"))
    em_ll = _ll(alone[0])
    for f, ll in zip(alone, adam, strict=True):
        steps = params.adam_steps_per_iter * int(f.x)
        assert f"Adam after {steps} steps" in f.caption
        assert f"EM converged in {em_iters} iterations; Adam " in f.caption
        assert ll < em_ll - em.MATCH  # Adam is still behind, and the caption says so
        assert f"is not within {em.MATCH:g} of its mean log-likelihood after {steps} steps" \
            in f.caption
    assert "before Adam converged" in frames[-1].caption


def test_adam_alone_is_fast_forwarded_once_it_barely_moves() -> None:
    pytest.importorskip("torch")
    params = replace(em.Params(), compare_adam=True, dataset="gaussian", n_points=200, k=1,
                     n_iter=40, adam_lr=0.1)
    frames = _frames(params)
    _check_sequence(frames, params)
    ff = [f for f in frames if "fast forward" in f.title]
    assert ff and all("Adam alone" in f.title and f.caption.startswith("Adam alone")
                      for f in ff)
    em_means = frames[-1].panels[0].layers["ellipses"].means
    for before, f in zip(frames[frames.index(ff[0]) - 1:], ff, strict=False):
        np.testing.assert_array_equal(f.panels[0].layers["ellipses"].means, em_means)
        was, now = (g.metrics["mean log-likelihood/Adam"] for g in (before, f))
        assert f"Adam's mean log-likelihood {_fmt(was)} → {_fmt(now)}" in f.caption
        assert "EM's mean log-likelihood" not in f.caption
        assert f"after {params.adam_steps_per_iter * int(f.x)} steps" in f.caption
    assert "Adam has converged" in frames[-1].caption
    assert frames[-1].caption.endswith("so the run ends here.")


def test_race_sentence_names_the_first_adam_step_that_matched_em() -> None:
    trace = [(5, -3.0), (10, -2.0015), (15, -2.0005), (20, -1.9)]
    assert em.race(7, -2.0, trace) == (
        "EM converged in 7 iterations; Adam came within 0.001 of its mean log-likelihood "
        "after 15 steps.")
    assert "is not within 0.001 of its mean log-likelihood after 10 steps" in em.race(
        7, -2.0, trace[:2])


def test_em_and_adam_look_alike_in_panels_keys_and_curves(qapp) -> None:
    """Drawn by the real canvas and metric plots: EM solid and Adam dashed, each in one colour
    in its ellipses' key and its log-likelihood curve."""
    pytest.importorskip("torch")
    from PySide6 import QtCore

    from genlab.ui.items.ellipses import EllipsesItem
    from genlab.ui.render import Renderer
    from genlab.ui.theme import DARK

    params = replace(em.Params(), compare_adam=True, n_points=200, n_iter=1)
    frames = _frames(params)
    dash = QtCore.Qt.PenStyle.DashLine
    for theme in (DARK,):
        r = Renderer((900, 600), theme, metrics=True)
        try:
            for f in frames:
                r.render(f)
            canvas: dict[str, str] = {}
            for item in r.canvas._items.values():
                canvas.update(item.drawn)
            for name in ("EM", "Adam"):
                assert canvas[name] == r.metrics.drawn[name] == theme.foreground
            curves = r.metrics.curves
            assert curves["mean log-likelihood/Adam"].opts["pen"].style() == dash
            assert curves["mean log-likelihood/EM"].opts["pen"].style() != dash
            ells = {p: item for (p, _, kind), item in r.canvas._items.items()
                    if kind is Ellipses}
            assert isinstance(ells[1], EllipsesItem)
            assert ells[1].curves[0].opts["pen"].style() == dash
            assert ells[0].curves[0].opts["pen"].style() != dash
        finally:
            r.close()
