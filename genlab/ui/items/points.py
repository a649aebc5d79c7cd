"""Points: one ScatterPlotItem, coloured by label, soft label, value, or series.

When only positions change between frames (the common case in an animation), the positions
are written into the item's arrays in place: ``setData`` rebuilds per-point Python records
and costs ~13 ms at 10k points, the in-place write ~0.3 ms.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Points
from genlab.ui.items.base import LayerItem, brush, pen
from genlab.ui.items.colormap import value_colors

LEVELS = 12  # colour quantisation of mixed colours: few brushes, few symbol-atlas entries
# Past this many points a coloured cloud costs the GUI thread ~3 ms per 1k points per frame
# (pyqtgraph builds per-point brushes in Python): draw a fixed random subset, and say so.
# One-colour clouds move in place and stay fast at 100k.
MAX_SHOWN = 30_000


def _brush_array(rgb: np.ndarray, alpha: int) -> np.ndarray:
    """Object array of cached QBrushes for (n, 3) float RGB, quantised to LEVELS levels."""
    q = np.clip(np.rint(rgb * (LEVELS - 1)), 0, LEVELS - 1).astype(np.int64)
    keys = (q[:, 0] * LEVELS + q[:, 1]) * LEVELS + q[:, 2]
    uniq, inv = np.unique(keys, return_inverse=True)
    table = np.empty(len(uniq), dtype=object)
    for i, k in enumerate(uniq):
        r, rest = divmod(int(k), LEVELS * LEVELS)
        g, b = divmod(rest, LEVELS)
        table[i] = brush(*(v * 255 // (LEVELS - 1) for v in (r, g, b)), alpha)
    return table[inv.ravel()]


_SYMBOLS = {"o": "o", "x": "x", "+": "+", "s": "s", "t": "t", "d": "d"}
SMALL_CLOUD = 64  # clouds up to this size are marks a label must not cover


class PointsItem(LayerItem):
    kind = Points

    def anchors(self) -> np.ndarray:
        d = self.scatter.data
        if not self.visible or len(d) == 0 or len(d) > SMALL_CLOUD:
            return np.zeros((0, 2))
        return np.column_stack([d["x"], d["y"]]).astype(float)

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.scatter = self.add(pg.ScatterPlotItem(pxMode=True, antialias=True))
        self._style: tuple | None = None
        self._colour_source: np.ndarray | None = None

    def _colour(self, layer: Points) -> tuple[str, np.ndarray | None]:
        if len(layer.xy) == 0:
            return "plain", None
        if layer.labels is not None:
            return "labels", layer.labels
        if layer.soft_labels is not None:
            return "soft", layer.soft_labels
        if layer.values is not None:
            return "values", layer.values
        return "plain", None

    def update(self, layer: Points) -> None:
        n_all = len(layer.xy)
        coloured = any(a is not None for a in (layer.labels, layer.soft_labels, layer.values))
        if n_all > MAX_SHOWN and coloured:
            layer = _subset(layer, MAX_SHOWN)
            self.note = f"showing {MAX_SHOWN:,} of {n_all:,} points"
        else:
            self.note = ""
        th = self.theme
        n = len(layer.xy)
        mode, source = self._colour(layer)
        look = self.look(layer.series)
        sizes_key = None if layer.sizes is None else layer.sizes.tobytes()
        style = (n, mode, layer.size, layer.alpha, look, layer.highlight, id(th), sizes_key)
        same_colours = source is None or (
            self._colour_source is not None and source.shape == self._colour_source.shape
            and np.array_equal(source, self._colour_source))
        if style == self._style and same_colours and n:
            self._move(layer.xy)
            return
        alpha = int(round(255 * float(np.clip(layer.alpha, 0, 1))))
        rgb = None
        if mode == "labels":
            k = int(layer.labels.max()) + 1
            rgb = th.palette_rgb(k)[np.mod(layer.labels, k)]
        elif mode == "soft":
            w = layer.soft_labels
            rgb = np.clip(w @ th.palette_rgb(w.shape[1]), 0, 1)
        elif mode == "values":
            rgb = value_colors(layer.values, th)
        if rgb is None:
            c = pg.mkColor(look.colour)
            brushes = brush(c.red(), c.green(), c.blue(), alpha)
        else:
            brushes = _brush_array(rgb, alpha)
        size = th.marker * layer.size * (1.7 if layer.highlight else 1.0)
        if layer.sizes is not None:
            size = size * np.clip(layer.sizes, 0.0, 10.0)
        outline = pen(th.foreground, th.line) if layer.highlight else pg.mkPen(None)
        symbol = _SYMBOLS.get(look.marker, "o")
        if symbol in ("x", "+") and rgb is None:
            # strokes only: a filled cross is a blob that hides what it marks
            outline = pen(look.colour, th.line)
            brushes = brush(0, 0, 0, 0)
        self.scatter.setData(x=layer.xy[:, 0], y=layer.xy[:, 1], size=size, brush=brushes,
                             pen=outline, symbol=symbol)
        self._style, self._colour_source = style, source

    def _move(self, xy: np.ndarray) -> None:
        """Write new positions into the scatter's arrays (same count, same colours)."""
        sp = self.scatter
        sp.data["x"] = xy[:, 0]
        sp.data["y"] = xy[:, 1]
        sp.prepareGeometryChange()
        sp.bounds = [None, None]
        sp.informViewBoundsChanged()
        sp.invalidate()


@lru_cache(maxsize=8)
def _indices(n: int, m: int) -> np.ndarray:
    return np.sort(np.random.default_rng(0).permutation(n)[:m])


def _subset(layer: Points, m: int) -> Points:
    """The same m points of every frame of a run (a fixed permutation of the indices)."""
    idx = _indices(len(layer.xy), m)

    def pick(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[idx]

    return Points(layer.xy[idx], labels=pick(layer.labels), soft_labels=pick(layer.soft_labels),
                  values=pick(layer.values), size=layer.size, alpha=layer.alpha,
                  series=layer.series, highlight=layer.highlight, sizes=pick(layer.sizes))
