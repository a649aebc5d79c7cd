"""The "sampling" lab: every mode and preset, determinism, the LCG's exact numbers, live
changes (no Qt)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genlab.engine.sampling import GENERATORS, cholesky, cov_from, inverse_cdf, lcg_uniforms
from genlab.labs.base import RunContext
from genlab.labs.frame import Arrows, Curve, Ellipses, Frame, Histogram, Labels, Points, Segments
from genlab.labs.params import param_fields, replace, validate
from genlab.labs.presets import presets_for
from genlab.labs.sampling import (
    HOLD_END,
    LAB,
    MODES,
    SERIES,
    Params,
    gaussians,
    lcg,
    run,
    transforms,
)

CTX = RunContext()
UNITS = {"lcg": "triples drawn", "box-muller": "samples landed", "inverse-cdf": "samples drawn",
         "cholesky": "s, the share of x = μ + Lz applied", "ancestral": "samples drawn"}


def frames_of(params: Params) -> list[Frame]:
    return list(run(params, CTX))


def seconds(frames: list[Frame]) -> np.ndarray:
    """How long each frame stays on screen at the lab's own speed."""
    return np.array([f.pace / LAB.fps + f.hold for f in frames])


def check_frames(frames: list[Frame]) -> None:
    assert frames
    total = frames[0].total
    assert total == len(frames)
    assert 40 <= total <= 160
    for i, f in enumerate(frames):
        assert f.step == i and f.total == total
        assert f.caption and f.title and f.panels
        assert f.series == SERIES and f.xlabel and f.x is not None and f.pace > 0
        assert f.first_nonfinite() is None
        for _, a in f.arrays():
            assert isinstance(a, np.ndarray)
        for panel in f.panels:
            assert panel.xlim is not None and panel.ylim is not None
            assert panel.xlim[0] < panel.xlim[1] and panel.ylim[0] < panel.ylim[1]
    # a story of ten to fifteen seconds at the lab's speed, its last picture held
    assert 7.0 <= seconds(frames).sum() <= 16.0
    assert frames[-1].hold >= HOLD_END


def same(a: list[Frame], b: list[Frame]) -> bool:
    if len(a) != len(b):
        return False
    for fa, fb in zip(a, b, strict=True):
        if (fa.caption, dict(fa.metrics)) != (fb.caption, dict(fb.metrics)):
            return False
        xa, xb = list(fa.arrays()), list(fb.arrays())
        if len(xa) != len(xb):
            return False
        for (na, va), (nb, vb) in zip(xa, xb, strict=True):
            if na != nb or not np.array_equal(va, vb):
                return False
    return True


