"""Legible labels and arrows: texts placed clear of each other and of what they name, arrows
with heads and a readable length, and a view that stays put while the user draws."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from genlab.labs.frame import Arrows, Frame, Handles, Labels, Panel, Points
from genlab.ui.items.arrows import arrow_polylines
from genlab.ui.items.placement import place
from genlab.ui.render import Renderer
from genlab.ui.theme import LIGHT
from tests.ui.conftest import drag_on_canvas, wait_frames


def _rects(centres, sizes):
    return np.column_stack([centres - sizes / 2, centres + sizes / 2])


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_crowded_labels_are_placed_apart_and_off_their_marks():
    # five labels whose anchors sit almost on one point (a probe and its arrow tips)
    anchors = np.array([[200.0, 200.0], [203, 198], [198, 204], [205, 205], [200, 196]])
    sizes = np.array([[60.0, 18.0], [20, 18], [20, 18], [20, 18], [40, 18]])
    centres = place(anchors, sizes, anchors, (0, 0, 400, 400), mark_px=8)
    rects = _rects(centres, sizes)
    for i in range(len(rects)):
        for j in range(i + 1, len(rects)):
            assert not _overlaps(rects[i], rects[j]), f"labels {i} and {j} overlap"
        for m in anchors:
            assert not _overlaps(rects[i], (*(m - 8), *(m + 8))), f"label {i} hides a mark"
        assert rects[i][0] >= 0 and rects[i][1] >= 0 and rects[i][2] <= 400


def test_a_lone_label_sits_just_above_its_anchor():
    c = place(np.array([[100.0, 100.0]]), np.array([[40.0, 16.0]]), np.zeros((0, 2)),
              (0, 0, 300, 300))
    assert abs(c[0, 0] - 100) < 1e-9 and 100 - 30 < c[0, 1] < 100


def test_arrows_have_heads_and_a_minimum_length():
    starts = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    ends = np.array([[100.0, 0.0], [3.0, 0.0], [5.0, 5.0]])  # long, 3 px, zero
    pts, short = arrow_polylines(starts, ends, min_px=28, head_px=9)
    assert list(short) == [False, True, False]
    seg = pts.reshape(-1, 6, 2)
    assert len(seg) == 2  # a zero arrow has no direction: not drawn
    np.testing.assert_allclose(seg[0, 1], [100, 0])
    np.testing.assert_allclose(seg[1, 1], [28, 0])  # drawn 28 px long
    for a in seg:  # two head strokes, 9 px, either side of the shaft, behind the tip
        for k in (3, 5):
            d = a[k] - a[2]
            assert abs(np.linalg.norm(d) - 9) < 1e-6 and d[0] < 0


def test_probe_labels_do_not_pile_onto_the_probe_on_the_canvas(qapp):
    probe = np.array([[0.0, 0.0]])
    tips = np.array([[0.02, 0.01], [0.01, -0.02], [-0.02, 0.01]])
    layers = {"arrows": Arrows(np.repeat(probe, 3, 0), tips),
              "names": Labels(tips, ("∅", "y", "w")),
              "probe": Handles(probe, ("a",), ("b",), ("probe",))}
    frame = Frame(0, "probe", (Panel(layers, xlim=(-2, 2), ylim=(-2, 2)),), caption="c")
    r = Renderer((600, 500), LIGHT)
    try:
        r.render(frame)
        vb = r.canvas.plots[0].getViewBox()
        items = r.canvas.items_of(0)
        texts = [t for it in items for (_x, _y, t) in it.labels()]
        assert len(texts) == 4
        rects = [t.sceneBoundingRect() for t in texts]
        for i in range(4):
            for j in range(i + 1, 4):
                assert not rects[i].intersects(rects[j]), "two labels overlap"
        probe_px = vb.mapViewToScene(QtCore.QPointF(0.0, 0.0))
        for rect in rects:
            assert not rect.contains(probe_px), "a label covers the probe"
        arrows = next(it for it in items if type(it).__name__ == "ArrowsItem")
        assert arrows.note  # the arrows were lengthened, and the title says so
    finally:
        r.close()


def test_the_view_stays_put_while_drawing(make_window, qtbot):
    win = make_window("em")
    c = win.controller
    wait_frames(qtbot, win, 1)
    c.set_param("dataset", "drawn")
    win.set_tool("paint")
    drag_on_canvas(win.canvas, [(-1.0, 0.0), (0.0, 0.5)])
    qtbot.waitUntil(lambda: len(c.drawn) > 0, timeout=5000)
    gen = c.generation
    qtbot.waitUntil(lambda: c.generation > gen or len(c.timeline) > 0, timeout=5000)
    wait_frames(qtbot, win, 1)
    before = win.canvas.plots[0].getViewBox().viewRange()
    for k in range(3):  # each stroke restarts the run with data of a new extent
        drag_on_canvas(win.canvas, [(1.0 + k, -1.0), (1.5 + k, -0.5)])
        gen = c.generation
        qtbot.waitUntil(lambda g=gen: c.generation > g, timeout=5000)
        wait_frames(qtbot, win, 1)
        qtbot.waitUntil(lambda: win.canvas.frame is not None, timeout=5000)
        after = win.canvas.plots[0].getViewBox().viewRange()
        np.testing.assert_allclose(after, before, atol=1e-9)
    win.canvas.reset_view()  # Home: back to the frame's own axes
    assert not win.canvas.keep_view


def test_replay_holds_a_beat_for_its_hold(qapp):
    from genlab.ui.controller import RunController

    c = RunController()
    c.fps = 20.0
    pts = (Panel({"p": Points(np.zeros((1, 2)))}),)
    c.timeline.append(Frame(0, "a", pts))
    c.timeline.append(Frame(1, "b", pts, hold=1.5, pace=2.0))
    c.view = 0
    assert c._replay_interval() == 50
    c.view = 1
    assert c._replay_interval() == 100 + 1500

