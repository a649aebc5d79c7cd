"""The VAE lab's 2D run: a VAE on points of the plane, trained live, in four panels (data,
samples, latent, rate–distortion) with the ELBO's terms as metrics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, LabError, RunContext
from genlab.labs.data import data_or_message
from genlab.labs.frame import Frame, Panel, message_frame
from genlab.labs.pacing import Plateau, ramp
from genlab.labs.params import take_live
from genlab.labs.plane import signed
from genlab.labs.vae.panels import (
    Geometry,
    data_panel,
    latent_panel,
    rd_panel,
    samples_panel,
)
from genlab.labs.vae.params import (
    BOUND_GROUP,
    ELBO,
    KL,
    LIVE,
    LOGP,
    PPCA,
    RECON,
    SERIES,
    STAGES,
    SWEEP_WARM,
    TERMS_GROUP,
    Params,
)

MIN_POINTS = 5
EVAL = 500  # the MLP's ELBO and log p(x) are measured on at most this many points
IW_SAMPLES = 32  # importance-sampled log p(x): draws per point
RAMP_FRAMES = 40  # frames over which the steps per frame grow from 1
SLOW = 2.0  # frame intervals per frame at the start, easing to 1 by RAMP_FRAMES
HOLD_START, HOLD_END = 1.0, 2.5
HOLD_STAGE = 0.6  # seconds on a sweep's stage end (a new point of the curve)
FLAT_STEPS, FLAT_WINDOW, FLAT_NATS = 400, 10, 0.01  # a levelled-off ELBO (constant β)
SMOOTH = 0.2
MIN_STEPS = 800
COLLAPSED_KL = 0.05  # nats: below this the posterior is the prior
IGNORED = 0.05  # f(z) carries less than this share of the data's variance: z is ignored
COLLAPSE_AFTER = 200  # steps: an untrained model ignores z too, but has not collapsed


def beta_at(p: Params, done: int) -> float:
    """β for the step after ``done`` steps: the slider's, or the sweep's stage."""
    if p.schedule != "sweep":
        return p.beta
    k = stage_of(p, done)
    return p.beta * (p.beta_end / p.beta) ** (k / STAGES)


def boundaries(p: Params) -> np.ndarray:
    """Steps (STAGES + 1,) at which a sweep's stages end: the warm-up, then STAGES stages."""
    warm = int(round(SWEEP_WARM * p.steps))
    return np.round(warm + (p.steps - warm) * np.arange(STAGES + 1) / STAGES).astype(int)


def stage_of(p: Params, done: int) -> int:
    """0 during the warm-up, k during stage k (1..STAGES)."""
    return int(min(np.searchsorted(boundaries(p), done, side="right"), STAGES))


def steps_for(frame_no: int, p: Params, done: int) -> int:
    """Adam steps before the next frame: one at first, growing to steps_per_frame, never past
    ``p.steps`` nor across the end of a sweep's stage (each stage end is a frame)."""
    k = min(ramp(frame_no, p.steps_per_frame, RAMP_FRAMES), p.steps - done)
    if p.schedule == "sweep":
        ahead = boundaries(p)[boundaries(p) > done]
        if len(ahead):
            k = min(k, int(ahead[0]) - done)
    return max(0, k)


def total(p: Params, frame_no: int, done: int) -> int:
    """Frames of the run if it trains to ``p.steps``."""
    n = frame_no + 1
    while done < p.steps and n < 100_000:
        k = steps_for(frame_no, p, done)
        if k <= 0:
            break
        done, frame_no, n = done + k, frame_no + 1, n + 1
    return n


