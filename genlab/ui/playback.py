"""Playback controls: play/pause, step back, step, restart, speed, and the timeline slider."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from genlab.ui.controller import SPEEDS, RunController
from genlab.ui.icons import icon


def _speed_label(fps: float) -> str:
    return "max" if fps <= 0 else f"{fps:g} fps"


class PlaybackBar(QtWidgets.QWidget):
    def __init__(self, controller: RunController, parent=None) -> None:
        super().__init__(parent)
        self.c = controller
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.colour = "#1A1A1A"
        self._icons: dict[QtWidgets.QToolButton, str] = {}

        def button(name: str, tip: str, slot) -> QtWidgets.QToolButton:
            b = QtWidgets.QToolButton()
            b.setToolTip(tip)
            b.clicked.connect(slot)
            b.setAutoRaise(True)
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys stay with the canvas
            self._icons[b] = name
            lay.addWidget(b)
            return b

        self.restart_btn = button("restart", "Restart the run (R)", controller.restart)
        self.back_btn = button("back", "Step back one frame (Left)", controller.step_back)
        self.play_btn = button("pause", "Play / pause (Space)", controller.toggle)
        self.step_btn = button("step", "Step one frame (Right)", controller.step)
        self.stop_btn = button("stop", "Stop the run; Space resumes it (Esc)", controller.stop)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip("Scrub the recorded frames")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._scrubbed)
        lay.addWidget(self.slider, 1)
        self.pos_label = QtWidgets.QLabel("0 / 0")
        self.pos_label.setMinimumWidth(90)
        lay.addWidget(self.pos_label)
        self.speed_label = QtWidgets.QLabel("speed")
        lay.addWidget(self.speed_label)
        self.speed = QtWidgets.QComboBox()
        self.speed.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.speed.setToolTip("Frames per second while playing")
        for fps in SPEEDS:
            self.speed.addItem(_speed_label(fps), fps)
        self._show_fps(controller.fps)
        self.speed.currentIndexChanged.connect(
            lambda i: controller.set_fps(float(self.speed.itemData(i))))
        controller.fps_changed.connect(self._show_fps)
        lay.addWidget(self.speed)
        controller.state_changed.connect(self._state)
        controller.view_changed.connect(self.sync)
        controller.frame_added.connect(lambda _f: self.sync())
        controller.run_started.connect(self.sync)
        self.set_colour(self.colour)

    def _show_fps(self, fps: float) -> None:
        i = self.speed.findData(fps)
        if i < 0:  # a lab's own speed not in the list
            self.speed.addItem(_speed_label(fps), fps)
            i = self.speed.count() - 1
        self.speed.blockSignals(True)
        self.speed.setCurrentIndex(i)
        self.speed.blockSignals(False)

    def set_colour(self, colour: str, scale: float = 1.0) -> None:
        """Icons in the theme's text colour, sized with its scale."""
        self.colour = colour
        size = int(round(22 * scale))
        for b, name in self._icons.items():
            b.setIcon(icon(name, colour))
            b.setIconSize(QtCore.QSize(size, size))

    def set_slim(self, slim: bool) -> None:
        """Presentation mode: the buttons and the timeline only."""
        for w in (self.pos_label, self.speed, self.speed_label):
            w.setVisible(not slim)

    def _state(self, state: str) -> None:
        self._icons[self.play_btn] = "pause" if state == "playing" else "play"
        self.play_btn.setIcon(icon(self._icons[self.play_btn], self.colour))

    def sync(self) -> None:
        n = len(self.c.timeline)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(max(self.c.view, 0))
        self.slider.blockSignals(False)
        first = self.c.timeline.dropped
        self.pos_label.setText(f"{first + max(self.c.view, 0) + (1 if n else 0)} / {first + n}")

    def _scrubbed(self, value: int) -> None:
        self.c.pause()
        self.c.seek(value)
