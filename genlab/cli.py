"""genlab: the window, and list, render, train, sample and bench on the command line.

``genlab`` opens the window; ``genlab list``, ``genlab render``, ``genlab train`` and
``genlab sample`` (these two in ``genlab.cli_train``), ``genlab bench``.

Bad input (an unknown lab, preset or field, a value out of range, a file that cannot be read
or written) exits with status 2 and one line on stderr naming what is wrong; a run that fails
(a lab's error, memory) exits with status 1 and one line.  No traceback reaches the user
unless GENLAB_DEBUG is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from genlab.labs.params import ParamError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.add_argument("lab", nargs="?", default=None)
    gui.add_argument("--preset", default=None)
    gui.add_argument("--scene", default=None, help="open a scene file (File → Save scene)")
    pres = sub.add_parser("present", help="open a lecture (a JSON list of scenes) in "
                                          "presentation mode")
    pres.add_argument("lecture")
    pres.add_argument("--presenter", action="store_true",
                      help="show the presenter window even with one screen")
    sub.add_parser("list", help="print the labs and their presets")
    r = sub.add_parser("render", help="render a lab headless to .png, .svg, .gif or .mp4")
    r.add_argument("lab")
    r.add_argument("--preset", default=None)
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--frames", type=int, default=None,
                   help="this many frames sampled evenly over the whole run (or the range "
                        "--from..--to); default: every frame")
    r.add_argument("--from", dest="first", type=int, default=None, metavar="K",
                   help="first frame of the range (1-based, default 1)")
    r.add_argument("--to", dest="last", type=int, default=None, metavar="K",
                   help="last frame of the range (default: the run's last)")
    r.add_argument("--fps", type=float, default=None,
                   help="frames per second (default: the lab's playback speed)")
    r.add_argument("--size", default="960x640", help="WxH in pixels")
    r.add_argument("--scale", type=float, default=None,
                   help="fonts, lines and markers times S (default: height / 1080, at least "
                        "1: a 4K render reads like the window on a 1080p screen)")
    r.add_argument("--metrics", action="store_true",
                   help="include the metric plots under the canvas, as on screen")
    r.add_argument("--transparent", action="store_true",
                   help="no background (PNG and SVG)")
    r.add_argument("--theme", choices=("light", "dark"), default="light")
    r.add_argument("--data", default=None,
                   help="CSV/NPY points (x,y or x,y,label) for the 'drawn' dataset")
    r.add_argument("--out", required=True)
    from genlab.cli_train import add_parsers
    from genlab.slides import add_parser as add_slides

    add_parsers(sub)
    add_slides(sub)
    b = sub.add_parser("bench", help="run the benchmarks and print the figures")
    b.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "render":
            return _render(args)
        if args.command == "slides":
            from genlab.slides import run as slides

            return slides(args)
        if args.command == "present":
            from genlab.ui.app import run_present
            from genlab.ui.scene import SceneError, load_lecture

            try:
                lecture = load_lecture(args.lecture)
            except SceneError as e:
                raise ParamError(str(e)) from None
            return run_present(lecture, args.presenter)
        if args.command in ("train", "sample"):
            from genlab import cli_train

            return cli_train.train(args) if args.command == "train" else cli_train.sample(args)
        if args.command == "bench":
            from genlab.bench import run_benchmarks

            return run_benchmarks(args.names)
        from genlab.labs import DEFAULT_LAB, get_lab
        from genlab.ui.app import run_gui

        lab = getattr(args, "lab", None) or DEFAULT_LAB
        get_lab(lab)
        preset = getattr(args, "preset", None)
        if preset is not None:
            from genlab.labs.presets import find_preset

            find_preset(lab, preset)
        scene = getattr(args, "scene", None)
        if scene is not None:
            from genlab.ui.scene import SceneError, load_scene

            try:
                load_scene(scene)  # checked before a window opens
            except SceneError as e:
                raise ParamError(str(e)) from None
        return run_gui(lab, preset, scene)
    except ParamError as e:
        return _fail(str(e), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except MemoryError:
        return _fail("out of memory: use fewer points or a smaller size", 1)
    except Exception as e:  # a failed run: one line, the traceback only when debugging
        from genlab.labs.base import LabError

        if os.environ.get("GENLAB_DEBUG"):
            raise
        if isinstance(e, LabError):
            return _fail(f"the run failed: {e}", 1)
        if isinstance(e, OSError):
            return _fail(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""), 1)
        return _fail(f"the run failed: {type(e).__name__}: {e}", 1)


def _fail(message: str, code: int) -> int:
    print(f"genlab: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return code


def _list() -> int:
    from genlab.labs import LABS
    from genlab.labs.presets import presets_for

    for name, lab in LABS.items():
        print(f"{name:12s} {lab.title}: {lab.description}")
        for p in presets_for(name):
            print(f"    preset {p.name!r}: {p.description}")
    return 0


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ParamError(f"--size {text!r} is not valid: use WxH, e.g. 960x640") from None
    if not (64 <= w <= 7680 and 64 <= h <= 4320):
        raise ParamError(f"--size {text!r} is out of range: 64x64 to 7680x4320")
    return w, h


MAX_KEPT = 2000  # frames held while a run renders; past it every other one is dropped


def params_from_args(lab: Any, args: Any) -> Any:
    """The lab's parameters from ``--preset`` (default: its first preset), then ``--set``
    assignments and ``--seed`` (ParamError, one line, for a bad one)."""
    from genlab.labs.params import parse_assignment, replace
    from genlab.labs.presets import find_preset, presets_for

    if args.preset is not None:
        params = find_preset(lab.name, args.preset).params(lab.params)
    else:
        presets = presets_for(lab.name)
        params = presets[0].params(lab.params) if presets else lab.params()
    changes = dict(parse_assignment(lab.params, s) for s in args.sets)
    if args.seed is not None:
        changes["seed"] = args.seed
    return replace(params, **changes)


def _render(args) -> int:
    import math
    from pathlib import Path

    import numpy as np

    from genlab.labs import RunContext, get_lab

    lab = get_lab(args.lab)
    params = params_from_args(lab, args)
    size = _parse_size(args.size)
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg", ".gif", ".mp4"):
        raise ParamError(f"--out {out.name!r}: unknown format '{suffix}': valid formats are "
                         ".png, .svg, .gif, .mp4")
    if args.frames is not None and args.frames < 1:
        raise ParamError("--frames must be at least 1")
    for flag, v in (("--from", args.first), ("--to", args.last)):
        if v is not None and v < 1:
            raise ParamError(f"{flag} must be at least 1")
    if args.first is not None and args.last is not None and args.last < args.first:
        raise ParamError("--to must not be before --from")
    fps = lab.fps if args.fps is None else args.fps
    if not (math.isfinite(fps) and 0 < fps <= 120):
        raise ParamError(f"--fps {args.fps!r}: use a number of frames per second in (0, 120]")
    scale = max(1.0, size[1] / 1080) if args.scale is None else args.scale
    if not (math.isfinite(scale) and 0.25 <= scale <= 8):
        raise ParamError(f"--scale {args.scale!r}: use a factor from 0.25 to 8")
    if args.transparent and suffix not in (".png", ".svg"):
        raise ParamError("--transparent applies to .png and .svg only")
    drawn = drawn_labels = None
    if args.data is not None and not (lab.takes_data or lab.uses_picks):
        raise ParamError(f"--data: the {lab.name} lab takes no data")
    if args.data is not None:
        from genlab.engine.datasets import load_labelled_points

        try:
            drawn, drawn_labels = load_labelled_points(args.data)
        except (OSError, ValueError) as e:
            raise ParamError(f"--data {args.data}: {e}") from None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from genlab.ui.export import ExportOptions, check_writable, export_animation, save_image
    from genlab.ui.theme import get_theme
    from genlab.ui.worker import limit_torch_threads

    try:
        check_writable(out)  # before the run, not after minutes of frames
    except OSError as e:
        raise ParamError(f"--out {out}: {e}") from None
    kept, stride, count = [], 1, 0  # every stride-th frame of the run, at most MAX_KEPT
    newest = None
    last = args.last
    gen = lab.run(params, RunContext(drawn=drawn, drawn_labels=drawn_labels))
    bar = _progress("running", last)
    try:
        for frame in gen:
            # torch is imported inside the run: one thread, as in the window's worker, so
            # the frames are the window's (and a shared machine does not stall the run)
            limit_torch_threads()
            bad = frame.first_nonfinite()
            if bad is not None:
                print(f"genlab: run stopped at frame {frame.step}: NaN in {bad}; "
                      "writing the frames before it", file=sys.stderr)
                break
            count += 1
            newest = (count, frame)
            if count % stride == 0 or count == 1:
                kept.append((count, frame))
                if len(kept) > MAX_KEPT:
                    stride *= 2
                    kept = [(k, f) for k, f in kept if k == 1 or k % stride == 0]
            if last is None and frame.total:
                bar.total = max(frame.total, count)
            bar.update(1)
            if last is not None and count >= last:
                break
    finally:
        bar.close()
        gen.close()
    if not kept:
        print("genlab: the run produced no frame", file=sys.stderr)
        return 1
    if kept[-1][0] != count:  # the run's last frame always stays
        kept.append(newest)
    first = args.first or 1
    chosen = [(k, f) for k, f in kept if k >= first]
    if not chosen:
        raise ParamError(f"--from {first}: the run has only {count} frames")
    if args.frames is not None and len(chosen) > args.frames:
        idx = np.unique(np.round(np.linspace(0, len(chosen) - 1, args.frames)).astype(int))
        chosen = [chosen[i] for i in idx]
    frames = [f for _, f in chosen]
    theme = get_theme(args.theme)
    options = ExportOptions(scale=scale, metrics=args.metrics, transparent=args.transparent)
    if suffix in (".png", ".svg"):
        history = [f for k, f in kept if k <= chosen[-1][0]]
        save_image(frames[-1], out, size, theme, options, history=history)
    else:
        bar = _progress("rendering", len(frames))

        def progress(done: int, total: int) -> bool:
            bar.update(done - bar.n)
            return True

        try:
            export_animation(frames, out, fps, size, theme, progress, options)
        finally:
            bar.close()
    print(f"wrote {out} ({len(frames)} frames)" if suffix in (".gif", ".mp4")
          else f"wrote {out}", file=sys.stderr)
    return 0


def _progress(label: str, total: int | None):
    """A progress bar on stderr (count, rate, ETA once the total is known)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="frame", file=sys.stderr, dynamic_ncols=True,
                mininterval=0.2)
