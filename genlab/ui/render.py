"""The one offscreen render path: Frame -> image, shared by screenshots, exports, the CLI
and the image tests, drawing with the same FrameCanvas as the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from genlab.labs.frame import Frame
from genlab.ui.canvas import FrameCanvas
from genlab.ui.theme import Theme


def ensure_app() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication([])
    return app


class Renderer:
    """An offscreen FrameCanvas of a fixed size; ``render`` draws a frame into a QImage.

    One Renderer per export keeps axes fixed across frames exactly as the window does.
    """

    def __init__(self, size: tuple[int, int], theme: Theme) -> None:
        ensure_app()
        self.size = (int(size[0]), int(size[1]))
        self.canvas = FrameCanvas(theme)
        self.canvas.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self.canvas.resize(*self.size)
        self.canvas.show()

    def _draw(self, frame: Frame) -> None:
        self.canvas.show_frame(frame)
        # Let the layout settle at this size before grabbing (offscreen, no window shown).
        QtWidgets.QApplication.processEvents()
        self.canvas.resize(*self.size)
        QtWidgets.QApplication.processEvents()

    def render(self, frame: Frame) -> QtGui.QImage:
        self._draw(frame)
        img = self.canvas.grab().toImage()
        if (img.width(), img.height()) != self.size:
            img = img.scaled(*self.size, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
                             QtCore.Qt.TransformationMode.SmoothTransformation)
        return img.convertToFormat(QtGui.QImage.Format.Format_RGB888)

    def render_svg(self, frame: Frame, path: str | Path) -> None:
        """Vector SVG of the canvas, painted by Qt's SVG generator.

        (pyqtgraph's SVGExporter cannot parse the path data Qt 6.11 writes.)  Scatter items
        draw their symbols as vector paths here, not from their pixmap cache.
        """
        import pyqtgraph as pg
        from PySide6 import QtSvg

        self._draw(frame)
        w, h = self.size
        gen = QtSvg.QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(QtCore.QSize(w, h))
        gen.setViewBox(QtCore.QRect(0, 0, w, h))
        gen.setTitle(frame.title)
        gen.setDescription(frame.caption)
        scatters = [it for it in self.canvas.scene().items()
                    if isinstance(it, pg.ScatterPlotItem)]
        cached = [it.opts["useCache"] for it in scatters]
        for it in scatters:
            it.opts["useCache"] = False
        painter = QtGui.QPainter(gen)
        try:
            self.canvas.render(painter)
        finally:
            painter.end()
            for it, c in zip(scatters, cached, strict=True):
                it.opts["useCache"] = c

    def close(self) -> None:
        # Not GraphicsView.close(): it drops the viewport under live items and can crash.
        self.canvas.hide()
        self.canvas.deleteLater()


def to_array(img: QtGui.QImage) -> np.ndarray:
    """(h, w, 3) uint8 RGB copy of a QImage."""
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def render_frame(frame: Frame, size: tuple[int, int], theme: Theme) -> np.ndarray:
    """Render one frame offscreen; (h, w, 3) uint8 RGB."""
    r = Renderer(size, theme)
    try:
        return to_array(r.render(frame))
    finally:
        r.close()
