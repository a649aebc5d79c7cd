"""Heatmap: an ImageItem on the layer's extent, with optional iso-lines."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from genlab.labs.frame import Heatmap
from genlab.ui.items.base import LayerItem, pen
from genlab.ui.items.colormap import lut


class HeatmapItem(LayerItem):
    kind = Heatmap

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.image = self.add(pg.ImageItem(axisOrder="row-major"))
        self.contours = self.add(pg.PlotCurveItem(connect="finite", antialias=True))

    def set_z(self, z: float) -> None:
        super().set_z(z)
        self.image.setZValue(z - 1000)  # densities sit under every other layer

    def update(self, layer: Heatmap) -> None:
        v = layer.values
        x0, x1, y0, y1 = layer.extent
        lo, hi = layer.levels or (float(v.min()), float(v.max()))
        if hi <= lo:
            hi = lo + 1.0
        self.image.setVisible(layer.show_image)
        if layer.show_image:
            self.image.setImage(v, levels=(lo, hi), lut=lut(self.theme), autoLevels=False)
            self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        if layer.contours > 0:
            xy = _iso_lines(v, layer.extent, np.linspace(lo, hi, layer.contours + 2)[1:-1])
            self.contours.setData(x=xy[:, 0], y=xy[:, 1],
                                  pen=pen(self.theme.density_high, self.theme.line * 0.8, 200))
            self.contours.setVisible(True)
        else:
            self.contours.setVisible(False)


def _iso_lines(v: np.ndarray, extent: tuple[float, ...], levels: np.ndarray) -> np.ndarray:
    """Iso-lines of v at levels, in data coordinates, NaN-separated, shape (m, 2)."""
    x0, x1, y0, y1 = extent
    ny, nx = v.shape
    sx, sy = (x1 - x0) / nx, (y1 - y0) / ny
    parts = []
    for level in levels:
        # isocurve takes data indexed [x, y] and returns index coordinates (x, y).
        for line in pg.functions.isocurve(v.T, float(level), connected=True):
            a = np.asarray(line, float)
            parts.append(np.column_stack([x0 + (a[:, 0] + 0.5) * sx, y0 + (a[:, 1] + 0.5) * sy]))
            parts.append(np.full((1, 2), np.nan))
    return np.concatenate(parts) if parts else np.full((1, 2), np.nan)
