"""The images lab: it trains the engine's ImageTrainer in slices between frames, shows samples
from fixed noise, paths with the nearest training image, the loss curve and the quality."""

from __future__ import annotations

import dataclasses
import itertools
import queue

import numpy as np
import pytest

from genlab.labs import images as lab
from genlab.labs.base import RunContext
from genlab.labs.frame import Curve, ImageGrid

FAST = dict(train_steps=200, steps_per_frame=50, sample_steps=8, width=16, batch_size=64)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # the quality classifier, trained once here


@pytest.fixture(autouse=True)
def fresh_store(cache_dir, monkeypatch):
    from genlab.engine.training.store import STORE

    monkeypatch.setenv("GENLAB_CACHE", str(cache_dir))
    STORE.clear("images")
    yield
    STORE.clear("images")


def _run(p, ctx=None, n=100):
    gen = lab.run(p, ctx or RunContext(device="cpu"))
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


def test_the_first_frame_shows_the_data_before_torch_is_needed():
    frame = next(lab.run(lab.Params(), RunContext(device="cpu")))
    grid = frame.panels[0].layers["images"]
    assert isinstance(grid, ImageGrid) and grid.images.shape[1:] == (8, 8)
    assert "training and" in frame.caption


def test_training_runs_to_its_steps_with_samples_paths_loss_and_quality():
    p = lab.Params(**FAST)
    frames = _run(p)
    last = frames[-1]
    assert last.x == 200 and "Trained" in last.caption
    samples, path, loss = last.panels
    grid = samples.layers["images"]
    assert grid.images.shape == (60, 8, 8) and grid.cols == 6  # one row per class
    assert path.layers["images"].images.shape == (4 * 8, 8, 8)  # 6 steps, a gap, nearest
    curve = loss.layers["loss"]
    assert isinstance(curve, Curve) and len(curve.x) == 200
    assert curve.y[-20:].mean() < curve.y[:20].mean()  # it learns
    assert 0.0 <= last.metrics["guided samples/accuracy at w"] <= 1.0
    assert last.metrics["Fréchet distance/FD ÷ floor"] > 0
    assert "steps/s" in frames[-2].status or "CPU" in frames[-2].status
    assert not samples.axes  # pixel coordinates mean nothing to a reader


def test_samples_come_from_fixed_noise_so_a_rerun_shows_the_same_images():
    p = lab.Params(**FAST)
    a = _run(p)[-1].panels[0].layers["images"].images
    from genlab.engine.training.store import STORE

    STORE.clear("images")
    b = _run(p)[-1].panels[0].layers["images"].images
    np.testing.assert_array_equal(a, b)


def test_a_rerun_continues_the_stored_model_and_live_w_resamples():
    p = lab.Params(**FAST)
    _run(p)
    more = dataclasses.replace(p, train_steps=300, guidance=0.0)
    frames = _run(more)
    assert next(f.x for f in frames if f.x is not None) == 200  # continued, not restarted
    assert frames[-1].x == 300
    assert "w = 0" in frames[-1].panels[0].title


def test_save_request_writes_a_checkpoint_that_reopens(tmp_path):
    from genlab.engine.images.trainer import ImageTrainer

    p = lab.Params(**FAST)
    q: queue.SimpleQueue = queue.SimpleQueue()
    path = tmp_path / "m.safetensors"
    q.put(("save", str(path)))
    frames = _run(p, RunContext(device="cpu", requests=q))
    assert any("Saved the checkpoint" in f.notice for f in frames)
    tr = ImageTrainer.load(path)
    assert tr.config["width"] == 16
    params = lab.checkpoint_params(str(path), lab.Params())
    assert params.width == 16 and params.batch_size == 64
    from genlab.engine.training.store import STORE

    STORE.clear("images")
    opened = _run(params, RunContext(device="cpu", checkpoint=str(path)), n=4)
    assert next(f.x for f in opened if f.x is not None) == tr.step_  # where it was saved


def test_user_files_without_a_file_say_what_to_do(tmp_path):
    frames = _run(lab.Params(data="file"))
    assert len(frames) == 1 and "File → Open image data" in frames[0].caption
    bad = tmp_path / "x.npz"
    np.savez(bad, x=np.zeros((3, 2)))
    frames = _run(lab.Params(data="file"), RunContext(device="cpu", images=str(bad)))
    assert len(frames) == 1 and "x.npz" in frames[0].caption
