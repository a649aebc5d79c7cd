"""The sampling lab's "box-muller" and "inverse-cdf" modes: uniforms mapped to samples.

Both stories start with single draws shown one by one in slow motion (a uniform pair flying
to its (z1, z2) with R and θ named; a height u followed across to the CDF and down to its x),
then the rest arrive in a flood, and the last picture is held with the samples' KS distance
to the exact law beside the 95% band of n exact draws.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from genlab.engine.sampling import box_muller, cdf, inverse_cdf, ndtr, pdf
from genlab.labs.base import FrameGenerator
from genlab.labs.frame import Curve, Frame, Labels, Layer, Panel, Points, Segments
from genlab.labs.sampling.common import (
    HOLD_END,
    KS_BAND,
    SERIES,
    arrivals,
    density_hist,
    ks_metrics,
    ks_to,
    ks_uniform,
    minus,
    smooth,
    unit_square,
)
from genlab.labs.sampling.params import Params

# Box–Muller: BM_SLOW pairs arrive one by one, BM_GAP frames apart (two seconds a draw at FPS),
# each flying BM_MOVE frames at BM_SLOW_PACE (1.25 s); the first to land is held; then the flood.
BM_SLOW, BM_GAP, BM_MOVE, BM_FLOOD = 3, 16, 10, 24
BM_SLOW_PACE, BM_PACE = 2.5, 1.5
HOLD_LANDED = 1.0
Z_GROUP = "KS distance of z1 to N(0, 1)"
ENOUGH = 20  # landed draws before their histogram and distances are shown
# Inverse CDF: IC_SLOW heights u followed one by one, IC_GAP frames apart at IC_SLOW_PACE (two
# seconds a draw at FPS), the path growing over IC_GROW of them and then held with its x named;
# then the flood.
IC_SLOW, IC_GROW, IC_GAP, IC_FLOOD = 4, 10, 16, 36
IC_SLOW_PACE, IC_PACE = 2.5, 1.5
X_GROUP = "KS distance to F"

# The 1D mixture of the inverse-CDF mode: weights, stds; means at -/+ separation / 2.
MIX_WEIGHTS = (0.35, 0.65)
MIX_STDS = (0.6, 1.0)


def _f(v: float, digits: int = 2) -> str:
    return minus(f"{v:.{digits}f}")


# ---------------------------------------------------------------------------- box-muller


def run_box_muller(p: Params) -> FrameGenerator:
    n = p.n_samples
    rng = np.random.default_rng(p.seed)
    u1, u2 = rng.random(n), rng.random(n)
    z1, z2 = box_muller(u1, u2)
    z = np.column_stack([z1, z2])
    start = np.column_stack([u1, u2])
    radius = np.hypot(z1, z2)
    theta = 2.0 * np.pi * u2
    arrive = arrivals(n, BM_SLOW, BM_GAP, BM_FLOOD)
    slow_end = min(BM_SLOW, n) * BM_GAP
    frames = int(arrive[-1]) + BM_MOVE + 1
    edges = np.linspace(-4.0, 4.0, 41)
    gx = np.linspace(-4.0, 4.0, 241)
    normal = np.exp(-0.5 * gx**2) / np.sqrt(2.0 * np.pi)
    title = "Box–Muller: two uniforms → two Gaussians"
    for f in range(frames):
        k = int(np.searchsorted(arrive, f, side="right"))
        s = smooth((f - arrive[:k]) / BM_MOVE)[:, None]
        pos = (1.0 - s) * start[:k] + s * z[:k]
        down = s[:, 0] >= 1.0
        landed = z[:k][down]
        nt = min(p.traced, k)
        square: dict[str, Layer] = {"uniforms": Points(start[:k], values=u2[:k], size=0.7)}
        plane: dict[str, Layer] = {"unit square": unit_square(),
                                   "samples": Points(pos, values=u2[:k], size=0.7)}
        if nt:
            tr = start[:nt]
            j = nt - 1  # the newest traced draw is the one named
            square["U1, U2"] = Segments(
                np.concatenate([tr, tr]),
                np.concatenate([np.column_stack([tr[:, 0], np.zeros(nt)]),
                                np.column_stack([np.zeros(nt), tr[:, 1]])]),
                series="traced draws")
            square["traced"] = Points(tr, highlight=True, series="traced draws")
            square["names"] = Labels(tr[j:j + 1], (f"(U1, U2) = ({u1[j]:.2f}, {u2[j]:.2f})",),
                                     series="traced draws")
            plane["traced"] = Points(pos[:nt], highlight=True, series="traced draws")
            flown = np.flatnonzero(down[:nt])
            if len(flown):
                plane["radius"] = Segments(np.zeros((len(flown), 2)), z[flown],
                                           series="traced draws")
                # R and θ of the draw the caption is about (the newest one after the
                # single draws): while it flies, no older draw's numbers beside its own
                i = min(f // BM_GAP, k - 1) if f < slow_end else int(flown[-1])
            if len(flown) and i in flown:
                arc = np.linspace(0.0, theta[i], 48)
                r_arc = min(0.45, 0.8 * radius[i])
                plane["angle"] = Curve(r_arc * np.cos(arc), r_arc * np.sin(arc),
                                       series="traced draws", width=1.5)
                mid = 0.5 * theta[i]
                plane["names"] = Labels(
                    np.array([0.5 * z[i], [r_arc * np.cos(mid), r_arc * np.sin(mid)]]),
                    (f"R = {radius[i]:.2f}", f"θ = {theta[i]:.2f}"), series="traced draws")
        hist: dict[str, Layer] = {}
        metrics: dict[str, float] = {}
        if len(landed) >= ENOUGH:
            hist["z1"] = density_hist(landed[:, 0], edges)
            metrics.update(ks_metrics(Z_GROUP, ks_uniform(ndtr(landed[:, 0])), len(landed)))
            metrics["corr(z1, z2)/samples"] = float(np.corrcoef(landed.T)[0, 1])
        else:  # a histogram of a few draws is a few towers: mark each z1 on the axis instead
            hist["z1"] = Points(np.column_stack([landed[:, 0], np.full(len(landed), 0.012)]),
                                series="samples")
        # over the bars, whose translucent fill would turn it grey
        hist["N(0, 1)"] = Curve(gx, normal, series="exact")
        if f < slow_end:
            i = min(f // BM_GAP, k - 1)
            caption = (f"Draw {i + 1}: U1 = {u1[i]:.3f} and U2 = {u2[i]:.3f} give "
                       f"R = √(−2 ln U1) = {radius[i]:.3f} and θ = 2πU2 = {theta[i]:.3f}, so "
                       f"(z1, z2) = (R cos θ, R sin θ) = ({_f(z1[i], 3)}, {_f(z2[i], 3)}).")
        elif f < frames - 1:
            caption = ("R = √(−2 ln U1), θ = 2πU2 and (z1, z2) = (R cos θ, R sin θ) turn two "
                       "uniforms into two independent N(0, 1) draws; colour: U2, which sets "
                       "the angle.")
        else:
            d = ks_uniform(ndtr(landed[:, 0]))
            band = KS_BAND / np.sqrt(n)
            caption = (f"All {n} pairs have landed: z1's KS distance to N(0, 1) is {d:.3f}, "
                       f"{'within' if d <= band else 'outside'} the 95% band of {n} exact "
                       f"draws ({band:.3f}), and corr(z1, z2) = "
                       f"{_f(np.corrcoef(landed.T)[0, 1], 3)}.")
        panels = (
            Panel(square, title="uniforms (U1, U2)", xlim=(-0.08, 1.05), ylim=(-0.08, 1.05),
                  xlabel="U1", ylabel="U2"),
            Panel(plane, title="(z1, z2) = R (cos θ, sin θ)", xlim=(-4.0, 4.0),
                  ylim=(-4.0, 4.0), xlabel="z1", ylabel="z2"),
            Panel(hist, title="z1 against N(0, 1)", xlim=(-4.0, 4.0), ylim=(0.0, 0.6),
                  equal_aspect=False, xlabel="z1", ylabel="density"),
        )
        hold = HOLD_END if f == frames - 1 else HOLD_LANDED if f == BM_MOVE else 0.0
        new = yield Frame(step=f, total=frames, title=title, panels=panels, metrics=metrics,
                          caption=caption, series=SERIES, x=len(landed),
                          xlabel="samples landed", log_metrics=(Z_GROUP,),
                          pace=BM_SLOW_PACE if f < slow_end else BM_PACE, hold=hold)
        if new is not None:
            p = new


# ---------------------------------------------------------------------------- inverse-cdf


def dist_params(p: Params) -> dict[str, Any]:
    if p.dist == "exponential":
        return {"rate": p.rate}
    if p.dist == "gaussian":
        return {"mu": p.mu, "sigma": p.sigma}
    return {"weights": MIX_WEIGHTS, "means": (-p.separation / 2, p.separation / 2),
            "stds": MIX_STDS}


def x_range(p: Params) -> tuple[float, float]:
    if p.dist == "exponential":
        return (0.0, 6.0 / p.rate)
    if p.dist == "gaussian":
        return (p.mu - 4.0 * p.sigma, p.mu + 4.0 * p.sigma)
    return (-p.separation / 2 - 4.0 * MIX_STDS[0], p.separation / 2 + 4.0 * MIX_STDS[1])


def _how(p: Params) -> str:
    if p.dist == "exponential":
        return f"x = F⁻¹(u) = −ln(1 − u)/λ with λ = {p.rate:g}"
    if p.dist == "gaussian":
        return f"x = F⁻¹(u) = μ + σΦ⁻¹(u) with μ = {minus(f'{p.mu:g}')}, σ = {p.sigma:g}"
    return ("x = F⁻¹(u), solved by Newton's method since the mixture's F has no closed-form "
            "inverse")


def _paths(lo: float, uu: np.ndarray, xx: np.ndarray, t: np.ndarray) -> Segments:
    """The paths u → F⁻¹(u) = x, each drawn to its share t: across at height u from the axis
    to the CDF (first half), then down to x (second half)."""
    across = np.clip(2.0 * t, 0.0, 1.0)
    drop = np.clip(2.0 * t - 1.0, 0.0, 1.0)
    starts = [np.column_stack([np.full(len(uu), lo), uu])]
    ends = [np.column_stack([lo + across * (xx - lo), uu])]
    if (drop > 0).any():
        sel = drop > 0
        starts.append(np.column_stack([xx[sel], uu[sel]]))
        ends.append(np.column_stack([xx[sel], uu[sel] * (1.0 - drop[sel])]))
    return Segments(np.concatenate(starts), np.concatenate(ends), series="traced draws")


def run_inverse_cdf(p0: Params) -> FrameGenerator:
    p = p0
    n = p0.n_samples
    u = np.random.default_rng(p0.seed).random(n)
    arrive = arrivals(n, IC_SLOW, IC_GAP, IC_FLOOD)
    grow = np.where(np.arange(n) < IC_SLOW, IC_GROW, 1)
    slow_end = min(IC_SLOW, n) * IC_GAP
    frames = int(arrive[-1]) + 1
    cache_key: tuple[Any, ...] | None = None
    xs = np.zeros(0)
    title = "Inverse CDF: " + {"exponential": "exponential", "gaussian": "Gaussian",
                               "mixture": "a two-Gaussian mixture"}[p0.dist]
    for f in range(frames):
        k = int(np.searchsorted(arrive, f, side="right"))
        share = np.clip((f - arrive[:k] + 1) / grow[:k], 0.0, 1.0)
        done = int((share >= 1.0).sum())  # the paths drawn in full come first
        params = dist_params(p)
        key = (p.dist, repr(sorted(params.items())))
        if key != cache_key:
            xs, cache_key = np.zeros(0), key
        if len(xs) < k:  # only the new uniforms need mapping (all of them after a change)
            xs = np.concatenate([xs, inverse_cdf(p.dist, u[len(xs):k], **params)])
        lo, hi = x_range(p)
        gx = np.linspace(lo, hi, 400)
        fx = pdf(p.dist, gx, **params)
        cdf_layers: dict[str, Layer] = {"F(x)": Curve(gx, cdf(p.dist, gx, **params),
                                                      series="exact", width=2.5)}
        nt = min(p.traced, k)
        if nt:
            sel = slice(k - nt, k)
            uu, xx, tt = u[sel], np.clip(xs[sel], lo, hi), share[sel]
            cdf_layers["u → x"] = _paths(lo, uu, xx, tt)
            cdf_layers["u"] = Points(np.column_stack([np.full(nt, lo), uu]), highlight=True,
                                     series="traced draws")
            full = tt >= 1.0
            cdf_layers["x"] = Points(np.column_stack([xx[full], np.zeros(int(full.sum()))]),
                                     highlight=True, series="traced draws")
            if f < slow_end:  # the draw followed now: its u, and its x once reached
                names = [(f"u = {uu[-1]:.2f}", (lo, uu[-1]))]
                if full[-1]:
                    names.append((f"x = {_f(xs[k - 1])}", (xx[-1], 0.0)))
                cdf_layers["names"] = Labels(np.array([xy for _, xy in names]),
                                             tuple(t for t, _ in names), series="traced draws")
        edges = np.linspace(lo, hi, 41)
        hist_layers: dict[str, Layer] = {}
        law = functools.partial(cdf, p.dist, **params)
        metrics: dict[str, float] = {}
        if done >= ENOUGH:
            hist_layers["samples"] = density_hist(xs[:done], edges)
            metrics = ks_metrics(X_GROUP, ks_to(xs[:done], law), done)
        else:
            hist_layers["samples"] = Points(
                np.column_stack([np.clip(xs[:done], lo, hi), np.full(done, 0.02 * fx.max())]),
                series="samples")
        hist_layers["f(x)"] = Curve(gx, fx, series="exact")  # over the bars
        if f < slow_end:
            i = k - 1
            caption = (f"Draw {i + 1}: the height u = {u[i]:.3f} goes across to the CDF and "
                       f"down to x = F⁻¹(u) = {_f(xs[i], 3)}. {_how(p)}.")
        elif f < frames - 1:
            caption = (f"{_how(p)}: a uniform height u on the CDF maps to the x where "
                       "F(x) = u, so x has density f.")
        else:
            d = ks_to(xs[:done], law)
            band = KS_BAND / np.sqrt(n)
            caption = (f"{_how(p)}. All {n} samples: their KS distance to F, "
                       f"sup |F_n(x) − F(x)|, is {d:.3f}, {'within' if d <= band else 'outside'}"
                       f" the 95% band of {n} exact draws ({band:.3f}).")
        panels = (
            Panel(cdf_layers, title="u = F(x)", xlim=(lo, hi), ylim=(-0.03, 1.03),
                  equal_aspect=False, xlabel="x", ylabel="u"),
            Panel(hist_layers, title="samples against f(x)", xlim=(lo, hi),
                  ylim=(0.0, 1.25 * float(fx.max())), equal_aspect=False, xlabel="x",
                  ylabel="density"),
        )
        new = yield Frame(step=f, total=frames, title=title, panels=panels, metrics=metrics,
                          caption=caption, series=SERIES, x=done, xlabel="samples drawn",
                          log_metrics=(X_GROUP,),
                          pace=IC_SLOW_PACE if f < slow_end else IC_PACE,
                          hold=HOLD_END if f == frames - 1 else 0.0)
        if new is not None:
            p = new
