import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import sys  # noqa: E402


def pytest_runtest_setup(item):
    # The app's worker trains with one torch thread (a core is left to the GUI); tests that
    # run a lab's generator directly do the same, so a busy 2-core machine does not make
    # two torch threads fight (15 Adam steps went from 0.08 s to 1.5 s that way).
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def pytest_sessionfinish(session, exitstatus):
    # A run abandoned by a test (cancelled inside a step) may still be finishing that step in
    # its daemon thread; torch aborts the process ("terminate called without an active
    # exception") if the interpreter exits under it, so let those steps end first.
    worker = sys.modules.get("genlab.ui.worker")
    if worker is None:
        return
    for t in list(worker.Stepper.alive):
        t.join(timeout=60)
