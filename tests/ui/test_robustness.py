"""Never crash, never lie about a file: the window's side of it."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import numpy as np
import shiboken6

from genlab.labs import LabInfo
from genlab.labs.frame import Frame, Panel, Points
from tests.ui.conftest import wait_frames


@dataclass(frozen=True)
class P:
    pass


def test_a_run_that_fails_at_once_keeps_the_previous_picture(make_window, qtbot):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 2)
    qtbot.waitUntil(lambda: win.canvas.frame is not None)
    shown = win.canvas.frame

    def run_fail(params, ctx):
        raise RuntimeError("bad set-up")
        yield  # a generator

    c.set_lab(LabInfo("fail", "Fail", "fails before its first frame", P, run_fail))
    qtbot.waitUntil(lambda: c.state == "failed", timeout=10000)
    assert "bad set-up" in win.statusBar().currentMessage()
    assert win.canvas.frame is shown  # the last good frame, title and caption included


def test_an_unwritable_screenshot_says_so(make_window, qtbot, tmp_path):
    win = make_window()
    wait_frames(qtbot, win, 1)
    folder = tmp_path / "x.svg"
    folder.mkdir()
    for path in ("/proc/x.svg", str(folder), "/proc/x.png"):
        assert win.screenshot(path) is None
        assert win.statusBar().currentMessage().startswith("Could not save")


def test_zooming_out_forever_stays_finite(make_window, qtbot):
    win = make_window()
    wait_frames(qtbot, win, 1)
    vb = win.canvas.plots[0].getViewBox()
    for _ in range(40):
        vb.scaleBy((1e8, 1e8))
    assert np.isfinite(vb.viewRange()).all()


def test_torch_half_imported_by_another_run_is_left_alone(monkeypatch):
    """A run switched to while another run's thread imports torch used to fail with
    "partially initialized module 'torch' has no attribute 'get_num_threads'"."""
    from genlab.ui.worker import limit_torch_threads

    half = types.ModuleType("torch")
    half.__spec__ = types.SimpleNamespace(_initializing=True)
    monkeypatch.setitem(sys.modules, "torch", half)
    limit_torch_threads()  # no AttributeError
    done = types.ModuleType("torch")
    calls = []
    done.get_num_threads = lambda: 2
    done.set_num_threads = calls.append
    monkeypatch.setitem(sys.modules, "torch", done)
    limit_torch_threads()
    assert calls == [1]


def test_switching_labs_during_a_slow_first_step_runs_the_new_lab(make_window, qtbot):
    """A step that cannot be interrupted is abandoned: the new lab's frames come at once."""
    import threading

    release = threading.Event()

    def run_slow(params, ctx):
        release.wait(20)  # an import or a solve that takes long and cannot be cancelled
        yield Frame(0, "slow", (Panel({"p": Points(np.zeros((1, 2)))}),), caption="late")

    win = make_window()
    c = win.controller
    c.set_lab(LabInfo("slow", "Slow", "a long first step", P, run_slow))
    qtbot.waitUntil(lambda: c.thread is not None and c.thread.isRunning(), timeout=5000)
    slow = c.thread
    win.switch_lab("em")
    # finished (and deleted by the controller) within 2 s, not after the 20 s step
    qtbot.waitUntil(lambda: not shiboken6.isValid(slow) or slow.isFinished(), timeout=2000)
    wait_frames(qtbot, win, 1)
    assert c.timeline[0].title.startswith("EM")
    release.set()
