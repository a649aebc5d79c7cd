"""The annulus lab's pictures: the norms against χ_d, log-densities against the mode's, the
angle between two samples, a random 2D projection, and the unit ball against its cube; plus
the numbers shown (each beside its closed form)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

from genlab.engine import latent
from genlab.labs.annulus.settings import (
    BALL,
    CUBE,
    CUBE_MAX,
    D_MAX,
    EXACT,
    MODE,
    SAMPLES,
    WITHIN,
    GrowingSample,
)
from genlab.labs.frame import INK, MUTED, Curve, Histogram, Labels, Panel, Paths, Points, Segments

BINS = 40
HALF_WINDOW = 4.5  # the norm panel spans √d ± this (the spread tends to 1/√2)
VOLUME_MIN_D = 20  # the volume curves span at least d = 1..20 (the ball's peak at 5)


def _hist(values: np.ndarray, lo: float, hi: float, bins: int = BINS,
          ) -> tuple[np.ndarray, np.ndarray]:
    """Density-normalised histogram over [lo, hi] (values outside count in the total)."""
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    return edges, counts / (len(values) * (edges[1] - edges[0]))


def _vline(x: float, y0: float, y1: float, series: str | int) -> Segments:
    return Segments([[x, y0]], [[x, y1]], series=series)


@lru_cache(maxsize=256)
def angle_std_deg(d: int) -> float:
    """Standard deviation (degrees) of the angle between two independent isotropic vectors
    in R^d, by quadrature of ``latent.angle_pdf`` (d = 1: 0° or 180°, each with chance ½)."""
    if d < 2:
        return 90.0
    th = np.linspace(0.0, np.pi, 40_001)
    p = latent.angle_pdf(th, d)
    p /= np.trapezoid(p, th)
    return math.degrees(math.sqrt(np.trapezoid((th - np.pi / 2) ** 2 * p, th)))


def numbers(s: GrowingSample, radius: float) -> dict[str, float]:
    """Every number the lab shows: measured on the samples, and its closed form."""
    d, r = s.d, radius * math.sqrt(s.d)
    norms, dist, ang = s.norms, s.distances, s.angles
    gap = s.log_density_gap
    frac = s.cube_fraction()
    return {
        "d": d, "r": r,
        "mean norm": float(norms.mean()), "mean norm exact": latent.chi_mean(d),
        "sd norm": float(norms.std()), "sd norm exact": latent.chi_std(d),
        "within r": float(np.mean(norms <= r)), "within r exact": float(latent.chi_cdf(r, d)),
        "mean distance": float(dist.mean()),
        "mean distance exact": math.sqrt(2) * latent.chi_mean(d),
        "mean angle": float(ang.mean()), "sd angle": float(ang.std()),
        "sd angle exact": angle_std_deg(d),
        "mean gap": float(gap.mean()), "mean gap exact": -0.5 * d,
        "sd gap": float(gap.std()), "sd gap exact": math.sqrt(d / 2),
        "cube fraction": -1.0 if frac is None else frac,
        "log10 ball": float(latent.log10_ball_volume(d)), "log10 cube": d * math.log10(2),
    }


def norm_panel(s: GrowingSample, radius: float) -> Panel:
    d = s.d
    mid = math.sqrt(d)
    r = radius * mid
    lo, hi = max(0.0, mid - HALF_WINDOW), mid + HALF_WINDOW
    if mid - 3 * HALF_WINDOW <= r < lo + 0.3:  # a ball just inside the annulus: show its edge
        lo = max(0.0, r - 0.6)
    edges, heights = _hist(s.norms, lo, hi)
    x = np.linspace(lo, hi, 400)
    pdf = latent.chi_pdf(x, d)
    top = 1.2 * max(float(heights.max()), float(pdf[np.isfinite(pdf)].max()))
    layers = {"hist": Histogram(edges, heights, series=SAMPLES)}
    inside = x <= r
    if inside.sum() >= 2:
        layers["within"] = Curve(x[inside], pdf[inside], series=WITHIN, fill=True, width=1.0)
    layers["chi"] = Curve(x, pdf, series=EXACT)
    layers["sqrt d"] = _vline(mid, 0.0, top, MUTED)
    texts, at = ["√d"], [[mid, 0.92 * top]]
    if lo <= r <= hi:
        layers["r"] = _vline(r, 0.0, top, WITHIN)
        texts.append("r")
        at.append([r, 0.75 * top])
    layers["names"] = Labels(at, tuple(texts))
    return Panel(layers, title="norm ‖x‖ against χ_d",
                 xlim=(lo, hi), ylim=(0.0, top), equal_aspect=False, xlabel="‖x‖",
                 ylabel="density")


def _gap_pdf(y: np.ndarray, d: int) -> np.ndarray:
    """Density of −‖x‖²/2 for x ~ N(0, I_d): 2·χ²_d(−2y)."""
    with np.errstate(divide="ignore"):
        return 2.0 * stats.chi2.pdf(-2.0 * y, d)


def log_density_panel(s: GrowingSample) -> Panel:
    d = s.d
    spread = math.sqrt(d / 2)
    lo = -(d / 2 + HALF_WINDOW * spread) - 0.5
    hi = max(0.1 * (d / 2 + spread), 0.6)
    edges, heights = _hist(s.log_density_gap, lo, 0.0)
    y = np.linspace(lo, 0.0, 400)[:-1]
    pdf = _gap_pdf(y, d)
    finite = pdf[np.isfinite(pdf) & (y < -0.03 * (d / 2 + spread))]
    top = 1.2 * max(float(heights.max()), float(finite.max()) if finite.size else 0.0)
    return Panel({"hist": Histogram(edges, heights, series=SAMPLES),
                  "exact": Curve(y, np.minimum(pdf, 2 * top), series=EXACT),
                  "mode": _vline(0.0, 0.0, top, MODE),
                  "names": Labels([[0.0, 0.9 * top]], ("mode",))},
                 title="log p(x) − log p(mode)", xlim=(lo, hi), ylim=(0.0, top),
                 equal_aspect=False, xlabel="nats", ylabel="density")


def angle_panel(s: GrowingSample) -> Panel:
    d = s.d
    width = min(max(angle_std_deg(d) / 2.5, 0.25), 5.0)  # degrees: a few bins per sd
    edges, heights = _hist(s.angles, 0.0, 180.0, bins=int(round(180.0 / width)))
    layers = {"hist": Histogram(edges, heights, series=SAMPLES)}
    top = float(heights.max())
    if d >= 2:
        th = np.linspace(0.0, 180.0, 1801)
        pdf = latent.angle_pdf(np.radians(th), d) * np.pi / 180.0
        layers["exact"] = Curve(th, pdf, series=EXACT)
        top = max(top, float(pdf.max()))
    top *= 1.2
    layers["90"] = _vline(90.0, 0.0, top, MUTED)
    return Panel(layers, title="angle between two samples", xlim=(0.0, 180.0),
                 ylim=(0.0, top), equal_aspect=False, xlabel="angle (degrees)",
                 ylabel="density")


def projection_panel(s: GrowingSample) -> Panel:
    u = np.linspace(0, 2 * np.pi, 121)
    circles = np.stack([np.stack([k * np.cos(u), k * np.sin(u)], 1) for k in (1, 2, 3)], 1)
    return Panel({"points": Points(s.projection, series=SAMPLES, size=0.6, alpha=0.6),
                  "N(0, I2)": Paths(circles, series=EXACT, alpha=0.9)},
                 # ylim only: with both limits fixed, this square panel shrank the height
                 # of the whole row of panels in renders (the x range follows the aspect)
                 title="a random 2D projection", ylim=(-4.2, 4.2),
                 xlabel="e₁·x", ylabel="e₂·x")


def volume_panel(d: int) -> Panel:
    """log₁₀ volume of the unit ball and of [−1, 1]^d against log₁₀ d, up to d."""
    dd = np.unique(np.round(np.geomspace(1, max(d, VOLUME_MIN_D), 300)))
    x = np.log10(dd)
    ball, cube = latent.log10_ball_volume(dd), dd * math.log10(2)
    xmax = math.log10(dd[-1])
    lo, hi = float(ball.min()), float(cube.max())
    pad = 0.08 * max(hi - lo, 1.0)
    layers = {"ball": Curve(x, ball, series=BALL), "cube": Curve(x, cube, series=CUBE)}
    now = [[math.log10(d), float(latent.log10_ball_volume(d))], [math.log10(d), d * math.log10(2)]]
    layers["now"] = Points(now, series=INK, size=1.3)
    return Panel(layers, title="volume: unit ball and its cube", xlim=(0.0, xmax),
                 ylim=(lo - pad, hi + pad), equal_aspect=False, xlabel="log₁₀ d",
                 ylabel="log₁₀ volume")



TYPICAL_SDS = 3.0  # the mode's log-density this many sds above the samples': not typical


def caption(v: dict[str, float], sweeping: bool) -> str:
    """What the frame shows, every number computed (measured, then its closed form)."""
    d = int(v["d"])
    lead = (f"d = {d}: the same {SAMPLES} gain coordinates as d grows. " if sweeping
            else f"d = {d}. ")
    sds = -v["mean gap exact"] / v["sd gap exact"]
    mode = ("the mode is not typical" if sds >= TYPICAL_SDS
            else "in so few dimensions the mode is still among typical values")
    share = v["log10 ball"] - v["log10 cube"]
    cube = (f" Of the uniform points in the cube, {100 * v['cube fraction']:.3g}% fall in the "
            f"unit ball (exact {100 * 10 ** share:.3g}%)." if v["cube fraction"] >= 0 else
            f" The unit ball fills 10^{share:.0f} of its cube.")
    blob = (" Every point is about √d from 0, yet its shadow on a random plane is the round "
            "N(0, I₂) blob." if d >= 100 else "")
    return (lead + f"Mean norm {v['mean norm']:.2f} (exact {v['mean norm exact']:.2f}, "
            f"√d = {math.sqrt(d):.2f}), spread {v['sd norm']:.3f} (exact "
            f"{v['sd norm exact']:.3f}; 1/√2 = 0.707). Within r = {v['r']:.2f}: "
            f"{100 * v['within r']:.1f}% of samples (exact {100 * v['within r exact']:.3g}%). "
            f"Log-density {-v['mean gap']:.1f} nats below the mode's (exact d/2 = {d / 2:g}, "
            f"{sds:.1f} standard deviations): {mode}. Two samples are "
            f"{v['mean distance']:.2f} apart (exact {v['mean distance exact']:.2f}, "
            f"√(2d) = {math.sqrt(2 * d):.2f}) at {v['mean angle']:.1f}° ± {v['sd angle']:.2f}° "
            f"(exact sd {v['sd angle exact']:.2f}°)." + cube + blob)


__all__ = ["CUBE_MAX", "D_MAX", "angle_panel", "angle_std_deg", "caption", "log_density_panel",
           "norm_panel", "numbers", "projection_panel", "volume_panel"]
