"""The "sampling" lab: every mode and preset, determinism, the LCG's exact numbers, live
changes (no Qt)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genlab.engine.sampling import GENERATORS, cov_from, inverse_cdf, lcg_uniforms
from genlab.labs.base import RunContext
from genlab.labs.frame import Ellipses, Frame, Histogram, Labels, Points, Segments
from genlab.labs.params import param_fields, replace, validate
from genlab.labs.presets import presets_for
from genlab.labs.sampling import LAB, MODES, Params, run

CTX = RunContext()


def frames_of(params: Params) -> list[Frame]:
    return list(run(params, CTX))


def check_frames(frames: list[Frame]) -> None:
    assert frames
    total = frames[0].total
    assert total == len(frames)
    assert 40 <= total <= 80
    for i, f in enumerate(frames):
        assert f.step == i and f.total == total
        assert f.caption and f.title and f.panels
        assert f.first_nonfinite() is None
        for _, a in f.arrays():
            assert isinstance(a, np.ndarray)
        for panel in f.panels:
            assert panel.xlim is not None and panel.ylim is not None
            assert panel.xlim[0] < panel.xlim[1] and panel.ylim[0] < panel.ylim[1]


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


def test_randu_triples_edge_on_are_15_lines() -> None:
    f = frames_of(Params(mode="lcg", generator="RANDU", n_samples=4000))[-1]
    assert "15 planes" in f.caption and "(9, −6, 1)" in f.caption
    along = f.panels[1].layers["triples"].xy[:, 0] * np.sqrt(81 + 36 + 1)
    np.testing.assert_allclose(along, np.round(along), atol=1e-6)
    assert len(np.unique(np.round(along))) == 15
    ref = f.panels[2].layers["triples"].xy[:, 0] * np.sqrt(118)
    assert np.abs(ref - np.round(ref)).max() > 0.4  # PCG64: no planes
    assert f.metrics["planes/hit by the triples"] == 15.0
    # both triple panels share one fixed view
    assert f.panels[1].xlim == f.panels[2].xlim and f.panels[1].ylim == f.panels[2].ylim


def test_axes_fixed_within_a_run() -> None:
    for mode in MODES:
        frames = frames_of(Params(mode=mode, n_samples=200))
        lims = {tuple((p.xlim, p.ylim) for p in f.panels) for f in frames}
        assert len(lims) == 1, mode


# ---------------------------------------------------------------------------- other modes


def test_box_muller_lands_on_the_gaussian() -> None:
    n = 4000
    frames = frames_of(Params(mode="box-muller", n_samples=n, seed=3))
    last = frames[-1]
    assert last.metrics["samples/landed"] == n
    assert abs(last.metrics["moments/mean z1"]) < 4 / np.sqrt(n)
    assert abs(last.metrics["moments/std z1"] - 1) < 0.05
    assert abs(last.metrics["moments/corr(z1, z2)"]) < 4 / np.sqrt(n)
    rng = np.random.default_rng(3)
    u1, u2 = rng.random(n), rng.random(n)
    pos = last.panels[1].layers["samples"].xy
    np.testing.assert_allclose(np.hypot(pos[:, 0], pos[:, 1]), np.sqrt(-2 * np.log(u1)))
    np.testing.assert_allclose(last.panels[0].layers["uniforms"].xy[:, 1], u2)
    # the first frame: points still in the unit square
    first = frames[0].panels[1].layers["samples"].xy
    assert ((first >= 0) & (first <= 1)).all()
    hist = last.panels[2].layers["z1"]
    assert isinstance(hist, Histogram)
    assert np.sum(hist.heights * np.diff(hist.edges)) == pytest.approx(1.0, abs=0.01)


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
    assert last.metrics["KS distance/samples"] < 2 * last.metrics[
        "KS distance/95% band 1.36/√n"]
    hist = last.panels[1].layers["samples"]
    assert np.sum(hist.heights * np.diff(hist.edges)) <= 1.0 + 1e-9


def test_cholesky_reaches_the_target_covariance() -> None:
    p = Params(mode="cholesky", n_samples=5000, sigma_x=1.2, sigma_y=0.5, rho=-0.6)
    frames = frames_of(p)
    first, last = frames[0], frames[-1]
    np.testing.assert_allclose(
        [first.metrics["cov/sample xx"], first.metrics["cov/sample xy"]], [1, 0], atol=0.1)
    cov = cov_from(1.2, 0.5, -0.6)
    for key, (i, j) in {"xx": (0, 0), "xy": (0, 1), "yy": (1, 1)}.items():
        assert last.metrics[f"cov/target {key}"] == pytest.approx(cov[i, j])
        assert last.metrics[f"cov/sample {key}"] == pytest.approx(cov[i, j], abs=0.06)
    target = last.panels[1].layers["target N(μ, Σ)"]
    assert isinstance(target, Ellipses)
    np.testing.assert_allclose(target.covs[0], cov)
    np.testing.assert_allclose(last.panels[1].layers["samples"].xy.mean(axis=0),
                               [p.mu_x, p.mu_y], atol=0.05)


def test_ancestral_components_then_samples() -> None:
    p = Params(mode="ancestral", k=3, n_samples=3000, seed=4)
    frames = frames_of(p)
    means = frames[0].panels[0].layers["means"].xy
    early = frames[5].panels[0].layers["samples"]
    assert isinstance(early, Points) and early.labels is not None
    np.testing.assert_allclose(early.xy, means[early.labels])  # placed at their means
    assert "components" not in frames[5].panels[0].layers
    last = frames[-1]
    assert isinstance(last.panels[0].layers["components"], Ellipses)
    assert isinstance(last.panels[0].layers["names"], Labels)
    assert len(last.panels[0].layers["samples"].xy) == 3000
    assert last.metrics["TV(counts, π)"] < 0.05
    assert "Cat(π)" in frames[0].caption and "N(μ_k, Σ_k)" in last.caption


# ---------------------------------------------------------------------------- live


def test_live_change_cholesky() -> None:
    p = Params(mode="cholesky", n_samples=800, rho=0.7)
    gen = run(p, CTX)
    first = next(gen)
    assert first.metrics["cov/target xy"] == pytest.approx(0.7 * p.sigma_x * p.sigma_y)
    f = gen.send(replace(p, rho=-0.5))
    assert f.step == 1
    assert f.metrics["cov/target xy"] == pytest.approx(-0.5 * p.sigma_x * p.sigma_y)
    np.testing.assert_allclose(f.panels[1].layers["target N(μ, Σ)"].covs[0],
                               cov_from(p.sigma_x, p.sigma_y, -0.5))
    rest = list(gen)
    assert rest[-1].step == first.total - 1
    assert rest[-1].metrics["cov/sample xy"] < 0


def test_live_change_inverse_cdf_remaps_the_same_uniforms() -> None:
    p = Params(mode="inverse-cdf", dist="exponential", rate=1.0, n_samples=400, traced=5)
    gen = run(p, CTX)
    for _ in range(20):
        f = next(gen)
    x1 = f.panels[0].layers["x"].xy[:, 0]
    g = gen.send(replace(p, rate=2.0))
    assert "λ = 2" in g.caption
    assert g.panels[0].xlim == (0.0, 3.0)
    # x = −ln(1 − u)/λ: doubling λ halves the samples drawn so far
    x2 = g.panels[0].layers["x"].xy[:, 0]
    k1 = len(f.panels[0].layers["x"].xy)
    u = np.random.default_rng(p.seed).random(400)
    n_now = int(g.metrics["samples/drawn"])
    np.testing.assert_allclose(x2, np.clip(-np.log1p(-u[n_now - 5:n_now]) / 2.0, 0, 3.0))
    assert k1 == 5 and len(x1) == 5
    gen.close()


def test_live_change_traced_points() -> None:
    p = Params(mode="box-muller", n_samples=300, traced=4)
    gen = run(p, CTX)
    for _ in range(10):
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
