"""Work spread over frames: jobs of many small steps, advanced a frame's budget at a time.

A lab that samples or integrates with trained models (guided samples for a grid of w, flows
at several step counts) must still yield a frame every ~50 ms.  It queues ``Job``s and calls
``advance(jobs, budget_ms)`` once per frame: jobs go in order, each takes as many steps as fit
in what is left of the budget (at least one step per call, so work always moves).  Costs are
*estimates* given by the lab (ms per step), not wall-clock times, so the frames a run yields
are the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass


@dataclass
class Job:
    """``steps`` steps, ``done`` of them taken; ``step(k)`` takes the next k (and may raise
    the lab's error); ``cost`` is the estimated milliseconds of one step."""

    key: Hashable
    steps: int
    cost: float
    step: Callable[[int], None]
    done: int = 0

    @property
    def finished(self) -> bool:
        return self.done >= self.steps


def advance(jobs: Iterable[Job], budget_ms: float) -> float:
    """Advance ``jobs`` in order within ``budget_ms`` (estimated); the estimated ms spent.

    The first unfinished job always takes at least one step; later ones take steps only
    while the budget lasts."""
    spent, moved = 0.0, False
    for job in jobs:
        if job.finished:
            continue
        left = budget_ms - spent
        k = min(job.steps - job.done, int(left // job.cost) if job.cost > 0 else job.steps)
        if k <= 0:
            if moved:
                break
            k = 1
        job.step(k)
        job.done += k
        spent += k * job.cost
        moved = True
        if spent >= budget_ms:
            break
    return spent
