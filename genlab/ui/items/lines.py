"""Line-like layers: Curve, Histogram, Paths, Segments, VectorField, Grid."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Curve, Grid, Histogram, Paths, Segments, VectorField
from genlab.ui.items.base import LayerItem, brush, pen


class CurveItem(LayerItem):
    kind = Curve

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curve = self.add(pg.PlotCurveItem(antialias=True))

    def update(self, layer: Curve) -> None:
        look = self.look(layer.series)
        color = look.colour
        self.curve.setData(x=layer.x, y=layer.y,
                           pen=pen(color, self.theme.line * layer.width / 2, 255,
                                   layer.dashed or look.dashed))
        if layer.fill:
            c = pg.mkColor(color)
            self.curve.setFillLevel(0.0)
            self.curve.setBrush(brush(c.red(), c.green(), c.blue(), 50))
        else:
            self.curve.setFillLevel(None)


class HistogramItem(LayerItem):
    kind = Histogram

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curve = self.add(pg.PlotCurveItem())

    def update(self, layer: Histogram) -> None:
        c = pg.mkColor(self.look(layer.series).colour)
        self.curve.setData(x=layer.edges, y=layer.heights, stepMode="center", fillLevel=0.0,
                           pen=pen(c.name(), self.theme.line),
                           brush=brush(c.red(), c.green(), c.blue(), 110))


def _polylines(xy: np.ndarray) -> np.ndarray:
    """(T, n, 2) trajectories -> (n * (T + 1), 2) NaN-separated polylines."""
    t, n, _ = xy.shape
    out = np.full((n, t + 1, 2), np.nan)
    out[:, :t] = np.transpose(xy, (1, 0, 2))
    return out.reshape(-1, 2)


class PathsItem(LayerItem):
    """One curve per colour (and, for a fading trail, per age band of its segments)."""

    kind = Paths
    FADE_BANDS = 6

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curves: list[pg.PlotCurveItem] = []

    def _pieces(self, layer: Paths) -> list[tuple[int | str, float, np.ndarray]]:
        """(series, opacity, NaN-separated polylines) per curve to draw."""
        if layer.labels is None:
            groups = [(layer.series, layer.xy)]
        else:
            groups = [(int(g), layer.xy[:, layer.labels == g]) for g in np.unique(layer.labels)]
        alpha = float(np.clip(layer.alpha, 0, 1))
        t = layer.xy.shape[0]
        if not layer.fade or t < 3:
            return [(s, alpha, _polylines(xy)) for s, xy in groups]
        # consecutive bands share their boundary row so the trail has no gaps
        bounds = np.unique(np.linspace(0, t - 1, min(self.FADE_BANDS, t - 1) + 1).astype(int))
        pieces = []
        for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            a = alpha * (b + 1) / (len(bounds) - 1)
            pieces += [(s, a, _polylines(xy[lo:hi + 1])) for s, xy in groups]
        return pieces

    def update(self, layer: Paths) -> None:
        pieces = self._pieces(layer)
        while len(self.curves) < len(pieces):
            self.curves.append(self.add(pg.PlotCurveItem(connect="finite", antialias=True)))
        for i, curve in enumerate(self.curves):
            if i >= len(pieces):
                curve.setVisible(False)
                continue
            series, alpha, line = pieces[i]
            look = self.look(series)
            curve.setData(x=line[:, 0], y=line[:, 1],
                          pen=pen(look.colour, self.theme.line, int(255 * alpha), look.dashed))
            curve.setVisible(True)


class SegmentsItem(LayerItem):
    """Segments, bucketed by weight into a few opacity levels (one curve each)."""

    kind = Segments
    LEVELS = 8

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curves = [self.add(pg.PlotCurveItem(connect="pairs", antialias=True))
                       for _ in range(self.LEVELS)]

    def update(self, layer: Segments) -> None:
        w = np.ones(len(layer.starts)) if layer.weights is None else np.clip(layer.weights, 0, 1)
        bucket = np.minimum((w * self.LEVELS).astype(int), self.LEVELS - 1)
        look = self.look(layer.series)
        for b, curve in enumerate(self.curves):
            sel = (bucket == b) & (w > 1e-3)
            if not sel.any():
                curve.setVisible(False)
                continue
            xy = np.empty((2 * int(sel.sum()), 2))
            xy[0::2], xy[1::2] = layer.starts[sel], layer.ends[sel]
            alpha = int(40 + 215 * (b + 1) / self.LEVELS)
            curve.setData(x=xy[:, 0], y=xy[:, 1],
                          pen=pen(look.colour, self.theme.line * 0.8, alpha, look.dashed))
            curve.setVisible(True)


class VectorFieldItem(LayerItem):
    """Arrows scaled so the longest spans ~0.9 of the typical spacing between anchors."""

    kind = VectorField

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curve = self.add(pg.PlotCurveItem(connect="pairs", antialias=True))

    def update(self, layer: VectorField) -> None:
        xy, uv = layer.xy, layer.uv
        if len(xy) == 0:
            self.curve.setData(x=[], y=[])
            return
        span = np.ptp(xy, axis=0).max() if len(xy) > 1 else 1.0
        spacing = span / max(np.sqrt(len(xy)) - 1, 1)
        norm = np.linalg.norm(uv, axis=1)
        scale = 0.9 * spacing / max(norm.max(), 1e-12)
        tip = xy + uv * scale
        d = uv * scale
        left = tip - 0.3 * (d @ np.array([[np.cos(0.5), np.sin(0.5)],
                                          [-np.sin(0.5), np.cos(0.5)]]))
        right = tip - 0.3 * (d @ np.array([[np.cos(-0.5), np.sin(-0.5)],
                                           [-np.sin(-0.5), np.cos(-0.5)]]))
        pts = np.stack([xy, tip, tip, left, tip, right], axis=1).reshape(-1, 2)
        self.curve.setData(x=pts[:, 0], y=pts[:, 1],
                           pen=pen(self.look(layer.series).colour, self.theme.line, 200))


class GridItem(LayerItem):
    kind = Grid

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.curve = self.add(pg.PlotCurveItem(connect="finite", antialias=True))

    def update(self, layer: Grid) -> None:
        g = layer.xy  # (ny, nx, 2)
        rows = _polylines(np.transpose(g, (1, 0, 2)))  # each row a polyline
        cols = _polylines(g)
        xy = np.concatenate([rows, cols])
        self.curve.setData(x=xy[:, 0], y=xy[:, 1],
                           pen=pen(self.look(layer.series).colour, self.theme.line, 160))
