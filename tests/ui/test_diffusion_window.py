"""The diffusion lab driven through the real window."""

from __future__ import annotations

import numpy as np

from genlab.labs.frame import Handles
from tests.ui.conftest import drag_on_canvas, wait_frames


def _layers(frame, panel=0):
    return frame.panels[panel].layers


def test_ddpm_preset_animates_and_view_switches_live(make_window, qtbot):
    win = make_window("diffusion")
    c = win.controller
    c.set_fps(60.0)
    assert c.lab.name == "diffusion" and c.params.view == "reverse"
    wait_frames(qtbot, win, 6, timeout=60000)
    frames = list(c.timeline)
    steps = [f.title for f in frames]
    assert "step 0 / 100" in steps[0] and "step 2 / 100" in steps[1]
    first = _layers(frames[0])["particles"].xy
    last = _layers(frames[-1])["particles"].xy
    assert not np.allclose(first, last)  # the particles move from noise towards the data
    gen = c.generation
    win.panel.widgets["view"].setCurrentText("forward")
    qtbot.waitUntil(lambda: "forward" in c.timeline[-1].title, timeout=20000)
    assert c.generation == gen  # live: the denoiser's training goes on
    assert "The denoiser trains on" in c.timeline[-1].caption
    win.panel.widgets["view"].setCurrentText("score")
    qtbot.waitUntil(lambda: "score" in c.timeline[-1].title, timeout=20000)
    assert c.generation == gen and "loss/ε-MSE" in c.timeline[-1].metrics


def test_dragging_the_probe_moves_the_tweedie_markers(make_window, qtbot):
    win = make_window("diffusion")
    c = win.controller
    c.set_params(c.params.__class__(view="score", t=0.4, probe_x=0.9, probe_y=0.35,
                                    steps=20000))
    qtbot.waitUntil(lambda: len(c.timeline) >= 3 and "score" in c.timeline[-1].title,
                    timeout=60000)
    qtbot.waitUntil(lambda: win.canvas.frame is not None and len(win.canvas.frame.panels) == 3
                    and "probe" in _layers(win.canvas.frame, 2), timeout=20000)
    qtbot.wait(50)  # one layout pass, so data coordinates map to the right pixels
    gen = c.generation
    handle = _layers(win.canvas.frame, 2)["probe"]
    assert isinstance(handle, Handles) and handle.x_params == ("probe_x",)
    before = _layers(c.timeline[-1], 2)["exact"].xy.copy()
    drag_on_canvas(win.canvas, [(0.9, 0.35), (0.0, 1.0), (-1.5, 1.5)], panel=2)
    assert abs(c.params.probe_x + 1.5) < 0.06 and abs(c.params.probe_y - 1.5) < 0.06
    qtbot.waitUntil(lambda: np.allclose(_layers(c.timeline[-1], 2)["probe"].xy,
                                        [[c.params.probe_x, c.params.probe_y]]),
                    timeout=10000)
    assert c.generation == gen  # a live drag: no restart
    after = _layers(c.timeline[-1], 2)["exact"].xy
    assert not np.allclose(after, before)
    assert after[0, 0] < 0  # the posterior mean follows the probe to the left clusters
