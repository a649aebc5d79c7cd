"""Ellipses: one closed curve per component (all its n_std rings), plus centre markers."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Ellipses
from genlab.ui.items.base import LayerItem, brush, pen

_T = np.linspace(0.0, 2.0 * np.pi, 73)
_CIRCLE = np.stack([np.cos(_T), np.sin(_T)], axis=1)  # (73, 2)


def ellipse_outlines(means: np.ndarray, covs: np.ndarray, n_std: tuple[float, ...]) -> np.ndarray:
    """(k, len(n_std), 73, 2) outlines {mu + s L u : |u| = 1} with L L^T = Sigma (eigh)."""
    vals, vecs = np.linalg.eigh(covs)
    root = vecs * np.sqrt(np.clip(vals, 0, None))[:, None, :]  # (k, 2, 2)
    ring = np.einsum("kij,tj->kti", root, _CIRCLE)  # (k, 73, 2)
    s = np.asarray(n_std, float)[None, :, None, None]
    return means[:, None, None, :] + s * ring[:, None]


class EllipsesItem(LayerItem):
    kind = Ellipses

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curves: list[pg.PlotCurveItem] = []
        self.centres = self.add(pg.ScatterPlotItem(pxMode=True))

    def update(self, layer: Ellipses) -> None:
        th = self.theme
        k = len(layer.means)
        while len(self.curves) < k:
            self.curves.append(self.add(pg.PlotCurveItem(connect="finite", antialias=True)))
        outlines = ellipse_outlines(layer.means, layer.covs, layer.n_std)
        labels = layer.labels if layer.labels is not None else np.arange(k)
        dashed = layer.dashed or (layer.series is not None and self.look(layer.series).dashed)
        weights = layer.weights if layer.weights is not None else np.ones(k)
        brushes = []
        for i, curve in enumerate(self.curves):
            if i >= k:
                curve.setVisible(False)
                continue
            w = float(np.clip(weights[i], 0.0, 1.0))
            color = th.color(int(labels[i]))
            alpha = int(70 + 185 * w)
            width = th.line * (0.8 + 1.7 * w)
            rings = outlines[i]
            nan = np.full((len(rings), 1, 2), np.nan)
            xy = np.concatenate([rings, nan], axis=1).reshape(-1, 2)
            curve.setData(x=xy[:, 0], y=xy[:, 1], pen=pen(color, width, alpha, dashed))
            curve.setVisible(True)
            c = pg.mkColor(color)
            brushes.append(brush(c.red(), c.green(), c.blue(), alpha))
        self.centres.setData(x=layer.means[:, 0], y=layer.means[:, 1], brush=brushes,
                             size=th.marker * 1.8, symbol="+" if dashed else "o",
                             pen=pen(th.background, th.line * 0.8))
