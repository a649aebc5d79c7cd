"""What an EM panel draws: the density on a grid, the data coloured by responsibilities, and
the components' ellipses, in the look of the method that fitted them."""

from __future__ import annotations

from typing import Any

import numpy as np

from genlab.engine import gmm
from genlab.labs.frame import INK, Ellipses, Heatmap, Layer, Points, Series

GRID = 150
# Responsibilities go out as soft labels (n, K) only up to this many numbers; beyond, each
# point carries the label of its most responsible component, to keep frames small.
SOFT_LABEL_LIMIT = 1_000_000
N_STD = (1.0, 2.0)
DENSITY_HEADROOM = 1.6  # the density's peak is drawn at 1/1.6 of the theme's density ramp

# Each method one look: its ellipses (solid or dashed), its panel's key and its curve; the
# components keep their palette colours, the same in both panels, so the methods are in ink.
SERIES = (Series("EM", INK), Series("Adam", INK, dashed=True))


def limits(x: np.ndarray, extra: np.ndarray | None) -> tuple[tuple[float, float],
                                                             tuple[float, float]]:
    pts = x if extra is None or len(extra) == 0 else np.concatenate([x, extra])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = hi - lo
    span = np.where(span > 1e-9, span, 2.0)
    mid = 0.5 * (lo + hi)
    lo, hi = mid - 0.6 * span, mid + 0.6 * span  # 10% margin on each side
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


class Grid:
    """The panel's extent and the cell centres where the density is evaluated."""

    def __init__(self, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
        self.extent = (xlim[0], xlim[1], ylim[0], ylim[1])
        xs = xlim[0] + (np.arange(GRID) + 0.5) * (xlim[1] - xlim[0]) / GRID
        ys = ylim[0] + (np.arange(GRID) + 0.5) * (ylim[1] - ylim[0]) / GRID
        xx, yy = np.meshgrid(xs, ys)
        self.points = np.column_stack([xx.ravel(), yy.ravel()])

    def density(self, s: gmm.GMMState) -> np.ndarray:
        logp = gmm.log_density(self.points, s.weights, s.means, s.covariances)
        return np.exp(logp).reshape(GRID, GRID)


def colours(resp: np.ndarray | None) -> dict[str, Any]:
    if resp is None:
        return {}
    if resp.size <= SOFT_LABEL_LIMIT:
        return {"soft_labels": resp}
    return {"labels": np.argmax(resp, axis=1)}


def layers(density: np.ndarray, grid: Grid, mode: str, data: Points, s: gmm.GMMState,
           method: str) -> dict[str, Layer]:
    """The layers of one method's panel; ``method`` names its Series ("EM" or "Adam")."""
    out: dict[str, Layer] = {}
    if mode != "none":
        contours = mode == "contours"
        # the image leaves the ramp's top unused, so the coloured data stay visible on the
        # densest part; contours keep their levels over the density's own range
        top = max(DENSITY_HEADROOM * float(density.max()), 1e-300)
        out["density"] = Heatmap(density, grid.extent, contours=8 if contours else 0,
                                 show_image=not contours,
                                 levels=None if contours else (0.0, top))
    out["data"] = data
    out["ellipses"] = Ellipses(s.means, s.covariances, weights=s.weights / s.weights.max(),
                               labels=np.arange(len(s.weights)), n_std=N_STD,
                               series=method)
    return out
