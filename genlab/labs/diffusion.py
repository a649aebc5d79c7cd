r"""Lab "diffusion": the forward noising process, a denoiser trained live, and DDPM sampling.

Three live views of one run (switching keeps the run, and the network, going):

* ``forward``: the data noised as t advances, :math:`x_t = a(t)x_0 + \sqrt{v(t)}\,\varepsilon`
  (VP: :math:`a = \sqrt{\bar\alpha}`, :math:`v = 1 - \bar\alpha`; VE: a = 1, v = σ(t)²), with a
  fixed ε per point so each point slides as t moves; the exact marginal :math:`p_t` as a
  heatmap; the schedule's :math:`\bar\alpha(t)` and log₁₀ SNR for the three schedules with a
  marker at t.  ``animate`` sweeps t from 0 to 1 over the frames.
* ``score``: a denoiser :math:`\hat\varepsilon_\theta(x, t)` (an MLP with a sinusoidal time
  embedding, ``genlab.engine.denoiser``) trained with the ε-prediction loss, a few Adam steps
  per frame; its score :math:`s_\theta = -\hat\varepsilon_\theta/\sqrt v` against the exact
  score :math:`\nabla\log p_t` at the time slider t, their error as a heatmap (in ε units,
  :math:`\sqrt{v}\,\lVert s_\theta - \nabla\log p_t\rVert = \lVert\hat\varepsilon_\theta -
  \varepsilon^*\rVert`), and Tweedie's posterior mean :math:`E[x_0\mid x_t] = (x_t +
  v\nabla\log p_t)/a` for a probe point the user drags, from both scores.
* ``reverse``: DDPM ancestral sampling (Ho et al. 2020) from :math:`x_T \sim \mathcal N(0,
  v(1)I)` down to t = t_min, a few steps per frame, with the exact score or the network's
  (the network trains on between frames, and each new pass samples with the network as it
  is then); ~20 particles leave fading trails; the sliced W₂ between the particles and fresh
  samples of :math:`p_t` measures how well the pass tracks the true marginal.

The exact :math:`p_t` and its score come from ``genlab.labs.diffusion_data``: closed forms for
mixture data (a gallery mixture, or a K-component EM fit whose samples are then the data), or
for raw points the kernel mixture :math:`\frac1m\sum_i\mathcal N(a x_i, (a^2h^2 + v)I)` (the
exact noised empirical distribution smoothed by a bandwidth h).  The VE schedule's prior is
:math:`\mathcal N(0, \sigma_{max}^2 I)`: its panels are widened to ±2.5 σ_max, so keep σ_max
small (default 5) to see the data.

The run ends once the training budget is used (when a network is trained) and the view's
animation is over (one forward sweep, or a last reverse pass with the finished network).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import diffusion as df
from genlab.engine.datasets import DATASETS
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.data import DATA_CHOICES, data_or_message
from genlab.labs.diffusion_data import NoisedData, make_noised_data
from genlab.labs.frame import (
    Curve,
    Frame,
    Handles,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
    VectorField,
)
from genlab.labs.params import Choice, Flag, Range, live_fields, take_live
from genlab.labs.plane import cells, signed

VIEWS = ("forward", "score", "reverse")
SCHEDULES = ("linear", "cosine", "VE")
DATA_MODELS = ("mixture", "raw points")
SCORES = ("learned", "exact")

T_MIN = 1e-3  # the samplers stop, and the denoiser trains from, here
HEAT_N = 60  # p_t heatmap cells per side
ERR_N = 40  # error heatmap cells per side
FIELD_N = 17  # arrows per side of the score fields
FIELD_CAP = 2.5  # arrows show √v·s (= −ε̂), their length capped here (ε units)
ERR_CAP = 2.0  # the error heatmap is clipped here (ε units)
N_SHOW = 2000  # data points drawn
N_EVAL = 1000  # points x_t ~ p_t where the score error is averaged
SWEEP = 60  # frames of one forward sweep of t
HOLD = 8  # frames the finished samples of a reverse pass stay before the next pass
N_TRAILS = 20
TRAIL_LEN = 30
MIN_POINTS = 5
DIVERGED_LOSS = 25.0  # a network predicting ε̂ = 0 scores 1
CURVE_T = np.linspace(T_MIN, 1.0, 240)

_VIEW: Any = ("view", ("forward", "score"))


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the data: a toy data set, or the points you drew")] = "8gaussians"
    n_points: Annotated[int, Range(
        100, 20_000, "how many points to draw from the data set", step=100,
        when=("dataset", DATASETS), label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    data_model: Annotated[str, Choice(
        DATA_MODELS, "mixture: the data are a Gaussian mixture (8gaussians and gaussian are "
        "one; other sets are fitted by EM and sampled), so p_t and its score are exact; raw "
        "points: p_t is the noised empirical distribution blurred by a bandwidth (a kernel "
        "estimate)", label="data model")] = "mixture"
    n_components: Annotated[int, Range(
        1, 40, "components K of the mixture fitted to a data set that is not one",
        when=("data_model", ("mixture",)), label="components K")] = 12
    bandwidth: Annotated[float, Range(
        0.01, 1.0, "kernel width h of the kernel estimate of p_t (raw points)", step=0.01,
        when=("data_model", ("raw points",)))] = 0.1
    schedule: Annotated[str, Choice(
        SCHEDULES, "noise schedule: VP linear (β from 0.1 to 20), VP cosine (Nichol & "
        "Dhariwal), or VE (x_t = x_0 + σ(t)ε, σ from 0.01 to σ_max)")] = "linear"
    sigma_max: Annotated[float, Range(
        1.0, 20.0, "VE: the largest noise σ_max (the prior is N(0, σ_max² I))", step=0.5,
        when=("schedule", ("VE",)), label="σ_max")] = 5.0
    view: Annotated[str, Choice(
        VIEWS, "forward: the noising process; score: the learned score against the exact "
        "one; reverse: DDPM sampling from noise to data", live=True)] = "reverse"
    t: Annotated[float, Range(
        0.01, 1.0, "the time shown (0: data, 1: noise)", step=0.01, live=True,
        when=_VIEW)] = 0.3
    animate: Annotated[bool, Flag(
        "sweep t from 0 to 1 over the frames", live=True,
        when=("view", ("forward",)))] = False
    probe_x: Annotated[float, Range(
        -12.0, 12.0, "x of the Tweedie probe point x_t (drag it)", step=0.05, live=True,
        when=("view", ("score",)), label="probe x")] = 0.8
    probe_y: Annotated[float, Range(
        -12.0, 12.0, "y of the Tweedie probe point x_t (drag it)", step=0.05, live=True,
        when=("view", ("score",)), label="probe y")] = 1.4
    score: Annotated[str, Choice(
        SCORES, "the score the reverse process uses: the network's (trained on between "
        "frames) or the exact one", live=True, when=("view", ("reverse",)))] = "learned"
    n_steps: Annotated[int, Range(
        2, 1000, "DDPM steps from t = 1 to t = 0 (applies from the next pass)", live=True,
        when=("view", ("reverse",)), label="reverse steps")] = 100
    reverse_per_frame: Annotated[int, Range(
        1, 50, "reverse steps between two frames", live=True, when=("view", ("reverse",)),
        label="reverse steps / frame")] = 2
    n_particles: Annotated[int, Range(
        100, 10_000, "particles sampled by the reverse process", step=100,
        label="particles")] = 2000
    hidden: Annotated[int, Range(
        16, 512, "width of the denoiser's hidden layers", step=16, label="hidden width")] = 128
    depth: Annotated[int, Range(1, 6, "hidden layers of the denoiser")] = 3
    lr: Annotated[float, Range(
        1e-4, 1.0, "Adam's learning rate", log=True, live=True, label="learning rate")] = 2e-3
    batch_size: Annotated[int, Range(
        16, 4096, "points per minibatch of the ε-prediction loss", step=16, live=True,
        label="batch size")] = 256
    steps: Annotated[int, Range(
        10, 50_000, "Adam steps of the denoiser in the run", step=10, live=True)] = 4000
    steps_per_frame: Annotated[int, Range(
        1, 100, "Adam steps between two frames", live=True, label="steps / frame")] = 10
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the noise, the network and the "
        "minibatches")] = 0


_LIVE = live_fields(Params)


# ------------------------------------------------------------------------------ helpers


def make_schedule(p: Params) -> df.VPSchedule | df.VESchedule:
    """The schedule named by ``p.schedule``."""
    if p.schedule == "VE":
        return df.VESchedule(sigma_min=0.01, sigma_max=p.sigma_max)
    return df.VPSchedule(kind=p.schedule)


def _signal(schedule: Any, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a²/(a² + v), log₁₀ SNR) on t: the first is ᾱ for VP, 1/(1 + σ²) for VE."""
    a, v = schedule.marginal(t)
    snr = a * a / v
    return snr / (1.0 + snr), np.log10(snr)


