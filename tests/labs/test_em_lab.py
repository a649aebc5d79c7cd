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


def _ll(f: Frame, key: str = "log-likelihood/EM") -> float:
    return f.metrics[key]


def _check(f: Frame) -> None:
    assert f.caption.strip(), f.title
    assert f.first_nonfinite() is None, (f.title, f.first_nonfinite())


def _check_sequence(frames: list[Frame], params: em.Params) -> None:
    total = 1 + 2 * params.n_iter
    for i, f in enumerate(frames):
        _check(f)
        assert f.step == i and f.total == total
        if i == 0:
            continue
        assert f.title.startswith(f"EM · iteration {(i + 1) // 2} / {params.n_iter}")
        assert ("E-step" if i % 2 else "M-step") in f.title
        assert f.caption.startswith("E-step" if i % 2 else "M-step")
        layers = f.panels[0].layers
        expected = ["data", "ellipses"] if params.density == "none" else [
            "density", "data", "ellipses"]
        assert list(layers) == expected
        assert isinstance(layers["data"], Points)
        assert isinstance(layers["ellipses"], Ellipses)
        assert layers["ellipses"].n_std == (1.0, 2.0)


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
        adam = [f.metrics["log-likelihood/Adam"] for f in frames]
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
        assert heat.contours == 8 and not heat.show_image
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
        assert f.metrics["log-likelihood/Adam"] > -np.inf
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
