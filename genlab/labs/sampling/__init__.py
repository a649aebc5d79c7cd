"""Lab "sampling": from uniform numbers to Gaussians, one step at a time.

Modes, each a story of ten to fifteen seconds at the lab's speed:

* ``lcg`` (``lcg.py``): a linear congruential generator X_{t+1} = (a X_t + c) mod m; its
  pairs in the unit square, and its triples in the unit cube turning until they are seen
  along the spectral test's worst normal h, beside numpy's PCG64 triples turned the same way.
* ``box-muller`` (``transforms.py``): R = sqrt(-2 ln U1), theta = 2 pi U2 turns the unit
  square into the plane.
* ``inverse-cdf`` (``transforms.py``): x = F^{-1}(u) for an exponential, a Gaussian or a
  two-component mixture.
* ``cholesky`` (``gaussians.py``): x = mu + L z turns N(0, I) into N(mu, Sigma),
  Sigma = L L^T.
* ``ancestral`` (``gaussians.py``): k ~ Cat(pi), then x ~ N(mu_k, Sigma_k) samples a
  Gaussian mixture.

Samples, the exact law, traced draws, the LCG and PCG64 are the lab's named series
(``common.SERIES``), one look each in every panel, key and metric plot.  The numerics live in
``genlab.engine.sampling``; these modules only stage them as frames.
"""

from __future__ import annotations

from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.sampling.common import FPS, HOLD_END, SERIES
from genlab.labs.sampling.gaussians import run_ancestral, run_cholesky
from genlab.labs.sampling.lcg import run_lcg
from genlab.labs.sampling.params import DISTS, LCG_CHOICES, MODES, Params
from genlab.labs.sampling.transforms import run_box_muller, run_inverse_cdf

__all__ = ["DISTS", "FPS", "HOLD_END", "LAB", "LCG_CHOICES", "MODES", "SERIES", "Params",
           "run"]

_RUNNERS = {"lcg": run_lcg, "box-muller": run_box_muller, "inverse-cdf": run_inverse_cdf,
            "cholesky": run_cholesky, "ancestral": run_ancestral}


def run(params: Params, ctx: RunContext | None = None) -> FrameGenerator:
    """Frames of the chosen mode; send a new Params at any yield to apply live fields."""
    return (yield from _RUNNERS[params.mode](params))


LAB = LabInfo(
    name="sampling",
    title="Sampling from uniforms",
    description="From uniform numbers to Gaussians: LCGs and their planes, Box–Muller, "
                "inverse CDF, Cholesky and ancestral sampling.",
    params=Params,
    run=run,
    fps=FPS,
    series=SERIES,
)
