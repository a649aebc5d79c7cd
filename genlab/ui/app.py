"""Starting the GUI."""

from __future__ import annotations

import os
import sys

from genlab.labs import DEFAULT_LAB


def no_display() -> bool:
    """True on Linux with no X or Wayland display and no Qt platform chosen."""
    env = os.environ
    return (sys.platform.startswith("linux") and not env.get("QT_QPA_PLATFORM")
            and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"))


def run_gui(lab: str = DEFAULT_LAB, preset: str | None = None) -> int:
    if no_display():
        # Qt would abort with a core dump; say what to do instead.
        print("genlab: no display found (DISPLAY is not set). Run it in a desktop session, "
              "or render headless: genlab render em --out em.gif", file=sys.stderr)
        return 1
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from genlab.ui.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    app.setApplicationName("genlab")
    pg.setConfigOptions(antialias=True)
    win = MainWindow(lab)
    if preset is not None:
        win.apply_preset(preset)
    win.show()
    return leave(app.exec())


def leave(code: int) -> int:
    """The exit status of the window's event loop; if a run's step is still going on in the
    background (abandoned when the window closed: an import, a solve), the process ends now
    instead of waiting for it, or for interpreter shutdown to stop it half-way."""
    from genlab.ui.worker import runs_still_stepping

    if runs_still_stepping():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
