"""Writing frames to PNG, SVG, GIF and MP4 through the one offscreen render path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def _even(size: tuple[int, int]) -> tuple[int, int]:
    return (size[0] + size[0] % 2, size[1] + size[1] % 2)  # yuv420p needs even sizes


def save_image(frame: Frame, path: str | Path, size: tuple[int, int], theme: Theme) -> Path:
    """One frame to .png or .svg."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format '{suffix}': use .png or .svg")
    r = Renderer(size, theme)
    try:
        if suffix == ".svg":
            r.render_svg(frame, path)
        else:
            from PIL import Image

            Image.fromarray(to_array(r.render(frame))).save(path)
    finally:
        r.close()
    return path


def export_animation(frames: Sequence[Frame], path: str | Path, fps: float,
                     size: tuple[int, int], theme: Theme,
                     progress: Progress | None = None) -> Path:
    """A range of frames to .gif (Pillow) or .mp4 (PyAV, H.264).

    Raises ExportCancelled (and removes the partial file) when ``progress`` returns False.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_FORMATS:
        raise ValueError(f"unknown animation format '{suffix}': use .gif or .mp4")
    if not frames:
        raise ValueError("no frames to export")
    if fps <= 0:
        raise ValueError("fps must be positive")
    size = _even(size)
    r = Renderer(size, theme)
    try:
        images = _rendered(r, frames, progress)
        if suffix == ".gif":
            _write_gif(images, path, fps)
        else:
            _write_mp4(images, path, fps, size)
    except ExportCancelled:
        path.unlink(missing_ok=True)
        raise
    finally:
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


def _write_gif(images, path: Path, fps: float) -> None:
    from PIL import Image

    pal = []
    for a in images:
        pal.append(Image.fromarray(a).quantize(colors=255, method=Image.Quantize.FASTOCTREE))
    pal[0].save(path, save_all=True, append_images=pal[1:], duration=int(round(1000 / fps)),
                loop=0, optimize=False, disposal=1)


def _write_mp4(images, path: Path, fps: float, size: tuple[int, int]) -> None:
    from fractions import Fraction

    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for a in images:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(a), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
