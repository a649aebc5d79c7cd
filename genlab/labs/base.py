"""What a lab is: a Params class, a frame generator, and a line in the registry."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.labs.frame import Frame, Series

# A run receives its params and context, yields frames, and may be sent new params
# (live changes) at any yield: ``new = yield frame; if new is not None: params = new``.
FrameGenerator = Generator[Frame, Any, None]


class LabError(RuntimeError):
    """A run cannot go on (bad data, divergence); the message is shown to the user."""


@dataclass(frozen=True, eq=False)
class RunContext:
    """Inputs that are not parameters.

    drawn: (n, 2) points the user painted (the "drawn" dataset), or None;
    drawn_labels: (n,) ints, the colour (class) each drawn point was painted with (0, 1, ...),
    or None (all 0);
    picks: (k, 2) points the user clicked in "place" mode (e.g. EM's initial means), or None;
    device: "auto" (CUDA or MPS when present, else CPU: see engine.device.resolve), or
    "cpu", "cuda", "mps", for labs that train with torch;
    checkpoint: a checkpoint file the run starts from (File → Open checkpoint), or None;
    requests: a queue (``queue.SimpleQueue``) of commands from the window that a training lab
    takes between steps, e.g. ``("save", path)``; None when nobody sends any;
    images: a file or folder of the user's images (File → Open image data), or None.
    """

    drawn: np.ndarray | None = None
    drawn_labels: np.ndarray | None = None
    picks: np.ndarray | None = None
    device: str = "auto"
    checkpoint: str | None = None
    requests: Any = None
    images: str | None = None


@dataclass(frozen=True)
class LabInfo:
    """A registered lab. ``run(params, ctx)`` returns a FrameGenerator.

    ``fps``: the lab's default playback speed (frames per second), chosen with its frames'
    ``pace`` and ``hold`` so every key moment of its default demo stays on screen for seconds.
    ``series``: the things it shows, named once; every frame of every preset carries exactly
    these (``Frame.series``), so each keeps one look across the whole lab.
    """

    name: str
    title: str
    description: str
    params: type
    run: Callable[[Any, RunContext], FrameGenerator]
    takes_data: bool = False
    uses_picks: bool = False
    fps: float = 20.0
    series: tuple[Series, ...] = ()
    # labs whose model can also train headless (``genlab train LAB``): params, device ->
    # a trainer with step(n), sample(...), save(path), step_ and history_
    make_trainer: Callable[[Any, str], Any] | None = None
    # path, params -> the params a checkpoint of this lab was trained with (File → Open
    # checkpoint); ValueError for a file that is not one
    checkpoint_params: Callable[[str, Any], Any] | None = None


def sub_seed(seed: int, *key: int) -> int:
    """A seed in [0, 2³¹) derived from ``seed`` and a key of ints, so each random stream of a
    run (noise points, SDE noise, a reference sample…) has its own seed and stays the same
    for the same run seed."""
    out = int(seed) % 2**31
    for k in key:
        out = (out * 1_000_003 + int(k) + 17) % 2**31
    return out


def serve_requests(ctx: RunContext, trainer: Any, unit: str = "step") -> str:
    """Serve the window's requests to a training lab between its steps (``ctx.requests``:
    ``("save", path)`` saves ``trainer`` there); the notice to show, "" when there were none.
    A save that fails says why and the run goes on."""
    notice, q = "", ctx.requests
    while q is not None and not q.empty():
        what, path = q.get_nowait()
        if what == "save":
            try:
                trainer.save(path)
                notice = f"Saved the checkpoint ({unit} {trainer.step_}) to {path}"
            except (OSError, ValueError) as e:
                notice = f"Could not save {path}: {e}"
    return notice
