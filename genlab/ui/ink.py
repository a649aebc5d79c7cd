"""Ink over the canvas for a lecturer: a pen, a laser dot, and a blank screen.

``InkOverlay`` is a transparent widget laid over the canvas.  It never changes the run: the
strokes live in widget pixels, on top.  When neither the pen nor the laser is on, the mouse
goes through to the canvas (pan, zoom, handles) as usual.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

INK_COLOURS = ("#E0202A", "#1F77D0", "#1A9A3A", "#F2A900")  # red, blue, green, amber
LASER = "#FF2020"


class InkOverlay(QtWidgets.QWidget):
    changed = QtCore.Signal()

    def __init__(self, target: QtWidgets.QWidget) -> None:
        super().__init__(target)
        self.target = target
        self.mode = "off"  # "off" | "pen" | "laser"
        self.colour = 0
        self.width_px = 4.0
        self.strokes: list[tuple[str, QtGui.QPainterPath]] = []
        self._current: QtGui.QPainterPath | None = None
        self.laser_at: QtCore.QPointF | None = None
        self.blanked = False
        self.blank_colour = QtGui.QColor("#FFFFFF")
        self.setMouseTracking(True)
        self._sync_mouse()
        target.installEventFilter(self)
        self.setGeometry(target.rect())
        self.raise_()
        self.show()

    # -- state -------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        self.mode = mode if mode in ("off", "pen", "laser") else "off"
        self.laser_at = None
        self._sync_mouse()
        self.setCursor(QtCore.Qt.CursorShape.CrossCursor if self.mode == "pen" else
                       QtCore.Qt.CursorShape.BlankCursor if self.mode == "laser" else
                       QtCore.Qt.CursorShape.ArrowCursor)
        self.update()
        self.changed.emit()

    def toggle(self, mode: str) -> None:
        self.set_mode("off" if self.mode == mode else mode)

    def next_colour(self) -> None:
        self.colour = (self.colour + 1) % len(INK_COLOURS)
        self.changed.emit()

    def undo(self) -> bool:
        if not self.strokes:
            return False
        self.strokes.pop()
        self.update()
        return True

    def clear(self) -> None:
        self.strokes.clear()
        self._current = None
        self.update()

    def set_blank(self, blank: bool, colour: str | None = None) -> None:
        """Cover the canvas with the theme's background ("." or B on a clicker)."""
        self.blanked = blank
        if colour is not None:
            self.blank_colour = QtGui.QColor(colour)
        self._sync_mouse()
        self.update()

    def _sync_mouse(self) -> None:
        through = self.mode == "off" and not self.blanked
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents, through)

    # -- events -----------------------------------------------------------------------------
    def eventFilter(self, obj, ev) -> bool:
        if obj is self.target and ev.type() == QtCore.QEvent.Type.Resize:
            self.setGeometry(self.target.rect())
            self.raise_()
        return False

    def mousePressEvent(self, ev) -> None:
        if self.mode == "pen" and ev.button() == QtCore.Qt.MouseButton.LeftButton:
            self._current = QtGui.QPainterPath(ev.position())
            self.strokes.append((INK_COLOURS[self.colour], self._current))
            self.update()

    def mouseMoveEvent(self, ev) -> None:
        if self.mode == "pen" and self._current is not None:
            self._current.lineTo(ev.position())
            self.update()
        elif self.mode == "laser":
            self.laser_at = ev.position()
            self.update()

    def mouseReleaseEvent(self, ev) -> None:
        self._current = None

    def leaveEvent(self, ev) -> None:
        self.laser_at = None
        self.update()

    def paintEvent(self, ev) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        if self.blanked:
            p.fillRect(self.rect(), self.blank_colour)
            return
        for colour, path in self.strokes:
            pen = QtGui.QPen(QtGui.QColor(colour), self.width_px)
            pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(QtCore.Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            p.drawPath(path)
        if self.mode == "laser" and self.laser_at is not None:
            c = QtGui.QColor(LASER)
            for r, a in ((14, 50), (9, 110), (5, 255)):
                c.setAlpha(a)
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(c)
                p.drawEllipse(self.laser_at, r, r)
