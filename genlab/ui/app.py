"""Starting the GUI."""

from __future__ import annotations

import sys

from genlab.labs import DEFAULT_LAB


def run_gui(lab: str = DEFAULT_LAB, preset: str | None = None) -> int:
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
    return app.exec()
