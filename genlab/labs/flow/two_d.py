"""The flow lab's 2D run: a RealNVP or planar flow on the plane, in three views (density,
warp, log-det)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, RunContext
from genlab.labs.data import data_or_message
from genlab.labs.flow.common import (
    EVAL_POINTS,
    HOLD_END,
    HOLD_START,
    LIVE,
    MIN_POINTS,
    SERIES,
    Converged,
    Params,
    Watch,
    advance,
    finite,
    lead,
    pace_of,
    split,
    total,
)
from genlab.labs.frame import (
    MUTED,
    Ellipses,
    Frame,
    Heatmap,
    Layer,
    Panel,
    Paths,
    Points,
    message_frame,
)
from genlab.labs.params import take_live
from genlab.labs.plane import cells, signed, square_limits

GRID = 96  # density heatmap resolution (GRID x GRID cells)
GRID_LINES = 21  # warped grids: lines per direction ...
LINE_POINTS = 100  # ... and points per line
N_SAMPLES = 1000  # fixed latent draws shown as samples
SHOW_TRAIN = 1500  # at most this many training / held-out points drawn
SHOW_HELD = 500
LOG_RANGE = 8.0  # log-density maps show this many nats below their maximum
LATENT_LIM = 3.0  # the latent grid spans [-3, 3]^2


def _grid_lines(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Points (GRID_LINES * 2 * LINE_POINTS, 2) on the lines of a grid over the box lo..hi:
    GRID_LINES horizontal then GRID_LINES vertical lines, LINE_POINTS points each."""
    t = np.linspace(0.0, 1.0, LINE_POINTS)
    s = np.linspace(0.0, 1.0, GRID_LINES)
    span = hi - lo
    horiz = np.stack(np.broadcast_arrays(lo[0] + span[0] * t[None, :],
                                         lo[1] + span[1] * s[:, None]), axis=-1)
    vert = np.stack(np.broadcast_arrays(lo[0] + span[0] * s[:, None],
                                        lo[1] + span[1] * t[None, :]), axis=-1)
    return np.concatenate([horiz, vert]).reshape(-1, 2)


def _as_paths(points: np.ndarray) -> Paths:
    """The grid lines of _grid_lines (possibly warped) as a Paths layer (T, lines, 2)."""
    lines = points.reshape(2 * GRID_LINES, LINE_POINTS, 2)
    return Paths(np.transpose(lines, (1, 0, 2)), series=MUTED, alpha=0.55)


def _log_map(v: np.ndarray) -> np.ndarray:
    """A log-density for display: clipped to LOG_RANGE nats below its maximum."""
    return np.maximum(v, float(v.max()) - LOG_RANGE)


def _angle(z: np.ndarray) -> np.ndarray:
    return np.arctan2(z[:, 1], z[:, 0])


class _Plane:
    """The 2D run's fixed geometry and data: limits, grids, the points shown, latent draws."""

    def __init__(self, x: np.ndarray, train: np.ndarray, held: np.ndarray, seed: int) -> None:
        xt = x[train]
        self.m = xt.mean(axis=0)
        self.sigma = float(np.sqrt(xt.var(axis=0).mean()))
        self.log_sigma2 = 2.0 * math.log(self.sigma)
        self.xlim, self.ylim = square_limits(x)
        self.extent = (*self.xlim, *self.ylim)
        self.cells = self.std(cells(self.xlim, self.ylim, GRID))
        self.train_std = self.std(xt)
        self.held_std = self.std(x[held])
        self.eval_train = self.train_std[:EVAL_POINTS]
        self.eval_held = self.held_std[:EVAL_POINTS]
        self.show_train = xt[:SHOW_TRAIN]
        self.show_held = x[held][:SHOW_HELD]
        # the warp view works in standardised coordinates x′ = (x − m)/σ
        box_lo = self.std(np.array([self.xlim[0], self.ylim[0]]))[0]
        box_hi = self.std(np.array([self.xlim[1], self.ylim[1]]))[0]
        self.data_lines = _grid_lines(box_lo, box_hi)
        self.latent_lines = _grid_lines(np.full(2, -LATENT_LIM), np.full(2, LATENT_LIM))
        half = max(LATENT_LIM + 0.5, float(np.abs(np.concatenate([box_lo, box_hi])).max()))
        self.std_lim = (-half, half)
        self.z = np.random.default_rng([seed, 11]).standard_normal((N_SAMPLES, 2))
        self.z_angle = _angle(self.z)

    def std(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64).reshape(-1, 2) - self.m) / self.sigma

    def unstd(self, x: np.ndarray) -> np.ndarray:
        return self.m + self.sigma * x


