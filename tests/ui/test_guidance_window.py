"""The guidance lab driven through the real window: the w slider, the class, the probe."""

from __future__ import annotations

import numpy as np

from genlab.labs.frame import Arrows, Handles
from genlab.labs.guidance.settings import TRADEOFF, fidelity
from tests.ui.conftest import drag_on_canvas, wait_frames


def _w(frame) -> float:
    return float(frame.title.split("w = ")[1].split(" ")[0])


def _done(c) -> bool:
    return len(c.timeline) >= 1 and c.timeline[-1].caption.startswith("Done")


def test_w_slider_class_and_probe_are_live_after_training(make_window, qtbot):
    win = make_window("guidance")
    c = win.controller
    c.set_fps(60.0)
    assert c.lab.name == "guidance"
    c.set_params(c.params.__class__(train_steps=100, n_samples=200, sweep=False, w=1.0))
    qtbot.waitUntil(lambda: _done(c) and c.state == "finished", timeout=90000)
    wait_frames(qtbot, win, 1)
    gen = c.generation
    assert any("training" in f.title for f in c.timeline)
    before = c.timeline[-1].panels[0].layers["samples"].xy.copy()

    # the run has ended: moving w restarts it, and the kept denoiser skips the training
    slider = win.panel.widgets["w"].slider
    slider.setValue(round(0.8 * slider.maximum()))  # w = 8
    assert abs(c.params.w - 8.0) < 1e-9
    qtbot.waitUntil(lambda: c.generation > gen and len(c.timeline) and
                    _w(c.timeline[-1]) == 8.0 and _done(c), timeout=30000)
    assert not any("training" in f.title for f in c.timeline)
    gen = c.generation
    after = c.timeline[-1]
    assert not np.allclose(after.panels[0].layers["samples"].xy, before)
    assert after.metrics[f"{TRADEOFF}/{fidelity('exact')}"] > 0.99
    # the metric plot: the measures against w, in the panel's look
    assert win.metrics.xlabels[TRADEOFF] == "guidance w"
    assert win.metrics.data[f"{TRADEOFF}/{fidelity('exact')}"][0] == [8.0]

    win.panel.widgets["label"].text.setText("1")
    win.panel.widgets["label"].text.editingFinished.emit()
    assert c.params.label == 1
    # a restart if the run has ended, or a live change if it is still on its last frame
    qtbot.waitUntil(lambda: len(c.timeline) and "class 1" in c.timeline[-1].title
                    and _done(c), timeout=30000)
    assert not any("training" in f.title for f in c.timeline)
    lower = c.timeline[-1].panels[1].layers["samples"].xy
    assert lower[:, 1].mean() < after.panels[1].layers["samples"].xy[:, 1].mean()

    win.panel.widgets["view"].setCurrentText("fields")  # live: the probe's panels
    qtbot.waitUntil(lambda: win.canvas.frame is not None and len(win.canvas.frame.panels) == 3
                    and "probe" in win.canvas.frame.panels[1].layers, timeout=10000)
    qtbot.wait(50)  # one layout pass, so data coordinates map to the right pixels
    assert isinstance(win.canvas.frame.panels[1].layers["exact w"], Arrows)
    handle = win.canvas.frame.panels[1].layers["probe"]
    assert isinstance(handle, Handles) and handle.x_params == ("probe_x",)
    x0, y0 = handle.xy[0]
    drag_on_canvas(win.canvas, [(x0, y0), (x0 - 1.0, y0), (-1.5, -1.0)], panel=1)
    assert abs(c.params.probe_x + 1.5) < 0.06 and abs(c.params.probe_y + 1.0) < 0.06
    qtbot.waitUntil(lambda: len(c.timeline) and np.allclose(
        c.timeline[-1].panels[1].layers["exact w"].starts,
        [[c.params.probe_x, c.params.probe_y]]), timeout=10000)
    assert not any("training" in f.title for f in c.timeline)
