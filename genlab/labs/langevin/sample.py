"""The Langevin lab's "sample" mode: ULA and MALA chains on a known density, measured by
the sliced W₂ distance to exact samples of it.

Pacing: the chains fall into the modes within a dozen steps, so the first frames show one
step each in slow motion (``ramp`` and ``Frame.pace``), and the run ends once every sampler's
distance has levelled off (``Plateau``, never before MIN_STEPS steps, so a later rise such as
ULA's drift away from p at a large step is on screen first).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.engine import langevin as lv
from genlab.engine.mixtures import fit_mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import FrameGenerator, LabError, RunContext
from genlab.labs.data import lab_data
from genlab.labs.frame import (
    MUTED,
    Frame,
    Heatmap,
    Layer,
    Panel,
    Paths,
    Points,
    VectorField,
    message_frame,
)
from genlab.labs.langevin.exact import exact_samples
from genlab.labs.langevin.params import SERIES, Params
from genlab.labs.pacing import Plateau, ramp
from genlab.labs.params import take_live
from genlab.labs.plane import cells, signed, square_limits

GRID = 96  # energy / density heatmaps: GRID x GRID cells
HIST_BINS = 48  # the chains' 2D histogram
FIELD = 17  # ∇log p arrows on a FIELD x FIELD grid
TRAIL = 30  # trail rows kept per chain ...
TRAIL_MAX = 100  # ... and only when there are at most this many chains
N_REF = 4000  # exact samples of p for the distance
N_DIST = 4000  # at most this many chains enter the distance
ENERGY_RANGE = 12.0  # energy maps show this many nats above their minimum
CHAIN_STEPS_PER_FRAME = 400_000  # chains x steps x samplers per frame, at most (frame cost)
FAR = 1e6  # a chain beyond this is counted as diverged
N_FIT = 2000  # points drawn from a gallery set for the fitted target

RAMP_FRAMES = 40  # frames over which the steps per frame grow from 1 to steps_per_frame
SLOW = 6.0  # the first SLOW_FRAMES frames (one step each) stay SLOW frame intervals ...
SLOW_FRAMES = 12
EASE_FRAMES = 12  # ... then the pace eases back to 1 over this many frames
HOLD_START = 1.0  # seconds the start is held before the chains move
HOLD_END = 2.0  # seconds the last frame is held (in exports that loop)
MIN_STEPS = 200  # a run never ends on a plateau before this many steps
FLAT_STEPS = 100  # Langevin steps per Plateau window (a slow drift shows over that many) ...
FLAT_WINDOW = 10  # ... and at least this many frames
FLAT_RTOL = 0.04  # of the distance's own size ...
# ... plus the estimate's own noise, which falls as 1/√(chains): this fraction of the panel's
# width for one chain (0.002 of it for 2000 chains)
FLAT_NOISE = 0.09

_LIVE_SAMPLE = ("eta", "steps_per_frame", "n_steps", "view")

# Fixed panel boxes per target ((x0, x1), (y0, y1)); the fitted target's comes from its data.
LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "ring": ((-4.5, 4.5), (-4.5, 4.5)),
    "8gaussians": ((-4.0, 4.0), (-4.0, 4.0)),
    "mixture": ((-5.0, 5.0), (-5.0, 5.0)),
    "banana": ((-6.0, 6.0), (-3.0, 9.0)),
    "donut": ((-4.0, 4.0), (-4.0, 4.0)),
    "funnel": ((-8.0, 8.0), (-8.0, 8.0)),
}


@dataclass
class _Chains:
    """One sampler's chains: positions of the live ones, trail rows, last acceptance."""

    name: str
    mala: bool
    x: np.ndarray
    n0: int
    trail: list[np.ndarray]
    acc: float = 1.0
    dist: float = 0.0
    diverged: int = 0


def _make_target(p: Params, ctx: RunContext) -> tuple[Any, tuple, tuple, str]:
    """(target, xlim, ylim, description); LabError when the fitted data are missing."""
    if p.target == "8gaussians":
        mix = gallery_mixture("8gaussians", 0.1)
        xlim, ylim = LIMITS[p.target]
        return (lv.GaussianMixture(mix.weights, mix.means, mix.covariances), xlim, ylim,
                "gallery's 8 gaussians")
    if p.target != "fitted":
        xlim, ylim = LIMITS[p.target]
        return lv.make_target(p.target), xlim, ylim, p.target
    x, _ = lab_data(p.fit_data, N_FIT, 0.1, p.seed, ctx)
    if len(np.unique(x, axis=0)) < 2:
        raise LabError("Fitting a mixture needs at least two distinct points: draw more.")
    mix = fit_mixture(x, p.k, seed=p.seed)
    # EM's ε keeps the covariances positive definite, so the engine's Cholesky succeeds
    target = lv.GaussianMixture(mix.weights, mix.means, mix.covariances)
    xlim, ylim = square_limits(x, 0.65)
    return target, xlim, ylim, f"{mix.n_components}-component fit to {p.fit_data}"


