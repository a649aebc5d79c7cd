"""``genlab bench``: run the benchmarks of a source checkout (``benchmarks/`` beside the
package), printing their figures.  They are not installed with the package."""

from __future__ import annotations

import sys
from pathlib import Path

import genlab


def run_benchmarks(names: list[str]) -> int:
    """Run the named benchmarks (all when empty); the exit status of ``benchmarks.main``,
    or 1 when this genlab has no ``benchmarks/`` folder beside it (an installed wheel)."""
    root = Path(genlab.__file__).resolve().parents[1]
    if not (root / "benchmarks" / "__init__.py").is_file():
        print(f"genlab bench: no benchmarks/ folder in {root}: the benchmarks run from a source "
              "checkout of genlab (python -m benchmarks there)", file=sys.stderr)
        return 1
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks import main

    return main(list(names))
