"""The annulus lab: its contract (run directly, before it is registered), the points it grows,
and every number it shows against its closed form."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import sys
import time

import numpy as np
import pytest
from scipy import stats

from genlab.engine import latent as L
from genlab.labs import annulus as lab
from genlab.labs.annulus import panels
from genlab.labs.annulus.settings import BLOCK, GrowingSample, sweep_dims
from genlab.labs.base import RunContext
from genlab.labs.frame import Curve, Histogram, Points
from genlab.labs.params import validate
from genlab.labs.presets import presets_for
from tests.labs.test_contract import _check_identity, _check_numpy_only, _same

CTX = RunContext()


def _frames(p, n=6):
    gen = lab.run(p, CTX)
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


# ------------------------------------------------------------------------------ contract

def test_defaults_valid_and_first_frame_fast_without_torch():
    validate(lab.Params())
    had_torch = "torch" in sys.modules
    t0 = time.perf_counter()
    first = next(lab.run(lab.Params(), CTX))
    assert time.perf_counter() - t0 < 1.5
    assert first.title.endswith("d = 1")
    if not had_torch:
        assert "torch" not in sys.modules


def test_numpy_only_and_same_seed_same_frames():
    a, b = _frames(lab.Params()), _frames(lab.Params())
    for f in a:
        _check_numpy_only(f)
        _check_identity(f, lab.LAB)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    c = _frames(dataclasses.replace(lab.Params(), seed=1), 2)
    assert not _same(a[1], c[1])


@pytest.mark.parametrize("preset", [p.name for p in presets_for("annulus")])
def test_every_preset_runs_six_frames(preset):
    p = next(q for q in presets_for("annulus") if q.name == preset).params(lab.Params)
    validate(p)
    frames = _frames(p)
    assert frames
    for f in frames:
        _check_numpy_only(f)
        _check_identity(f, lab.LAB)


def test_series_named_once_and_told_apart():
    from genlab.ui.theme import DARK, LIGHT, lab_distance

    names = [s.name for s in lab.SERIES]
    assert len(names) == len(set(names))
    for theme in (LIGHT, DARK):
        for i, a in enumerate(lab.SERIES):
            for b in lab.SERIES[i + 1:]:
                if a.dashed != b.dashed or {a.colour, b.colour} <= {"ink", "muted"}:
                    continue
                assert lab_distance(theme.colour_of(a.colour), theme.colour_of(b.colour)) >= 40


# ----------------------------------------------------------------------- growing samples

def _explicit(n: int, seed: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The points and the two directions as GrowingSample draws them, built in full."""
    blocks = [np.random.default_rng([seed, 0, j]).standard_normal((n + 2, BLOCK),
                                                                   dtype=np.float32)
              for j in range(-(-d // BLOCK))]
    full = np.concatenate(blocks, axis=1)[:, :d].astype(np.float64)
    return full[:n], full[n:]


def test_grown_points_are_the_explicit_gaussian_vectors_whichever_way_d_grew():
    n, seed, d = 40, 3, 700
    x, g = _explicit(n, seed, d)
    s = GrowingSample(n, seed)
    for k in (1, 2, 5, 255, 256, 257, 600, d):  # across block borders
        s.grow(k)
    t = GrowingSample(n, seed)
    t.grow(d)
    np.testing.assert_allclose(s.sq, t.sq, rtol=1e-12)
    np.testing.assert_allclose(s.norms, np.linalg.norm(x, axis=1), rtol=1e-6)
    cos = (x[0::2] * x[1::2]).sum(1) / np.linalg.norm(x[0::2], axis=1) \
        / np.linalg.norm(x[1::2], axis=1)
    np.testing.assert_allclose(s.angles, np.degrees(np.arccos(cos)), atol=1e-4)
    np.testing.assert_allclose(s.distances, np.linalg.norm(x[0::2] - x[1::2], axis=1),
                               rtol=1e-5)
    q, r = np.linalg.qr(g.T)  # orthonormal basis of the directions' span (signs fixed by r)
    np.testing.assert_allclose(s.projection, x @ q * np.sign(np.diag(r)), atol=1e-4)
    s.grow(10)  # points never lose coordinates
    assert s.d == d


def test_d_equal_one_projects_onto_a_line():
    s = GrowingSample(10, 0)
    s.grow(1)
    assert np.all(s.projection[:, 1] == 0)
    assert set(np.round(s.angles)) <= {0.0, 180.0}


# -------------------------------------------------------------- numbers vs closed forms

@pytest.mark.parametrize("d", [2, 50, 784, 3072])
def test_numbers_against_their_closed_forms(d):
    n = 2000
    s = GrowingSample(n, 7)
    s.grow(d)
    v = panels.numbers(s, radius=0.97)
    sd = L.chi_std(d)
    assert v["mean norm exact"] == pytest.approx(stats.chi.mean(d))
    assert abs(v["mean norm"] - v["mean norm exact"]) < 4 * sd / math.sqrt(n)
    assert v["sd norm"] == pytest.approx(sd, rel=4 / math.sqrt(2 * n))
    p = float(stats.chi.cdf(0.97 * math.sqrt(d), d))
    assert v["within r exact"] == pytest.approx(p)
    assert abs(v["within r"] - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-9
    assert abs(v["mean distance"] - math.sqrt(2) * stats.chi.mean(d)) < 4 * math.sqrt(2) * sd \
        / math.sqrt(n / 2)
    assert abs(v["mean angle"] - 90.0) < 4 * v["sd angle exact"] / math.sqrt(n / 2)
    assert v["sd angle"] == pytest.approx(v["sd angle exact"], rel=4 / math.sqrt(n))
    assert v["mean gap exact"] == -d / 2 and v["sd gap exact"] == pytest.approx(math.sqrt(d / 2))
    assert abs(v["mean gap"] + d / 2) < 4 * math.sqrt(d / 2) / math.sqrt(n)
    proj = s.projection
    assert np.all(np.abs(proj.mean(0)) < 4 / math.sqrt(n))
    assert np.allclose(np.cov(proj.T), np.eye(2), atol=5 * math.sqrt(2 / n))
    if d < 300:
        ball = math.pi ** (d / 2) / math.gamma(d / 2 + 1)
        assert v["log10 ball"] == pytest.approx(math.log10(ball))


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_cube_fraction_against_the_ball_volume(d):
    s = GrowingSample(4000, 1)
    s.grow(d)
    p = 10 ** (float(L.log10_ball_volume(d)) - d * math.log10(2))
    assert abs(s.cube_fraction() - p) < 4 * math.sqrt(p * (1 - p) / 4000)


def test_angle_sd_tends_to_one_over_root_d():
    assert panels.angle_std_deg(3) == pytest.approx(math.degrees(math.sqrt(math.pi ** 2 / 4 - 2)),
                                                    rel=1e-6)
    assert panels.angle_std_deg(10_000) == pytest.approx(math.degrees(1 / math.sqrt(9998)),
                                                         rel=1e-3)


def test_caption_numbers_are_the_computed_ones():
    frame = _frames(lab.Params(d=784, sweep=False), 1)[0]
    c = frame.caption
    assert f"exact {L.chi_mean(784):.2f}" in c and "√d = 28.00" in c
    assert f"exact {L.chi_std(784):.3f}" in c
    assert "the mode is not typical" in c
    low = _frames(lab.Params(d=2, sweep=False), 1)[0].caption
    assert "still among typical values" in low
    share = float(re.search(r"fills 10\^(-?\d+)", c).group(1))
    assert share == round(float(L.log10_ball_volume(784)) - 784 * math.log10(2))


# ------------------------------------------------------------------------ the pictures

def test_norm_panel_draws_the_histogram_against_chi_and_the_mass_within_r():
    frame = _frames(lab.Params(d=100, sweep=False, radius=1.0), 1)[0]
    norm = frame.panels[0]
    hist, chi = norm.layers["hist"], norm.layers["chi"]
    assert isinstance(hist, Histogram) and isinstance(chi, Curve)
    np.testing.assert_allclose(chi.y, stats.chi.pdf(chi.x, 100), rtol=1e-9)
    within = norm.layers["within"]
    assert within.fill and within.x.max() <= 10.0  # r = 1.0 · √100
    assert norm.xlim[0] <= 10 - 4 and norm.xlim[1] >= 10 + 4
    proj = frame.panels[3].layers["points"]
    assert isinstance(proj, Points) and proj.xy.shape == (2000, 2)


def test_sweep_paces_small_d_holds_beats_and_ends_at_the_sliders_d():
    dims = sweep_dims(10_000)
    assert dims[0] == 1 and dims[-1] == 10_000 and np.all(np.diff(dims) > 0)
    assert list(dims[:10]) == list(range(1, 11))  # each small d is its own picture
    frames = list(lab.run(lab.Params(n=200), CTX))
    assert [int(f.title.rsplit("= ", 1)[1]) for f in frames] == list(dims)
    seconds = sum(f.pace / lab.LAB.fps + f.hold for f in frames)
    assert 12.0 <= seconds <= 25.0
    assert frames[0].hold >= 1.5 and frames[-1].hold >= 2.0
    assert frames[1].pace > 1.0 and frames[-2].pace == 1.0
    assert [f.x for f in frames] == pytest.approx([math.log10(d) for d in dims])
    assert frames[-1].metrics["sd of ‖x‖/exact"] == pytest.approx(L.chi_std(10_000))


def test_live_radius_after_the_end_redraws():
    gen = lab.run(lab.Params(d=64, sweep=False, radius=0.5), CTX)
    first = next(gen)
    again = gen.send(dataclasses.replace(lab.Params(d=64, sweep=False), radius=1.5))
    assert "Within r = 4.00" in first.caption and "Within r = 12.00" in again.caption
    with pytest.raises(StopIteration):
        next(gen)


def test_cancel_honoured_within_half_a_second(qapp):
    from genlab.ui.worker import RunThread

    params = presets_for("annulus")[0].params(lab.Params)
    thread = RunThread(1, lambda: lab.run(params, CTX), fps=0)
    got = []
    thread.frame_ready.connect(lambda g, f: (got.append(f), thread.ack()))
    thread.start()
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        qapp.processEvents()
        thread.wait(10)
    assert got
    t0 = time.monotonic()
    thread.cancel()
    assert thread.wait(500) or thread.isFinished()
    assert time.monotonic() - t0 < 0.55


def test_a_single_d_shows_its_numbers_as_bars_and_a_sweep_as_curves():
    one = _frames(lab.Params(d=784, sweep=False), 1)[0]
    assert not one.metrics and one.values[f"{lab.NORM_SD}/exact"] == pytest.approx(
        L.chi_std(784))
    assert set(one.values) == {f"{g}/{s}" for g in (lab.NORM_RATIO, lab.NORM_SD, lab.ANGLE_SD)
                               for s in ("samples", "exact")}
    swept = _frames(lab.Params(n=200), 2)
    assert all(f.metrics and not f.values and f.xlabel == "log₁₀ d" for f in swept)


def test_the_norm_panel_shows_the_edge_of_a_ball_just_inside_the_annulus():
    for d, radius in ((784, 0.9), (10_000, 0.95), (3072, 0.95)):
        frame = _frames(lab.Params(d=d, sweep=False, radius=radius), 1)[0]
        lo, hi = frame.panels[0].xlim
        assert lo < radius * math.sqrt(d) < hi and "r" in frame.panels[0].layers


def test_preset_descriptions_state_the_closed_forms():
    """The numbers typed in the presets' descriptions are the closed forms, rounded."""
    presets = {p.name: p for p in presets_for("annulus")}
    sweep = presets["d from 1 to 10,000"].params(lab.Params)
    assert (sweep.d, sweep.n, sweep.sweep) == (10_000, 2000, True)
    assert "2000 points" in presets["d from 1 to 10,000"].description
    assert L.chi_std(10_000) == pytest.approx(1 / math.sqrt(2), abs=1e-4)
    # d = 2: the mode is the densest point and angles are uniform
    assert np.ptp(L.angle_pdf(np.linspace(0.1, 3.0, 50), 2)) < 1e-12
    low = _frames(presets["d = 2: the mode is typical"].params(lab.Params), 1)[0]
    assert "still among typical values" in low.caption
    # d = 784: "28 +- 0.7", the ball of radius 0.9 sqrt d holds none of the mass
    p784 = presets["d = 784: a ball around the mode holds nothing"]
    p = p784.params(lab.Params)
    assert "28 +- 0.7" in p784.description and "0.9 sqrt d" in p784.description
    assert (round(L.chi_mean(784)), round(L.chi_std(784), 1), p.radius) == (28, 0.7, 0.9)
    assert L.chi_cdf(0.9 * 28, 784) < 1e-4
    # d = 3072: "55.4 +- 0.7", "1536 nats", "78 apart", "90 +- 1 degrees"
    desc = presets["d = 3072: a CIFAR image's noise"].description
    assert "55.4 +- 0.7" in desc and "1536 nats" in desc and "78 apart" in desc
    assert (round(L.chi_mean(3072), 1), round(L.chi_std(3072), 1)) == (55.4, 0.7)
    assert 3072 / 2 == 1536 and round(math.sqrt(2) * L.chi_mean(3072)) == 78
    assert "90 +- 1 degrees" in desc and round(panels.angle_std_deg(3072)) == 1
