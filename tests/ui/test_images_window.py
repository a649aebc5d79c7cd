"""The images lab in the window: it trains, shows a grid, saves and reopens a checkpoint,
and stops promptly."""

from __future__ import annotations

import pytest
import shiboken6

from genlab.ui.worker import RunThread


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    from genlab.engine.training.store import STORE

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    STORE.clear("images")
    yield
    STORE.clear("images")


def test_the_images_lab_trains_saves_reopens_and_stops(make_window, qtbot, tmp_path):
    win = make_window("images")
    c = win.controller
    from genlab.labs.params import replace

    c.set_params(replace(c.params, width=16, batch_size=64, sample_steps=8,
                         steps_per_frame=20))
    c.restart()
    c.set_fps(0)
    qtbot.waitUntil(lambda: len(c.timeline) > 0 and c.timeline[-1].x is not None
                    and c.timeline[-1].x >= 40, timeout=120000)
    grid = c.timeline[-1].panels[0].layers["images"]
    assert grid.images.shape[1:] == (8, 8)
    assert win.save_ckpt_action.isEnabled() and "CPU" in win.run_status.text()
    path = tmp_path / "win.safetensors"
    win.save_checkpoint(str(path))
    qtbot.waitUntil(path.exists, timeout=30000)
    assert win.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: any(f.x is not None for f in c.timeline), timeout=60000)
    from genlab.engine.images.trainer import ImageTrainer

    saved = ImageTrainer.load(path).step_
    assert next(f.x for f in c.timeline if f.x is not None) == saved
    thread = c.thread
    win.close()  # stops promptly, mid-training
    qtbot.waitUntil(lambda: not shiboken6.isValid(thread) or not thread.isRunning(),
                    timeout=3000)
    assert not [t for t in RunThread.instances if shiboken6.isValid(t) and t.isRunning()]
