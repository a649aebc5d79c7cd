r"""Lab "diffusion": the forward noising process, a denoiser trained live, and DDPM sampling.

Three live views of one run (switching keeps the run, and the network, going):

* ``forward`` (``views.forward``): the data noised as t advances,
  :math:`x_t = a(t)x_0 + \sqrt{v(t)}\,\varepsilon` (VP: :math:`a = \sqrt{\bar\alpha}`,
  :math:`v = 1 - \bar\alpha`; VE: a = 1, v = σ(t)²), with a fixed ε per point so each point
  slides as t moves; the exact marginal :math:`p_t` as a heatmap; the schedule's
  :math:`\bar\alpha(t)` and log₁₀ SNR for the three schedules with a marker at t; the sample
  variance of x_t against its closed form, plotted against the diffusion time.  ``animate``
  sweeps t from 0 to 1 in about nine seconds, slower at small t where the clusters dissolve.
* ``score`` (``views.score``): a denoiser :math:`\varepsilon_\theta(x, t)` (an MLP with a
  sinusoidal time embedding, ``genlab.engine.denoiser``) trained with the ε-prediction loss;
  its score :math:`s_\theta = -\varepsilon_\theta/\sqrt v` against the exact score
  :math:`\nabla\log p_t` at the time slider t, their error as a heatmap (in ε units,
  :math:`\sqrt{v}\,\lVert s_\theta - \nabla\log p_t\rVert = \lVert\varepsilon_\theta -
  \varepsilon^*\rVert`), and Tweedie's posterior mean :math:`E[x_0\mid x_t] = (x_t +
  v\nabla\log p_t)/a` for a probe point the user drags, from both scores.  The loss is
  measured on fixed draws (``net.LossDraws``) beside the exact ε*'s loss on the same draws,
  its floor.
* ``reverse`` (``views.reverse``): DDPM ancestral sampling (Ho et al. 2020) from
  :math:`x_T \sim \mathcal N(0, v(1)I)` down to t = t_min with the exact score or the
  network's (the network trains on between frames, and each new pass samples with the network
  as it is then); grey trails follow a few particles; each pass's samples are measured against
  the data (sliced W₂) beside the floor, the same distance between independent samples of the
  data.

"exact" and "learned" are the lab's named series (``settings.SERIES``): the exact score and
the network's have one colour each in the arrows, the Tweedie points, the particles sampled
with them, the labels and the metric plots; so have the three schedules.  Metrics are
plotted against the training step (score view, learned DDPM), the diffusion time (forward
view) or the DDPM step (exact DDPM).

Pacing (``settings``): training shows one Adam step a frame at first, in slow motion, and
ends once the loss has levelled off (``net.Converged``); a DDPM pass takes about six seconds,
slower as t nears 0, and its samples are held; the run ends once training is over and the
view's animation is done (one forward sweep, or a last reverse pass with the finished
network).

The exact :math:`p_t` and its score come from ``noised``: closed forms for mixture data (a
gallery mixture, or a K-component EM fit whose samples are then the data), or for raw points
the kernel mixture :math:`\frac1m\sum_i\mathcal N(a x_i, (a^2h^2 + v)I)` (the exact noised
empirical distribution smoothed by a bandwidth h).  The VE schedule's prior is
:math:`\mathcal N(0, \sigma_{max}^2 I)`: its panels are widened to ±2.5 σ_max, so keep σ_max
small (default 5) to see the data.
"""

from __future__ import annotations

import math

import numpy as np

from genlab.labs.base import FrameGenerator, LabInfo, RunContext, sub_seed
from genlab.labs.data import data_or_message
from genlab.labs.diffusion import settings as S
from genlab.labs.diffusion.net import LossDraws, Net
from genlab.labs.diffusion.noised import NoisedData, make_noised_data
from genlab.labs.diffusion.settings import (
    FIELD_CAP,
    FIELD_N,
    HEAT_N,
    LIVE,
    N_SHOW,
    N_TRAILS,
    SERIES,
    SWEEP,
    TRAIL_LEN,
    Params,
    make_schedule,
)
from genlab.labs.diffusion.views import (
    Floor,
    Geometry,
    Pass,
    PassEnd,
    forward,
    new_pass,
    reverse,
    reverse_steps,
    score,
    uses_net,
)
from genlab.labs.frame import Frame
from genlab.labs.params import take_live

__all__ = ["FIELD_CAP", "FIELD_N", "HEAT_N", "LAB", "N_SHOW", "N_TRAILS", "SERIES", "SWEEP",
           "TRAIL_LEN", "NoisedData", "Params", "make_noised_data", "make_schedule", "run",
           "sweep_t"]


def _needs_net(p: Params) -> bool:
    return p.view == "score" or (p.view == "reverse" and p.score == "learned")


def sweep_t(i: int) -> float:
    """The time of frame i of a forward sweep (T_MIN to 1 in SWEEP frames)."""
    return S.T_MIN + (1.0 - S.T_MIN) * i / (SWEEP - 1)


