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
from genlab.ui.presentation import (
    Presenting,
    SceneError,
    open_lecture_file,
    open_scene_file,
    save_scene_file,
)
from genlab.ui.settings import load_prefs, save_prefs
from genlab.ui.shortcuts import lab_key, show_help
from genlab.ui.theme import Theme, get_theme

DISPLAY_HZ = 60
STATUS_MS = 8000


# Window chrome per theme: (window, base, text, highlight).  Every role is set for every
# theme: the style's standard palette, restored after the dark theme, left some widgets with
# dark text on dark (the "Draw your own data" header).
_CHROME = {"light": ("#F3F3F3", "#FFFFFF", "#1A1A1A", "#2F6DB5"),
           "dark": ("#1E2128", "#15171C", "#E8E8E8", "#3B6EA5"),
           "projector": ("#FFFFFF", "#FFFFFF", "#000000", "#1F4F99")}


def apply_qt_palette(theme: Theme) -> None:
    app = QtWidgets.QApplication.instance()
    app.setStyle("Fusion")
    window, base, text, high = (QtGui.QColor(c) for c in _CHROME.get(theme.name,
                                                                     _CHROME["light"]))
    muted = QtGui.QColor(theme.muted)
    pal = QtGui.QPalette()
    R = QtGui.QPalette.ColorRole
    for role, color in ((R.Window, window), (R.Base, base), (R.AlternateBase, window),
                        (R.Button, window), (R.Text, text), (R.WindowText, text),
                        (R.ButtonText, text), (R.ToolTipBase, base), (R.ToolTipText, text),
                        (R.PlaceholderText, muted), (R.Highlight, high),
                        (R.HighlightedText, QtGui.QColor("#FFFFFF")), (R.Light, window),
                        (R.Midlight, window), (R.Mid, muted), (R.Dark, muted)):
        pal.setColor(role, color)
    for role in (R.Text, R.WindowText, R.ButtonText):
        pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role, muted)
    app.setPalette(pal)
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
        self.presenting = Presenting(self)
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
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
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
            item.setToolTip(f"{lab.description} ({lab_key(i)})" if i < 20 else lab.description)
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
        # the run's own line (steps/s, ETA, device): about the machine, never exported
        self.run_status = QtWidgets.QLabel("")
        self.status.addPermanentWidget(self.run_status)

    def _dock(self, title: str, widget, area, width: int) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable)
        widget.setMinimumWidth(width)
        widget.genlab_width = width  # scaled with the fonts (Ctrl+=) so nothing is clipped
        self.addDockWidget(area, dock)
        self.docks[title] = dock
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
        self.open_ckpt_action = file.addAction("Open checkpoint…", self.open_checkpoint_dialog)
        self.save_ckpt_action = file.addAction("Save checkpoint…", self.save_checkpoint_dialog)
        self.open_images_action = file.addAction("Open image data…", self.open_images_dialog)
        self.reset_model_action = file.addAction("Reset the trained model", self.reset_model)
        self.reset_model_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+R"))
        file.addSeparator()
        file.addAction("Open scene…", self.open_scene_dialog)
        file.addAction("Save scene…", self.save_scene_dialog)
        file.addAction("Open lecture…", self.open_lecture_dialog)
        file.addSeparator()
        file.addAction("Load drawn data…", self.load_drawn_dialog)
        file.addAction("Save drawn data…", self.save_drawn_dialog)
        file.addSeparator()
        file.addAction("Quit", QtGui.QKeySequence.StandardKey.Quit, self.close)
        self.presets_menu = mb.addMenu("&Presets")
        view = mb.addMenu("&View")
        view.addAction("Presentation mode (F5)", self.presenting.toggle)
        themes = view.addMenu("Theme")
        group = QtGui.QActionGroup(self)
        self.theme_actions = {}
        for name, text in (("light", "Light"), ("dark", "Dark (Ctrl+T)"),
                           ("projector", "High contrast, for projectors (Ctrl+Shift+T)")):
            act = themes.addAction(text, lambda n=name: self.set_theme(n))
            act.setCheckable(True)
            act.setChecked(self.theme.name == name)
            group.addAction(act)
            self.theme_actions[name] = act
        view.addAction("Larger (Ctrl+=)", lambda: self.zoom(1.15))
        view.addAction("Smaller (Ctrl+-)", lambda: self.zoom(1 / 1.15))
        view.addAction("Full screen (F11)", self.toggle_fullscreen)
        view.addAction("Reset the view (Home)", self.canvas.reset_view)
        view.addSeparator()
        for dock in self.docks.values():  # the side panels can be hidden and shown again
            view.addAction(dock.toggleViewAction())
        help_menu = mb.addMenu("&Help")
        help_menu.addAction("Keyboard shortcuts (F1)", self.show_help)

    def _build_shortcuts(self) -> None:
        c = self.controller
        pr = self.presenting
        keys = [("Space", c.toggle), ("Right", c.step), ("Left", c.step_back),
                ("R", c.restart), ("Escape", self._escape), ("Ctrl+S", self.screenshot_dialog),
                ("F5", pr.toggle), ("PgDown", lambda: pr.page(1)),
                ("PgUp", lambda: pr.page(-1)), (".", pr.blank), ("B", pr.blank),
                ("D", lambda: pr.ink.toggle("pen")), ("L", lambda: pr.ink.toggle("laser")),
                ("C", pr.ink.clear), ("K", pr.ink.next_colour),
                ("Ctrl+Shift+T", lambda: self.set_theme("projector")),
                ("Ctrl+E", self.export_dialog), ("F11", self.toggle_fullscreen),
                ("Ctrl+=", lambda: self.zoom(1.15)), ("Ctrl++", lambda: self.zoom(1.15)),
                ("Ctrl+-", lambda: self.zoom(1 / 1.15)), ("F1", self.show_help),
                ("Ctrl+T", self.toggle_theme),
                ("Ctrl+Z", self._undo), ("Home", self.canvas.reset_view),
                ("V", lambda: self.set_tool("view")), ("P", lambda: self.set_tool("paint")),
                ("E", lambda: self.set_tool("erase")), ("M", lambda: self.set_tool("place"))]
        for i, name in enumerate(list(LABS)[:20]):
            keys.append((lab_key(i), lambda n=name: self.switch_lab(n)))
        self.shortcuts = {}
        for key, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            self.shortcuts[key] = sc

    def _escape(self) -> None:
        """Esc leaves presentation mode, else halts the run (Space resumes it)."""
        if self.presenting.on:
            self.presenting.leave()
        else:
            self.controller.stop()

    def _undo(self) -> None:
        if not self.presenting.ink.undo():  # the ink first, then the drawn points
            self.draw.undo()

    def _connect(self) -> None:
        c = self.controller
        # a click (or Enter) switches labs; arrow keys over the list must not (each restarted
        # a lab)
        self.lab_list.itemClicked.connect(self._lab_clicked)
        self.lab_list.itemActivated.connect(self._lab_clicked)
        self.panel.finished.connect(self.focus_canvas)
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
        trains = lab.make_trainer is not None
        for action in (self.open_ckpt_action, self.save_ckpt_action, self.open_images_action):
            action.setEnabled(trains)
        drawable = lab.takes_data or lab.uses_picks
        self.draw_box.setVisible(drawable)
        if not drawable and self.draw.mode != "view":
            self.set_tool("view")

    def _lab_clicked(self, item, _prev=None) -> None:
        if item is not None:
            self.switch_lab(item.data(QtCore.Qt.ItemDataRole.UserRole))
            self.focus_canvas()

    def focus_canvas(self) -> None:
        """The playback keys go to the canvas again (after a field was edited, a lab or a
        preset chosen)."""
        self.canvas.setFocus()

    def _fill_presets(self, lab: LabInfo) -> None:
        self.preset_box.clear()
        self.presets_menu.clear()
        self.presets_menu.addAction("Next preset (PageDown)", lambda: self.step_preset(1))
        self.presets_menu.addAction("Previous preset (PageUp)", lambda: self.step_preset(-1))
        self.presets_menu.addSeparator()
        for i, p in enumerate(presets_for(lab.name)):
            self.preset_box.addItem(p.name)
            self.preset_box.setItemData(i, p.description, QtCore.Qt.ItemDataRole.ToolTipRole)
            # numbered, and the first nine on Alt+1 … Alt+9
            act = self.presets_menu.addAction(f"&{i + 1}. {p.name}" if i < 9 else p.name,
                                              lambda n=p.name: self.apply_preset(n))
            if i < 9:
                act.setShortcut(QtGui.QKeySequence(f"Alt+{i + 1}"))
            act.setToolTip(p.description)

    def step_preset(self, delta: int) -> None:
        """The next (delta = 1) or previous preset of the lab, cycling (clicker keys)."""
        presets = presets_for(self.controller.lab.name) if self.controller.lab else ()
        if not presets:
            return
        names = [p.name for p in presets]
        now = self.preset_box.currentText()
        i = names.index(now) if now in names else -1
        self.apply_preset(names[(i + delta) % len(names)])

    def _preset_chosen(self, index: int) -> None:
        self.apply_preset(self.preset_box.itemText(index))
        self.focus_canvas()

    def apply_preset(self, name: str) -> None:
        lab = self.controller.lab
        preset = next(p for p in presets_for(lab.name) if p.name == name)
        self.preset_box.setCurrentText(name)
        self.canvas.keep_view = False
        self.controller.set_params(preset.params(lab.params))
        self.controller.playing = True  # a newly chosen preset plays, even after a pause
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

    # -- scenes and lectures --------------------------------------------------------------
    def open_scene(self, path: str) -> bool:
        try:
            scene = open_scene_file(self, path)
        except SceneError as e:
            self.show_message(f"{e}; nothing changed.")
            return False
        self.show_message(f"Scene: {scene.title or Path(path).name}")
        return True

    def save_scene(self, path: str, notes: str = "") -> bool:
        if self.controller.lab is None:
            return False
        try:
            save_scene_file(self, path, notes)
        except OSError as e:
            self.show_message(f"Could not save {path}: {e.strerror or e}")
            return False
        self.show_message(f"Saved the scene to {path}")
        return True

    def open_lecture(self, path: str) -> bool:
        try:
            lecture = open_lecture_file(self, path)
        except SceneError as e:
            self.show_message(f"{e}; nothing changed.")
            return False
        self.show_message(f"Lecture: {lecture.title} ({len(lecture.scenes)} scenes; "
                          "PageDown / PageUp step through them)")
        return True

    def open_scene_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open scene", str(self._last_dir), "Scenes (*.json)")
        if path:
            self.open_scene(path)

    def save_scene_dialog(self) -> None:
        name = f"{self.controller.lab.name}-scene.json"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save scene", str(self._last_dir / name), "Scenes (*.json)")
        if path:
            self._last_dir = Path(path).parent
            self.save_scene(path if path.endswith(".json") else path + ".json")

    def open_lecture_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open lecture", str(self._last_dir), "Lectures (*.json)")
        if path:
            self.open_lecture(path)

    # -- trained models ------------------------------------------------------------------
    def open_checkpoint(self, path: str) -> bool:
        """Start the lab from a checkpoint (its model's parameters are set from it)."""
        lab = self.controller.lab
        if lab is None or lab.checkpoint_params is None:
            self.show_message("This lab has no checkpoints to open.")
            return False
        try:
            params = lab.checkpoint_params(path, self.controller.params)
        except (OSError, ValueError, KeyError, ParamError) as e:
            self.show_message(f"Could not open {path}: {e}. Nothing changed.")
            return False
        self.controller.checkpoint = path
        self.controller.set_params(params)
        self.controller.restart()
        self.show_message(f"Opened {path}")
        return True

    def save_checkpoint(self, path: str) -> None:
        """Ask the run to save its model at its next frame (a finished run is resumed for a
        frame to do it: the trained model is kept in the store)."""
        lab = self.controller.lab
        if lab is None or lab.make_trainer is None:
            self.show_message("This lab has no model to save.")
            return
        from genlab.ui.export import check_writable

        try:
            check_writable(path)
        except OSError as e:
            self.show_message(f"Could not save {path}: {e}")
            return
        self.controller.requests.put(("save", path))
        if not self.controller.running:
            self.controller.restart()
        elif not self.controller.playing:
            self.controller.thread.request_step()

    def reset_model(self) -> None:
        """Forget the lab's trained models and train from the start."""
        lab = self.controller.lab
        if lab is None:
            return
        from genlab.engine.training.store import STORE

        STORE.clear(lab.name)
        self.controller.restart()
        self.show_message(f"The {lab.title} lab's trained models are forgotten: training "
                          "starts again.")

    def open_images(self, path: str) -> None:
        self.controller.images = path
        try:
            self.controller.set_param("data", "file")
        except ParamError:
            self.controller.restart()

    def open_checkpoint_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open checkpoint", str(self._last_dir), "Checkpoints (*.safetensors)")
        if path:
            self.open_checkpoint(path)

    def save_checkpoint_dialog(self) -> None:
        name = f"{self.controller.lab.name}.safetensors"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save checkpoint", str(self._last_dir / name), "Checkpoints (*.safetensors)")
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self._last_dir = Path(path).parent
            self.save_checkpoint(path)

    def open_images_dialog(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of images",
                                                          str(self._last_dir))
        if not path:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(
                self, "Open image data", str(self._last_dir),
                "Images (*.npz *-ubyte *-ubyte.gz *.idx *.gz);;All files (*)")
        if path:
            self.open_images(path)

    # -- display ---------------------------------------------------------------------------
    def _refresh(self) -> None:
        """At most DISPLAY_HZ times a second: draw the frame in view if it changed."""
        frame = self.controller.current_frame()
        if frame is not None and frame is not self._shown:
            self.canvas.show_frame(frame)
            if frame.notice and (self._shown is None or frame.notice != self._shown.notice):
                self.show_message(frame.notice)
            self.run_status.setText(frame.status)
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
        act = self.theme_actions.get(self.theme.name)
        if act is not None and not act.isChecked():
            act.setChecked(True)
        self._restyle()

    def toggle_theme(self) -> None:
        """Ctrl+T: dark, or back to light (from dark or the projector theme)."""
        self.set_theme("light" if self.theme.name == "dark" else "dark")

    def zoom(self, factor: float) -> None:
        self.set_scale(self.theme.scale * factor)
        self.show_message(f"Scale {self.theme.scale:.2f}×")

    def set_scale(self, scale: float, save: bool = True) -> None:
        self.theme = self.theme.scaled(scale)
        self._restyle(save)

    def _restyle(self, save: bool = True) -> None:
        th = self.theme
        apply_qt_palette(th)
        self.canvas.apply_theme(th)
        self.metrics.apply_theme(th)
        self.playback.set_colour(th.foreground, th.scale)
        # the draw box's header kept the palette it was made with (its text vanished on the
        # light theme after the dark one): give it the new one
        app = QtWidgets.QApplication.instance()
        for w in [self.draw_box, *self.draw_box.findChildren(QtWidgets.QWidget)]:
            w.setPalette(app.palette())
            w.setFont(app.font())
        for dock in self.docks.values():  # wider with the fonts: nothing clipped at 2×
            w = dock.widget()
            w.setMinimumWidth(int(w.genlab_width * max(1.0, th.scale)))
        if self.presenting.ink.blanked:
            self.presenting.ink.set_blank(True, th.background)
        if save and not self.presenting.on:
            save_prefs(th.name, th.scale)

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
