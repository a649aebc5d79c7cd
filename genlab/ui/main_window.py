"""The main window: lab list, canvas, parameters, playback, metrics, tools, export."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from superqt import QCollapsible

from genlab.labs import DEFAULT_LAB, LABS, LabInfo
from genlab.labs.params import ParamError, clamp, data_field, live_fields, replace
from genlab.labs.presets import presets_for
from genlab.ui.canvas import FrameCanvas
from genlab.ui.controller import RunController
from genlab.ui.drawing import N_COLOURS, DrawTool
from genlab.ui.export import ExportCancelled, ExportOptions, export_animation, save_image
from genlab.ui.export_dialog import ExportDialog
from genlab.ui.metrics import MetricsView
from genlab.ui.param_panel import ParamPanel
from genlab.ui.playback import PlaybackBar
from genlab.ui.settings import load_prefs, save_prefs
from genlab.ui.shortcuts import lab_key, show_help
from genlab.ui.theme import Theme, get_theme

DISPLAY_HZ = 60
STATUS_MS = 8000


def apply_qt_palette(theme: Theme) -> None:
    app = QtWidgets.QApplication.instance()
    app.setStyle("Fusion")
    if theme.name == "dark":
        pal = QtGui.QPalette()
        bg, base, fg = QtGui.QColor("#1E2128"), QtGui.QColor("#15171C"), QtGui.QColor("#E8E8E8")
        R = QtGui.QPalette.ColorRole
        for role, color in ((R.Window, bg), (R.Base, base), (R.AlternateBase, bg),
                            (R.Button, bg), (R.Text, fg), (R.WindowText, fg),
                            (R.ButtonText, fg), (R.ToolTipBase, bg), (R.ToolTipText, fg),
                            (R.Highlight, QtGui.QColor("#3B6EA5")),
                            (R.HighlightedText, QtGui.QColor("#FFFFFF"))):
            pal.setColor(role, color)
        app.setPalette(pal)
    else:
        app.setPalette(app.style().standardPalette())
    font = app.font()
    font.setPointSizeF(10.0 * max(theme.scale, 0.8))
    app.setFont(font)


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, lab: str = DEFAULT_LAB, autoplay: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("genlab")
        screen = QtGui.QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen else QtCore.QRect(0, 0, 1400, 900)
        self.resize(max(1000, int(avail.width() * 0.92)), max(700, int(avail.height() * 0.92)))
        theme_name, scale = load_prefs()
        self.theme = get_theme(theme_name, scale)
        apply_qt_palette(self.theme)

        self.controller = RunController(self)
        self.canvas = FrameCanvas(self.theme)
        self.canvas.setMinimumSize(480, 360)
        self.metrics = MetricsView(self.theme)
        self.panel = ParamPanel()
        self.playback = PlaybackBar(self.controller)
        self.draw = DrawTool(self.canvas)
        self._shown = None
        self._last_good = None
        self._last_dir = Path.cwd()

        self._build_layout()
        self._build_menus()
        self._build_shortcuts()
        self._connect()

        self._display = QtCore.QTimer(self)
        self._display.setInterval(int(1000 / DISPLAY_HZ))
        self._display.timeout.connect(self._refresh)
        self._display.start()
        self.switch_lab(lab)
        if not autoplay:
            self.controller.pause()
        # Keys go to the canvas from the start, so Space/arrows work before any click.
        self.canvas.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.canvas.setFocus()

    # -- construction -----------------------------------------------------------------
    def _build_layout(self) -> None:
        center = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(center)
        v.setContentsMargins(2, 2, 2, 2)
        v.addWidget(self.canvas, 1)
        v.addWidget(self.playback)
        self.setCentralWidget(center)

        self.lab_list = QtWidgets.QListWidget()
        self.lab_list.setWordWrap(True)
        self.lab_list.setSpacing(2)
        self.lab_list.setMaximumWidth(300)
        for i, lab in enumerate(LABS.values()):
            # titles only (the description is the tooltip): with a dozen labs the list stays
            # short and narrow, and the canvas keeps the width side-by-side panels need
            item = QtWidgets.QListWidgetItem(f"{i + 1}. {lab.title}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, lab.name)
            item.setToolTip(f"{lab.description} ({lab_key(i)})" if i < 10 else lab.description)
            self.lab_list.addItem(item)
        labs_dock = self._dock("Labs", self.lab_list,
                               QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, 150)

        side = QtWidgets.QWidget()
        sv = QtWidgets.QVBoxLayout(side)
        self.preset_box = QtWidgets.QComboBox()
        self.preset_box.setToolTip("Named parameter sets; the first is the lab's default demo")
        sv.addWidget(QtWidgets.QLabel("Preset"))
        sv.addWidget(self.preset_box)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.panel)
        sv.addWidget(scroll, 1)
        self.draw_box = self._build_draw_box()
        sv.addWidget(self.draw_box)
        self._dock("Parameters", side, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, 330)
        # Metrics under the canvas only: the side docks keep the bottom corners.
        area = QtCore.Qt.DockWidgetArea
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, area.LeftDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner,
                       QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        metrics = self._dock("Metrics", self.metrics,
                             QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, 200)
        self.metrics.setMinimumHeight(150)
        self.resizeDocks([metrics], [190], QtCore.Qt.Orientation.Vertical)
        self.resizeDocks([labs_dock], [190], QtCore.Qt.Orientation.Horizontal)
        self.status = self.statusBar()

    def _dock(self, title: str, widget, area, width: int) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        widget.setMinimumWidth(width)
        self.addDockWidget(area, dock)
        return dock

    def _build_draw_box(self) -> QtWidgets.QWidget:
        box = QCollapsible("Draw your own data")
        inner = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(inner)
        self.tool_group = QtWidgets.QButtonGroup(self)
        row = QtWidgets.QHBoxLayout()
        self.tool_buttons: dict[str, QtWidgets.QToolButton] = {}
        for mode, text, tip in (("view", "View", "Pan and zoom (V)"),
                                ("paint", "Paint", "Click or drag to add points (P)"),
                                ("erase", "Erase", "Click or drag to remove points (E)"),
                                ("place", "Place", "Click to place points, e.g. EM's "
                                 "initial means with init = clicked (M)")):
            b = QtWidgets.QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.clicked.connect(lambda _=False, m=mode: self.set_tool(m))
            self.tool_group.addButton(b)
            self.tool_buttons[mode] = b
            row.addWidget(b)
        self.tool_buttons["view"].setChecked(True)
        form.addRow(row)
        self.radius_box = QtWidgets.QDoubleSpinBox()
        self.radius_box.setRange(0.02, 3.0)
        self.radius_box.setSingleStep(0.05)
        self.radius_box.setValue(self.draw.radius)
        self.radius_box.setToolTip("Brush radius in data units")
        self.radius_box.valueChanged.connect(lambda v: setattr(self.draw, "radius", v))
        self.density_box = QtWidgets.QSpinBox()
        self.density_box.setRange(1, 100)
        self.density_box.setValue(self.draw.density)
        self.density_box.setToolTip("Points dropped per brush radius of travel")
        self.density_box.valueChanged.connect(lambda v: setattr(self.draw, "density", v))
        self.colour_box = QtWidgets.QComboBox()
        for k in range(N_COLOURS):
            self.colour_box.addItem(f"colour {k + 1}")
            self.colour_box.setItemData(k, QtGui.QColor(self.theme.color(k)),
                                        QtCore.Qt.ItemDataRole.DecorationRole)
        self.colour_box.setToolTip("Paint colour = the points' class: for the OT lab colour 1 "
                                   "is the source and colour 2 the target")
        self.colour_box.currentIndexChanged.connect(self.draw.set_colour)
        form.addRow("paint colour", self.colour_box)
        form.addRow("brush radius", self.radius_box)
        form.addRow("density", self.density_box)
        row2 = QtWidgets.QHBoxLayout()
        for text, slot, tip in (("Undo", self.draw.undo, "Undo the last edit (Ctrl+Z)"),
                                ("Clear", self.draw.clear, "Remove every drawn point"),
                                ("Save…", self.save_drawn_dialog, "Save the points (CSV/NPY)"),
                                ("Load…", self.load_drawn_dialog, "Load points (CSV/NPY)")):
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            row2.addWidget(b)
        form.addRow(row2)
        self.drawn_label = QtWidgets.QLabel("0 drawn points")
        form.addRow(self.drawn_label)
        box.addWidget(inner)
        box.expand(animate=False)
        return box

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        file.addAction("Screenshot…", self.screenshot_dialog)
        file.addAction("Export animation…", self.export_dialog)
        self.metrics_export_action = file.addAction("Include metric plots in exports")
        self.metrics_export_action.setCheckable(True)
        self.transparent_action = file.addAction("Transparent screenshots (PNG, SVG)")
        self.transparent_action.setCheckable(True)
        file.addSeparator()
        file.addAction("Load drawn data…", self.load_drawn_dialog)
        file.addAction("Save drawn data…", self.save_drawn_dialog)
        file.addSeparator()
        file.addAction("Quit", QtGui.QKeySequence.StandardKey.Quit, self.close)
        self.presets_menu = mb.addMenu("&Presets")
        view = mb.addMenu("&View")
        self.theme_action = view.addAction("Dark theme")
        self.theme_action.setCheckable(True)
        self.theme_action.setChecked(self.theme.name == "dark")
        self.theme_action.toggled.connect(
            lambda dark: self.set_theme("dark" if dark else "light"))
        view.addAction("Larger (Ctrl+=)", lambda: self.zoom(1.15))
        view.addAction("Smaller (Ctrl+-)", lambda: self.zoom(1 / 1.15))
        view.addAction("Full screen (F11)", self.toggle_fullscreen)
        view.addAction("Reset the view (Home)", self.canvas.reset_view)
        help_menu = mb.addMenu("&Help")
        help_menu.addAction("Keyboard shortcuts (F1)", self.show_help)

    def _build_shortcuts(self) -> None:
        c = self.controller
        keys = [("Space", c.toggle), ("Right", c.step), ("Left", c.step_back),
                ("R", c.restart), ("Escape", c.stop), ("Ctrl+S", self.screenshot_dialog),
                ("Ctrl+E", self.export_dialog), ("F11", self.toggle_fullscreen),
                ("Ctrl+=", lambda: self.zoom(1.15)), ("Ctrl++", lambda: self.zoom(1.15)),
                ("Ctrl+-", lambda: self.zoom(1 / 1.15)), ("F1", self.show_help),
                ("Ctrl+T", lambda: self.theme_action.toggle()),
                ("Ctrl+Z", self.draw.undo), ("Home", self.canvas.reset_view),
                ("V", lambda: self.set_tool("view")), ("P", lambda: self.set_tool("paint")),
                ("E", lambda: self.set_tool("erase")), ("M", lambda: self.set_tool("place"))]
        for i, name in enumerate(list(LABS)[:10]):
            keys.append((lab_key(i), lambda n=name: self.switch_lab(n)))
        self.shortcuts = {}
        for key, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            self.shortcuts[key] = sc

    def _connect(self) -> None:
        c = self.controller
        self.lab_list.currentItemChanged.connect(self._lab_clicked)
        self.panel.edited.connect(self._param_edited)
        self.panel.refused.connect(self.show_message)
        c.lab_changed.connect(self._lab_changed)
        c.params_changed.connect(self.panel.set_params)
        c.message.connect(self.show_message)
        c.frame_added.connect(self.metrics.add_frame)
        c.run_started.connect(self._run_started)
        c.state_changed.connect(self._state_changed)
        self.preset_box.activated.connect(self._preset_chosen)
        self.draw.drawn_changed.connect(self._drawn_changed)
        self.draw.picks_changed.connect(self.controller.set_picks)
        self.canvas.handle_dragged.connect(self._handle_dragged)

    # -- labs, presets, parameters ------------------------------------------------------
    def switch_lab(self, name: str, preset: str | None = None) -> None:
        lab = LABS[name]
        params = None
        if preset is not None:
            params = next(p for p in presets_for(name) if p.name == preset).params(lab.params)
        self.controller.set_lab(lab, params)

    def _lab_changed(self, lab: LabInfo) -> None:
        """The controller has a new lab: rebuild what depends on it."""
        self.status.clearMessage()  # "Run finished" belonged to the lab before
        self.canvas.keep_view = False
        self.canvas.clear_frame()
        self.panel.build(lab.params)
        self._fill_presets(lab)
        self.lab_list.blockSignals(True)
        names = list(LABS)
        self.lab_list.setCurrentRow(names.index(lab.name) if lab.name in names else -1)
        self.lab_list.blockSignals(False)
        self.setWindowTitle(f"genlab — {lab.title}")
        drawable = lab.takes_data or lab.uses_picks
        self.draw_box.setVisible(drawable)
        if not drawable and self.draw.mode != "view":
            self.set_tool("view")

    def _lab_clicked(self, item, _prev=None) -> None:
        if item is not None:
            self.switch_lab(item.data(QtCore.Qt.ItemDataRole.UserRole))

    def _fill_presets(self, lab: LabInfo) -> None:
        self.preset_box.clear()
        self.presets_menu.clear()
        for i, p in enumerate(presets_for(lab.name)):
            self.preset_box.addItem(p.name)
            self.preset_box.setItemData(i, p.description, QtCore.Qt.ItemDataRole.ToolTipRole)
            act = self.presets_menu.addAction(p.name, lambda n=p.name: self.apply_preset(n))
            act.setToolTip(p.description)

    def _preset_chosen(self, index: int) -> None:
        self.apply_preset(self.preset_box.itemText(index))

    def apply_preset(self, name: str) -> None:
        lab = self.controller.lab
        preset = next(p for p in presets_for(lab.name) if p.name == name)
        self.preset_box.setCurrentText(name)
        self.canvas.keep_view = False
        self.controller.set_params(preset.params(lab.params))
        self.controller.restart()
        self.show_message(f"Preset: {name}. {preset.description}")

    def _param_edited(self, name: str, value) -> None:
        try:
            self.controller.set_param(name, value)
        except ParamError as e:
            self.show_message(f"{e}; the last good value is kept.")
            self.panel.set_params(self.controller.params)

    def _handle_dragged(self, values: dict, finished: bool) -> None:
        """A dragged handle: live fields follow the mouse, others restart on release."""
        params = self.controller.params
        if params is None:
            return
        cls = type(params)
        try:
            clamped = {name: clamp(cls, name, v) for name, v in values.items()}
            if not finished and not set(clamped) <= live_fields(cls):
                return
            self.controller.set_params(replace(params, **clamped))
        except ParamError as e:
            self.show_message(f"{e}; the last good value is kept.")

    # -- drawing ---------------------------------------------------------------------------
    def set_tool(self, mode: str) -> None:
        lab = self.controller.lab
        if mode != "view" and lab is not None and not (lab.takes_data or lab.uses_picks):
            self.show_message(f"The {lab.title} lab takes no data to draw.")
            return
        self.draw.set_mode(mode)
        self.tool_buttons[mode].setChecked(True)
        if mode in ("paint", "erase") and lab is not None and lab.takes_data:
            name = data_field(self.controller.params)
            if name is not None and getattr(self.controller.params, name) != "drawn":
                self.show_message("Paint: click or drag on the canvas; the lab then uses the "
                                  f"drawn points ({name} = drawn).")
        if mode == "place" and lab is not None and lab.uses_picks:
            if getattr(self.controller.params, "init", None) != "clicked":
                self.controller.set_param("init", "clicked")
            self.show_message("Click on the canvas to place the initial means; Ctrl+Z undoes.")

    def _drawn_changed(self, points) -> None:
        self.drawn_label.setText(f"{len(points)} drawn points")
        # the run restarts with every stroke: the view must not re-zoom under the pen
        self.canvas.keep_view = True
        self.controller.set_drawn(points, self.draw.labels)
        if len(points) and self.draw.mode in ("paint", "erase"):
            self.controller.use_drawn()

    def save_drawn_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save drawn points", str(self._last_dir / "drawn.csv"),
            "CSV (*.csv);;NumPy (*.npy)")
        if path:
            self.save_drawn(path)

    def save_drawn(self, path: str) -> None:
        try:
            self.draw.save(path)
            self.show_message(f"Saved {len(self.draw.points)} points to {path}")
        except (OSError, ValueError) as e:
            self.show_message(f"Could not save {path}: {e}")

    def load_drawn_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Load points", str(self._last_dir), "Points (*.csv *.npy)")
        if path:
            self.load_drawn(path)

    def load_drawn(self, path: str) -> None:
        try:
            self.draw.load(path)
        except (OSError, ValueError) as e:
            self.show_message(f"Could not load {path}: {e}. The drawn points are unchanged.")
            return
        self.controller.use_drawn()
        self.show_message(f"Loaded {len(self.draw.points)} points from {path}")

    # -- display ---------------------------------------------------------------------------
    def _refresh(self) -> None:
        """At most DISPLAY_HZ times a second: draw the frame in view if it changed."""
        frame = self.controller.current_frame()
        if frame is not None and frame is not self._shown:
            self.canvas.show_frame(frame)
            self._shown = self._last_good = frame  # shown again if a next run fails at once
            self.metrics.refresh(frame)

    def _run_started(self) -> None:
        self.metrics.clear_all()
        self.canvas.clear_frame()
        self._shown = None

    def _state_changed(self, state: str) -> None:
        if state == "finished":
            self.show_message("Run finished. Space replays it; drag the timeline to scrub.")
        elif state == "failed" and self.canvas.frame is None and self._last_good is not None:
            # the run failed before its first frame: the message promises the last good
            # frame stays on screen, so it is the previous run's
            self.canvas.show_frame(self._last_good, force=True)

    def show_message(self, text: str) -> None:
        self.status.showMessage(text, STATUS_MS)

    # -- view --------------------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        self.theme = get_theme(name, self.theme.scale)
        self._restyle()

    def zoom(self, factor: float) -> None:
        self.theme = self.theme.scaled(self.theme.scale * factor)
        self._restyle()
        self.show_message(f"Scale {self.theme.scale:.2f}×")

    def _restyle(self) -> None:
        apply_qt_palette(self.theme)
        self.canvas.apply_theme(self.theme)
        self.metrics.apply_theme(self.theme)
        save_prefs(self.theme.name, self.theme.scale)

    def toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_help(self) -> None:
        self._help = show_help(self)

    # -- export ------------------------------------------------------------------------------
    def canvas_size(self) -> tuple[int, int]:
        return max(self.canvas.width(), 320), max(self.canvas.height(), 240)

    def screenshot(self, path: str, size: tuple[int, int] | None = None) -> Path | None:
        frame = self.controller.current_frame()
        if frame is None:
            self.show_message("Nothing to save yet: no frame on screen.")
            return None
        options = ExportOptions(metrics=self.metrics_export_action.isChecked(),
                                transparent=self.transparent_action.isChecked())
        history = self.controller.timeline.frames(0, self.controller.view + 1)
        try:
            out = save_image(frame, path, size or self.canvas_size(), self.theme, options,
                             history=history)
        except (OSError, ValueError) as e:
            self.show_message(f"Could not save {path}: {e}")
            return None
        self.show_message(f"Saved {out}")
        return out

    def screenshot_dialog(self) -> None:
        name = f"{self.controller.lab.name}-{max(self.controller.view, 0) + 1:04d}.png"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save screenshot", str(self._last_dir / name), "PNG (*.png);;SVG (*.svg)")
        if path:
            self._last_dir = Path(path).parent
            self.screenshot(path)

    def export(self, path: str, start: int = 0, stop: int | None = None,
               fps: float | None = None, size: tuple[int, int] | None = None,
               options: ExportOptions | None = None) -> Path | None:
        """Export timeline frames [start, stop) with a progress dialog that can cancel (at
        the playback speed unless ``fps`` is given)."""
        if fps is None:
            fps = self.controller.fps if self.controller.fps > 0 else 30.0
        if options is None:
            options = ExportOptions(metrics=self.metrics_export_action.isChecked())
        frames = self.controller.timeline.frames(start, stop)
        if not frames:
            self.show_message("Nothing to export yet: the timeline is empty.")
            return None
        self.controller.pause()
        progress = QtWidgets.QProgressDialog("Exporting animation…", "Cancel", 0, len(frames),
                                             self)
        progress.setWindowTitle("Export")
        progress.setMinimumDuration(300)
        self._export_progress = progress

        def report(done: int, total: int) -> bool:
            progress.setValue(done)
            QtWidgets.QApplication.processEvents()
            return not progress.wasCanceled()

        try:
            out = export_animation(frames, path, fps, size or self.canvas_size(), self.theme,
                                   report, options)
        except ExportCancelled:
            self.show_message("Export cancelled; no file written.")
            return None
        except (OSError, ValueError) as e:
            self.show_message(f"Export failed: {e}")
            return None
        finally:
            progress.close()
        self.show_message(f"Exported {len(frames)} frames to {out}")
        return out

    def export_dialog(self) -> None:
        n = len(self.controller.timeline)
        if n == 0:
            self.show_message("Nothing to export yet: the timeline is empty.")
            return
        self.controller.pause()
        dlg = ExportDialog(n, self.canvas_size(), self, fps=self.controller.fps,
                           options=ExportOptions(metrics=self.metrics_export_action.isChecked()))
        if dlg.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        start, stop, fps, size = dlg.choice()
        options = dlg.options()
        suffix = dlg.suffix
        default = str(self._last_dir / f"{self.controller.lab.name}{suffix}")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export animation", default,
                                                        f"*{suffix}")
        if path:
            if not path.lower().endswith(suffix):
                path += suffix
            self._last_dir = Path(path).parent
            self.export(path, start, stop, fps, size, options)

    # -- closing -----------------------------------------------------------------------------
    def closeEvent(self, ev) -> None:
        self._display.stop()
        self.controller.shutdown()
        super().closeEvent(ev)