def test_lab_info_and_params() -> None:
    assert LAB.name == "sampling" and LAB.title == "Sampling from uniforms"
    assert LAB.params is Params and LAB.description
    assert LAB.series == SERIES and LAB.fps == 20.0
    fields = param_fields(Params)
    assert fields[0].name == "mode" and fields[0].spec.choices == MODES
    names = {f.name for f in fields}
    assert {"seed", "n_samples"} <= names
    validate(Params())
    for f in fields:
        assert f.spec.help
        if f.spec.when is not None:  # visibility refers to a real choice field and values
            other = next(g for g in fields if g.name == f.spec.when[0])
            assert other.spec.choices is not None
            assert set(f.spec.when[1]) <= set(other.spec.choices)
    live = {f.name for f in fields if f.spec.live}
    assert {"rho", "mu_x", "rate", "traced"} <= live
    assert not live & {"mode", "seed", "n_samples", "generator", "k"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        Params().seed = 1  # type: ignore[misc]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_runs_to_completion(mode: str) -> None:
    frames = frames_of(Params(mode=mode, n_samples=500))
    check_frames(frames)


@pytest.mark.parametrize("dist", ["exponential", "gaussian", "mixture"])
def test_every_distribution_runs(dist: str) -> None:
    check_frames(frames_of(Params(mode="inverse-cdf", dist=dist, n_samples=300)))


@pytest.mark.parametrize("generator", ["RANDU", "MINSTD", "Numerical Recipes",
                                       "tiny lattice", "custom"])
def test_every_generator_runs(generator: str) -> None:
    check_frames(frames_of(Params(mode="lcg", generator=generator, n_samples=300)))


def test_presets() -> None:
    presets = presets_for("sampling")
    assert presets[0].params(Params).mode in MODES
    modes = {p.params(Params).mode for p in presets}
    assert modes == set(MODES)
    names = [p.name for p in presets]
    for wanted in ("RANDU's 15 planes", "a tiny LCG's lattice", "Box–Muller",
                   "inverse CDF: exponential", "inverse CDF: a 1D mixture",
                   "Cholesky: correlated Gaussian", "ancestral sampling from a mixture"):
        assert wanted in names


@pytest.mark.parametrize("preset", [p.name for p in presets_for("sampling")])
def test_every_preset_runs_to_completion(preset: str) -> None:
    p = next(p for p in presets_for("sampling") if p.name == preset)
    params = p.params(Params)
    validate(params)
    check_frames(frames_of(params))


@pytest.mark.parametrize("mode", MODES)
def test_deterministic_for_a_seed(mode: str) -> None:
    params = Params(mode=mode, n_samples=300, seed=7)
    a, b = frames_of(params), frames_of(params)
    assert same(a, b)
    c = frames_of(dataclasses.replace(params, seed=8))
    assert not same(a, c)


# ---------------------------------------------------------------------------- lcg


def test_lcg_pairs_are_the_generators_uniforms() -> None:
    n = 1000
    frames = frames_of(Params(mode="lcg", generator="MINSTD", x0=42, n_samples=n))
    m, a, c = GENERATORS["MINSTD"]
    u = lcg_uniforms(m, a, c, 42, n + 1)
    expected = np.column_stack([u[:-1], u[1:]])
    last = frames[-1].panels[0].layers["pairs"]
    assert isinstance(last, Points)
    np.testing.assert_array_equal(last.xy, expected)
    # points accumulate: each frame shows a prefix of the same sequence, never fewer
    sizes = []
    for f in frames:
        xy = f.panels[0].layers["pairs"].xy
        np.testing.assert_array_equal(xy, expected[:len(xy)])
        sizes.append(len(xy))
    assert sizes == sorted(sizes) and sizes[0] < n


def test_custom_lcg_uses_m_a_c_mod_m() -> None:
    p = Params(mode="lcg", generator="custom", m=1000, a=1021, c=7, x0=2005, n_samples=100)
    xy = frames_of(p)[-1].panels[0].layers["pairs"].xy
    u = lcg_uniforms(1000, 21, 7, 5, 101)
    np.testing.assert_array_equal(xy, np.column_stack([u[:-1], u[1:]]))


def test_randu_triples_turn_edge_on_onto_15_lines() -> None:
    p = Params(mode="lcg", generator="RANDU", n_samples=4000)
    frames = frames_of(p)
    m, a, c = GENERATORS["RANDU"]
    u = lcg_uniforms(m, a, c, 1, 4002)
    triples = np.column_stack([u[:-2], u[1:-1], u[2:]])
    # face-on first: the triples panel shows (U_t, U_t+1), the pairs' own picture
    first = frames[0].panels[1].layers["triples"].xy
    np.testing.assert_allclose(first, triples[:len(first), :2] - 0.5)
    f = frames[-1]
    assert "15 planes" in f.caption and "(9, −6, 1)" in f.caption
    along = f.panels[1].layers["triples"].xy[:, 0] * np.sqrt(81 + 36 + 1)
    np.testing.assert_allclose(along, np.round(along), atol=1e-6)
    assert len(np.unique(np.round(along))) == 15
    ref = f.panels[2].layers["triples"].xy[:, 0] * np.sqrt(118)
    assert np.abs(ref - np.round(ref)).max() > 0.4  # PCG64: no planes
    # both triple panels share one fixed view
    assert f.panels[1].xlim == f.panels[2].xlim and f.panels[1].ylim == f.panels[2].ylim
    # the widest gap along h stays the plane spacing for RANDU, and closes for PCG64
    spacing = 1 / np.sqrt(118)
    gaps = f.metrics["widest gap along h/LCG"], f.metrics["widest gap along h/PCG64"]
    assert gaps[0] == pytest.approx(spacing, rel=1e-6) and gaps[1] < spacing / 10
    assert f"stays {gaps[0]:.3f} for the LCG and closes to {gaps[1]:.3f}" in f.caption
    early = [g.metrics["widest gap along h/PCG64"] for g in frames if g.metrics]
    assert early[0] > 5 * early[-1]  # it closes as triples come


def test_lcg_story_is_paced() -> None:
    """Points arrive over four seconds, the face-on cube is held, the turn takes three
    seconds, and the edge-on view (the planes) is held longest."""
    frames = frames_of(Params(mode="lcg", generator="tiny lattice", n_samples=256))
    secs = seconds(frames)
    turn = [i for i, f in enumerate(frames) if "turns" in f.caption]
    assert secs[:lcg.ACC].sum() >= 3.5 and frames[lcg.ACC - 1].hold >= 1.5
    assert secs[turn].sum() >= 2.5
    assert frames[-1].hold >= 3.5 and "stand on 8 planes" in frames[-1].caption
    h = np.array([2, 5, 1])  # the caption's count is the planes the triples do stand on
    along = frames[-1].panels[1].layers["triples"].xy[:, 0] * np.linalg.norm(h)
    assert len(np.unique(np.round(along - along[0]))) == 8
    assert frames[-1].hold == max(f.hold for f in frames)


def test_widest_gap_ignores_the_tails() -> None:
    along = np.concatenate([np.linspace(0, 1, 101), [5.0]])  # one far outlier
    assert lcg.widest_gap(along) == pytest.approx(0.01)


def test_axes_fixed_within_a_run() -> None:
    for mode in MODES:
        frames = frames_of(Params(mode=mode, n_samples=200))
        lims = {tuple((p.xlim, p.ylim) for p in f.panels) for f in frames}
        assert len(lims) == 1, mode


@pytest.mark.parametrize("mode", MODES)
def test_metrics_against_the_modes_own_unit_and_named_series(mode: str) -> None:
    frames = frames_of(Params(mode=mode, n_samples=400))
    names = {s.name for s in SERIES}
    xs = [f.x for f in frames]
    assert all(f.xlabel == UNITS[mode] for f in frames)
    assert xs == sorted(xs)  # the unit only grows
    shown = [f for f in frames if f.metrics]
    # no plot before it has something to show: a distance of a handful of draws is noise
    assert shown and (mode == "cholesky") == bool(frames[0].metrics)
    for f in shown:
        for key in f.metrics:
            group, _, series = key.partition("/")
            assert not series or series in names
            assert "bound" not in key and "target" not in key  # no constants as lines
    for key in shown[-1].metrics:  # every curve moves: none is a value drawn as a line
        values = {f.metrics[key] for f in shown if key in f.metrics}
        assert len(values) > 1, key


def test_exact_and_samples_keep_their_series_in_every_mode() -> None:
    for mode in MODES:
        for f in frames_of(Params(mode=mode, n_samples=300))[::7]:
            for panel in f.panels:
                for name, layer in panel.layers.items():
                    if isinstance(layer, Curve) and name.startswith(("N(", "F(", "f(",
                                                                     "target")):
                        assert layer.series == "exact", (mode, name)
                    if isinstance(layer, Histogram) and name in ("z1", "samples"):
                        assert layer.series == "samples", (mode, name)
                    if name in ("traced", "u → x", "radius", "angle", "U1, U2", "drawn"):
                        assert layer.series == "traced draws", (mode, name)


# ---------------------------------------------------------------------------- other modes


def test_box_muller_lands_on_the_gaussian() -> None:
    n = 4000
    frames = frames_of(Params(mode="box-muller", n_samples=n, seed=3))
    last = frames[-1]
    assert last.x == n
    band = last.metrics["KS distance of z1 to N(0, 1)/95% band"]
    assert band == pytest.approx(1.358 / np.sqrt(n))
    assert last.metrics["KS distance of z1 to N(0, 1)/samples"] < band
    assert abs(last.metrics["corr(z1, z2)/samples"]) < 4 / np.sqrt(n)
    rng = np.random.default_rng(3)
    u1, u2 = rng.random(n), rng.random(n)
    pos = last.panels[1].layers["samples"].xy
    np.testing.assert_allclose(np.hypot(pos[:, 0], pos[:, 1]), np.sqrt(-2 * np.log(u1)))
    np.testing.assert_allclose(last.panels[0].layers["uniforms"].xy[:, 1], u2)
    z1 = pos[:, 0]
    assert abs(z1.mean()) < 4 / np.sqrt(n) and abs(z1.std() - 1) < 0.05
    # the first frame: one pair, still in the unit square, told in numbers
    first = frames[0].panels[1].layers["samples"].xy
    assert len(first) == 1 and ((first >= 0) & (first <= 1)).all()
    r, th = np.sqrt(-2 * np.log(u1[0])), 2 * np.pi * u2[0]
    assert f"U1 = {u1[0]:.3f}" in frames[0].caption
    assert f"R = √(−2 ln U1) = {r:.3f}" in frames[0].caption
    assert f"θ = 2πU2 = {th:.3f}" in frames[0].caption
    hist = last.panels[2].layers["z1"]
    assert isinstance(hist, Histogram)
    assert np.sum(hist.heights * np.diff(hist.edges)) == pytest.approx(1.0, abs=0.01)
    assert "within the 95% band" in last.caption


def test_box_muller_single_draws_fly_slowly_then_the_flood() -> None:
    frames = frames_of(Params(mode="box-muller", n_samples=2000))
    secs = seconds(frames)
    flight = secs[:transforms.BM_MOVE].sum()  # the first pair, from square to plane
    assert flight >= 1.0
    landed = frames[transforms.BM_MOVE]
    assert landed.x == 1 and landed.hold >= 1.0
    assert "R = 0.95" in landed.panels[1].layers["names"].texts[0]
    gap = transforms.BM_GAP
    for i in range(transforms.BM_SLOW):  # three draws, one by one, two seconds each
        assert secs[i * gap:(i + 1) * gap].sum() >= 2.0
        assert all(f"Draw {i + 1}:" in f.caption for f in frames[i * gap:(i + 1) * gap])
    assert secs[-1] >= HOLD_END
    # few landed draws are marks on the axis; the histogram and distances come with more
    early = frames[transforms.BM_MOVE + 1]
    assert isinstance(early.panels[2].layers["z1"], Points) and not early.metrics


def test_inverse_cdf_samples_and_construction() -> None:
    p = Params(mode="inverse-cdf", dist="exponential", rate=2.0, n_samples=500, traced=3)
    frames = frames_of(p)
    u = np.random.default_rng(p.seed).random(500)
    last = frames[-1]
    seg = last.panels[0].layers["u → x"]
    assert isinstance(seg, Segments) and len(seg.starts) == 2 * 3
    x = last.panels[0].layers["x"].xy[:, 0]
    np.testing.assert_allclose(x, np.clip(inverse_cdf("exponential", u[-3:], rate=2.0),
                                          0, 3.0))
    d = last.metrics["KS distance to F/samples"]
    assert d < 2 * last.metrics["KS distance to F/95% band"]
    # measured on the samples x against F
    xs = inverse_cdf("exponential", u, rate=2.0)
    assert d == pytest.approx(_ks(1 - np.exp(-2.0 * xs)), abs=1e-9)
    assert f"sup |F_n(x) − F(x)|, is {d:.3f}" in last.caption
    hist = last.panels[1].layers["samples"]
    assert np.sum(hist.heights * np.diff(hist.edges)) <= 1.0 + 1e-9


def _ks(v: np.ndarray) -> float:
    s, n = np.sort(v), len(v)
    i = np.arange(1, n + 1)
    return float(max((i / n - s).max(), (s - (i - 1) / n).max()))


def test_inverse_cdf_first_draws_followed_one_by_one() -> None:
    """Each of the first draws has two seconds: its path grows across to the CDF and down,
    then stays with its x named before the next draw starts."""
    frames = frames_of(Params(mode="inverse-cdf", n_samples=1000, traced=4))
    grow, gap = transforms.IC_GROW, transforms.IC_GAP
    secs = seconds(frames)
    for i in range(transforms.IC_SLOW):
        slot = frames[i * gap:(i + 1) * gap]
        assert secs[i * gap:(i + 1) * gap].sum() >= 2.0
        assert all(f"Draw {i + 1}:" in f.caption for f in slot)
        mid = slot[grow // 2 - 1]  # half way: across, not yet down
        seg = mid.panels[0].layers["u → x"]
        nt = min(4, i + 1)  # traced paths: the older ones go down, the newest not yet
        assert len(seg.starts) == nt + (nt - 1)
        assert seg.starts[nt - 1, 1] == seg.ends[nt - 1, 1]  # it goes across, to the CDF
        named = [f for f in slot if f.panels[0].layers["names"].texts[-1].startswith("x = ")]
        assert named == slot[grow - 1:] and seconds(named).sum() >= 0.7
        assert all(f.x == i + 1 for f in named)


def test_cholesky_reaches_the_target_covariance() -> None:
    p = Params(mode="cholesky", n_samples=5000, sigma_x=1.2, sigma_y=0.5, rho=-0.6)
    frames = frames_of(p)
    first, last = frames[0], frames[-1]
    cov = cov_from(1.2, 0.5, -0.6)
    z = first.panels[1].layers["samples"].xy
    np.testing.assert_allclose(np.cov(z.T), np.eye(2), atol=0.1)
    assert first.x == 0 and last.x == 1 and first.hold >= 2.0
    assert seconds(frames[1:-1]).sum() >= 3.5  # the shear takes seconds
    x = last.panels[1].layers["samples"].xy
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.06)
    gap = np.linalg.norm(np.cov(x.T) - cov)
    assert last.metrics["‖Cov(x) − Σ‖/samples"] == pytest.approx(gap)
    assert f"differs from Σ by {gap:.3f}" in last.caption
    target = last.panels[1].layers["target N(μ, Σ)"]
    assert isinstance(target, Curve) and target.series == "exact"
    ring = np.column_stack([target.x, target.y]) - [p.mu_x, p.mu_y]
    # on the 1σ contour: (x − μ)ᵀ Σ⁻¹ (x − μ) = 1
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", ring, np.linalg.inv(cov), ring), 1.0)
    np.testing.assert_allclose(x.mean(axis=0), [p.mu_x, p.mu_y], atol=0.05)
    cols = last.panels[1].layers["columns"]
    assert isinstance(cols, Arrows)
    np.testing.assert_allclose(cols.ends - cols.starts, cholesky(cov).T)


def test_ancestral_components_then_samples() -> None:
    p = Params(mode="ancestral", k=3, n_samples=3000, seed=4)
    frames = frames_of(p)
    means = frames[0].panels[0].layers["means"].xy
    colour = gaussians.COMPONENT_COLOURS[:3]
    early = frames[5].panels[0].layers["samples"]
    assert isinstance(early, Points) and early.labels is not None
    comp = [int(np.flatnonzero(colour == lab)[0]) for lab in early.labels]
    np.testing.assert_allclose(early.xy, means[comp])  # placed at their means
    last = frames[-1]
    assert isinstance(last.panels[0].layers["components"], Ellipses)
    assert len(last.panels[0].layers["samples"].xy) == 3000
    assert last.metrics["TV(frequencies, π)"] < 0.05
    assert "Cat(π)" in frames[0].caption and "N(μ_k, Σ_k)" in last.caption
    secs = seconds(frames)
    gap = gaussians.AN_GAP
    for i in range(gaussians.AN_SLOW):  # one by one, long enough to read the caption
        slot = slice(i * gap, (i + 1) * gap)
        assert secs[slot].sum() >= (2.5 if i == 0 else 1.25)
        assert all(f.caption.startswith(f"Point {i + 1}:") for f in frames[slot])
    chosen = next(f for f in frames[1:] if f.hold == gaussians.HOLD_CHOSEN)
    assert chosen.x == 3000 and secs[chosen.step + 1:].sum() >= 2.0 + HOLD_END


def test_ancestral_labels_in_their_components_colours() -> None:
    """Each component's name is drawn in its own colour, the colour of its points, ellipse
    and bar (the labels were all one colour), anchored on one of the contours it may sit
    on; its weight is named on its π mark, in the same colour."""
    p = Params(mode="ancestral", k=5, n_samples=500, seed=2)
    f = frames_of(p)[-1]
    plane, bars = f.panels[0].layers, f.panels[1].layers
    ell = plane["components"]
    weights, means, covs = gaussians.mixture(p)
    rings = np.square(gaussians.LABEL_RINGS)
    for j in range(5):
        label = plane[f"k = {j + 1}"]
        assert isinstance(label, Labels)
        assert label.series == int(ell.labels[j]) == bars[f"component {j + 1}"].series
        assert label.texts == (f"k = {j + 1}",)
        d = label.xy[0] - means[j]
        assert np.isclose(d @ np.linalg.inv(covs[j]) @ d, rings).any()
        pi = bars[f"π{j + 1}"]
        assert pi.series == label.series and pi.texts == (f"π{'₁₂₃₄₅'[j]} = {weights[j]:.2f}",)
        np.testing.assert_allclose(pi.xy, [[j + 1, weights[j]]])  # on its mark
    assert 3 not in ell.labels  # the exact weights' colour is kept for the π marks
    assert bars["π"].series == "exact"
    assert set(plane["samples"].labels) <= set(ell.labels)


def _covered(frame: Frame, qapp) -> list[int]:
    """How many samples each of the plane's names covers, drawn by the real canvas at a
    window's size with the metric plots."""
    from PySide6 import QtCore

    from genlab.ui.items.text import LabelsItem
    from genlab.ui.render import Renderer
    from genlab.ui.theme import LIGHT

    r = Renderer((1600, 900), LIGHT, metrics=True)
    try:
        r.render(frame)
        vb = r.canvas.plots[0].getViewBox()
        px = np.array([[q.x(), q.y()] for q in (vb.mapViewToScene(QtCore.QPointF(*xy))
                                                 for xy in frame.panels[0].layers["samples"].xy)])
        out = []
        for (panel, _, _), item in r.canvas._items.items():
            if panel == 0 and isinstance(item, LabelsItem):
                rect = item.texts[0].sceneBoundingRect()
                out.append(int(((px[:, 0] >= rect.left()) & (px[:, 0] <= rect.right())
                                & (px[:, 1] >= rect.top()) & (px[:, 1] <= rect.bottom())).sum()))
        return out
    finally:
        r.close()


def test_ancestral_names_sit_where_they_cover_few_samples(qapp, monkeypatch) -> None:
    """Each name goes where its text covers the least of the mixture: in the preset's end
    frame, as drawn, a few samples under a name at most, and half as many as with every name
    on top of its 2σ contour (the eight-component mixture put names on a hundred points)."""
    preset = next(q for q in presets_for("sampling") if q.name.startswith("ancestral"))
    for p in (preset.params(Params), Params(mode="ancestral", k=8, n_samples=3000, seed=0)):
        now = _covered(frames_of(p)[-1], qapp)
        assert max(now) <= 8, now
        with monkeypatch.context() as m:
            m.setattr(gaussians, "label_anchors", _tops)
            before = _covered(frames_of(p)[-1], qapp)
        assert sum(now) <= sum(before) / 2, (now, before)


def _tops(weights, means: np.ndarray, covs: np.ndarray, lim) -> np.ndarray:
    """The top of each component's 2σ contour, where the names used to be."""
    return means + 2.0 * np.column_stack([covs[:, 0, 1], covs[:, 1, 1]]) / np.sqrt(
        covs[:, 1, 1])[:, None]


def test_exact_curves_are_drawn_over_the_histograms() -> None:
    """The samples' bars are translucent: the exact density goes on top, or it turns grey
    where they cover it."""
    for mode, curve in (("box-muller", "N(0, 1)"), ("inverse-cdf", "f(x)")):
        f = frames_of(Params(mode=mode, n_samples=400))[-1]
        layers = list(f.panels[-1].layers.items())
        names = [n for n, _ in layers]
        bars = next(n for n, layer in layers if isinstance(layer, Histogram))
        assert names.index(curve) > names.index(bars)
        assert f.panels[-1].layers[curve].series == "exact"


# ---------------------------------------------------------------------------- live


def test_live_change_cholesky() -> None:
    p = Params(mode="cholesky", n_samples=800, rho=0.7)
    gen = run(p, CTX)
    first = next(gen)
    f = gen.send(replace(p, rho=-0.5))
    assert f.step == 1
    new_cov = cov_from(p.sigma_x, p.sigma_y, -0.5)
    ring = f.panels[1].layers["target N(μ, Σ)"]
    xy = np.column_stack([ring.x, ring.y]) - [p.mu_x, p.mu_y]
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", xy, np.linalg.inv(new_cov), xy), 1.0)
    rest = list(gen)
    assert rest[-1].step == first.total - 1
    assert np.cov(rest[-1].panels[1].layers["samples"].xy.T)[0, 1] < 0


def test_live_change_inverse_cdf_remaps_the_same_uniforms() -> None:
    p = Params(mode="inverse-cdf", dist="exponential", rate=1.0, n_samples=400, traced=5)
    gen = run(p, CTX)
    for _ in range(transforms.IC_SLOW * transforms.IC_GAP + 6):
        f = next(gen)
    assert len(f.panels[0].layers["x"].xy) == 5
    g = gen.send(replace(p, rate=2.0))
    assert "λ = 2" in g.caption
    assert g.panels[0].xlim == (0.0, 3.0)
    # x = −ln(1 − u)/λ: doubling λ halves the samples drawn so far
    x2 = g.panels[0].layers["x"].xy[:, 0]
    u = np.random.default_rng(p.seed).random(400)
    n_now = int(g.x)
    np.testing.assert_allclose(x2, np.clip(-np.log1p(-u[n_now - 5:n_now]) / 2.0, 0, 3.0))
    gen.close()


def test_live_change_traced_points() -> None:
    p = Params(mode="box-muller", n_samples=300, traced=4)
    gen = run(p, CTX)
    for _ in range(transforms.BM_SLOW * transforms.BM_GAP + 4):
        f = next(gen)
    assert len(f.panels[1].layers["traced"].xy) == 4
    g = gen.send(replace(p, traced=0))
    assert "traced" not in g.panels[1].layers and "radius" not in g.panels[1].layers
    gen.close()


def test_no_qt_imported() -> None:
    import subprocess
    import sys

    code = ("import sys, genlab.labs.sampling, genlab.engine.sampling, "
            "genlab.engine.datasets; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'pyqtgraph', 'superqt', 'torch')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("preset", ["RANDU's 15 planes", "a tiny LCG's lattice",
                                    "MINSTD: planes too fine to see"])
