"""Lab "langevin": Langevin chains on a known density, and an energy-based model trained with
them.

``mode = "sample"``: chains follow the unadjusted Langevin algorithm (ULA)

    x ← x + η ∇log p(x) + √(2η) ξ,  ξ ~ N(0, I),

or MALA, the same move used as a proposal y and accepted with probability
min(1, p(y) q(x|y) / (p(x) q(y|x))).  ULA's stationary law is a slightly wrong density whose
error grows with η; MALA's accept/reject makes p itself stationary at every η.  The chains
move over the energy U = −log p (heatmap, contours) and the field ∇log p; a 2D histogram of
the chains sits beside the true density, and the sliced W₂ distance from the chains to exact
samples of p is plotted over time (every target here has an exact sampler: ancestral sampling
for the mixtures, x₂ | x₁ Gaussian for the banana, v then x | v for the funnel, rejection from
the radial Gaussian for the donut).  Chains and reference points are clipped to the panel's box
before the distance, so a few far-away chains cannot swamp it.  η is live: the chains carry
on from where they are.  With ``sampler = "both"`` ULA and MALA start from the same points and
use the same Gaussian noise, so the gap between them is the Metropolis correction alone.

``mode = "ebm"``: an MLP energy E_θ is trained on data by the contrastive loss of Du & Mordatch
(2019) with negatives from persistent Langevin chains on −E_θ (``genlab.engine.ebm``, torch,
imported when the run starts).  The views show the data, the learned density e^(−E_θ)/Z
normalised on the grid, and the persistent chains over E_θ.

Samplers come from ``genlab.engine.langevin`` (run_chains_with_stats), distances from
``genlab.engine.sample_distance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import langevin as lv
from genlab.engine.mixtures import fit_mixture, gallery_mixture
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.data import DATA_CHOICES, data_or_message, lab_data
from genlab.labs.frame import (
    Frame,
    Heatmap,
    Layer,
    Panel,
    Paths,
    Points,
    VectorField,
    message_frame,
)
from genlab.labs.params import Choice, Range, take_live
from genlab.labs.plane import cells, signed, square_limits

MODES = ("sample", "ebm")
TARGET_CHOICES = ("ring", "8gaussians", "mixture", "banana", "donut", "funnel", "fitted")
SAMPLERS = ("ula", "mala", "both")
INITS = ("uniform box", "one point", "wide gaussian", "exact p")
VIEWS = ("chains", "histograms")

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
EBM_GRID = 80
EBM_BASE_STD = 2.0  # the EBM's fixed Gaussian term, in standardised units
ENERGY_BLOWUP = 1e4

_SAMPLE: Any = ("mode", ("sample",))
_EBM: Any = ("mode", ("ebm",))

# Fixed panel boxes per target ((x0, x1), (y0, y1)); the fitted target's comes from its data.
LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "ring": ((-4.5, 4.5), (-4.5, 4.5)),
    "8gaussians": ((-4.0, 4.0), (-4.0, 4.0)),
    "mixture": ((-5.0, 5.0), (-5.0, 5.0)),
    "banana": ((-6.0, 6.0), (-3.0, 9.0)),
    "donut": ((-4.0, 4.0), (-4.0, 4.0)),
    "funnel": ((-8.0, 8.0), (-8.0, 8.0)),
}


@dataclass(frozen=True)
class Params:
    mode: Annotated[str, Choice(
        MODES, "sample: Langevin chains on a known density; ebm: train an energy-based model "
        "on data with persistent Langevin chains")] = "sample"
    target: Annotated[str, Choice(
        TARGET_CHOICES, "the density p to sample: ring (8 Gaussians on a circle of radius 3, "
        "std 0.3), 8gaussians (the gallery set's own mixture: radius 2.5, std 0.2), mixture (the "
        "engine's 3-component correlated mixture), banana, donut, Neal's funnel (x, v), or a "
        "mixture fitted by EM to a data set", when=_SAMPLE)] = "ring"
    fit_data: Annotated[str, Choice(
        DATA_CHOICES, "the points the fitted mixture is fitted to (2000 points of a gallery "
        "set at noise 0.1, or the points you drew)", when=("target", ("fitted",)),
        label="fit to")] = "moons"
    k: Annotated[int, Range(
        1, 20, "number of components K of the fitted mixture", when=("target", ("fitted",)),
        label="K")] = 8
    sampler: Annotated[str, Choice(
        SAMPLERS, "ula: unadjusted Langevin; mala: with a Metropolis–Hastings correction; "
        "both: side by side from the same start with the same noise", when=_SAMPLE)] = "ula"
    n_chains: Annotated[int, Range(
        1, 20_000, "how many independent chains (fading trails shown up to 100)",
        when=_SAMPLE, label="chains")] = 2000
    eta: Annotated[float, Range(
        1e-4, 1.0, "step size η of x ← x + η∇log p(x) + √(2η)ξ", log=True, live=True,
        when=_SAMPLE, label="step η")] = 0.02
    steps_per_frame: Annotated[int, Range(
        1, 100, "Langevin steps between two frames (fewer for very many chains, to keep "
        "frames quick)", live=True, when=_SAMPLE, label="steps / frame")] = 4
    n_steps: Annotated[int, Range(
        10, 20_000, "Langevin steps in the run (raise it to go on)", step=10, live=True,
        when=_SAMPLE, label="steps")] = 800
    init: Annotated[str, Choice(
        INITS, "where the chains start: uniform over the panel, all at one point, a wide "
        "Gaussian around the panel's centre, or exact samples of p (then any drift away from "
        "p is the sampler's bias)", when=_SAMPLE)] = "uniform box"
    view: Annotated[str, Choice(
        VIEWS, "with both samplers: their chains over the energy, or their histograms",
        live=True, when=("sampler", ("both",)))] = "chains"
    # --- ebm
    ebm_data: Annotated[str, Choice(
        DATA_CHOICES, "the data the energy-based model learns", when=_EBM,
        label="data")] = "moons"
    n_points: Annotated[int, Range(
        100, 20_000, "how many data points", step=100, when=_EBM, label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred", step=0.01, when=_EBM)] = 0.1
    hidden: Annotated[int, Range(
        8, 256, "width of the energy MLP's three hidden layers (SiLU)", step=8, when=_EBM,
        label="hidden width")] = 64
    lr: Annotated[float, Range(
        1e-5, 0.1, "Adam's learning rate", log=True, live=True, when=_EBM,
        label="learning rate")] = 3e-3
    ebm_step: Annotated[float, Range(
        1e-4, 0.1, "step η of the chains' Langevin moves x ← x − η∇E(x) + √(2η)ξ, in "
        "standardised units", log=True, live=True, when=_EBM, label="Langevin η")] = 0.005
    k_steps: Annotated[int, Range(
        1, 200, "Langevin steps K of the persistent chains per training step", live=True,
        when=_EBM, label="K steps")] = 40
    alpha: Annotated[float, Range(
        0.0, 1.0, "weight α of the regulariser α(mean E(data)² + mean E(samples)²)",
        step=0.01, live=True, when=_EBM, label="α")] = 0.1
    reinit: Annotated[float, Range(
        0.0, 0.5, "fraction of the drawn chains restarted from uniform noise each step",
        step=0.01, live=True, when=_EBM, label="restart fraction")] = 0.05
    batch_size: Annotated[int, Range(
        16, 1024, "data points and chains per training step", step=16, live=True, when=_EBM,
        label="batch size")] = 256
    buffer: Annotated[int, Range(
        256, 10_000, "how many persistent chains (the replay buffer)", step=64, when=_EBM,
        label="chains")] = 2000
    train_steps: Annotated[int, Range(
        10, 50_000, "training steps in the run (raise it to train on)", step=10, live=True,
        when=_EBM, label="steps")] = 1500
    train_per_frame: Annotated[int, Range(
        1, 50, "training steps between two frames", live=True, when=_EBM,
        label="steps / frame")] = 2
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the starts, the noise, the data and the weights")] = 0


_LIVE_SAMPLE = ("eta", "steps_per_frame", "n_steps", "view")
_LIVE_EBM = ("lr", "ebm_step", "k_steps", "alpha", "reinit", "batch_size", "train_steps",
             "train_per_frame")


# ------------------------------------------------------------------------ exact samplers


def exact_samples(target: Any, n: int, seed: int) -> np.ndarray:
    """n exact draws (n, 2) from one of the engine's targets.

    Mixtures (and the ring): ancestral sampling.  Banana: x₁ ~ N(0, a²), x₂ = b(x₁² − a²) +
    s z.  Funnel: v ~ N(0, σ_v²), x = e^(v/2) z.  Donut: the radius ρ by rejection from
    N(r, σ²) with acceptance ρ / ρ_max (the density of ρ is ∝ ρ e^(−(ρ−r)²/2σ²)), a uniform
    angle.
    """
    rng = np.random.default_rng(seed)
    if isinstance(target, lv.GaussianMixture):
        k = rng.choice(len(target.weights), size=n, p=target.weights)
        chol = np.linalg.cholesky(target.covariances)
        z = rng.standard_normal((n, 2))
        return target.means[k] + np.einsum("nij,nj->ni", chol[k], z)
    if isinstance(target, lv.Banana):
        x1 = target.a * rng.standard_normal(n)
        x2 = target.b * (x1**2 - target.a**2) + target.s * rng.standard_normal(n)
        return np.column_stack([x1, x2])
    if isinstance(target, lv.Funnel):
        v = target.sigma_v * rng.standard_normal(n)
        return np.column_stack([np.exp(v / 2) * rng.standard_normal(n), v])
    if isinstance(target, lv.Donut):
        r, s = target.radius, target.sigma
        rho_max = r + 8 * s
        out = np.empty(0)
        while len(out) < n:  # acceptance >= r / (r + 8 s): a couple of rounds at most
            rho = r + s * rng.standard_normal(2 * n)
            ok = (rho > 0) & (rng.random(2 * n) * rho_max < rho)
            out = np.concatenate([out, rho[ok]])
        th = rng.uniform(0, 2 * np.pi, n)
        return out[:n, None] * np.column_stack([np.cos(th), np.sin(th)])
    raise TypeError(f"no exact sampler for {type(target).__name__}")


# ------------------------------------------------------------------------ sample mode


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
    return VectorField(pts, uv, series=7)


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


def _chain_panel(c: _Chains, u: np.ndarray, field: VectorField, extent: tuple, lims: dict,
                 eta: float) -> Panel:
    # −U, so low energy is dark and the far field fades into the background; the contours
    # are equally spaced in energy
    layers: dict[str, Layer] = {"−U = log p": Heatmap(-u, extent, contours=8),
                                "∇log p": field}
    colour = 3 if c.mala else 2  # Points series k is Paths series k − 1 (the same colour)
    if c.trail and len(c.trail) > 1 and len(c.x):
        layers["trails"] = Paths(np.stack(c.trail), series=colour - 1, alpha=0.7, fade=True)
    size = 1.2 if c.n0 <= TRAIL_MAX else (0.7 if c.n0 <= 3000 else 0.45)
    layers["chains"] = Points(c.x, size=size, series=colour)
    acc = f", acc {c.acc:.2f}" if c.mala else ""
    return Panel(layers, title=f"{c.name}, η = {eta:.3g}{acc}", **lims)


def _hist_panel(c: _Chains, xlim: tuple, ylim: tuple, lims: dict) -> Panel:
    h = _hist(c.x, xlim, ylim) if len(c.x) else np.zeros((HIST_BINS, HIST_BINS))
    return Panel({"histogram": Heatmap(h, (*xlim, *ylim))}, title=f"{c.name} histogram",
                 **lims)


def _caption(p: Params, chains: list[_Chains], done: int, eff: int, frame_no: int,
             what: str) -> str:
    if frame_no == 0:
        lead = f"Start: {p.n_chains} chains from {p.init} on the {what}. "
    elif done >= p.n_steps:
        lead = f"Done: {done} steps (raise 'steps' to go on). "
    else:
        lead = f"Step {done}: "
    story = ("ULA, x ← x + η∇log p + √(2η)ξ, samples a slightly wrong density whose error "
             "grows with η; MALA accepts the same move with probability "
             "min(1, p(y)q(x|y)/(p(x)q(y|x))), which keeps p exactly stationary.")
    parts = []
    for c in chains:
        s = f"{c.name} sliced W₂ to p {signed(c.dist)}"
        if c.mala:
            s += f" (acceptance {c.acc:.2f})"
        if c.diverged:
            s += f", {c.diverged} chain{'s' if c.diverged > 1 else ''} diverged"
        parts.append(s)
    cap = "" if eff >= p.steps_per_frame else f" ({eff} steps per frame for this many chains)"
    if p.target in ("ring", "8gaussians", "mixture", "fitted") and p.init != "exact p":
        # a plateau here is slow mixing, not the step size's bias: say so
        story += (" Between separated modes the chains almost never jump, so each mode keeps "
                  "the share of chains that started near it and the distance levels off, for "
                  "MALA too (start from exact p to see the bias alone).")
    return lead + story + f" η = {p.eta:.3g}{cap}: " + "; ".join(parts) + "."


def _run_sample(p: Params, ctx: RunContext) -> FrameGenerator:
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
    true_panel = Panel({"p": Heatmap(dens, extent, contours=6)}, title="true density p(x)",
                       **lims)
    title_s = {"ula": "ULA", "mala": "MALA", "both": "ULA vs MALA"}[p.sampler]
    done, frame_no, eff = 0, 0, p.steps_per_frame
    while True:
        for c in chains:
            if len(c.x):
                c.dist = sliced_wasserstein(_clip(c.x[:N_DIST], xlim, ylim), ref, seed=p.seed)
        metrics = {f"sliced W₂ to p/{c.name}": max(c.dist, 1e-9) for c in chains}
        for c in chains:
            if c.mala:
                metrics["acceptance/MALA"] = c.acc
        if p.sampler == "both" and p.view == "histograms":
            panels = tuple(_hist_panel(c, xlim, ylim, lims) for c in chains)
        else:
            panels = tuple(_chain_panel(c, u, field, extent, lims, p.eta) for c in chains)
            if p.sampler != "both":
                panels += (_hist_panel(chains[0], xlim, ylim, lims),)
        frame = Frame(step=frame_no, title=f"Langevin · {what} · {title_s} · step {done} / "
                      f"{p.n_steps}", panels=(*panels, true_panel), metrics=metrics,
                      caption=_caption(p, chains, done, eff, frame_no, what),
                      total=frame_no + 1 + max(0, -(-(p.n_steps - done) // eff)),
                      log_metrics=("sliced W₂ to p",))
        p = take_live(p, (yield frame), _LIVE_SAMPLE)
        if done >= p.n_steps:
            return
        alive = max(sum(len(c.x) for c in chains), 1)
        eff = max(1, min(p.steps_per_frame, CHAIN_STEPS_PER_FRAME // alive, p.n_steps - done))
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


# ------------------------------------------------------------------------ ebm mode


def _ebm_diverged(what: str, step: int) -> LabError:
    return LabError(f"the energy-based model diverged at step {step} ({what}): lower the "
                    "learning rate or the Langevin step η, or raise α.")


def _run_ebm(p: Params, ctx: RunContext) -> FrameGenerator:
    got = data_or_message(p.ebm_data, p.n_points, p.noise, p.seed, ctx, "Langevin EBM", 2)
    if isinstance(got, Frame):
        yield got
        return
    x = got[0]
    m = x.mean(axis=0)
    s = float(np.sqrt(x.var(axis=0).mean()))
    xs = (x - m) / s
    half = 1.3 * float(np.abs(xs).max())
    xlim = (float(m[0] - half * s), float(m[0] + half * s))
    ylim = (float(m[1] - half * s), float(m[1] + half * s))
    extent = (*xlim, *ylim)
    lims = {"xlim": xlim, "ylim": ylim}
    grid = (cells(xlim, ylim, EBM_GRID) - m) / s
    cell_area = (xlim[1] - xlim[0]) * (ylim[1] - ylim[0]) / EBM_GRID**2
    show = x[:3000]

    # torch is imported here (through the engine), never when the lab module is imported
    from genlab.engine.device import resolve
    from genlab.engine.ebm import EBMTrainer

    tr = EBMTrainer(xs, hidden=p.hidden, depth=3, lr=p.lr, batch_size=p.batch_size,
                    step_size=p.ebm_step, k_steps=p.k_steps, alpha=p.alpha, reinit=p.reinit,
                    buffer=p.buffer, box=(-half, half), base_std=EBM_BASE_STD, seed=p.seed,
                    device=resolve(ctx.device))
    eval_data = xs[:2000]
    done, frame_no, losses = 0, 0, np.zeros(0)
    while True:
        e = tr.energy(grid)
        if not (np.isfinite(e).all() and np.isfinite(losses).all()):
            raise _ebm_diverged("the energy became NaN or infinite", done)
        if float(np.abs(e).max()) > ENERGY_BLOWUP:
            raise _ebm_diverged(f"energies reached {float(np.abs(e).max()):.3g}", done)
        e_data, e_chains = tr.energy(eval_data), tr.energy(tr.chains)
        e_pos, e_neg = float(e_data.mean()), float(e_chains.mean())
        chains = tr.chains * s + m
        if not np.isfinite(chains).all():
            raise _ebm_diverged("the chains left for infinity", done)
        e = e.reshape(EBM_GRID, EBM_GRID)
        dens = np.exp(-(e - e.min()))
        dens /= dens.sum() * cell_area
        energy = np.minimum(e, float(e.min()) + ENERGY_RANGE)
        panels = (
            Panel({"data": Points(show, size=0.7)}, title=f"data ({len(x)} points)", **lims),
            Panel({"p_θ": Heatmap(dens, extent), "data": Points(show, size=0.3, alpha=0.25)},
                  title="learned p_θ = e^(−E_θ)/Z", **lims),
            Panel({"−E_θ": Heatmap(-energy, extent, contours=8),
                   "chains": Points(chains[:3000], size=0.6, series=2)},
                  title=f"{len(chains)} persistent chains on E_θ", **lims),
        )
        loss = e_pos - e_neg + p.alpha * float((e_data**2).mean() + (e_chains**2).mean())
        metrics = {"contrastive loss": loss, "energy/data": e_pos, "energy/chains": e_neg}
        if frame_no == 0:
            lead = f"Start: an untrained energy MLP (width {p.hidden}) on {p.ebm_data}. "
        elif done >= p.train_steps:
            lead = f"Done: {done} training steps (raise 'steps' to go on). "
        else:
            lead = f"Step {done}: "
        caption = (lead + "Loss = mean E(data) − mean E(chains) + α(mean E(data)² + mean "
                   "E(chains)²): pull the energy down on data, push it up where the persistent "
                   f"chains are; each step moves the chains by {p.k_steps} Langevin steps "
                   f"x ← x − η∇E + √(2η)ξ (η = {p.ebm_step:.3g}). Energy gap E(chains) − "
                   f"E(data) = {signed(e_neg - e_pos)}.")
        frame = Frame(step=frame_no, title=f"Langevin EBM · {p.ebm_data} · step {done} / "
                      f"{p.train_steps}", panels=panels, metrics=metrics, caption=caption,
                      total=frame_no + 1 + max(0, -(-(p.train_steps - done)
                                                   // p.train_per_frame)))
        p = take_live(p, (yield frame), _LIVE_EBM)
        if done >= p.train_steps:
            return
        tr.lr, tr.batch_size, tr.step_size = p.lr, p.batch_size, p.ebm_step
        tr.k_steps, tr.alpha, tr.reinit = p.k_steps, p.alpha, p.reinit
        losses = tr.step(min(p.train_per_frame, p.train_steps - done))
        hist = np.array(tr.history_[-len(losses):])
        if not np.isfinite(hist).all() or float(np.abs(hist).max()) > ENERGY_BLOWUP:
            raise _ebm_diverged("the loss or the energies blew up", done + len(losses))
        done += len(losses)
        frame_no += 1


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of Langevin chains on a known density, or of an EBM trained with them."""
    if params.mode == "ebm":
        return (yield from _run_ebm(params, ctx))
    return (yield from _run_sample(params, ctx))


LAB = LabInfo(
    name="langevin",
    title="Langevin & EBMs",
    description="ULA and MALA chains on known densities, ULA's bias at large steps, and an "
                "energy-based model trained with persistent Langevin chains.",
    params=Params,
    run=run,
    takes_data=True,
)

