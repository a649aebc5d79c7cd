"""Live metric curves: one plot per metric group (``group/series`` names), x = frame step.

Groups a frame lists in ``log_metrics`` get a logarithmic y axis (e.g. Sinkhorn's marginal
violation falling from 1 to 1e-9); their values are floored at 1e-300 so a zero cannot
break the axis.
"""

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
        self.log_groups: set[str] = set()
        self.setBackground(theme.background)
        self._dirty = False

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the existing plots in place.

        Clearing and rebuilding the plots here let a pending repaint reach deleted items
        (an intermittent segfault when the theme changed during a run).
        """
        self.theme = theme
        self.setBackground(theme.background)
        for group, plot in self.plots.items():
            self._style_plot(plot, group)
        for line in self.cursor:
            line.setPen(pg.mkPen(theme.muted, width=1))
        for name, curve in self.curves.items():
            curve.setPen(self._pen(name))
        for plot in self.plots.values():
            legend = plot.legend
            if legend is not None:
                legend.setLabelTextColor(theme.foreground)

    def _style_plot(self, plot: pg.PlotItem, group: str) -> None:
        th = self.theme
        plot.setTitle(group, color=th.foreground, size=f"{th.font_pt * 0.9:.0f}pt")
        for side in ("left", "bottom"):
            ax = plot.getAxis(side)
            ax.setPen(pg.mkPen(th.muted))
            ax.setTextPen(pg.mkPen(th.foreground))

    def _pen(self, name: str):
        group = name.partition("/")[0]
        k = [n for n in self.curves if n.partition("/")[0] == group].index(name)
        return pg.mkPen(self.theme.color(k), width=2 * self.theme.scale)

    def clear_all(self) -> None:
        self.clear()
        self.plots, self.curves, self.data, self.cursor = {}, {}, {}, []
        self.log_groups = set()

    def add_frame(self, frame: Frame) -> None:
        self.log_groups.update(frame.log_metrics)
        for name, value in frame.metrics.items():
            self._add(name, float(frame.step), value)
        self._dirty = True

    def _add(self, name: str, x: float, y: float) -> None:
        group, _, series = name.partition("/")
        if name not in self.curves:
            plot = self.plots.get(group)
            if plot is None:
                plot = self.addPlot(row=0, col=len(self.plots))  # groups side by side
                self._style_plot(plot, group)
                plot.addLegend(offset=(-5, 5), labelTextColor=self.theme.foreground)
                plot.showGrid(x=True, y=True, alpha=0.2)
                if group in self.log_groups:
                    plot.setLogMode(x=False, y=True)
                line = pg.InfiniteLine(angle=90, pen=pg.mkPen(self.theme.muted, width=1))
                plot.addItem(line)
                self.cursor.append(line)
                self.plots[group] = plot
            k = sum(1 for n in self.curves if n.partition("/")[0] == group)
            color = self.theme.color(k)
            self.curves[name] = plot.plot([], [], pen=pg.mkPen(color, width=2 * self.theme.scale),
                                          name=series or group)
            self._dirty = True
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
                y = np.asarray(ys, dtype=float)
                if name.partition("/")[0] in self.log_groups:
                    y = np.maximum(y, 1e-300)
                curve.setData(np.asarray(xs), y)
            self._dirty = False
        if at_step is not None:
            for line in self.cursor:
                line.setPos(at_step)