def _capped(uv: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(uv, axis=1, keepdims=True)
    return uv * np.minimum(1.0, FIELD_CAP / np.maximum(norm, 1e-12))


class _Geometry:
    """The run's fixed picture: limits, grids, the points shown and their fixed noises."""

    def __init__(self, data: NoisedData, p: Params) -> None:
        x = data.x0
        lim = max(1.15 * float(np.abs(x).max()), 3.2)
        if p.schedule == "VE":
            lim = max(lim, 2.5 * p.sigma_max)
        self.lim = lim
        self.xlim = self.ylim = (-lim, lim)
        self.extent = (-lim, lim, -lim, lim)
        self.heat_cells = cells((-lim, lim), (-lim, lim), HEAT_N)
        self.err_cells = cells((-lim, lim), (-lim, lim), ERR_N)
        inner = lim * (1 - 1 / FIELD_N)
        self.field_cells = cells((-inner, inner), (-inner, inner), FIELD_N)
        rng = np.random.default_rng([p.seed, 21])
        idx = rng.permutation(len(x))[:N_SHOW]
        self.show = x[idx]
        self.show_labels = data.labels[idx]
        self.eps = rng.standard_normal(self.show.shape)
        # the plane panels are linked canvases: they pan and zoom together
        self.lims = {"xlim": self.xlim, "ylim": self.ylim, "xlabel": "x₁", "ylabel": "x₂",
                     "link": "plane"}

    def heat(self, data: NoisedData, t: float) -> Heatmap:
        dens = np.exp(data.log_density(self.heat_cells, t)).reshape(HEAT_N, HEAT_N)
        return Heatmap(dens, self.extent)


class _Net:
    """The denoiser and its trainer (torch imported when the first one is made)."""

    def __init__(self, data: NoisedData, p: Params, device: str) -> None:
        from genlab.engine.denoiser import Denoiser, DenoiserTrainer

        model = Denoiser(hidden=p.hidden, depth=p.depth, seed=p.seed).to(device)
        self.trainer = DenoiserTrainer(model, data.x0, data.schedule, lr=p.lr,
                                       batch_size=p.batch_size, seed=p.seed, t_min=T_MIN)
        self.n_weights = sum(int(w.numel()) for w in model.parameters())
        self.done = 0
        self.best = math.inf
        self.last_loss = math.nan

    def pending(self, p: Params) -> bool:
        return self.done < p.steps

    def train(self, p: Params) -> None:
        self.trainer.lr, self.trainer.batch_size = p.lr, p.batch_size
        k = min(p.steps_per_frame, p.steps - self.done)
        if k <= 0:
            return
        losses = self.trainer.step(k)
        self.done += int(np.isfinite(losses).sum())
        if not np.isfinite(losses).all():
            raise _diverged("the ε-prediction loss became NaN or infinite", self.done, p.lr)

    def loss(self, p: Params) -> float:
        value = self.trainer.loss(2048)
        if not math.isfinite(value) or value > DIVERGED_LOSS:
            raise _diverged(f"the ε-prediction loss reached {value:.3g}", self.done, p.lr)
        self.best = min(self.best, value)
        self.last_loss = value
        return value


def _diverged(what: str, step: int, lr: float) -> LabError:
    return LabError(f"the denoiser diverged at step {step} ({what}): lower the learning rate "
                    f"(now {lr:.2g}) or use a larger batch.")


def _check_finite(step: int, lr: float, *arrays: np.ndarray) -> None:
    for a in arrays:
        if not np.isfinite(a).all():
            raise _diverged("the network's output is not finite", step, lr)


# ------------------------------------------------------------------------------ views


def _forward(p: Params, data: NoisedData, g: _Geometry, t: float
             ) -> tuple[tuple[Panel, ...], dict[str, float], str]:
    sched = data.schedule
    a, v = (float(z) for z in sched.marginal(t))
    xt = a * g.show + math.sqrt(v) * g.eps
    cloud = Panel({"x_t": Points(xt, labels=g.show_labels, size=0.7)},
                  title=f"x_t = a x₀ + √v ε at t = {t:.2f}", **g.lims)
    heat = Panel({"p_t": g.heat(data, t)},
                 title=("exact p_t" if data.exact else "p_t, kernel estimate") + f", t = {t:.2f}",
                 **g.lims)
    curves: dict[str, Layer] = {}
    snr_layers: dict[str, Layer] = {}
    others = {"linear": df.VPSchedule("linear"), "cosine": df.VPSchedule("cosine"),
              "VE": df.VESchedule(0.01, p.sigma_max)}
    at = np.array([0.5, 0.9])  # where the curves are labelled (they are apart there)
    sig_names, snr_names = [], []
    for i, (name, s) in enumerate(others.items()):
        sig, lsnr = _signal(s, CURVE_T)
        sig_at, snr_at = _signal(s, at)
        sig_names.append([at[0], float(sig_at[0])])
        snr_names.append([at[1], float(np.clip(snr_at[1], -6.0, 6.0))])
        mine = name == p.schedule
        curves[name] = Curve(CURVE_T, sig, series=i, width=3.0 if mine else 1.2,
                             dashed=not mine)
        snr_layers[name] = Curve(CURVE_T, np.clip(lsnr, -6.0, 6.0), series=i,
                                 width=3.0 if mine else 1.2, dashed=not mine)
    curves["names"] = Labels(sig_names, tuple(others))
    snr_layers["names"] = Labels(snr_names, tuple(others))
    sig_t, lsnr_t = (float(z) for z in _signal(sched, np.array(t)))
    curves["t"] = Segments([[t, 0.0]], [[t, 1.0]], series=7)
    curves["now"] = Points([[t, sig_t]], series=0, highlight=True)
    snr_layers["t"] = Segments([[t, -6.0]], [[t, 6.0]], series=7)
    snr_layers["now"] = Points([[t, lsnr_t]], series=0, highlight=True)
    schedule_panel = Panel(curves, title="ᾱ(t) = a²/(a² + v)", xlim=(0.0, 1.0), ylim=(0.0, 1.02),
                           equal_aspect=False, xlabel="t", ylabel="ᾱ")
    snr_panel = Panel(snr_layers, title="log₁₀ SNR(t) = log₁₀ a²/v", xlim=(0.0, 1.0),
                      ylim=(-6.0, 6.0), equal_aspect=False, xlabel="t", ylabel="log₁₀ SNR")
    var0 = float(g.show.var(axis=0).mean())
    metrics = {"ᾱ(t)": sig_t, "log₁₀ SNR": lsnr_t,
               "variance/x_t (sample)": float(xt.var(axis=0).mean()),
               "variance/a² Var x₀ + v": a * a * var0 + v}
    kind = ("VE: x_t = x₀ + σ(t)ε, σ(t) = 0.01·(σ_max/0.01)^t, so ᾱ = 1/(1 + σ²)"
            if p.schedule == "VE" else
            f"VP {p.schedule}: x_t = √ᾱ x₀ + √(1 − ᾱ) ε")
    caption = (f"Forward process, {kind}; at t = {t:.2f}, ᾱ = {sig_t:.3g} and SNR = "
               f"10^{signed(lsnr_t, 2)} (thick curves: this schedule).  Each point keeps its own "
               "ε, so it slides from its data position towards noise; the heatmap is p_t = "
               f"{data.how}.")
    return (cloud, heat, schedule_panel, snr_panel), metrics, caption


def _score_panels(p: Params, data: NoisedData, g: _Geometry, net: _Net, t: float,
                  eval_x: np.ndarray) -> tuple[tuple[Panel, ...], dict[str, float], str]:
    sched = data.schedule
    a, v = (float(z) for z in sched.marginal(t))
    sv = math.sqrt(v)
    tr = net.trainer
    learned = sv * tr.score(g.field_cells, t)
    exact = sv * data.score(g.field_cells, t)
    err = sv * np.linalg.norm(tr.score(g.err_cells, t) - data.score(g.err_cells, t), axis=1)
    err_eval = v * ((tr.score(eval_x, t) - data.score(eval_x, t)) ** 2).sum(1).mean()
    probe = np.array([[p.probe_x, p.probe_y]])
    tw_exact = df.tweedie_mean(probe, data.score(probe, t), t, sched)
    tw_learned = tr.posterior_mean(probe, t)
    _check_finite(net.done, p.lr, learned, err, tw_learned)
    backdrop = Points(g.show[:600] * a + sv * g.eps[:600], size=0.5, series=8, alpha=0.4)
    fields_panel = Panel({"x_t": backdrop,
                          "exact": VectorField(g.field_cells.copy(), _capped(exact), series=2),
                          "learned": VectorField(g.field_cells.copy(), _capped(learned),
                                                 series=1)},
                         title=f"√v·score at t = {t:.2f}: learned, exact", **g.lims)
    err_panel = Panel({"error": Heatmap(np.minimum(err, ERR_CAP).reshape(ERR_N, ERR_N),
                                        g.extent)},
                      title=f"error √v‖s_θ − ∇log p_t‖ (cut at {ERR_CAP:g})", **g.lims)
    ends = np.concatenate([tw_exact, tw_learned])
    probe_panel = Panel({
        "p_t": g.heat(data, t),
        "data": Points(g.show[:400], size=0.5, series=8, alpha=0.5),
        "to E[x₀|x_t]": Segments(np.repeat(probe, 2, axis=0), ends, series=0),
        "exact": Points(tw_exact, series=3, highlight=True),
        "learned": Points(tw_learned, series=2, highlight=True),
        "names": Labels(ends + np.array([[0.0, 0.09], [0.0, -0.09]]) * g.lim,
                        ("exact", "learned")),
        "probe": Handles(probe, ("probe_x",), ("probe_y",), ("x_t",)),
    }, title="Tweedie: E[x₀ | x_t] for the probe x_t", **g.lims)
    loss = net.loss(p)
    metrics = {"loss/ε-MSE": loss, "score error/E‖ε̂_θ − ε̂*‖² over p_t": float(err_eval)}
    gap = float(np.linalg.norm(tw_exact - tw_learned))
    caption = (f"The denoiser after {net.done} Adam steps of the ε-prediction loss "
               f"E‖ε̂_θ(a x₀ + √v ε, t) − ε‖² (now {signed(loss)}; it cannot reach 0: its floor "
               "is the error of the exact ε̂*, and the excess is the score error).  Arrows: "
               f"the learned score (orange) over the exact one (green), times √v = "
               f"{signed(sv, 2)} at t = {t:.2f} (capped at {FIELD_CAP:g}).  Drag the probe x_t: "
               "Tweedie's E[x₀ | x_t] = (x_t + v ∇log p_t)/a from the exact and the learned "
               f"score are {signed(gap, 2)} apart.")
    return (fields_panel, err_panel, probe_panel), metrics, caption


@dataclass
class _Pass:
    """One reverse (DDPM) pass in progress."""

    n_steps: int
    ts: np.ndarray
    x: np.ndarray
    rng: np.random.Generator
    trails: list[np.ndarray]
    final: bool  # sampled with the exact score or the finished network
    score: np.ndarray | None = None  # the score at (x, ts[i]), once the frame computed it
    i: int = 0
    hold: int = 0
    number: int = 0

    @property
    def over(self) -> bool:
        return self.i >= self.n_steps


def _new_pass(p: Params, data: NoisedData, number: int, final: bool) -> _Pass:
    rng = np.random.default_rng([p.seed, 31, number])
    _, v1 = data.schedule.marginal(1.0)
    x = math.sqrt(float(v1)) * rng.standard_normal((p.n_particles, 2))
    return _Pass(p.n_steps, df.time_grid(p.n_steps, T_MIN), x, rng,
                 [x[:N_TRAILS].copy()], final, number=number)


def _score_fn(p: Params, data: NoisedData, net: _Net | None) -> Any:
    return data.score if p.score == "exact" or net is None else net.trainer.score


def _reverse_panels(p: Params, data: NoisedData, g: _Geometry, net: _Net | None, ps: _Pass
                    ) -> tuple[tuple[Panel, ...], dict[str, float], str]:
    t = float(ps.ts[ps.i])
    a, v = (float(z) for z in data.schedule.marginal(t))
    score = ps.score = _score_fn(p, data, net)(ps.x, t)
    x0_hat = (ps.x + v * score) / a
    _check_finite(net.done if net else 0, p.lr, ps.x, x0_hat)
    trails = np.stack(ps.trails[-TRAIL_LEN:])
    title = f"x_t, step {ps.i} / {ps.n_steps}, t = {t:.3f}"
    particles = Panel({"particles": Points(ps.x.copy(), size=0.6, series=1),
                       "trails": Paths(trails, series=0, alpha=0.8, fade=True)},
                      title=title, **g.lims)
    target = Panel({"p_t": g.heat(data, t)},
                   title=f"{'exact' if data.exact else 'kernel-estimate'} p_t at t = {t:.3f}",
                   **g.lims)
    pred = Panel({"data": Points(g.show, size=0.6, series=8, alpha=0.5),
                  "x̂₀": Points(x0_hat, size=0.6, series=2)},
                 title="samples (data in grey)" if ps.over else
                 "x̂₀ = E[x₀ | x_t] (data in grey)", **g.lims)
    fresh = data.sample_t(min(p.n_particles, 2000), t, seed=p.seed * 7919 + ps.i)
    sw = sliced_wasserstein(ps.x, fresh, seed=ps.i)
    metrics = {"sliced W₂/particles vs p_t": sw}
    which = ("the exact score" if p.score == "exact" or net is None else
             f"the network after {net.done} Adam steps"
             + (" (training on between frames)" if net.pending(p) else ""))
    if ps.over:
        lead = (f"Pass {ps.number + 1} done: {p.n_particles} samples after {ps.n_steps} DDPM "
                f"steps with {which}; sliced W₂ to the data {signed(sw)}.  ")
    else:
        lead = (f"Pass {ps.number + 1}, DDPM step {ps.i} / {ps.n_steps} with {which}.  ")
    caption = lead + ("Each step draws x_s ~ N(μ, β̃I) with μ mixing x_t and the predicted "
                      "x̂₀ = (x_t + v ∇log p_t)/a (Ho et al.); trails follow 20 particles.  "
                      "Middle: where the particles should be (p_t).")
    return (particles, target, pred), metrics, caption


# ------------------------------------------------------------------------------ run


def _needs_net(p: Params) -> bool:
    return p.view == "score" or (p.view == "reverse" and p.score == "learned")


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of the forward process, the denoiser's training, and DDPM sampling."""
    p = params
    got = data_or_message(p.dataset, p.n_points, p.noise, p.seed, ctx, "Diffusion",
                          MIN_POINTS)
    if isinstance(got, Frame):
        yield got
        return
    x, labels = got
    data = make_noised_data(x, labels, p.dataset, p.noise, p.data_model, p.n_components,
                            p.bandwidth, make_schedule(p), p.seed)
    g = _Geometry(data, p)
    eval_x = data.sample_t(N_EVAL, 0.0, seed=p.seed + 5)  # p_0 draws, noised per frame below
    eval_eps = np.random.default_rng([p.seed, 41]).standard_normal((N_EVAL, 2))
    device = "cpu"
    net: _Net | None = None
    ps: _Pass | None = None
    n_passes = 0
    sweep = 0
    frame_no = 0
    while True:
        if _needs_net(p) and net is None:
            from genlab.engine.device import resolve  # imports torch

            device = resolve(ctx.device)
            net = _Net(data, p, device)
        if p.view == "forward":
            t = (T_MIN + (1.0 - T_MIN) * sweep / (SWEEP - 1)) if p.animate else p.t
            panels, metrics, caption = _forward(p, data, g, t)
            title = f"Diffusion · forward · {p.schedule} · t = {t:.2f}"
        elif p.view == "score":
            a, v = (float(z) for z in data.schedule.marginal(p.t))
            ex = a * eval_x + math.sqrt(v) * eval_eps
            panels, metrics, caption = _score_panels(p, data, g, net, p.t, ex)
            title = f"Diffusion · score · step {net.done} / {p.steps} · t = {p.t:.2f}"
        else:
            if ps is None:
                ps = _new_pass(p, data, n_passes, final=_pass_final(p, net))
            panels, metrics, caption = _reverse_panels(p, data, g, net, ps)
            title = (f"Diffusion · DDPM · pass {ps.number + 1} · step {ps.i} / {ps.n_steps}"
                     + (f" · training {net.done} / {p.steps}" if net is not None
                        and p.score == "learned" else ""))
        if net is not None and p.view != "score":
            metrics["loss/ε-MSE"] = net.loss(p)
            if net.pending(p):
                caption += f"  (The denoiser trains on: step {net.done} / {p.steps}.)"
        frame = Frame(step=frame_no, title=title, panels=panels, metrics=metrics,
                      caption=caption, total=None)
        old_view, old_score = p.view, p.score
        p = take_live(p, (yield frame), _LIVE)
        frame_no += 1
        if p.view != "reverse" or p.score != old_score or p.view != old_view:
            if ps is not None:
                n_passes = ps.number + 1
            ps = None
        # -- advance: train, move the view's animation on; stop when nothing is left
        training = net is not None and net.pending(p)
        if _needs_net(p) and net is None:
            training = True
        if training and net is not None:
            net.train(p)
        if p.view == "forward":
            if p.animate:
                if sweep >= SWEEP - 1 and not training:
                    return
                sweep = (sweep + 1) % SWEEP
            elif not training:
                return
        elif p.view == "score":
            if not training:
                return
        elif ps is not None:
            if not ps.over:
                _reverse_steps(p, data, net, ps)
            elif ps.hold < HOLD:
                ps.hold += 1
            elif ps.final and not (net is not None and net.pending(p)):
                return
            else:
                n_passes = ps.number + 1
                ps = _new_pass(p, data, n_passes, final=_pass_final(p, net))


def _pass_final(p: Params, net: _Net | None) -> bool:
    return p.score == "exact" or (net is not None and not net.pending(p))


def _reverse_steps(p: Params, data: NoisedData, net: _Net | None, ps: _Pass) -> None:
    fn = _score_fn(p, data, net)
    for _ in range(min(p.reverse_per_frame, ps.n_steps - ps.i)):
        t0, t1 = float(ps.ts[ps.i]), float(ps.ts[ps.i + 1])
        # the frame just shown computed the exact score at (x, t0) (the costly one with raw
        # points); a network may have trained since, so its score is evaluated afresh
        exact = fn == data.score
        score = ps.score if exact and ps.score is not None else fn(ps.x, t0)
        ps.score = None
        ps.x = df.ddpm_step(ps.x, score, t0, t1, data.schedule,
                            None if ps.i == ps.n_steps - 1 else ps.rng)
        ps.i += 1
        ps.trails.append(ps.x[:N_TRAILS].copy())
    del ps.trails[:-TRAIL_LEN]


LAB = LabInfo(
    name="diffusion",
    title="Diffusion models",
    description="Noise 2D data with a VP or VE schedule, train a denoiser live and compare "
                "its score with the exact one, then sample with DDPM from noise to data.",
    params=Params,
    run=run,
    takes_data=True,
)
