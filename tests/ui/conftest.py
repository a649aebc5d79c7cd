import pytest

from genlab.ui.worker import RunThread


@pytest.fixture(autouse=True)
def scratch_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CONFIG", str(tmp_path / "genlab.ini"))


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    yield
    qapp.processEvents()
    running = [t for t in list(RunThread.instances) if t.isRunning()]
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
