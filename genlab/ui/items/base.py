"""The LayerItem protocol and the layer-kind -> item registry."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from genlab.labs import frame as fr
from genlab.ui.theme import Look, Theme

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
        # the frame's named series (set by the canvas before each update), and the colour
        # each name was drawn in (the series-identity test reads it)
        self.table: dict[str, fr.Series] = {}
        self.drawn: dict[str, str] = {}

    def look(self, ref: fr.SeriesRef) -> Look:
        """The colour, line style and marker of a layer's ``series``."""
        look = self.theme.look(ref, self.table)
        if isinstance(ref, str) and ref in self.table:
            self.drawn[ref] = look.colour
        return look

    def labels(self) -> list[tuple[float, float, pg.TextItem]]:
        """(anchor x, anchor y, text item) of the texts this item shows, for the canvas to
        place clear of each other (data coordinates)."""
        return []

    def anchors(self) -> np.ndarray:
        """(k, 2) points of this item that a label must not cover."""
        return np.zeros((0, 2))

    def view_changed(self) -> None:
        """The view's range or size changed (items drawn in pixel units redraw here)."""

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
    """A cached cosmetic pen (its width in pixels whatever the zoom)."""
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
