r"""Lab "annulus": where the mass of a high-dimensional Gaussian lies.

For :math:`x \sim \mathcal N(0, I_d)`, :math:`\lVert x\rVert^2 \sim \chi^2_d`: the norm
concentrates at √d with a spread that tends to 1/√2 (the Gaussian annulus theorem; Blum,
Hopcroft & Kannan 2020, thm 2.9).  So the mode at 0 is not where samples are (each sample's
log-density is d/2 ± √(d/2) nats below the mode's), two samples are ≈ √(2d) apart at ≈ 90°,
a ball of radius r < √d around the mode holds almost none of the mass, and yet a random 2D
projection of the points is the round N(0, I₂) blob.  The volume of the unit ball, π^{d/2} /
Γ(d/2 + 1), peaks at d = 5 and vanishes against its cube's 2^d.

Frames: a sweep of d from 1 to the slider's d (small d in slow motion, beats at d = 1, 2, 3,
100, 1000, a held end) that adds coordinates to the same n points, so the histogram of norms
moves out and narrows while the projection stays put; the metric strip plots each measured
number beside its closed form against log₁₀ d.  Or, without the sweep, the slider's d at
once.  The radius r (a multiple of √d) is live.  Every number on screen is computed: from
the samples, and from its closed form (``genlab.engine.latent``).
"""

from __future__ import annotations

import dataclasses
import math

from genlab.labs.annulus import settings as S
from genlab.labs.annulus.panels import (
    angle_panel,
    caption,
    log_density_panel,
    norm_panel,
    numbers,
    projection_panel,
    volume_panel,
)
from genlab.labs.annulus.settings import EXACT, LIVE, SAMPLES, SERIES, GrowingSample, Params
from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.frame import Frame
from genlab.labs.params import take_live

__all__ = ["LAB", "SERIES", "GrowingSample", "Params", "make_frame", "run"]

NORM_RATIO, NORM_SD, ANGLE_SD = "mean ‖x‖ ÷ √d", "sd of ‖x‖", "sd of the angle (°)"


def make_frame(s: GrowingSample, p: Params, step: int, total: int | None,
               sweeping: bool) -> Frame:
    """The frame for the points ``s`` at their current d.  A sweep plots its numbers against
    log₁₀ d (metrics); a single d shows them as bars (values), not as one-point curves."""
    v = numbers(s, p.radius)
    d = s.d
    root = math.sqrt(d)
    metrics = {f"{NORM_RATIO}/{SAMPLES}": v["mean norm"] / root,
               f"{NORM_RATIO}/{EXACT}": v["mean norm exact"] / root,
               f"{NORM_SD}/{SAMPLES}": v["sd norm"], f"{NORM_SD}/{EXACT}": v["sd norm exact"],
               f"{ANGLE_SD}/{SAMPLES}": v["sd angle"],
               f"{ANGLE_SD}/{EXACT}": v["sd angle exact"]}
    panels = (norm_panel(s, p.radius), log_density_panel(s), angle_panel(s),
              projection_panel(s), volume_panel(d))
    if p.sweep:
        return Frame(step=step, title=f"The Gaussian annulus · d = {d}", panels=panels,
                     total=total, caption=caption(v, sweeping), metrics=metrics,
                     series=SERIES, x=math.log10(d), xlabel="log₁₀ d")
    return Frame(step=step, title=f"The Gaussian annulus · d = {d}", panels=panels,
                 total=total, caption=caption(v, sweeping), values=metrics, series=SERIES)


def _pace(d: int, prev: int) -> tuple[float, float]:
    """(pace, hold) of the sweep frame at d (the previous frame was at prev)."""
    hold = next((h for key, h in S.BEATS.items() if prev < key <= d), 0.0)
    return (S.SLOW if d <= S.SLOW_UNTIL else 1.0), hold


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of n points of N(0, I_d) as d grows to the slider's d, then held."""
    del ctx
    p = params
    s = GrowingSample(p.n, p.seed)
    dims = [int(d) for d in S.sweep_dims(p.d)] if p.sweep else [p.d]
    total, prev, new = len(dims), 0, None
    for step, d in enumerate(dims):
        s.grow(d)
        pace, hold = _pace(d, prev) if p.sweep else (1.0, 0.0)
        if step == total - 1:
            hold = max(hold, S.HOLD_END)
        frame = make_frame(s, p, step, total, p.sweep)
        new = yield dataclasses.replace(frame, pace=pace, hold=hold)
        p = take_live(p, new, LIVE)
        prev = d
    step = total
    while new is not None:  # a live r after the end redraws the last d
        new = yield make_frame(s, p, step, None, False)
        p = take_live(p, new, LIVE)
        step += 1


LAB = LabInfo(
    name="annulus",
    title="Gaussian annulus",
    description="Where a high-dimensional Gaussian's mass lies: norms against the χ_d "
                "density (at √d, spread 1/√2), the mass near the mode, log-densities, "
                "distances and angles between samples, a random 2D projection, and the unit "
                "ball against its cube, for d from 1 to 10,000.",
    params=Params,
    run=run,
    fps=S.FPS,
    series=SERIES,
)
