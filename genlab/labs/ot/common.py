"""The OT problem (both clouds, masses, costs) and the pieces every view draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genlab.engine.datasets import make_dataset
from genlab.engine.ot import cost_matrix
from genlab.engine.ot_summary import block_means, principal_order, sample_pairs, top_entries
from genlab.labs.base import RunContext
from genlab.labs.data import lab_data
from genlab.labs.frame import MUTED, Heatmap, Layer, Panel, Points, Segments
from genlab.labs.ot.params import Params

MAX_SEGMENTS = 3000  # heaviest plan entries drawn as segments
INDEPENDENT_SEGMENTS = 600  # pairs drawn from a⊗b (every entry is alike: "heaviest" is moot)
HEAT = 150  # the plan matrix is shown as at most HEAT x HEAT block means
MIN_SIZE = 0.3  # a point of tiny mass still shows as a dot
ZERO_COLUMNS = 8  # zero cells right of the plan matrix's axes (its colour scale starts at 0)


@dataclass(frozen=True, eq=False)
class Problem:
    """Both clouds sorted along the principal direction, their weights and costs."""

    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    scale: float  # the median cost (the mean cost if the median is 0, 1 if that is 0 too)
    eps: float
    notes: tuple[str, ...]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    uniform: bool


MAX_DRAWN = 2000  # drawn points per side, as the gallery's (the n × m costs and the solve)


def _side(dataset: str, count: int, noise: float, seed: int, ctx: RunContext,
          want: int, side: str) -> tuple[np.ndarray, str]:
    if dataset != "drawn":
        return make_dataset(dataset, count, noise, seed)[0], ""
    pts, labels = lab_data("drawn", count, noise, seed, ctx)
    colours = np.unique(labels)
    note = ""
    if len(colours) == 1:
        note = (f"Only one colour was painted, so all {len(pts)} drawn points are the "
                f"{side}.")
    else:
        pts = pts[labels == colours[min(want, len(colours) - 1)]]
    if len(pts) > MAX_DRAWN:
        # 100k points made a 100k × m cost matrix (gigabytes) and a solve of minutes
        keep = np.sort(np.random.default_rng(seed).choice(len(pts), MAX_DRAWN, replace=False))
        note = (note + " " if note else "") + (
            f"The {side} uses {MAX_DRAWN} of its {len(pts)} drawn points, chosen at random "
            "(the exact solve grows with n × m).")
        pts = pts[keep]
    return pts, note


def _limits(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    pts = np.concatenate([x, y])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    span = np.where(span > 1e-6, span, 2.0)
    span = np.full(2, span.max())  # square, so the two clouds keep their shapes
    mid = 0.5 * (lo + hi)
    lo, hi = mid - 0.56 * span, mid + 0.56 * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def problem(p: Params, ctx: RunContext) -> Problem:
    notes = []
    x, note = _side(p.dataset, p.n, p.noise, p.seed, ctx, 0, "source")
    notes += [note] if note else []
    y, note = _side(p.target, p.m, p.noise, p.seed + 1, ctx, 1, "target")
    if note.startswith("Only one colour") and p.dataset == "drawn":
        note = ("Only one colour was painted, so the source and the target are the same drawn "
                "points: the exact plan keeps every point in place and costs 0.")
        notes = [n for n in notes if not n.startswith("Only one colour")]
    notes += [note] if note else []
    ox, oy = principal_order(x, y)
    x, y = np.ascontiguousarray(x[ox]), np.ascontiguousarray(y[oy])
    n, m = len(x), len(y)
    if p.weights == "dirichlet":
        rng = np.random.default_rng(p.seed + 2)
        a = rng.dirichlet(np.full(n, p.concentration))
        b = rng.dirichlet(np.full(m, p.concentration))
    else:
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    c = cost_matrix(x, y)
    scale = float(np.median(c))
    if scale <= 0:
        scale = float(c.mean())
        if scale > 0:
            notes.append("Most pairs cost 0 (the median cost is 0), so ε is relative to the "
                         "mean cost.")
        else:
            scale = 1.0
            notes.append("Every point coincides: every coupling costs 0.")
    xlim, ylim = _limits(x, y)
    for w in (x, y, a, b, c):
        w.setflags(write=False)
    return Problem(x, y, a, b, c, scale, p.eps_rel * scale, tuple(notes), xlim, ylim,
                   p.weights == "uniform")


# ------------------------------------------------------------------------------ text


def g(v: float) -> str:
    return f"{v:.4g}".replace("-", "−")


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def e(v: float) -> str:
    """A violation or a tolerance: plainly from 0.01 to 100, else as 9.8 × 10⁻¹⁰."""
    if v == 0 or not np.isfinite(v):
        return f"{v:g}"
    k = int(np.floor(np.log10(abs(v))))
    if -2 <= k < 2:
        return f"{v:.3g}".replace("-", "−")
    mant = float(f"{v / 10.0**k:.3g}")
    if abs(mant) >= 10:  # 9.996 rounds up to the next decade
        mant, k = mant / 10, k + 1
    return f"{mant:.3g} × 10{str(k).translate(_SUP)}".replace("-", "−")


def join(*parts: str) -> str:
    return " ".join(s for s in parts if s)


def data_text(pb: Problem, p: Params) -> str:
    n, m = len(pb.x), len(pb.y)
    w = ("equal masses" if pb.uniform else
         f"Dirichlet(α = {p.concentration:g}) masses (a marker's area ∝ its mass)")
    return f"n = {n} source points and m = {m} target points, {w}"


def eps_text(pb: Problem, p: Params) -> str:
    return f"ε = {g(pb.eps)} ({p.eps_rel:g} × median cost {g(pb.scale)})"


# ------------------------------------------------------------------------------ layers


def mass_sizes(mass: np.ndarray, count: int) -> np.ndarray:
    """Marker sizes whose areas are proportional to the masses: √(count · mass), so a point
    of the uniform mass 1/count has size 1 (floored at MIN_SIZE, so no point vanishes)."""
    return np.maximum(np.sqrt(np.maximum(count * mass, 0.0)), MIN_SIZE)


def point_size(count: int) -> float:
    return 0.8 if count <= 1000 else 0.55


def clouds(pb: Problem, alpha: float = 1.0) -> dict[str, Layer]:
    size = point_size(len(pb.x) + len(pb.y))
    sa = None if pb.uniform else mass_sizes(pb.a, len(pb.a))
    sb = None if pb.uniform else mass_sizes(pb.b, len(pb.b))
    return {"source": Points(pb.x, series="source", size=size, alpha=alpha, sizes=sa),
            "target": Points(pb.y, series="target", size=size, alpha=alpha, sizes=sb)}


def segments(pb: Problem, plan: np.ndarray, independent: bool,
             rng: np.random.Generator | None = None) -> Segments:
    if independent:
        rng = rng if rng is not None else np.random.default_rng(0)
        i, j = sample_pairs(plan, min(INDEPENDENT_SEGMENTS, plan.size), rng)
        mass = plan[i, j]
    else:
        i, j, mass = top_entries(plan, MAX_SEGMENTS)
    top = mass.max() if len(mass) else 1.0
    w = mass / top if top > 0 else np.ones_like(mass)
    # grey: the plan's lines stay behind the two coloured clouds
    return Segments(pb.x[i], pb.y[j], weights=w, series=MUTED)


def plan_panel(pb: Problem, plan: np.ndarray, title: str, independent: bool = False
               ) -> Panel:
    layers: dict[str, Layer] = {"plan": segments(pb, plan, independent)}
    layers.update(clouds(pb))
    return Panel(layers, title=title, xlim=pb.xlim, ylim=pb.ylim)


def matrix_panel(pb: Problem, plan: np.ndarray, title: str) -> Panel:
    n, m = plan.shape
    # √ of the block means: the mass near the diagonal would otherwise hide the rest.
    blocks = np.sqrt(block_means(plan, HEAT, HEAT))
    # A heatmap's colours run from its smallest value to its largest, so a plan whose entries
    # are all equal (the independent one of equal masses) would draw as blank as zeros: a
    # column of zeros beyond the right edge of the axes anchors the scale at 0.
    cols = blocks.shape[1]
    blocks = np.concatenate([blocks, np.zeros((blocks.shape[0], ZERO_COLUMNS))], axis=1)
    right = m * (cols + ZERO_COLUMNS) / cols
    heat = Heatmap(blocks, (0.0, float(right), 0.0, float(n)))
    return Panel({"matrix": heat}, title=title, xlim=(0.0, float(m)), ylim=(0.0, float(n)),
                 equal_aspect=False, xlabel="target j (sorted)", ylabel="source i (sorted)")
