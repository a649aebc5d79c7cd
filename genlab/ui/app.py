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


def _app():
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    app.setApplicationName("genlab")
    pg.setConfigOptions(antialias=True)
    return app


def run_present(lecture, presenter: bool = False) -> int:
    """A lecture in presentation mode; the presenter window on a second screen (or, with
    ``presenter``, on the only one)."""
    if no_display():
        print("genlab: no display found (DISPLAY is not set)", file=sys.stderr)
        return 1
    from PySide6 import QtGui

    from genlab.ui.main_window import MainWindow
    from genlab.ui.presenter import PresenterWindow

    app = _app()
    screens = QtGui.QGuiApplication.screens()
    win = MainWindow(lecture.scenes[0].lab)
    win.presenting.open_lecture(lecture)
    if len(screens) > 1:
        win.setScreen(screens[1])
        win.move(screens[1].geometry().topLeft())
    win.show()
    win.presenting.enter()
    if presenter or len(screens) > 1:
        view = PresenterWindow(win)
        view.setScreen(screens[0])
        view.move(screens[0].geometry().topLeft())
        view.show()
    return leave(app.exec())


def run_gui(lab: str = DEFAULT_LAB, preset: str | None = None,
            scene: str | None = None) -> int:
    if no_display():
        # Qt would abort with a core dump; say what to do instead.
        print("genlab: no display found (DISPLAY is not set). Run it in a desktop session, "
              "or render headless: genlab render em --out em.gif", file=sys.stderr)
        return 1
    from genlab.ui.main_window import MainWindow

    app = _app()
    win = MainWindow(lab)
    if preset is not None:
        win.apply_preset(preset)
    if scene is not None:
        win.open_scene(scene)
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
