"""The keyboard shortcuts, listed once for the key bindings, the help dialog and the README."""

from __future__ import annotations

from PySide6 import QtWidgets

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Space", "play / pause"),
    ("Right", "step one frame forward"),
    ("Left", "step one frame back"),
    ("R", "restart the run"),
    ("Esc", "stop the run: Space resumes it (in presentation mode: leave it)"),
    ("Ctrl+S", "screenshot of the canvas (PNG or SVG)"),
    ("Ctrl+E", "export an animation (GIF or MP4)"),
    ("F11", "full screen"),
    ("Home", "reset the view after panning or zooming (mouse wheel, drag in View mode)"),
    ("Ctrl+1 … Ctrl+9, Ctrl+0", "switch to lab 1 … 9, lab 10"),
    ("Ctrl+Shift+1 …", "switch to lab 11 …"),
    ("F5", "presentation mode (Esc or F5 leaves it)"),
    ("PageDown / PageUp", "next / previous scene of a lecture, else preset (clickers)"),
    (". or B", "blank the screen (again: show it)"),
    ("D / L", "pen / laser pointer (presentation ink); K: ink colour; C: clear the ink"),
    ("Alt+1 … Alt+9", "preset 1 … 9 of the lab"),
    ("Ctrl+Shift+T", "high-contrast theme for washed-out projectors"),
    ("Ctrl+Shift+R", "forget the lab's trained model and train again"),
    ("Ctrl+= / Ctrl+-", "larger / smaller fonts and markers (projectors)"),
    ("Ctrl+T", "switch light / dark theme"),
    ("V / P / E / M", "tools: view (pan, zoom), paint, erase, place points"),
    ("Ctrl+Z", "undo the last drawing edit"),
    ("F1", "this help"),
)


def show_help(parent: QtWidgets.QWidget) -> QtWidgets.QMessageBox:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
    box = QtWidgets.QMessageBox(parent)
    box.setWindowTitle("genlab: keyboard shortcuts")
    box.setText(f"<table>{rows}</table>")
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Close)
    box.setModal(False)
    box.show()
    return box


def lab_key(i: int) -> str:
    """The shortcut of the i-th lab (0-based): Ctrl+1 … Ctrl+9, Ctrl+0 for the tenth, then
    Ctrl+Shift+1 … for the eleventh and on."""
    return f"Ctrl+{(i + 1) % 10}" if i < 10 else f"Ctrl+Shift+{(i - 9) % 10}"

