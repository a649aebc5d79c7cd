"""Qt user interface.  Importing this package pins pyqtgraph to PySide6."""

import os

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
