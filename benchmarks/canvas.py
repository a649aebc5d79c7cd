"""Canvas frame rate: FrameCanvas.show_frame plus a real repaint, offscreen at 1280x800.

One FrameCanvas is reused across frames (as the window does).  Every frame has new point
positions (1k / 10k / 100k points) and new values for a 200x200 heatmap in the same panel,
with fixed xlim/ylim; the frames are built before timing.  Two ways to paint are timed:

* window path: ``show_frame`` then ``QApplication.processEvents()``, in which the event loop
  repaints the shown canvas's viewport into its backing store, as the window does after its
  60 Hz display timer (the number of paint events is counted to check one happened a frame);
* export path: ``show_frame`` then ``canvas.grab()`` (QWidget.render into a pixmap), what the
  Renderer does for screenshots and GIF/MP4 export.

Frame rates come from the median frame time (robust to a stray hiccup on a shared machine).
A reference row writes the points into pyqtgraph's ScatterPlotItem record array in place
(no setData) with the same heatmap update, to show the headroom on the same canvas.
If 10k points miss 60 fps, a cProfile of that case prints its hot spots.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks._common import headline, ms, table

SIZE = (1280, 800)
SIZES = ((1_000, 60), (10_000, 40), (100_000, 8))  # (points, frames timed)
GRID = 200
LIM = (-4.0, 4.0)
GOAL_FPS = 60.0
WARMUP = 3


def make_frames(n: int, count: int, seed: int = 0, soft: bool = False) -> list:
    """``count`` frames: n points moving on a ring and a drifting 200x200 Gaussian bump."""
    from genlab.labs.frame import Frame, Heatmap, Panel, Points

    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 2))
    c = (np.arange(GRID) + 0.5) / GRID * (LIM[1] - LIM[0]) + LIM[0]
    gx, gy = np.meshgrid(c, c)
    frames = []
    for i in range(count):
        a = 2 * np.pi * i / max(count, 1)
        shift = np.array([np.cos(a), np.sin(a)])
        xy = base * (1.0 + 0.1 * np.sin(a)) + shift + 0.02 * rng.standard_normal((n, 2))
        values = np.exp(-0.5 * ((gx - shift[0]) ** 2 + (gy - shift[1]) ** 2))
        values += 0.01 * rng.random((GRID, GRID))
        soft_labels = None
        if soft:  # responsibilities of 8 Gaussians on a turning ring, as in the EM lab
            b = a + 2 * np.pi * np.arange(8) / 8
            centres = 1.5 * np.stack([np.cos(b), np.sin(b)], axis=1)
            logits = -((xy[:, None, :] - centres[None]) ** 2).sum(axis=2) / (2 * 0.6**2)
            logits -= logits.max(axis=1, keepdims=True)
            soft_labels = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        panel = Panel({"density": Heatmap(values, (*LIM, *LIM)),
                       "points": Points(xy, soft_labels=soft_labels)},
                      title="points and density", xlim=LIM, ylim=LIM)
        frames.append(Frame(step=i, title="canvas benchmark", panels=(panel,), total=count,
                            caption="New point positions and new heatmap values every frame."))
    return frames


class _PaintCounter:
    """Counts paint events on a widget (to check that processEvents really repainted)."""

    def __init__(self, widget) -> None:
        from PySide6 import QtCore

        counter = self

        class Filter(QtCore.QObject):
            def eventFilter(self, obj, ev):  # noqa: N802 (Qt's name)
                if ev.type() == QtCore.QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self._filter = Filter()
        widget.installEventFilter(self._filter)


def _time_frames(frames: list, update: Callable, paint: Callable) -> tuple[list, list]:
    """Per-frame (update seconds, paint seconds) after a short warm-up."""
    for f in frames[:WARMUP]:
        update(f)
        paint()
    ups, paints = [], []
    for f in frames:
        t0 = time.perf_counter()
        update(f)
        t1 = time.perf_counter()
        paint()
        t2 = time.perf_counter()
        ups.append(t1 - t0)
        paints.append(t2 - t1)
    return ups, paints


def _fps(ups: list, paints: list) -> float:
    return 1.0 / statistics.median(u + p for u, p in zip(ups, paints, strict=True))


def _inplace_update(canvas) -> Callable | None:
    """The reference: positions written into the ScatterPlotItem's arrays, no setData.

    Reaches into the canvas's items (benchmark only); None if they are not as expected.
    """
    item = getattr(canvas, "_items", {}).get((0, "points"))
    heat = getattr(canvas, "_items", {}).get((0, "density"))
    sp = getattr(item, "scatter", None)
    if sp is None or heat is None:
        return None

    def update(frame) -> None:
        layers = frame.panels[0].layers
        xy = layers["points"].xy
        if len(sp.data) != len(xy):
            sp.setData(x=xy[:, 0], y=xy[:, 1])
        else:
            sp.data["x"] = xy[:, 0]
            sp.data["y"] = xy[:, 1]
            sp.prepareGeometryChange()
            sp.informViewBoundsChanged()
            sp.bounds = [None, None]
            sp.invalidate()
        heat.update(layers["density"])

    return update


def _profile(canvas, frames: list, process: Callable) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for f in frames:
        canvas.show_frame(f)
        process()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(12)
    lines = []
    for line in out.getvalue().splitlines():
        line = line.replace(str(_site_packages()), "<site>")
        if line.strip() and not line.startswith(("   Ordered", "   List")):
            lines.append("  " + line)
    return "\n".join(lines)


def _site_packages() -> str:
    import pyqtgraph

    return str(Path(pyqtgraph.__file__).parents[1])


def run() -> None:
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from genlab.ui.canvas import FrameCanvas
    from genlab.ui.render import ensure_app

    app = ensure_app()
    pg.setConfigOptions(antialias=True)  # as the app sets it (genlab.ui.app.run_gui)
    canvas = FrameCanvas()
    canvas.resize(*SIZE)
    canvas.show()  # offscreen platform: a real top-level window with a backing store
    app.processEvents()
    painted = _PaintCounter(canvas.viewport())

    def process() -> None:
        QtWidgets.QApplication.processEvents()

    def grab() -> None:
        canvas.grab()

    rows = []
    fps_at: dict[int, float] = {}
    profile_frames = None
    cases = [(n, count, False) for n, count in SIZES] + [(10_000, 16, True)]
    for n, count, soft in cases:
        frames = make_frames(n, count + WARMUP, soft=soft)
        canvas.clear_frame()
        before = painted.count
        ups, paints = _time_frames(frames, canvas.show_frame, process)
        n_paint = painted.count - before
        fps_win = _fps(ups, paints)
        gups, grabs = _time_frames(frames, canvas.show_frame, grab)
        fps_grab = _fps(gups, grabs)
        label = f"{n:,} pts" + (" coloured by resp., K=8" if soft else "")
        rows.append((label, len(frames), f"{n_paint}/{len(frames) + WARMUP}",
                     ms(statistics.median(ups)), ms(statistics.median(paints)),
                     f"{fps_win:.0f}", ms(statistics.median(grabs)), f"{fps_grab:.0f}"))
        if not soft:
            fps_at[n] = fps_win
        if n == 10_000 and not soft:
            profile_frames = frames[:30]
        if n in (10_000, 100_000) and not soft:
            ref = _inplace_update(canvas)
            if ref is not None:
                rups, rpaints = _time_frames(frames, ref, process)
                rows.append(("  reference: in-place", len(frames), "", ms(statistics.median(rups)),
                             ms(statistics.median(rpaints)), f"{_fps(rups, rpaints):.0f}", "",
                             ""))

    table(f"canvas: {SIZE[0]}x{SIZE[1]} offscreen, points + {GRID}x{GRID} heatmap, one "
          "FrameCanvas reused (median per frame)",
          ("case", "frames", "paints", "show_frame ms", "repaint ms", "fps (window)",
           "grab ms", "fps (grab)"),
          rows,
          notes=(f"goal: >= {GOAL_FPS:.0f} fps at 10k points (window path)",
                 "fps (window) = 1 / (show_frame + processEvents, in which the event loop "
                 "repaints the viewport); 'paints' counts the viewport's paint events",
                 "fps (grab) = 1 / (show_frame + canvas.grab()), the export path",
                 "reference: positions written into ScatterPlotItem.data in place (no "
                 "setData), same heatmap update, same repaint",
                 "coloured by resp.: Points.soft_labels from 8 Gaussians turning with the "
                 "frame (the EM lab's colouring): per-point brushes"))
    for n, _ in SIZES:
        goal = f">= {GOAL_FPS:.0f} fps" if n == 10_000 else ""
        headline("canvas", f"fps at {n // 1000}k points + heatmap", f"{fps_at[n]:.0f} fps", goal,
                 fps_at[n] >= GOAL_FPS if n == 10_000 else None)
    if fps_at[10_000] < GOAL_FPS and profile_frames is not None:
        canvas.clear_frame()
        print(f"\n  10k points miss {GOAL_FPS:.0f} fps: cProfile of {len(profile_frames)} frames "
              "(show_frame + processEvents), by own time:")
        print(_profile(canvas, profile_frames, process))
    canvas.hide()
    canvas.deleteLater()
    app.processEvents()
