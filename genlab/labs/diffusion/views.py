"""The diffusion lab's three views: the forward process, the learned score against the exact
one (with the Tweedie probe), and DDPM passes from noise to data."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.engine import diffusion as df
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import sub_seed
from genlab.labs.diffusion import settings as S
from genlab.labs.diffusion.net import Net, check_finite
from genlab.labs.diffusion.noised import NoisedData
from genlab.labs.diffusion.settings import (
    CLOSED,
    EXACT,
    FLOOR,
    LEARNED,
    SAMPLE,
    Params,
)
from genlab.labs.frame import (
    MUTED,
    Arrows,
    Curve,
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
from genlab.labs.plane import cells, signed

View = tuple[tuple[Panel, ...], dict[str, float], dict[str, float], str]


def _signal(schedule: Any, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a²/(a² + v), log₁₀ SNR) on t: the first is ᾱ for VP, 1/(1 + σ²) for VE."""
    a, v = schedule.marginal(t)
    snr = a * a / v
    return snr / (1.0 + snr), np.log10(snr)


def _capped(uv: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(uv, axis=1, keepdims=True)
    return uv * np.minimum(1.0, S.FIELD_CAP / np.maximum(norm, 1e-12))


class Geometry:
    """The run's fixed picture: limits, grids, the points shown and their fixed noises."""

    def __init__(self, data: NoisedData, p: Params) -> None:
        x = data.x0
        lim = max(1.15 * float(np.abs(x).max()), 3.2)
        if p.schedule == "VE":
            lim = max(lim, 2.5 * p.sigma_max)
        self.lim = lim
        self.extent = (-lim, lim, -lim, lim)
        self.heat_cells = cells((-lim, lim), (-lim, lim), S.HEAT_N)
        self.err_cells = cells((-lim, lim), (-lim, lim), S.ERR_N)
        inner = lim * (1 - 1 / S.FIELD_N)
        self.field_cells = cells((-inner, inner), (-inner, inner), S.FIELD_N)
        rng = np.random.default_rng([p.seed, 21])
        idx = rng.permutation(len(x))[:S.N_SHOW]
        self.show = x[idx]
        self.show_labels = data.labels[idx]
        self.eps = rng.standard_normal(self.show.shape)
        # the plane panels are linked canvases: they pan and zoom together
        self.lims = {"xlim": (-lim, lim), "ylim": (-lim, lim), "xlabel": "x₁",
                     "ylabel": "x₂", "link": "plane"}

    def heat(self, data: NoisedData, t: float) -> Heatmap:
        dens = np.exp(data.log_density(self.heat_cells, t)).reshape(S.HEAT_N, S.HEAT_N)
        return Heatmap(dens, self.extent)


# ------------------------------------------------------------------------------ forward


def forward(p: Params, data: NoisedData, g: Geometry, t: float) -> View:
    sched = data.schedule
    a, v = (float(z) for z in sched.marginal(t))
    xt = a * g.show + math.sqrt(v) * g.eps
    cloud = Panel({"x_t": Points(xt, labels=g.show_labels, size=0.7)},
                  title=f"x_t = a x₀ + √v ε at t = {t:.2f}", **g.lims)
    heat = Panel({"p_t": g.heat(data, t)},
                 title=("exact p_t" if data.exact else "p_t, kernel estimate") + f", t = {t:.2f}",
                 **g.lims)
    curves: dict[str, Layer] = {"t": Segments([[t, 0.0]], [[t, 1.0]], series=MUTED)}
    snrs: dict[str, Layer] = {"t": Segments([[t, -6.0]], [[t, 6.0]], series=MUTED)}
    schedules = {"linear": df.VPSchedule("linear"), "cosine": df.VPSchedule("cosine"),
                 "VE": df.VESchedule(0.01, p.sigma_max)}
    at = np.array([0.5, 0.9])  # where each curve is named (they are apart there)
    for name, s in schedules.items():
        sig, lsnr = _signal(s, S.CURVE_T)
        sig_at, snr_at = _signal(s, at)
        mine = name == p.schedule
        width = 3.0 if mine else 1.2
        curves[name] = Curve(S.CURVE_T, sig, series=name, width=width, dashed=not mine)
        snrs[name] = Curve(S.CURVE_T, np.clip(lsnr, -6.0, 6.0), series=name, width=width,
                           dashed=not mine)
        curves[f"{name} name"] = Labels([[at[0], float(sig_at[0])]], (name,), series=name)
        snrs[f"{name} name"] = Labels([[at[1], float(np.clip(snr_at[1], -6.0, 6.0))]], (name,),
                                      series=name)
    sig_t, lsnr_t = (float(z) for z in _signal(sched, np.array(t)))
    curves["now"] = Points([[t, sig_t]], series=p.schedule, highlight=True)
    snrs["now"] = Points([[t, float(np.clip(lsnr_t, -6.0, 6.0))]], series=p.schedule,
                         highlight=True)
    schedule_panel = Panel(curves, title="ᾱ(t) = a²/(a² + v)", xlim=(0.0, 1.0), ylim=(0.0, 1.02),
                           equal_aspect=False, xlabel="t", ylabel="ᾱ", legend=False)
    snr_panel = Panel(snrs, title="log₁₀ SNR(t) = log₁₀ a²/v", xlim=(0.0, 1.0),
                      ylim=(-6.0, 6.0), equal_aspect=False, xlabel="t", ylabel="log₁₀ SNR",
                      legend=False)
    var0 = float(g.show.var(axis=0).mean())
    metrics = {f"{S.VARIANCE}/{SAMPLE}": float(xt.var(axis=0).mean()),
               f"{S.VARIANCE}/{CLOSED}": a * a * var0 + v}
    kind = ("VE: x_t = x₀ + σ(t)ε, σ(t) = 0.01·(σ_max/0.01)^t, so ᾱ = 1/(1 + σ²)"
            if p.schedule == "VE" else
            f"VP {p.schedule}: x_t = √ᾱ x₀ + √(1 − ᾱ) ε")
    caption = (f"Forward process, {kind}; at t = {t:.2f}, ᾱ = {sig_t:.3g} and SNR = "
               f"10^{signed(lsnr_t, 2)} (thick curves: this schedule, dashed: the others).  "
               "Each point keeps its own ε, so it slides from its data position towards "
               f"noise; the heatmap is p_t = {data.how}.  The variance of x_t per coordinate "
               f"follows a² Var x₀ + v: {signed(metrics[f'{S.VARIANCE}/{SAMPLE}'], 3)} "
               f"sampled, {signed(a * a * var0 + v, 3)} in closed form.")
    return (cloud, heat, schedule_panel, snr_panel), metrics, {}, caption


# ------------------------------------------------------------------------------ score


def score(p: Params, data: NoisedData, g: Geometry, net: Net, t: float,
          eval_x: np.ndarray) -> View:
    sched = data.schedule
    a, v = (float(z) for z in sched.marginal(t))
    sv = math.sqrt(v)
    tr = net.trainer
    learned = sv * tr.score(g.field_cells, t)
    exact = sv * data.score(g.field_cells, t)
    err = sv * np.linalg.norm(tr.score(g.err_cells, t) - data.score(g.err_cells, t), axis=1)
    err_eval = 0.5 * v * ((tr.score(eval_x, t) - data.score(eval_x, t)) ** 2).sum(1).mean()
    probe = np.array([[p.probe_x, p.probe_y]])
    tw_exact = df.tweedie_mean(probe, data.score(probe, t), t, sched)
    tw_learned = tr.posterior_mean(probe, t)
    check_finite(net.done, p.lr, learned, err, tw_learned)
    backdrop = Points(g.show[:600] * a + sv * g.eps[:600], size=0.5, series=MUTED, alpha=0.4)
    fields_panel = Panel({"x_t": backdrop,
                          EXACT: VectorField(g.field_cells.copy(), _capped(exact), series=EXACT),
                          LEARNED: VectorField(g.field_cells.copy(), _capped(learned),
                                               series=LEARNED)},
                         title=f"√v·score at t = {t:.2f}", **g.lims)
    # shaded on a fixed scale, 0 to the cap, so a small error looks small
    err_panel = Panel({"error": Heatmap(np.minimum(err, S.ERR_CAP).reshape(S.ERR_N, S.ERR_N),
                                        g.extent, levels=(0.0, S.ERR_CAP))},
                      title=f"error √v‖s_θ − ∇log p_t‖, shaded 0 to {S.ERR_CAP:g}", **g.lims)
    probe_layers: dict[str, Layer] = {
        "p_t": g.heat(data, t),
        "data": Points(g.show[:400], size=0.5, series=MUTED, alpha=0.5),
    }
    for name, end in ((EXACT, tw_exact), (LEARNED, tw_learned)):
        probe_layers[f"{name} arrow"] = Arrows(probe, end, series=name, min_px=S.PROBE_ARROW_PX)
        probe_layers[f"{name} E"] = Points(end, series=name, highlight=True)
        probe_layers[f"{name} name"] = Labels(end, (name,), series=name)
    probe_layers["probe"] = Handles(probe, ("probe_x",), ("probe_y",), ("x_t",))
    probe_panel = Panel(probe_layers, title="Tweedie: E[x₀ | x_t] for the probe x_t", **g.lims)
    metrics = {f"{S.LOSS}/{LEARNED}": net.loss, S.SCORE_ERR: net.gap}
    values = {f"{S.LOSS_NOW}/{LEARNED}": net.loss, f"{S.LOSS_NOW}/{EXACT}": net.draws.floor}
    gap = float(np.linalg.norm(tw_exact - tw_learned))
    floor = net.draws.floor
    caption = (f"The denoiser after {net.done} Adam steps of the ε-prediction loss "
               f"½E‖ε_θ(a x₀ + √v ε, t) − ε‖² (t uniform), now {signed(net.loss)} on fixed "
               f"draws.  It splits as ½E‖ε* − ε‖² + ½E‖ε_θ − ε*‖²: the exact ε* = −√v ∇log p_t "
               f"scores {signed(floor)} on the same draws (the floor, never 0) and the network "
               f"is {signed(net.gap)} from it, the score error (sum {signed(floor + net.gap)}: "
               "on these draws a cross term of mean 0 makes up the rest).  Arrows: the "
               "learned score over the exact one, "
               f"times √v = {signed(sv, 2)} at t = {t:.2f} (capped at {S.FIELD_CAP:g}); there "
               f"½E‖ε_θ − ε*‖² over p_t is {signed(float(err_eval))}.  "
               "Drag the probe x_t: Tweedie's E[x₀ | x_t] = (x_t + v ∇log p_t)/a from the exact "
               f"and the learned score are {signed(gap, 2)} apart.")
    return (fields_panel, err_panel, probe_panel), metrics, values, caption


# ------------------------------------------------------------------------------ reverse


@dataclass
class Pass:
    """One reverse (DDPM) pass in progress.  A pass with the network carries a twin: the
    same x_T through the same noise draws with the exact score, so its distance to the data
    shows what the network costs, free of the luck of the draws."""

    n_steps: int
    ts: np.ndarray
    x: np.ndarray
    rng: np.random.Generator
    trails: list[np.ndarray]
    final: bool  # sampled with the exact score or the finished network
    number: int = 0
    twin: np.ndarray | None = None
    twin_rng: np.random.Generator | None = None
    finished_at: float | None = None  # the pass's t when training ended during it
    score: np.ndarray | None = None  # the score at (x, ts[i]), once the frame computed it
    i: int = 0

    @property
    def over(self) -> bool:
        return self.i >= self.n_steps

    @property
    def last(self) -> bool:
        """Sampled with the exact score or the finished network, at least from FINAL_T on
        (the clusters form later)."""
        return self.final or (self.finished_at is not None and self.finished_at >= S.FINAL_T)

    def pace(self, per_frame: int) -> float:
        """Frame intervals the frame at step i stays: a pass takes PASS_S seconds in all,
        slower where t is small (settings.pace_over)."""
        return S.pace_over(self.ts[:-1], self.i, per_frame, S.PASS_S) if not self.over else 1.0


@dataclass(frozen=True)
class PassEnd:
    """A finished pass: its number, the training step, its samples' sliced W₂ to the data
    and its exact twin's (NaN without one)."""

    number: int
    step: int
    who: str
    w: float
    w_exact: float


def new_pass(p: Params, data: NoisedData, number: int, final: bool, twin: bool) -> Pass:
    rng = np.random.default_rng([p.seed, 31, number])
    _, v1 = data.schedule.marginal(1.0)
    x = math.sqrt(float(v1)) * rng.standard_normal((p.n_particles, 2))
    ps = Pass(p.n_steps, df.time_grid(p.n_steps, S.T_MIN), x, rng, [x[:S.N_TRAILS].copy()],
              final, number=number)
    if twin:
        ps.twin, ps.twin_rng = x.copy(), copy.deepcopy(rng)
    return ps


def uses_net(p: Params, net: Net | None) -> bool:
    return p.score == LEARNED and net is not None


def score_fn(p: Params, data: NoisedData, net: Net | None) -> Any:
    return net.trainer.score if uses_net(p, net) else data.score


class Floor:
    """The reference sample of the data (p at T_MIN) the passes' samples are measured
    against, and the floor: the same distance for independent samples of the data."""

    def __init__(self, data: NoisedData, p: Params) -> None:
        self.n_ref = min(p.n_particles, S.N_REF)
        self.ref = data.sample_t(self.n_ref, S.T_MIN, seed=sub_seed(p.seed, 61))
        self.value = float(np.mean([
            sliced_wasserstein(data.sample_t(p.n_particles, S.T_MIN, seed=sub_seed(p.seed, 62, i)),
                               self.ref, seed=p.seed) for i in range(S.FLOOR_DRAWS)]))

    def distance(self, x: np.ndarray, seed: int) -> float:
        return sliced_wasserstein(x, self.ref, seed=seed)


def _ended(ps: Pass, who: str, net: Net | None, floor: Floor, seed: int) -> PassEnd:
    twin = math.nan if ps.twin is None else floor.distance(ps.twin, seed)
    return PassEnd(ps.number, net.done if net else 0, who, floor.distance(ps.x, seed), twin)


def _pass_values(ends: list[PassEnd], floor: Floor) -> tuple[dict[str, float], str]:
    """The bars of the last finished pass, and its sentence."""
    e = ends[-1]
    values = {f"{S.LAST_PASS}/{e.who}": e.w}
    text = f"sliced W₂ to the data {signed(e.w)}"
    if math.isfinite(e.w_exact):
        values[f"{S.LAST_PASS}/{EXACT}"] = e.w_exact
        text += f", the exact score's from the same noise {signed(e.w_exact)}"
    values[f"{S.LAST_PASS}/{FLOOR}"] = floor.value
    return values, text + (f", the floor {signed(floor.value)} (two independent samples of "
                           "the data)")


def reverse(p: Params, data: NoisedData, g: Geometry, net: Net | None, ps: Pass,
            floor: Floor, ends: list[PassEnd]) -> View:
    """``ends``: the finished passes of the run so far (this one is added when it is over)."""
    t = float(ps.ts[ps.i])
    a, v = (float(z) for z in data.schedule.marginal(t))
    s = ps.score = score_fn(p, data, net)(ps.x, t)
    x0_hat = (ps.x + v * s) / a
    check_finite(net.done if net else 0, p.lr, ps.x, x0_hat)
    who = LEARNED if uses_net(p, net) else EXACT
    trails = np.stack(ps.trails[-S.TRAIL_LEN:])
    particles = Panel({"particles": Points(ps.x.copy(), size=0.6, series=who),
                       "trails": Paths(trails, series=MUTED, alpha=0.9, fade=True)},
                      title=f"x_t, step {ps.i} / {ps.n_steps}, t = {t:.3f}", **g.lims)
    target = Panel({"p_t": g.heat(data, t)},
                   title=f"{'exact' if data.exact else 'kernel-estimate'} p_t at t = {t:.3f}",
                   **g.lims)
    pred = Panel({"data": Points(g.show, size=0.6, series=MUTED, alpha=0.5),
                  "E[x0|xt]": Points(x0_hat, size=0.6, series=who)},
                 title="samples (data in grey)" if ps.over else
                 "E[x₀ | x_t] (data in grey)", **g.lims)
    metrics: dict[str, float] = {}
    if who == EXACT:
        fresh = data.sample_t(min(p.n_particles, S.N_REF), t, seed=sub_seed(p.seed, 63, ps.i))
        metrics[f"{S.TRACK}/{EXACT}"] = sliced_wasserstein(ps.x, fresh, seed=ps.i)
    elif net is not None:
        metrics[f"{S.LOSS}/{LEARNED}"] = net.loss
    if ps.over and (not ends or ends[-1].number != ps.number):
        ends.append(_ended(ps, who, net, floor, p.seed))
    values, said = _pass_values(ends, floor) if ends else ({}, "")
    which = ("the exact score" if who == EXACT else
             f"the network after {net.done} Adam steps"
             + (" (training on between frames)" if net.pending(p) else
                f" (finished from t = {ps.finished_at:.2f} on)" if ps.finished_at else ""))
    if ps.over:
        lead = (f"Pass {ps.number + 1} done: {p.n_particles} samples after {ps.n_steps} DDPM "
                f"steps with {which}; {said}.  ")
    else:
        lead = f"Pass {ps.number + 1}, DDPM step {ps.i} / {ps.n_steps} with {which}.  "
    learned_ends = [e for e in ends if e.who == LEARNED]
    history = ""
    if who == LEARNED and len(learned_ends) > 1:
        history = ("Passes so far (training step: sliced W₂, exact from the same noise): "
                   + ", ".join(f"{e.step}: {signed(e.w, 2)}, {signed(e.w_exact, 2)}"
                               for e in learned_ends) + ".  ")
    caption = lead + history + (
        "Each step draws x_s from N(μ, σ_s² I), μ mixing x_t and the predicted E[x₀ | x_t] = "
        "(x_t + v ∇log p_t)/a, with Ho et al.'s posterior variance; grey trails follow "
        f"{S.N_TRAILS} particles.  Middle: where the particles should be (p_t).")
    return (particles, target, pred), metrics, values, caption


def reverse_steps(p: Params, data: NoisedData, net: Net | None, ps: Pass) -> None:
    fn = score_fn(p, data, net)
    for _ in range(min(p.reverse_per_frame, ps.n_steps - ps.i)):
        t0, t1 = float(ps.ts[ps.i]), float(ps.ts[ps.i + 1])
        # the frame just shown computed the exact score at (x, t0) (the costly one with raw
        # points); a network may have trained since, so its score is evaluated afresh
        exact = fn == data.score
        s = ps.score if exact and ps.score is not None else fn(ps.x, t0)
        ps.score = None
        end = ps.i == ps.n_steps - 1
        ps.x = df.ddpm_step(ps.x, s, t0, t1, data.schedule, None if end else ps.rng)
        if ps.twin is not None:
            ps.twin = df.ddpm_step(ps.twin, data.score(ps.twin, t0), t0, t1, data.schedule,
                                   None if end else ps.twin_rng)
        ps.i += 1
        ps.trails.append(ps.x[:S.N_TRAILS].copy())
    del ps.trails[:-S.TRAIL_LEN]
