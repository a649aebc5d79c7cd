r"""Lab "flow-matching": conditional flow matching with straight paths, independent pairing
against minibatch optimal-transport pairing (OT-CFM), trained side by side.

A pair (x₀, x₁), x₀ from the source and x₁ from the target, is joined by the straight path
x_t = (1 − t)x₀ + t x₁ with the constant velocity u = x₁ − x₀.  A net v_θ(x, t) regressed on u
at x_t learns the *marginal* velocity u_t(x) = E[x₁ − x₀ | x_t = x] (Lipman et al. 2023; Liu
et al. 2023), whose ODE ẋ = u_t(x) carries the source to the target.  One run trains two nets
with the same initial weights on the same batches of x₀, x₁ and t
(``genlab.engine.flow_matching_trainer``); they differ only in the pairing: as drawn
(independent), or re-paired within each batch by exact OT (OT-CFM, Tong et al. 2024), which
uncrosses the paths, so the learned flow is straighter and needs fewer steps.

Three live views of the run:

* ``samples``: both nets' Euler/midpoint trajectories from the same x₀ side by side, and the
  sliced W₂ to the target against the number of steps (1 … 64) for both nets and the exact
  field (the training loss in its place until the first distance is known); the distance at
  the chosen N and the straightness S of each flow are bars beside the metric plots;
* ``fields``: at the slider's t, the learned field of each net over its x_t cloud and, in the
  middle, the exact marginal field ``mixture_velocity`` of the independent coupling over p_t
  (exact for the gallery mixtures, otherwise for K Gaussians fitted to the sets);
* ``vs diffusion``: from the same N(0, I) points, the straight-path ODE with the exact
  velocity against the diffusion probability-flow ODE with the exact score (VP linear), both
  with N steps: exact against exact, so only the path geometry differs.

Training frames come first (every view can be watched while the nets learn; the loss is
plotted against the training step); then the trajectories and distance curves are computed
in jobs of ~40 ms (an estimate, so frames are the same on every machine) while the particles
move from the source to the target in a few seconds; then the run ends.  The trained nets and
what was computed with them are kept (one entry) for the next run with the same data and
training settings, so moving a live slider after the end restarts at once without training
again.

The modules: ``settings`` (parameters, series, budgets), ``setup`` (data, nets, jobs, cache),
``flows`` (integrating and the job queue), ``panels`` (the pictures).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.flow_matching import settings as S
from genlab.labs.flow_matching.panels import Lab
from genlab.labs.flow_matching.settings import LIVE, SERIES, Params
from genlab.labs.flow_matching.setup import Nets, Store, cache_key, make_data, target_points
from genlab.labs.frame import Frame, message_frame
from genlab.labs.pacing import ramp
from genlab.labs.params import take_live
from genlab.labs.plane import signed

__all__ = ["LAB", "Params", "SERIES", "clear_cache", "run", "training_steps"]


def clear_cache() -> None:
    """Forget the nets kept from the last finished run."""
    from genlab.engine.training.store import STORE

    STORE.clear("flow-matching")


def training_steps(frame_no: int) -> int:
    """Adam steps of each net between training frame ``frame_no`` and the next: one at
    first, ``S.STEPS_PER_FRAME`` after ``S.RAMP_FRAMES`` frames."""
    return ramp(frame_no, S.STEPS_PER_FRAME, S.RAMP_FRAMES)


def _frames_left(frame_no: int, done: int, total: int) -> int:
    n = 0
    while done < total:
        done += training_steps(frame_no + n)
        n += 1
    return n


def _training_lead(lab: Lab) -> str:
    n = lab.nets
    loss = (f"losses on fixed pairs: independent {signed(n.losses['independent'], 3)}, "
            f"OT-CFM {signed(n.losses['OT'], 3)}")
    preview = ("" if lab.p.view == "fields" else
               f"  Preview: {S.PREVIEW_N} particles"
               + (f", {S.PREVIEW_MAX_STEPS} steps" if lab.p.n_steps > S.PREVIEW_MAX_STEPS
                  else "") + ".")
    return (f"Training both nets on ‖v_θ((1 − t)x₀ + t x₁, t) − (x₁ − x₀)‖², t ~ U[0, 1], "
            f"from the same weights and batches: Adam step {n.done} / {lab.p.train_steps}; "
            f"{loss} (the OT loss is lower: re-paired targets are less ambiguous).{preview}  ")


def _train(lab: Lab, box: list[Params]) -> Generator[Frame, Any, int]:
    """Training frames of both nets; returns the number of frames yielded."""
    nets = lab.nets
    frame_no = 0
    while True:
        p = box[0]
        nets.measure(p.lr)
        left = _frames_left(frame_no, nets.done, p.train_steps)
        new = yield lab.frame(frame_no, frame_no + 1 + left + 2, p.time, _training_lead(lab))
        box[0] = lab.p = take_live(p, new, LIVE)
        if nets.done >= p.train_steps:
            return frame_no + 1
        nets.train(box[0], training_steps(frame_no))
        frame_no += 1


def _preview(p: Params, x1: np.ndarray) -> Frame:
    """The first frame, before torch is imported: the source and the target points."""
    from genlab.engine.datasets import make_dataset
    from genlab.labs.flow_matching.settings import NORMAL, TARGET
    from genlab.labs.frame import Panel, Points
    from genlab.labs.plane import square_limits

    rng = np.random.default_rng(p.seed)
    x0 = (rng.standard_normal((S.SHOW_TARGET, 2)) if p.source == NORMAL else
          make_dataset(p.source, S.SHOW_TARGET, p.noise, p.seed)[0])
    lim = square_limits(np.concatenate([x0, x1[:S.SHOW_TARGET]]), 0.6)
    layers = {"target": Points(x1[:S.SHOW_TARGET], series=TARGET, size=0.6, alpha=0.5),
              "source": Points(x0, size=0.6)}
    return Frame(0, f"Flow matching · {p.source} → {p.dataset}",
                 (Panel(layers, title="source x₀ (ink) and target x₁ (grey)", xlim=lim[0],
                        ylim=lim[1]),),
                 caption="Preparing the run: importing torch and POT, fitting the mixtures "
                         "and measuring the floor; the two nets then train side by side.",
                 series=SERIES, total=None)


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames: the training of both nets, then the flows and distances, then the run ends."""
    p = params
    got = target_points(p, ctx)
    if isinstance(got, Frame):
        yield got
        return
    x1 = got
    if float(np.sqrt(x1.var(axis=0).mean())) < 1e-6:
        yield message_frame("Flow matching · degenerate data",
                            "The target points all coincide: draw points over an area.")
        return
    yield _preview(p, x1)  # at once: the data, while torch, POT and the set-up load
    from genlab.engine.device import resolve  # imports torch

    device = resolve(ctx.device)
    from genlab.engine.training.store import STORE

    key = cache_key(p, x1, device)
    cached = STORE.get(key)
    if cached is not None:
        # the key holds every input of make_data: the kept sets, fits and floor are these
        nets, store, data = cached
    else:
        data = make_data(p, x1)
        nets, store = Nets(p, data, device), Store()
    lab = Lab(p, data, nets, store)
    box = [p]
    step = 0
    if cached is None:
        step = yield from _train(lab, box)
        STORE.clear("flow-matching")  # one trained pair at a time: they are not small
    lab.trained = True
    p = lab.p = box[0]
    STORE.put(cache_key(p, x1, device), (nets, store, data))

    # the shown time sweeps from the source to the slider's value while the jobs run, in
    # SWEEP_S seconds whatever N (unless the run reuses trained nets: then the user moved a
    # slider, which shows at once)
    manual = cached is not None
    sweep = 0
    while True:
        p = lab.p
        lab.work()
        left = len(lab.pending())
        n_sweep = min(S.SWEEP_FRAMES, p.n_steps)
        sweeping = not manual and p.view != "fields" and sweep < n_sweep
        frac = p.time * min(1.0, sweep / n_sweep) if sweeping else p.time
        pace, hold = 1.0, 0.0
        if sweeping:
            pace = S.SWEEP_S * S.FPS / n_sweep
            hold = S.SOURCE_HOLD_S if sweep == 0 else 0.0
            sweep += 1
        finished = left == 0 and not sweeping
        if finished:
            lead = ("Done: move 'time t', 'steps N' or the view to explore (the trained nets "
                    "are kept).  ")
        else:
            lead = f"Integrating the flows ({left} jobs left).  " if left else ""
        frames_left = max(math.ceil(left / 2), n_sweep - sweep if sweeping else 0)
        new = yield lab.frame(step, step + 1 + frames_left, frac, lead, pace, hold)
        step += 1
        if new is not None:
            old = lab.p
            lab.p = take_live(old, new, LIVE)
            if lab.p.time != old.time:
                manual = True
            if lab.p != old:
                continue
        if finished:
            return


LAB = LabInfo(
    name="flow-matching",
    title="Flow matching",
    description="Conditional flow matching with straight paths: two velocity nets trained side "
                "by side with independent and OT pairing, their fields against the exact one, "
                "samples against the number of steps, and the diffusion PF-ODE from the same "
                "noise.",
    params=Params,
    run=run,
    takes_data=True,
    fps=S.FPS,
    series=SERIES,
)
