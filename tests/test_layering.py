"""The engine and the labs stay Qt-free (they run in notebooks and headless tests)."""

import subprocess
import sys

QT = ("PySide6", "pyqtgraph", "superqt", "PyQt5", "PyQt6")


def test_engine_and_labs_do_not_import_qt():
    code = (
        "import sys, pkgutil, importlib, genlab.engine, genlab.labs\n"
        "for pkg in (genlab.engine, genlab.labs):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "genlab.labs.LABS\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt imported below the UI layer: {out.stdout}"


def test_labs_import_without_torch():
    """The app opens fast: torch is imported only when a run needs it."""
    code = ("import sys, genlab.labs\ngenlab.labs.LABS\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
