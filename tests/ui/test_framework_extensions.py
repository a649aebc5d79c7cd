"""Framework pieces the transport labs brought: draggable handles, log-scale metrics,
painting in several colours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pyqtgraph as pg

from genlab.labs import LabInfo
from genlab.labs.frame import Frame, Handles, Panel, Points
from genlab.labs.params import Range
from tests.ui.conftest import drag_on_canvas, wait_frames


@dataclass(frozen=True)
class HandleParams:
    mu: Annotated[float, Range(-3.0, 3.0, "where the live handle sits", live=True)] = -1.0
    nu: Annotated[float, Range(-3.0, 3.0, "a handle that restarts the run")] = 1.0
    seed: Annotated[int, Range(0, 100, "seed")] = 0


def run_handles(params, ctx):
    step = 0
    while step < 100_000:
        xy = [[params.mu, 0.0], [params.nu, 1.0]]
        frame = Frame(step, "handles", (Panel({
            "pts": Points(np.zeros((1, 2))),
            "h": Handles(xy, x_params=("mu", "nu"), y_params=(None, None), texts=("μ", "ν"))},
            xlim=(-4, 4), ylim=(-2, 2), equal_aspect=False),),
            metrics={"violation": 10.0 ** -step, "cost": 1.0 + step},
            caption=f"mu = {params.mu:.3f}", log_metrics=("violation",))
        new = yield frame
        if new is not None:
            params = new
        step += 1


LAB = LabInfo("handles", "Handles", "draggable handles bound to params", HandleParams,
              run_handles)


def test_dragging_a_live_handle_changes_the_run_without_restart(make_window, qtbot):
    win = make_window()
    c = win.controller
    c.set_lab(LAB)
    c.set_fps(60.0)  # after set_lab, which sets the lab's own speed
    wait_frames(qtbot, win, 2)
    gen = c.generation
    drag_on_canvas(win.canvas, [(-1.0, 0.0), (0.0, 0.0), (1.5, 0.3)])
    # x bound to mu (clamped, y not bound); live: the same run carries on with the new value
    assert abs(c.params.mu - 1.5) < 0.05
    qtbot.waitUntil(lambda: "mu = 1.5" in c.timeline[-1].caption, timeout=5000)
    assert c.generation == gen
    assert abs(win.panel.widgets["mu"].value - c.params.mu) < 1e-9  # the panel follows
    # dragged beyond the field's range: pinned at the bound, not refused
    drag_on_canvas(win.canvas, [(c.params.mu, 0.0), (3.9, 0.0)])
    assert c.params.mu == 3.0


def test_dragging_a_restart_handle_restarts_on_release(make_window, qtbot):
    win = make_window()
    c = win.controller
    c.set_lab(LAB)
    wait_frames(qtbot, win, 2)
    gen = c.generation
    drag_on_canvas(win.canvas, [(1.0, 1.0), (0.0, 1.0), (-2.0, 1.0)])
    assert abs(c.params.nu + 2.0) < 0.05
    qtbot.waitUntil(lambda: c.generation > gen, timeout=5000)
    wait_frames(qtbot, win, 1)
    h = c.timeline[-1].panels[0].layers["h"]
    assert abs(h.xy[1, 0] + 2.0) < 0.05


def test_a_drag_beside_the_handles_does_not_set_params(make_window, qtbot):
    win = make_window()
    c = win.controller
    c.set_lab(LAB)
    wait_frames(qtbot, win, 2)
    drag_on_canvas(win.canvas, [(0.0, -1.5), (2.0, -1.5)])  # empty canvas: pans the view
    assert (c.params.mu, c.params.nu) == (-1.0, 1.0)


def test_log_metrics_get_a_log_axis(make_window, qtbot):
    win = make_window()
    c = win.controller
    c.set_lab(LAB)
    c.set_fps(60.0)  # after set_lab, which sets the lab's own speed
    wait_frames(qtbot, win, 5)
    qtbot.waitUntil(lambda: "violation" in win.metrics.plots, timeout=5000)
    assert win.metrics.plots["violation"].getAxis("left").logMode
    assert not win.metrics.plots["cost"].getAxis("left").logMode
    win.set_theme("dark")  # the rebuilt plots keep their log axis
    assert win.metrics.plots["violation"].getAxis("left").logMode


def test_painting_in_two_colours_labels_the_drawn_points(make_window, qtbot, tmp_path):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 1)
    win.set_tool("paint")
    drag_on_canvas(win.canvas, [(-2.0, 0.0), (-1.0, 0.0)])
    n0 = len(win.draw.points)
    win.colour_box.setCurrentIndex(1)
    drag_on_canvas(win.canvas, [(1.0, 0.0), (2.0, 0.0)])
    labels = win.draw.labels
    assert n0 > 5 and len(labels) > n0
    assert set(labels[:n0]) == {0} and set(labels[n0:]) == {1}
    assert np.all(win.draw.points[labels == 1, 0] > 0.3)
    ctx = c.context()
    np.testing.assert_array_equal(ctx.drawn_labels, labels)
    path = tmp_path / "two.csv"
    win.save_drawn(str(path))
    assert path.read_text().splitlines()[0] == "x,y,label"
    win.draw.clear()
    win.load_drawn(str(path))
    np.testing.assert_array_equal(win.draw.labels, labels)
    win.draw.undo()
    assert len(win.draw.labels) == len(win.draw.points) == 0


def test_metric_curves_take_the_look_of_the_frames_series(qtbot):
    from genlab.labs.frame import Series
    from genlab.ui.metrics import MetricsView
    from genlab.ui.theme import LIGHT, lab_distance

    view = MetricsView(LIGHT)
    qtbot.addWidget(view)
    panel = (Panel({"p": Points(np.zeros((1, 2)), series="b")}),)
    # "b" is a named series (palette colour 3, dashed); "a" is not named: it takes a colour
    # that no named series has, nor one close to it
    view.add_frame(Frame(0, "t", panel, metrics={"g/b": 1.0, "g/a": 2.0},
                         series=(Series("b", 3, dashed=True),)))
    pen_b = view.curves["g/b"].opts["pen"]
    assert pen_b.color().name() == LIGHT.color(3).lower()
    assert pen_b.style() == pg.QtCore.Qt.PenStyle.DashLine
    a = view.curves["g/a"].opts["pen"].color().name()
    assert lab_distance(a, LIGHT.color(3)) >= 40
    assert LIGHT.color(3) in view.plots["g"].titleLabel.text
