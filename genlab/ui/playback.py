"""Playback controls: play/pause, step back, step, restart, speed, and the timeline slider."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from genlab.ui.controller import SPEEDS, RunController


def _speed_label(fps: float) -> str:
    return "max" if fps <= 0 else f"{fps:g} fps"


class PlaybackBar(QtWidgets.QWidget):
    def __init__(self, controller: RunController, parent=None) -> None:
        super().__init__(parent)
        self.c = controller
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        style = self.style()
        sp = QtWidgets.QStyle.StandardPixmap

        def button(icon, tip: str, slot) -> QtWidgets.QToolButton:
            b = QtWidgets.QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.clicked.connect(slot)
            b.setAutoRaise(True)
            lay.addWidget(b)
            return b

        self.restart_btn = button(sp.SP_BrowserReload, "Restart the run (R)", controller.restart)
        self.back_btn = button(sp.SP_MediaSeekBackward, "Step back one frame (Left)",
                               controller.step_back)
        self.play_btn = button(sp.SP_MediaPause, "Play / pause (Space)", controller.toggle)
        self.step_btn = button(sp.SP_MediaSeekForward, "Step one frame (Right)", controller.step)
        self.stop_btn = button(sp.SP_MediaStop, "Stop the run, keeping its frames (Esc)",
                               controller.stop)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub the recorded frames")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._scrubbed)
        lay.addWidget(self.slider, 1)
        self.pos_label = QtWidgets.QLabel("0 / 0")
        self.pos_label.setMinimumWidth(90)
        lay.addWidget(self.pos_label)
        lay.addWidget(QtWidgets.QLabel("speed"))
        self.speed = QtWidgets.QComboBox()
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

    def _show_fps(self, fps: float) -> None:
        i = self.speed.findData(fps)
        if i < 0:  # a lab's own speed not in the list
            self.speed.addItem(_speed_label(fps), fps)
            i = self.speed.count() - 1
        self.speed.blockSignals(True)
        self.speed.setCurrentIndex(i)
        self.speed.blockSignals(False)

    def _state(self, state: str) -> None:
        sp = QtWidgets.QStyle.StandardPixmap
        icon = sp.SP_MediaPause if state == "playing" else sp.SP_MediaPlay
        self.play_btn.setIcon(self.style().standardIcon(icon))

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