def _model_text(p: Params, n_params: int) -> str:
    if p.model == "realnvp":
        return (f"a RealNVP of {p.n_layers} affine coupling{'s' if p.n_layers > 1 else ''} "
                f"(hidden width {p.hidden}, {n_params:,} weights)")
    return f"{p.n_layers} planar layer{'s' if p.n_layers > 1 else ''} ({n_params} weights)"


def _panels_density(p: Params, g: _Plane, model: Any, step: int) -> tuple[tuple[Panel, ...],
                                                                          str]:
    logp = model.log_prob(g.cells) - g.log_sigma2
    samples = g.unstd(model.inverse(g.z))
    dens = np.exp(logp).reshape(GRID, GRID)
    finite((dens, samples), step, p.lr)
    data: dict[str, Layer] = {"training points": Points(g.show_train, size=0.7,
                                                        series="train")}
    if len(g.show_held):
        data["held-out points"] = Points(g.show_held, size=0.7, series="held-out")
    lims = {"xlim": g.xlim, "ylim": g.ylim, "xlabel": "x₁", "ylabel": "x₂"}
    panels = (
        Panel(data, title="data", legend=True, **lims),
        Panel({"p(x)": Heatmap(dens, g.extent)}, title="learned density p(x)", **lims),
        Panel({"samples": Points(samples, size=0.7, series="samples")},
              title=f"{N_SAMPLES} samples F⁻¹(z), z ~ N(0, I)", legend=True, **lims),
    )
    caption = ("log p(x) = log N(F(x); 0, I) + log|det ∂F/∂x|: Adam lowers the mean −log p on "
               "minibatches; the samples are the same latent draws z pushed through F⁻¹, so "
               "they move as the model learns.")
    return panels, caption


def _panels_warp(p: Params, g: _Plane, model: Any, step: int) -> tuple[tuple[Panel, ...], str]:
    k = model.n_layers
    ell = min(p.layer, k)
    n_show = min(len(g.show_train), 1000)
    fwd_in = np.concatenate([g.data_lines, g.std(g.show_train[:n_show])])
    inv_in = np.concatenate([g.latent_lines, g.z])
    fwd_all = model.forward_layers(fwd_in)
    fwd, latent = fwd_all[ell], fwd_all[-1]
    inv = model.inverse_layers(inv_in)[ell]
    finite((fwd, latent, inv), step, p.lr)
    n_lines = len(g.data_lines)
    ref = Ellipses([[0.0, 0.0]], [np.eye(2)], labels=[7], n_std=(1.0, 2.0), dashed=True)
    lims = {"xlim": g.std_lim, "ylim": g.std_lim}
    # both clouds are coloured by the angle of their latent point z = F(x): one colour marks
    # one direction of N(0, I) on both sides of the map
    forward_panel = Panel({
        "N(0, I)": ref,
        "data grid": _as_paths(fwd[:n_lines]),
        "data": Points(fwd[n_lines:], values=_angle(latent[n_lines:]), size=0.7),
    }, title=f"data → latent: x′ after {ell} of {k} layers", xlabel="h₁", ylabel="h₂", **lims)
    inverse_panel = Panel({
        "N(0, I)": ref,
        "latent grid": _as_paths(inv[:n_lines]),
        "samples": Points(inv[n_lines:], values=g.z_angle, size=0.7),
    }, title=f"latent → data: z after {ell} of {k} inverse layers", xlabel="h₁",
        ylabel="h₂", **lims)
    where = {0: "at the start: the left panel is the standardised data plane x′ = (x − m)/σ "
                "and the right one the latent plane z",
             k: "after all of them: the left panel is the latent plane and the right one the "
                "data plane"}.get(ell, f"after {ell} of the {k} layers")
    caption = (f"The warp layer by layer, {where}.  Left: the data grid and the training "
               "points pushed forward x → z; right: a regular latent grid and samples pulled "
               "back z → x.  Both clouds are coloured by the angle of their latent point z, so "
               "one colour is one direction of N(0, I) on both sides.  Dashed: the 1σ and 2σ "
               "circles of N(0, I).")
    return (forward_panel, inverse_panel), caption


