"""The one render path: what a frame draws, checked on the pixels."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore

from genlab.labs import frame as fr
from genlab.ui.render import Renderer, render_frame, to_array
from genlab.ui.theme import DARK, LIGHT


def _frame(layers, caption="a caption", **panel):
    panel = {"xlim": (-1, 1), "ylim": (-1, 1), **panel}
    return fr.Frame(0, "title", (fr.Panel(layers, **panel),), caption=caption)


def _pixel_of(r: Renderer, x: float, y: float) -> tuple[int, int]:
    vb = r.canvas.plots[0].getViewBox()
    p = r.canvas.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
    return p.x(), p.y()


@pytest.mark.parametrize("theme", [LIGHT, DARK])
def test_points_land_where_their_data_says(qapp, theme):
    r = Renderer((400, 400), theme)
    try:
        img = to_array(r.render(_frame({"p": fr.Points(np.array([[0.5, -0.5]]), labels=[2],
                                                           size=3.0)})))
        px, py = _pixel_of(r, 0.5, -0.5)
        want = (theme.palette_rgb(3)[2] * 255).round()
        assert np.abs(img[py, px].astype(float) - want).max() < 40
        bx, by = _pixel_of(r, -0.5, 0.5)
        assert np.abs(img[by, bx].astype(float) - np.array(
            [int(theme.background[i:i + 2], 16) for i in (1, 3, 5)])).max() < 10
    finally:
        r.close()


def test_every_layer_kind_draws(qapp):
    rng = np.random.default_rng(0)
    g = np.linspace(-1, 1, 20)
    layers = {
        "heat": fr.Heatmap(np.outer(g, g) ** 2, (-1, 1, -1, 1), contours=3),
        "pts": fr.Points(rng.uniform(-1, 1, (50, 2)), soft_labels=rng.dirichlet([1, 1], 50)),
        "ell": fr.Ellipses(np.zeros((2, 2)), np.array([np.eye(2) * 0.1, np.eye(2) * 0.2]),
                           weights=[1.0, 0.3]),
        "paths": fr.Paths(rng.normal(size=(5, 3, 2)) * 0.2),
        "seg": fr.Segments([[0, 0]], [[0.5, 0.5]], weights=[0.8]),
        "vf": fr.VectorField(rng.uniform(-1, 1, (9, 2)), rng.normal(size=(9, 2))),
        "grid": fr.Grid(np.stack(np.meshgrid(g[::4], g[::4]), axis=-1)),
        "text": fr.Labels([[0, 0.8]], ["R < 1"]),
        "curve": fr.Curve(g, g ** 2 - 0.5),
        "hist": fr.Histogram(np.linspace(-1, 1, 5), [0.1, 0.3, 0.2, 0.1]),
        "img": fr.ImageGrid(rng.uniform(size=(4, 3, 3))),
    }
    img = render_frame(_frame(layers), (500, 400), LIGHT)
    assert img.shape == (400, 500, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50


def test_caption_is_text_not_html(qapp):
    r = Renderer((500, 300), LIGHT)
    try:
        caption = "components explain almost no point (N_k < 0.001); ε keeps them finite <b>"
        r.render(_frame({}, caption=caption))
        assert r.canvas.caption_label.item.toPlainText() == caption
    finally:
        r.close()


def test_huge_clouds_are_thinned_on_screen_and_say_so(qapp):
    from genlab.ui.items.points import MAX_SHOWN

    r = Renderer((400, 300), LIGHT)
    try:
        n = MAX_SHOWN + 5000
        xy = np.random.default_rng(0).uniform(-1, 1, (n, 2))
        r.render(_frame({"p": fr.Points(xy, labels=np.arange(n) % 3)}, title="cloud"))
        title = r.canvas.plots[0].titleLabel.text
        assert f"showing {MAX_SHOWN:,} of {n:,} points" in title
        scatter = next(it for it in r.canvas.plots[0].listDataItems()
                       if isinstance(it, pg.ScatterPlotItem))
        assert len(scatter.data) == MAX_SHOWN
    finally:
        r.close()


def test_fading_trails_draw_older_segments_fainter(qapp):
    from genlab.ui.items.lines import PathsItem

    t = np.linspace(0, 1, 40)
    xy = np.stack([np.column_stack([t, 0 * t + k]) for k in range(3)], axis=1)  # (40, 3, 2)
    r = Renderer((400, 300), LIGHT)
    try:
        r.render(_frame({"trail": fr.Paths(xy, alpha=0.8, fade=True)}))
        item = next(i for i in r.canvas._items.values() if isinstance(i, PathsItem))
        shown = [c for c in item.curves if c.isVisible()]
        assert len(shown) == PathsItem.FADE_BANDS
        alphas = [c.opts["pen"].color().alpha() for c in shown]
        assert alphas == sorted(alphas) and alphas[0] < 0.3 * alphas[-1]
        assert alphas[-1] == int(255 * 0.8)
        # the bands cover the whole trail: first point of the oldest, last of the newest
        assert shown[0].xData[0] == 0.0 and shown[-1].xData[~np.isnan(shown[-1].xData)][-1] == 1
        r.render(_frame({"trail": fr.Paths(xy, alpha=0.8)}))  # plain again: one curve
        assert sum(c.isVisible() for c in item.curves) == 1
    finally:
        r.close()


def user_zoom(vb) -> None:
    """Zoom by half as the mouse wheel does (pyqtgraph marks it as the user's)."""
    vb.scaleBy((0.5, 0.5))
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])


def test_linked_panels_pan_and_zoom_together(qapp):
    pts = fr.Points(np.zeros((3, 2)))
    lim = {"xlim": (-2.0, 2.0), "ylim": (-2.0, 2.0)}
    linked = fr.Frame(0, "linked", (fr.Panel({"p": pts}, link="t", **lim),
                                    fr.Panel({"p": pts}, link="t", **lim),
                                    fr.Panel({"p": pts}, **lim)))
    r = Renderer((900, 300), LIGHT)
    try:
        r.render(linked)
        vbs = [p.getViewBox() for p in r.canvas.plots]

        def widths():
            qapp.processEvents()
            return [vb.viewRange()[0][1] - vb.viewRange()[0][0] for vb in vbs]

        start = widths()
        user_zoom(vbs[1])  # the user zooms into the second panel
        now = widths()
        assert now[0] == pytest.approx(0.5 * start[0])  # the first followed
        assert now[2] == pytest.approx(start[2])  # the third is not linked
        # a frame without links unlinks them
        r.render(fr.Frame(1, "free", tuple(fr.Panel({"p": pts}, **lim) for _ in range(3))))
        before = widths()
        user_zoom(vbs[1])
        after = widths()
        assert after[1] == pytest.approx(0.5 * before[1]) and after[0] == pytest.approx(before[0])
    finally:
        r.close()
