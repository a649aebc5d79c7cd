"""Launch to the first drawn frame, in a fresh interpreter each time.

The child (``sys.executable -c ...``) notes t0 as its first statement, imports
``genlab.ui.main_window``, creates the QApplication and ``MainWindow("em")`` (the default
lab), shows it and runs the event loop until the canvas holds a frame and its viewport has
painted after that.  It reports those times and whether torch got imported (the default lab
must not import it).  The parent also times the whole subprocess (interpreter start and
exit included) and the span from spawning it to the first drawn frame.  Three runs; medians.
Preferences come from a scratch settings file (GENLAB_CONFIG) so a user's scale does not
change the figure.

Then every lab once: a fresh interpreter opening the window on that lab, to its first drawn
frame (a lab chosen in a fresh process must show a frame within 1.5 s: the data and the
untrained state while its imports and set-up go on).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import headline, table

RUNS = 3
LAB = "em"
GOAL_S = 1.5
TIMEOUT_S = 60

CHILD = r"""
import time
T0 = time.perf_counter()
W0 = time.time()
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
t = time.perf_counter()
import genlab.ui.main_window as mw
t_import = time.perf_counter() - t
torch_on_import = "torch" in sys.modules
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets
app = QtWidgets.QApplication(["genlab"])
app.setApplicationName("genlab")
pg.setConfigOptions(antialias=True)  # as genlab.ui.app.run_gui
t_app = time.perf_counter() - T0
win = mw.MainWindow(LAB)
t_window = time.perf_counter() - T0
win.show()
t_shown = time.perf_counter() - T0
out = dict(t_import=t_import, t_app=t_app, t_window=t_window, t_shown=t_shown,
           torch_on_import=torch_on_import)
state = {"paints": 0, "seen": None, "before": 0}

class Paints(QtCore.QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QtCore.QEvent.Type.Paint:
            state["paints"] += 1
        return False

paints = Paints()
win.canvas.viewport().installEventFilter(paints)

def poll():
    now = time.perf_counter()
    if now - T0 > TIMEOUT:
        out["error"] = "no frame within %d s" % TIMEOUT
        app.quit()
    elif win.canvas.frame is not None:
        if state["seen"] is None:
            out["t_frame"] = now - T0
            # a paint since the last poll (1 ms ago) came with the frame: the frame is set
            # and painted in one pass of the event loop, and a lab that holds its first frame
            # paints nothing more until its next one
            state["seen"] = state["before"]
        if state["paints"] > state["seen"]:  # the viewport painted since the frame was set
            out["t_drawn"] = now - T0
            out["w_drawn"] = W0 + (now - T0)
            app.quit()
    state["before"] = state["paints"]

timer = QtCore.QTimer()
timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
timer.setInterval(1)
timer.timeout.connect(poll)
timer.start()
app.exec()
timer.stop()
out["torch_at_frame"] = "torch" in sys.modules
out["n_modules"] = len(sys.modules)
win.close()
print("BENCH " + json.dumps(out), flush=True)
"""


def _child_once(env: dict, lab: str = LAB) -> dict:
    code = CHILD.replace("LAB", repr(lab)).replace("TIMEOUT", str(TIMEOUT_S))
    w_spawn = time.time()
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=TIMEOUT_S + 30)
    wall = time.perf_counter() - t
    line = next((s for s in proc.stdout.splitlines() if s.startswith("BENCH ")), None)
    if line is None:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the child exited with {proc.returncode} and no figures: {tail}")
    out = json.loads(line[len("BENCH "):])
    if "error" in out:
        raise RuntimeError(out["error"])
    out["wall"] = wall
    out["spawn_to_drawn"] = out["w_drawn"] - w_spawn
    out["returncode"] = proc.returncode
    return out


def run() -> None:
    import genlab

    root = Path(genlab.__file__).resolve().parents[1]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["GENLAB_CONFIG"] = str(Path(tmp) / "genlab.ini")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        for _ in range(RUNS):
            runs.append(_child_once(env))
        from genlab.labs import LABS

        per_lab = {}
        for name in LABS:
            try:
                per_lab[name] = _child_once(env, name)
            except RuntimeError as e:
                per_lab[name] = {"error": str(e)}

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    rows = []
    for i, r in enumerate(runs, 1):
        rows.append((f"run {i}", f"{r['t_import']:.2f}", f"{r['t_window']:.2f}",
                     f"{r['t_frame']:.2f}", f"{r['t_drawn']:.2f}", f"{r['spawn_to_drawn']:.2f}",
                     f"{r['wall']:.2f}"))
    rows.append(("median", f"{med('t_import'):.2f}", f"{med('t_window'):.2f}",
                 f"{med('t_frame'):.2f}", f"{med('t_drawn'):.2f}", f"{med('spawn_to_drawn'):.2f}",
                 f"{med('wall'):.2f}"))
    torch_import = any(r["torch_on_import"] for r in runs)
    torch_frame = any(r["torch_at_frame"] for r in runs)
    table(f"launch: MainWindow({LAB!r}) in a fresh interpreter, seconds ({RUNS} runs)",
          ("", "import main_window", "window built", "frame set", "frame drawn",
           "spawn->drawn", "process wall"),
          rows,
          notes=(f"goal: frame drawn <= {GOAL_S} s after the interpreter's first statement",
                 "import main_window: `import genlab.ui.main_window` alone; the other columns "
                 "count from the child's first statement",
                 "spawn->drawn: from the parent spawning the child (interpreter start "
                 "included); process wall: the whole subprocess, exit included",
                 f"torch imported by `import genlab.ui.main_window`: "
                 f"{'YES' if torch_import else 'no'}; by the first drawn frame of the "
                 f"{LAB!r} lab: {'YES' if torch_frame else 'no'} (must be no)",
                 f"modules loaded at the first frame: {int(med('n_modules'))}; child exit "
                 f"status: {', '.join(str(r['returncode']) for r in runs)}"))
    drawn = med("t_drawn")
    headline("launch", "launch to first drawn frame", f"{drawn:.2f} s", f"<= {GOAL_S} s",
             drawn <= GOAL_S)
    headline("launch", "spawn to first drawn frame", f"{med('spawn_to_drawn'):.2f} s")
    headline("launch", "import genlab.ui.main_window", f"{med('t_import'):.2f} s")
    headline("launch", f"torch imported by lab {LAB!r}", "yes" if torch_frame else "no", "no",
             not torch_frame)
    rows = []
    for name, r in per_lab.items():
        if "error" in r:
            rows.append((name, "-", "-", r["error"]))
            continue
        rows.append((name, f"{r['t_window']:.2f}", f"{r['t_drawn']:.2f}",
                     "yes" if r["torch_at_frame"] else "no"))
    table("launch: each lab in a fresh interpreter, seconds from the first statement",
          ("lab", "window built", "first frame drawn", "torch at the frame"), rows,
          notes=(f"goal: first frame drawn <= {GOAL_S} s for every lab",))
    slow = [n for n, r in per_lab.items() if "error" in r or r["t_drawn"] > GOAL_S]
    worst = max((r.get("t_drawn", float("inf")) for r in per_lab.values()), default=0.0)
    headline("launch", "slowest lab to its first drawn frame", f"{worst:.2f} s",
             f"<= {GOAL_S} s", not slow)
