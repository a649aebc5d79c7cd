"""Toy 2D datasets, and reading/writing point sets as CSV or NPY.

Every set is returned centred near the origin and inside roughly [-4, 4]^2 (at the default
noise), as ``(x, labels)`` with ``x`` (n, 2) float64 and ``labels`` (n,) int64.  A set is a
clean structure plus isotropic Gaussian jitter (or, for scikit-learn's sets, scikit-learn's
own noise), and ``noise`` in [0, 1] scales that set's natural amount of it: 0 gives the exact
structure, 0.1-0.2 a pleasant default, 1 a blur.  Per set (``noise`` written s):

==============  ===========================================  ===============================
name            structure (noise 0)                          noise / labels
==============  ===========================================  ===============================
gaussian        N(0, I)                                      + N(0, s^2 I); labels 0
8gaussians      8 points on the circle of radius 2.5         std 2 s around each; component
moons           scikit-learn's two moons, scaled x2          std s; the moon (fair coin)
circles         circles of radius 3 and 1.5 (sklearn's       std 1.5 s; 0 outer, 1 inner
                factor 0.5)                                  (fair coin)
checkerboard    uniform on the 8 dark squares of a 4 x 4     std s; the square's index 0..7
                board of 1.5-wide cells on [-3, 3]^2
swissroll       scikit-learn's roll, (x, z) slice, / 3.5     sklearn noise 5 s (std ~1.4 s);
                                                             third of the roll 0, 1, 2
pinwheel        5 arms, radial spread 0.3, bent by           tangential std 0.5 s; the arm
                exp(radius), scaled x1.8
2spirals        two interleaved spirals of 1.5 turns         std s; the spiral 0 or 1
line            uniform on the segment (-3, -1.5)-(3, 1.5)   std s; labels 0
==============  ===========================================  ===============================

The result is a deterministic function of ``(name, n, noise, seed)``
(``np.random.default_rng(seed)``; scikit-learn's swiss roll gets a seed drawn from it).
Every set's points are independent draws of its law (moons and circles follow scikit-learn's
shapes but not its evenly spaced draws), so the distance between two draws is the distance
between two samples, the floor a perfect sampler sits on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

DATASETS: tuple[str, ...] = ("gaussian", "8gaussians", "moons", "circles", "checkerboard",
                             "swissroll", "pinwheel", "2spirals", "line")

Maker = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _gaussian(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, 2))
    x = x + s * rng.standard_normal((n, 2))
    return x, np.zeros(n, dtype=np.int64)


def _8gaussians(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    k = rng.integers(0, 8, size=n)
    ang = 2.0 * np.pi * k / 8.0
    centres = 2.5 * np.column_stack([np.cos(ang), np.sin(ang)])
    x = centres + 2.0 * s * rng.standard_normal((n, 2))
    return x, k.astype(np.int64)


def _moons(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn's two moons as a law, drawn i.i.d.: its make_moons spaces the angles evenly
    # and splits n exactly in half, so two of its draws sit closer to each other than two
    # samples of the law do, and a "floor" measured between them is too low.
    k = rng.integers(0, 2, size=n)
    ang = np.pi * rng.random(n)
    upper = np.column_stack([np.cos(ang), np.sin(ang)])
    lower = np.column_stack([1.0 - np.cos(ang), 0.5 - np.sin(ang)])
    x = np.where(k[:, None] == 0, upper, lower) + 0.5 * s * rng.standard_normal((n, 2))
    # the moons span x in [-1, 2], y in [-0.5, 1]: centre on (0.5, 0.25) and double.
    return 2.0 * (x - np.array([0.5, 0.25])), k.astype(np.int64)


def _circles(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn's circles (factor 0.5) as a law, drawn i.i.d. (see _moons)
    k = rng.integers(0, 2, size=n)
    ang = 2.0 * np.pi * rng.random(n)
    radius = np.where(k == 0, 1.0, 0.5)[:, None]
    x = radius * np.column_stack([np.cos(ang), np.sin(ang)])
    x = x + 0.5 * s * rng.standard_normal((n, 2))
    return 3.0 * x, k.astype(np.int64)


def _checkerboard(n: int, s: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # The dark squares of a 4 x 4 board: cells (i, j) with i + j even, numbered 0..7.
    cells = np.array([(i, j) for j in range(4) for i in range(4) if (i + j) % 2 == 0])
    k = rng.integers(0, len(cells), size=n)
    width = 1.5
    corner = -3.0 + width * cells[k]
    x = corner + width * rng.random((n, 2))
    x = x + s * rng.standard_normal((n, 2))
    return x, k.astype(np.int64)


def _swissroll(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_swiss_roll

    x3, t = make_swiss_roll(n_samples=n, noise=5.0 * s, random_state=_sk_seed(rng))
    # t is uniform in [1.5 pi, 4.5 pi]; x = t cos t in ~[-9.5, 12.6], z = t sin t in ~[-11, 14.1].
    x = (x3[:, [0, 2]] - np.array([1.5, 1.5])) / 3.5
    third = np.clip(((t - 1.5 * np.pi) / np.pi).astype(np.int64), 0, 2)
    return x, third


def _pinwheel(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    arms, radial_std, rate = 5, 0.3, 0.25
    k = rng.integers(0, arms, size=n)
    r = 1.0 + radial_std * rng.standard_normal(n)
    tang = 0.5 * s * rng.standard_normal(n)
    ang = 2.0 * np.pi * k / arms + rate * np.exp(r)
    c, si = np.cos(ang), np.sin(ang)
    x = np.column_stack([c * r - si * tang, si * r + c * tang])
    return 1.8 * x, k.astype(np.int64)


def _2spirals(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    k = rng.integers(0, 2, size=n)
    t = np.sqrt(rng.random(n)) * 3.0 * np.pi  # sqrt: density even along the arm length
    sign = np.where(k == 0, 1.0, -1.0)[:, None]
    x = sign * np.column_stack([-t * np.cos(t), t * np.sin(t)]) * (3.8 / (3.0 * np.pi))
    x = x + s * rng.standard_normal((n, 2))
    return x, k.astype(np.int64)


def _line(n: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = rng.uniform(-1.0, 1.0, size=n)
    x = t[:, None] * np.array([3.0, 1.5]) + s * rng.standard_normal((n, 2))
    return x, np.zeros(n, dtype=np.int64)


_MAKERS: dict[str, Maker] = {
    "gaussian": _gaussian, "8gaussians": _8gaussians, "moons": _moons, "circles": _circles,
    "checkerboard": _checkerboard, "swissroll": _swissroll, "pinwheel": _pinwheel,
    "2spirals": _2spirals, "line": _line,
}


def make_dataset(name: str, n: int, noise: float = 0.1,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A toy set: ``(x (n, 2) float64, labels (n,) int64)``, deterministic for ``seed``.

    ``name`` is one of ``DATASETS``; ``noise`` (intended range [0, 1]) scales the set's
    natural noise (see the module docstring for what it means per set and what the labels
    are).  ValueError for an unknown name, a negative ``n`` or a negative/non-finite noise.
    """
    if name not in _MAKERS:
        raise ValueError(f"unknown dataset '{name}': valid datasets are {', '.join(DATASETS)}")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    noise = float(noise)
    if not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    x, labels = _MAKERS[name](n, noise, rng)
    return np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(labels, np.int64)