def test_lcg_preset_numbers_are_the_runs_own(preset: str) -> None:
    """The counts a preset's description promises (planes, lines, the normal) are the ones
    the run computes and shows."""
    import re

    p = next(p for p in presets_for("sampling") if p.name == preset)
    frames = frames_of(p.params(Params))
    shown = " ".join(t for f in (frames[0], frames[-1]) for t in f.texts())
    promised = re.findall(r"\d+ (?:planes|lines|of them)|\(\d+, −?\d+, −?\d+\)",
                          p.description)
    assert promised
    for claim in promised:
        assert claim in shown, (claim, shown)


def test_a_tiny_lcgs_period_meets_21_lines_not_the_22_crossing_the_square() -> None:
    """The full period of m = 256, a = 137 (the 'tiny lattice') lies on 21 lines with normal
    (7, −15): 7U_t − 15U_{t+1} = k + 11/256 for k = −14 … 6 (a brute-force count of the
    distinct values), while 22 lines of the family cross the unit square."""
    from genlab.engine.sampling import planes_hit, worst_planes
    from genlab.labs.sampling.lcg import lcg_spec

    p = next(p for p in presets_for("sampling") if p.name == "a tiny LCG's lattice")
    _, m, a, c = lcg_spec(p.params(Params))
    u = lcg_uniforms(m, a, c, 0, m + 1)
    pairs = np.column_stack([u[:m], u[1:m + 1]])
    h, crossing = worst_planes(m, a, 2, c)
    k = np.round(pairs @ h - 11 / 256, 9)
    assert list(np.abs(h)) == [7, 15] and crossing == 22
    assert np.allclose(k, np.round(k)) and sorted(set(k.astype(int))) == list(range(-14, 7))
    assert planes_hit(pairs, h) == 21
    frames = frames_of(p.params(Params))
    assert "21 lines" in " ".join(frames[-1].texts())


