"""RunThread: pulls frames from a lab's generator in a QThread and emits them.

The GUI thread never waits on it: it only flips flags under a short lock.  The thread paces
itself (frames per second), pauses, steps one frame at a time, takes live parameter
changes at the generator's next yield, and stops at the next yield when cancelled.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from genlab.labs.base import FrameGenerator, LabError
from genlab.labs.frame import Frame

MAX_IN_FLIGHT = 4  # frames emitted but not yet taken by the GUI


def limit_torch_threads() -> None:
    """Leave a core to the GUI: torch in a worker with 2+ threads starves the event loop."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


class RunThread(QtCore.QThread):
    instances: weakref.WeakSet[RunThread] = weakref.WeakSet()  # tests check none is left

    frame_ready = QtCore.Signal(int, object)  # generation, Frame
    run_failed = QtCore.Signal(int, str)  # generation, message
    run_done = QtCore.Signal(int, bool)  # generation, cancelled

    def __init__(self, generation: int, make_generator: Callable[[], FrameGenerator],
                 fps: float = 20.0, paused: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.generation = generation
        self._make = make_generator
        self._cond = threading.Condition()
        self._paused = paused
        self._steps = 0
        self._cancel = False
        self._interval = 0.0 if fps <= 0 else 1.0 / fps
        self._live: Any = None
        self._over = False  # the generator has ended: a live change can no longer reach it
        self._in_flight = 0
        RunThread.instances.add(self)

    # -- called from the GUI thread (never blocks for long) -----------------------------
    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def request_step(self) -> None:
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def set_fps(self, fps: float) -> None:
        with self._cond:
            self._interval = 0.0 if fps <= 0 else 1.0 / fps
            self._cond.notify_all()

    def send_live(self, params: Any) -> bool:
        """Hand a live change to the generator at its next yield; False when the run is
        already over (the caller restarts it instead)."""
        with self._cond:
            if self._over:
                return False
            self._live = params
            self._cond.notify_all()
            return True

    @property
    def missed_live(self) -> bool:
        """A live change arrived while the generator was making its last frame: it ended
        without taking it, so the run should be restarted with it."""
        with self._cond:
            return self._over and self._live is not None

    def ack(self) -> None:
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._cancel = True
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancel

    # -- the worker thread ---------------------------------------------------------------
    def _ready(self) -> bool:
        return self._cancel or (
            self._in_flight < MAX_IN_FLIGHT and (not self._paused or self._steps > 0))

    def run(self) -> None:
        gen: FrameGenerator | None = None
        started = False
        try:
            gen = self._make()
            while True:
                with self._cond:
                    self._cond.wait_for(self._ready)
                    if self._cancel:
                        break
                    if self._paused:
                        self._steps -= 1
                    live, self._live = self._live, None
                t0 = time.perf_counter()
                try:
                    frame = gen.send(live) if started else next(gen)
                except StopIteration:
                    with self._cond:
                        self._over = True
                    self.run_done.emit(self.generation, False)
                    return
                started = True
                limit_torch_threads()
                if not isinstance(frame, Frame):
                    raise TypeError(f"the lab yielded {type(frame).__name__}, not a Frame")
                bad = frame.first_nonfinite()
                if bad is not None:
                    self.run_failed.emit(
                        self.generation,
                        f"Run stopped at frame {frame.step}: NaN or infinity in {bad}. "
                        "The last good frame stays on screen; try a smaller step or "
                        "learning rate.")
                    return
                with self._cond:
                    self._in_flight += 1
                self.frame_ready.emit(self.generation, frame)
                with self._cond:
                    if not self._paused and self._interval > 0:
                        # the lab's pacing: slow motion (pace) and beats held (hold)
                        wait = (self._interval * frame.pace + frame.hold
                                - (time.perf_counter() - t0))
                        if wait > 0:
                            self._cond.wait_for(lambda: self._cancel or self._paused, wait)
            self.run_done.emit(self.generation, True)
        except Exception as exc:  # a lab bug must not take the window down
            if isinstance(exc, LabError):
                msg = f"Run stopped: {exc}"
            else:
                traceback.print_exc()
                msg = f"Run stopped: {type(exc).__name__}: {exc}"
            self.run_failed.emit(self.generation, msg + " (the last good frame stays on screen)")
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    pass
