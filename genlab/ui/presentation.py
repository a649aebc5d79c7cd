"""In front of a class: presentation mode, clicker keys, ink, scenes and lectures.

``Presenting`` works on a MainWindow: F5 puts the canvas, its caption and a slim playback bar
full screen at a projector's scale (the side panels, the menu and the status bar hidden); Esc
or F5 brings the window back as it was.  PageDown/PageUp step through the lecture's scenes
(or the lab's presets when no lecture is open), "." or B blank the screen, D and L turn the pen
and the laser on and off, C clears the ink (a new scene clears it too), K changes the ink's
colour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore, QtGui

from genlab.ui.ink import InkOverlay
from genlab.ui.scene import Lecture, Scene, SceneError, load_lecture, load_scene, save_scene

if TYPE_CHECKING:
    from genlab.ui.main_window import MainWindow

PROJECTOR_ROWS = 720  # a 1080-line projector shows the window's 1.0 scale at 1.5


@dataclass
class _Saved:
    docks: dict[str, bool] = field(default_factory=dict)
    menu: bool = True
    status: bool = True
    full: bool = False
    maximized: bool = False
    scale: float = 1.0


class Presenting(QtCore.QObject):
    scene_changed = QtCore.Signal(int)  # index in the lecture

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.on = False
        self.ink = InkOverlay(win.canvas)
        self.lecture: Lecture | None = None
        self.index = -1
        self.started = time.monotonic()
        self._saved = _Saved()
        self.presenter: Any = None

    # -- presentation mode --------------------------------------------------------------
    def toggle(self) -> None:
        self.leave() if self.on else self.enter()

    def enter(self) -> None:
        if self.on:
            return
        w = self.win
        self._saved = _Saved({k: d.isVisible() for k, d in w.docks.items()},
                             w.menuBar().isVisible(), w.statusBar().isVisible(),
                             w.isFullScreen(), w.isMaximized(), w.theme.scale)
        for d in w.docks.values():
            d.hide()
        w.menuBar().hide()
        w.statusBar().hide()
        w.playback.set_slim(True)
        screen = w.screen() or QtGui.QGuiApplication.primaryScreen()
        rows = screen.geometry().height() if screen else 1080
        w.set_scale(max(w.theme.scale, rows / PROJECTOR_ROWS), save=False)
        w.showFullScreen()
        self.on = True
        w.focus_canvas()

    def leave(self) -> None:
        if not self.on:
            return
        w, s = self.win, self._saved
        self.on = False
        self.ink.set_mode("off")
        self.ink.set_blank(False)
        for k, d in w.docks.items():
            d.setVisible(s.docks.get(k, True))
        w.menuBar().setVisible(s.menu)
        w.statusBar().setVisible(s.status)
        w.playback.set_slim(False)
        w.set_scale(s.scale, save=False)
        if not s.full:
            w.showMaximized() if s.maximized else w.showNormal()
        w.focus_canvas()

    # -- clicker keys ---------------------------------------------------------------------
    def page(self, delta: int) -> None:
        """PageDown/PageUp: the next or previous scene of the lecture, else preset."""
        if self.lecture is not None:
            self.go(self.index + delta)
        else:
            self.win.step_preset(delta)
        self.ink.clear()

    def blank(self) -> None:
        self.ink.set_blank(not self.ink.blanked, self.win.theme.background)

    # -- lectures and scenes ----------------------------------------------------------------
    def open_lecture(self, lecture: Lecture, index: int = 0) -> None:
        self.lecture = lecture
        self.index = -1
        self.started = time.monotonic()
        self.go(index)

    def go(self, index: int) -> None:
        if self.lecture is None:
            return
        index = int(np.clip(index, 0, len(self.lecture.scenes) - 1))
        if index == self.index:
            return
        self.index = index
        self.ink.clear()
        apply_scene(self.win, self.lecture.scenes[index])
        self.scene_changed.emit(index)


def capture_scene(win: MainWindow, title: str = "", notes: str = "") -> Scene:
    """What the window shows now, as a Scene."""
    from genlab.labs.params import to_dict

    c = win.controller
    views = []
    for plot in win.canvas.plots:
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        views.append((float(x0), float(x1), float(y0), float(y1)))
    drawn = tuple((float(a), float(b)) for a, b in np.asarray(win.draw.points))
    labels = tuple(int(k) for k in np.asarray(win.draw.labels)) if len(drawn) else ()
    return Scene(lab=c.lab.name, params=to_dict(c.params), title=title, notes=notes,
                 theme=win.theme.name, scale=win.theme.scale, fps=c.fps, views=tuple(views),
                 drawn=drawn, drawn_labels=labels)


def apply_scene(win: MainWindow, scene: Scene) -> None:
    """Show a (validated) scene: its lab, parameters, drawn points, theme, scale, speed; its
    view rectangles once its first frame is drawn."""
    from genlab.labs import LABS
    from genlab.labs.params import from_dict

    lab = LABS[scene.lab]
    params = from_dict(lab.params, scene.params)
    pts = np.asarray(scene.drawn, float).reshape(-1, 2)
    labels = np.asarray(scene.drawn_labels, np.int64) if scene.drawn_labels else \
        np.zeros(len(pts), np.int64)
    win.draw.set_points(pts, labels)
    win.controller.set_drawn(pts, labels)
    if win.theme.name != scene.theme:
        win.set_theme(scene.theme)
    if not win.presenting.on:
        win.set_scale(scene.scale)
    win.controller.set_lab(lab, params)
    win.controller.set_fps(scene.fps)
    win.canvas.pending_views = list(scene.views)
    win.canvas.keep_view = bool(scene.views)


def save_scene_file(win: MainWindow, path: str | Path, notes: str = "") -> Path:
    return save_scene(capture_scene(win, notes=notes), path)


def open_scene_file(win: MainWindow, path: str | Path) -> Scene:
    """Validate the whole file first (SceneError: nothing changes), then show it."""
    scene = load_scene(path)
    apply_scene(win, scene)
    return scene


def open_lecture_file(win: MainWindow, path: str | Path) -> Lecture:
    lecture = load_lecture(path)
    win.presenting.open_lecture(lecture)
    return lecture


__all__ = ["Presenting", "SceneError", "apply_scene", "capture_scene", "open_lecture_file",
           "open_scene_file", "save_scene_file"]
