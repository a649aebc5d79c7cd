"""The Langevin lab (genlab.labs.langevin): frames, live η, ULA's bias against MALA, the
acceptance rate, the fitted target, the EBM mode and every preset."""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np
import pytest

from genlab.engine import langevin as lv
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs import langevin as L
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import Frame, Heatmap, Paths, Points, VectorField
from genlab.labs.params import replace, validate
from genlab.labs.presets import presets_for

DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
CTX = RunContext(drawn=DRAWN, device="cpu")


@pytest.fixture(autouse=True)
def one_torch_thread():
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _frames(params: L.Params, n: int, ctx: RunContext = CTX) -> list[Frame]:
    gen = L.run(params, ctx)
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


def _params(**kw) -> L.Params:
    return replace(L.Params(), **kw)


@functools.cache
def _preset_run(name: str) -> tuple[Frame, ...]:
    """Every frame of a preset's run (cached: several tests read the same story)."""
    p = next(x for x in presets_for("langevin") if x.name == name).params(L.Params)
    return tuple(_frames(p, 10**6))


def _dist(frames, name: str = "ULA") -> np.ndarray:
    return np.array([f.metrics[f"sliced W₂ to p/{name}"] for f in frames])


def test_defaults_equal_first_preset() -> None:
    first = presets_for("langevin")[0].params(L.Params)
    assert first == L.Params()


def test_frame_sequence_and_shapes() -> None:
    p = _params(n_chains=300, n_steps=40, steps_per_frame=4)
    frames = _frames(p, 100)
    # the start, then one step per frame at first, growing towards 4 (ramp)
    steps = [int(f.x) for f in frames]
    assert steps[0] == 0 and steps[-1] == 40
    assert np.diff(steps).tolist() == [min(L.steps_for(k, 4, 10**6), 40 - steps[k])
                                       for k in range(len(frames) - 1)]
    for i, f in enumerate(frames):
        assert f.step == i and f.total == len(frames) and f.caption
        assert f.xlabel == "Langevin step" and f.x == steps[i]
        assert f.first_nonfinite() is None
        chains, hist, true = f.panels
        assert isinstance(chains.layers["chains"], Points)
        assert chains.layers["chains"].xy.shape == (300, 2)
        assert isinstance(chains.layers["∇log p"], VectorField)
        assert chains.layers["∇log p"].xy.shape == (L.FIELD**2, 2)
        assert chains.layers["−U = log p"].values.shape == (L.GRID, L.GRID)
        assert hist.layers["histogram"].values.shape == (L.HIST_BINS, L.HIST_BINS)
        assert isinstance(true.layers["p"], Heatmap)
        assert chains.xlim == L.LIMITS["ring"][0] and hist.ylim == L.LIMITS["ring"][1]
        assert "trails" not in chains.layers  # 300 chains: points only
        assert f.nbytes < 1_000_000
    assert frames[0].caption.startswith("Start") and frames[-1].caption.startswith("Done")
    assert "step 40 / 40" in frames[-1].title
    # the histogram is a density: it integrates to the fraction of chains inside the box
    h = frames[-1].panels[1].layers["histogram"]
    x0, x1, y0, y1 = h.extent
    assert h.values.sum() * (x1 - x0) * (y1 - y0) / L.HIST_BINS**2 == pytest.approx(1.0,
                                                                                   abs=0.02)
    # uniform start → chains settle on the ring: the distance to p falls
    d = [f.metrics["sliced W₂ to p/ULA"] for f in frames]
    assert d[-1] < 0.6 * d[0]


def test_few_chains_get_fading_trails() -> None:
    frames = _frames(_params(n_chains=20, steps_per_frame=3, init="one point"), 30)
    trails = frames[-1].panels[0].layers["trails"]
    assert isinstance(trails, Paths) and trails.fade
    assert trails.xy.shape == (L.TRAIL, 20, 2)
    # the newest trail row is where the chains are
    assert np.allclose(trails.xy[-1], frames[-1].panels[0].layers["chains"].xy)


