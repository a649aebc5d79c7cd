"""Live metric curves: one plot per metric group (``group/series`` names), x = frame step."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Frame
from genlab.ui.theme import LIGHT, Theme


class MetricsView(pg.GraphicsLayoutWidget):
    def __init__(self, theme: Theme = LIGHT, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, tuple[list[float], list[float]]] = {}
        self.cursor: list[pg.InfiniteLine] = []
        self.setBackground(theme.background)
        self._dirty = False

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        data = self.data
        self.clear_all()
        for name, (xs, ys) in data.items():
            for x, y in zip(xs, ys, strict=True):
                self._add(name, x, y)
        self.refresh()

    def clear_all(self) -> None:
        self.clear()
        self.plots, self.curves, self.data, self.cursor = {}, {}, {}, []

    def add_frame(self, frame: Frame) -> None:
        for name, value in frame.metrics.items():
            self._add(name, float(frame.step), value)
        self._dirty = True

    def _add(self, name: str, x: float, y: float) -> None:
        group, _, series = name.partition("/")
        if name not in self.curves:
            plot = self.plots.get(group)
            if plot is None:
                plot = self.addPlot(row=0, col=len(self.plots))  # groups side by side
                plot.setTitle(group, color=self.theme.foreground,
                              size=f"{self.theme.font_pt * 0.9:.0f}pt")
                plot.addLegend(offset=(-5, 5), labelTextColor=self.theme.foreground)
                plot.showGrid(x=True, y=True, alpha=0.2)
                line = pg.InfiniteLine(angle=90, pen=pg.mkPen(self.theme.muted, width=1))
                plot.addItem(line)
                self.cursor.append(line)
                self.plots[group] = plot
            k = sum(1 for n in self.curves if n.partition("/")[0] == group)
            color = self.theme.color(k)
            self.curves[name] = plot.plot([], [], pen=pg.mkPen(color, width=2 * self.theme.scale),
                                          name=series or group)
            self.data[name] = ([], [])
        xs, ys = self.data[name]
        if xs and x <= xs[-1]:  # a repeated step (a live change while paused): replace it
            while xs and xs[-1] >= x:
                xs.pop()
                ys.pop()
        xs.append(x)
        ys.append(y)

    def refresh(self, at_step: float | None = None) -> None:
        if self._dirty:
            for name, curve in self.curves.items():
                xs, ys = self.data[name]
                curve.setData(np.asarray(xs), np.asarray(ys))
            self._dirty = False
        if at_step is not None:
            for line in self.cursor:
                line.setPos(at_step)
