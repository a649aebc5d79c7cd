"""Arrows: shafts in data units, heads and a minimum length in pixels (redrawn on zoom)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from genlab.labs.frame import Arrows
from genlab.ui.items.base import LayerItem, pen

HEAD_PX = 9.0  # head length at scale 1
HEAD_ANGLE = 0.45  # radians either side of the shaft


def arrow_polylines(starts_px: np.ndarray, ends_px: np.ndarray, min_px: float,
                    head_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel geometry of arrows: (m * 6, 2) points for ``connect="pairs"`` (shaft and two head
    strokes each) and (m,) flags for the arrows lengthened to ``min_px``.  A zero arrow (no
    direction) is left out."""
    d = ends_px - starts_px
    length = np.linalg.norm(d, axis=1)
    ok = length > 1e-9
    unit = np.where(ok[:, None], d / np.maximum(length, 1e-9)[:, None], 0.0)
    short = ok & (length < min_px)
    tip = np.where(short[:, None], starts_px + unit * min_px, ends_px)
    c, s = np.cos(HEAD_ANGLE), np.sin(HEAD_ANGLE)
    bx, by = -unit[:, 0] * head_px, -unit[:, 1] * head_px
    left = tip + np.column_stack([c * bx - s * by, s * bx + c * by])  # back, turned +angle
    right = tip + np.column_stack([c * bx + s * by, -s * bx + c * by])  # and -angle
    pts = np.stack([starts_px, tip, tip, left, tip, right], axis=1)[ok]
    return pts.reshape(-1, 2), short


class ArrowsItem(LayerItem):
    kind = Arrows

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curve = self.add(pg.PlotCurveItem(connect="pairs", antialias=True))
        self.layer: Arrows | None = None

    def update(self, layer: Arrows) -> None:
        self.layer = layer
        self._draw()

    def view_changed(self) -> None:
        if self.visible:
            self._draw()

    def anchors(self) -> np.ndarray:
        return np.zeros((0, 2)) if self.layer is None else np.asarray(self.layer.starts)

    def _draw(self) -> None:
        layer = self.layer
        vb = self.plot.getViewBox()
        if layer is None or len(layer.starts) == 0 or vb.width() <= 0:
            self.curve.setData(x=[], y=[])
            self.note = ""
            return

        def to_px(a: np.ndarray) -> np.ndarray:
            return np.array([[p.x(), p.y()] for p in
                             (vb.mapViewToScene(QtCore.QPointF(*map(float, r))) for r in a)])

        th = self.theme
        pts, short = arrow_polylines(to_px(layer.starts), to_px(layer.ends),
                                     layer.min_px * th.scale, HEAD_PX * th.scale)
        if len(pts) == 0:
            self.curve.setData(x=[], y=[])
            return
        data = np.array([[q.x(), q.y()] for q in
                         (vb.mapSceneToView(QtCore.QPointF(*map(float, r))) for r in pts)])
        self.note = "short arrows drawn longer" if short.any() else ""
        self.curve.setData(x=data[:, 0], y=data[:, 1],
                           pen=pen(self.look(layer.series).colour, th.line * 1.6))
