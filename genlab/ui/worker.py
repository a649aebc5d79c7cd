"""RunThread: pulls frames from a lab's generator in a QThread and emits them.

The GUI thread never waits on it: it only flips flags under a short lock.  The thread paces
itself (frames per second), pauses, steps one frame at a time, takes live parameter
changes at the generator's next yield, and stops at the next yield when cancelled.

The generator itself runs in a ``Stepper``, a daemon thread: a step that cannot be
interrupted (importing torch and POT, a lab's set-up, an exact OT solve) can then be
abandoned.  Cancelling ends the QThread at once; the abandoned step finishes on its own, its
generator is closed there and never resumed, and at exit the process does not wait for it.
A QThread destroyed while running aborts the process ("QThread: Destroyed while thread is
still running"), which is what closing the window during a long step used to do.
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
# After a run's first frame the worker pauses this long before its next step, so the window
# paints the frame before the lab's set-up goes on: importing torch in the worker holds the
# GIL for long stretches and delayed the first paint by one to two seconds.
FIRST_PAINT_S = 0.3


def limit_torch_threads() -> None:
    """Leave a core to the GUI: torch in a worker with 2+ threads starves the event loop.

    torch may be half-imported by another run's thread (a run switched away from while it
    imported torch): then it is left alone until its import has finished."""
    torch = sys.modules.get("torch")
    if torch is None or getattr(getattr(torch, "__spec__", None), "_initializing", False):
        return
    get, put = getattr(torch, "get_num_threads", None), getattr(torch, "set_num_threads", None)
    if get is not None and put is not None and get() != 1:
        put(1)


class Stepper:
    """A lab's generator in a daemon thread, advanced one step per ``request``.

    It shares the RunThread's condition: a finished step (``result``) and a cancel both wake
    the RunThread's wait.  ``abandon`` ends it after the step under way, if any.
    """

    alive: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # steps still running

    def __init__(self, make_generator: Callable[[], FrameGenerator],
                 cond: threading.Condition) -> None:
        self._make = make_generator
        self._cond = cond
        self._request: list[Any] = []  # [value to send] while a step is asked for
        self.result: tuple | None = None  # ("frame", f) | ("done",) | ("error", exc, tb)
        self._abandoned = False
        self._thread = threading.Thread(target=self._loop, daemon=True, name="genlab-run")
        Stepper.alive.add(self._thread)
        self._thread.start()

    def request(self, value: Any) -> None:
        """Ask for the next frame (sending ``value``); call with the condition held."""
        self.result = None
        self._request = [value]
        self._cond.notify_all()

    def abandon(self) -> None:
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()

    def _loop(self) -> None:
        gen: FrameGenerator | None = None
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._request or self._abandoned)
                    if self._abandoned:
                        return
                    value = self._request.pop()
                try:
                    if gen is None:
                        gen = self._make()
                        out: tuple = ("frame", next(gen))
                    else:
                        out = ("frame", gen.send(value))
                except StopIteration:
                    out = ("done",)
                except Exception as exc:  # a lab bug must not take the window down
                    out = ("error", exc, traceback.format_exc())
                with self._cond:
                    self.result = out
                    self._cond.notify_all()
                if out[0] != "frame":
                    return
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    pass


def runs_still_stepping() -> int:
    """How many abandoned steps are still running (the app exits without waiting for them)."""
    return sum(1 for t in Stepper.alive if t.is_alive())


def wait_for_steps(timeout: float = 30.0) -> None:
    """Let abandoned steps end (scripts that exit normally: a torch op cut off by the
    interpreter's exit aborts the process; the app leaves with os._exit instead)."""
    for t in list(Stepper.alive):
        t.join(timeout)


class RunThread(QtCore.QThread):
    instances: weakref.WeakSet[RunThread] = weakref.WeakSet()  # tests check none is left
    lab_bugs: list[str] = []  # runs that failed with an exception that is not a LabError

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
        stepper = Stepper(self._make, self._cond)
        first = True
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(self._ready)
                    if self._cancel:
                        break
                    if self._paused:
                        self._steps -= 1
                    live, self._live = self._live, None
                    t0 = time.perf_counter()
                    stepper.request(live)
                    self._cond.wait_for(lambda: stepper.result is not None or self._cancel)
                    out = stepper.result
                    if out is None:
                        break  # cancelled during a step: abandon it
                if out[0] == "done":
                    with self._cond:
                        self._over = True
                    self.run_done.emit(self.generation, False)
                    return
                if out[0] == "error":
                    self._failed(out[1], out[2])
                    return
                frame = out[1]
                limit_torch_threads()
                if not isinstance(frame, Frame):
                    self._failed(TypeError(
                        f"the lab yielded {type(frame).__name__}, not a Frame"), "")
                    return
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
                    if first:
                        first = False
                        self._cond.wait_for(lambda: self._cancel, FIRST_PAINT_S)
                    if not self._paused and self._interval > 0:
                        # the lab's pacing: slow motion (pace) and beats held (hold)
                        wait = (self._interval * frame.pace + frame.hold
                                - (time.perf_counter() - t0))
                        if wait > 0:
                            self._cond.wait_for(lambda: self._cancel or self._paused, wait)
            self.run_done.emit(self.generation, True)
        finally:
            stepper.abandon()

    def _failed(self, exc: BaseException, tb: str) -> None:
        if isinstance(exc, LabError):
            msg = f"Run stopped: {exc}"
        else:
            if tb:
                sys.stderr.write(tb)
            msg = f"Run stopped: {type(exc).__name__}: {exc}"
            RunThread.lab_bugs.append(tb or msg)
        self.run_failed.emit(self.generation, msg + " (the last good frame stays on screen)")
