"""The LayerItem protocol and the layer-kind -> item registry."""

from __future__ import annotations

from typing import Any, ClassVar

import pyqtgraph as pg
from PySide6 import QtGui

from genlab.labs import frame as fr
from genlab.ui.theme import Theme

_REGISTRY: dict[type, type[LayerItem]] = {}


class LayerItem:
    """Draws one layer kind into a PlotItem; ``update`` reuses the graphics items."""

    kind: ClassVar[type]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    def __init__(self, plot: pg.PlotItem, theme: Theme) -> None:
        self.plot = plot
        self.theme = theme
        self.z = 0.0
        self.note = ""  # e.g. "showing 30,000 of 100,000 points", added to the panel title
        self.visible = True
        self._items: list[pg.GraphicsObject] = []

    def add(self, item: pg.GraphicsObject) -> pg.GraphicsObject:
        item.setZValue(self.z)
        self.plot.addItem(item)
        self._items.append(item)
        return item

    def set_z(self, z: float) -> None:
        self.z = z
        for it in self._items:
            it.setZValue(z)

    def set_visible(self, visible: bool) -> None:
        """Hide a layer absent from the frame (kept for reuse; ``update`` re-hides any of
        its sub-items it does not need when it is shown again)."""
        self.visible = visible
        for it in self._items:
            it.setVisible(visible)

    def update(self, layer: Any) -> None:
        raise NotImplementedError

    def remove(self) -> None:
        for it in self._items:
            self.plot.removeItem(it)
        self._items.clear()


def item_for(layer: fr.Layer, plot: pg.PlotItem, theme: Theme) -> LayerItem:
    return _REGISTRY[type(layer)](plot, theme)


_brushes: dict[tuple[int, int, int, int], QtGui.QBrush] = {}
_pens: dict[tuple[str, float, int, bool], QtGui.QPen] = {}


def brush(r: int, g: int, b: int, a: int = 255) -> QtGui.QBrush:
    key = (r, g, b, a)
    if key not in _brushes:
        _brushes[key] = pg.mkBrush(r, g, b, a)
    return _brushes[key]


def pen(color: str, width: float, alpha: int = 255, dashed: bool = False) -> QtGui.QPen:
    key = (color, round(width, 2), alpha, dashed)
    if key not in _pens:
        c = QtGui.QColor(color)
        c.setAlpha(alpha)
        p = pg.mkPen(c, width=width)
        p.setCosmetic(True)
        if dashed:
            p.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
        _pens[key] = p
    return _pens[key]