def test_live_eta_changes_the_running_chains() -> None:
    p = _params(target="mixture", sampler="mala", init="exact p", n_chains=1000,
                eta=0.01, steps_per_frame=5, n_steps=2000)
    gen = L.run(p, CTX)
    try:
        frames = [next(gen) for _ in range(6)]
        acc_small = frames[-1].metrics["acceptance/MALA"]
        x_before = frames[-1].panels[0].layers["chains"].xy
        f = gen.send(replace(p, eta=0.8))
        # the chains carried on from where they were (not a restart from the exact start)
        assert f.step == 6 and "η = 0.8" in f.caption and "η = 0.8" in f.panels[0].title
        moved = np.abs(f.panels[0].layers["chains"].xy - x_before).max()
        assert moved > 0
        frames = [next(gen) for _ in range(4)]
    finally:
        gen.close()
    acc_large = frames[-1].metrics["acceptance/MALA"]
    assert 0.0 <= acc_large <= 1.0 and 0.0 <= acc_small <= 1.0
    assert acc_small > 0.95 and acc_large < acc_small - 0.2


def test_mala_ends_closer_than_ula_at_large_step() -> None:
    preset = next(p for p in presets_for("langevin") if p.name == "MALA fixes it")
    p = replace(preset.params(L.Params), n_steps=200)
    frames = _frames(p, 1000)
    last = frames[-1]
    ula, mala = last.metrics["sliced W₂ to p/ULA"], last.metrics["sliced W₂ to p/MALA"]
    assert mala < 0.5 * ula
    assert 0.55 < last.metrics["acceptance/MALA"] < 0.65  # the preset: "rejects about 40%"
    # same start: at frame 0 both clouds coincide
    f0 = frames[0]
    assert np.array_equal(f0.panels[0].layers["chains"].xy, f0.panels[1].layers["chains"].xy)
    # the histogram view is live and shows the two samplers' histograms beside p
    assert [pan.title for pan in last.panels][-1] == "true density p(x)"


def test_histogram_view_is_live() -> None:
    p = _params(sampler="both", n_chains=200, n_steps=200)
    gen = L.run(p, CTX)
    try:
        next(gen)
        next(gen)
        f = gen.send(replace(p, view="histograms"))
    finally:
        gen.close()
    assert [pan.title for pan in f.panels] == ["ULA histogram", "MALA histogram",
                                               "true density p(x)"]
    assert f.step == 2


@pytest.mark.parametrize("name", ["ring", "mixture", "banana", "donut", "funnel"])
def test_exact_samplers_match_the_targets(name: str) -> None:
    """Exact draws are distributed as p: their mean log p matches a quadrature of E_p log p
    on a fine grid."""
    target = lv.make_target(name)
    x = L.exact_samples(target, 20_000, seed=0)
    lo, hi = (-12.0, 12.0) if name != "funnel" else (-60.0, 60.0)
    ylo, yhi = (-12.0, 24.0) if name == "banana" else (lo, hi)
    if name == "funnel":
        ylo, yhi = (-15.0, 15.0)
    xs, ys = np.linspace(lo, hi, 1201), np.linspace(ylo, yhi, 1201)
    gx, gy = np.meshgrid(xs, ys)
    lp = target.log_p(np.column_stack([gx.ravel(), gy.ravel()]))
    pdens = np.exp(lp)
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    if name != "funnel":  # the funnel's neck is too thin for this grid
        assert pdens.sum() * cell == pytest.approx(1.0, abs=0.01)
        expected = float((pdens * lp).sum() * cell)
        assert float(target.log_p(x).mean()) == pytest.approx(expected, abs=0.05)
    else:  # v ~ N(0, 9) and x / e^(v/2) ~ N(0, 1)
        assert np.std(x[:, 1]) == pytest.approx(3.0, rel=0.03)
        assert np.std(x[:, 0] / np.exp(x[:, 1] / 2)) == pytest.approx(1.0, rel=0.03)