_SWEEP_TS = np.array([sweep_t(i) for i in range(SWEEP)])


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of the forward process, the denoiser's training, and DDPM sampling."""
    p = params
    got = data_or_message(p.dataset, p.n_points, p.noise, p.seed, ctx, "Diffusion",
                          S.MIN_POINTS)
    if isinstance(got, Frame):
        yield got
        return
    x, labels = got
    data = make_noised_data(x, labels, p.dataset, p.noise, p.data_model, p.n_components,
                            p.bandwidth, make_schedule(p), p.seed)
    g = Geometry(data, p)
    eval_x = data.sample_t(S.N_EVAL, 0.0, seed=sub_seed(p.seed, 5))  # noised per frame below
    eval_eps = np.random.default_rng([p.seed, 41]).standard_normal((S.N_EVAL, 2))
    draws: LossDraws | None = None
    floor: Floor | None = None
    net: Net | None = None
    ps: Pass | None = None
    ends: list[PassEnd] = []
    n_passes = sweep = frame_no = 0
    if _needs_net(p):
        # the data at once, while torch loads (seconds on a busy machine) and the net is built
        panels, _m, _v, caption = forward(p, data, g, S.T_MIN)
        p = take_live(p, (yield Frame(
            step=0, title=f"Diffusion · {p.dataset} · loading torch", panels=panels,
            caption="Importing torch and building the denoiser…  " + caption, series=SERIES,
            x=S.T_MIN, xlabel="diffusion time t", hold=0.0)), LIVE)
        frame_no = 1
    while True:
        if _needs_net(p) and net is None:
            from genlab.engine.device import resolve  # imports torch

            draws = draws or LossDraws(data, p.seed)
            net = Net(data, p, resolve(ctx.device), draws)
        training = net is not None and net.pending(p)
        pace, hold, total, last = 1.0, 0.0, None, False
        if p.view == "forward":
            t = sweep_t(sweep) if p.animate else p.t
            panels, metrics, values, caption = forward(p, data, g, t)
            title = f"Diffusion · forward · {p.schedule} · t = {t:.2f}"
            x, xlabel = t, "diffusion time t"
            if p.animate:
                pace = S.pace_over(_SWEEP_TS, sweep, 1, S.SWEEP_S)
                last = sweep == SWEEP - 1
                hold = S.HOLD_START if sweep == 0 else S.HOLD_END if last else 0.0
                total = None if training else frame_no + SWEEP - sweep
            else:
                hold = 0.0 if training else S.HOLD_END
                total = None if training else frame_no + 1
        elif p.view == "score":
            assert net is not None
            a, v = (float(z) for z in data.schedule.marginal(p.t))
            ex = a * eval_x + math.sqrt(v) * eval_eps
            panels, metrics, values, caption = score(p, data, g, net, p.t, ex)
            title = f"Diffusion · score · step {net.done} / {p.steps} · t = {p.t:.2f}"
            x, xlabel = net.done, "training step"
            pace = S.training_pace(net.frames) if training else 1.0
            last = not training
            hold = S.HOLD_END if last else S.HOLD_START if net.done == 0 else 0.0
            total = frame_no + 1 if last else None
        else:
            floor = floor or Floor(data, p)
            if ps is None:
                ps = new_pass(p, data, n_passes, final=not (uses_net(p, net) and training),
                              twin=uses_net(p, net))
            panels, metrics, values, caption = reverse(p, data, g, net, ps, floor, ends)
            title = (f"Diffusion · DDPM · pass {ps.number + 1} · step {ps.i} / {ps.n_steps}"
                     + (f" · training {net.done} / {p.steps}" if uses_net(p, net) else ""))
            if uses_net(p, net):
                x, xlabel = net.done, "training step"
            else:
                x, xlabel = ps.i, "DDPM step"
            pace = ps.pace(p.reverse_per_frame)
            if ps.over:
                hold = S.PASS_HOLD
            elif ps.i == 0:
                hold = S.HOLD_START if ps.number == 0 else S.PASS_START_HOLD
            if ps.last and not training:
                total = frame_no + 1 + -(-(ps.n_steps - ps.i) // p.reverse_per_frame)
        if net is not None and (p.view != "score" or last):
            caption += "  " + net.status(p)
        frame = Frame(step=frame_no, title=title, panels=panels, metrics=metrics,
                      values=values, caption=caption, total=total, series=SERIES, x=x,
                      xlabel=xlabel, pace=pace, hold=hold)
        old_view, old_score = p.view, p.score
        p = take_live(p, (yield frame), LIVE)
        frame_no += 1
        if p.view != old_view or p.score != old_score:
            if ps is not None:
                n_passes = ps.number + 1
            ps = None
        # -- advance: train, move the view's animation on; stop when nothing is left
        if _needs_net(p) and net is None:
            continue  # the next frame makes the network
        if net is not None and net.pending(p):
            net.train(p)
            if not net.pending(p) and ps is not None and not ps.over:
                ps.finished_at = float(ps.ts[ps.i])
        training = net is not None and net.pending(p)
        if p.view == "forward":
            if p.animate:
                if sweep >= SWEEP - 1 and not training:
                    return
                sweep = (sweep + 1) % SWEEP
            elif not training:
                return
        elif p.view == "score":
            if last and not training:
                return
        elif ps is not None:
            if not ps.over:
                reverse_steps(p, data, net, ps)
            elif ps.last and not training:
                return
            else:
                n_passes = ps.number + 1
                ps = new_pass(p, data, n_passes, final=not (uses_net(p, net) and training),
                              twin=uses_net(p, net))


LAB = LabInfo(
    name="diffusion",
    title="Diffusion models",
    description="Noise 2D data with a VP or VE schedule, train a denoiser live and compare "
                "its score with the exact one, then sample with DDPM from noise to data.",
    params=Params,
    run=run,
    takes_data=True,
    fps=S.FPS,
    series=SERIES,
)
