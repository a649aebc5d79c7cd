"""The transport and density-warping labs driven through the real window."""

from __future__ import annotations

import numpy as np

from genlab.labs.frame import Handles, Points, Segments
from genlab.ui.theme import DARK
from tests.ui.conftest import drag_on_canvas, wait_frames
from tests.ui.test_pictures import _check_axes, _tick_values


def _layers(frame, panel=0):
    return frame.panels[panel].layers


def test_ot_lab_animates_sinkhorn_with_a_log_violation_axis(make_window, qtbot):
    win = make_window("ot")
    c = win.controller
    c.set_fps(0.0)  # at the maximum speed: no slow motion, no held beats
    assert c.lab.name == "ot"
    wait_frames(qtbot, win, 4, timeout=60000)
    qtbot.waitUntil(lambda: "marginal violation" in win.metrics.plots, timeout=20000)
    plot = win.metrics.plots["marginal violation"]
    assert plot.getAxis("left").logMode
    # against the Sinkhorn iteration, in the entropic plan's colour
    assert "Sinkhorn iteration" in plot.getAxis("bottom").labelText
    assert "entropic" in plot.titleLabel.text
    frame = c.timeline[-1]
    segs = [lay for p in frame.panels for lay in p.layers.values() if isinstance(lay, Segments)]
    assert segs and all(len(s.starts) > 0 for s in segs)
    # a key says which colour is the source and which the target
    qtbot.waitUntil(lambda: win.canvas.frame is c.current_frame(), timeout=5000)
    title = win.canvas.plots[0].titleLabel.text
    assert "source" in title and "target" in title
    # the plan matrix's axes read its own 0..n after a theme toggle (they read 0..400000)
    win.toggle_theme()
    qtbot.wait(100)  # a layout pass
    _check_axes(win.canvas, win.canvas.frame)
    assert max(_tick_values(win.canvas.plots[-1].getAxis("left"))) <= 400
    # the method combo restarts the run with the new coupling only
    gen = c.generation
    win.panel.widgets["method"].setCurrentText("sinkhorn")
    qtbot.waitUntil(lambda: c.generation > gen and len(c.timeline) >= 2, timeout=30000)
    assert c.params.method == "sinkhorn"
    assert all("exact" not in p.title for p in c.timeline[-1].panels)
    v = [f.metrics["marginal violation/entropic"] for f in c.timeline]
    assert v[-1] < v[0]  # Sinkhorn drives the marginal violation down


def test_ot_lab_couples_two_painted_colours(make_window, qtbot):
    win = make_window("ot")
    c = win.controller
    wait_frames(qtbot, win, 1, timeout=60000)
    win.set_tool("paint")
    drag_on_canvas(win.canvas, [(-2.0, -1.0), (-2.0, 1.0)])
    win.colour_box.setCurrentIndex(1)
    drag_on_canvas(win.canvas, [(2.0, -1.0), (2.0, 1.0)])
    assert c.params.dataset == "drawn"  # painting switched the source to the drawing
    win.panel.widgets["target"].setCurrentText("drawn")
    assert c.params.target == "drawn"
    n0, n1 = int((win.draw.labels == 0).sum()), int((win.draw.labels == 1).sum())

    def clouds_from_drawing():
        if not c.timeline:
            return False
        pts = [lay for lay in _layers(c.timeline[-1]).values() if isinstance(lay, Points)]
        return sorted(len(p.xy) for p in pts) == sorted([n0, n1])

    qtbot.waitUntil(clouds_from_drawing, timeout=30000)
    pts = [lay for lay in _layers(c.timeline[-1]).values() if isinstance(lay, Points)]
    xs = sorted(float(np.mean(p.xy[:, 0])) for p in pts)
    assert xs[0] < -1.0 and xs[1] > 1.0  # colour 1 on the left, colour 2 on the right


