"""Writing frames to PNG, SVG, GIF and MP4 through the one offscreen render path.

Every writer writes to a temporary file beside the target and renames it on success, so a
failed or cancelled export leaves whatever was at the path untouched, and a write that did not
happen (a full disk, a path Qt's SVG generator could not open) is an error, never a "Saved".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.labs.frame import Frame
from genlab.ui.render import Renderer, to_array
from genlab.ui.theme import Theme

IMAGE_FORMATS = (".png", ".svg")
ANIMATION_FORMATS = (".gif", ".mp4")

# progress(done, total) -> False to cancel
Progress = Callable[[int, int], bool]


class ExportCancelled(Exception):
    pass


@dataclass(frozen=True)
class ExportOptions:
    """How an export looks beyond its size: ``scale`` multiplies fonts, lines and markers
    (2 for 4K, so text is as large on the picture as in the window); ``metrics`` includes the
    metric plots under the canvas, as on screen; ``transparent`` leaves out the background
    (PNG and SVG only)."""

    scale: float = 1.0
    metrics: bool = False
    transparent: bool = False


DEFAULT_OPTIONS = ExportOptions()


def _even(size: tuple[int, int]) -> tuple[int, int]:
    return (size[0] + size[0] % 2, size[1] + size[1] % 2)  # yuv420p needs even sizes


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part-{os.getpid()}{path.suffix}")


def _commit(tmp: Path, path: Path) -> None:
    """Move a finished temporary file onto the target; an empty or missing one is an error."""
    if not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise OSError(f"nothing was written to {path}")
    os.replace(tmp, path)


def check_writable(path: str | Path) -> Path:
    """The target of an export, checked before any work: its folder exists and takes a file,
    and the path is not a folder.  OSError with a one-line reason otherwise."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()  # write where the link points, not over the link
    if path.is_dir():
        raise OSError(f"{path} is a folder")
    if path.exists() and not path.is_file():
        raise OSError(f"{path} is not a regular file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OSError(f"the folder {parent} does not exist")
    tmp = _temporary(path)
    try:
        with open(tmp, "wb") as f:
            f.write(b"x")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise OSError(f"cannot write in {parent}: {e.strerror or e}") from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return path


def save_image(frame: Frame, path: str | Path, size: tuple[int, int], theme: Theme,
               options: ExportOptions = DEFAULT_OPTIONS,
               history: Sequence[Frame] = ()) -> Path:
    """One frame to .png or .svg (``history``: the run's frames up to it, for the metric
    plots when ``options.metrics``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format '{suffix}': use .png or .svg")
    path = check_writable(path)
    tmp = _temporary(path)
    r = Renderer(size, theme, options.scale, options.metrics, options.transparent)
    try:
        r.feed(list(history) or [frame])
        if suffix == ".svg":
            r.render_svg(frame, tmp)
        else:
            from PIL import Image

            Image.fromarray(to_array(r.render(frame))).save(tmp, format="PNG")
        _commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        r.close()
    return path


def durations(frames: Sequence[Frame], fps: float) -> np.ndarray:
    """Seconds each frame stays on screen at ``fps``, with the lab's pacing (its ``pace``
    times the frame interval, plus its ``hold``), as the window plays them."""
    return np.array([f.pace / fps + f.hold for f in frames])


def export_animation(frames: Sequence[Frame], path: str | Path, fps: float,
                     size: tuple[int, int], theme: Theme,
                     progress: Progress | None = None,
                     options: ExportOptions = DEFAULT_OPTIONS) -> Path:
    """A range of frames to .gif (Pillow) or .mp4 (PyAV, H.264), paced as in the window.

    Raises ExportCancelled when ``progress`` returns False; a file already at ``path`` is
    kept then, and when anything fails.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_FORMATS:
        raise ValueError(f"unknown animation format '{suffix}': use .gif or .mp4")
    if not frames:
        raise ValueError("no frames to export")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError("fps must be a positive number")
    path = check_writable(path)
    size = _even(size)
    tmp = _temporary(path)
    r = Renderer(size, theme, options.scale, options.metrics)
    try:
        images = _rendered(r, frames, progress)
        seconds = durations(frames, fps)
        if suffix == ".gif":
            _write_gif(images, tmp, seconds)
        else:
            _write_mp4(images, tmp, fps, size, seconds)
        _commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        r.close()
    return path


def _rendered(r: Renderer, frames: Sequence[Frame], progress: Progress | None):
    n = len(frames)
    for i, frame in enumerate(frames):
        if progress is not None and progress(i, n) is False:
            raise ExportCancelled
        yield to_array(r.render(frame))
    if progress is not None:
        progress(n, n)


def _write_gif(images, path: Path, seconds: np.ndarray) -> None:
    from PIL import Image

    # an adaptive (median cut) palette per frame: the fast octree one kept ~100 colours and
    # banded every density heatmap
    pal = [Image.fromarray(a).quantize(255, method=Image.Quantize.MEDIANCUT) for a in images]
    ms = [max(20, int(round(1000 * s))) for s in seconds]  # browsers floor GIF delays at 20
    pal[0].save(path, format="GIF", save_all=True, append_images=pal[1:], duration=ms,
                loop=0, optimize=False, disposal=1)


def _write_mp4(images, path: Path, fps: float, size: tuple[int, int],
               seconds: np.ndarray) -> None:
    from fractions import Fraction

    import av

    # a constant frame rate: a frame held longer is repeated, as many times as its time
    # on screen takes (at least once)
    repeats = np.maximum(1, np.round(np.cumsum(seconds) * fps).astype(int)
                         - np.round(np.cumsum(np.r_[0.0, seconds[:-1]]) * fps).astype(int))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for a, k in zip(images, repeats, strict=False):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(a), format="rgb24")
            for _ in range(int(k)):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
