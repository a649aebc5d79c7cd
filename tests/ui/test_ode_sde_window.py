"""The ODE-vs-SDE lab driven through the real window: the live time slider, the start handle,
and the 10-step preset."""

from __future__ import annotations

import numpy as np

from genlab.labs.ode_sde.panels import bars_group
from genlab.labs.ode_sde.settings import FLOOR, TRACK
from genlab.ui.metrics import VALUES_PREFIX
from tests.ui.conftest import drag_on_canvas, wait_frames
from tests.ui.test_pictures import _check_axes


def _step(frame) -> int:
    return int(frame.title.split("step ")[1].split("/")[0])


def _particles(frame):
    return [p.layers["particles"].xy for p in frame.panels if "particles" in p.layers]


def test_time_slider_moves_every_panel_live_and_the_start_is_dragged(make_window, qtbot):
    win = make_window("ode-sde")
    c = win.controller
    c.set_fps(4.0)  # a slow sweep, so the run is still going when the user scrubs
    assert c.lab.name == "ode-sde"
    qtbot.waitUntil(lambda: len(c.timeline) >= 1 and "particles" in
                    c.timeline[-1].panels[0].layers, timeout=60000)
    wait_frames(qtbot, win, 2, timeout=60000)
    gen = c.generation
    win.panel.widgets["time"].slider.setValue(
        round(0.3 * win.panel.widgets["time"].slider.maximum()))
    assert abs(c.params.time - 0.3) < 0.02
    k = round(c.params.time * c.params.n_steps)
    qtbot.waitUntil(lambda: _step(c.timeline[-1]) == k, timeout=20000)
    a = c.timeline[-1]
    win.panel.widgets["time"].slider.setValue(win.panel.widgets["time"].slider.maximum())
    qtbot.waitUntil(lambda: _step(c.timeline[-1]) == c.params.n_steps, timeout=20000)
    b = c.timeline[-1]
    assert c.generation == gen  # live: the same run, trajectories not recomputed
    assert len(_particles(a)) == 3
    for pa, pb in zip(_particles(a), _particles(b), strict=True):
        assert not np.array_equal(pa, pb)  # every panel moved at once

    qtbot.waitUntil(lambda: win.canvas.frame is not None
                    and "start" in win.canvas.frame.panels[0].layers, timeout=10000)
    qtbot.wait(50)  # one layout pass, so data coordinates map to the right pixels
    x0, y0 = win.canvas.frame.panels[0].layers["start"].xy[0]
    drag_on_canvas(win.canvas, [(x0, y0), (x0 - 0.5, y0 + 0.3), (-1.5, 1.0)])
    assert abs(c.params.start_x + 1.5) < 0.06 and abs(c.params.start_y - 1.0) < 0.06

    def moved():
        f = c.timeline[-1] if len(c.timeline) else None
        if f is None or "start paths" not in f.panels[0].layers:
            return False
        return np.allclose(f.panels[0].layers["start paths"].xy[0, 0],
                           [c.params.start_x, c.params.start_y])

    qtbot.waitUntil(moved, timeout=30000)
    f = c.timeline[-1]
    np.testing.assert_allclose(f.panels[1].layers["start"].xy[0],
                               [c.params.start_x, c.params.start_y])


def test_the_ten_step_preset_runs(make_window, qtbot):
    win = make_window("ode-sde")
    c = win.controller
    c.set_fps(0.0)  # as fast as the frames come: the test reads the run's end
    wait_frames(qtbot, win, 1, timeout=60000)
    win.apply_preset("ODE vs SDE with 10 steps")
    assert c.params.n_steps == 10 and c.params.methods == "ode | sde"
    qtbot.waitUntil(lambda: c.state == "finished", timeout=60000)
    last = c.timeline[-1]
    assert [p.title for p in last.panels[:2]] == ["PF-ODE · Heun",
                                                  "reverse SDE · Euler–Maruyama"]
    assert _step(last) == 10
    group = bars_group(10)
    assert {f"{group}/Heun ODE", f"{group}/SDE", f"{group}/{FLOOR}"} == {
        k for k in last.values if k.startswith(group)}
    # the end values are bars in the metric strip, beside the distance to p_t along the way
    assert VALUES_PREFIX + group in win.metrics.plots and TRACK in win.metrics.plots
    # one colour per sampler in the panels and the metric strip, and axes that read the data
    # after a theme toggle and a font-scale step
    table = {s.name: s for s in last.series}
    for theme_step in (win.toggle_theme, lambda: win.zoom(1.15)):
        theme_step()
        qtbot.wait(50)
        _check_axes(win.canvas, win.canvas.frame)
        th = win.canvas.theme
        for name in ("Heun ODE", "SDE", FLOOR):
            assert win.metrics.drawn[name] == th.look(name, table).colour
