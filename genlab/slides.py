"""``genlab slides``: every preset of the chosen labs rendered in one command, with an index.

    genlab slides --labs em,ot --format gif --out slides/

One progress bar over all the presets; each preset's whole run is rendered (a GIF or MP4 of
the run, or a PNG of its last frame) with the lab's own pacing, and ``index.html`` and
``index.md`` list every file with its lab, preset and description.  Training labs reuse a
trained model across their presets when the presets share one (the engine's store).
"""

from __future__ import annotations

import html
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from genlab.labs.params import ParamError

FORMATS = ("gif", "mp4", "png")
MAX_FRAMES = 400  # frames kept per animation (the run is sampled evenly past this)
SECONDS = 60.0  # default time one preset may run (image models train for much longer)


def add_parser(sub: Any) -> None:
    s = sub.add_parser("slides", help="render every preset of some labs, with an index")
    s.add_argument("--labs", default=None, help="comma-separated lab names (default: all)")
    s.add_argument("--format", default="gif", choices=FORMATS)
    s.add_argument("--size", default="960x640", help="WxH in pixels")
    s.add_argument("--scale", type=float, default=None,
                   help="fonts and lines times S (default: height / 1080, at least 1)")
    s.add_argument("--theme", default="light", choices=("light", "dark", "projector"))
    s.add_argument("--out", default="slides", help="the folder to write into")
    s.add_argument("--seconds", type=float, default=SECONDS,
                   help="the longest one preset may run; a longer run is shown as far as it "
                        f"got, and the index says so (default {SECONDS:g})")


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s or "preset"


def _frames(lab: Any, params: Any, seconds: float = SECONDS) -> tuple[list, bool]:
    """The run's frames, sampled evenly to at most MAX_FRAMES, its last frame always in; and
    whether the run was cut at ``seconds`` (a run that goes on for ever is cut too)."""
    import time

    import numpy as np

    from genlab.labs import RunContext
    from genlab.ui.worker import limit_torch_threads

    kept: list = []
    cut = False
    deadline = time.monotonic() + seconds
    gen = lab.run(params, RunContext())
    try:
        for frame in gen:
            limit_torch_threads()
            if frame.first_nonfinite() is not None:
                break
            kept.append(frame)
            if len(kept) > 4 * MAX_FRAMES:  # long runs: thin as they go
                kept = kept[::2]
            if time.monotonic() > deadline:
                cut = True
                break
    finally:
        gen.close()
    if len(kept) > MAX_FRAMES:
        idx = np.unique(np.round(np.linspace(0, len(kept) - 1, MAX_FRAMES)).astype(int))
        kept = [kept[i] for i in idx]
    return kept, cut


def run(args: Any) -> int:
    from genlab.cli import _parse_size
    from genlab.labs import LABS
    from genlab.labs.presets import presets_for

    names = list(LABS) if args.labs is None else [n.strip() for n in args.labs.split(",")
                                                  if n.strip()]
    bad = [n for n in names if n not in LABS]
    if bad or not names:
        raise ParamError(f"--labs: unknown lab {', '.join(map(repr, bad)) or '(none)'}: valid "
                         f"labs are {', '.join(LABS)}")
    size = _parse_size(args.size)
    seconds = getattr(args, "seconds", SECONDS)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ParamError(f"--seconds {seconds!r}: use a positive number of seconds")
    scale = max(1.0, size[1] / 1080) if args.scale is None else args.scale
    if not (math.isfinite(scale) and 0.25 <= scale <= 8):
        raise ParamError(f"--scale {args.scale!r}: use a factor from 0.25 to 8")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        from genlab.ui.export import check_writable

        check_writable(out / "index.html")
    except OSError as e:
        raise ParamError(f"--out {out}: {e.strerror or e}") from None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tqdm import tqdm

    from genlab.ui.export import ExportOptions, export_animation, save_image
    from genlab.ui.theme import get_theme

    theme = get_theme(args.theme)
    options = ExportOptions(scale=scale)
    jobs = [(lab, p) for lab in names for p in presets_for(lab)]
    rows: list[tuple[str, str, str, str]] = []
    with tqdm(total=len(jobs), desc="slides", unit="preset", file=sys.stderr,
              dynamic_ncols=True) as bar:
        for name, preset in jobs:
            lab = LABS[name]
            bar.set_postfix_str(f"{name}: {preset.name}"[:40], refresh=True)
            frames, cut = _frames(lab, preset.params(lab.params), seconds)
            file = out / f"{name}-{slug(preset.name)}.{args.format}"
            if frames:
                if args.format == "png":
                    save_image(frames[-1], file, size, theme, options, history=frames)
                else:
                    export_animation(frames, file, lab.fps, size, theme, options=options)
                note = (f" (Stopped after {seconds:g} s, at frame {frames[-1].step}: the run "
                        "goes on in the window.)" if cut else "")
                rows.append((lab.title, preset.name, preset.description + note, file.name))
            bar.update(1)
    _write_index(out, rows, args.format)
    print(f"wrote {len(rows)} {args.format.upper()} files and index.html, index.md to {out}",
          file=sys.stderr)
    return 0


def _write_index(out: Path, rows: list[tuple[str, str, str, str]], fmt: str) -> None:
    md = ["# genlab slides", ""]
    items = []
    last = None
    for lab, preset, desc, file in rows:
        if lab != last:
            md += [f"## {lab}", ""]
            items.append(f"<h2>{html.escape(lab)}</h2>")
            last = lab
        md += [f"### {preset}", "", desc, "", f"![{preset}]({file})", ""]
        media = (f'<video src="{html.escape(file)}" controls loop muted></video>' if fmt == "mp4"
                 else f'<img src="{html.escape(file)}" alt="{html.escape(preset)}">')
        items.append(f"<figure>{media}<figcaption><b>{html.escape(preset)}</b>: "
                     f"{html.escape(desc)}</figcaption></figure>")
    (out / "index.md").write_text("\n".join(md), encoding="utf-8")
    (out / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>genlab slides</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "img,video{max-width:100%}figure{margin:1.5em 0}</style></head><body>"
        "<h1>genlab slides</h1>" + "".join(items) + "</body></html>", encoding="utf-8")
