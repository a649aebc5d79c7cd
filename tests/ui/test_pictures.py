"""What a picture promises, checked on every lab through the real canvas and metric plots:
one colour per named series everywhere, axes that read the data's own numbers after lab
switches, theme toggles and scale changes, and exports that match the window."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6 import QtCore

from genlab.labs import LABS
from genlab.labs.frame import Frame, Panel, Points, Series
from genlab.labs.presets import presets_for
from genlab.ui.render import Renderer
from genlab.ui.theme import DARK, LIGHT
from tests.labs.test_contract import CTX
from tests.ui.conftest import wait_frames

N_FRAMES = 5


def _first_frames(name: str, n: int = N_FRAMES) -> list[Frame]:
    lab = LABS[name]
    gen = lab.run(presets_for(name)[0].params(lab.params), CTX)
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


@pytest.mark.parametrize("name", list(LABS))
def test_each_named_series_has_one_colour_in_panels_labels_and_metric_plots(name, qapp):
    frames = _first_frames(name)
    for theme in (LIGHT, DARK):
        r = Renderer((900, 600), theme, metrics=True)
        try:
            for f in frames:
                r.render(f)
            table = {s.name: s for s in frames[-1].series}
            canvas = {}
            for (_p, _n, _k), item in r.canvas._items.items():
                for series, colour in item.drawn.items():
                    assert canvas.setdefault(series, colour) == colour, \
                        f"{name}: '{series}' drawn in two colours in the panels"
            metrics = r.metrics.drawn
            for series in set(canvas) & set(metrics):
                assert canvas[series] == metrics[series], \
                    f"{name}: '{series}' is {canvas[series]} in the panels and " \
                    f"{metrics[series]} in the metric plots"
            for series, colour in {**canvas, **metrics}.items():
                if series in table:
                    assert colour == theme.look(series, table).colour
        finally:
            r.close()


def _tick_values(axis) -> list[float]:
    """The numbers an axis prints now, parsed from its tick strings."""
    lo, hi = axis.range
    size = max(axis.width() if axis.orientation in ("left", "right") else axis.height(), 100)
    length = axis.height() if axis.orientation in ("left", "right") else axis.width()
    out = []
    for spacing, values in axis.tickValues(lo, hi, max(length, size)):
        strings = axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing)
        for s in strings:
            s = s.replace("−", "-").replace("–", "-")
            if s:
                out.append(float(s))
    return out


def _check_axes(canvas, frame: Frame) -> None:
    for p, (plot, panel) in enumerate(zip(canvas.plots, frame.panels, strict=True)):
        vb = plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        for side, (lo, hi), lim in (("bottom", (x0, x1), panel.xlim),
                                    ("left", (y0, y1), panel.ylim)):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0, f"panel {p} {side}: an SI scale"
            if axis.logMode:
                continue
            span = hi - lo
            for v in _tick_values(axis):
                assert lo - 0.05 * span <= v <= hi + 0.05 * span, \
                    f"panel {p} '{panel.title}' {side} axis prints {v} for a view of " \
                    f"[{lo:.3g}, {hi:.3g}]"
            if lim is not None:  # the frame's own box is in view
                assert lo <= lim[0] + 1e-6 * max(1, abs(lim[0])) and \
                    hi >= lim[1] - 1e-6 * max(1, abs(lim[1]))


def test_axes_read_the_data_after_lab_switches_theme_and_scale(make_window, qtbot):
    win = make_window("sampling")
    keys = [QtCore.Qt.Key.Key_1, QtCore.Qt.Key.Key_3, QtCore.Qt.Key.Key_5, QtCore.Qt.Key.Key_6,
            QtCore.Qt.Key.Key_2]
    for i, key in enumerate(keys):
        qtbot.keyClick(win.canvas, key, QtCore.Qt.KeyboardModifier.ControlModifier)
        wait_frames(qtbot, win, 2, timeout=60000)
        if i % 2:
            win.toggle_theme()
        else:
            win.zoom(1.15)
        n = len(win.controller.timeline)
        qtbot.waitUntil(lambda n=n: len(win.controller.timeline) > n, timeout=30000)
        qtbot.waitUntil(lambda: win.canvas.frame is win.controller.current_frame(),
                        timeout=5000)
        _check_axes(win.canvas, win.canvas.frame)
        for plot in win.metrics.plots.values():
            assert plot.getAxis("left").autoSIPrefixScale == 1.0


def test_a_density_axis_in_0_1_is_not_scaled_after_a_restyle(qapp):
    """The reported case: a 0..0.6 axis restyled (theme toggle) read 0..600."""
    frame = Frame(0, "t", (Panel({"p": Points(np.array([[0.0, 0.0], [1.0, 0.6]]))},
                                 xlim=(0.0, 1.0), ylim=(0.0, 0.6), equal_aspect=False,
                                 xlabel="x", ylabel="density"),))
    r = Renderer((500, 400), LIGHT)
    try:
        r.render(frame)
        r.canvas.apply_theme(DARK)
        r.render(frame)
        _check_axes(r.canvas, frame)
        assert max(_tick_values(r.canvas.plots[0].getAxis("left"))) <= 0.61
    finally:
        r.close()


def test_log_axes_print_decades_only(qapp):
    from genlab.ui.items.axis import PlainAxis

    axis = PlainAxis("left")
    axis.setLogMode(False, True)
    levels = axis.tickValues(-9.3, 0.2, 300)
    majors = levels[0][1]
    assert all(float(v).is_integer() for v in majors)
    assert 2 <= len(majors) <= 6
    strings = axis.tickStrings(majors, 1.0, levels[0][0])
    assert "10⁻⁶" in strings or "10⁻⁸" in strings or "10⁻⁹" in strings
    minors = [s for sp, vals in levels[1:] for s in axis.tickStrings(vals, 1.0, sp)]
    assert all(s == "" for s in minors)  # no number piles up between decades


def test_svg_axes_line_up_with_the_data(tmp_path, qapp):
    """Points at x = -1, 0, 1 sit exactly over the x axis ticks -1, 0, 1 in the SVG file (the
    axes were drawn at 0.75 scale against the data)."""
    from genlab.ui.export import save_image

    pts = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    frame = Frame(0, "grid", (Panel({"p": Points(pts)}, xlim=(-1.5, 1.5), ylim=(-1.0, 1.0),
                                    equal_aspect=False),), caption="three points")
    path = save_image(frame, tmp_path / "x.svg", (600, 400), LIGHT)
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"

    def matrix(g) -> np.ndarray:
        m = re.findall(r"[-\d.e]+", g.get("transform", "matrix(1,0,0,1,0,0)"))
        a, b, c, d, e, f = (float(v) for v in m)
        return np.array([[a, c, e], [b, d, f], [0, 0, 1]])

    ticks, dots = [], []
    for g in root.iter(f"{ns}g"):
        m = matrix(g)
        # a group is drawn at the page's scale, or is a marker symbol (scaled up to its size)
        assert m[0, 0] == 1.0 or m[0, 0] > 5, f"a group scaled by {m[0, 0]}"
        for line in g.findall(f"{ns}polyline"):
            xy = np.array([[float(v) for v in p.split(",")]
                           for p in line.get("points").split()])
            if len(xy) == 2 and abs(xy[0, 0] - xy[1, 0]) < 1e-6 and \
                    0 < abs(xy[0, 1] - xy[1, 1]) < 10:  # a short vertical stroke: a tick
                ticks.append((m @ np.r_[xy[0], 1.0])[0])
        for _el in g.findall(f"{ns}path") + g.findall(f"{ns}circle") + \
                g.findall(f"{ns}ellipse"):
            if m[0, 0] > 5:  # a marker symbol, centred at the group's origin
                dots.append(m[0, 2])
    assert len(dots) >= 3 and len(ticks) >= 3
    dots = sorted(set(np.round(dots, 1)))
    for x in dots:
        assert min(abs(np.array(ticks) - x)) < 1.0, f"no tick under the point at {x}"


def test_caption_text_stays_one_run_per_line_in_svg(tmp_path, qapp):
    from genlab.ui.export import save_image

    cap = "The caption says one thing in one line"
    frame = Frame(0, "t", (Panel({"p": Points(np.zeros((1, 2)))}),), caption=cap)
    path = save_image(frame, tmp_path / "c.svg", (900, 400), LIGHT)
    text = "".join(t.text or "" for t in ET.parse(path).getroot().iter(
        "{http://www.w3.org/2000/svg}text"))
    assert cap.replace(" ", "") in text.replace(" ", "").replace("\xa0", "")


def test_series_not_declared_is_refused():
    with pytest.raises(ValueError, match="does not declare"):
        Frame(0, "t", (Panel({"p": Points(np.zeros((1, 2)), series="ghost")}),))
    Frame(0, "t", (Panel({"p": Points(np.zeros((1, 2)), series="a")}),),
          series=(Series("a", 1),))


def test_short_log_spans_print_one_two_five_plainly(qapp):
    from genlab.ui.items.axis import PlainAxis

    axis = PlainAxis("left")
    axis.setLogMode(False, True)
    (spacing, values), = axis.tickValues(np.log10(0.04), np.log10(0.3), 300)
    strings = axis.tickStrings(values, 1.0, spacing)
    assert strings == ["0.05", "0.1", "0.2"]


def test_a_few_spikes_do_not_flatten_a_metric_plot(qtbot):
    from genlab.ui.metrics import MetricsView

    view = MetricsView(LIGHT)
    qtbot.addWidget(view)
    series = (Series("train", 0), Series("held-out", 1))
    for i in range(60):
        held = 50.0 if i in (20, 41) else 1.6 - 0.001 * i
        view.add_frame(Frame(i, "t", (Panel({}),), metrics={"NLL/train": 1.5 - 0.002 * i,
                                                             "NLL/held-out": held},
                             series=series, x=10 * i, xlabel="training step"))
    view.refresh(None)
    (y0, y1) = view.plots["NLL"].getViewBox().viewRange()[1]
    assert y1 < 3 and y0 > 1.0
    assert "off the scale" in view.plots["NLL"].titleLabel.text
    assert "training step" in view.plots["NLL"].getAxis("bottom").labelText
