"""The sequential colour map for values and densities, from the theme."""

from __future__ import annotations

from functools import cache

import numpy as np
import pyqtgraph as pg

from genlab.ui.theme import Theme

_luts: dict[tuple[str, str], np.ndarray] = {}


def lut(theme: Theme) -> np.ndarray:
    """(256, 4) uint8 lookup table from the theme's low to high density colour."""
    key = (theme.density_low, theme.density_high)
    if key not in _luts:
        lo, hi = pg.mkColor(theme.density_low), pg.mkColor(theme.density_high)
        # a bend at 0.4 so low densities (tails, far modes) still read against the background
        mid = pg.mkColor(*(int(0.4 * a + 0.6 * b) for a, b in zip(
            lo.getRgb()[:3], hi.getRgb()[:3], strict=True)))
        cmap = pg.ColorMap([0.0, 0.4, 1.0], [lo, mid, hi])
        _luts[key] = cmap.getLookupTable(0.0, 1.0, 256, alpha=True)
    return _luts[key]


def value_colors(values: np.ndarray, theme: Theme) -> np.ndarray:
    """(n, 3) RGB in [0, 1] for values mapped through a perceptual map (min..max)."""
    v = np.asarray(values, float)
    lo, hi = float(v.min()), float(v.max())
    t = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    return _cyclic().map(t, mode="float")[:, :3]


@cache
def _cyclic() -> pg.ColorMap:
    # A hue sweep reads well as an angle or a parameter on either theme.
    try:
        return pg.colormap.get("CET-C6")
    except Exception:  # pyqtgraph built without its colorcet tables
        return pg.colormap.get("viridis")
