"""The command line, run as a user runs it (a subprocess, no display)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def genlab(*args, check=False):
    return subprocess.run([sys.executable, "-m", "genlab", *args], capture_output=True,
                          text=True, env=ENV, timeout=300, check=check)


def test_list_prints_labs_and_presets():
    out = genlab("list", check=True).stdout
    assert "em" in out and "sampling" in out and "preset" in out


@pytest.mark.parametrize("args,needle", [
    (("render", "nope", "--out", "x.png"), "valid labs are"),
    (("render", "em", "--preset", "nope", "--out", "x.png"), "valid presets are"),
    (("render", "em", "--set", "K=3", "--out", "x.png"), "valid parameters are"),
    (("render", "em", "--set", "k=300", "--out", "x.png"), "from 1 to 20"),
    (("render", "em", "--set", "covariance=round", "--out", "x.png"), "one of: full"),
    (("render", "em", "--size", "big", "--out", "x.png"), "WxH"),
    (("render", "em", "--out", "x.jpg"), ".png, .svg, .gif, .mp4"),
])
def test_bad_input_exits_nonzero_with_one_line(args, needle, tmp_path):
    r = genlab(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_render_png_and_gif(tmp_path):
    from PIL import Image

    png = tmp_path / "em.png"
    r = genlab("render", "em", "--set", "n_iter=3", "--size", "480x320", "--seed", "3",
               "--out", str(png))
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (320, 480, 3) and img.std() > 10
    gif = tmp_path / "s.gif"
    r = genlab("render", "sampling", "--frames", "5", "--size", "320x240", "--theme", "dark",
               "--out", str(gif))
    assert r.returncode == 0, r.stderr
    assert "rendering" in r.stderr  # the progress bar
    with Image.open(gif) as im:
        assert im.n_frames == 5 and im.size == (320, 240)


def test_render_drawn_data_from_file(tmp_path):
    pts = np.random.default_rng(0).normal(size=(60, 2))
    np.save(tmp_path / "pts.npy", pts)
    out = tmp_path / "d.svg"
    r = genlab("render", "em", "--set", "dataset=drawn", "--set", "n_iter=2", "--data",
               str(tmp_path / "pts.npy"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "<svg" in out.read_text()


def test_render_the_shipped_heart(tmp_path):
    """The example data in assets/ loads through the real loader and EM fits it."""
    from pathlib import Path

    from genlab.engine.datasets import load_points

    heart = Path(__file__).resolve().parents[1] / "assets" / "data" / "heart.csv"
    pts = load_points(heart)
    assert pts.shape == (400, 2) and np.isfinite(pts).all()
    out = tmp_path / "heart.png"
    r = genlab("render", "em", "--set", "dataset=drawn", "--set", "k=6", "--set", "n_iter=5",
               "--data", str(heart), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1000


def test_gui_without_a_display_says_so():
    env = {k: v for k, v in ENV.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "genlab"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 1 and "no display" in r.stderr
