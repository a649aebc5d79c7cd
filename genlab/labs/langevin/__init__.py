"""Lab "langevin": Langevin chains on a known density, and an energy-based model trained with
them.

``mode = "sample"`` (``sample.py``): chains follow the unadjusted Langevin algorithm (ULA)

    x ← x + η ∇log p(x) + √(2η) ξ,  ξ ~ N(0, I),

or MALA, the same move used as a proposal y and accepted with probability
min(1, p(y) q(x|y) / (p(x) q(y|x))).  ULA's stationary law is a slightly wrong density whose
error grows with η; MALA's accept/reject makes p itself stationary at every η.  The chains
move over the energy U = −log p (heatmap, contours) and the field ∇log p; a 2D histogram of
the chains sits beside the true density, and the sliced W₂ distance from the chains to exact
samples of p (``exact.py``) is plotted against the Langevin step.  Chains and reference
points are clipped to the panel's box before the distance, so a few far-away chains cannot
swamp it.  η is live: the chains carry on from where they are.  With ``sampler = "both"``
ULA and MALA start from the same points and are driven by the same seed.

``mode = "ebm"`` (``ebm.py``): an MLP energy E_θ is trained on data by the contrastive loss
of Du & Mordatch (2019) with negatives from persistent Langevin chains on −E_θ.

ULA, MALA, the EBM's data and its chains are the lab's named series (``params.SERIES``): one
colour each in every panel, key and metric plot.
"""

from __future__ import annotations

from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.langevin.ebm import EBM_GRID, run_ebm
from genlab.labs.langevin.exact import exact_samples
from genlab.labs.langevin.params import (
    INITS,
    MODES,
    SAMPLERS,
    SERIES,
    TARGET_CHOICES,
    VIEWS,
    Params,
)
from genlab.labs.langevin.sample import (
    FIELD,
    GRID,
    HIST_BINS,
    LIMITS,
    MIN_STEPS,
    N_REF,
    RAMP_FRAMES,
    TRAIL,
    _clip,
    _make_target,
    frames_left,
    pace_of,
    run_sample,
    steps_for,
)

__all__ = ["EBM_GRID", "FIELD", "GRID", "HIST_BINS", "INITS", "LAB", "LIMITS", "MIN_STEPS",
           "MODES", "N_REF", "RAMP_FRAMES", "SAMPLERS", "SERIES", "TARGET_CHOICES", "TRAIL",
           "VIEWS", "Params", "_clip", "_make_target", "exact_samples", "frames_left",
           "pace_of", "run", "steps_for"]


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of Langevin chains on a known density, or of an EBM trained with them."""
    if params.mode == "ebm":
        return (yield from run_ebm(params, ctx))
    return (yield from run_sample(params, ctx))


LAB = LabInfo(
    name="langevin",
    title="Langevin & EBMs",
    description="ULA and MALA chains on known densities, ULA's bias at large steps, and an "
                "energy-based model trained with persistent Langevin chains.",
    params=Params,
    run=run,
    takes_data=True,
    fps=20.0,
    series=SERIES,
)
