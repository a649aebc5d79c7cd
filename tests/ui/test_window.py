"""The real window, driven as a user drives it (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from genlab.labs import LABS, LabInfo
from genlab.labs.frame import Frame, Panel, Points
from genlab.ui.param_panel import NumberField
from tests.ui.conftest import drag_on_canvas, wait_frames

Key = QtCore.Qt.Key
Ctrl = QtCore.Qt.KeyboardModifier.ControlModifier


def key(qtbot, win, k, mod=QtCore.Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(win, k, mod)
    QtWidgets.QApplication.processEvents()


def test_opens_on_em_playing(make_window, qtbot):
    win = make_window()
    assert win.controller.lab.name == "em"
    wait_frames(qtbot, win, 4)
    assert win.controller.state == "playing"
    assert "EM" in win.canvas.frame.title or "iteration" in win.canvas.frame.title.lower()
    assert win.canvas.caption_label.text
    assert win.metrics.curves, "the log-likelihood curve is drawn live"
    assert win.lab_list.count() == len(LABS)
    assert win.preset_box.count() >= 1


def test_switch_to_every_lab_with_keys(make_window, qtbot):
    win = make_window()
    for i, name in enumerate(LABS):
        digit = getattr(Key, f"Key_{(i + 1) % 10 if i < 10 else (i - 9) % 10}")
        key(qtbot, win, digit, Ctrl if i < 10 else Ctrl | QtCore.Qt.KeyboardModifier.ShiftModifier)
        assert win.controller.lab.name == name
        wait_frames(qtbot, win, 2)
        assert win.panel.fields[0].name in win.panel.widgets
        lab = LABS[name]
        assert win.draw_box.isVisible() == (lab.takes_data or lab.uses_picks)
        key(qtbot, win, Key.Key_P)
        assert (win.draw.mode == "paint") == lab.takes_data
        key(qtbot, win, Key.Key_V)


def test_play_pause_step_and_scrub(make_window, qtbot):
    win = make_window()
    c = win.controller
    c.set_fps(30.0)  # EM's own pace (2 fps) would make the replay below take seconds
    wait_frames(qtbot, win, 5)
    key(qtbot, win, Key.Key_Space)
    assert not c.playing
    qtbot.wait(100)
    n = len(c.timeline)
    qtbot.wait(300)
    assert len(c.timeline) == n, "paused runs produce no frames"
    key(qtbot, win, Key.Key_Right)
    qtbot.waitUntil(lambda: len(c.timeline) == n + 1)
    key(qtbot, win, Key.Key_Left)
    key(qtbot, win, Key.Key_Left)
    assert c.view == n - 2
    qtbot.waitUntil(lambda: win.canvas.frame is c.timeline[n - 2])
    win.playback.slider.setValue(1)
    assert c.view == 1
    qtbot.waitUntil(lambda: win.canvas.frame is c.timeline[1])
    key(qtbot, win, Key.Key_Right)  # steps through recorded frames first
    assert c.view == 2 and len(c.timeline) == n + 1
    key(qtbot, win, Key.Key_Space)
    assert c.playing
    qtbot.waitUntil(lambda: len(c.timeline) > n + 3)
    gen = c.generation
    key(qtbot, win, Key.Key_R)
    assert c.generation == gen + 1


def test_parameter_change_restarts_and_bad_value_is_refused(make_window, qtbot):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 2)
    field = win.panel.widgets["k"]
    assert isinstance(field, NumberField)
    gen = c.generation
    field.text.setText("5")
    field.text.editingFinished.emit()
    assert c.params.k == 5
    qtbot.waitUntil(lambda: c.generation == gen + 1)
    wait_frames(qtbot, win, 2)
    assert len(c.timeline[-1].panels[0].layers["ellipses"].means) == 5
    field.text.setText("99")
    field.text.editingFinished.emit()
    assert c.params.k == 5 and field.text.text() == "5"
    assert "out of range" in win.statusBar().currentMessage()
    assert "1 to 20" in win.statusBar().currentMessage()
    tip = field.toolTip()
    assert "1 to 20" in tip


def test_live_parameter_does_not_restart(make_window, qtbot):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 3)
    gen = c.generation
    combo = win.panel.widgets["density"]
    combo.setCurrentText("none")
    qtbot.waitUntil(lambda: "density" not in c.timeline[-1].panels[0].layers, timeout=10000)
    assert c.generation == gen


def _drag(win, qtbot, points):
    drag_on_canvas(win.canvas, points)


def test_paint_points_with_the_mouse_and_fit_them(make_window, qtbot, tmp_path):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 2)
    win.set_tool("paint")
    _drag(win, qtbot, [(-2.0, -1.0), (2.0, 1.0)])
    n = len(win.draw.points)
    assert n > 20
    assert np.all(np.abs(win.draw.points[:, 0]) < 3.0)
    assert c.params.dataset == "drawn"
    qtbot.waitUntil(lambda: len(c.timeline) >= 2 and
                    len(c.timeline[-1].panels[0].layers["data"].xy) == n, timeout=10000)
    win.draw.undo()
    assert len(win.draw.points) == 0
    win.draw.undo()  # nothing left to undo: no error
    _drag(win, qtbot, [(0.0, 0.0), (1.0, 1.0)])
    win.set_tool("erase")
    _drag(win, qtbot, [(0.0, 0.0), (1.0, 1.0)])
    assert len(win.draw.points) < n
    path = tmp_path / "pts.csv"
    win.set_tool("paint")
    _drag(win, qtbot, [(-1.0, 0.0), (1.0, 0.0)])
    win.save_drawn(str(path))
    saved = len(win.draw.points)
    win.draw.clear()
    win.load_drawn(str(path))
    assert len(win.draw.points) == saved
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2,3\nfoo\n")
    win.load_drawn(str(bad))
    assert "Could not load" in win.statusBar().currentMessage()
    assert len(win.draw.points) == saved


def test_place_initial_means_by_clicking(make_window, qtbot):
    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 1)
    win.set_tool("place")
    assert c.params.init == "clicked"
    qtbot.waitUntil(lambda: "Place" in c.timeline[-1].caption if len(c.timeline) else False,
                    timeout=10000)
    gen = c.generation
    for x, y in [(-2, 0), (2, 0), (0, 2)]:
        win.draw.handle("click", x, y)
    qtbot.waitUntil(lambda: c.generation > gen and len(c.timeline) >= 1 and "ellipses" in
                    c.timeline[0].panels[0].layers, timeout=10000)
    means = c.timeline[0].panels[0].layers["ellipses"].means
    assert means.shape == (3, 2)
    np.testing.assert_allclose(means, [[-2, 0], [2, 0], [0, 2]])


def test_screenshot_and_export_are_decoded(make_window, qtbot, tmp_path):
    import av
    from PIL import Image

    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 8)
    c.pause()
    png = win.screenshot(str(tmp_path / "shot.png"), size=(640, 480))
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (480, 640, 3) and img.std() > 10
    svg = win.screenshot(str(tmp_path / "shot.svg"))
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    gif = win.export(str(tmp_path / "anim.gif"), 0, 6, fps=10, size=(320, 240))
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.size == (320, 240)
        im.seek(3)
        assert np.asarray(im.convert("RGB")).std() > 10
    mp4 = win.export(str(tmp_path / "anim.mp4"), 0, 6, fps=10, size=(322, 241))
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # each frame for its time on screen at 10 fps (EM holds its start 1.5 s)
    from genlab.ui.export import durations

    shown = durations(c.timeline.frames(0, 6), 10.0)
    assert len(frames) == round(float(shown.sum()) * 10) and frames[0].shape == (242, 322, 3)
    assert frames[-1].std() > 10


def test_export_cancel_writes_nothing(tmp_path, qapp):
    from genlab.ui.export import ExportCancelled, export_animation
    from genlab.ui.theme import LIGHT

    frames = [Frame(i, "t", (Panel({"p": Points(np.zeros((3, 2)) + i)}),), caption="c")
              for i in range(5)]
    with pytest.raises(ExportCancelled):
        export_animation(frames, tmp_path / "x.gif", 10, (200, 150), LIGHT,
                         lambda done, total: done < 2)
    assert not (tmp_path / "x.gif").exists()


def test_run_error_and_nan_keep_last_good_frame(make_window, qtbot):
    from dataclasses import dataclass

    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 1)

    @dataclass(frozen=True)
    class P:
        pass

    def run_nan(params, ctx):
        for i in range(3):
            yield Frame(i, f"good {i}", (Panel({"p": Points(np.ones((4, 2)) * i)}),),
                        metrics={"loss": 1.0 / (i + 1)}, caption="fine")
        yield Frame(3, "bad", (Panel({"p": Points(np.full((4, 2), np.nan))}),), caption="x")

    c.set_lab(LabInfo("nan", "NaN", "yields a NaN", P, run_nan))
    qtbot.waitUntil(lambda: c.state == "failed", timeout=10000)
    assert "NaN" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: win.canvas.frame is not None and win.canvas.frame.title == "good 2")

    def run_raise(params, ctx):
        yield Frame(0, "good", (Panel({"p": Points(np.ones((4, 2)))}),), caption="fine")
        raise RuntimeError("boom")

    c.set_lab(LabInfo("err", "Err", "raises", P, run_raise))
    qtbot.waitUntil(lambda: c.state == "failed", timeout=10000)
    assert "boom" in win.statusBar().currentMessage()
    assert win.canvas.frame.title == "good"


def test_keyboard_help_zoom_theme_persist(make_window, qtbot):
    from genlab.ui.settings import load_prefs

    win = make_window()
    wait_frames(qtbot, win, 1)
    scale = win.theme.scale
    key(qtbot, win, Key.Key_Equal, Ctrl)
    assert win.theme.scale > scale
    key(qtbot, win, Key.Key_Minus, Ctrl)
    key(qtbot, win, Key.Key_F1)
    assert win._help.isVisible() and "Space" in win._help.text()
    win._help.close()
    win.set_theme("dark")
    assert win.theme.name == "dark"
    assert load_prefs()[0] == "dark"
    key(qtbot, win, Key.Key_Equal, Ctrl)
    win2 = make_window()
    assert win2.theme.name == "dark" and win2.theme.scale == pytest.approx(win.theme.scale)


def test_close_while_running_leaves_no_thread(make_window, qtbot):
    win = make_window()
    wait_frames(qtbot, win, 2)
    threads = [win.controller.thread]
    win.controller.restart()
    threads.append(win.controller.thread)
    win.close()
    assert all(t is None or t.isFinished() for t in threads)


def test_hundreds_of_animated_frames(make_window, qtbot):
    """A bad Qt binding aborts a pyqtgraph animation within a second; this catches it."""
    from dataclasses import dataclass

    from genlab.labs.frame import Ellipses, Heatmap

    @dataclass(frozen=True)
    class P:
        pass

    def spin(params, ctx):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(2000, 2))
        g = np.linspace(-3, 3, 60)
        for i in range(400):
            a = 0.02 * i
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            yield Frame(i, f"frame {i}", (Panel({
                "density": Heatmap(np.exp(-(g[None] - np.sin(a)) ** 2 - g[:, None] ** 2),
                                   (-3, 3, -3, 3), contours=4),
                "data": Points(x @ rot.T, labels=np.arange(2000) % 3),
                "ell": Ellipses(np.zeros((1, 2)), (rot @ np.diag([2.0, 0.5]) @ rot.T)[None]),
            }, xlim=(-4, 4), ylim=(-4, 4)),), metrics={"angle": a}, caption="spinning")

    win = make_window()
    c = win.controller
    c.set_lab(LabInfo("spin", "Spin", "400 frames", P, spin))
    c.set_fps(0)  # after set_lab, which sets the lab's own speed
    shown = set()
    qtbot.waitUntil(lambda: shown.add(id(win.canvas.frame)) or c.state == "finished",
                    timeout=60000)
    qtbot.waitUntil(lambda: win.canvas.frame is c.timeline[-1])
    assert len(c.timeline) == 400
    assert len(shown) > 10, "the canvas redrew as frames arrived"


def test_ctrl_s_and_ctrl_e_through_their_dialogs(make_window, qtbot, tmp_path, monkeypatch):
    from PIL import Image

    from genlab.ui import export_dialog

    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 6)
    c.pause()
    shot = tmp_path / "key.png"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(shot), "")))
    key(qtbot, win, Key.Key_S, Ctrl)
    assert Image.open(shot).size == win.canvas_size()

    def accept(self):
        self.first.setValue(2)
        self.last.setValue(5)
        self.fps.setValue(8)
        self.width_box.setValue(300)
        self.height_box.setValue(200)
        return QtWidgets.QDialog.DialogCode.Accepted

    monkeypatch.setattr(export_dialog.ExportDialog, "exec", accept)
    anim = tmp_path / "key"  # the dialog adds the format's suffix
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(anim), "")))
    key(qtbot, win, Key.Key_E, Ctrl)
    from genlab.ui.export import durations

    want = durations(c.timeline.frames(1, 5), 8.0)[0] * 1000  # 1/8 s, and EM's pacing
    with Image.open(tmp_path / "key.gif") as im:
        assert im.n_frames == 4 and im.size == (300, 200)
        assert abs(im.info["duration"] - want) <= 10  # GIF delays are in 1/100 s


def test_presets_menu_and_box_apply_a_preset(make_window, qtbot):
    from genlab.labs.presets import presets_for

    win = make_window()
    c = win.controller
    wait_frames(qtbot, win, 1)
    presets = presets_for("em")
    target = next(p for p in presets if p.name == "moons with K = 2 (a bad fit)")
    gen = c.generation
    # numbered entries ("&3. name"), after Next / Previous and a separator
    actions = {a.text().split(". ", 1)[-1]: a for a in win.presets_menu.actions()[3:]}
    assert set(actions) == {p.name for p in presets}
    assert [a.text().split(".")[0] for a in win.presets_menu.actions()[3:6]] == \
        ["&1", "&2", "&3"]
    actions[target.name].trigger()
    assert c.params == target.params(c.lab.params)
    assert c.generation > gen
    wait_frames(qtbot, win, 2)
    assert win.panel.widgets["k"].value == 2
    assert win.preset_box.currentText() == target.name
    assert target.description.split(":")[0] in win.statusBar().currentMessage()