def test_fitted_to_drawn_data_and_message_without_it() -> None:
    p = _params(target="fitted", fit_data="drawn", k=3, n_chains=500, n_steps=20)
    frames = _frames(p, 3)
    assert "3-component fit to drawn" in frames[0].title
    xlim = frames[0].panels[0].xlim
    assert xlim[0] < DRAWN[:, 0].min() and xlim[1] > DRAWN[:, 0].max()
    f = _frames(p, 3, ctx=RunContext(device="cpu"))
    assert len(f) == 1 and "No drawn points" in f[0].caption


def test_ula_divergence_is_a_lab_error() -> None:
    p = _params(target="banana", sampler="ula", eta=0.5, n_chains=200, init="exact p",
                steps_per_frame=20, n_steps=400)
    with pytest.raises(LabError, match="lower the step size"):
        _frames(p, 50)


def test_ebm_mode_trains_a_few_frames() -> None:
    p = _params(mode="ebm", buffer=512, batch_size=128, k_steps=10, train_per_frame=3,
                train_steps=30)
    frames = _frames(p, 20)
    assert len(frames) == 11
    for f in frames:
        assert f.first_nonfinite() is None and f.caption
        assert np.isfinite(f.metrics["contrastive loss"])
        data, dens, chains = f.panels
        assert dens.layers["p_θ"].values.shape == (L.EBM_GRID, L.EBM_GRID)
        assert chains.layers["chains"].xy.shape == (512, 2)
        # the chains are clamped to the panel's box
        xy = chains.layers["chains"].xy
        assert (xy[:, 0] >= chains.xlim[0] - 1e-9).all() and (xy[:, 0] <= chains.xlim[1]
                                                              + 1e-9).all()
        assert f.x == int(f.title.split("step ")[1].split(" ")[0])
        assert f.xlabel == "training step" and f.series == L.SERIES
        assert data.layers["data"].series == "data" and chains.layers["chains"].series == "chains"
        assert {k.partition("/")[2] for k in f.metrics} == {"", "data", "chains"}
    # the first training steps move the energies most: held, then slowed down
    assert frames[0].hold > 0 and frames[1].pace > frames[-1].pace >= 1.0
    h = frames[-1].panels[1].layers["p_θ"]
    x0, x1, y0, y1 = h.extent
    assert h.values.sum() * (x1 - x0) * (y1 - y0) / L.EBM_GRID**2 == pytest.approx(1.0)
    assert frames[-1].caption.startswith("Done")
    # live learning rate is taken (no restart)
    gen = L.run(p, CTX)
    try:
        next(gen)
        f = gen.send(replace(p, ebm_step=0.02))
        assert "η = 0.02" in f.caption and f.step == 1
    finally:
        gen.close()


def test_ebm_divergence_is_a_lab_error() -> None:
    p = _params(mode="ebm", buffer=256, batch_size=64, k_steps=5, lr=0.1, alpha=0.0,
                train_per_frame=20, train_steps=2000)
    with pytest.raises(LabError, match="learning rate"):
        _frames(p, 100)


def test_ebm_without_drawn_data_gives_a_message() -> None:
    f = _frames(_params(mode="ebm", ebm_data="drawn"), 3, ctx=RunContext(device="cpu"))
    assert len(f) == 1 and "No drawn points" in f[0].caption


@pytest.mark.parametrize("preset", [p.name for p in presets_for("langevin")])
def test_every_preset_runs(preset: str) -> None:
    p = next(x for x in presets_for("langevin") if x.name == preset).params(L.Params)
    validate(p)
    frames = _frames(p, 4)
    assert len(frames) == 4
    for f in frames:
        assert f.first_nonfinite() is None and f.caption


