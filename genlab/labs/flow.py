"""Lab "flow": a normalising flow trained live by maximum likelihood.

2D (``dimension = "2d"``): a RealNVP (affine couplings with alternating masks) or a stack of
planar layers maps the data x to a latent z = F(x) with z ~ N(0, I); Adam lowers the negative
log-likelihood −log p(x) = −log N(F(x); 0, I) − log|det ∂F/∂x| on minibatches, a few steps per
frame.  Three live views:

* ``density``: the data (training and held-out points), the learned density p(x) as a heatmap,
  and samples x = F⁻¹(z) of fixed latent draws z (they move as the model learns);
* ``warp``: the grid of the data plane and the data after ``layer`` forward layers x → z, and a
  regular latent grid with the samples after ``layer`` inverse layers z → x, in the flow's
  standardised coordinates x̃ = (x − m)/σ;
* ``log-det``: log p(x) split into its two terms, log N(F(x); 0, I) and log|det ∂F/∂x|.

1D (``dimension = "1d"``): the lectures' picture of one monotone map x = f(z): the base
density N(0, 1) with the pushed-back data g(xᵢ) = f⁻¹(xᵢ), the map itself, and the induced
density p(x) = N(f⁻¹(x)) |df⁻¹/dx| against the data histogram.

The numerics live in ``genlab.engine.flows`` and ``genlab.engine.flows_1d`` (torch, imported
when a run starts).  The flow trains on standardised data x̃ = (x − m)/σ (m the training mean, σ
its root mean variance), so every data set looks alike to it; densities and NLLs are reported
in the data's own coordinates (log p(x) = log p̃(x̃) − 2 log σ).  A loss that is NaN or that
rises DIVERGED_RISE nats per point above its best stops the run with a LabError, so the window
keeps the last good frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Any

import numpy as np

from genlab.engine.datasets import DATASETS
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.data import DATA_CHOICES, data_or_message
from genlab.labs.frame import (
    Curve,
    Ellipses,
    Frame,
    Heatmap,
    Histogram,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
    message_frame,
)
from genlab.labs.params import Choice, Range, take_live
from genlab.labs.plane import cells, signed, square_limits

DIMENSIONS = ("2d", "1d")
MODELS = ("realnvp", "planar")
VIEWS = ("density", "warp", "log-det")
DATASETS_1D = ("two bumps", "three bumps", "skewed", "uniform")  # = flows_1d.DATASETS_1D

GRID = 96  # density heatmap resolution (GRID x GRID cells)
GRID_LINES = 21  # warped grids: lines per direction ...
LINE_POINTS = 100  # ... and points per line
N_SAMPLES = 1000  # fixed latent draws shown as samples
SHOW_TRAIN = 1500  # at most this many training / held-out points drawn
SHOW_HELD = 500
EVAL_POINTS = 2000  # NLLs are estimated on at most this many points of each split
MIN_POINTS = 5
DIVERGED_RISE = 10.0  # nats per point above the best training NLL
LOG_RANGE = 8.0  # log-density maps show this many nats below their maximum
LATENT_LIM = 3.0  # the latent grid spans [-3, 3]^2
X1D = (-4.5, 4.5)  # the data axis of the 1D view
Z1D = (-3.5, 3.5)  # the latent axis of the 1D view
QUANTILES = tuple(q / 10 for q in range(1, 10))

_2D: Any = ("dimension", ("2d",))
_1D: Any = ("dimension", ("1d",))


@dataclass(frozen=True)
class Params:
    dimension: Annotated[str, Choice(
        DIMENSIONS, "2d: a flow on the plane; 1d: the lectures' picture of one monotone map "
        "from N(0, 1) to the data")] = "2d"
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the points to fit: a toy data set, or the points you drew",
        when=_2D)] = "moons"
    n_points: Annotated[int, Range(
        100, 20_000, "how many points to draw from the data set", step=100,
        when=("dataset", DATASETS), label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    data_1d: Annotated[str, Choice(
        DATASETS_1D, "the 1D data: two or three Gaussian bumps, a skewed log-normal, or a "
        "uniform (sharp edges a smooth map can only approach)", when=_1D,
        label="1D data")] = "two bumps"
    n_points_1d: Annotated[int, Range(
        50, 20_000, "how many 1D points to draw", step=50, when=_1D, label="points")] = 1000
    model: Annotated[str, Choice(
        MODELS, "realnvp: affine couplings z_b = x_b·exp(s(x_a)) + t(x_a) with alternating "
        "masks; planar: layers x + û·tanh(wᵀx + b)", when=_2D)] = "realnvp"
    n_layers: Annotated[int, Range(
        1, 32, "number of coupling or planar layers K", when=_2D, label="layers")] = 8
    hidden: Annotated[int, Range(
        4, 256, "width of the two hidden layers of each coupling's s, t network", step=4,
        when=("model", ("realnvp",)), label="hidden width")] = 32
    n_terms: Annotated[int, Range(
        1, 32, "number of tanh terms of the monotone map g(x) = a·x + b + Σ w_k tanh(s_k(x − "
        "c_k))", when=_1D, label="tanh terms")] = 8
    lr: Annotated[float, Range(
        1e-4, 0.1, "Adam's learning rate", log=True, live=True, label="learning rate")] = 2e-3
    batch_size: Annotated[int, Range(
        16, 2048, "points per minibatch of the negative log-likelihood", step=16, live=True,
        label="batch size")] = 256
    steps: Annotated[int, Range(
        10, 50_000, "Adam steps in the run (raise it to train on)", step=10, live=True)] = 2500
    steps_per_frame: Annotated[int, Range(
        1, 100, "Adam steps between two frames", live=True, label="steps / frame")] = 5
    view: Annotated[str, Choice(
        VIEWS, "density: data, learned p(x) and samples; warp: grids pushed through the "
        "layers; log-det: log p(x) split into log N(F(x)) and log|det J|", live=True,
        when=_2D)] = "density"
    layer: Annotated[int, Range(
        0, 32, "how many layers the warped grids have gone through (at most the number of "
        "layers)", live=True, when=("view", ("warp",)), label="shown layer")] = 8
    held_out: Annotated[float, Range(
        0.0, 0.5, "fraction of the points kept out of training, to measure over-fitting",
        step=0.05, label="held-out fraction")] = 0.2
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the split, the initial weights and the "
        "minibatches")] = 0


# ------------------------------------------------------------------------------ helpers

_LIVE = ("lr", "batch_size", "steps", "steps_per_frame", "view", "layer")


def _total(p: Params, frame_no: int, done: int) -> int:
    """Frames of the run: those shown so far, this one, and one per steps_per_frame left."""
    return frame_no + 1 + max(0, -(-(p.steps - done) // p.steps_per_frame))


def _advance(p: Params, trainer: Any, done: int) -> np.ndarray | None:
    """Apply the live learning rate and batch size, then train for the next frame; the
    losses of its steps, or None once ``p.steps`` steps are done."""
    trainer.lr, trainer.batch_size = p.lr, p.batch_size
    if done >= p.steps:
        return None
    return trainer.step(min(p.steps_per_frame, p.steps - done))


def _split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out): a seeded permutation, at least MIN_POINTS - 1 to train."""
    perm = np.random.default_rng([seed, 7]).permutation(n)
    n_held = min(int(round(frac * n)), max(n - (MIN_POINTS - 1), 0))
    return perm[n_held:], perm[:n_held]


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
    return Paths(np.transpose(lines, (1, 0, 2)), series=7, alpha=0.55)


