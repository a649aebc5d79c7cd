"""A seeded GUI monkey: random lab switches, presets, typed and extreme values, keys, drags,
scrubs, theme and scale changes and exports, in the real window (offscreen), counting every
exception in the GUI thread or a run (a lab bug, not a LabError), and printing the memory.

    python -m benchmarks.monkey [--seconds 600] [--seed 0] [--every 30]

It exits with status 1 if anything went wrong (an exception, a run thread left running) and
prints one summary line ``monkey: N actions, E exceptions, …``; a crash shows as a signal in
the exit status of the process that ran it (the test suite runs it as a subprocess).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

EXTREMES = ("0", "-0", "1e30", "-1e30", "1e-30", "nan", "inf", "-inf", "abc", "", "  7 ",
            "1_000", "3.5", "-1", "2", "99999999999")


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Monkey:
    def __init__(self, win, seed: int, out: Path) -> None:
        self.win = win
        self.rng = random.Random(seed)
        self.out = out
        self.actions = 0
        self.errors: list[str] = []
        self.log: list[str] = []

    # -- actions --------------------------------------------------------------------------
    def switch_lab(self) -> None:
        from genlab.labs import LABS

        self.win.switch_lab(self.rng.choice(list(LABS)))

    def preset(self) -> None:
        from genlab.labs.presets import presets_for

        lab = self.win.controller.lab
        presets = presets_for(lab.name)
        if presets:
            self.win.apply_preset(self.rng.choice(presets).name)

    def typed_value(self) -> None:
        from genlab.labs.params import param_fields

        params = self.win.controller.params
        f = self.rng.choice(param_fields(type(params)))
        if f.spec.choices is not None and self.rng.random() < 0.6:
            value = self.rng.choice(f.spec.choices)
        elif f.spec.lo is not None and self.rng.random() < 0.5:
            lo, hi = float(f.spec.lo), float(f.spec.hi)
            value = str(self.rng.choice((lo, hi, lo + (hi - lo) * self.rng.random())))
        else:
            value = self.rng.choice(EXTREMES)
        self.win._param_edited(f.name, value)  # what the panel sends on Enter

    def key(self) -> None:
        from PySide6 import QtCore
        from PySide6.QtTest import QTest

        k = QtCore.Qt.Key
        key = self.rng.choice((k.Key_Space, k.Key_Right, k.Key_Left, k.Key_R, k.Key_Escape,
                               k.Key_Home, k.Key_Space))
        QTest.keyClick(self.win.canvas, key)

    def drag(self) -> None:
        from tests.ui.conftest import drag_on_canvas

        canvas = self.win.canvas
        if not canvas.plots:
            return
        if self.rng.random() < 0.3 and self.win.draw_box.isVisible():
            self.win.set_tool(self.rng.choice(("paint", "erase", "view")))
        vb = canvas.plots[0].getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        pts = [(x0 + (x1 - x0) * self.rng.random(), y0 + (y1 - y0) * self.rng.random())
               for _ in range(self.rng.randint(2, 4))]
        drag_on_canvas(canvas, pts)

    def scrub(self) -> None:
        s = self.win.playback.slider
        if s.maximum() > 0:
            s.setValue(self.rng.randint(0, s.maximum()))

    def look(self) -> None:
        r = self.rng.random()
        if r < 0.4:
            self.win.toggle_theme()
        elif r < 0.7:
            self.win.zoom(1.15)
        else:
            self.win.zoom(1 / 1.15)

    def export(self) -> None:
        name = f"shot{self.actions}"
        if self.rng.random() < 0.5:
            self.win.screenshot(str(self.out / f"{name}.{self.rng.choice(('png', 'svg'))}"),
                                size=(480, 320))
        else:
            n = len(self.win.controller.timeline)
            if n:
                self.win.export(str(self.out / f"{name}.gif"), max(0, n - 4), n, fps=10,
                                size=(320, 240))

    def step(self) -> None:
        actions = ((self.switch_lab, 2), (self.preset, 2), (self.typed_value, 4),
                   (self.key, 4), (self.drag, 2), (self.scrub, 2), (self.look, 1),
                   (self.export, 1))
        fn = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        self.log.append(fn.__name__)
        try:
            fn()
        except Exception:  # the driver's own call into the window failed: a bug
            self.errors.append(traceback.format_exc())
        self.actions += 1


def run(seconds: float, seed: int, every: float = 30.0, quiet: bool = False) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("GENLAB_CONFIG", str(Path(tempfile.mkdtemp()) / "genlab.ini"))
    from PySide6 import QtCore, QtWidgets

    from genlab.ui.main_window import MainWindow
    from genlab.ui.worker import RunThread

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    out = Path(tempfile.mkdtemp(prefix="genlab-monkey-"))
    win = MainWindow("em")
    win.resize(1400, 900)
    win.show()
    monkey = Monkey(win, seed, out)

    def excepthook(kind, value, tb):
        monkey.errors.append("".join(traceback.format_exception(kind, value, tb)))

    sys.excepthook = excepthook  # exceptions in Qt slots land here
    threading.excepthook = lambda a: excepthook(a.exc_type, a.exc_value, a.exc_traceback)
    RunThread.lab_bugs.clear()
    t0 = time.monotonic()
    rss0 = rss_mib()
    last_report = t0
    print(f"monkey: seed {seed}, {seconds:.0f} s, RSS {rss0:.0f} MiB at the start", flush=True)
    while time.monotonic() - t0 < seconds:
        monkey.step()
        pause = time.monotonic() + monkey.rng.uniform(0.05, 0.6)
        while time.monotonic() < pause:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.005)
        if not quiet and time.monotonic() - last_report >= every:
            last_report = time.monotonic()
            print(f"monkey: {last_report - t0:5.0f} s, {monkey.actions} actions, RSS "
                  f"{rss_mib():.0f} MiB", flush=True)
    win.close()
    app.processEvents()
    left = [t for t in list(RunThread.instances) if t.isRunning()]
    bugs = list(RunThread.lab_bugs)
    errors = monkey.errors + bugs
    print(f"monkey: {monkey.actions} actions, {len(errors)} exceptions, {len(left)} run "
          f"threads left, RSS {rss0:.0f} -> {rss_mib():.0f} MiB", flush=True)
    for e in errors[:5]:
        print(e, file=sys.stderr)
    return 1 if errors or left else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.monkey", description=__doc__)
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=float, default=30.0, help="print RSS every so many seconds")
    a = p.parse_args(argv)
    from genlab.ui.app import leave

    return leave(run(a.seconds, a.seed, a.every))


if __name__ == "__main__":
    raise SystemExit(main())
