"""How long the EM lab's frames stay, when a fit has settled, and when it fast-forwards.

At FPS a frame at pace 1 stays half a second.  The first iteration's E-step and M-step stay
two seconds each (the colours appear, then the components jump); the pace then falls
geometrically to FAST by iteration EASE_ITERS.  Where the fit barely moves for QUIET_ITERS
iterations in a row the run fast-forwards: one frame covers 2, 4, … up to FF_MAX iterations,
and the first iteration that moves again ends the fast forward, so a change such as a split
is never skipped.  A run ends once EM (and Adam) has converged or settled (``Settle``), and
its last frame is held.
"""

from __future__ import annotations

import numpy as np

from genlab.engine import gmm

FPS = 2.0
HOLD_START = 1.5  # seconds the start (data and initial components) is held
SLOW_PACE = 2.5  # the pace of iteration 1's frames ...
FIRST_HOLD = 0.75  # ... plus this hold: two seconds for the first E-step and M-step
EASE_ITERS = 12  # the pace falls geometrically to FAST at this iteration ...
FAST = 0.4  # ... a fifth of a second per frame
SLOW_ITERS = 4  # iterations always shown as an E-step and an M-step, never fast-forwarded
HOLD_END = 2.5  # seconds the last frame is held
CONVERGED_GAIN = 1e-7  # EM has converged once an iteration gains less than this
# An iteration is quiet when it gains less than QUIET_GAIN and no mean moves more than
# QUIET_MOVE of the view's width (two pixels); after QUIET_ITERS quiet ones in a row the run
# fast-forwards, FF_PACE a frame.  Two, not one: the 8 gaussians have a single quiet
# iteration (18) in the pause before two components on one cluster split.
QUIET_GAIN = 3e-4
QUIET_MOVE = 2e-3
QUIET_ITERS = 2
FF_PACE = 0.4
FF_MAX = 16
# A fit has settled when, STILL_ITERS iterations in a row, the mean log-likelihood changed by
# less than STILL_GAIN and no mean moved more than STILL_MOVE of the view's width (a fifth of
# a pixel).  Both are needed, and tight: the moons creep on at 8e-7 per iteration for ever,
# but the 8 gaussians pause near 5e-5 per iteration with two components on one cluster before
# they split, and the over-fitting moons pause near 3e-7 with means still drifting by a
# quarter of a pixel before components collapse onto single points.
STILL_GAIN = 1e-6
STILL_MOVE = 2e-4
STILL_ITERS = 5


def pace_of(it: int) -> float:
    """How many frame intervals the frames of iteration ``it`` stay: SLOW_PACE for the first,
    falling geometrically to FAST at EASE_ITERS."""
    if it >= EASE_ITERS:
        return FAST
    u = (max(it, 1) - 1) / (EASE_ITERS - 1)
    return float(SLOW_PACE * (FAST / SLOW_PACE) ** u)


def next_batch(ff: int, it: int, quiet_run: int, batch_quiet: bool) -> int:
    """Iterations the next frame may cover (0: an E-step and an M-step frame), after a frame
    that covered ``ff`` of them (0: a plain one) and ended at iteration ``it``, with
    ``quiet_run`` quiet iterations in a row, ``batch_quiet`` whether all of the frame's
    iterations were quiet."""
    if ff and batch_quiet:
        return min(2 * ff, FF_MAX)
    if not ff and it >= SLOW_ITERS and quiet_run >= QUIET_ITERS:
        return 2
    return 0


class Settle:
    """Whether a fit has settled (see STILL_GAIN) or is quiet (see QUIET_GAIN), from the
    states of its iterations."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.gains: list[float] = []
        self.moves: list[float] = []
        self.still = 0  # iterations in a row that changed almost nothing
        self.quiet_run = 0  # iterations in a row that were quiet

    def add(self, old: gmm.GMMState, new: gmm.GMMState) -> bool:
        """Record one iteration; True once the fit has settled."""
        gain = float(new.log_likelihood - old.log_likelihood)
        move = float(np.linalg.norm(new.means - old.means, axis=1).max())
        self.gains.append(gain)
        self.moves.append(move)
        still = abs(gain) < STILL_GAIN and move < STILL_MOVE * self.width
        self.still = self.still + 1 if still else 0
        self.quiet_run = self.quiet_run + 1 if self.quiet else 0
        return self.still >= STILL_ITERS

    @property
    def quiet(self) -> bool:
        """Whether the last iteration changed almost nothing (see QUIET_GAIN)."""
        return bool(self.gains) and abs(self.gains[-1]) < QUIET_GAIN and \
            self.moves[-1] < QUIET_MOVE * self.width

    def largest_move(self, last: int) -> float:
        """The largest move of a mean in the last ``last`` iterations, in % of the view."""
        return 100.0 * max(self.moves[-last:]) / self.width if last else 0.0

    def sentence(self, who: str) -> str:
        gains = np.abs(self.gains[-STILL_ITERS:])
        return (f"{who} has converged: for the last {STILL_ITERS} iterations its mean "
                f"log-likelihood changed by at most {gains.max():.1e} per iteration and no "
                f"mean moved more than {self.largest_move(STILL_ITERS):.2g}% of the view")
