"""Exports that match the window: pacing, scale, metric plots, transparency, whole runs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genlab.labs.frame import Frame, Panel, Points
from genlab.ui.export import ExportOptions, export_animation, save_image
from genlab.ui.render import Renderer, to_array
from genlab.ui.theme import LIGHT
from tests.test_cli import genlab


def _frames(n=3, pacing=None):
    """n distinct frames; ``pacing`` maps a frame index to its Frame keywords."""
    pacing = pacing or {}
    return [Frame(i, f"frame {i}", (Panel({"p": Points(np.array([[i, 0.0], [0.0, i]]))},
                                          xlim=(-1, 3), ylim=(-1, 3)),),
                  caption="c", metrics={"loss": 1.0 / (i + 1)}, **pacing.get(i, {}))
            for i in range(n)]


def test_mp4_and_gif_keep_the_labs_pacing(tmp_path, qapp):
    import av

    frames = _frames(3, {1: {"hold": 0.5}, 2: {"pace": 3.0}})
    mp4 = export_animation(frames, tmp_path / "p.mp4", 10, (400, 300), LIGHT)
    with av.open(str(mp4)) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert n == 1 + 6 + 3  # 0.1 s, 0.1 + 0.5 s, 3 × 0.1 s at 10 fps
    gif = export_animation(frames, tmp_path / "p.gif", 10, (400, 300), LIGHT)
    with Image.open(gif) as im:
        ms = []
        for k in range(im.n_frames):
            im.seek(k)
            ms.append(im.info["duration"])
    assert ms == [100, 600, 300]


def test_a_cancelled_or_failed_export_keeps_the_file_already_there(tmp_path, qapp):
    from genlab.ui.export import ExportCancelled

    target = tmp_path / "keep.gif"
    target.write_bytes(b"precious")
    with pytest.raises(ExportCancelled):
        export_animation(_frames(), target, 10, (160, 120), LIGHT, lambda d, t: d < 1)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.gif"]  # no leftovers


def _ink_rows(img: np.ndarray, top: float, bottom: float) -> int:
    """Rows of the band [top, bottom) (fractions of the height) holding dark pixels."""
    h = img.shape[0]
    band = img[int(top * h):int(bottom * h), :, :3].astype(int)
    return int((band.min(axis=2) < 100).any(axis=1).sum())


def test_scale_makes_text_and_lines_larger(qapp):
    frame = _frames(1)[0]
    sizes = []
    for scale in (1.0, 2.0):
        r = Renderer((1600, 900), LIGHT, scale=scale)
        try:
            img = to_array(r.render(frame))
        finally:
            r.close()
        sizes.append(_ink_rows(img, 0.0, 0.08))  # the title's height in pixels
    assert sizes[1] >= 1.6 * sizes[0]


def test_metric_plots_and_transparency_in_images(tmp_path, qapp):
    frames = _frames(4)
    plain = save_image(frames[-1], tmp_path / "a.png", (800, 600), LIGHT)
    with_metrics = save_image(frames[-1], tmp_path / "b.png", (800, 600), LIGHT,
                              ExportOptions(metrics=True), history=frames)
    a = np.asarray(Image.open(plain).convert("RGB"))
    b = np.asarray(Image.open(with_metrics).convert("RGB"))
    # the loss curve (ink) and its axes fill the bottom of b; a's bottom is the caption only
    assert _ink_rows(b, 0.75, 1.0) > 3 * max(_ink_rows(a, 0.8, 1.0), 1)
    clear = save_image(frames[-1], tmp_path / "c.png", (400, 300), LIGHT,
                       ExportOptions(transparent=True))
    rgba = np.asarray(Image.open(clear))
    assert rgba.shape == (300, 400, 4)
    assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 0  # no background
    assert (rgba[..., 3] == 255).sum() > 500  # but the axes, text and points
    svg = save_image(frames[-1], tmp_path / "c.svg", (400, 300), LIGHT,
                     ExportOptions(transparent=True))
    assert 'fill="#ffffff"' not in svg.read_text().lower()


def test_render_frames_samples_the_whole_run(tmp_path):
    """--frames 4 picks 4 frames over the whole run: its last is the run's last frame (the
    EM GIF used to stop at iteration 30 with two components sharing a cluster)."""
    last = tmp_path / "last.png"
    gif = tmp_path / "run.gif"
    common = ("--set", "n_iter=6", "--size", "480x320")
    r = genlab("render", "em", *common, "--out", str(last))
    assert r.returncode == 0, r.stderr
    r = genlab("render", "em", *common, "--frames", "4", "--out", str(gif))
    assert r.returncode == 0, r.stderr
    assert "(4 frames)" in r.stderr
    with Image.open(gif) as im:
        assert im.n_frames == 4
        im.seek(3)
        end = np.asarray(im.convert("RGB")).astype(int)
    want = np.asarray(Image.open(last).convert("RGB")).astype(int)
    assert np.abs(end - want).mean() < 2.0
    part = tmp_path / "part.gif"
    r = genlab("render", "em", *common, "--from", "2", "--to", "5", "--out", str(part))
    assert r.returncode == 0, r.stderr
    with Image.open(part) as im:
        assert im.n_frames == 4


def test_export_dialog_defaults_to_the_playback_speed(qtbot):
    from genlab.ui.export_dialog import ExportDialog

    dlg = ExportDialog(30, (640, 480), fps=15.0)
    qtbot.addWidget(dlg)
    assert dlg.fps.value() == 15
    dlg.scale_box.setValue(2.0)
    dlg.metrics_box.setChecked(True)
    assert dlg.options() == ExportOptions(scale=2.0, metrics=True)
