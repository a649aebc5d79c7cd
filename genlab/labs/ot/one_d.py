"""The OT lab's 1D view, the lecture's picture N(0, 1) → N(1, 1): the independent coupling
against the monotone (earth mover's) one as joint densities with the marginals on the axes,
and, for the Sinkhorn methods, the entropic coupling in closed form as ε sweeps down."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genlab.engine import ot_gaussian as g1d
from genlab.labs.base import FrameGenerator
from genlab.labs.frame import Curve, Frame, Heatmap, Layer, Panel, Points
from genlab.labs.ot.common import g
from genlab.labs.ot.params import SERIES, Params

SWEEP_FRAMES = 40  # frames of the ε sweep ...
SWEEP_PACE = 2.0  # ... each staying this many frame intervals (4 s at the lab's 20 fps)
HOLD_START = 2.0  # seconds the first picture is held before ε moves
HOLD_END = 3.0  # seconds the last one is held
GRID_1D = 150
LIM_1D = (-3.5, 4.5)
M0, M1 = 0.0, 1.0  # N(0, 1) to N(1, 1)
N_PAIRS = 300
BARS = "E|X−Y|² by coupling"
CURVE = "E|X−Y|²"
XLABEL = "log₁₀(median cost / ε)"


def _layers(density: np.ndarray, pairs: np.ndarray, series: str,
            extra: dict[str, Layer] | None = None) -> dict[str, Layer]:
    lo, hi = LIM_1D
    grid = np.linspace(lo, hi, 400)
    p0 = g1d.gaussian_pdf(grid, M0)
    p1 = g1d.gaussian_pdf(grid, M1)
    strip = 1.2 / p0.max()
    # the marginals drawn on their axes: the source along x, the target along y (first, so
    # the panel's key reads source, target, then the coupling)
    layers: dict[str, Layer] = {
        "density": Heatmap(density, (lo, hi, lo, hi)),
        "source N(0, 1)": Curve(grid, lo + strip * p0, series="source"),
        "target N(1, 1)": Curve(lo + strip * p1, grid, series="target"),
    }
    layers.update(extra or {})
    layers["pairs"] = Points(pairs, series=series, size=0.7, alpha=0.8)
    return layers


def run_1d(p: Params) -> FrameGenerator:
    lo, hi = LIM_1D
    centres = lo + (np.arange(GRID_1D) + 0.5) * (hi - lo) / GRID_1D
    xx, yy = np.meshgrid(centres, centres)  # values[i, j] at x = centres[j], y = centres[i]
    rng = np.random.default_rng(p.seed)
    z0, z1 = rng.standard_normal(N_PAIRS), rng.standard_normal(N_PAIRS)
    x_s = M0 + z0
    indep = np.column_stack([x_s, M1 + z1])
    mono = np.column_stack([x_s, x_s + (M1 - M0)])
    ind_cost = g1d.expected_sq_distance(0.0, M0, M1)
    mono_cost = g1d.expected_sq_distance(1.0, M0, M1)
    kw: dict[str, Any] = {"xlim": LIM_1D, "ylim": LIM_1D, "xlabel": "x ~ N(0, 1)",
                          "ylabel": "y ~ N(1, 1)"}
    ind_panel = Panel(_layers(g1d.gaussian_pdf(xx, M0) * g1d.gaussian_pdf(yy, M1), indep,
                              "independent"), title="independent", **kw)
    line = Curve(np.array([lo, hi - (M1 - M0)]), np.array([lo + (M1 - M0), hi]),
                 series="exact", width=3.0)
    mono_panel = Panel(_layers(np.zeros_like(xx), mono, "exact", {"T(x) = x + 1": line}),
                       title="exact: y = x + 1", **kw)
    base = (f"N(0, 1) (x, the source) coupled with N(1, 1) (y, the target): independent "
            f"pairs cost E|X − Y|² = Var X + Var Y + (EY − EX)² = 1 + 1 + 1 = {ind_cost:g}, "
            f"the monotone map y = x + 1 (earth mover's, all mass on a line) costs "
            f"{mono_cost:g}.")
    bars = {f"{BARS}/independent": ind_cost, f"{BARS}/exact": mono_cost}
    if p.method not in ("sinkhorn", "exact vs sinkhorn"):
        yield Frame(0, "OT · 1D Gaussians", (ind_panel, mono_panel), total=1, values=bars,
                    caption=base, series=SERIES, hold=HOLD_END)
        return
    med = g1d.median_sq_distance(M0, M1)
    rels = (np.geomspace(10.0, p.eps_rel, SWEEP_FRAMES) if p.eps_rel < 10.0
            else np.array([p.eps_rel]))
    for k, rel in enumerate(rels):
        eps = float(rel) * med
        rho = g1d.entropic_correlation(eps)
        cost = g1d.expected_sq_distance(rho, M0, M1)
        dens = g1d.gaussian_joint_density(xx, yy, M0, M1, 1.0, min(rho, 1.0 - 1e-9))
        pairs = np.column_stack([x_s, M1 + rho * z0 + math.sqrt(max(1.0 - rho * rho, 0.0)) * z1])
        ent_panel = Panel(_layers(dens, pairs, "entropic"), title=f"entropic, ε = {g(eps)}",
                          **kw)
        caption = (f"{base} The entropic coupling (ε = {g(eps)}, {rel:.3g} × median cost) "
                   f"is Gaussian with correlation ρ = (√(ε² + 16) − ε)/4 = {rho:.4f}, cost "
                   f"3 − 2ρ = {cost:.4f}: the monotone map as ε → 0, independence as ε → ∞.")
        last = k == len(rels) - 1
        yield Frame(k, f"OT · 1D Gaussians · ε = {g(eps)}", (ind_panel, ent_panel, mono_panel),
                    total=len(rels), metrics={f"{CURVE}/entropic": cost},
                    values={f"{BARS}/independent": ind_cost, f"{BARS}/entropic": cost,
                            f"{BARS}/exact": mono_cost}, caption=caption, series=SERIES,
                    x=-math.log10(float(rel)), xlabel=XLABEL, pace=SWEEP_PACE,
                    hold=HOLD_END if last else HOLD_START if k == 0 else 0.0)
