"""Command line: ``genlab`` (the window), ``genlab list``, ``genlab render``, ``genlab bench``.

Errors (an unknown lab, preset or field, a value out of range) exit with status 2 and one
line on stderr naming the valid choices.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from genlab.labs.params import ParamError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.add_argument("lab", nargs="?", default=None)
    gui.add_argument("--preset", default=None)
    sub.add_parser("list", help="print the labs and their presets")
    r = sub.add_parser("render", help="render a lab headless to .png, .svg, .gif or .mp4")
    r.add_argument("lab")
    r.add_argument("--preset", default=None)
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--frames", type=int, default=None,
                   help="at most this many frames (default: the whole run, up to 2000)")
    r.add_argument("--fps", type=float, default=12.0)
    r.add_argument("--size", default="960x640", help="WxH in pixels")
    r.add_argument("--theme", choices=("light", "dark"), default="light")
    r.add_argument("--data", default=None,
                   help="CSV/NPY points (x,y or x,y,label) for the 'drawn' dataset")
    r.add_argument("--out", required=True)
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
        return run_gui(lab, preset)
    except ParamError as e:
        print(f"genlab: {e}", file=sys.stderr)
        return 2


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


def _render(args) -> int:
    from pathlib import Path

    from genlab.labs import RunContext, get_lab
    from genlab.labs.params import parse_assignment, replace
    from genlab.labs.presets import find_preset, presets_for

    lab = get_lab(args.lab)
    if args.preset is not None:
        params = find_preset(lab.name, args.preset).params(lab.params)
    else:
        presets = presets_for(lab.name)
        params = presets[0].params(lab.params) if presets else lab.params()
    changes = dict(parse_assignment(lab.params, s) for s in args.sets)
    if args.seed is not None:
        changes["seed"] = args.seed
    params = replace(params, **changes)
    size = _parse_size(args.size)
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg", ".gif", ".mp4"):
        raise ParamError(f"--out {out.name!r}: unknown format '{suffix}': valid formats are "
                         ".png, .svg, .gif, .mp4")
    if args.frames is not None and args.frames < 1:
        raise ParamError("--frames must be at least 1")
    drawn = drawn_labels = None
    if args.data is not None:
        from genlab.engine.datasets import load_labelled_points

        try:
            drawn, drawn_labels = load_labelled_points(args.data)
        except (OSError, ValueError) as e:
            raise ParamError(f"--data {args.data}: {e}") from None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from genlab.ui.export import export_animation, save_image
    from genlab.ui.theme import get_theme
    from genlab.ui.worker import limit_torch_threads

    limit = args.frames or 2000
    frames = []
    gen = lab.run(params, RunContext(drawn=drawn, drawn_labels=drawn_labels))
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
            frames.append(frame)
            _bar("running", len(frames), frame.total or limit)
            if len(frames) >= limit:
                break
    finally:
        gen.close()
    print(file=sys.stderr)
    if not frames:
        print("genlab: the run produced no frame", file=sys.stderr)
        return 1
    theme = get_theme(args.theme)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".png", ".svg"):
        save_image(frames[-1], out, size, theme)
    else:
        def progress(done: int, total: int) -> bool:
            _bar("rendering", done, total)
            return True

        export_animation(frames, out, args.fps, size, theme, progress)
        print(file=sys.stderr)
    print(f"wrote {out} ({len(frames)} frames)" if suffix in (".gif", ".mp4")
          else f"wrote {out}", file=sys.stderr)
    return 0


def _bar(label: str, done: int, total: int) -> None:
    total = max(total, 1)
    width = 30
    fill = int(width * min(done, total) / total)
    sys.stderr.write(f"\r{label:9s} [{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
    sys.stderr.flush()
