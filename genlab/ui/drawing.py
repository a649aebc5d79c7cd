"""Drawing your own data on the canvas: paint, erase, place points, undo, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from genlab.engine.datasets import load_labelled_points, save_points
from genlab.ui.canvas import FrameCanvas

MODES = ("view", "paint", "erase", "place")
MAX_UNDO = 50
N_COLOURS = 4  # paint colours = class labels 0..3 (OT's source/target, guidance's classes)


class DrawTool(QtCore.QObject):
    """Edits a drawn point set (and a list of placed points) from canvas mouse events.

    Paint: a press, click or drag drops ``density`` points uniformly in a disc of ``radius``
    (data units) per radius of brush travel.  Erase removes the points inside the disc.
    Place: a click adds one placed point (e.g. an initial EM mean).  ``drawn_changed`` and
    ``picks_changed`` fire when a stroke ends, so a run restarts once per stroke.
    Painted points carry the current ``colour`` (0..N_COLOURS-1) in ``labels``: labs read it
    as a class (the OT lab's source and target, for example).
    """

    drawn_changed = QtCore.Signal(object)
    picks_changed = QtCore.Signal(object)
    mode_changed = QtCore.Signal(str)

    def __init__(self, canvas: FrameCanvas, seed: int = 0) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.mode = "view"
        self.radius = 0.3
        self.density = 8
        self.points = np.zeros((0, 2))
        self.labels = np.zeros(0, dtype=np.int64)
        self.colour = 0
        self.picks = np.zeros((0, 2))
        self._undo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rng = np.random.default_rng(seed)
        self._last: tuple[float, float] | None = None
        self._travel = 0.0
        # Hollow rings: the lab's own colouring of the same points shows through them.
        self.scatter = pg.ScatterPlotItem(pxMode=True, size=9, brush=pg.mkBrush(0, 0, 0, 0))
        self.pick_marks = pg.ScatterPlotItem(pxMode=True, size=16, symbol="+",
                                             pen=pg.mkPen("#D00", width=3))
        for item in (self.scatter, self.pick_marks):
            item.setZValue(5000)
        canvas.overlay.extend([self.scatter, self.pick_marks])
        if canvas.plots:
            for item in (self.scatter, self.pick_marks):
                canvas.plots[0].addItem(item)
        self._refresh()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown tool '{mode}': one of {', '.join(MODES)}")
        self.mode = mode
        self.canvas.set_tool(None if mode == "view" else self.handle)
        self._refresh()
        self.mode_changed.emit(mode)

    # -- mouse -----------------------------------------------------------------------
    def handle(self, kind: str, x: float, y: float, _ev: object = None) -> None:
        if self.mode == "place":
            if kind == "click":
                self._snapshot()
                self.picks = np.vstack([self.picks, [[x, y]]])
                self._refresh()
                self.picks_changed.emit(self.picks.copy())
            return
        start = self._last
        if kind in ("press", "click"):
            self._snapshot()
            start, self._travel = (x, y), self.radius
        step = float(np.hypot(x - start[0], y - start[1])) if start is not None else 0.0
        self._travel += step
        self._last = (x, y)
        if self.mode == "paint" and start is not None:
            # One dab per radius of travel, spread along the segment a fast drag jumped over.
            while self._travel >= self.radius:
                self._travel -= self.radius
                t = 1.0 - self._travel / step if step > 0 else 1.0
                self._paint(start[0] + t * (x - start[0]), start[1] + t * (y - start[1]))
        elif self.mode == "erase":
            keep = np.hypot(*(self.points - [x, y]).T) > self.radius
            self.points, self.labels = self.points[keep], self.labels[keep]
        self._refresh()
        if kind in ("release", "click"):
            self._last = None
            self.drawn_changed.emit(self.points.copy())

    def _paint(self, x: float, y: float) -> None:
        r = self.radius * np.sqrt(self._rng.uniform(size=self.density))
        a = self._rng.uniform(0, 2 * np.pi, size=self.density)
        new = np.column_stack([x + r * np.cos(a), y + r * np.sin(a)])
        self.points = np.vstack([self.points, new])
        self.labels = np.concatenate([self.labels, np.full(len(new), self.colour, np.int64)])

    def set_colour(self, colour: int) -> None:
        if not 0 <= colour < N_COLOURS:
            raise ValueError(f"colour must be 0..{N_COLOURS - 1}, got {colour}")
        self.colour = int(colour)

    # -- edits -----------------------------------------------------------------------
    def _snapshot(self) -> None:
        self._undo.append((self.points.copy(), self.labels.copy(), self.picks.copy()))
        del self._undo[:-MAX_UNDO]

    def undo(self) -> None:
        if not self._undo:
            return
        points, labels, picks = self._undo.pop()
        picks_changed = len(picks) != len(self.picks)
        self.points, self.labels, self.picks = points, labels, picks
        self._refresh()
        self.drawn_changed.emit(self.points.copy())
        if picks_changed:
            self.picks_changed.emit(self.picks.copy())

    def clear(self) -> None:
        self._snapshot()
        self.points = np.zeros((0, 2))
        self.labels = np.zeros(0, dtype=np.int64)
        self.picks = np.zeros((0, 2))
        self._refresh()
        self.drawn_changed.emit(self.points.copy())
        self.picks_changed.emit(self.picks.copy())

    def set_points(self, points: np.ndarray, labels: np.ndarray | None = None) -> None:
        self._snapshot()
        self.points = np.asarray(points, float).reshape(-1, 2)
        # labels are kept as loaded (the loader refuses any beyond the palette): clipping
        # them would merge classes without a word
        self.labels = (np.zeros(len(self.points), np.int64) if labels is None
                       else np.asarray(labels, np.int64).copy())
        self._refresh()
        self.drawn_changed.emit(self.points.copy())

    def save(self, path: str | Path) -> None:
        # A one-colour drawing stays a plain x,y file that any tool reads.
        labelled = bool(self.labels.size and self.labels.max() > 0)
        save_points(path, self.points, self.labels if labelled else None)

    def load(self, path: str | Path) -> None:
        self.set_points(*load_labelled_points(path))  # ValueError with a message if bad

    def _refresh(self) -> None:
        show = self.mode in ("paint", "erase")
        if show and len(self.points):
            th = self.canvas.theme
            pens = [pg.mkPen(th.color(k), width=1.2)
                    for k in range(max(N_COLOURS, int(self.labels.max()) + 1))]
            self.scatter.setData(pos=self.points, pen=[pens[k] for k in self.labels])
        else:
            self.scatter.setData(pos=np.zeros((0, 2)))
        self.pick_marks.setData(pos=self.picks)
