"""The flow lab's 1D run: the lectures' picture of one monotone map x = f(z) from N(0, 1) to
the data, trained by maximum likelihood."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, RunContext
from genlab.labs.flow.common import (
    EVAL_POINTS,
    HOLD_END,
    HOLD_START,
    LIVE,
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
from genlab.labs.frame import MUTED, Curve, Frame, Histogram, Panel, Segments
from genlab.labs.params import take_live
from genlab.labs.plane import signed

X1D = (-4.5, 4.5)  # the data axis of the 1D view
Z1D = (-3.5, 3.5)  # the latent axis of the 1D view
QUANTILES = tuple(q / 10 for q in range(1, 10))


def _hist(x: np.ndarray, lim: tuple[float, float], bins: int) -> Histogram:
    edges = np.linspace(lim[0], lim[1], bins + 1)
    counts, _ = np.histogram(x, bins=edges)
    return Histogram(edges, counts / (max(len(x), 1) * np.diff(edges)), series="train")


def run_1d(p: Params, ctx: RunContext) -> FrameGenerator:
    from genlab.engine.device import resolve
    from genlab.engine.flows import MLETrainer
    from genlab.engine.flows_1d import MonotoneFlow1D, density_1d, make_dataset_1d

    x = make_dataset_1d(p.data_1d, p.n_points_1d, p.seed)
    train, held = split(len(x), p.held_out, p.seed)
    xt, xh = x[train], x[held]
    model: Any = MonotoneFlow1D(p.n_terms, seed=p.seed).to(resolve(ctx.device))
    trainer = MLETrainer(model, xt, lr=p.lr, batch_size=p.batch_size, seed=p.seed)
    watch, flat = Watch(), Converged(p)
    zs = np.linspace(*Z1D, 241)
    xs = np.linspace(*X1D, 361)
    base = np.exp(-0.5 * zs * zs) / math.sqrt(2.0 * math.pi)
    zq = np.array([NormalDist().inv_cdf(q) for q in QUANTILES])
    base_q = np.exp(-0.5 * zq * zq) / math.sqrt(2.0 * math.pi)
    true = density_1d(p.data_1d, xs)
    data_hist = _hist(xt, X1D, 60)
    f_start = model.inverse(zs)
    p_start = np.exp(model.log_prob(xs))
    top = 1.2 * max(float(true.max()), float(data_hist.heights.max()), float(p_start.max()))
    mass = np.trapezoid(p_start, xs)  # the grid holds all but a sliver of the start's mass
    mean = np.trapezoid(xs * p_start, xs) / mass
    start_std = float(np.sqrt(np.trapezoid((xs - mean) ** 2 * p_start, xs) / mass))
    frame_no, done, losses = 0, 0, np.zeros(0)
    while True:
        nll = trainer.nll(xt[:EVAL_POINTS])
        watch.check(losses, nll, done, p.lr)
        f = model.inverse(zs)
        dens = np.exp(model.log_prob(xs))
        g_train = model.forward(xt[:EVAL_POINTS])[0]
        xq = model.inverse(zq)
        pq = np.exp(model.log_prob(xq))
        finite((f, dens, g_train, xq, pq), done, p.lr)
        metrics = {"NLL/train": nll}
        if len(xh):
            metrics["NLL/held-out"] = trainer.nll(xh[:EVAL_POINTS])
        converged = flat.add(p, {k.partition("/")[2]: v for k, v in metrics.items()}, done)
        last = converged or done >= p.steps
        # the model's density is N(0, 1) in z and p(x) in x: the same series in both panels
        base_panel = Panel({
            "f⁻¹(xᵢ)": _hist(g_train, Z1D, 40),
            "N(0, 1)": Curve(zs, base, series="model", width=2.5),
            "slices": Segments(np.column_stack([zq, np.zeros_like(zq)]),
                               np.column_stack([zq, base_q]), series=MUTED),
        }, title="latent: N(0, 1) and f⁻¹(xᵢ)", xlim=Z1D, ylim=(0.0, 0.62),
            equal_aspect=False, xlabel="z", ylabel="density")
        map_panel = Panel({
            "start": Curve(zs, f_start, series="start", width=1.5),
            "slices": Segments(
                np.concatenate([np.column_stack([zq, np.full_like(zq, X1D[0])]),
                                np.column_stack([zq, xq])]),
                np.concatenate([np.column_stack([zq, xq]),
                                np.column_stack([np.full_like(zq, Z1D[0]), xq])]),
                series=MUTED),
            "x = f(z)": Curve(zs, f, series="model", width=2.5),
        }, title="the map x = f(z)", xlim=Z1D, ylim=X1D, equal_aspect=False,
            xlabel="z", ylabel="x")
        density_panel = Panel({
            "data": data_hist,
            "true density": Curve(xs, true, series="true p", width=2.0),
            "start": Curve(xs, p_start, series="start", width=1.0),
            "slices": Segments(np.column_stack([xq, np.zeros_like(xq)]),
                               np.column_stack([xq, pq]), series=MUTED),
            "p(x)": Curve(xs, dens, series="model", width=2.5),
        }, title="data: p(x) and the points", xlim=X1D, ylim=(0.0, top),
            equal_aspect=False, xlabel="x", ylabel="density")
        start = (f"Start: the untrained map is near x = z but not it: p(x) has std "
                 f"{start_std:.2f} and peak {float(p_start.max()):.2f} (N(0, 1): 1 and "
                 f"{1 / np.sqrt(2 * np.pi):.2f}). ")
        head = lead(p, frame_no, done, len(losses), flat if converged else None, start)
        held_text = (f" / {signed(metrics['NLL/held-out'])} (held-out)" if len(xh) else "")
        caption = (head + "x = f(z) with z ~ N(0, 1) and f increasing, so p(x) = "
                   "N(f⁻¹(x)) |df⁻¹/dx|.  The grey lines cut N(0, 1) into ten slices of equal "
                   "mass; f sends them to the slices between the same lines in x, and where f "
                   "is flat they crowd and p(x) is high.  Maximum likelihood makes the pulled-"
                   f"back data f⁻¹(xᵢ) look like N(0, 1); mean NLL {signed(nll)} (train)"
                   f"{held_text}.")
        frame = Frame(step=frame_no, total=frame_no + 1 if last else total(p, frame_no, done),
                      title=f"1D flow · {p.data_1d} · step {done} / {p.steps}",
                      panels=(base_panel, map_panel, density_panel), metrics=metrics,
                      caption=caption, series=SERIES, x=done, xlabel="training step",
                      pace=pace_of(frame_no),
                      hold=HOLD_START if frame_no == 0 else HOLD_END if last else 0.0)
        p = take_live(p, (yield frame), LIVE)
        if converged:
            return
        stepped = advance(p, trainer, frame_no, done)
        if stepped is None:
            return
        losses, done, frame_no = stepped, done + len(stepped), frame_no + 1
