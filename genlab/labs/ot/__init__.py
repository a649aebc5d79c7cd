"""Lab "ot": couplings of two point clouds, from the independent one to the earth mover's.

Views:

* ``plan`` (``plan.py``): the plan as segments x_i → y_j (the heaviest ``MAX_SEGMENTS``
  entries, opacity ∝ mass) over the source and target clouds, with the plan matrix beside it
  (rows and columns sorted along the first principal direction of the pooled points, shown as
  at most HEAT x HEAT block means).  Sinkhorn is animated from P⁰, its first iterations one
  by one in slow motion; the marginal violation (log axis) and the transport cost and
  entropic objective are plotted against the Sinkhorn iteration, and each coupling's cost
  ⟨C, P⟩ is a bar.  The independent and exact plans are shown at once.
* ``interpolation`` (``interpolation.py``): displacement interpolation, the points moved along
  the plan as t goes from 0 to 1 (pairs of the exact plan; the barycentric projection for the
  entropic one; pairs drawn from a⊗b for the independent one).
* ``1D Gaussians`` (``one_d.py``): the lecture's picture, N(0, 1) to N(1, 1): the independent
  coupling against the monotone (earth mover's) one as joint densities with the marginals on
  the axes, and, for the Sinkhorn methods, the entropic coupling in closed form as ε sweeps
  down.

The source, the target and the three couplings (independent, exact, entropic) are the lab's
named series (``params.SERIES``): one colour each in every panel, key, metric plot and bar.
With Dirichlet masses a point's marker area is proportional to its mass.

The numerics are in ``genlab.engine.ot`` (numpy, CPU only; POT for the exact plan, imported
when a run needs it), ``ot_summary`` and ``ot_gaussian``; this package stages them as frames.
"""

from __future__ import annotations

from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.frame import message_frame
from genlab.labs.ot.common import HEAT, INDEPENDENT_SEGMENTS, MAX_SEGMENTS, MIN_SIZE, mass_sizes
from genlab.labs.ot.common import problem as _problem
from genlab.labs.ot.interpolation import INDEPENDENT_PAIRS, T_FRAMES, run_interpolation
from genlab.labs.ot.one_d import SWEEP_FRAMES, run_1d
from genlab.labs.ot.params import METHODS, SERIES, VIEWS, WEIGHTS, Params
from genlab.labs.ot.plan import (
    FLAT_ITERS,
    FLAT_RTOL,
    SLOW_FRAMES,
    WORK_PER_FRAME,
    frames_left,
    iters_for,
    pace_of,
    run_plan,
)

__all__ = ["FLAT_ITERS", "FLAT_RTOL", "HEAT", "INDEPENDENT_PAIRS", "INDEPENDENT_SEGMENTS",
           "LAB", "MAX_SEGMENTS", "METHODS", "MIN_SIZE", "SERIES", "SLOW_FRAMES",
           "SWEEP_FRAMES", "T_FRAMES", "VIEWS", "WEIGHTS", "WORK_PER_FRAME",
           "Params", "_problem", "frames_left", "iters_for", "mass_sizes", "pace_of", "run"]


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of the chosen view (module docstring)."""
    if params.view == "1D Gaussians":
        yield from run_1d(params)
        return
    try:
        pb = _problem(params, ctx)
    except LabError as err:
        yield message_frame("OT · no data", str(err))
        return
    if params.view == "interpolation":
        yield from run_interpolation(params, pb)
    else:
        yield from run_plan(params, pb)


LAB = LabInfo(
    name="ot",
    title="Optimal transport (couplings)",
    description="Couple two point clouds: the independent plan, the earth mover's plan and "
                "Sinkhorn's entropic plan animated iteration by iteration, displacement "
                "interpolation, and the 1D Gaussian picture (numpy on the CPU).",
    params=Params,
    run=run,
    takes_data=True,
    fps=20.0,
    series=SERIES,
)
