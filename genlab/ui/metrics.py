"""Live metric curves: one plot per metric group (``group/series`` names) against the lab's own
unit (``Frame.x``, labelled ``Frame.xlabel``), and end values (``Frame.values``) as bars.

A series the frame names in ``Frame.series`` takes its colour and line style from there, so a
curve has the look of the same thing in the panels; any other series takes a palette colour
that no named series of the frame uses.  Groups a frame lists in ``log_metrics`` get a
logarithmic y axis (e.g. Sinkhorn's marginal violation falling from 1 to 1e-9); their values
are floored at 1e-300 so a zero cannot break the axis.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Frame, Series
from genlab.ui.canvas import title_takes_no_width
from genlab.ui.items.axis import plain_axes
from genlab.ui.theme import LIGHT, Look, Theme

VALUES_PREFIX = "\x00values:"  # plot keys of bar groups (cannot clash with a metric group)


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
        self.xlabels: dict[str, str] = {}  # group -> the unit of its x axis
        self.drawn: dict[str, str] = {}  # series name -> colour its curve or bar is drawn in
        self._free: list[pg.PlotItem] = []  # pooled plots not in the layout
        self._series: dict[str, list[str]] = {}  # group -> series names, in curve order
        self._table: dict[str, Series] = {}  # the frames' named series
        self._auto: dict[str, int] = {}  # unnamed series -> its palette colour
        self._bars: dict[str, tuple[pg.BarGraphItem, list[pg.TextItem]]] = {}
        self.setBackground(theme.background)
        self._dirty = False

    # -- looks -------------------------------------------------------------------------------
    def look(self, series: str) -> Look:
        th = self.theme
        if series in self._table:
            look = th.look(series, self._table)
        elif not series:
            look = Look(th.foreground)  # a group's only, unnamed curve
        else:
            if series not in self._auto:
                free = th.free_colours(s.colour for s in self._table.values())
                self._auto[series] = free[len(self._auto) % len(free)]
            look = Look(th.color(self._auto[series]))
        self.drawn[series] = look.colour
        return look

    def _pen(self, name: str):
        look = self.look(name.partition("/")[2])
        p = pg.mkPen(look.colour, width=2 * self.theme.scale)
        if look.dashed:
            p.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
        return p

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
        self._dirty = True

    def _style_plot(self, plot: pg.PlotItem, group: str) -> None:
        th = self.theme
        names = self._series.get(group, [])
        shown = group.removeprefix(VALUES_PREFIX)
        if len(names) > 1 or (names and names[0]):
            keys = []
            for n in names:
                look = self.look(n)
                stroke = "╌" if look.dashed else "━"
                keys.append(f'<span style="color:{look.colour}">{stroke}&nbsp;'
                            f'{html.escape(n).replace(" ", "&nbsp;")}</span>')
            text = f"{html.escape(shown)} &nbsp;{' '.join(keys)}"
        else:
            text = html.escape(shown)
        if getattr(plot, "genlab_clipped", False):
            text += " &nbsp;(a few values off the scale)"
        plot.setTitle(text, color=th.foreground, size=f"{th.font_pt * 0.9:.1f}pt")
        font = pg.QtGui.QFont()
        font.setPointSizeF(th.font_pt * 0.8)
        for side in ("left", "bottom"):
            ax = plot.getAxis(side)
            ax.setPen(pg.mkPen(th.muted))
            ax.setTextPen(pg.mkPen(th.foreground))
            ax.setTickFont(font)
        xlabel = self.xlabels.get(group, "")
        if xlabel:
            plot.getAxis("bottom").setLabel(html.escape(xlabel), color=th.foreground,
                                            **{"font-size": f"{th.font_pt * 0.8:.1f}pt"})
        else:
            plot.getAxis("bottom").showLabel(False)

    # -- data ----------------------------------------------------------------------------------
    def clear_all(self) -> None:
        for plot in self.plots.values():
            for curve in plot.genlab_curves:
                curve.setData([], [])
                curve.setVisible(False)
            plot.genlab_bars.setVisible(False)
            for t in plot.genlab_bar_texts:
                t.setVisible(False)
            self.removeItem(plot)
            self._free.append(plot)
        self.plots, self.curves, self.data = {}, {}, {}
        self.cursor, self.log_groups, self._series = [], set(), {}
        self.xlabels, self._table, self._auto, self._bars = {}, {}, {}, {}
        self.drawn = {}

    def add_frame(self, frame: Frame) -> None:
        self.log_groups.update(frame.log_metrics)
        for s in frame.series:
            self._table.setdefault(s.name, s)
        x = frame.metric_x
        xlabel = frame.xlabel or ("frame" if frame.x is None else "")
        for name, value in frame.metrics.items():
            self.xlabels.setdefault(name.partition("/")[0], xlabel)
            self._add(name, x, value)
        for name in frame.values:
            group, _, series = name.partition("/")
            key = VALUES_PREFIX + group
            if key not in self.plots:
                self._plot_for(key)
            if series not in self._series[key]:
                self._series[key].append(series)
                self._style_plot(self.plots[key], key)
        self._dirty = True

    def _plot_for(self, group: str) -> pg.PlotItem:
        plot = self.plots.get(group)
        if plot is not None:
            return plot
        if self._free:
            plot = self._free.pop(0)
        else:
            plot = pg.PlotItem(axisItems=plain_axes())
            title_takes_no_width(plot.titleLabel)  # legends in titles must not widen plots
            plot.setPreferredWidth(1)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.genlab_curves = []
            plot.genlab_cursor = pg.InfiniteLine(angle=90)
            plot.addItem(plot.genlab_cursor)
            plot.genlab_bars = pg.BarGraphItem(x=[], height=[], width=0.6)
            plot.addItem(plot.genlab_bars)
            plot.genlab_bar_texts = []
        self.addItem(plot, row=0, col=len(self.plots))  # groups side by side
        plot.genlab_clipped = False
        bars = group.startswith(VALUES_PREFIX)
        plot.showGrid(x=not bars, y=True, alpha=0.2)
        plot.setLogMode(x=False, y=group in self.log_groups)
        plot.genlab_cursor.setVisible(not bars)
        plot.genlab_bars.setVisible(bars)
        plot.getAxis("bottom").setTicks(None)
        if not bars:
            plot.genlab_cursor.setPen(pg.mkPen(self.theme.muted, width=1))
            self.cursor.append(plot.genlab_cursor)
        plot.enableAutoRange()
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

    # -- drawing ---------------------------------------------------------------------------------
    def refresh(self, frame: Frame | None = None) -> None:
        """Redraw the curves that changed, the cursor at ``frame``'s x, and its end values."""
        if self._dirty:
            for name, curve in self.curves.items():
                xs, ys = self.data[name]
                y = np.asarray(ys, dtype=float)
                if name.partition("/")[0] in self.log_groups:
                    y = np.maximum(y, 1e-300)
                # one point is a value, not a line: draw it as a marker
                one = len(xs) == 1
                look = self.look(name.partition("/")[2])
                curve.setData(np.asarray(xs), y, symbol="o" if one else None,
                              symbolSize=8 * self.theme.scale, symbolBrush=look.colour,
                              symbolPen=None)
            for group, plot in self.plots.items():
                if not group.startswith(VALUES_PREFIX) and group not in self.log_groups:
                    self._fit_y(group, plot)
            self._dirty = False
        if frame is not None:
            unit = frame.xlabel or ("frame" if frame.x is None else "")
            for group, plot in self.plots.items():
                if group.startswith(VALUES_PREFIX):
                    continue
                # a cursor only where x is in this frame's unit (a loss plotted against the
                # training step has no place for "w = 8")
                here = self.xlabels.get(group, "") == unit
                plot.genlab_cursor.setVisible(here)
                if here:
                    plot.genlab_cursor.setPos(frame.metric_x)
            self._show_values(frame)

    def _fit_y(self, group: str, plot: pg.PlotItem) -> None:
        """The y range holds every curve, unless a few spikes would flatten the rest (a
        held-out NLL of 50 nats beside a training curve at 1.5): then the range holds the
        bulk and the title says that values are off the scale."""
        ys = [np.asarray(self.data[f"{group}/{s}" if s else group][1], float)
              for s in self._series.get(group, [])]
        y = np.concatenate(ys) if ys else np.zeros(0)
        y = y[np.isfinite(y)]
        clipped = False
        if len(y) >= 20:
            q1, q99 = np.percentile(y, [2, 98])
            spread = max(q99 - q1, 1e-12)
            lo, hi = q1 - 0.5 * spread, q99 + 0.5 * spread
            clipped = bool(y.max() > q99 + 3 * spread or y.min() < q1 - 3 * spread)
        if clipped:
            plot.setYRange(max(lo, y.min()), min(hi, y.max()), padding=0.05)
        else:
            plot.enableAutoRange(axis="y")
        if getattr(plot, "genlab_clipped", False) != clipped:
            plot.genlab_clipped = clipped
            self._style_plot(plot, group)

    def _show_values(self, frame: Frame) -> None:
        groups: dict[str, list[tuple[str, float]]] = {}
        for name, v in frame.values.items():
            group, _, series = name.partition("/")
            groups.setdefault(VALUES_PREFIX + group, []).append((series, v))
        th = self.theme
        for key, plot in self.plots.items():
            if not key.startswith(VALUES_PREFIX):
                continue
            items = groups.get(key, [])
            bars = plot.genlab_bars
            if not items:
                bars.setOpts(x=[], height=[])
                for t in plot.genlab_bar_texts:
                    t.setVisible(False)
                continue
            names = [n for n, _ in items]
            vals = np.array([v for _, v in items])
            brushes = [pg.mkBrush(self.look(n).colour) for n in names]
            bars.setOpts(x=np.arange(len(vals)), height=vals, width=0.6, brushes=brushes,
                         pens=[pg.mkPen(None)] * len(vals))
            plot.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
            while len(plot.genlab_bar_texts) < len(vals):
                t = pg.TextItem(anchor=(0.5, 1.0))
                plot.addItem(t)
                plot.genlab_bar_texts.append(t)
            for i, t in enumerate(plot.genlab_bar_texts):
                t.setVisible(i < len(vals))
                if i < len(vals):
                    t.setHtml(f'<span style="color:{th.foreground}; font-size:'
                              f'{th.font_pt * 0.8:.1f}pt">{vals[i]:.3g}</span>')
                    t.setPos(float(i), float(vals[i]))
            top = float(max(vals.max(), 0.0))
            bottom = float(min(vals.min(), 0.0))
            plot.setXRange(-0.6, len(vals) - 0.4, padding=0)
            plot.setYRange(bottom, top * 1.25 if top > 0 else 1.0, padding=0)