def test_divergence_modes_are_dragged_live(make_window, qtbot):
    win = make_window("divergence")
    c = win.controller
    c.set_param("steps", 5000)  # a long run, so the drag reaches the running fits
    qtbot.waitUntil(lambda: c.generation >= 2 and len(c.timeline) >= 3, timeout=30000)
    qtbot.waitUntil(lambda: win.canvas.frame is not None
                    and "modes" in _layers(win.canvas.frame), timeout=10000)
    qtbot.wait(50)  # one layout pass, so data coordinates map to the right pixels
    gen = c.generation
    handles = _layers(win.canvas.frame)["modes"]
    assert isinstance(handles, Handles) and handles.x_params[:2] == ("mu1", "mu2")
    x2, y2 = handles.xy[1]
    drag_on_canvas(win.canvas, [(x2, y2), (x2 + 0.5, y2), (4.0, y2)])
    assert abs(c.params.mu2 - 4.0) < 0.06
    qtbot.waitUntil(lambda: abs(_layers(c.timeline[-1])["modes"].xy[1, 0] - c.params.mu2)
                    < 1e-9, timeout=10000)
    assert c.generation == gen  # live: the fits carry on from where they were
    assert {"KL(p‖q)/forward KL", "KL(q‖p)/reverse KL", "TV/forward KL",
            "W1/reverse KL"} <= set(c.timeline[-1].metrics)


def test_divergence_density_axis_reads_the_density_after_a_theme_toggle(make_window, qtbot):
    """The reported case: the density axis read 0-700 after Ctrl+T, still after toggling
    back; the reverse fit's path and its metric curves keep one colour in the dark theme."""
    win = make_window("divergence")
    c = win.controller
    wait_frames(qtbot, win, 2, timeout=30000)
    for _ in range(2):
        win.toggle_theme()
        n = len(c.timeline)
        qtbot.waitUntil(lambda n=n: len(c.timeline) > n, timeout=30000)
        qtbot.waitUntil(lambda: win.canvas.frame is c.current_frame(), timeout=5000)
        _check_axes(win.canvas, win.canvas.frame)
        assert max(_tick_values(win.canvas.plots[0].getAxis("left"))) < 1.0
    win.toggle_theme()  # dark
    n = len(c.timeline)
    qtbot.waitUntil(lambda: len(c.timeline) > n + 1, timeout=30000)
    qtbot.waitUntil(lambda: win.canvas.frame is c.current_frame(), timeout=5000)
    win.metrics.refresh(c.current_frame())
    assert win.canvas.theme.name == "dark"
    orange = DARK.look("reverse KL", {s.name: s for s in c.lab.series}).colour
    drawn = {}
    for item in win.canvas._items.values():
        drawn.update(item.drawn)
    assert drawn["reverse KL"] == win.metrics.drawn["reverse KL"] == orange
    # the landscape under the path is a neutral slate grey, far from the path's orange
    from genlab.ui.theme import lab_distance
    assert lab_distance(DARK.density_high, orange) >= 40


def test_flow_lab_trains_and_the_layer_slider_is_live(make_window, qtbot):
    win = make_window("flow")
    c = win.controller
    c.set_fps(60.0)
    c.set_param("steps", 5000)  # live: long enough to still train when the slider moves
    qtbot.waitUntil(lambda: len(c.timeline) >= 3, timeout=60000)
    assert {"NLL/train", "NLL/held-out"} <= set(c.timeline[-1].metrics)
    gen = c.generation
    win.panel.widgets["view"].setCurrentText("warp")
    qtbot.waitUntil(lambda: "warp" in c.timeline[-1].title.lower()
                    or "layer" in c.timeline[-1].caption, timeout=20000)
    win.panel.widgets["layer"].slider.setValue(3)  # the user drags the slider to 3
    qtbot.waitUntil(lambda: c.params.layer == 3 and "3" in c.timeline[-1].caption,
                    timeout=20000)
    assert c.generation == gen  # view and layer are live: training went on
    # the first frame, drawn before torch loads, shows the data and has no NLL yet
    nll = [f.metrics["NLL/train"] for f in c.timeline if "NLL/train" in f.metrics]
    assert len(nll) >= 2 and nll[-1] < nll[0]
