"""FrameCanvas: draws Frames (title, side-by-side panels, caption) with reused items.

The window, screenshots, animation export, ``genlab render`` and the image tests all draw
through this one class, so what is exported is what the lecturer saw.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from genlab.labs.frame import Frame, Panel
from genlab.ui.items import LayerItem, item_for
from genlab.ui.items.axis import plain_axes
from genlab.ui.items.placement import LabelPlacer
from genlab.ui.theme import LIGHT, Theme

# (kind, data x, data y, event) -> None; kind is "press", "drag", "release" or "click".
ToolHandler = Callable[[str, float, float, object], None]


class ToolViewBox(pg.ViewBox):
    """A ViewBox that hands mouse clicks and drags to a drawing tool while one is active."""

    LIMIT = 1e9  # a right-drag zoom could drive the range to infinity ("[-inf, -inf]")

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.tool: ToolHandler | None = None
        lim = self.LIMIT
        self.setLimits(xMin=-lim, xMax=lim, yMin=-lim, yMax=lim, minXRange=1e-9,
                       minYRange=1e-9)

    def mouseClickEvent(self, ev) -> None:
        if self.tool is None or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return super().mouseClickEvent(ev)
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self.tool("click", p.x(), p.y(), ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if self.tool is None or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        kind = "press" if ev.isStart() else "release" if ev.isFinish() else "drag"
        self.tool(kind, p.x(), p.y(), ev)


def title_takes_no_width(label: pg.LabelItem) -> None:
    """A panel title must not widen its column (LabelItem asks for its text's width each
    time its text is set): side-by-side panels then share the width equally and show the
    same scale, and a long title cannot push the last panel out of the window.  The title
    wraps, centred, at its column's width instead of running into its neighbour's."""
    update_min = label.updateMin
    option = QtGui.QTextOption(QtCore.Qt.AlignmentFlag.AlignHCenter)
    option.setWrapMode(QtGui.QTextOption.WrapMode.WordWrap)
    label.item.document().setDefaultTextOption(option)

    label.genlab_min_h = 0.0  # the tallest this title has been since the canvas reset it

    def update_min_height_only() -> None:
        update_min()
        label.setMinimumWidth(0)
        label.setPreferredWidth(1)  # a set size overrides the size hint
        # heights only grow: a title that loses a line must not move the plot under it
        label.genlab_min_h = max(label.genlab_min_h, label.minimumHeight())
        label.setMinimumHeight(label.genlab_min_h)

    label.updateMin = update_min_height_only
    place = label.resizeEvent

    def wrap_then_place(ev=None) -> None:
        # the wrap width first: LabelItem centres the text by its width as it is now
        width = label.geometry().width()
        label.item.setTextWidth(width if width > 40 else -1)
        place(ev)

    label.resizeEvent = wrap_then_place
    label.geometryChanged.connect(wrap_then_place)


_GLYPHS = {"x": "×", "+": "+", "s": "■", "t": "▲", "d": "◆"}  # keys of marker series


def legend_html(names: list[str], frame: Frame, theme: Theme) -> str:
    """A one-line key of named series: a coloured stroke (dashed ones dashed) and the name."""
    keys = []
    for name in names:
        look = theme.look(name, {s.name: s for s in frame.series})
        stroke = _GLYPHS.get(look.marker) or ("╌╌" if look.dashed else "━━")
        # a key wraps between names, never inside one
        name_html = html.escape(name).replace(" ", "&nbsp;")
        keys.append(f'<span style="color:{look.colour}">{stroke}&nbsp;{name_html}</span>')
    return " &nbsp; ".join(keys)


class FrameCanvas(pg.GraphicsLayoutWidget):
    """Shows one Frame at a time, keeping a graphics item per (panel, layer name).

    ``handle_dragged(values, finished)``: the user dragged a Handles layer's point; values
    maps the bound parameter names to the pointer's coordinates.
    """

    handle_dragged = QtCore.Signal(object, bool)

    def __init__(self, theme: Theme = LIGHT, parent=None, show_caption: bool = True) -> None:
        super().__init__(parent)
        self.theme = theme
        self.show_caption = show_caption
        self.plots: list[pg.PlotItem] = []
        self._pool: list[pg.PlotItem] = []  # every PlotItem made; the first len(plots) shown
        self._axis_text: dict[tuple[int, str], tuple] = {}
        # (panel, layer name, layer kind) -> item.  Items are hidden, never deleted: deleting
        # pyqtgraph items that own text children (TextItem, LabelItem) crashed Qt in a later
        # repaint with this binding.  Plots are pooled for the same reason.
        self._items: dict[tuple[int, str, type], LayerItem] = {}
        self._limits: list[tuple] = []
        self._links: tuple[str, ...] = ()
        self._titles: list[tuple | None] = []
        self._text: tuple | None = None
        self._weights: list[int] = []
        self._frame: Frame | None = None
        self.overlay: list[pg.GraphicsObject] = []  # tool items kept on panel 0
        self.tool: ToolHandler | None = None
        # while the user draws, new runs keep the view (a re-zoom after every stroke moved
        # the plane under the pen)
        self.keep_view = False
        self.user_moved = False  # the user panned or zoomed: resizes keep their view
        self.pending_views: list[tuple[float, float, float, float]] = []
        self._placers: list[LabelPlacer] = []
        self.title_label = self.ci.addLabel("", row=0, col=0)
        self.panel_row = self.ci.addLayout(row=1, col=0)
        self.caption_label = self.ci.addLabel("", row=2, col=0)
        self.caption_label.item.setTextWidth(600)
        self.ci.layout.setRowStretchFactor(1, 10)
        self.apply_theme(theme)

    # -- style ------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        for item in self._items.values():
            item.theme = theme
        for plot in self.plots:
            self._style_plot(plot)
        self._titles = [None] * len(self.plots)
        self._axis_text.clear()
        if self._frame is not None:
            frame, self._frame = self._frame, None
            self.show_frame(frame, force=True)

    def _style_plot(self, plot: pg.PlotItem) -> None:
        th = self.theme
        font = QtGui.QFont()
        font.setPointSizeF(th.font_pt * 0.85)
        for name in ("left", "bottom"):
            ax = plot.getAxis(name)
            ax.setPen(pg.mkPen(th.muted))
            ax.setTextPen(pg.mkPen(th.foreground))
            ax.setTickFont(font)
        plot.titleLabel.setAttr("color", th.foreground)

    # -- frames -----------------------------------------------------------------------
    @property
    def frame(self) -> Frame | None:
        return self._frame

    def clear_frame(self) -> None:
        """Forget the current frame and the axes it fixed (a new run starts); with
        ``keep_view`` (the user is drawing) the view stays where it is."""
        self._frame = None
        if not self.keep_view:
            self.user_moved = False
            self._limits = [None] * len(self.plots)
            self._caption_h = self._title_h = 0.0
            for plot in self._pool:
                plot.titleLabel.genlab_min_h = 0.0
        self.set_text("", "")

    def reset_view(self) -> None:
        """Back to the frame's own axes after the user panned, zoomed or drew."""
        self.keep_view = self.user_moved = False
        self._limits = [None] * len(self.plots)
        if self._frame is not None:
            self.show_frame(self._frame, force=True)

    def set_tool(self, tool: ToolHandler | None) -> None:
        self.tool = tool
        for plot in self.plots[:1]:
            plot.getViewBox().tool = tool

    def show_frame(self, frame: Frame, force: bool = False) -> None:
        if frame is self._frame and not force:
            return
        if len(frame.panels) != len(self.plots):
            self._rebuild(len(frame.panels))
        self._link(frame.panels)
        self._fit_columns(frame.panels)
        for p, (plot, panel) in enumerate(zip(self.plots, frame.panels, strict=True)):
            self._show_panel(p, plot, panel, frame)
        self.set_text(frame.title, frame.caption)
        self._frame = frame
        if self.pending_views and len(self.pending_views) == len(self.plots):
            # a scene's saved view rectangles, once its first frame set the panels up
            for plot, (x0, x1, y0, y1) in zip(self.plots, self.pending_views, strict=True):
                plot.getViewBox().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            self.pending_views = []

    def set_text(self, title: str, caption: str) -> None:
        th = self.theme
        if self._text == (title, caption, th):
            return  # relayout only when the words change
        self._text = (title, caption, th)
        # Labels are HTML: a caption such as "N_k < 1e-3" must not open a tag.
        title, caption = html.escape(title), html.escape(caption)
        self.title_label.setText(title, size=f"{th.font_pt * 1.25:.1f}pt", color=th.foreground,
                                 bold=True)
        self._title_h = max(getattr(self, "_title_h", 0.0),
                            self.title_label.item.boundingRect().height())
        self.title_label.setMinimumHeight(self._title_h)  # see _wrap_caption
        if self.show_caption:
            self.caption_label.setText(caption, size=f"{th.font_pt:.1f}pt", color=th.foreground)
        self._wrap_caption()

    def _wrap_caption(self) -> None:
        if not hasattr(self, "caption_label"):
            return  # resizeEvent during the base class's construction
        width = max(200.0, self.width() - 40.0)
        label = self.caption_label
        label.item.setTextWidth(width)
        label.updateMin()
        # the caption's space only grows during a run: a shorter caption must not enlarge
        # the plots (an aspect-locked plane would re-zoom between frames, and under the pen)
        self._caption_h = max(getattr(self, "_caption_h", 0.0),
                              label.item.boundingRect().height())
        label.setMinimumHeight(self._caption_h)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev is not None:  # None while pyqtgraph tears the view down
            self._wrap_caption()
            if hasattr(self, "panel_row"):
                self._fit_height()
                self._schedule_refit()

    def _moved_by_user(self, *_args) -> None:
        self.user_moved = True

    def _schedule_refit(self, *_args) -> None:
        if not getattr(self, "_refit_due", False):
            self._refit_due = True
            QtCore.QTimer.singleShot(0, self, self._refit_views)  # not after the canvas is gone

    def _refit_views(self) -> None:
        """After a resize, aspect-locked planes show the frame's box again: pyqtgraph widens
        a locked range to the new shape of its box, and linked planes pass the widened range
        to each other, so entering and leaving presentation mode left them zoomed far out.
        A view the user panned or zoomed, or keeps while drawing, stays."""
        self._refit_due = False
        if self.user_moved or self.keep_view:
            return
        sizes = getattr(self, "_refit_sizes", {})
        self._refit_sizes = sizes
        for p, (plot, limits) in enumerate(zip(self.plots, self._limits, strict=False)):
            vb = plot.getViewBox()
            size = (round(vb.width()), round(vb.height()), limits)
            if vb.linkedView(0) is not None or sizes.get(p) == size:
                continue  # it follows the first plane of its group; or it was not resized
            sizes[p] = size
            if limits is not None and limits[2] and None not in limits[:2]:
                vb.setRange(xRange=limits[0], yRange=limits[1], padding=0.02)

    def _rebuild(self, n: int) -> None:
        """Lay out n plots from the pool (plot p is always the same PlotItem)."""
        for item in self._items.values():
            item.set_visible(False)
        for plot in self.plots:
            self.panel_row.removeItem(plot)
            plot.getViewBox().tool = None
        while len(self._pool) < n:
            p = len(self._pool)
            plot = pg.PlotItem(viewBox=ToolViewBox(), axisItems=plain_axes())
            plot.setMenuEnabled(False)
            plot.hideButtons()
            title_takes_no_width(plot.titleLabel)
            plot.setPreferredWidth(1)  # columns share the width by stretch, not by content
            placer = LabelPlacer(plot)
            vb = plot.getViewBox()
            vb.sigRangeChanged.connect(lambda *_a, q=p: self._view_moved(q))
            vb.sigRangeChangedManually.connect(self._moved_by_user)
            vb.sigResized.connect(lambda *_a, q=p: self._view_moved(q))
            vb.sigResized.connect(self._schedule_refit)
            self._pool.append(plot)
            self._placers.append(placer)
        self.plots = self._pool[:n]
        self._links = ()
        self._weights: list[int] = []
        grid = self.panel_row.layout
        for i in range(max(len(self._pool), grid.columnCount())):
            grid.setColumnStretchFactor(i, 100 if i < n else 0)  # by shape, not by title
        for i, plot in enumerate(self.plots):
            self._style_plot(plot)
            plot.setTitle(None)
            self.panel_row.addItem(plot, row=0, col=i)
        self._axis_text.clear()
        self._limits = [None] * n
        self._titles = [None] * n
        if self.plots:
            self.plots[0].getViewBox().tool = self.tool
            for obj in self.overlay:
                if obj.scene() is None:
                    self.plots[0].addItem(obj)

    def _fit_columns(self, panels: tuple[Panel, ...]) -> None:
        """Columns share the width by the shape of their panels: an aspect-locked panel
        whose box is tall gets a narrow column (four ±3 × ±7 planes in equal columns drew
        their clusters tiny in empty space); every other panel a square's share. While the
        user draws (``keep_view``) the layout stays as it is, like the view."""
        if self.keep_view and len(self._weights) == len(panels):
            return
        weights = []
        for panel in panels:
            w = 1.0
            if panel.equal_aspect and panel.xlim is not None and panel.ylim is not None:
                dx, dy = panel.xlim[1] - panel.xlim[0], panel.ylim[1] - panel.ylim[0]
                if dx > 0 and dy > 0:
                    w = min(max(dx / dy, 0.35), 2.5)
            weights.append(int(round(100 * w)))
        if weights != self._weights:
            self._weights = weights
            grid = self.panel_row.layout
            for i, w in enumerate(weights):
                grid.setColumnStretchFactor(i, w)
        self._shapes = [(p.xlim[1] - p.xlim[0], p.ylim[1] - p.ylim[0])
                        if p.equal_aspect and p.xlim is not None and p.ylim is not None
                        else None for p in panels]
        self._fit_height()

    def _fit_height(self) -> None:
        """No taller than the aspect-locked panels can fill: four square planes side by side
        in a tall canvas showed their clusters tiny between wide empty bands (y −9 … 9 for
        x −3 … 3); the height left over goes below the caption."""
        shapes = getattr(self, "_shapes", [])
        weights = self._weights
        if not shapes or len(weights) != len(shapes) or not any(shapes):
            self.panel_row.setMaximumHeight(16_777_215)
            return
        width = max(self.width() - 40.0, 100.0)
        total = float(sum(weights))
        need = 0.0
        for plot, w, shape in zip(self.plots, weights, shapes, strict=False):
            if not shape:
                continue
            dx, dy = shape
            # the plot's own title, key lines and axes, measured once it is laid out (a
            # title that wraps at a large scale takes more than the estimate, and a row cut
            # to the estimate left an aspect-locked plane short and zoomed far out)
            vb = plot.getViewBox()
            laid_out = vb.width() > 1.0 and vb.height() > 1.0
            extra = max(95.0 * self.theme.scale,
                        plot.height() - vb.height() if laid_out else 0.0)
            inner = vb.width() if laid_out else width * w / total
            need = max(need, inner * dy / dx + extra)
        self.panel_row.setMaximumHeight(max(int(need), 200))

    def _link(self, panels: tuple[Panel, ...]) -> None:
        """Link each panel's view to the first panel of its link group (pan and zoom
        together); unlink the others."""
        links = tuple(panel.link for panel in panels)
        if links == self._links:
            return
        self._links = links
        first: dict[str, pg.ViewBox] = {}
        for plot, name in zip(self.plots, links, strict=True):
            vb = plot.getViewBox()
            leader = first.setdefault(name, vb) if name else None
            target = leader if leader is not vb else None
            vb.setXLink(target)
            vb.setYLink(target)

    def _view_moved(self, p: int) -> None:
        """Items drawn in pixel units (arrow heads, placed labels) follow a zoom or resize."""
        if p >= len(self.plots):
            return
        for (q, _, _), item in self._items.items():
            if q == p and item.visible:
                item.view_changed()
        self._placers[p].run()

    def items_of(self, p: int) -> list[LayerItem]:
        """The visible layer items of panel p."""
        return [it for (q, _, _), it in self._items.items() if q == p and it.visible]

    def _show_panel(self, p: int, plot: pg.PlotItem, panel: Panel, frame: Frame) -> None:
        th = self.theme
        for side, text in (("bottom", panel.xlabel), ("left", panel.ylabel)):
            axis = plot.getAxis(side)
            if self._axis_text.get((p, side)) != (text, th):
                if text:
                    axis.setLabel(html.escape(text), color=th.foreground,
                                  **{"font-size": f"{th.font_pt * 0.9:.1f}pt"})
                else:
                    axis.showLabel(False)
                self._axis_text[(p, side)] = (text, th)
        for side in ("left", "bottom"):
            if plot.getAxis(side).isVisible() != panel.axes:
                plot.showAxis(side, panel.axes)
        vb = plot.getViewBox()
        limits = (panel.xlim, panel.ylim, panel.equal_aspect)
        if self._limits[p] is not None and self.keep_view:
            self._limits[p] = limits  # drawing: the user's view stays put
        if self._limits[p] != limits:
            vb.setAspectLocked(panel.equal_aspect, ratio=1.0)
            if panel.xlim is not None and panel.ylim is not None:
                vb.setRange(xRange=panel.xlim, yRange=panel.ylim, padding=0.02)
            elif panel.xlim is not None:
                vb.setXRange(*panel.xlim, padding=0.02)
                vb.enableAutoRange(axis="y")
            elif panel.ylim is not None:
                vb.setYRange(*panel.ylim, padding=0.02)
                vb.enableAutoRange(axis="x")
            else:
                vb.enableAutoRange()
            self._limits[p] = limits
        keys = {(p, name, type(layer)) for name, layer in panel.layers.items()}
        for key, item in self._items.items():
            if key[0] == p and key not in keys and item.visible:
                item.set_visible(False)
        table = {s.name: s for s in frame.series}
        placer = self._placers[p]
        for z, (name, layer) in enumerate(panel.layers.items()):
            key = (p, name, type(layer))
            item = self._items.get(key)
            if item is None:
                item = item_for(layer, plot, th)
                if hasattr(item, "on_drag"):
                    item.on_drag = self.handle_dragged.emit
                    item.on_moved = placer.run
                self._items[key] = item
            elif not item.visible:
                item.set_visible(True)
            item.set_z(float(z))
            item.table = table
            item.update(layer)
        placer.items = self.items_of(p)
        placer.scale = th.scale
        placer.leader_pen = pg.mkPen(th.muted, width=max(1.0, th.scale))
        placer.run()
        notes = list(dict.fromkeys(it.note for it in placer.items if it.note))
        text = html.escape(panel.title + (f" ({'; '.join(notes)})" if notes else ""))
        names = panel.series_names()
        if panel.legend or (panel.legend is None and len(names) >= 2):
            key = legend_html(names, frame, th)
            text += f'<br><span style="font-size:{th.font_pt * 0.85:.1f}pt">{key}</span>'
        if self._titles[p] != (text, th):
            plot.setTitle(text, color=th.foreground, size=f"{th.font_pt:.1f}pt")
            self._titles[p] = (text, th)

    def grab_image(self) -> QtGui.QImage:
        return self.grab().toImage()
