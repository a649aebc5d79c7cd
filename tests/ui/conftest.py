import numpy as np
import pytest
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from genlab.ui.worker import RunThread


@pytest.fixture(autouse=True)
def scratch_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CONFIG", str(tmp_path / "genlab.ini"))


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    yield
    qapp.processEvents()
    # A thread already deleted by Qt (deleteLater) may still have its Python wrapper here.
    running = [t for t in list(RunThread.instances) if shiboken6.isValid(t) and t.isRunning()]
    for t in running:
        t.cancel()
        t.wait(2000)
    assert not running, f"{len(running)} run thread(s) left running after the test"


@pytest.fixture
def make_window(qtbot):
    from genlab.ui.main_window import MainWindow

    made = []

    def make(lab="em", autoplay=True):
        w = MainWindow(lab, autoplay=autoplay)
        qtbot.addWidget(w)
        w.resize(1280, 800)
        with qtbot.waitExposed(w):
            w.show()
        with qtbot.waitActive(w):
            w.activateWindow()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def wait_frames(qtbot, win, n, timeout=20000):
    qtbot.waitUntil(lambda: len(win.controller.timeline) >= n, timeout=timeout)
    qtbot.waitUntil(lambda: win.canvas.frame is not None, timeout=timeout)


def drag_on_canvas(canvas, points, panel=0):
    """Press at points[0], move through the others (several moves each, as a hand makes),
    release at the last: data coordinates of ``canvas.plots[panel]``.

    Moves are spaced 15 ms apart: pyqtgraph drops move events that come faster than its
    rate limit, and a drag that starts with a short first move would never begin."""
    view = canvas.viewport()
    vb = canvas.plots[panel].getViewBox()

    def pixel(x, y):
        scene = vb.mapViewToScene(QtCore.QPointF(x, y))
        return canvas.mapFromScene(scene)

    left = QtCore.Qt.MouseButton.LeftButton
    nobtn = QtCore.Qt.MouseButton.NoButton
    p0 = pixel(*points[0])

    def send(kind, pos, button, buttons):
        ev = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), QtCore.QPointF(view.mapToGlobal(pos)),
                               button, buttons, QtCore.Qt.KeyboardModifier.NoModifier)
        QtWidgets.QApplication.sendEvent(view, ev)

    send(QtCore.QEvent.Type.MouseButtonPress, p0, left, left)
    prev = points[0]
    for x, y in points[1:]:
        for t in np.linspace(0.25, 1, 4):
            QtCore.QThread.msleep(15)
            send(QtCore.QEvent.Type.MouseMove, pixel(x * t + prev[0] * (1 - t),
                                                     y * t + prev[1] * (1 - t)), nobtn, left)
        prev = (x, y)
    send(QtCore.QEvent.Type.MouseButtonRelease, pixel(*points[-1]), left, nobtn)
    QtWidgets.QApplication.processEvents()
