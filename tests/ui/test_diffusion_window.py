"""The diffusion lab driven through the real window: the DDPM demo, live view switches, the
Tweedie probe dragged, and each named series in one colour on canvas and metric plots."""

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
    wait_frames(qtbot, win, 7, timeout=60000)
    # the first frame shows the data while torch loads; DDPM's frames follow
    assert list(c.timeline)[0].title.endswith("loading torch")
    frames = list(c.timeline)[1:]
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
    assert c.generation == gen and "ε-prediction loss/learned" in c.timeline[-1].metrics


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
    before = _layers(c.timeline[-1], 2)["exact E"].xy.copy()
    drag_on_canvas(win.canvas, [(0.9, 0.35), (0.0, 1.0), (-1.5, 1.5)], panel=2)
    assert abs(c.params.probe_x + 1.5) < 0.06 and abs(c.params.probe_y - 1.5) < 0.06
    qtbot.waitUntil(lambda: np.allclose(_layers(c.timeline[-1], 2)["probe"].xy,
                                        [[c.params.probe_x, c.params.probe_y]]),
                    timeout=10000)
    assert c.generation == gen  # a live drag: no restart
    after = _layers(c.timeline[-1], 2)["exact E"].xy
    assert not np.allclose(after, before)
    assert after[0, 0] < 0  # the posterior mean follows the probe to the left clusters


def test_axes_after_a_switch_a_theme_toggle_and_a_zoom_and_one_colour_per_series(make_window,
                                                                                  qtbot):
    """The first panel's axes (once ±6000 after a lab switch), and exact and learned in one
    colour each in the arrows, the Tweedie points and labels and the metric plots."""
    from PySide6 import QtCore

    from genlab.labs import LABS
    from tests.ui.test_pictures import _check_axes

    win = make_window("sampling")
    c = win.controller
    wait_frames(qtbot, win, 2, timeout=60000)
    key = QtCore.Qt.Key(QtCore.Qt.Key.Key_1 + list(LABS).index("diffusion"))
    qtbot.keyClick(win.canvas, key, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: c.lab.name == "diffusion" and len(c.timeline) >= 2, timeout=60000)
    c.set_fps(60.0)
    win.toggle_theme()
    win.zoom(1.15)
    win.panel.widgets["view"].setCurrentText("score")
    qtbot.waitUntil(lambda: "score" in c.timeline[-1].title and bool(c.timeline[-1].values),
                    timeout=30000)
    n = len(c.timeline)
    qtbot.waitUntil(lambda: len(c.timeline) > n + 1, timeout=30000)
    qtbot.waitUntil(lambda: win.canvas.frame is c.current_frame(), timeout=5000)
    frame = win.canvas.frame
    _check_axes(win.canvas, frame)
    table = {s.name: s for s in frame.series}
    drawn: dict[str, str] = {}
    for _key, item in win.canvas._items.items():
        if item.visible:
            for series, colour in item.drawn.items():
                assert drawn.setdefault(series, colour) == colour, series
    for who in ("exact", "learned"):
        want = win.theme.look(who, table).colour
        assert drawn[who] == want and win.metrics.drawn[who] == want
    assert win.metrics.xlabels["ε-prediction loss"] == "training step"
