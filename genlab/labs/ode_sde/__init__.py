"""Lab "ode-sde": one set of noise points carried by the probability-flow ODE, the reverse SDE
and DDIM, side by side on one time axis.

The data are a Gaussian mixture (a gallery mixture, or K components fitted by EM to another
gallery set or to drawn points), so the score ∇log p_t of the noised data is known exactly
(``diffusion.gmm_score``) and the samplers can be compared without a model's error; or the
score of a denoiser trained on samples of that mixture (``score = learned``).

The same initial points x_T ~ N(0, I) start every sampler (``genlab.engine.diffusion``):

* PF-ODE, Euler or Heun: dx/dt = f(t)x − ½g(t)²∇log p_t(x), deterministic (Song et al. 2021,
  eq. 13);
* reverse SDE, Euler–Maruyama: dx = [f(t)x − g(t)²∇log p_t(x)]dt + g(t)dW with W a
  reverse-time Brownian motion (eq. 6), fresh noise at every step;
* DDIM with η = 0 (Song, Meng & Ermon 2021), the discrete counterpart of the ODE.

Frames: (learned score) the denoiser's training against the training step, then a few frames
integrating the samplers, then a sweep of the shown time from the noise (t = 1) to the samples
(t ≈ 0) in about ``SWEEP_S`` seconds, slower near the data, with a beat on the noise and on
the samples, while the distance panel fills in: the sliced W₂ between each sampler's samples
and the target for 2, 4, … 128 steps, with the distance between two target draws as the
floor.  Along the sweep the metric plot follows each sampler's distance to p_t against the
step (the ODE and the SDE share the marginals p_t); the distances with the run's N are bars.
``time`` is live: moving it during a run shows that step at once (the trajectories are kept,
not recomputed); so is the highlighted start (a handle), whose ODE path goes to the same end
on every run while its SDE runs, overlaid, scatter.

A trained denoiser is kept for the next run with the same data, schedule, training budget,
learning rate, seed and device (one entry), so changing the steps, the methods, the start or
the time after a run does not train again; that run then skips the training frames.

The modules: ``settings`` (parameters, series, pacing, budgets), ``setup`` (the target, the
noise, the jobs, the kept denoiser), ``lab`` (what a run computes), ``panels`` (the
pictures).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from genlab.engine import diffusion as dif
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext, sub_seed
from genlab.labs.frame import Frame, message_frame
from genlab.labs.ode_sde import settings as S
from genlab.labs.ode_sde.panels import Pictures, training_frame
from genlab.labs.ode_sde.settings import LABEL, SERIES, T_MIN, TRAIN_STEPS_PER_FRAME, Params
from genlab.labs.ode_sde.setup import (
    Queue,
    cache_key,
    initial_noise,
    methods_of,
    target_mixture,
)
from genlab.labs.pacing import ramp

__all__ = ["LAB", "LABEL", "Params", "SERIES", "T_MIN", "TRAIN_STEPS_PER_FRAME", "clear_cache",
           "initial_noise", "methods_of", "run", "sweep_steps", "training_steps"]


def clear_cache() -> None:
    """Forget the trained denoiser kept from the last learned-score run."""
    from genlab.engine.training.store import STORE

    STORE.clear("ode-sde")


def training_steps(frame_no: int) -> int:
    """Adam steps between training frame ``frame_no`` and the next: one at first, then
    more, TRAIN_STEPS_PER_FRAME after TRAIN_RAMP_FRAMES frames."""
    return ramp(frame_no, TRAIN_STEPS_PER_FRAME, S.TRAIN_RAMP_FRAMES)


def sweep_steps(time: float, n_steps: int) -> list[int]:
    """The steps the sweep shows, from 0 (the noise) to round(time·N), at most
    SWEEP_FRAMES + 1 of them."""
    end = int(round(time * n_steps))
    stride = max(1, math.ceil(n_steps / S.SWEEP_FRAMES))
    return sorted(set(range(0, end + 1, stride)) | {end})


def _groups(queue: Queue) -> list[list[Any]]:
    out = []
    while queue:
        out.append(queue.take(S.FRAME_BUDGET_MS))
    return out


def _train(lab: Pictures, p: Params, ctx: RunContext, box: list[Params],
           tail: int) -> Generator[Frame, Any, int]:
    """Frames of the denoiser's training (``tail``: frames the run has after them); sets
    ``lab.score`` to the learned score and returns the number of frames yielded."""
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer
    from genlab.engine.device import resolve

    device = resolve(ctx.device)
    key = cache_key(p, lab.mix, device)
    from genlab.engine.training.store import STORE

    kept = STORE.get(key)
    if kept is not None:
        trainer, loss = kept
        lab.score = trainer.score
        lab.notes.append(f"The denoiser trained in an earlier run ({p.train_steps} steps, loss "
                         f"{loss:.3f}) is reused.")
        return 0
    x_train = lab.mix.sample(S.N_TRAIN, seed=sub_seed(p.seed, 5))[0]
    model = Denoiser(S.HIDDEN, S.DEPTH, seed=p.seed).to(device)
    trainer = DenoiserTrainer(model, x_train, lab.schedule, lr=p.lr, batch_size=S.BATCH,
                              seed=p.seed, t_min=T_MIN)
    z = np.random.default_rng(sub_seed(p.seed, 6)).standard_normal((S.PREVIEW_N, 2))

    def frames_after(frame_no: int, done: int) -> int:
        n = 0
        while done < p.train_steps:
            done += training_steps(frame_no + n)
            n += 1
        return n

    done, frame_no = 0, 0
    while True:
        loss = trainer.loss(2048)
        if not math.isfinite(loss):
            raise LabError(f"The denoiser's loss became {loss} at step {done}: lower the "
                           f"learning rate (now {p.lr:g}).")
        preview = dif.ddim_sample(trainer.score, z, lab.schedule, S.PREVIEW_STEPS, T_MIN)[-1]
        preview = np.where(np.isfinite(preview), preview, 0.0)
        total = frame_no + 1 + frames_after(frame_no, done) + tail
        new = yield training_frame(frame_no, total, lab, x_train, preview, done, p, loss)
        if new is not None:
            box[0] = new
        if done >= p.train_steps:
            break
        k = min(training_steps(frame_no), p.train_steps - done)
        losses = trainer.step(k)
        if len(losses) and not np.isfinite(losses).all():
            bad = float(losses[~np.isfinite(losses)][0])
            raise LabError(f"The denoiser's loss became {bad} at step {done + len(losses)}: "
                           f"lower the learning rate (now {p.lr:g}).")
        done += len(losses)
        frame_no += 1
    STORE.clear("ode-sde")  # one trained denoiser at a time: the last run's
    STORE.put(key, (trainer, loss))
    lab.score = trainer.score
    return frame_no + 1


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames: (learned) training, integrating, the time sweep with the distances, the end."""
    p = params
    try:
        mix, what = target_mixture(p, ctx)
    except LabError as e:
        yield message_frame("ODE vs SDE · no data", str(e))
        return
    lab = Pictures(p, mix, what)
    box = [p]
    main = _groups(Queue(lab.main_jobs(), lab.score_kind))
    step = 0
    if p.score == "learned":
        step = yield from _train(lab, p, ctx, box, len(main) + len(sweep_steps(p.time, lab.N)))
    lab.measure_floor()
    dist = Queue(lab.distance_jobs(), lab.score_kind)
    setup = " ".join([f"Target: {what}; {lab.n} noise points x_T ~ N(0, I), the same for "
                      "every sampler.", *lab.notes])

    def take(new: Any) -> bool:
        """Apply a live change; True when it changes what the frame shows."""
        if new is None:
            return False
        old, box[0] = box[0], new
        lab.p = new
        return (old.time, old.animate, old.start_x, old.start_y) != (
            new.time, new.animate, new.start_x, new.start_y)

    for i, group in enumerate(main):
        for job in group:
            lab.do(job)
        total = step + len(main) - i + len(sweep_steps(box[0].time, lab.N))
        take((yield lab.frame(step, total, 0, False,
                              f"Integrating every sampler from t = 1 ({i + 1}/{len(main)}). "
                              + setup + " ")))
        step += 1
    lab.finish_main()

    # a time moved before the sweep began takes over from the animation
    manual = not box[0].animate or box[0].time != params.time
    ks = sweep_steps(box[0].time, lab.N)
    paces = S.sweep_paces(lab.ts[ks])
    i_sweep = 0
    while True:
        p = box[0]
        pace = 1.0
        if manual or not p.animate:
            manual = True
            k = int(round(p.time * lab.N))
        else:
            k, pace = ks[min(i_sweep, len(ks) - 1)], float(paces[min(i_sweep, len(ks) - 1)])
            i_sweep += 1
        lab.set_start(p)
        sweeping = not manual and i_sweep < len(ks)
        # a slow frame has time for more of the distance jobs
        budget = min(S.MAX_BUDGET_MS, S.FRAME_BUDGET_MS * pace) if sweeping else \
            S.MAX_BUDGET_MS
        for job in dist.take(budget):
            lab.do(job)
        finished = not dist and not sweeping
        hold = 0.0
        if finished:
            lead = f"Done: t = {lab.ts[k]:.3f}, step {k} of {lab.N}; move 'time shown' to scrub. "
            hold = S.HOLD_END
        elif sweeping:
            lead = f"Step {k} of {lab.N}, t = {lab.ts[k]:.2f}. "
            hold = S.HOLD_START if i_sweep == 1 else 0.0
        else:
            left = dist.frames_left(S.MAX_BUDGET_MS)
            lead = (f"Step {k} of {lab.N}, t = {lab.ts[k]:.2f}; measuring the distances "
                    f"({left} frames left). ")
        left = max(dist.frames_left(S.MAX_BUDGET_MS), len(ks) - i_sweep if sweeping else 0)
        changed = take((yield lab.frame(step, step + 1 + left, k, True, lead,
                                        track=not manual, pace=pace, hold=hold)))
        step += 1
        if changed:
            if box[0].time != p.time:
                manual = True
            continue
        if finished:
            return


LAB = LabInfo(
    name="ode-sde",
    title="ODE vs SDE samplers",
    description="The same noise carried to the data by the probability-flow ODE (Euler, Heun), "
                "the reverse SDE and DDIM, with the exact or a learned score: trajectories, "
                "one start's ends, and the distance to the target against the step count.",
    params=Params,
    run=run,
    takes_data=True,
    fps=S.FPS,
    series=SERIES,
)
