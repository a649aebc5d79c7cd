"""PlainAxis: an axis that prints the data's own numbers, and decades on a log scale.

pyqtgraph's ``enableAutoSIPrefix(False)`` still computes an SI scale from the range the axis
has at that moment (0..0.6 gives ×1000) and then never updates it, so an axis restyled after a
lab switch, a theme toggle or a font-scale change read a thousand times its values until the
next launch.  This axis never scales: the SI prefix is off from the start and stays off.
"""

from __future__ import annotations

from math import ceil, floor

import numpy as np
import pyqtgraph as pg

MAX_DECADE_LABELS = 6


class PlainAxis(pg.AxisItem):
    def __init__(self, orientation: str, **kw) -> None:
        super().__init__(orientation, **kw)
        self.autoSIPrefix = False
        self.autoSIPrefixScale = 1.0

    def updateAutoSIPrefix(self) -> None:
        # pyqtgraph computes a scale here even when the prefix is disabled: never scale
        self.autoSIPrefixScale = 1.0
        self.labelUnitPrefix = ""
        self._updateLabel()

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        """Decades only (every k-th when there are many), labelled, over a span of two decades
        or more; 1, 2 and 5 times the decades over a shorter span.  (pyqtgraph labels all
        nine minor ticks per decade, and they stacked into an unreadable pile.)"""
        lo, hi = sorted((minVal, maxVal))
        if hi - lo >= 2.0:
            first, last = ceil(lo - 1e-9), floor(hi + 1e-9)
            n = last - first + 1
            step = max(1, ceil(n / MAX_DECADE_LABELS))
            majors = list(np.arange(first, last + 1, step, dtype=float))
            minors = [float(v) for v in range(first, last + 1) if (v - first) % step]
            return [(float(step), majors), (None, minors)]
        values = [e + np.log10(m) for e in range(floor(lo) - 1, ceil(hi) + 1)
                  for m in (1.0, 2.0, 5.0)]
        return [(0.5, [float(v) for v in values if lo <= v <= hi])]

    def tickStrings(self, values, scale, spacing):
        if self.logMode and spacing is None:
            return ["" for _ in values]  # minor decades: a tick, no number
        return super().tickStrings(values, scale, spacing)

    def logTickStrings(self, values, scale, spacing):
        """Powers of ten as 10ⁿ on a span of decades; plain numbers (0.2, 0.1, 0.05) when the
        labels are 1-2-5 steps of a short span, so one axis never mixes both."""
        decades = spacing is not None and spacing >= 1.0
        out = []
        for v in values:
            x = 10.0 ** float(v) * scale
            e = int(round(np.log10(x))) if x > 0 else 0
            if decades and x > 0 and abs(np.log10(x) - e) < 1e-6 and e not in (0, 1):
                out.append(f"10{_superscript(e)}")  # a decade: 10⁻⁶
            else:
                out.append(f"{x:.3g}")
        return out


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _superscript(e: int) -> str:
    return str(e).translate(_SUP)


def plain_axes() -> dict[str, PlainAxis]:
    """axisItems for a PlotItem: left and bottom PlainAxis."""
    return {"left": PlainAxis("left"), "bottom": PlainAxis("bottom")}
