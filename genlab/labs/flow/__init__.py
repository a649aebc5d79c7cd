"""Lab "flow": a normalising flow trained live by maximum likelihood.

2D (``dimension = "2d"``, ``two_d.py``): a RealNVP (affine couplings with alternating masks)
or a stack of planar layers maps the data x to a latent z = F(x) with z ~ N(0, I); Adam lowers
the negative log-likelihood −log p(x) = −log N(F(x); 0, I) − log|det ∂F/∂x| on minibatches.
Three live views:

* ``density``: the data (training and held-out points), the learned density p(x) as a heatmap,
  and samples x = F⁻¹(z) of fixed latent draws z (they move as the model learns);
* ``warp``: the grid of the data plane and the data after ``layer`` forward layers x → z, and a
  regular latent grid with the samples after ``layer`` inverse layers z → x, in the flow's
  standardised coordinates x′ = (x − m)/σ;
* ``log-det``: log p(x) split into its two terms, log N(F(x); 0, I) and log|det ∂F/∂x|.

1D (``dimension = "1d"``, ``one_d.py``): the lectures' picture of one monotone map x = f(z):
the base density N(0, 1) with the pushed-back data f⁻¹(xᵢ), the map itself, and the induced
density p(x) = N(f⁻¹(x)) |df⁻¹/dx| against the data histogram.

The numerics live in ``genlab.engine.flows`` and ``genlab.engine.flows_1d`` (torch, imported
when a run starts).  The 2D flow trains on standardised data x′ = (x − m)/σ (m the training
mean, σ its root mean variance), so every data set looks alike to it; densities and NLLs are
reported in the data's own coordinates (log p(x) = log p′(x′) − 2 log σ).  A loss that is NaN
or that rises DIVERGED_RISE nats per point above its best stops the run with a LabError, so
the window keeps the last good frame.

Pacing (``common.py``): the first frames show one Adam step each, in slow motion, and a run
ends once its training and held-out NLLs have levelled off.  The training points, held-out
points, samples, the model's density, the true density and the untrained start are the lab's
named series: one colour each in every panel, key and NLL curve.
"""

from __future__ import annotations

from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.flow.common import (
    DATASETS_1D,
    DIMENSIONS,
    DIVERGED_RISE,
    FLAT_NATS,
    MIN_STEPS,
    MODELS,
    RAMP_FRAMES,
    SERIES,
    VIEWS,
    Params,
    steps_for,
)
from genlab.labs.flow.common import Watch as _Watch
from genlab.labs.flow.common import split as _split
from genlab.labs.flow.one_d import QUANTILES, run_1d
from genlab.labs.flow.two_d import (
    GRID,
    GRID_LINES,
    LATENT_LIM,
    LINE_POINTS,
    LOG_RANGE,
    N_SAMPLES,
    run_2d,
)

__all__ = ["DATASETS_1D", "DIMENSIONS", "DIVERGED_RISE", "FLAT_NATS", "GRID", "GRID_LINES",
           "LAB", "LATENT_LIM", "LINE_POINTS", "LOG_RANGE", "MIN_STEPS", "MODELS", "N_SAMPLES",
           "QUANTILES", "RAMP_FRAMES", "SERIES", "VIEWS", "Params", "_Watch", "_split", "run",
           "steps_for"]


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of a flow trained by maximum likelihood."""
    if params.dimension == "1d":
        return (yield from run_1d(params, ctx))
    return (yield from run_2d(params, ctx))


LAB = LabInfo(
    name="flow",
    title="Normalising flows",
    description="Train a RealNVP or planar flow by maximum likelihood and watch it warp the "
                "plane, layer by layer; or the 1D picture of one monotone map.",
    params=Params,
    run=run,
    takes_data=True,
    fps=20.0,
    series=SERIES,
)
