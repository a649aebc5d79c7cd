"""Label placement: each text beside its anchor, clear of the other texts and of the marks
(labelled points, handles, arrow starts) of its panel, inside the plot, with a leader line
when it had to move away.  Greedy, in pixels, redone when the view changes."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

GAP_PX = 6.0  # between an anchor and its text
MARK_PX = 10.0  # half the side of the square a mark keeps free at scale 1
LEADER_PX = 14.0  # a text further than this from where it was asked for gets a leader line

# offsets (unit multiples of the text's half size plus the gap) in order of preference:
# above, right, left, below, then the diagonals, then twice and three times as far
_DIRS = ((0, -1), (1, 0), (-1, 0), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1))


def _overlap(a: np.ndarray, rects: np.ndarray) -> float:
    """Total area of rect a = (x0, y0, x1, y1) overlapping the rects (k, 4)."""
    if len(rects) == 0:
        return 0.0
    w = np.clip(np.minimum(a[2], rects[:, 2]) - np.maximum(a[0], rects[:, 0]), 0, None)
    h = np.clip(np.minimum(a[3], rects[:, 3]) - np.maximum(a[1], rects[:, 1]), 0, None)
    return float((w * h).sum())


def place(anchors: np.ndarray, sizes: np.ndarray, marks: np.ndarray,
          bounds: tuple[float, float, float, float], mark_px: float = MARK_PX,
          gap: float = GAP_PX) -> np.ndarray:
    """Centres (m, 2) for m texts of sizes (m, 2) (w, h) next to anchors (m, 2), all in pixels
    (y down).  Each takes the first of its candidate spots, in order of preference, that
    covers no text placed before it, no mark (k, 2) (a square of half side ``mark_px``) and
    stays in ``bounds`` (x0, y0, x1, y1); failing that, the spot that covers least."""
    placed = np.zeros((0, 4))
    box = np.asarray(bounds, float)
    m = np.asarray(marks, float).reshape(-1, 2)
    mark_rects = np.column_stack([m - mark_px, m + mark_px]) if len(m) else np.zeros((0, 4))
    out = np.zeros((len(anchors), 2))
    for i, (a, (w, h)) in enumerate(zip(np.asarray(anchors, float), np.asarray(sizes, float),
                                        strict=True)):
        best, best_cost = None, np.inf
        for reach in (1.0, 2.0, 3.2):
            for dx, dy in _DIRS:
                c = a + np.array([dx * (w / 2 + gap * reach + (reach - 1) * w / 2),
                                  dy * (h / 2 + gap * reach + (reach - 1) * h / 2)])
                r = np.array([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2])
                outside = (max(0.0, box[0] - r[0]) + max(0.0, r[2] - box[2])
                           + max(0.0, box[1] - r[1]) + max(0.0, r[3] - box[3]))
                cost = (_overlap(r, placed) + _overlap(r, mark_rects)) + outside * (w + h)
                if cost < best_cost - 1e-9:
                    best, best_cost = c, cost
                if cost == 0.0:
                    break
            if best_cost == 0.0:
                break
        out[i] = best
        w2, h2 = w / 2, h / 2
        placed = np.vstack([placed, [best[0] - w2, best[1] - h2, best[0] + w2, best[1] + h2]])
    return out


class LabelPlacer:
    """Places the texts of one plot's items (``LayerItem.labels``) around their anchors,
    avoiding every item's ``anchors``; owned by the canvas, run after each frame and when
    the view moves."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.items: list = []
        self.scale = 1.0
        self.leaders = pg.PlotCurveItem(connect="pairs", antialias=True)
        self.leaders.setZValue(999)
        plot.addItem(self.leaders)
        self.leader_pen = pg.mkPen("#888888", width=1)

    def run(self) -> None:
        vb = self.plot.getViewBox()
        if vb.width() <= 0 or vb.height() <= 0:
            return
        entries = [e for it in self.items if it.visible for e in it.labels()
                   if e[2].isVisible() and e[2].toPlainText().strip()]
        if not entries:
            self.leaders.setData(x=[], y=[])
            return
        # a text label's own anchor is not an obstacle (each label would be pushed off its
        # natural spot above it); handles, arrows' starts and small point sets are
        marks_data = [it.anchors() for it in self.items
                      if it.visible and type(it).__name__ != "LabelsItem"]
        marks_data = np.concatenate(marks_data) if marks_data else np.zeros((0, 2))

        def px(x: float, y: float) -> QtCore.QPointF:
            return vb.mapViewToScene(QtCore.QPointF(x, y))

        anchors = np.array([[px(x, y).x(), px(x, y).y()] for x, y, _ in entries])
        marks = np.array([[px(x, y).x(), px(x, y).y()] for x, y in marks_data
                          if np.isfinite(x) and np.isfinite(y)]).reshape(-1, 2)
        sizes = np.array([[t.textItem.boundingRect().width(), t.textItem.boundingRect().height()]
                          for _, _, t in entries])
        r = vb.sceneBoundingRect()
        centres = place(anchors, sizes, marks, (r.left(), r.top(), r.right(), r.bottom()),
                        MARK_PX * self.scale, GAP_PX * self.scale)
        lines = []
        for (x, y, item), c, a, (w, h) in zip(entries, centres, anchors, sizes, strict=True):
            item.setAnchor((0.5, 0.5))
            pos = vb.mapSceneToView(QtCore.QPointF(float(c[0]), float(c[1])))
            item.setPos(pos)
            # a leader line when the text sits away from the spot just above its anchor
            natural = a + np.array([0.0, -(h / 2 + GAP_PX * self.scale)])
            if np.linalg.norm(c - natural) > LEADER_PX * self.scale:
                edge = c - np.clip(c - a, -np.array([w, h]) / 2, np.array([w, h]) / 2)
                e = vb.mapSceneToView(QtCore.QPointF(float(edge[0]), float(edge[1])))
                lines += [(x, y), (e.x(), e.y())]
        if lines:
            xy = np.array(lines)
            self.leaders.setData(x=xy[:, 0], y=xy[:, 1], pen=self.leader_pen)
        else:
            self.leaders.setData(x=[], y=[])
