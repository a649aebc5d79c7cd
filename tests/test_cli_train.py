"""genlab train and genlab sample as a user runs them (subprocesses), torchrun included."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_cli import ENV, genlab


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny checkpoint of the images lab (digits, 60 steps)."""
    d = tmp_path_factory.mktemp("train")
    ckpt = d / "digits.safetensors"
    r = genlab("train", "images", "--set", "width=16", "--set", "batch_size=64", "--steps",
               "60", "--device", "cpu", "--out", str(ckpt))
    assert r.returncode == 0, r.stderr[-3000:]
    return ckpt, r


def test_train_writes_a_checkpoint_samples_and_progress(trained):
    ckpt, r = trained
    assert "training" in r.stderr and "wrote" in r.stderr  # the progress bar, the result
    progress = json.loads((ckpt.parent / (ckpt.name + ".progress.json")).read_text())
    assert progress["step"] == 60 and progress["done"] and progress["loss"] > 0
    from PIL import Image

    with Image.open(ckpt.parent / (ckpt.name + ".png")) as im:
        assert min(im.size) >= 256


def test_resume_continues_the_steps_and_the_loss_curve(trained, tmp_path):
    from genlab.engine.images.trainer import ImageTrainer

    ckpt, _ = trained
    out = tmp_path / "more.safetensors"
    r = genlab("train", "images", "--resume", str(ckpt), "--steps", "20", "--device", "cpu",
               "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    before, after = ImageTrainer.load(ckpt), ImageTrainer.load(out)
    assert after.step_ == 80 and len(after.history_) == 80
    assert after.history_[:60] == before.history_


def test_sample_writes_npz_and_png(trained, tmp_path):
    ckpt, _ = trained
    npz = tmp_path / "threes.npz"
    r = genlab("sample", str(ckpt), "--n", "12", "--class", "3", "--guidance", "2",
               "--steps", "10", "--out", str(npz))
    assert r.returncode == 0, r.stderr
    with np.load(npz, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"]
    assert images.shape == (12, 8, 8) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and (labels == 3).all()
    png = tmp_path / "grid.png"
    assert genlab("sample", str(ckpt), "--n", "20", "--steps", "5", "--out",
                  str(png)).returncode == 0
    assert png.stat().st_size > 0


@pytest.mark.parametrize("args,needle", [
    (("train", "em", "--out", "x.safetensors"), "does not train headless"),
    (("train", "images", "--out", "x.pt"), ".safetensors"),
    (("train", "images", "--steps", "0", "--out", "x.safetensors"), "--steps"),
    (("sample", "missing.safetensors", "--out", "x.npz"), "no such checkpoint"),
])
def test_bad_train_and_sample_input_is_one_line(args, needle, tmp_path):
    r = genlab(*args)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr


def test_a_corrupt_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    r = genlab("sample", str(bad), "--out", str(tmp_path / "x.npz"))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr


def test_torchrun_trains_with_two_cpu_processes(tmp_path):
    """torchrun --nproc-per-node 2 -m genlab train images: gloo on the CPU, rank 0 writes."""
    out = tmp_path / "ddp.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "genlab", "train", "images", "--set", "width=8", "--set",
           "batch_size=32", "--steps", "4", "--device", "cpu", "--out", str(out)]
    env = {**ENV, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240,
                       cwd=os.getcwd())
    assert r.returncode == 0, r.stderr[-3000:]
    from genlab.engine.images.trainer import ImageTrainer

    tr = ImageTrainer.load(out)
    assert tr.step_ == 4
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".safetensors") == \
        ["ddp.safetensors"]
