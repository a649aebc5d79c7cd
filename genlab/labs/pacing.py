"""Pacing helpers for labs: slow motion where a story moves fast, and an end (or a hold) once
nothing changes any more.

A key moment (chains falling into the modes, the first EM iterations, a sweep of w) should
stay on screen for seconds at the lab's speed (``LabInfo.fps``), and a converged run should
end instead of playing near-identical frames.  ``Frame.pace`` and ``Frame.hold`` say how long
a frame stays; these helpers decide how much work goes between frames.
"""

from __future__ import annotations

from collections import deque

import numpy as np


def ramp(frame_no: int, full: int, frames: int = 40, start: int = 1) -> int:
    """Work units (steps, iterations) for frame ``frame_no``: from ``start`` at frame 0 up to
    ``full`` after ``frames`` frames, geometrically, so the first moves of a run are shown
    one by one and later ones go faster.  Always in [1, max(full, 1)]."""
    full = max(int(full), 1)
    start = min(max(int(start), 1), full)
    if frames <= 0 or frame_no >= frames:
        return full
    u = frame_no / frames
    return int(min(full, max(start, round(start * (full / start) ** u))))


class Plateau:
    """Tells when a series has levelled off: the mean of its last ``window`` values differs
    from the mean of the ``window`` before by less than ``rtol`` of their scale (plus
    ``atol``), and the spread of the last window is small too.

    ``add(value)`` returns True once the series is flat (and stays True for that run).
    """

    def __init__(self, window: int = 15, rtol: float = 0.02, atol: float = 1e-12) -> None:
        self.window = int(window)
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.values: deque[float] = deque(maxlen=2 * self.window)
        self.flat = False

    def add(self, value: float) -> bool:
        self.values.append(float(value))
        if self.flat or len(self.values) < 2 * self.window:
            return self.flat
        v = np.asarray(self.values)
        old, new = v[:self.window], v[self.window:]
        scale = max(float(np.abs(v).mean()), self.atol)
        moved = abs(new.mean() - old.mean())
        self.flat = bool(moved <= self.rtol * scale + self.atol
                         and new.std() <= 2 * self.rtol * scale + self.atol)
        return self.flat
