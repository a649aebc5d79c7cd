"""The benchmark registry, table printing, the headline summary and ``main``."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

# name -> (module under benchmarks/, one-line description); run in this order by default.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "canvas": ("benchmarks.canvas", "canvas frame rate at 1280x800 (points + heatmap)"),
    "latency": ("benchmarks.latency", "GUI event-loop latency while torch trains in a RunThread"),
    "launch": ("benchmarks.launch", "launch to the first drawn frame (subprocess)"),
    "em": ("benchmarks.em", "EM time per iteration vs scikit-learn's GaussianMixture"),
    "ot": ("benchmarks.ot", "exact OT and Sinkhorn vs POT at n = m = 2000"),
    "flow": ("benchmarks.flow", "RealNVP / planar flow training steps per second"),
    "langevin": ("benchmarks.langevin", "Langevin chains and EBM training steps per second"),
    "diffusion": ("benchmarks.diffusion",
                  "denoiser training, 10k x 100-step samplers, time to a good DDPM fit"),
    "flow-matching": ("benchmarks.flow_matching",
                      "flow-matching training steps/s (independent, OT) and time to a fit"),
    "images": ("benchmarks.images",
               "image models: quality against time, throughput, GUI latency while training"),
    "close": ("benchmarks.close", "closing the window 0.5, 1.5 and 3 s into every lab"),
    "vae": ("benchmarks.vae", "VAE ELBO training steps/s vs a bare torch loop, lab frame time"),
    "gan": ("benchmarks.gan",
            "GAN iterations/s vs a plain torch loop; WGAN-GP preset time to 8 of 8 modes"),
}


@dataclass(frozen=True)
class Headline:
    bench: str
    what: str
    value: str
    goal: str
    met: bool | None = None  # None: the figure has no goal


HEADLINES: list[Headline] = []


def headline(bench: str, what: str, value: str, goal: str = "",
             met: bool | None = None) -> None:
    """Record one number for the closing summary."""
    HEADLINES.append(Headline(bench, what, value, goal, met))


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]],
          notes: Sequence[str] = (), left: int = 1) -> None:
    """Print an aligned table: the first ``left`` columns left-aligned, the others right."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        parts = [c.ljust(w) if i < left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "  " + "  ".join(parts).rstrip()

    if title:
        print(f"\n{title}")
    print(line(cells[0]))
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))
    for n in notes:
        print(f"  {n}")
    sys.stdout.flush()


def best_of(fn, repeats: int) -> tuple[float, object]:
    """(the shortest of ``repeats`` timed calls of fn, in seconds; the last call's result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def steps_per_second(step, chunk: int = 10, budget: float = 0.4, repeats: int = 3) -> float:
    """Steps per second of ``step`` (step(k) runs k steps): the best of ``repeats`` timings,
    each of chunks of ``chunk`` steps until ``budget`` seconds have passed, after a warm-up
    chunk."""
    step(chunk)
    best = 0.0
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            step(chunk)
            n += chunk
            elapsed = time.perf_counter() - t0
            if elapsed >= budget:
                break
        best = max(best, n / elapsed)
    return best


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _machine() -> str:
    import numpy as np

    cores = os.cpu_count()
    return (f"Python {platform.python_version()}, numpy {np.__version__}, {cores} cores, "
            f"{platform.system()} {platform.machine()}, "
            f"QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')}")


def summary() -> None:
    if not HEADLINES:
        return
    print("\n" + "=" * 78)
    print("summary (figures only: nothing here passes or fails)")
    rows = []
    for h in HEADLINES:
        verdict = "" if h.met is None else ("meets goal" if h.met else "misses goal")
        rows.append((h.bench, h.what, h.value, h.goal, verdict))
    table("", ("benchmark", "figure", "value", "goal", ""), rows, left=2)


def main(names: Sequence[str] = ()) -> int:
    """Run the named benchmarks (all when none); 2 for an unknown name, 1 if one crashed."""
    names = list(names)
    if any(n in ("-h", "--help", "help") for n in names):
        print("usage: python -m benchmarks [names...]   (or: genlab bench [names...])")
        for name, (_, desc) in BENCHMARKS.items():
            print(f"  {name:8s} {desc}")
        return 0
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"benchmarks: unknown benchmark {', '.join(map(repr, unknown))}: valid names are "
              f"{', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    selected = [n for n in BENCHMARKS if n in names] if names else list(BENCHMARKS)
    print(f"genlab benchmarks: {', '.join(selected)}")
    print(_machine())
    HEADLINES.clear()
    failed = []
    t0 = time.perf_counter()
    for name in selected:
        module, desc = BENCHMARKS[name]
        print("\n" + "=" * 78)
        print(f"{name}: {desc}")
        sys.stdout.flush()
        t = time.perf_counter()
        try:
            importlib.import_module(module).run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            print(f"  {name} could not run: {type(exc).__name__}: {exc}")
            headline(name, "(could not run)", f"{type(exc).__name__}", "")
            failed.append(name)
        print(f"  ({name} took {time.perf_counter() - t:.1f} s)")
    summary()
    print(f"\ntotal {time.perf_counter() - t0:.1f} s"
          + (f"; could not run: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
