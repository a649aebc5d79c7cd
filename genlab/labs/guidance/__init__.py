r"""Lab "guidance": classifier-free guidance in the plane (Ho & Salimans 2022).

Labelled 2D data (a gallery set with classes, or points drawn in several colours) are made a
Gaussian mixture per class (8gaussians: its exact components, one per class; other sets: K
components fitted by EM to each class, then sampled), so every score is also known exactly
(``genlab.engine.guidance``).  A conditional denoiser :math:`\varepsilon_\theta(x, t, y)`
trains with label dropout (the null label ∅ a fraction ``p_uncond`` of the time), so one net
gives both the conditional and the unconditional prediction.  Sampling class y with weight w
uses

.. math:: \nabla\log p_w(x\mid y) = \nabla\log p(x) + w[\nabla\log p(x\mid y) - \nabla\log p(x)]
          = \nabla\log p(x) + w\,\nabla\log p(y\mid x),

w = 0 the unconditional model, w = 1 the conditional one.  For w > 1 the field at each noise
level t is the score of :math:`p_t(x)p_t(y\mid x)^w`, but these tilted densities are not the
marginals of one diffusion, so the samples do not follow :math:`p_0(x)p_0(y\mid x)^w`, and
what they do follow depends on the sampler (Chidambaram et al. 2024; Bradley & Nakkiran
2024): samples go where the class is surest (fidelity up) and bunch up (diversity down),
more than the tilted density would say.  The exact panel draws the tilted density's
contours under its samples, so the gap shows.

Frames: the training (a preview of guided samples, the conditional and unconditional losses
against the training step), then a sweep of w over 0..10 in about 12 s (beats on w = 0 and
w = 1, slow motion up to w = 2) that fills the fidelity/spread panel and the metric plot
against w, then the slider's w.  Panels: guided samples from the learned score and from the
exact one (same noise, same sampler, same steps), the guided field at noise level t over the
tilted density with the unconditional, conditional and guided scores at a probe the user
drags, and fidelity (mean exact p(y | x₀) of the samples) and spread (within class y over the
class's own) against w.  w, the class, t, the probe, the sampler and its steps are live: the
samples are recomputed (split over frames, last good ones kept on screen) without
retraining.  The run ends once the shown state is computed; the trained denoiser and the
sample sets are kept (one entry), so a change after the end restarts at once, without
training again.

The modules: ``settings`` (parameters, series, grid, pacing), ``sampling`` (data, sampling
jobs, measures), ``panels`` (the pictures and the caption).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from genlab.engine import diffusion as dif
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext, sub_seed
from genlab.labs.frame import Frame
from genlab.labs.guidance import settings as S
from genlab.labs.guidance.panels import Lab, caption
from genlab.labs.guidance.sampling import class_data, class_index
from genlab.labs.guidance.settings import (
    COND,
    LIVE,
    SERIES,
    TRADEOFF,
    TRAIN_STEPS_PER_FRAME,
    UNCOND,
    W_GRID,
    Params,
    fidelity,
    spread,
)
from genlab.labs.params import take_live

__all__ = ["LAB", "SERIES", "TRAIN_STEPS_PER_FRAME", "W_GRID", "Params", "class_data",
           "class_index", "clear_cache", "run"]


def _train(lab: Lab, ctx: RunContext, box: list[Params]) -> Generator[Frame, Any, int]:
    """Frames of the conditional denoiser's training with label dropout; sets
    ``lab.trainer`` and returns the number of frames yielded."""
    # the labelled data at once, while torch loads (a second or two in a fresh process)
    box[0] = take_live(box[0], (yield Frame(
        step=0, title=f"Guidance · {lab.what}", panels=(lab.data_panel(),),
        caption="Preparing the run: importing torch and building the conditional denoiser.",
        series=SERIES)), LIVE)
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer
    from genlab.engine.device import resolve

    p = lab.p
    model = Denoiser(S.HIDDEN, S.DEPTH, seed=p.seed, n_classes=lab.cm.n_classes).to(
        resolve(ctx.device))
    trainer = DenoiserTrainer(model, lab.x_train, lab.schedule, lr=p.lr, batch_size=S.BATCH,
                              seed=p.seed, t_min=S.T_MIN, labels=lab.c_train,
                              p_uncond=p.p_uncond)
    z = np.random.default_rng(sub_seed(p.seed, 4)).standard_normal((S.PREVIEW_N, 2))
    done, frame_no = 0, 1  # frame 0 was the data
    while True:
        q = box[0]
        c = class_index(lab.values, q.label)
        loss_c = trainer.loss(2048, p_uncond=0.0)
        loss_u = trainer.loss(2048, p_uncond=1.0)
        for name, value in (("conditional", loss_c), ("unconditional", loss_u)):
            if not math.isfinite(value) or value > S.DIVERGED_LOSS:
                raise LabError(f"The denoiser diverged at step {done} (its {name} loss is "
                               f"{value:.3g}): lower the learning rate (now {p.lr:g}).")
        preview = dif.ddim_sample(lambda x, t, c=c, w=q.w: trainer.guided_score(x, t, c, w), z,
                                  lab.schedule, S.PREVIEW_STEPS, S.T_MIN)[-1]
        if not np.isfinite(preview).all():
            raise LabError(f"The denoiser's samples became NaN at step {done}: lower the "
                           f"learning rate (now {p.lr:g}).")
        lab.work(q, c, q.w, budget=10.0)  # the exact samples, meanwhile
        x_ex, cur = lab.shown("exact", q, c, q.w)
        panels = (lab.preview_panel(preview, c, q.w, done),
                  lab.sample_panel("exact", x_ex, cur, c, q.w))
        text = (f"Training ε_θ(x, t, y) on {S.N_TRAIN} samples of {lab.what}: Adam step "
                f"{done} / {p.train_steps} on ½E‖ε_θ(a x₀ + √v ε, t, y) − ε‖², with y "
                f"replaced by the null label ∅ {p.p_uncond:.0%} of the time (label "
                f"dropout), so one net learns p(x | y) and p(x).  Loss: conditional "
                f"{loss_c:.3f}, unconditional {loss_u:.3f}.  Left: {S.PREVIEW_N} guided "
                f"DDIM samples ({S.PREVIEW_STEPS} steps) from the net as it is; right: the "
                "exact guided samples.")
        new = yield Frame(step=frame_no, total=None,
                          title=f"Guidance · training · step {done} / {p.train_steps}",
                          panels=panels, metrics={f"loss/{COND}": loss_c,
                                                  f"loss/{UNCOND}": loss_u},
                          caption=text, series=SERIES, x=done, xlabel="training step")
        if new is not None:
            box[0] = take_live(box[0], new, LIVE)
        frame_no += 1
        if done >= p.train_steps:
            break
        losses = trainer.step(min(S.TRAIN_STEPS_PER_FRAME, p.train_steps - done))
        if len(losses) and not np.isfinite(losses).all():
            raise LabError(f"The denoiser's loss became NaN at step {done + len(losses)}: "
                           f"lower the learning rate (now {p.lr:g}).")
        done += len(losses)
    lab.trainer = trainer
    lab.kinds = ("learned", "exact")
    return frame_no


def clear_cache() -> None:
    """Forget the trained denoiser and the sample sets kept from the last run."""
    from genlab.engine.training.store import STORE

    STORE.clear("guidance")


def _cache_key(p: Params, ctx: RunContext) -> str:
    """What the trained denoiser and its sample sets depend on (the store's key)."""
    from genlab.engine.training.store import model_key

    drawn = None
    if p.dataset == "drawn" and ctx.drawn is not None:
        drawn = (np.asarray(ctx.drawn, dtype=np.float64),
                 None if ctx.drawn_labels is None else np.asarray(ctx.drawn_labels))
    return model_key("guidance", p.dataset, p.noise, p.n_components, p.score, p.p_uncond,
                     p.train_steps, p.lr, p.n_samples, p.seed, ctx.device, drawn)


def _keep(key: str, lab: Lab) -> None:
    """Keep this run's lab in the engine's store, as the lab's only entry (a model and
    dozens of sample sets: one is enough to make a change after the end instant)."""
    from genlab.engine.training.store import STORE

    STORE.clear("guidance")
    STORE.put(key, lab)


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames: the denoiser's training, the sweep of w, then the slider's w until every
    sample set it needs is computed.  The trained denoiser and the sample sets are kept for
    the next run with the same data and training settings: a change after the end (which
    restarts the run) then shows at once, without training or sweeping again."""
    p = params
    from genlab.engine.training.store import STORE

    key = _cache_key(p, ctx)
    lab = STORE.get(key)
    box = [p]
    step = 0
    reused = lab is not None
    if lab is None:
        # (a kept lab came from the same data, so only a new one fits the class mixtures)
        got = class_data(p, ctx)
        if isinstance(got, Frame):
            yield got
            return
        cm, values, what = got
        lab = Lab(p, cm, values, what)
        if p.score == "learned + exact":
            step = yield from _train(lab, ctx, box)
            _keep(key, lab)
    lab.p = p = box[0]
    lab.top = Lab.top
    i_sweep, swept = 0, False
    budget = S.FRAME_BUDGET_MS
    manual = reused or not p.sweep or p.w != params.w
    while True:
        c = class_index(lab.values, p.label)
        sweeping = p.sweep and not manual and i_sweep < len(W_GRID)
        w = W_GRID[i_sweep] if sweeping else p.w
        lab.work(p, c, w, budget)
        pace, hold = 1.0, 0.0
        lead = ""
        if sweeping:
            # each w of the grid gets one frame of its length once its samples are ready;
            # until then the last one shown stays
            if lab.ready(p, c, w):
                pace, hold = S.sweep_duration(w)
                i_sweep += 1
                lead = f"Sweeping w: {w:.2f}."
            else:
                lead = f"Sweeping w: sampling w = {w:.2f}."
                w = W_GRID[i_sweep - 1] if i_sweep else w
        # a frame held longer leaves time to sample more before the next one
        budget = min(S.MAX_BUDGET_MS, S.FRAME_BUDGET_MS * (pace + hold * S.FPS))
        xs = {k: lab.shown(k, p, c, w) for k in lab.kinds}
        now = {k: lab.measures(x, c)[:2] for k, (x, cur) in xs.items()
               if x is not None and cur}
        arrows = lab.probe_arrows(p, c, w)
        if p.view == "fields":
            panels = tuple(lab.field_panel(k, p, c, w, arrows) for k in lab.kinds)
        else:
            panels = tuple(lab.sample_panel(k, xs[k][0], xs[k][1], c, w) for k in lab.kinds)
        panels += (lab.tradeoff_panel(p, c, w, now, w if sweeping else S.W_MAX),)
        left = len(lab.wanted(p, c, w))
        finished = not sweeping and left == 0
        if not sweeping:
            lead = (f"Sampling ({left} sample sets to go)." if left else
                    "Done: move w, the class, t or the probe (the trained denoiser and the "
                    "samples are kept).")
        # the metric plot draws the measures against w: the sweep's, or (no sweep) the
        # slider's; after a sweep, a lower w would cut its curves, so it only moves the cursor
        metrics: dict[str, float] = {}
        if sweeping or not swept:
            for k, (f, s) in now.items():
                metrics[f"{TRADEOFF}/{fidelity(k)}"] = f
                metrics[f"{TRADEOFF}/{spread(k)}"] = s
        swept = swept or sweeping
        new = yield Frame(step=step, total=None,
                          title=f"Guidance · class {lab.values[c]} · w = {w:.2f} · "
                                f"{p.sampler} {p.n_steps} steps",
                          panels=panels, metrics=metrics,
                          caption=caption(lab, p, c, w, lead, now, arrows), series=SERIES,
                          x=w, xlabel="guidance w", pace=pace, hold=hold)
        step += 1
        old = p
        lab.p = p = take_live(p, new, LIVE)
        if p != old:
            if p.w != old.w or (old.sweep and not p.sweep):
                manual = True
            if p.sweep and not old.sweep:
                manual, i_sweep = False, 0
        elif finished:
            _keep(key, lab)
            return


LAB = LabInfo(
    name="guidance",
    title="Classifier-free guidance",
    description="A conditional denoiser trained with label dropout on labelled 2D data; "
                "guided samples of one class as the weight w goes from 0 to 10 (fidelity "
                "traded for diversity), beside the exact guided score of per-class "
                "Gaussian mixtures, with the three scores at a probe you drag.",
    params=Params,
    run=run,
    takes_data=True,
    fps=S.FPS,
    series=SERIES,
)