def _log_map(v: np.ndarray) -> np.ndarray:
    """A log-density for display: clipped to LOG_RANGE nats below its maximum."""
    return np.maximum(v, float(v.max()) - LOG_RANGE)


def _diverged(what: str, step: int, lr: float) -> LabError:
    return LabError(f"the flow diverged at step {step} ({what}): lower the learning rate (now "
                    f"{lr:.2g}), or use a larger batch or fewer layers.")


class _Watch:
    """Stops a run whose loss is NaN or has risen DIVERGED_RISE nats above its best."""

    def __init__(self) -> None:
        self.best = math.inf

    def check(self, losses: np.ndarray, nll: float, step: int, lr: float) -> None:
        if not (np.isfinite(losses).all() and math.isfinite(nll)):
            raise _diverged("the loss became NaN or infinite", step, lr)
        if nll > self.best + DIVERGED_RISE:
            raise _diverged(f"the training NLL rose from {signed(self.best, 2)} to "
                            f"{signed(nll, 2)} nats per point", step, lr)
        self.best = min(self.best, nll)


def _finite(arrays: tuple[np.ndarray, ...], step: int, lr: float) -> None:
    for a in arrays:
        if not np.isfinite(a).all():
            raise _diverged("the map sent points to infinity", step, lr)


# ------------------------------------------------------------------------------ 2D


