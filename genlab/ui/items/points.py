"""Points: one ScatterPlotItem, coloured by label, soft label, value, or series."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Points
from genlab.ui.items.base import LayerItem, brush, pen
from genlab.ui.items.colormap import value_colors


def _brush_array(rgb: np.ndarray, alpha: int) -> np.ndarray:
    """Object array of cached QBrushes for (n, 3) float RGB, quantised to 32 levels."""
    q = np.clip(np.rint(rgb * 31), 0, 31).astype(np.int64)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    uniq, inv = np.unique(keys, return_inverse=True)
    table = np.empty(len(uniq), dtype=object)
    for i, k in enumerate(uniq):
        r, g, b = (int(k) >> 10) & 31, (int(k) >> 5) & 31, int(k) & 31
        table[i] = brush(r * 255 // 31, g * 255 // 31, b * 255 // 31, alpha)
    return table[inv.ravel()]


class PointsItem(LayerItem):
    kind = Points

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.scatter = self.add(pg.ScatterPlotItem(pxMode=True, antialias=True))

    def update(self, layer: Points) -> None:
        th = self.theme
        alpha = int(round(255 * float(np.clip(layer.alpha, 0, 1))))
        n = len(layer.xy)
        rgb = None
        if layer.labels is not None and n:
            k = int(layer.labels.max()) + 1
            rgb = th.palette_rgb(k)[np.mod(layer.labels, k)]
        elif layer.soft_labels is not None and n:
            w = layer.soft_labels
            rgb = np.clip(w @ th.palette_rgb(w.shape[1]), 0, 1)
        elif layer.values is not None and n:
            rgb = value_colors(layer.values, th)
        if rgb is None:
            c = pg.mkColor(th.points if layer.series == 0 else th.color(layer.series - 1))
            brushes = brush(c.red(), c.green(), c.blue(), alpha)
        else:
            brushes = _brush_array(rgb, alpha)
        size = th.marker * layer.size * (1.7 if layer.highlight else 1.0)
        outline = pen(th.foreground, th.line) if layer.highlight else pg.mkPen(None)
        self.scatter.setData(x=layer.xy[:, 0], y=layer.xy[:, 1], size=size, brush=brushes,
                             pen=outline)