# ---------------------------------------------------------------------------- point files

_EXTS = (".csv", ".npy")


def _suffix(path: str | Path) -> str:
    suf = Path(path).suffix.lower()
    if suf not in _EXTS:
        raise ValueError(f"unknown file type '{suf or '(none)'}' for {Path(path).name}: "
                         f"use .csv or .npy")
    return suf


MAX_COORD = 1e6  # beyond this, squared distances and densities overflow or lose all digits
MAX_LABEL = 19  # labels index the palette (20 colours) and the classes a lab can show


def _check_points(x: np.ndarray, what: str) -> np.ndarray:
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{what} must hold an (n, 2) array of points, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds a NaN or an infinity")
    if x.size and float(np.abs(x).max()) > MAX_COORD:
        i = int(np.abs(x).max(axis=1).argmax())
        raise ValueError(f"{what}: point {i + 1} ({x[i, 0]:.3g}, {x[i, 1]:.3g}) is beyond "
                         f"±{MAX_COORD:.0e}; rescale the data")
    return x


def save_points(path: str | Path, x: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Write points (n, 2) to ``path``: .csv with a header ``x,y``, or .npy (no pickle).

    With ``labels`` (n,) non-negative ints (the colour each point was painted in) the CSV
    gets a third column ``label`` and the .npy array is (n, 3).
    """
    suf = _suffix(path)
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("points must be numbers") from None
    arr = _check_points(arr, "points")
    lab = None if labels is None else _check_labels(np.asarray(labels), len(arr), "labels")
    if suf == ".npy":
        out = arr if lab is None else np.column_stack([arr, lab])
        with open(path, "wb") as f:
            np.save(f, out, allow_pickle=False)
    else:
        # repr() is the shortest text that reads back to the same float: exact and legible.
        if lab is None:
            header, lines = "x,y", [f"{a!r},{b!r}" for a, b in arr.tolist()]
        else:
            header = "x,y,label"
            lines = [f"{a!r},{b!r},{c}" for (a, b), c in zip(arr.tolist(), lab.tolist(),
                                                             strict=True)]
        Path(path).write_text(header + "\n" + "".join(line + "\n" for line in lines),
                              encoding="utf-8")


def _check_labels(lab: np.ndarray, n: int, what: str) -> np.ndarray:
    if lab.shape != (n,):
        raise ValueError(f"{what} must hold one label per point ({n}), got shape {lab.shape}")
    if lab.size and (not np.isfinite(lab).all() or (lab != np.round(lab)).any()
                     or lab.min() < 0 or lab.max() > MAX_LABEL):
        raise ValueError(f"{what}: labels must be whole numbers from 0 to {MAX_LABEL}")
    return lab.astype(np.int64)


def _load_csv(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not a text CSV file") from None
    fast = _parse_csv_fast(text)
    if fast is not None:
        return fast
    # the line-by-line reading below is slow (a 200k-point file took a second) but names
    # the line that is wrong
    rows: list[list[float]] = []
    width = 0
    seen_line = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first, seen_line = not seen_line, True
        cells = [c.strip() for c in line.split(",")]
        try:
            vals = [float(c) for c in cells]
        except ValueError:
            if first:  # a header line such as "x,y"
                continue
            raise ValueError(f"{path.name}, line {lineno}: not two numbers: '{line}'") from None
        if len(vals) not in (2, 3) or (width and len(vals) != width):
            want = f"{width}" if width else "2 (x,y) or 3 (x,y,label)"
            raise ValueError(f"{path.name}, line {lineno}: expected {want} columns, "
                             f"got {len(vals)}")
        width = len(vals)
        rows.append(vals)
    if not seen_line:
        raise ValueError(f"{path.name} is empty")
    return np.array(rows, dtype=np.float64).reshape(-1, width or 2)


def _parse_csv_fast(text: str) -> np.ndarray | None:
    """A well-formed CSV (an optional header line, then 2 or 3 numeric columns) parsed by
    numpy; None when anything is unusual, for the careful reader to explain."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return None
    try:
        [float(c) for c in lines[0].split(",")]
    except ValueError:
        lines = lines[1:]  # a header such as "x,y"
    if not lines:
        return None
    try:
        arr = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    return arr if arr.shape[1] in (2, 3) else None


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():  # numpy's advice here would be to load it unsafely
            raise ValueError(f"{path.name} holds Python objects, not numbers; genlab reads "
                             "only plain numeric arrays (it never unpickles a file)") from None
        raise ValueError(f"{path.name} is not a plain numeric .npy array ({e})") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"{path.name} is not a readable .npy file ({e})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        raise ValueError(f"{path.name} does not hold numbers (dtype "
                         f"{getattr(arr, 'dtype', type(arr))})")
    return arr.astype(np.float64)


def load_labelled_points(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read points (n, 2) float64 and their labels (n,) int64, or None when the file has none.

    A .csv has two columns (x,y) or three (x,y,label), a header line optional; a .npy holds
    an (n, 2) or (n, 3) array.  ValueError with a clear message for an unknown extension,
    non-numeric content, a wrong shape, a NaN/infinity or a label that is not a whole number
    >= 0; FileNotFoundError if there is no such file.
    """
    p = Path(path)
    suf = _suffix(p)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    arr = _load_npy(p) if suf == ".npy" else _load_csv(p)
    labels = None
    if arr.ndim == 2 and arr.shape[1] == 3:
        arr, labels = arr[:, :2], _check_labels(arr[:, 2], len(arr), p.name)
    return _check_points(np.ascontiguousarray(arr), p.name), labels


def load_points(path: str | Path) -> np.ndarray:
    """Read points (n, 2) float64 from a .csv (header line optional) or .npy file.

    Labels in a third column are read and dropped (``load_labelled_points`` keeps them).
    ValueError with a clear message for an unknown extension, non-numeric content, a wrong
    shape or a NaN/infinity; FileNotFoundError if there is no such file.
    """
    return load_labelled_points(path)[0]
