"""Small geometry and text helpers the plane labs share (no Qt, numpy only)."""

from __future__ import annotations

import numpy as np


def cells(xlim: tuple[float, float], ylim: tuple[float, float], n: int) -> np.ndarray:
    """Centres (n*n, 2) of an n x n grid of cells over the box, row-major from the bottom: the
    order of a ``Heatmap``'s values."""
    xs = xlim[0] + (np.arange(n) + 0.5) * (xlim[1] - xlim[0]) / n
    ys = ylim[0] + (np.arange(n) + 0.5) * (ylim[1] - ylim[0]) / n
    xx, yy = np.meshgrid(xs, ys)
    return np.column_stack([xx.ravel(), yy.ravel()])


def square_limits(x: np.ndarray, half_of_span: float = 0.6
                  ) -> tuple[tuple[float, float], tuple[float, float]]:
    """A square box around the points x (n, 2) (equal-aspect panels): centred on their
    bounding box, half side ``half_of_span`` × its larger side (0.6: a 10% margin)."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    mid = 0.5 * (lo + hi)
    half = half_of_span * max(float((hi - lo).max()), 1e-3)
    return ((float(mid[0] - half), float(mid[0] + half)),
            (float(mid[1] - half), float(mid[1] + half)))


def signed(v: float, digits: int = 3) -> str:
    """v with ``digits`` decimals and a true minus sign (−), for captions."""
    return f"{v:.{digits}f}".replace("-", "−")
