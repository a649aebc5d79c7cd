"""Lab "em": a Gaussian mixture fitted by expectation-maximisation, one half-step per frame.

Frame 0 shows the data and the initial components.  Each EM iteration then gives two frames
(``story.py``):

* E-step: every point is coloured by its responsibilities γ_ik (a mix of the component
  colours); the ellipses are still the old parameters;
* M-step: the components move to the responsibility-weighted means and covariances (line
  width and opacity follow π_k / max π), the density is redrawn, and the mean log-likelihood
  goes up.

The log-likelihood is plotted against the EM iteration: an M-step frame at its iteration i,
the E-step before it at i − ½ (it does not change the parameters, so the curve is flat there).

Optionally a second panel fits the same mixture from the same start by gradient ascent (Adam,
``genlab.engine.gmm_grad``, which imports torch only then), a few steps per EM iteration.  EM
and Adam are the lab's two named series (``view.SERIES``): EM's ellipses, key and curve solid,
Adam's dashed.  Once EM has converged, each further frame is one iteration of Adam alone.

Pacing (``pacing.py``, at FPS): the start is held, the first E-step and M-step take two
seconds each, later iterations speed up, a stretch where the fit barely moves is fast-forwarded
(several iterations a frame, no E-step frames), and a run ends (and holds) once EM has
converged: it gained less than CONVERGED_GAIN, or it creeps by invisible amounts
(``pacing.Settle``).

The numerics live in ``genlab.engine.gmm``.  For large data the responsibilities are sent as
soft labels only while n * K <= SOFT_LABEL_LIMIT (beyond that each point carries the label
of its most responsible component, to keep frames small).
"""

from __future__ import annotations

from genlab.labs.base import LabInfo
from genlab.labs.em.pacing import (
    CONVERGED_GAIN,
    EASE_ITERS,
    FAST,
    FF_MAX,
    FF_PACE,
    FIRST_HOLD,
    FPS,
    HOLD_END,
    HOLD_START,
    QUIET_GAIN,
    QUIET_ITERS,
    QUIET_MOVE,
    SLOW_ITERS,
    SLOW_PACE,
    STILL_GAIN,
    STILL_ITERS,
    STILL_MOVE,
    Settle,
    next_batch,
    pace_of,
)
from genlab.labs.em.params import DENSITIES, INITS, OVERFIT_K, Params
from genlab.labs.em.story import run
from genlab.labs.em.text import MATCH, race
from genlab.labs.em.view import DENSITY_HEADROOM, GRID, N_STD, SERIES, SOFT_LABEL_LIMIT

__all__ = ["CONVERGED_GAIN", "DENSITIES", "DENSITY_HEADROOM", "EASE_ITERS", "FAST", "FF_MAX",
           "FF_PACE", "FIRST_HOLD", "FPS", "GRID", "HOLD_END", "HOLD_START", "INITS", "LAB",
           "MATCH", "N_STD", "OVERFIT_K", "QUIET_GAIN", "QUIET_ITERS", "QUIET_MOVE", "SERIES",
           "SLOW_ITERS", "SLOW_PACE", "SOFT_LABEL_LIMIT", "STILL_GAIN", "STILL_ITERS",
           "STILL_MOVE", "Params", "Settle", "next_batch", "pace_of", "race", "run"]

LAB = LabInfo(
    name="em",
    title="Gaussian mixtures (EM)",
    description="Fit a Gaussian mixture by expectation-maximisation, one E-step and one "
                "M-step per frame.",
    params=Params,
    run=run,
    takes_data=True,
    uses_picks=True,
    fps=FPS,
    series=SERIES,
)
