"""The one offscreen render path: Frame -> image, shared by screenshots, exports, the CLI
and the image tests, drawing with the same FrameCanvas (and MetricsView) as the window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from genlab.labs.frame import Frame
from genlab.ui.canvas import FrameCanvas
from genlab.ui.theme import Theme

METRICS_SHARE = 0.3  # of the height, when the metric plots are included


def ensure_app() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication([])
    return app


class Renderer:
    """An offscreen FrameCanvas of a fixed size; ``render`` draws a frame into a QImage.

    One Renderer per export keeps axes fixed across frames exactly as the window does.
    ``scale`` multiplies the theme's fonts, lines and markers (2 for a 4K render, so text is
    as large on the picture as in a 1080p window); ``metrics`` adds the window's metric plots
    under the canvas (fed every frame rendered, or the frames given to ``feed``);
    ``transparent`` leaves the background out (PNG with alpha, SVG without its backdrop).
    """

    def __init__(self, size: tuple[int, int], theme: Theme, scale: float = 1.0,
                 metrics: bool = False, transparent: bool = False) -> None:
        ensure_app()
        self.size = (int(size[0]), int(size[1]))
        self.theme = theme.scaled(theme.scale * scale) if scale != 1.0 else theme
        self.transparent = transparent
        self.canvas = FrameCanvas(self.theme)
        self.metrics = None
        if metrics:
            from genlab.ui.metrics import MetricsView

            self.metrics = MetricsView(self.theme)
            self.widget = QtWidgets.QWidget()
            lay = QtWidgets.QVBoxLayout(self.widget)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(0)
            lay.addWidget(self.canvas, int(round(100 * (1 - METRICS_SHARE))))
            lay.addWidget(self.metrics, int(round(100 * METRICS_SHARE)))
        else:
            self.widget = self.canvas
        if transparent:
            for view in (self.canvas, self.metrics):
                if view is not None:
                    view.setBackground(None)
                    view.setStyleSheet("background: transparent")
            self.widget.setAttribute(QtCore.Qt.WidgetAttribute.WA_TranslucentBackground, True)
        self.widget.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self.widget.resize(*self.size)
        self.widget.show()
        self._fed = -1  # how many frames of the sequence the metric plots hold

    def feed(self, history: Sequence[Frame]) -> None:
        """Give the metric plots the run's frames up to the one about to be rendered."""
        if self.metrics is None:
            return
        self.metrics.clear_all()
        for f in history:
            self.metrics.add_frame(f)
        self._fed = len(history)
        self._fit_metrics()

    def _fit_metrics(self) -> None:
        # a run with no metric or value draws no empty strip: the canvas takes the height
        if self.metrics is not None:
            self.metrics.setVisible(bool(self.metrics.plots))

    def _draw(self, frame: Frame) -> None:
        self.canvas.show_frame(frame)
        if self.metrics is not None:
            if self._fed < 0:
                self.metrics.add_frame(frame)  # a sequence rendered in order
                self._fit_metrics()
            self._fed = -1
            self.metrics.refresh(frame)
        # Let the layout settle at this size before grabbing (offscreen, no window shown).
        QtWidgets.QApplication.processEvents()
        self.widget.resize(*self.size)
        QtWidgets.QApplication.processEvents()
        if self.transparent:
            for view in (self.canvas, self.metrics):
                if view is not None:
                    view.setBackground(None)

    def render(self, frame: Frame) -> QtGui.QImage:
        """The frame as an RGB image (RGBA with a transparent background)."""
        self._draw(frame)
        if self.transparent:
            img = QtGui.QImage(*self.size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
            img.fill(QtCore.Qt.GlobalColor.transparent)
            painter = QtGui.QPainter(img)
            try:
                _paint_widget(self.widget, painter)
            finally:
                painter.end()
            return img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
        img = self.widget.grab().toImage()
        if (img.width(), img.height()) != self.size:
            img = img.scaled(*self.size, QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
                             QtCore.Qt.TransformationMode.SmoothTransformation)
        return img.convertToFormat(QtGui.QImage.Format.Format_RGB888)

    def render_svg(self, frame: Frame, path: str | Path) -> None:
        """Vector SVG of the canvas (and metric plots), painted by Qt's SVG generator.

        (pyqtgraph's SVGExporter cannot parse the path data Qt 6.11 writes.)  Scatter items
        draw their symbols as vector paths here, not from their pixmap cache.  The
        generator's resolution is the widget's, or the axes (painted from QPicture caches at
        the screen's dpi) came out scaled by 72/96 against the data.
        """
        import pyqtgraph as pg
        from PySide6 import QtSvg

        self._draw(frame)
        w, h = self.size
        gen = QtSvg.QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(QtCore.QSize(w, h))
        gen.setViewBox(QtCore.QRect(0, 0, w, h))
        gen.setResolution(self.canvas.logicalDpiX())
        gen.setTitle(frame.title)
        gen.setDescription(frame.caption)
        views = [v for v in (self.canvas, self.metrics) if v is not None]
        scatters = [it for v in views for it in v.scene().items()
                    if isinstance(it, pg.ScatterPlotItem)]
        cached = [it.opts["useCache"] for it in scatters]
        for it in scatters:
            it.opts["useCache"] = False
        painter = QtGui.QPainter(gen)
        try:
            _paint_widget(self.widget, painter)
        finally:
            painter.end()
            for it, c in zip(scatters, cached, strict=True):
                it.opts["useCache"] = c

    def close(self) -> None:
        # Not GraphicsView.close(): it drops the viewport under live items and can crash.
        self.widget.hide()
        self.widget.deleteLater()


def _paint_widget(widget: QtWidgets.QWidget, painter: QtGui.QPainter) -> None:
    # QWidget.render, not QGraphicsView.render (which hides it and draws the scene only)
    QtWidgets.QWidget.render(widget, painter, QtCore.QPoint(0, 0), QtGui.QRegion(),
                             QtWidgets.QWidget.RenderFlag.DrawChildren)


def to_array(img: QtGui.QImage) -> np.ndarray:
    """(h, w, 3) uint8 RGB copy of a QImage, or (h, w, 4) RGBA if it has an alpha channel."""
    alpha = img.hasAlphaChannel()
    fmt = QtGui.QImage.Format.Format_RGBA8888 if alpha else QtGui.QImage.Format.Format_RGB888
    img = img.convertToFormat(fmt)
    c = 4 if alpha else 3
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : w * c].reshape(h, w, c).copy()


def render_frame(frame: Frame, size: tuple[int, int], theme: Theme) -> np.ndarray:
    """Render one frame offscreen; (h, w, 3) uint8 RGB."""
    r = Renderer(size, theme)
    try:
        return to_array(r.render(frame))
    finally:
        r.close()
