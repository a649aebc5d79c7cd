"""genlab's benchmarks: speed figures printed beside their goals, never pass/fail.

Run them all with ``python -m benchmarks`` (or ``genlab bench``), or some by name::

    python -m benchmarks canvas latency

Each benchmark prints a small table with its goal next to the measurement; a summary of the
headline numbers closes the run.  They are not part of the test suite: a missed goal is a
figure to read, not a failure.  Qt runs offscreen unless ``QT_QPA_PLATFORM`` says otherwise.
"""

from __future__ import annotations

import os

# Before anything imports Qt or pyqtgraph.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from benchmarks._common import main  # noqa: E402

__all__ = ["main"]
