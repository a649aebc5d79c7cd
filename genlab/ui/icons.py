"""Playback icons drawn in the theme's text colour (the style's own icons are dark glyphs that
vanished on the dark theme)."""

from __future__ import annotations

from functools import cache

from PySide6 import QtCore, QtGui

SIZE = 64


def _path(name: str) -> QtGui.QPainterPath:
    p = QtGui.QPainterPath()
    s = SIZE

    def tri(x0: float, left: bool = False) -> None:
        w = 0.3 * s
        if left:
            p.moveTo(x0 + w, 0.22 * s)
            p.lineTo(x0, 0.5 * s)
            p.lineTo(x0 + w, 0.78 * s)
        else:
            p.moveTo(x0, 0.22 * s)
            p.lineTo(x0 + w, 0.5 * s)
            p.lineTo(x0, 0.78 * s)
        p.closeSubpath()

    if name == "play":
        p.moveTo(0.3 * s, 0.18 * s)
        p.lineTo(0.8 * s, 0.5 * s)
        p.lineTo(0.3 * s, 0.82 * s)
        p.closeSubpath()
    elif name == "pause":
        p.addRect(0.26 * s, 0.2 * s, 0.16 * s, 0.6 * s)
        p.addRect(0.58 * s, 0.2 * s, 0.16 * s, 0.6 * s)
    elif name == "step":
        tri(0.22 * s)
        p.addRect(0.6 * s, 0.22 * s, 0.12 * s, 0.56 * s)
    elif name == "back":
        p.addRect(0.28 * s, 0.22 * s, 0.12 * s, 0.56 * s)
        tri(0.48 * s, left=True)
    elif name == "stop":
        p.addRect(0.24 * s, 0.24 * s, 0.52 * s, 0.52 * s)
    elif name == "restart":
        rect = QtCore.QRectF(0.2 * s, 0.2 * s, 0.6 * s, 0.6 * s)
        p.arcMoveTo(rect, 60)
        p.arcTo(rect, 60, 280)
    return p


@cache
def icon(name: str, colour: str) -> QtGui.QIcon:
    """A playback icon ("play", "pause", "step", "back", "stop", "restart") in ``colour``."""
    img = QtGui.QPixmap(SIZE, SIZE)
    img.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(img)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    c = QtGui.QColor(colour)
    path = _path(name)
    if name == "restart":
        pen = QtGui.QPen(c, 0.09 * SIZE)
        pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawPath(path)
        end = path.pointAtPercent(1.0)
        head = QtGui.QPainterPath()
        head.moveTo(end + QtCore.QPointF(-0.13 * SIZE, -0.02 * SIZE))
        head.lineTo(end + QtCore.QPointF(0.06 * SIZE, -0.14 * SIZE))
        head.lineTo(end + QtCore.QPointF(0.07 * SIZE, 0.08 * SIZE))
        head.closeSubpath()
        painter.fillPath(head, c)
    else:
        painter.fillPath(path, c)
    painter.end()
    return QtGui.QIcon(img)