class Flat:
    """Whether the smoothed ELBO has levelled off (constant β, after MIN_STEPS); restarts
    when β, the learning rate or the steps per frame change."""

    def __init__(self) -> None:
        self.regime: tuple = ()
        self.plateau = Plateau()
        self.smooth: float | None = None

    def add(self, p: Params, elbo: float, done: int) -> bool:
        regime = (p.beta, p.lr, p.steps_per_frame, p.batch_size)
        if regime != self.regime:
            self.regime = regime
            window = max(FLAT_WINDOW, -(-FLAT_STEPS // p.steps_per_frame))
            self.plateau, self.smooth = Plateau(window, 0.0, FLAT_NATS), None
        self.smooth = elbo if self.smooth is None else self.smooth + SMOOTH * (elbo -
                                                                               self.smooth)
        flat = self.plateau.add(self.smooth)
        return p.schedule != "sweep" and flat and done >= MIN_STEPS


def _what(p: Params, n_weights: int) -> str:
    if p.decoder == "linear":
        return (f"a linear VAE (μ(x) = Vx + c, f(z) = Wz + b, {n_weights} weights) with a "
                f"{p.latent_dim}D latent")
    return (f"a VAE with {p.depth}-layer MLPs of width {p.hidden} ({n_weights:,} weights) "
            f"and a {p.latent_dim}D latent")


def _numbers(p: Params, te: dict[str, float], logp: float, ppca_max: float | None,
             s: float, share: float, beta: float, done: int) -> str:
    """The caption's measured part: the ELBO's terms, the gap, the decoder's use of z."""
    out = (f" ELBO {signed(te['elbo'])} = E log p(x|z) {signed(te['reconstruction'])} − KL "
           f"{te['kl']:.3f} nats per point")
    if ppca_max is not None:
        out += (f"; exact log p(x) {signed(logp)}; PPCA's maximum {signed(ppca_max)}, "
                f"{max(ppca_max - te['elbo'], 0.0):.3f} above the ELBO.")
    else:
        out += (f"; log p(x) ≈ {signed(logp)} (importance-sampled), so KL(q(z|x) ‖ p(z|x)) "
                f"≈ {max(logp - te['elbo'], 0.0):.3f}.")
    out += f" s = {s:.3f}; f(z) carries {100 * share:.0f}% of the data's variance."
    if te["kl"] < COLLAPSED_KL and share < IGNORED and done >= COLLAPSE_AFTER:
        out += (f" Posterior collapse: q(z|x) is the prior for every x (KL < {COLLAPSED_KL:g})"
                f" and the decoder ignores z (β = {beta:.3g}).")
    return out


def _lead(p: Params, frame_no: int, done: int, converged: bool, what: str, beta: float,
          stages: list[tuple[float, float, float]]) -> str:
    if frame_no == 0:
        return (f"Start: {what}, untrained; Adam maximises E log p(x|z) − β·KL with z = μ(x) "
                "+ σ(x)·ε (the reparameterisation trick).")
    if converged:
        return f"Converged after {done} Adam steps: the ELBO levelled off, so the run ends here."
    if done >= p.steps:
        if p.schedule == "sweep" and stages:
            (b0, r0, d0), (b1, r1, d1) = stages[0], stages[-1]
            return (f"Sweep done: {len(stages)} points of the rate–distortion curve; from β = "
                    f"{b0:.2g} to {b1:.2g} the rate fell from {r0:.2f} to {r1:.2f} nats and "
                    f"the distortion rose from {signed(d0, 2)} to {signed(d1, 2)}.")
        return f"Done: {done} Adam steps (raise 'steps' to go on)."
    if p.schedule == "sweep":
        k = stage_of(p, done)
        where = "warm-up" if k == 0 else f"stage {k} of {STAGES}"
        return f"Step {done}, β = {beta:.3g} ({where}):"
    return f"Step {done}:"


def _data_frame(p: Params, g: Geometry) -> Frame:
    """The data alone, shown while torch is imported and the model built."""
    empty = np.zeros((0, 2))
    panels = (data_panel(g, empty, None), samples_panel(g, empty, None),
              latent_panel(g, None, None), Panel({}, title="rate–distortion plane",
                                                 xlim=(0, 1), ylim=(0, 1), equal_aspect=False))
    return Frame(step=0, title=f"VAE · {p.dataset} · {len(g.x)} points", panels=panels,
                 caption=f"The data: {len(g.x)} points ({p.dataset}). Building the VAE…",
                 series=SERIES)


def make_trainer(p: Params, x: np.ndarray) -> Any:
    """The VAETrainer these parameters describe, on the points x (imports torch)."""
    from genlab.engine.vae import VAETrainer

    tr = VAETrainer(x, latent_dim=p.latent_dim, hidden=p.hidden, depth=p.depth,
                    decoder=p.decoder, beta=beta_at(p, 0), lr=p.lr, seed=p.seed)
    tr.batch_size = p.batch_size
    tr.set_noise_std(p.s_start * tr.scale_)
    return tr


def run_2d(p: Params, ctx: RunContext) -> FrameGenerator:
    got = data_or_message(p.dataset, p.n_points, p.noise, p.seed, ctx, "VAE", MIN_POINTS)
    if isinstance(got, Frame):
        yield got
        return
    x, _ = got
    if np.sqrt(x.var(axis=0).mean()) < 1e-9:
        yield message_frame("VAE · degenerate data", "The points all coincide: there is no "
                            "spread to model. Draw points over an area.")
        return
    g = Geometry(x, p.latent_dim, p.seed)
    yield _data_frame(p, g)

    # torch is imported here (through the engine), never with the lab module
    from genlab.engine.vae import ppca_log_likelihood

    tr = make_trainer(p, x)
    perm = np.random.default_rng([p.seed, 29]).permutation(len(x))
    ev = x if p.decoder == "linear" else x[perm[:EVAL]]
    ppca_max = ppca_log_likelihood(x, p.latent_dim) if p.decoder == "linear" else None
    if ppca_max is not None and not math.isfinite(ppca_max):
        ppca_max = None  # points exactly on a line: no finite maximum to draw
    what = _what(p, tr.n_parameters())
    name = "Linear VAE" if p.decoder == "linear" else "VAE"
    encode_at = np.concatenate([x[g.show], x[g.marked]])
    flat = Flat()
    path: list[tuple[float, float]] = []
    stages: list[tuple[float, float, float]] = []
    frame_no, done = 1, 0  # frame 0 showed the data alone
    while True:
        beta = beta_at(p, done)
        te = tr.terms(ev)
        logp = float(tr.log_likelihood(ev, samples=IW_SAMPLES).mean())
        if not all(math.isfinite(v) for v in (*te.values(), logp)):
            raise LabError(f"the VAE diverged at step {done}: lower the learning rate (now "
                           f"{p.lr:.2g}).")
        path.append((te["kl"], -te["reconstruction"]))
        stage_end = p.schedule == "sweep" and done in boundaries(p) and done > 0
        if stage_end:
            stages.append((beta_at(p, done - 1), te["kl"], -te["reconstruction"]))
        converged = flat.add(p, te["elbo"], done)
        last = converged or done >= p.steps
        mu, logvar = tr.encode(encode_at)
        recon = tr.decode(tr.encode(x[g.recon])[0])
        s = tr.noise_std
        panels = (data_panel(g, recon, tr.decode(g.z_grid)),
                  samples_panel(g, tr.decode(g.z) + s * g.eps, s),
                  latent_panel(g, mu, logvar),
                  rd_panel(g, np.array(path), beta, stages))
        metrics = {f"{BOUND_GROUP}/{ELBO}": te["elbo"], f"{BOUND_GROUP}/{LOGP}": logp,
                   f"{TERMS_GROUP}/{RECON}": te["reconstruction"], f"{TERMS_GROUP}/{KL}": te["kl"]}
        if ppca_max is not None:
            metrics[f"{BOUND_GROUP}/{PPCA}"] = ppca_max
        caption = (_lead(p, frame_no - 1, done, converged, what, beta, stages)
                   + _numbers(p, te, logp, ppca_max, s, tr.z_share(), beta, done))
        i = frame_no - 1  # frames of the model
        frame = Frame(step=frame_no, total=frame_no + 1 if last else 1 + total(p, i, done),
                      title=f"{name} · {p.dataset} · step {done} / {p.steps} · β = {beta:.3g}",
                      panels=panels, metrics=metrics, caption=caption, series=SERIES,
                      x=done, xlabel="training step",
                      pace=max(1.0, SLOW - (SLOW - 1.0) * i / RAMP_FRAMES),
                      hold=(HOLD_START if i == 0 else HOLD_END if last else
                            HOLD_STAGE if stage_end else 0.0))
        p = take_live(p, (yield frame), LIVE)
        if converged or done >= p.steps:
            return
        tr.lr, tr.batch_size = p.lr, p.batch_size
        tr.beta = beta_at(p, done)
        k = steps_for(i, p, done)
        losses = tr.step(k)
        if len(losses) and not np.isfinite(losses[-1]):
            raise LabError(f"the VAE's loss became NaN or infinite at step {tr.step_}: lower "
                           f"the learning rate (now {p.lr:.2g}).")
        done, frame_no = done + k, frame_no + 1