def _starts(p: Params, target: Any, xlim: tuple, ylim: tuple) -> np.ndarray:
    rng = np.random.default_rng([p.seed, 1])
    if p.init == "exact p":
        return exact_samples(target, p.n_chains, p.seed + 1)
    lo = np.array([xlim[0], ylim[0]])
    span = np.array([xlim[1] - xlim[0], ylim[1] - ylim[0]])
    n = p.n_chains
    if p.init == "uniform box":
        return lo + span * rng.random((n, 2))
    if p.init == "one point":
        return np.broadcast_to(lo + span * np.array([0.25, 0.5]), (n, 2)).copy()
    return lo + span / 2 + span / 4 * rng.standard_normal((n, 2))


def _energy_map(target: Any, xlim: tuple, ylim: tuple) -> tuple[np.ndarray, np.ndarray]:
    """U = −log p on the GRID x GRID cells (clipped ENERGY_RANGE above its minimum) and p."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        logp = target.log_p(cells(xlim, ylim, GRID)).reshape(GRID, GRID)
    logp = np.where(np.isfinite(logp), logp, -np.inf)
    u = -logp
    u = np.minimum(u, float(u.min()) + ENERGY_RANGE)
    return u, np.exp(logp)


def _field(target: Any, xlim: tuple, ylim: tuple) -> VectorField:
    """∇log p on a FIELD x FIELD grid, lengths compressed to log(1 + |g|) (the funnel's and the
    banana's gradients span orders of magnitude)."""
    pts = cells(xlim, ylim, FIELD)
    with np.errstate(over="ignore", invalid="ignore"):
        g = target.grad_log_p(pts)
    g = np.where(np.isfinite(g), g, 0.0)
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    uv = g * np.log1p(norm) / np.maximum(norm, 1e-12)
    return VectorField(pts, uv, series=MUTED)


def _hist(x: np.ndarray, xlim: tuple, ylim: tuple) -> np.ndarray:
    h, _, _ = np.histogram2d(x[:, 1], x[:, 0], bins=HIST_BINS, range=[ylim, xlim])
    area = (xlim[1] - xlim[0]) * (ylim[1] - ylim[0]) / HIST_BINS**2
    return h / (max(len(x), 1) * area)


def _clip(x: np.ndarray, xlim: tuple, ylim: tuple) -> np.ndarray:
    return np.column_stack([np.clip(x[:, 0], *xlim), np.clip(x[:, 1], *ylim)])


def _advance(c: _Chains, target: Any, eta: float, steps: int, seed: int) -> None:
    """``steps`` moves of c's chains; the diverged ones are dropped and counted."""
    if len(c.x) == 0:
        return
    keep_trail = c.n0 <= TRAIL_MAX
    every = 1 if keep_trail else steps
    with np.errstate(all="ignore"):
        pos, acc = lv.run_chains_with_stats(target.grad_log_p, c.x, eta, steps,
                                            log_p=target.log_p, mala=c.mala, seed=seed,
                                            every=every)
    x = pos[-1]
    ok = np.isfinite(x).all(axis=1) & (np.abs(x) < FAR).all(axis=1)
    c.acc = float(acc.mean())
    if keep_trail:
        for row in pos:
            c.trail.append(row)
        del c.trail[:-TRAIL]
        if not ok.all():  # a diverged chain leaves every trail row with it
            c.trail = [r[ok] for r in c.trail]
    c.diverged += int((~ok).sum())
    c.x = x[ok]


def steps_for(frame_no: int, full: int, cap: int) -> int:
    """Langevin steps between frame ``frame_no`` and the next: one at first, then growing to
    ``full`` over RAMP_FRAMES frames; never more than ``cap`` (the frame-cost bound)."""
    return max(1, min(ramp(frame_no, full, RAMP_FRAMES), cap))


def pace_of(frame_no: int) -> float:
    """How many frame intervals frame ``frame_no`` stays: SLOW over the first dozen steps
    (chains from afar reach the modes in about ten), then easing back to 1."""
    if frame_no < SLOW_FRAMES:
        return SLOW
    return max(1.0, SLOW - (SLOW - 1.0) * (frame_no - SLOW_FRAMES) / EASE_FRAMES)


def frames_left(frame_no: int, done: int, n_steps: int, full: int, cap: int) -> int:
    """Frames still to come after frame ``frame_no`` at ``done`` of ``n_steps`` steps."""
    n = 0
    while done < n_steps:
        if frame_no >= RAMP_FRAMES:
            return n + -(-(n_steps - done) // max(1, min(full, cap)))
        done += steps_for(frame_no, full, cap)
        frame_no, n = frame_no + 1, n + 1
    return n


def _chain_panel(c: _Chains, u: np.ndarray, field: VectorField, extent: tuple, lims: dict,
                 eta: float, moved: bool) -> Panel:
    # −U, so low energy is dark and the far field fades into the background; the contours
    # are equally spaced in energy
    layers: dict[str, Layer] = {"−U = log p": Heatmap(-u, extent, contours=8),
                                "∇log p": field}
    if c.trail and len(c.trail) > 1 and len(c.x):
        layers["trails"] = Paths(np.stack(c.trail), series=c.name, alpha=0.7, fade=True)
    size = 1.2 if c.n0 <= TRAIL_MAX else (0.7 if c.n0 <= 3000 else 0.45)
    layers["chains"] = Points(c.x, size=size, series=c.name)
    acc = f", acc {c.acc:.2f}" if c.mala and moved else ""
    return Panel(layers, title=f"{c.name}, η = {eta:.3g}{acc}", legend=True, **lims)


def _hist_panel(c: _Chains, xlim: tuple, ylim: tuple, lims: dict) -> Panel:
    h = _hist(c.x, xlim, ylim) if len(c.x) else np.zeros((HIST_BINS, HIST_BINS))
    # an empty layer of the sampler's series: the panel's key then names it in its colour,
    # as in its chain panel and its distance curve (the histogram itself is a grey density)
    return Panel({"histogram": Heatmap(h, (*xlim, *ylim)),
                  "key": Points(np.zeros((0, 2)), series=c.name)},
                 title=f"{c.name} histogram", legend=True, **lims)


class _Levels:
    """Whether every sampler's distance has levelled off (a Plateau each), and over how many
    steps that was measured; reset when η changes (a new regime)."""

    def __init__(self, names: list[str], width: float, n_chains: int) -> None:
        self.names, self.atol = names, FLAT_NOISE * width / np.sqrt(max(n_chains, 1))
        self.reset(1)

    def reset(self, steps_per_frame: int) -> None:
        window = max(FLAT_WINDOW, -(-FLAT_STEPS // steps_per_frame))
        self.flat = {n: Plateau(window, FLAT_RTOL, self.atol) for n in self.names}
        self.at: deque[int] = deque(maxlen=2 * window)

    def add(self, chains: list[_Chains], done: int) -> bool:
        self.at.append(done)
        flat = [self.flat[c.name].add(c.dist) for c in chains]  # every one sees every value
        return all(flat) and done >= MIN_STEPS

    @property
    def span(self) -> int:
        return self.at[-1] - self.at[0]


def _caption(p: Params, chains: list[_Chains], done: int, moves: tuple[int, bool],
             frame_no: int, what: str, levelled: int) -> str:
    """``moves``: the steps that led to this frame, and whether the frame-cost bound cut
    them."""
    eff, capped = moves
    if frame_no == 0:
        lead = f"Start: {p.n_chains} chains from {p.init} on the {what}. "
    elif levelled:
        names = " and ".join(c.name for c in chains)
        lead = (f"Levelled off: after {done} steps the sliced W₂ of {names} has stayed level "
                f"for the last {levelled} steps, so the run ends here. ")
    elif done >= p.n_steps:
        lead = f"Done: {done} steps (raise 'steps' to go on). "
    elif eff < p.steps_per_frame and frame_no <= RAMP_FRAMES and not capped:
        lead = (f"Step {done} (slow motion: {eff} step{'s' if eff > 1 else ''} per "
                "frame): ")
    else:
        lead = f"Step {done}: "
    story = ("ULA, x ← x + η∇log p + √(2η)ξ, samples a slightly wrong density whose error "
             "grows with η; MALA accepts the same move with probability "
             "min(1, p(y)q(x|y)/(p(x)q(y|x))), which keeps p exactly stationary.")
    parts = []
    for c in chains:
        s = f"{c.name} sliced W₂ to p {signed(c.dist)}"
        if c.mala and done:
            s += f" (acceptance {c.acc:.2f})"
        if c.diverged:
            s += f", {c.diverged} chain{'s' if c.diverged > 1 else ''} diverged"
        parts.append(s)
    cap = f" ({eff} steps per frame for this many chains)" if capped else ""
    if p.target in ("ring", "8gaussians", "mixture", "fitted") and p.init != "exact p":
        # a plateau here is slow mixing, not the step size's bias: say so
        story += (" Between separated modes the chains almost never jump, so each mode keeps "
                  "the share of chains that started near it and the distance levels off, for "
                  "MALA too (start from exact p to see the bias alone).")
    return lead + story + f" η = {p.eta:.3g}{cap}: " + "; ".join(parts) + "."


def run_sample(p: Params, ctx: RunContext) -> FrameGenerator:
    try:
        target, xlim, ylim, what = _make_target(p, ctx)
    except LabError as e:
        yield message_frame("Langevin · no data", str(e))
        return
    extent = (*xlim, *ylim)
    lims = {"xlim": xlim, "ylim": ylim}
    u, dens = _energy_map(target, xlim, ylim)
    field = _field(target, xlim, ylim)
    ref = _clip(exact_samples(target, N_REF, p.seed + 17), xlim, ylim)
    x0 = _starts(p, target, xlim, ylim)
    kinds = {"ula": [("ULA", False)], "mala": [("MALA", True)],
             "both": [("ULA", False), ("MALA", True)]}[p.sampler]
    chains = [_Chains(name, mala, x0.copy(), p.n_chains,
                      [x0.copy()] if p.n_chains <= TRAIL_MAX else []) for name, mala in kinds]
    levels = _Levels([c.name for c in chains], max(xlim[1] - xlim[0], ylim[1] - ylim[0]),
                     p.n_chains)
    levels.reset(p.steps_per_frame)
    true_panel = Panel({"p": Heatmap(dens, extent, contours=6)}, title="true density p(x)",
                       **lims)
    title_s = {"ula": "ULA", "mala": "MALA", "both": "ULA vs MALA"}[p.sampler]
    done, frame_no, moves, speed = 0, 0, (1, False), (p.eta, p.steps_per_frame)
    while True:
        for c in chains:
            if len(c.x):
                c.dist = sliced_wasserstein(_clip(c.x[:N_DIST], xlim, ylim), ref, seed=p.seed)
        if (p.eta, p.steps_per_frame) != speed:  # a new regime: its level measured afresh
            levels.reset(p.steps_per_frame)
            speed = (p.eta, p.steps_per_frame)
        levelled = levels.span if levels.add(chains, done) else 0
        metrics = {f"sliced W₂ to p/{c.name}": max(c.dist, 1e-9) for c in chains}
        for c in chains:
            if c.mala and done:  # no move has been proposed at the start
                metrics["acceptance/MALA"] = c.acc
        if p.sampler == "both" and p.view == "histograms":
            panels = tuple(_hist_panel(c, xlim, ylim, lims) for c in chains)
        else:
            panels = tuple(_chain_panel(c, u, field, extent, lims, p.eta, done > 0)
                           for c in chains)
            if p.sampler != "both":
                panels += (_hist_panel(chains[0], xlim, ylim, lims),)
        alive = max(sum(len(c.x) for c in chains), 1)
        cap = max(1, CHAIN_STEPS_PER_FRAME // alive)
        last = bool(levelled) or done >= p.n_steps
        left = 0 if last else frames_left(frame_no, done, p.n_steps, p.steps_per_frame, cap)
        frame = Frame(step=frame_no, title=f"Langevin · {what} · {title_s} · step {done} / "
                      f"{p.n_steps}", panels=(*panels, true_panel), metrics=metrics,
                      caption=_caption(p, chains, done, moves, frame_no, what, levelled),
                      total=frame_no + 1 + left, log_metrics=("sliced W₂ to p",),
                      series=SERIES, x=done, xlabel="Langevin step", pace=pace_of(frame_no),
                      hold=HOLD_START if frame_no == 0 else HOLD_END if last else 0.0)
        p = take_live(p, (yield frame), _LIVE_SAMPLE)
        if levelled or done >= p.n_steps:
            return
        want = min(ramp(frame_no, p.steps_per_frame, RAMP_FRAMES), p.n_steps - done)
        eff = max(1, min(want, cap))
        moves = (eff, eff < want)
        seed = int(np.random.SeedSequence([p.seed, frame_no]).generate_state(1)[0])
        for c in chains:  # the same seed: ULA and MALA see the same noise
            _advance(c, target, p.eta, eff, seed)
            if len(c.x) < c.n0 / 2:
                raise LabError(
                    f"{c.name} diverged: {c.diverged} of {c.n0} chains ran off to infinity at "
                    f"η = {p.eta:.3g} (the step is too large for the target's curvature); "
                    "lower the step size η, or use MALA, which rejects such moves.")
        done += eff
        frame_no += 1