def test_the_inverse_cdf_ks_distance_measures_the_samples_not_the_uniforms() -> None:
    """KS is computed on x against F: a wrong quantile (rate 2 for an F of rate 1) is caught,
    while the uniforms behind it are perfectly uniform."""
    from genlab.engine.sampling import cdf
    from genlab.labs.sampling.common import KS_BAND, ks_to, ks_uniform

    u = np.random.default_rng(0).random(4000)
    band = KS_BAND / np.sqrt(len(u))
    good = inverse_cdf("exponential", u, rate=1.0)
    wrong = inverse_cdf("exponential", u, rate=2.0)
    assert ks_to(good, lambda v: cdf("exponential", v, rate=1.0)) <= band
    assert ks_to(wrong, lambda v: cdf("exponential", v, rate=1.0)) > 10 * band
    assert ks_uniform(u) <= band  # what the lab used to report, whatever F⁻¹ did
    p = replace(Params(), mode="inverse-cdf", dist="exponential")
    last = frames_of(p)[-1]
    x_group = [k for k in last.metrics if k.startswith("KS distance to F/samples")]
    assert x_group


def test_box_muller_names_the_same_draw_the_caption_describes() -> None:
    """While single draws fly, the R and θ named on the plane are those of the draw the
    caption works through (an older draw's R once sat beside the caption's numbers)."""
    import re

    for f in frames_of(Params(mode="box-muller")):
        m = re.match(r"Draw \d+: .* R = √\(−2 ln U1\) = ([\d.]+) and θ = 2πU2 = ([\d.]+)",
                     f.caption)
        names = f.panels[1].layers.get("names")
        if m is None or names is None:
            continue
        r, th = (float(v) for v in m.groups())
        assert names.texts == (f"R = {r:.2f}", f"θ = {th:.2f}")


def test_the_ks_distance_measures_the_samples_so_a_wrong_inverse_cdf_shows():
    """Issue 12.11: the KS distance is taken on x against F, not on the uniforms (which are
    uniform whatever F⁻¹ does): a wrong F⁻¹ (the exponential's with rate 2 for rate 1) reads
    far outside the 95% band, the right one inside it; and it agrees with scipy."""
    from scipy import stats

    from genlab.labs.sampling.common import KS_BAND, ks_to

    u = np.random.default_rng(0).random(2000)
    right, wrong = -np.log1p(-u), -np.log1p(-u) / 2.0
    cdf = stats.expon.cdf
    band = KS_BAND / np.sqrt(len(u))
    assert ks_to(right, cdf) < band < 0.1 < ks_to(wrong, cdf)
    assert ks_to(wrong, cdf) == pytest.approx(stats.kstest(wrong, cdf).statistic, abs=1e-12)
