"""The presenter window: what the lecturer sees on the laptop while the audience sees the
canvas full screen: the current and next scene's titles, a thumbnail of the next, the notes,
the clock and the time since the lecture began, and the playback and scene controls."""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from genlab.ui.icons import icon

if TYPE_CHECKING:
    from genlab.ui.main_window import MainWindow

THUMB = (400, 260)


class PresenterWindow(QtWidgets.QWidget):

    def __init__(self, win: MainWindow) -> None:
        super().__init__()
        self.win = win
        self.setWindowTitle("genlab — presenter")
        self.now = QtWidgets.QLabel()
        self.next = QtWidgets.QLabel()
        self.thumb = QtWidgets.QLabel("next scene")
        self.thumb.setFixedSize(*THUMB)
        self.thumb.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFrameShape(QtWidgets.QFrame.Shape.Box)
        self.notes = QtWidgets.QTextBrowser()
        self.clock = QtWidgets.QLabel()
        self.elapsed = QtWidgets.QLabel()
        big = self.font()
        big.setPointSizeF(big.pointSizeF() * 1.6)
        for label in (self.now, self.clock, self.elapsed):
            label.setFont(big)
        buttons = QtWidgets.QHBoxLayout()
        c, pr = win.controller, win.presenting
        colour = self.palette().color(QtGui.QPalette.ColorRole.WindowText).name()
        self.buttons = {}
        for name, tip, slot in (("back", "previous scene (PageUp)", lambda: pr.page(-1)),
                                ("restart", "restart the run (R)", c.restart),
                                ("play", "play / pause (Space)", c.toggle),
                                ("step", "next scene (PageDown)", lambda: pr.page(1))):
            b = QtWidgets.QToolButton()
            b.setIcon(icon(name, colour))
            b.setIconSize(QtCore.QSize(36, 36))
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
            self.buttons[name] = b
        buttons.addStretch(1)
        buttons.addWidget(self.clock)
        buttons.addSpacing(24)
        buttons.addWidget(self.elapsed)
        grid = QtWidgets.QGridLayout(self)
        grid.addWidget(self.now, 0, 0, 1, 2)
        grid.addWidget(self.notes, 1, 0)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.next)
        right.addWidget(self.thumb)
        right.addStretch(1)
        grid.addLayout(right, 1, 1)
        grid.addLayout(buttons, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.resize(1100, 640)
        self._thumbs: dict[int, QtGui.QImage] = {}
        # first frames made off the GUI thread wait here until the clock's tick takes them
        # (a signal from a plain thread into a window being closed crashed Qt)
        self._made: queue.SimpleQueue = queue.SimpleQueue()
        pr.scene_changed.connect(self.show_scene)
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.tick)
        self._timer.start(250)
        self.show_scene(max(pr.index, 0))
        self.tick()

    def tick(self) -> None:
        while not self._made.empty():
            self._got_thumbnail(*self._made.get_nowait())
        self.clock.setText(time.strftime("%H:%M"))
        s = int(time.monotonic() - self.win.presenting.started)
        self.elapsed.setText(f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d} elapsed")

    def show_scene(self, index: int) -> None:
        lecture = self.win.presenting.lecture
        if lecture is None:
            return
        scenes = lecture.scenes
        cur = scenes[index]
        self.now.setText(f"{index + 1} / {len(scenes)}: {cur.title or cur.lab}")
        self.notes.setPlainText(cur.notes)
        if index + 1 < len(scenes):
            nxt = scenes[index + 1]
            self.next.setText(f"next: {nxt.title or nxt.lab}")
            if index + 1 in self._thumbs:
                self._got_thumbnail(index + 1, self._thumbs[index + 1])
            else:
                self.thumb.setText("next: rendering…")
                self._render_later(index + 1)
        else:
            self.next.setText("the last scene")
            self.thumb.clear()
            self.thumb.setText("end of the lecture")

    def _render_later(self, index: int) -> None:
        """The next scene's first frame, computed off the GUI thread, drawn on it."""
        from genlab.labs import LABS, RunContext
        from genlab.labs.params import from_dict

        scene = self.win.presenting.lecture.scenes[index]
        lab = LABS[scene.lab]
        made = self._made

        def work() -> None:
            try:
                gen = lab.run(from_dict(lab.params, scene.params), RunContext())
                frame = next(gen)
                gen.close()
            except Exception:
                return
            made.put((index, frame))

        threading.Thread(target=work, daemon=True).start()

    def _got_thumbnail(self, index: int, frame_or_image) -> None:
        if isinstance(frame_or_image, QtGui.QImage):
            img = frame_or_image
        else:
            from genlab.ui.render import Renderer

            r = Renderer((THUMB[0] * 2, THUMB[1] * 2), self.win.theme)
            try:
                img = r.render(frame_or_image)
            finally:
                r.close()
            self._thumbs[index] = img
        if index == self.win.presenting.index + 1:
            self.thumb.setPixmap(QtGui.QPixmap.fromImage(img).scaled(
                *THUMB, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                QtCore.Qt.TransformationMode.SmoothTransformation))
