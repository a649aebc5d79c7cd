"""Handles: points the user drags; each move reports the bound parameter values.

The canvas sets ``on_drag`` (values by parameter name, finished) on every HandlesItem it
creates; the window turns the values into a parameter change (live while the mouse moves, a
restart on release for fields that are not live).  The marker follows the mouse at once, so
a drag feels immediate even when the lab's next frame is a few tens of ms away.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from genlab.labs.frame import Handles
from genlab.ui.items.base import LayerItem, brush, pen
from genlab.ui.items.text import text_html

DragCallback = Callable[[dict[str, float], bool], None]


class _DragScatter(pg.ScatterPlotItem):
    def __init__(self, owner: HandlesItem) -> None:
        super().__init__(pxMode=True, antialias=True)
        self.owner = owner
        self.dragging: int | None = None
        self.setAcceptHoverEvents(True)

    def _index_at(self, pos: QtCore.QPointF) -> int | None:
        pts = self.pointsAt(pos)
        return int(pts[0].index()) if len(pts) else None

    def hoverEvent(self, ev) -> None:
        if ev.isExit():
            self.unsetCursor()
            return
        over = self._index_at(ev.pos()) is not None
        if over:
            ev.acceptDrags(QtCore.Qt.MouseButton.LeftButton)
            self.setCursor(QtCore.Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            self.dragging = self._index_at(ev.buttonDownPos())
        if self.dragging is None:
            ev.ignore()
            return
        ev.accept()
        p = ev.pos()
        self.owner.moved(self.dragging, p.x(), p.y(), ev.isFinish())
        if ev.isFinish():
            self.dragging = None

    def mouseClickEvent(self, ev) -> None:
        if self._index_at(ev.pos()) is not None:
            ev.accept()  # a click on a handle is not a paint dab or a placed point
        else:
            ev.ignore()


class HandlesItem(LayerItem):
    kind = Handles

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.scatter = self.add(_DragScatter(self))
        self.texts: list[pg.TextItem] = []
        self.layer: Handles | None = None
        self.xy = np.zeros((0, 2))
        self.on_drag: DragCallback | None = None
        self.on_moved: Callable[[], None] | None = None  # the canvas re-places the labels

    def set_z(self, z: float) -> None:
        super().set_z(z + 1000.0)  # above every other layer, so a handle is always grabbable

    def update(self, layer: Handles) -> None:
        self.layer = layer
        if self.scatter.dragging is None:  # the lab's frame must not yank a handle mid-drag
            self.xy = np.array(layer.xy, dtype=float)
        self._draw()

    def _draw(self) -> None:
        th, layer = self.theme, self.layer
        if layer is None:
            return
        color = self.look(layer.series).colour
        c = pg.mkColor(color)
        size = 16 * th.scale
        self.scatter.setData(pos=self.xy, size=size, symbol="o",
                             brush=brush(c.red(), c.green(), c.blue(), 110),
                             pen=pen(color, 2.5 * th.scale))
        bg = pg.mkColor(th.background)
        bg.setAlpha(170)  # a translucent backing, as for Labels: legible over trails
        while len(self.texts) < len(layer.texts):
            self.texts.append(self.add(pg.TextItem(anchor=(0.5, 0.5), fill=pg.mkBrush(bg))))
        for t in self.texts:
            t.fill = pg.mkBrush(bg)
        # the text in ink: a label in the handle's own colour sat grey on blue
        for i, item in enumerate(self.texts):
            shown = i < len(layer.texts) and i < len(self.xy)
            item.setVisible(shown)
            if shown:
                item.setHtml(text_html(layer.texts[i], th.foreground, th.font_pt))
                item.setPos(float(self.xy[i, 0]), float(self.xy[i, 1]))
        if self.on_moved is not None:
            self.on_moved()

    def labels(self) -> list[tuple[float, float, pg.TextItem]]:
        if self.layer is None:
            return []
        n = min(len(self.layer.texts), len(self.xy))
        return [(float(self.xy[i, 0]), float(self.xy[i, 1]), self.texts[i]) for i in range(n)]

    def anchors(self) -> np.ndarray:
        return self.xy if self.visible else np.zeros((0, 2))

    def moved(self, i: int, x: float, y: float, finished: bool) -> None:
        layer = self.layer
        if layer is None or i >= len(self.xy):
            return
        values: dict[str, float] = {}
        if layer.x_params[i] is not None:
            values[layer.x_params[i]] = x
            self.xy[i, 0] = x
        if layer.y_params[i] is not None:
            values[layer.y_params[i]] = y
            self.xy[i, 1] = y
        self._draw()
        if values and self.on_drag is not None:
            self.on_drag(values, finished)