def test_distance_is_sliced_w2_against_clipped_exact_samples() -> None:
    p = _params(n_chains=500, n_steps=10)
    f = _frames(p, 1)[0]
    target = lv.make_target("ring")
    xlim, ylim = L.LIMITS["ring"]
    ref = L._clip(L.exact_samples(target, L.N_REF, p.seed + 17), xlim, ylim)
    x = f.panels[0].layers["chains"].xy
    assert f.metrics["sliced W₂ to p/ULA"] == pytest.approx(
        sliced_wasserstein(L._clip(x, xlim, ylim), ref, seed=p.seed))


def test_the_gallery_target_is_the_8_gaussians_set_s_own_mixture():
    from genlab.engine.datasets import make_dataset

    target, xlim, ylim, what = L._make_target(_params(target="8gaussians"), CTX)
    data, _ = make_dataset("8gaussians", 20000, 0.1, seed=3)
    assert "8 gaussians" in what
    # the gallery's points are as likely under the target as the target's own samples are
    own = L.exact_samples(target, 20000, seed=4)
    assert abs(target.log_p(data).mean() - target.log_p(own).mean()) < 0.03
    assert np.abs(data).max() < xlim[1] and np.abs(data).max() < ylim[1]
    f = _frames(_params(target="8gaussians", sampler="both", init="exact p", eta=0.05), 3)[-1]
    assert f.metrics["sliced W₂ to p/MALA"] < f.metrics["sliced W₂ to p/ULA"]


# ------------------------------------------------------------------------ pictures


def test_each_sampler_keeps_its_series_in_chains_trails_histograms_and_metrics() -> None:
    assert [s.name for s in L.SERIES] == ["ULA", "MALA", "data", "chains"]
    assert L.LAB.series == L.SERIES
    p = _params(sampler="both", n_chains=50, n_steps=20, init="one point")
    f = _frames(p, 4)[-1]
    assert f.series == L.SERIES
    for panel, name in zip(f.panels[:2], ("ULA", "MALA"), strict=True):
        assert panel.layers["chains"].series == name and panel.layers["trails"].series == name
        assert panel.series_names() == [name] and panel.legend
        assert panel.title.startswith(f"{name}, η")
    assert {k.partition("/")[2] for k in f.metrics} == {"ULA", "MALA"}
    # the histograms are grey densities: their key names the sampler in its colour
    h = _frames(replace(p, view="histograms"), 1)[0]
    for panel, name in zip(h.panels[:2], ("ULA", "MALA"), strict=True):
        assert panel.series_names() == [name] and panel.legend
        assert panel.title == f"{name} histogram"
    one, two = _frames(_params(sampler="mala", n_chains=50, n_steps=20), 2)
    assert [pan.series_names() for pan in one.panels] == [["MALA"], ["MALA"], []]
    # no move is proposed before the first step: no acceptance rate to plot or quote yet
    assert "acceptance/MALA" not in one.metrics and "acc" not in one.panels[0].title
    assert "acceptance/MALA" in two.metrics and "acc " in two.panels[0].title


def test_the_approach_to_the_modes_plays_in_slow_motion() -> None:
    """The ring's chains reach the modes within a few dozen steps; at the lab's speed that
    stretch stays on screen for seconds, the first moves shown one step per frame."""
    frames = _preset_run("ULA on the 8-mode ring")
    d = _dist(frames)
    arrived = int(np.argmax(d < 1.1 * d[-1]))  # the first frame near the final level
    assert 3 <= frames[arrived].x <= 30
    seconds = sum(f.pace / L.LAB.fps + f.hold for f in frames[1:arrived + 1])
    assert seconds >= 2.0
    assert [f.x for f in frames[:6]] == [0, 1, 2, 3, 4, 5]
    assert frames[0].hold > 0 and frames[1].pace > 3 and frames[-1].pace == 1.0
    assert "slow motion: 1 step per frame" in frames[1].caption
    ramped = [int(b.x - a.x) for a, b in zip(frames[L.RAMP_FRAMES:], frames[L.RAMP_FRAMES + 1:],
                                             strict=False)]
    assert ramped and set(ramped) == {L.Params().steps_per_frame}


