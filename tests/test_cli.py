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
    r = genlab("render", "em", "--set", "n_iter=4", "--frames", "5", "--size", "320x240",
               "--theme", "dark", "--out", str(gif))
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


def _one_line(r, code, needle):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    assert needle in lines[-1], r.stderr
    return lines[-1]


@pytest.mark.parametrize("fps", ["0", "-2", "nan", "inf"])
def test_bad_fps_is_refused_before_the_run(fps, tmp_path):
    r = genlab("render", "em", f"--fps={fps}", "--out", str(tmp_path / "x.gif"))
    _one_line(r, 2, "--fps")
    assert "running" not in r.stderr  # refused before any frame was made


def test_unwritable_outputs_are_refused_before_the_run(tmp_path):
    folder = tmp_path / "a.png"
    folder.mkdir()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    link = tmp_path / "full.svg"
    link.symlink_to("/dev/full")
    for out, needle in ((folder, "is a folder"), (a_file / "x.png", "does not exist"),
                        ("/proc/x.svg", "cannot write"), (link, "not a regular file"),
                        ("/proc/x.gif", "cannot write")):
        r = genlab("render", "em", "--set", "n_iter=2", "--out", str(out))
        _one_line(r, 2, needle)
        assert "running" not in r.stderr and "wrote" not in r.stderr


def test_data_that_would_break_a_run_is_refused_with_its_reason(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("x,y\n0,0\n1e300,2\n1,1\n")
    _one_line(genlab("render", "em", "--set", "dataset=drawn", "--data", str(big),
                     "--out", str(tmp_path / "a.png")), 2, "beyond")
    labels = tmp_path / "labels.csv"
    labels.write_text("x,y,label\n0,0,0\n1,1,1e30\n")
    _one_line(genlab("render", "guidance", "--set", "dataset=drawn", "--data", str(labels),
                     "--out", str(tmp_path / "b.png")), 2, "labels must be whole numbers")
    pts = tmp_path / "pts.csv"
    pts.write_text("0,0\n1,1\n")
    _one_line(genlab("render", "sampling", "--data", str(pts), "--out",
                     str(tmp_path / "c.png")), 2, "takes no data")
    garbage = tmp_path / "garbage.npy"
    np.save(garbage, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    line = _one_line(genlab("render", "em", "--set", "dataset=drawn", "--data", str(garbage),
                            "--out", str(tmp_path / "d.png")), 2, "Python objects")
    assert "allow_pickle" not in line


def test_negative_zero_is_zero(tmp_path):
    r = genlab("render", "em", "--set", "noise=-0", "--set", "n_iter=2", "--out",
               str(tmp_path / "z.png"))
    assert r.returncode == 0, r.stderr


def test_slides_render_every_preset_with_an_index(tmp_path):
    """genlab slides --labs em,ot: one file per preset, decoded, and both indexes listing
    them with their lab, preset name and description."""
    import re

    from PIL import Image

    from genlab.labs.presets import presets_for

    out = tmp_path / "deck"
    r = genlab("slides", "--labs", "em,ot", "--format", "png", "--size", "480x320",
               "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    html = (out / "index.html").read_text()
    md = (out / "index.md").read_text()
    files = re.findall(r'<img src="([^"]+)"', html)
    want = [p for lab in ("em", "ot") for p in presets_for(lab)]
    assert len(files) == len(want)
    for p in want:
        assert p.name in md and p.description[:40] in md
    for f in files:
        with Image.open(out / f) as im:
            assert im.size == (480, 320)
            assert np.asarray(im.convert("RGB")).std() > 10


def test_slides_bad_lab_and_unwritable_folder(tmp_path):
    r = genlab("slides", "--labs", "em,nope", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "valid labs are" in r.stderr and "Traceback" not in r.stderr
    r = genlab("slides", "--labs", "em", "--out", "/proc/deck")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_slides_cut_a_long_run_at_its_time_budget_and_say_so(tmp_path):
    """A preset that trains for minutes is shown as far as it got within --seconds, and the
    index says where it stopped; a budget that is not a positive number is refused."""
    import time

    from genlab import slides
    from genlab.labs import get_lab
    from genlab.labs.presets import presets_for

    lab = get_lab("flow")
    preset = presets_for("flow")[0]
    t0 = time.monotonic()
    frames, cut = slides._frames(lab, preset.params(lab.params), seconds=1.0)
    assert cut and frames and time.monotonic() - t0 < 20
    whole, cut = slides._frames(get_lab("sampling"), presets_for("sampling")[0].params(
        get_lab("sampling").params), seconds=600.0)
    assert not cut and whole
    out = tmp_path / "deck"
    r = genlab("slides", "--labs", "flow", "--format", "png", "--size", "320x240",
               "--seconds", "0.5", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Stopped after 0.5 s, at frame" in (out / "index.md").read_text()
    r = genlab("slides", "--labs", "em", "--seconds", "0", "--out", str(tmp_path / "y"))
    assert r.returncode == 2 and "--seconds" in r.stderr and "Traceback" not in r.stderr
