"""Closing the window 0.5, 1.5 and 3 s into every lab, each in a fresh process: the exit
status (must be 0) and the time from the close to the process's exit (goal: under 1 s)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import headline, table

DELAYS = (0.5, 1.5, 3.0)
GOAL_S = 1.0

DRIVER = r"""
import sys, time, numpy as np
from PySide6 import QtCore, QtWidgets
from genlab.ui.app import leave
from genlab.ui.main_window import MainWindow

lab, delay_ms, drawn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
app = QtWidgets.QApplication([])
win = MainWindow(lab)
if drawn:
    pts = np.random.default_rng(0).normal(size=(drawn, 2))
    win.draw.points, win.draw.labels = pts, (pts[:, 0] > 0).astype(np.int64)
    win.controller.set_drawn(pts, win.draw.labels)
    win.controller.use_drawn()
win.show()

def close():
    print("CLOSE %.6f" % time.time(), flush=True)
    win.close()

QtCore.QTimer.singleShot(delay_ms, close)
sys.exit(leave(app.exec()))
"""


def close_after(lab: str, delay_s: float, drawn: int = 0,
                env: dict | None = None) -> tuple[int, float, str]:
    """(exit status, seconds from the close to the process's exit, stderr)."""
    env = env or {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    p = subprocess.run([sys.executable, "-c", DRIVER, lab, str(int(delay_s * 1000)),
                        str(drawn)], capture_output=True, text=True, env=env, timeout=120)
    end = time.time()
    line = next((s for s in p.stdout.splitlines() if s.startswith("CLOSE ")), None)
    after = end - float(line.split()[1]) if line else float("nan")
    return p.returncode, after, p.stderr


def run() -> None:
    from genlab.labs import LABS

    rows, bad, worst = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
               "GENLAB_CONFIG": str(Path(tmp) / "genlab.ini")}
        for name in LABS:
            cells = []
            for delay in DELAYS:
                code, after, _ = close_after(name, delay, env=env)
                worst = max(worst, after)
                if code != 0:
                    bad.append(f"{name}@{delay}")
                cells.append(f"{code} / {after:.2f}")
            rows.append((name, *cells))
    table("close: the window closed t s into each lab (exit status / seconds to exit)",
          ("lab", *(f"t = {d} s" for d in DELAYS)), rows,
          notes=(f"goal: status 0 and exit within {GOAL_S} s of the close",
                 "seconds to exit include the interpreter's own shutdown"))
    headline("close", "closes with a non-zero status", str(len(bad)), "0", not bad)
    headline("close", "slowest close to exit", f"{worst:.2f} s", f"<= {GOAL_S} s",
             worst <= GOAL_S)