def test_a_run_ends_once_the_distance_has_levelled_off() -> None:
    frames = _preset_run("ULA on the 8-mode ring")
    last = frames[-1]
    assert L.MIN_STEPS <= last.x < L.Params().n_steps  # ended on the plateau, not the budget
    assert last.total == len(frames) and last.hold > 0
    m = re.match(r"Levelled off: after (\d+) steps the sliced W₂ of ULA has stayed level for "
                 r"the last (\d+) steps, so the run ends here", last.caption)
    assert m and int(m.group(1)) == last.x
    span = int(m.group(2))
    assert span >= 100
    # the claim: over those steps the distance moved by a few percent at most
    d = _dist([f for f in frames if f.x >= last.x - span])
    half = len(d) // 2
    assert abs(d[half:].mean() - d[:half].mean()) < 0.05 * d.mean()
    assert not any(f.caption.startswith("Levelled") for f in frames[:-1])


def test_a_later_rise_is_on_screen_before_the_run_ends() -> None:
    """From exact p at a large step ULA's distance jumps up and stays: the run shows the
    rise, then the level, for seconds, and ends."""
    frames = _preset_run("ULA bias at large step")
    d = _dist(frames)
    assert d.max() > 4 * d[0]
    risen = int(np.argmax(d > 0.5 * (d[0] + d[-1])))
    assert sum(f.pace / L.LAB.fps + f.hold for f in frames[risen:]) >= 3.0
    assert frames[-1].x >= L.MIN_STEPS and frames[-1].caption.startswith("Levelled off")


def test_a_still_rising_distance_does_not_end_the_run() -> None:
    """On the banana ULA's distance climbs for hundreds of steps: the run goes on until it
    has levelled off, so the end shows ULA at its worst, not halfway."""
    frames = _preset_run("banana: where ULA struggles")
    d = _dist(frames)
    assert frames[-1].x > 300
    assert d[-1] > 0.9 * d.max() and d[-1] > 5 * d[0]
    # the preset's story: some ULA chains diverge, MALA's stay on the target
    assert re.search(r"ULA sliced W₂ to p [\d.]+, \d+ chains diverged; MALA sliced W₂ to p "
                     r"[\d.]+ \(acceptance", frames[-1].caption)
    assert _dist(frames, "MALA")[-1] < 0.25 * d[-1]


def test_levels_need_every_sampler_flat_and_restart_after_a_change() -> None:
    from genlab.labs.langevin.sample import _Chains, _Levels

    chains = [_Chains(n, n == "MALA", np.zeros((1, 2)), 1, []) for n in ("ULA", "MALA")]
    lv_ = _Levels(["ULA", "MALA"], width=9.0, n_chains=2000)
    lv_.reset(steps_per_frame=10)  # windows of 10 frames (100 steps)
    flat, done = [], 0
    for k in range(60):
        chains[0].dist, chains[1].dist = 0.2, 0.05 + 0.01 * (k < 30) * k  # MALA drifts first
        done += 10
        flat.append(lv_.add(chains, done))
    first = flat.index(True)
    assert first == 30 + 2 * 10 - 1  # ULA was flat long before: it waited for MALA
    lv_.reset(steps_per_frame=10)
    assert not lv_.add(chains, done + 10)


def test_both_samplers_share_their_noise_so_with_every_move_accepted_they_agree():
    """'The same start, step and noise for ULA and MALA': at η = 1e-4 MALA accepts every
    move, and its chains stay ULA's exactly over many frames (the acceptance uniforms used to
    be drawn from the noise stream: 0.023 apart after 2 steps)."""
    p = L.Params(mode="sample", target="mixture", sampler="both", n_chains=200, eta=1e-4,
                 steps_per_frame=5, n_steps=60, init="exact p")
    frames = list(itertools.islice(L.run(p, RunContext()), 12))
    last = frames[-1]
    assert last.metrics.get("acceptance/MALA", 1.0) == 1.0
    ula = last.panels[0].layers["chains"].xy
    mala = last.panels[1].layers["chains"].xy
    np.testing.assert_array_equal(ula, mala)