class _Plane:
    """The 2D run's fixed geometry and data: limits, grids, the points shown, latent draws."""

    def __init__(self, x: np.ndarray, labels: np.ndarray, train: np.ndarray, held: np.ndarray,
                 seed: int) -> None:
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
        self.show_labels = labels[train][:SHOW_TRAIN]
        # the warp view works in standardised coordinates
        box_lo = self.std(np.array([self.xlim[0], self.ylim[0]]))[0]
        box_hi = self.std(np.array([self.xlim[1], self.ylim[1]]))[0]
        self.data_lines = _grid_lines(box_lo, box_hi)
        self.latent_lines = _grid_lines(np.full(2, -LATENT_LIM), np.full(2, LATENT_LIM))
        half = max(LATENT_LIM + 0.5, float(np.abs(np.concatenate([box_lo, box_hi])).max()))
        self.std_lim = (-half, half)
        self.z = np.random.default_rng([seed, 11]).standard_normal((N_SAMPLES, 2))
        self.z_angle = np.arctan2(self.z[:, 1], self.z[:, 0])

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
    _finite((dens, samples), step, p.lr)
    data: dict[str, Layer] = {"training points": Points(g.show_train, size=0.7)}
    if len(g.show_held):
        data["held-out points"] = Points(g.show_held, size=0.7, series=1)
    lims = {"xlim": g.xlim, "ylim": g.ylim, "xlabel": "x₁", "ylabel": "x₂"}
    panels = (
        Panel(data, title="data (held-out in the second colour)", **lims),
        Panel({"p(x)": Heatmap(dens, g.extent)}, title="learned density p(x)", **lims),
        Panel({"samples": Points(samples, size=0.7, series=2)},
              title=f"{N_SAMPLES} samples F⁻¹(z), z ~ N(0, I)", **lims),
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
    fwd = model.forward_layers(fwd_in)[ell]
    inv = model.inverse_layers(inv_in)[ell]
    _finite((fwd, inv), step, p.lr)
    n_lines = len(g.data_lines)
    ref = Ellipses([[0.0, 0.0]], [np.eye(2)], labels=[7], n_std=(1.0, 2.0), dashed=True)
    lims = {"xlim": g.std_lim, "ylim": g.std_lim}
    forward_panel = Panel({
        "N(0, I)": ref,
        "data grid": _as_paths(fwd[:n_lines]),
        "data": Points(fwd[n_lines:], labels=g.show_labels[:n_show], size=0.7),
    }, title=f"data → latent: x̃ after {ell} of {k} layers", xlabel="h₁", ylabel="h₂", **lims)
    inverse_panel = Panel({
        "N(0, I)": ref,
        "latent grid": _as_paths(inv[:n_lines]),
        "samples": Points(inv[n_lines:], values=g.z_angle, size=0.7),
    }, title=f"latent → data: z after {ell} of {k} inverse layers", xlabel="h₁",
        ylabel="h₂", **lims)
    where = {0: "at the start: the left panel is the standardised data plane x̃ = (x − m)/σ "
                "and the right one the latent plane z",
             k: "after all of them: the left panel is the latent plane and the right one the "
                "data plane"}.get(ell, f"after {ell} of the {k} layers")
    caption = (f"The warp layer by layer, {where}.  Left: the data grid and the points pushed "
               "forward x → z; right: a regular latent grid and samples (coloured by the angle "
               "of z) pulled back z → x.  Dashed: the 1σ and 2σ circles of N(0, I).")
    return (forward_panel, inverse_panel), caption


def _panels_logdet(p: Params, g: _Plane, model: Any, step: int) -> tuple[tuple[Panel, ...],
                                                                         str]:
    z, ld = model.forward(g.cells)
    log_base = -0.5 * (z * z).sum(axis=1) - math.log(2.0 * math.pi)
    ld = ld - g.log_sigma2  # the standardisation x -> x̃ is part of the map x -> z
    _finite((log_base, ld), step, p.lr)
    logp = log_base + ld
    # log|det| is shown only where the model puts mass: far from the data a flow may
    # stretch the plane a lot, but there N(F(x)) is negligible and the colours would go to
    # a region that does not matter.
    relevant = logp >= logp.max() - LOG_RANGE
    ld_shown = np.where(relevant, ld, ld[relevant].min())
    maps = {"log N(F(x); 0, I)": _log_map(log_base), "log|det ∂F/∂x|": ld_shown,
            "log p(x)": _log_map(logp)}
    data = Points(g.show_train[:500], size=0.5, series=7)
    panels = tuple(
        Panel({name: Heatmap(v.reshape(GRID, GRID), g.extent), "data": data},
              title=name, xlim=g.xlim, ylim=g.ylim, xlabel="x₁", ylabel="x₂")
        for name, v in maps.items())
    caption = ("log p(x) = log N(F(x); 0, I) + log|det ∂F/∂x|: the first term is high where F "
               "sends x near the latent origin, the second where F stretches the plane (a "
               "small region of x spread over much of z).  The log-densities are cut "
               f"{LOG_RANGE:g} nats below their maximum, and log|det| is shown only where "
               "log p(x) is above that cut.")
    return panels, caption


_VIEWS = {"density": _panels_density, "warp": _panels_warp, "log-det": _panels_logdet}


def _run_2d(p: Params, ctx: RunContext) -> FrameGenerator:
    got = data_or_message(p.dataset, p.n_points, p.noise, p.seed, ctx, "Flow", MIN_POINTS)
    if isinstance(got, Frame):
        yield got
        return
    x, labels = got
    train, held = _split(len(x), p.held_out, p.seed)
    if len(np.unique(x[train], axis=0)) < 2 or np.sqrt(x[train].var(axis=0).mean()) < 1e-9:
        yield message_frame("Flow · degenerate data",
                            "The training points all coincide: there is no spread to fit a "
                            "density to. Draw points over an area, or lower the held-out "
                            "fraction.")
        return
    g = _Plane(x, labels, train, held, p.seed)

    # torch is imported here (through the engine), never when the lab module is imported
    from genlab.engine.device import resolve
    from genlab.engine.flows import MLETrainer, PlanarFlow, RealNVP, flow_parameters

    device = resolve(ctx.device)
    model: Any = (RealNVP(p.n_layers, p.hidden, seed=p.seed) if p.model == "realnvp"
                  else PlanarFlow(p.n_layers, seed=p.seed)).to(device)
    trainer = MLETrainer(model, g.train_std, lr=p.lr, batch_size=p.batch_size, seed=p.seed)
    what = _model_text(p, flow_parameters(model))
    name = "RealNVP" if p.model == "realnvp" else "Planar flow"
    watch = _Watch()
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
        panels, caption = _VIEWS[p.view](p, g, model, done)
        total = _total(p, frame_no, done)
        if frame_no == 0:
            lead = f"Start: {what}, untrained, on {split_text}. "
        elif done >= p.steps:
            lead = f"Done: {done} Adam steps (raise 'steps' to go on). "
        else:
            lead = f"Step {done}: "
        held_text = (f" / {signed(metrics['NLL/held-out'])} (held-out)" if n_held else "")
        tail = f" Mean NLL {signed(nll)} (train){held_text} nats per point."
        frame = Frame(step=frame_no, total=total,
                      title=f"{name} · {p.dataset} · step {done} / {p.steps}",
                      panels=panels, metrics=metrics, caption=lead + caption + tail)
        p = take_live(p, (yield frame), _LIVE)
        stepped = _advance(p, trainer, done)
        if stepped is None:
            return
        losses, done, frame_no = stepped, done + len(stepped), frame_no + 1


# ------------------------------------------------------------------------------ 1D


def _hist(x: np.ndarray, lim: tuple[float, float], bins: int, series: int) -> Histogram:
    edges = np.linspace(lim[0], lim[1], bins + 1)
    counts, _ = np.histogram(x, bins=edges)
    return Histogram(edges, counts / (max(len(x), 1) * np.diff(edges)), series=series)


def _run_1d(p: Params, ctx: RunContext) -> FrameGenerator:
    from genlab.engine.device import resolve
    from genlab.engine.flows import MLETrainer
    from genlab.engine.flows_1d import MonotoneFlow1D, density_1d, make_dataset_1d

    x = make_dataset_1d(p.data_1d, p.n_points_1d, p.seed)
    train, held = _split(len(x), p.held_out, p.seed)
    xt, xh = x[train], x[held]
    model: Any = MonotoneFlow1D(p.n_terms, seed=p.seed).to(resolve(ctx.device))
    trainer = MLETrainer(model, xt, lr=p.lr, batch_size=p.batch_size, seed=p.seed)
    watch = _Watch()
    zs = np.linspace(*Z1D, 241)
    xs = np.linspace(*X1D, 361)
    base = np.exp(-0.5 * zs * zs) / math.sqrt(2.0 * math.pi)
    zq = np.array([NormalDist().inv_cdf(q) for q in QUANTILES])
    base_q = np.exp(-0.5 * zq * zq) / math.sqrt(2.0 * math.pi)
    true = density_1d(p.data_1d, xs)
    data_hist = _hist(xt, X1D, 60, series=1)
    top = 1.2 * max(float(true.max()), float(data_hist.heights.max()))
    f_start = model.inverse(zs)
    p_start = np.exp(model.log_prob(xs))
    frame_no, done, losses = 0, 0, np.zeros(0)
    while True:
        nll = trainer.nll(xt[:EVAL_POINTS])
        watch.check(losses, nll, done, p.lr)
        f = model.inverse(zs)
        dens = np.exp(model.log_prob(xs))
        g_train = model.forward(xt[:EVAL_POINTS])[0]
        xq = model.inverse(zq)
        pq = np.exp(model.log_prob(xq))
        _finite((f, dens, g_train, xq, pq), done, p.lr)
        metrics = {"NLL/train": nll}
        if len(xh):
            metrics["NLL/held-out"] = trainer.nll(xh[:EVAL_POINTS])
        base_panel = Panel({
            "g(xᵢ)": _hist(g_train, Z1D, 40, series=1),
            "N(0, 1)": Curve(zs, base, series=0, fill=True),
            "slices": Segments(np.column_stack([zq, np.zeros_like(zq)]),
                               np.column_stack([zq, base_q]), series=7),
        }, title="base N(0, 1) and the data pulled back, z = f⁻¹(xᵢ)", xlim=Z1D,
            ylim=(0.0, 0.62), equal_aspect=False, xlabel="z", ylabel="density")
        map_panel = Panel({
            "start": Curve(zs, f_start, series=7, width=1.5, dashed=True),
            "slices": Segments(
                np.concatenate([np.column_stack([zq, np.full_like(zq, X1D[0])]),
                                np.column_stack([zq, xq])]),
                np.concatenate([np.column_stack([zq, xq]),
                                np.column_stack([np.full_like(zq, Z1D[0]), xq])]), series=7),
            "x = f(z)": Curve(zs, f, series=0, width=2.5),
        }, title="the monotone map x = f(z)", xlim=Z1D, ylim=X1D, equal_aspect=False,
            xlabel="z", ylabel="x")
        density_panel = Panel({
            "data": data_hist,
            "true density": Curve(xs, true, series=2, width=1.5, dashed=True),
            "start": Curve(xs, p_start, series=7, width=1.0, dashed=True),
            "slices": Segments(np.column_stack([xq, np.zeros_like(xq)]),
                               np.column_stack([xq, pq]), series=7),
            "p(x)": Curve(xs, dens, series=0, width=2.5),
        }, title="induced density p(x) = N(f⁻¹(x)) |df⁻¹/dx| and the data", xlim=X1D,
            ylim=(0.0, top), equal_aspect=False, xlabel="x", ylabel="density")
        total = _total(p, frame_no, done)
        lead = ("Start (the map is nearly x = z, so p(x) is nearly N(0, 1)): " if frame_no == 0
                else f"Done after {done} steps: " if done >= p.steps else f"Step {done}: ")
        held_text = (f" / {signed(metrics['NLL/held-out'])} (held-out)" if len(xh) else "")
        caption = (lead + "x = f(z) with z ~ N(0, 1) and f increasing, so p(x) = "
                   "N(f⁻¹(x)) |df⁻¹/dx|.  The grey lines cut N(0, 1) into ten slices of equal "
                   "mass; f sends them to the slices between the same lines in x, and where f "
                   "is flat they crowd and p(x) is high.  Maximum likelihood makes the pulled-"
                   f"back data f⁻¹(xᵢ) look like N(0, 1); mean NLL {signed(nll)} (train)"
                   f"{held_text}.")
        frame = Frame(step=frame_no, total=total,
                      title=f"1D flow · {p.data_1d} · step {done} / {p.steps}",
                      panels=(base_panel, map_panel, density_panel), metrics=metrics,
                      caption=caption)
        p = take_live(p, (yield frame), _LIVE)
        stepped = _advance(p, trainer, done)
        if stepped is None:
            return
        losses, done, frame_no = stepped, done + len(stepped), frame_no + 1


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of a flow trained by maximum likelihood: one frame per steps_per_frame steps."""
    if params.dimension == "1d":
        return (yield from _run_1d(params, ctx))
    return (yield from _run_2d(params, ctx))


LAB = LabInfo(
    name="flow",
    title="Normalising flows",
    description="Train a RealNVP or planar flow by maximum likelihood and watch it warp the "
                "plane, layer by layer; or the 1D picture of one monotone map.",
    params=Params,
    run=run,
    takes_data=True,
)
