"""In front of a class: presentation mode, clicker keys, focus, scenes, lectures, ink, the
presenter window, and widgets that scale without clipping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from genlab.labs.presets import presets_for
from genlab.ui.param_panel import NumberField
from tests.ui.conftest import wait_frames

Key = QtCore.Qt.Key
LECTURE = "assets/lectures/course.json"


def key(qtbot, win, k, mod=QtCore.Qt.KeyboardModifier.NoModifier, widget=None):
    qtbot.keyClick(widget or win.canvas, k, mod)


def test_f5_presents_full_screen_without_side_panels_and_esc_brings_them_back(
        make_window, qtbot):
    win = make_window()
    wait_frames(qtbot, win, 1)
    assert all(d.isVisible() for d in win.docks.values())
    scale = win.theme.scale
    key(qtbot, win, Key.Key_F5)
    assert win.presenting.on and win.isFullScreen()
    assert not any(d.isVisible() for d in win.docks.values())
    assert not win.menuBar().isVisible() and not win.playback.speed.isVisible()
    assert win.theme.scale >= scale  # a projector's scale
    key(qtbot, win, Key.Key_Escape)
    assert not win.presenting.on
    assert all(d.isVisible() for d in win.docks.values())
    assert win.theme.scale == pytest.approx(scale)


def test_side_panels_can_be_hidden_from_the_view_menu(make_window, qtbot):
    win = make_window()
    dock = win.docks["Parameters"]
    dock.toggleViewAction().trigger()
    assert not dock.isVisible()
    dock.toggleViewAction().trigger()
    assert dock.isVisible()


def test_clicker_keys_step_presets_and_a_new_preset_plays(make_window, qtbot):
    win = make_window("ot")
    c = win.controller
    wait_frames(qtbot, win, 1)
    names = [p.name for p in presets_for("ot")]
    key(qtbot, win, Key.Key_Space)  # paused …
    assert not c.playing
    key(qtbot, win, Key.Key_PageDown)
    assert win.preset_box.currentText() == names[1]
    assert c.playing  # … but a newly chosen preset plays
    key(qtbot, win, Key.Key_PageUp)
    key(qtbot, win, Key.Key_PageUp)
    assert win.preset_box.currentText() == names[-1]  # cycles
    assert presets_for("ot")[0].name in win.presets_menu.actions()[3].text()
    assert win.presets_menu.actions()[3].shortcut().toString() == "Alt+1"


def test_keys_go_back_to_the_canvas_after_a_field_is_edited(make_window, qtbot):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 1)
    field = next(w for w in win.panel.widgets.values() if isinstance(w, NumberField))
    field.text.setFocus()
    qtbot.keyClick(field.text, Key.Key_R)  # typing: R goes into the field
    assert "r" in field.text.text().lower()
    qtbot.keyClick(field.text, Key.Key_Escape)  # Esc abandons the typing …
    assert "r" not in field.text.text().lower()
    assert win.canvas.hasFocus()  # … and the keys go back to the canvas
    gen = c.generation
    key(qtbot, win, Key.Key_R)
    assert c.generation == gen + 1


def test_esc_stops_and_space_resumes(make_window, qtbot):
    win = make_window("langevin")
    c = win.controller
    wait_frames(qtbot, win, 2)
    key(qtbot, win, Key.Key_Escape)
    assert c.state == "stopped"
    n = len(c.timeline)
    key(qtbot, win, Key.Key_Space)
    qtbot.waitUntil(lambda: len(c.timeline) > n + 1, timeout=10000)


def _move(widget, x, y):
    from PySide6 import QtGui

    p = QtCore.QPointF(x, y)
    return QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, p, widget.mapToGlobal(p),
                             QtCore.Qt.MouseButton.NoButton, QtCore.Qt.MouseButton.LeftButton,
                             QtCore.Qt.KeyboardModifier.NoModifier)


def test_blank_and_ink_never_change_the_run(make_window, qtbot):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 2)
    ink = win.presenting.ink
    key(qtbot, win, Key.Key_B)
    assert ink.blanked
    key(qtbot, win, Key.Key_Period)
    assert not ink.blanked
    gen = c.generation
    key(qtbot, win, Key.Key_D)  # the pen
    assert ink.mode == "pen"
    vb = win.canvas.plots[0].getViewBox()
    before = vb.viewRange()
    # the pen draws on the overlay, above the canvas (a user's mouse lands there first)
    left = QtCore.Qt.MouseButton.LeftButton
    qtbot.mousePress(ink, left, pos=QtCore.QPoint(200, 200))
    for x in range(210, 320, 10):
        QtWidgets.QApplication.sendEvent(ink, _move(ink, x, 220))
    qtbot.mouseRelease(ink, left, pos=QtCore.QPoint(320, 220))
    assert len(ink.strokes) == 1 and ink.strokes[0][1].length() > 100
    assert c.generation == gen and np.allclose(vb.viewRange(), before)  # no pan, no restart
    key(qtbot, win, Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert not ink.strokes
    key(qtbot, win, Key.Key_L)
    assert ink.mode == "laser"
    key(qtbot, win, Key.Key_L)
    assert ink.mode == "off"


def test_a_scene_reopens_exactly_and_a_bad_one_changes_nothing(make_window, qtbot, tmp_path):
    from genlab.ui.render import render_frame

    win = make_window("divergence")
    wait_frames(qtbot, win, 1)
    win.controller.set_param("seed", 7)
    gen = win.controller.generation
    qtbot.waitUntil(lambda: win.controller.generation > gen, timeout=5000)
    wait_frames(qtbot, win, 1)
    path = tmp_path / "s.json"
    assert win.save_scene(str(path), notes="drag the modes apart")
    data = json.loads(path.read_text())
    assert data["lab"] == "divergence" and data["params"]["seed"] == 7
    first = win.controller.timeline[0]
    other = make_window("em")
    wait_frames(qtbot, other, 1)
    assert other.open_scene(str(path))
    qtbot.waitUntil(lambda: other.controller.lab.name == "divergence"
                    and len(other.controller.timeline) > 0, timeout=10000)
    size = (500, 350)
    a = render_frame(first, size, win.theme)
    b = render_frame(other.controller.timeline[0], size, other.theme)
    np.testing.assert_array_equal(a, b)  # the same first frame, pixel for pixel
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "params": {"seed": -3}}))
    params = other.controller.params
    assert not other.open_scene(str(bad))
    assert "seed" in other.statusBar().currentMessage()
    assert other.controller.params is params  # nothing changed
    bad.write_text("{not json")
    assert not other.open_scene(str(bad))


def test_a_lecture_steps_with_page_down_and_the_presenter_follows(make_window, qtbot):
    from genlab.ui.presenter import PresenterWindow
    from genlab.ui.scene import load_lecture

    lecture = load_lecture(LECTURE)
    titles = [s.lab for s in lecture.scenes]
    assert titles[0] == "sampling" and titles[-1] == "guidance"
    win = make_window("em")
    win.presenting.open_lecture(lecture)
    view = PresenterWindow(win)
    qtbot.addWidget(view)
    assert win.controller.lab.name == "sampling"
    assert lecture.scenes[0].notes[:20] in view.notes.toPlainText()
    assert lecture.scenes[1].title in view.next.text()
    qtbot.waitUntil(lambda: view.thumb.pixmap() is not None and not view.thumb.pixmap()
                    .isNull(), timeout=20000)
    win.presenting.enter()
    for i in range(1, 4):
        key(qtbot, win, Key.Key_PageDown)
        assert win.presenting.index == i
        assert win.controller.lab.name == lecture.scenes[i].lab
        assert view.now.text().startswith(f"{i + 1} / {len(lecture.scenes)}")
    key(qtbot, win, Key.Key_PageUp)
    assert win.presenting.index == 2
    win.presenting.leave()


def _elided_or_overlapping(root: QtWidgets.QWidget) -> list[str]:
    """Visible labels and buttons whose text does not fit, or siblings that overlap."""
    bad = []
    for w in root.findChildren(QtWidgets.QWidget):
        if not w.isVisibleTo(root) or w.width() <= 1:
            continue
        text = ""
        if isinstance(w, QtWidgets.QAbstractButton):
            text = w.text()
        elif isinstance(w, QtWidgets.QLabel) and not w.wordWrap() and not w.pixmap():
            text = w.text()
        if text and "<" not in text:
            need = w.fontMetrics().horizontalAdvance(text.replace("&", ""))
            room = w.contentsRect().width()
            if isinstance(w, QtWidgets.QAbstractButton):
                room -= 4
            if need > room + 1:
                bad.append(f"{type(w).__name__} {text!r}: needs {need} px, has {room}")
    return bad


@pytest.mark.parametrize("scale", [1.0, 1.5, 2.0])
def test_no_label_or_button_is_clipped_at_any_scale(make_window, qtbot, scale):
    win = make_window("em")
    win.resize(1920, 1080)
    win.set_scale(scale)
    wait_frames(qtbot, win, 1)
    qtbot.wait(50)
    bad = []
    for dock in win.docks.values():
        bad += _elided_or_overlapping(dock)
    bad += _elided_or_overlapping(win.playback)
    assert not bad, bad


def test_planes_show_the_frames_box_after_presentation_mode_and_zooming(make_window, qtbot):
    """Entering and leaving presentation mode and scaling resize the linked, aspect-locked
    planes many times: pyqtgraph widened their ranges at each resize (±35 for a ±4 box);
    they come back to the frame's box, while a view the user zoomed stays."""
    win = make_window("flow-matching")
    win.resize(1600, 900)
    wait_frames(qtbot, win, 3, timeout=60000)
    cv = win.canvas
    vb = cv.plots[0].getViewBox()
    xlim, ylim = cv.frame.panels[0].xlim, cv.frame.panels[0].ylim

    def inside_frame_box() -> bool:
        (x0, x1), (y0, y1) = vb.viewRange()
        # one axis fits the box (with pyqtgraph's padding), the other at most its width
        fits_x = x1 - x0 <= 1.1 * (xlim[1] - xlim[0])
        fits_y = y1 - y0 <= 1.1 * (ylim[1] - ylim[0])
        return fits_x or fits_y

    for _ in range(2):
        win.presenting.enter()
        win.zoom(1.15)
        win.zoom(1.15)
        qtbot.wait(300)
        win.presenting.leave()
        qtbot.wait(300)
    qtbot.waitUntil(inside_frame_box, timeout=5000)
    vb.scaleBy((3.0, 3.0))  # the user zooms out: later resizes keep that view
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
    wide = vb.viewRange()
    win.resize(1500, 850)
    qtbot.wait(300)
    assert vb.viewRange()[0][1] - vb.viewRange()[0][0] > 0.8 * (wide[0][1] - wide[0][0])
