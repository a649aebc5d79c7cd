"""What the sampling lab's modes share: its named series, its speed, arrival schedules, and
a few layers and measures."""

from __future__ import annotations

from typing import Any

import numpy as np

from genlab.labs.frame import INK, MUTED, Curve, Histogram, Segments, Series

# One look per thing across the five modes: the samples a method produces (their histograms,
# clouds and distance curves), the exact law they should follow (its density, CDF, contours or
# weights, dashed), the construction of single traced draws (in ink: it must read over clouds
# coloured by a cyclic map), the two generators of the LCG mode, and the 95% band of a
# distance for n independent exact draws.
SERIES = (
    Series("samples", 0),
    Series("exact", 3, dashed=True),
    Series("traced draws", INK),
    Series("LCG", 4),
    Series("PCG64", 2),
    Series("95% band", MUTED, dashed=True),
)

# The lab's speed; each mode's frames carry their own pace (slow motion for single draws) and
# holds (its key pictures), so every story takes ten to fifteen seconds at this speed.
FPS = 20.0
HOLD_END = 3.0  # seconds the last picture of every mode stays


def smooth(t: np.ndarray | float) -> np.ndarray:
    """Smoothstep 3t² − 2t³ on [0, 1] (clipped), for easing the motion."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def arrivals(n: int, slow: int, gap: int, flood: int) -> np.ndarray:
    """The frame at which each of n samples arrives (non-decreasing): the first ``slow`` one
    every ``gap`` frames, so each can be followed; then the rest over ``flood`` frames, the
    count per frame growing geometrically."""
    slow = max(0, min(int(slow), n))
    out = np.empty(n, dtype=np.int64)
    out[:slow] = np.arange(slow) * gap
    rest = n - slow
    if rest:
        cum = np.ceil(float(rest) ** ((np.arange(flood) + 1) / flood)).astype(np.int64)
        cum = np.minimum(np.maximum.accumulate(cum), rest)
        cum[-1] = rest
        out[slow:] = slow * gap + np.searchsorted(cum, np.arange(rest), side="right")
    return out


def unit_square() -> Segments:
    c = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    return Segments(c, np.roll(c, -1, axis=0), series=MUTED)


def density_hist(x: np.ndarray, edges: np.ndarray) -> Histogram:
    """The samples' histogram as a density (area = the share of x inside the edges)."""
    counts, _ = np.histogram(x, bins=edges)
    heights = counts / (max(len(x), 1) * np.diff(edges))
    return Histogram(edges, heights, series="samples")


def ks_uniform(u: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance of the values u to U(0, 1).

    Given F(x) for samples x, it is sup |F_n − F|, x's distance to F: measure the samples
    themselves (``ks_to``), never the uniforms that made them, or an error in F⁻¹ would not
    show."""
    n = len(u)
    if n == 0:
        return 0.0
    s = np.sort(u)
    i = np.arange(1, n + 1)
    return float(max((i / n - s).max(), (s - (i - 1) / n).max()))


def ks_to(x: np.ndarray, cdf: Any) -> float:
    """Kolmogorov–Smirnov distance sup_x |F_n(x) − F(x)| of the samples x to the law with
    CDF ``cdf`` (vectorised)."""
    return ks_uniform(np.asarray(cdf(np.asarray(x, np.float64)), np.float64))


KS_BAND = 1.358  # the KS distance of n exact draws stays under 1.358/√n with probability 95%


def ks_metrics(group: str, d: float, n: int) -> dict[str, float]:
    return {f"{group}/samples": max(d, 1e-6), f"{group}/95% band": KS_BAND / np.sqrt(n)}


def contours(mean: np.ndarray, cov: np.ndarray, n_std: float, series: str = "exact",
             points: int = 97) -> Curve:
    """The closed n_std-standard-deviation contour of N(mean, cov) as a curve."""
    t = np.linspace(0.0, 2.0 * np.pi, points)
    vals, vecs = np.linalg.eigh(cov)
    ring = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ np.stack([np.cos(t), np.sin(t)])
    xy = mean[:, None] + n_std * ring
    return Curve(xy[0], xy[1], series=series, width=1.6)


def minus(text: str) -> str:
    """A true minus sign in numbers shown on screen."""
    return text.replace("-", "−")