def _panels_logdet(p: Params, g: _Plane, model: Any, step: int) -> tuple[tuple[Panel, ...],
                                                                         str]:
    z, ld = model.forward(g.cells)
    log_base = -0.5 * (z * z).sum(axis=1) - math.log(2.0 * math.pi)
    ld = ld - g.log_sigma2  # the standardisation x -> x′ is part of the map x -> z
    finite((log_base, ld), step, p.lr)
    logp = log_base + ld
    # log|det| is shown only where the model puts mass: far from the data a flow may
    # stretch the plane a lot, but there N(F(x)) is negligible and the colours would go to
    # a region that does not matter.
    relevant = logp >= logp.max() - LOG_RANGE
    ld_shown = np.where(relevant, ld, ld[relevant].min())
    maps = {"log N(F(x); 0, I)": _log_map(log_base), "log|det ∂F/∂x|": ld_shown,
            "log p(x)": _log_map(logp)}
    data = Points(g.show_train[:500], size=0.5, alpha=0.6, series="train")
    panels = tuple(
        Panel({name: Heatmap(v.reshape(GRID, GRID), g.extent), "data": data},
              title=name, xlim=g.xlim, ylim=g.ylim, xlabel="x₁", ylabel="x₂")
        for name, v in maps.items())
    caption = ("log p(x) = log N(F(x); 0, I) + log|det ∂F/∂x|: the first term is high where F "
               "sends x near the latent origin, the second where F stretches the plane (a "
               "small region of x spread over much of z).  The log-densities are cut "
               f"{LOG_RANGE:g} nats below their maximum, and log|det| is shown only where "
               "log p(x) is above that cut.  Dots: 500 training points.")
    return panels, caption


_VIEWS = {"density": _panels_density, "warp": _panels_warp, "log-det": _panels_logdet}


def run_2d(p: Params, ctx: RunContext) -> FrameGenerator:
    got = data_or_message(p.dataset, p.n_points, p.noise, p.seed, ctx, "Flow", MIN_POINTS)
    if isinstance(got, Frame):
        yield got
        return
    x, _ = got
    train, held = split(len(x), p.held_out, p.seed)
    if len(np.unique(x[train], axis=0)) < 2 or np.sqrt(x[train].var(axis=0).mean()) < 1e-9:
        yield message_frame("Flow · degenerate data",
                            "The training points all coincide: there is no spread to fit a "
                            "density to. Draw points over an area, or lower the held-out "
                            "fraction.")
        return
    g = _Plane(x, train, held, p.seed)
    # the data at once, while torch loads (a second or two in a fresh process)
    yield Frame(step=0, title=f"Flow · {p.dataset}", panels=(Panel(
        {"train": Points(x[train][:4000], series="train", size=0.8),
         "held-out": Points(x[held][:4000], series="held-out", size=0.8)},
        title="the data", xlim=g.xlim, ylim=g.ylim, xlabel="x₁", ylabel="x₂"),),
        caption="Preparing the run: importing torch and building the flow.", series=SERIES)

    # torch is imported here (through the engine), never when the lab module is imported
    from genlab.engine.device import resolve
    from genlab.engine.flows import MLETrainer, PlanarFlow, RealNVP, flow_parameters

    device = resolve(ctx.device)
    model: Any = (RealNVP(p.n_layers, p.hidden, seed=p.seed) if p.model == "realnvp"
                  else PlanarFlow(p.n_layers, seed=p.seed)).to(device)
    trainer = MLETrainer(model, g.train_std, lr=p.lr, batch_size=p.batch_size, seed=p.seed)
    what = _model_text(p, flow_parameters(model))
    name = "RealNVP" if p.model == "realnvp" else "Planar flow"
    watch, flat = Watch(), Converged(p)
    n_train, n_held = len(train), len(held)
    split_text = (f"{n_train} training and {n_held} held-out points" if n_held
                  else f"{n_train} training points (none held out)")
    frame_no, done, losses = 0, 0, np.zeros(0)
    while True:
        nll = trainer.nll(g.eval_train) + g.log_sigma2
        watch.check(losses, nll, done, p.lr)
        metrics = {"NLL/train": nll}
        if n_held:
            metrics["NLL/held-out"] = trainer.nll(g.eval_held) + g.log_sigma2
        converged = flat.add(p, {k.partition('/')[2]: v for k, v in metrics.items()}, done)
        last = converged or done >= p.steps
        panels, caption = _VIEWS[p.view](p, g, model, done)
        start = f"Start: {what}, untrained, on {split_text}. "
        head = lead(p, frame_no, done, len(losses), flat if converged else None, start)
        held_text = (f" / {signed(metrics['NLL/held-out'])} (held-out)" if n_held else "")
        tail = f" Mean NLL {signed(nll)} (train){held_text} nats per point."
        frame = Frame(step=frame_no, total=frame_no + 1 if last else total(p, frame_no, done),
                      title=f"{name} · {p.dataset} · step {done} / {p.steps}",
                      panels=panels, metrics=metrics, caption=head + caption + tail,
                      series=SERIES, x=done, xlabel="training step", pace=pace_of(frame_no),
                      hold=HOLD_START if frame_no == 0 else HOLD_END if last else 0.0)
        p = take_live(p, (yield frame), LIVE)
        if converged:
            return
        stepped = advance(p, trainer, frame_no, done)
        if stepped is None:
            return
        losses, done, frame_no = stepped, done + len(stepped), frame_no + 1
