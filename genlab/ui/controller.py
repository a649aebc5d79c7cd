"""RunController: one lab's params, its running worker, the timeline and playback state.

Qt signals but no widgets, so tests can drive runs without a window.  Each run carries a
generation number; frames and errors from a superseded run are dropped.
"""

from __future__ import annotations

import dataclasses
import queue
from typing import Any

import numpy as np
from PySide6 import QtCore

from genlab.labs import LabInfo, RunContext
from genlab.labs.params import ParamError, data_field, live_fields, param_fields, replace
from genlab.labs.presets import presets_for
from genlab.ui.timeline import Timeline
from genlab.ui.worker import RunThread

SPEEDS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 0.0)  # frames per second; 0 = max
RESTART_DELAY_MS = 150


def default_params(lab: LabInfo) -> Any:
    presets = presets_for(lab.name)
    return presets[0].params(lab.params) if presets else lab.params()


class RunController(QtCore.QObject):
    frame_added = QtCore.Signal(object)  # a new Frame recorded from the current run
    view_changed = QtCore.Signal()  # the frame to show (``current_frame``) changed
    run_started = QtCore.Signal()  # a new run: clear metrics and the timeline view
    state_changed = QtCore.Signal(str)  # "playing", "paused", "finished", "failed", "stopped"
    params_changed = QtCore.Signal(object)
    message = QtCore.Signal(str)
    lab_changed = QtCore.Signal(object)
    fps_changed = QtCore.Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.lab: LabInfo | None = None
        self.params: Any = None
        self.timeline = Timeline()
        self.view = -1  # index into the timeline of the frame on screen
        self.playing = True
        self.fps = 20.0
        self.state = "paused"
        self.drawn = np.zeros((0, 2))
        self.drawn_labels: np.ndarray | None = None
        self.picks = np.zeros((0, 2))
        self.device = "auto"
        self.requests: queue.SimpleQueue = queue.SimpleQueue()  # e.g. ("save", path)
        self.checkpoint: str | None = None  # opened: the next run starts from it, once
        self.images: str | None = None  # the user's image data (File → Open image data)
        self.generation = 0
        self.thread: RunThread | None = None
        self._retired: list[RunThread] = []
        self._restart_timer = QtCore.QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.setInterval(RESTART_DELAY_MS)
        self._restart_timer.timeout.connect(self.restart)
        self._replay = QtCore.QTimer(self)  # plays recorded frames back, one shot per frame
        self._replay.setSingleShot(True)
        self._replay.timeout.connect(self._replay_tick)
        self._run_over: str | None = None  # "finished", "failed" or "stopped" once it ended

    # -- lab and parameters ----------------------------------------------------------
    def set_lab(self, lab: LabInfo, params: Any = None) -> None:
        self.lab = lab
        self.playing = True
        self.set_fps(lab.fps)  # each lab's own pace
        self.params = params if params is not None else default_params(lab)
        self.lab_changed.emit(lab)
        self.params_changed.emit(self.params)
        self.restart()

    def set_param(self, name: str, value: Any) -> None:
        """Apply one edited value; ParamError (with the message) if it is refused."""
        self.set_params(replace(self.params, **{name: value}))

    def set_params(self, params: Any) -> None:
        old, self.params = self.params, params
        changed = {f.name for f in dataclasses.fields(params)
                   if getattr(old, f.name) != getattr(params, f.name)}
        self.params_changed.emit(params)
        if not changed:
            return
        # a run that has just ended refuses the change (send_live is False): restart then
        if changed <= live_fields(type(params)) and self.thread is not None \
                and self.thread.isRunning() and self.thread.send_live(params):
            if not self.playing:
                self.thread.request_step()  # show the change at once while paused
        else:
            self._restart_timer.start()

    def set_drawn(self, points: np.ndarray, labels: np.ndarray | None = None) -> None:
        self.drawn = np.asarray(points, float).reshape(-1, 2)
        self.drawn_labels = None if labels is None else np.asarray(labels, np.int64).copy()
        if self.params is not None and self.uses_drawn():
            self._restart_timer.start()

    def uses_drawn(self) -> bool:
        """Some data field of the lab (its dataset, or e.g. OT's target) is set to "drawn"."""
        return any(f.spec.choices is not None and "drawn" in f.spec.choices
                   and getattr(self.params, f.name) == "drawn"
                   for f in param_fields(type(self.params)))

    def set_picks(self, points: np.ndarray) -> None:
        self.picks = np.asarray(points, float).reshape(-1, 2)
        if getattr(self.params, "init", None) == "clicked":
            self._restart_timer.start()

    def use_drawn(self) -> bool:
        """Switch the lab's data field shown now (``dataset``, or e.g. the data of the mode
        selected) to the drawn points, if it takes data."""
        name = data_field(self.params) if self.lab is not None else None
        if name is None or not self.lab.takes_data or self.uses_drawn():
            return False
        try:
            self.set_param(name, "drawn")
        except ParamError:
            return False
        return True

    def context(self) -> RunContext:
        labels = self.drawn_labels
        if labels is not None and len(labels) != len(self.drawn):
            labels = None
        return RunContext(drawn=self.drawn.copy() if len(self.drawn) else None,
                          drawn_labels=labels.copy() if labels is not None and len(labels)
                          else None,
                          picks=self.picks.copy() if len(self.picks) else None,
                          device=self.device, checkpoint=self.checkpoint,
                          requests=self.requests, images=self.images)

    # -- runs ------------------------------------------------------------------------
    def restart(self) -> None:
        self._restart_timer.stop()
        if self.lab is None:
            return
        self._stop_thread()
        self._replay.stop()
        if self._run_over is not None:
            self.playing = True  # the last run had ended: a new one plays (a paused one waits)
        self._run_over = None
        self.generation += 1
        self.timeline.clear()
        self.view = -1
        self.run_started.emit()
        lab, params, ctx = self.lab, self.params, self.context()
        self.checkpoint = None  # opened once; later runs continue the stored model
        thread = RunThread(self.generation, lambda: lab.run(params, ctx), fps=self.fps,
                           paused=not self.playing)
        thread.frame_ready.connect(self._on_frame)
        thread.run_failed.connect(self._on_failed)
        thread.run_done.connect(self._on_done)
        self.thread = thread
        if not self.playing:
            thread.request_step()  # show the first frame even when paused
        thread.start()
        self._set_state("playing" if self.playing else "paused")

    def _stop_thread(self) -> None:
        if self.thread is not None:
            self.thread.cancel()
            self._retired.append(self.thread)
            self.thread.finished.connect(self._reap)
            self.thread = None

    def _reap(self) -> None:
        for t in [t for t in self._retired if t.isFinished()]:
            self._retired.remove(t)
            t.deleteLater()

    def _on_frame(self, generation: int, frame) -> None:
        thread = self.sender()
        if isinstance(thread, RunThread):
            thread.ack()
        if generation != self.generation or self._run_over == "stopped":
            return  # a superseded run, or frames already queued when the user stopped
        follow = self.view >= len(self.timeline) - 1
        self.timeline.append(frame)
        self.frame_added.emit(frame)
        if follow:
            self.view = len(self.timeline) - 1
            self.view_changed.emit()

    def _on_failed(self, generation: int, msg: str) -> None:
        if generation != self.generation:
            return
        self.message.emit(msg)
        self._end_run("failed")

    def _on_done(self, generation: int, cancelled: bool) -> None:
        if generation != self.generation or cancelled:
            return
        if self.thread is not None and self.thread.missed_live:
            self._restart_timer.start()  # the run ended before it took the last live change
            return
        self._end_run("finished")

    def _end_run(self, how: str) -> None:
        self._run_over = how
        if not self._replay.isActive():
            self.playing = False
        self._set_state(how)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    @property
    def running(self) -> bool:
        """A run is going on (possibly paused) and can produce more frames."""
        return self.thread is not None and self._run_over is None \
            and not self.thread.isFinished()

    # -- playback ----------------------------------------------------------------------
    def play(self) -> None:
        """Play: first through the recorded frames after the one in view, then the run."""
        self.playing = True
        if self.view < len(self.timeline) - 1:
            self._replay.start(self._replay_interval())
            self._set_state("playing")
        else:
            self._resume_run()

    def _resume_run(self) -> None:
        if self.running:
            self.thread.set_paused(False)
            self._set_state("playing")
        else:
            self.playing = False  # nothing left to play
            self._set_state(self._run_over or "paused")

    def _replay_interval(self) -> int:
        """How long the frame in view stays while replaying: the frame interval times its
        pace, plus its hold (none at the maximum speed)."""
        if self.fps <= 0:
            return 16
        frame = self.current_frame()
        pace, hold = (frame.pace, frame.hold) if frame is not None else (1.0, 0.0)
        return max(1, int(1000 * (pace / self.fps + hold)))

    def _replay_tick(self) -> None:
        if self.view < len(self.timeline) - 1:
            self.view += 1
            self.view_changed.emit()
        if self.view >= len(self.timeline) - 1:
            self._replay.stop()
            self._resume_run()
        else:
            self._replay.start(self._replay_interval())

    def pause(self) -> None:
        self.playing = False
        self._replay.stop()
        if self.running:
            self.thread.set_paused(True)
        if self._run_over is None:
            self._set_state("paused")

    def toggle(self) -> None:
        if self.playing:
            self.pause()
            return
        if self._run_over is not None and self.view >= len(self.timeline) - 1:
            self.seek(0)  # a finished run replays from its first recorded frame
        self.play()

    def stop(self) -> None:
        """Halt the run where it is: no more frames until Space resumes it (the generator is
        kept, paused); the recorded frames stay for scrubbing and export.  A new run (R, a
        preset, a lab) replaces it."""
        if not self.running:
            return
        self.pause()
        self._set_state("stopped")
        self.message.emit("Run stopped. Space resumes it; its frames stay for scrubbing, "
                          "replay and export.")

    def step(self) -> None:
        """One frame forward: through the recorded frames, then a new one from the run."""
        self.pause()
        if self.view < len(self.timeline) - 1:
            self.view += 1
            self.view_changed.emit()
        elif self.running:
            self.thread.request_step()

    def step_back(self) -> None:
        self.pause()
        self.seek(self.view - 1)

    def seek(self, index: int) -> None:
        if len(self.timeline) == 0:
            return
        self.view = int(np.clip(index, 0, len(self.timeline) - 1))
        self.view_changed.emit()

    def set_fps(self, fps: float) -> None:
        changed = fps != self.fps
        self.fps = fps
        if self.thread is not None:
            self.thread.set_fps(fps)
        if self._replay.isActive():
            self._replay.start(self._replay_interval())
        if changed:
            self.fps_changed.emit(fps)

    def current_frame(self):
        if 0 <= self.view < len(self.timeline):
            return self.timeline[self.view]
        return None

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Stop every worker and wait for them (window closing)."""
        self._restart_timer.stop()
        self._replay.stop()
        self._stop_thread()
        for t in list(self._retired):
            t.wait(timeout_ms)
        self._reap()
