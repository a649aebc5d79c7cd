"""The Langevin lab's "ebm" mode: an MLP energy E_θ trained by the contrastive loss of Du &
Mordatch (2019), with negatives from persistent Langevin chains on −E_θ
(``genlab.engine.ebm``, torch, imported when the run starts)."""

from __future__ import annotations

import numpy as np

from genlab.labs.base import FrameGenerator, LabError, RunContext
from genlab.labs.data import data_or_message
from genlab.labs.frame import Frame, Heatmap, Panel, Points
from genlab.labs.langevin.params import SERIES, Params
from genlab.labs.params import take_live
from genlab.labs.plane import cells, signed

EBM_GRID = 80
EBM_BASE_STD = 2.0  # the EBM's fixed Gaussian term, in standardised units
ENERGY_BLOWUP = 1e4
ENERGY_RANGE = 12.0  # energy maps show this many nats above their minimum
SHOWN = 3000  # at most this many data points and chains drawn
# the energies move most over the first few dozen training steps: those frames stay SLOW
# frame intervals, easing to 1 over EASE_FRAMES frames
SLOW = 2.0
EASE_FRAMES = 40
HOLD_START = 1.0  # seconds on the untrained energy

_LIVE_EBM = ("lr", "ebm_step", "k_steps", "alpha", "reinit", "batch_size", "train_steps",
             "train_per_frame")


def _ebm_diverged(what: str, step: int) -> LabError:
    return LabError(f"the energy-based model diverged at step {step} ({what}): lower the "
                    "learning rate or the Langevin step η, or raise α.")


def run_ebm(p: Params, ctx: RunContext) -> FrameGenerator:
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
    show = x[:SHOWN]

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
        # the engine clamps in float32 standard units: clip again here so that a chain on
        # the box's edge is inside the panel's box, not 1e-7 beyond it
        chains = np.clip(tr.chains * s + m, [xlim[0], ylim[0]], [xlim[1], ylim[1]])
        if not np.isfinite(chains).all():
            raise _ebm_diverged("the chains left for infinity", done)
        e = e.reshape(EBM_GRID, EBM_GRID)
        dens = np.exp(-(e - e.min()))
        dens /= dens.sum() * cell_area
        energy = np.minimum(e, float(e.min()) + ENERGY_RANGE)
        panels = (
            Panel({"data": Points(show, size=0.7, series="data")},
                  title=f"data ({len(x)} points)", legend=True, **lims),
            Panel({"p_θ": Heatmap(dens, extent),
                   "data": Points(show, size=0.3, alpha=0.25, series="data")},
                  title="learned p_θ = e^(−E_θ)/Z", **lims),
            Panel({"−E_θ": Heatmap(-energy, extent, contours=8),
                   "chains": Points(chains[:SHOWN], size=0.6, series="chains")},
                  title=f"{len(chains)} persistent chains on E_θ", legend=True, **lims),
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
                                                   // p.train_per_frame)),
                      series=SERIES, x=done, xlabel="training step",
                      pace=max(1.0, SLOW - (SLOW - 1.0) * frame_no / EASE_FRAMES),
                      hold=HOLD_START if frame_no == 0 else 0.0)
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
