"""Live metric curves: one plot per metric group (``group/series`` names), x = frame step.

Groups a frame lists in ``log_metrics`` get a logarithmic y axis (e.g. Sinkhorn's marginal
violation falling from 1 to 1e-9); their values are floored at 1e-300 so a zero cannot
break the axis.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Frame
from genlab.ui.canvas import title_takes_no_width
from genlab.ui.theme import LIGHT, Theme


class MetricsView(pg.GraphicsLayoutWidget):
    """Plots are pooled and curves reused, never deleted: deleting pyqtgraph items that own
    text children (legend labels, titles) crashed Qt in a later repaint with this binding.
    The series names are written, in their colours, into each plot's title instead of a
    legend, so a new run only retitles and refills the plots it reuses."""

    def __init__(self, theme: Theme = LIGHT, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, tuple[list[float], list[float]]] = {}
        self.cursor: list[pg.InfiniteLine] = []
        self.log_groups: set[str] = set()
        self._free: list[pg.PlotItem] = []  # pooled plots not in the layout
        self._series: dict[str, list[str]] = {}  # group -> series names, in curve order
        self._colours: dict[str, int] = {}  # series name -> palette colour the lab asked for
        self.setBackground(theme.background)
        self._dirty = False

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the plots in place."""
        self.theme = theme
        self.setBackground(theme.background)
        for group, plot in self.plots.items():
            self._style_plot(plot, group)
        for line in self.cursor:
            line.setPen(pg.mkPen(theme.muted, width=1))
        for name, curve in self.curves.items():
            curve.setPen(self._pen(name))

    def _style_plot(self, plot: pg.PlotItem, group: str) -> None:
        th = self.theme
        names = self._series.get(group, [])
        if len(names) > 1 or (names and names[0]):
            keys = " ".join(
                f'<span style="color:{th.color(self._colour(group, n))}">━&nbsp;'
                f'{html.escape(n)}</span>' for n in names)
            text = f"{html.escape(group)} &nbsp;{keys}"
        else:
            text = html.escape(group)
        plot.setTitle(text, color=th.foreground, size=f"{th.font_pt * 0.9:.0f}pt")
        for side in ("left", "bottom"):
            ax = plot.getAxis(side)
            ax.setPen(pg.mkPen(th.muted))
            ax.setTextPen(pg.mkPen(th.foreground))

    def _colour(self, group: str, series: str) -> int:
        if series in self._colours:
            return self._colours[series]
        return self._series[group].index(series)

    def _pen(self, name: str):
        group, _, series = name.partition("/")
        return pg.mkPen(self.theme.color(self._colour(group, series)),
                        width=2 * self.theme.scale)

    def clear_all(self) -> None:
        for plot in self.plots.values():
            for curve in plot.genlab_curves:
                curve.setData([], [])
                curve.setVisible(False)
            self.removeItem(plot)
            self._free.append(plot)
        self.plots, self.curves, self.data = {}, {}, {}
        self.cursor, self.log_groups, self._series = [], set(), {}
        self._colours = {}

    def add_frame(self, frame: Frame) -> None:
        self.log_groups.update(frame.log_metrics)
        self._colours.update(frame.metric_colours)
        for name, value in frame.metrics.items():
            self._add(name, float(frame.step), value)
        self._dirty = True

    def _plot_for(self, group: str) -> pg.PlotItem:
        plot = self.plots.get(group)
        if plot is not None:
            return plot
        if self._free:
            plot = self._free.pop(0)
        else:
            plot = pg.PlotItem()
            title_takes_no_width(plot.titleLabel)  # legends in titles must not widen plots
            plot.setPreferredWidth(1)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.genlab_curves = []
            plot.genlab_cursor = pg.InfiniteLine(angle=90)
            plot.addItem(plot.genlab_cursor)
        self.addItem(plot, row=0, col=len(self.plots))  # groups side by side
        plot.setLogMode(x=False, y=group in self.log_groups)
        plot.genlab_cursor.setPen(pg.mkPen(self.theme.muted, width=1))
        plot.enableAutoRange()
        self.cursor.append(plot.genlab_cursor)
        self.plots[group] = plot
        self._series[group] = []
        return plot

    def _add(self, name: str, x: float, y: float) -> None:
        group, _, series = name.partition("/")
        if name not in self.curves:
            plot = self._plot_for(group)
            k = len(self._series[group])
            self._series[group].append(series)
            if k < len(plot.genlab_curves):
                curve = plot.genlab_curves[k]
                curve.setVisible(True)
            else:
                curve = plot.plot([], [])
                plot.genlab_curves.append(curve)
            self.curves[name] = curve
            curve.setPen(self._pen(name))
            self._style_plot(plot, group)
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
