"""Colours, sizes and fonts: how layers look.  Labs never choose colours."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from genlab.labs.frame import INK, MUTED, Series, SeriesRef

# Categorical colours readable on white and on near-black (Okabe–Ito first, then tab10-like).
_PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C564B",
    "#7F7F7F", "#BCBD22", "#17BECF", "#1F3A93", "#F0C808", "#6A3D9A", "#FF7F0E",
    "#2CA02C", "#E377C2", "#393B79", "#8C6D31", "#AD494A", "#3182BD",
)


def _rgb(hexcode: str) -> tuple[int, int, int]:
    h = hexcode.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def lab_distance(a: str, b: str) -> float:
    """CIE76 ΔE between two hex colours (CIELAB, D65): ~2 is just noticeable; two series
    of one screen should be ≥ 40 apart (the Okabe–Ito orange and vermillion are 33)."""
    return float(np.linalg.norm(_lab(a) - _lab(b)))


def _lab(hexcode: str) -> np.ndarray:
    c = np.array(_rgb(hexcode), float) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                  [0.0193, 0.1192, 0.9505]])
    xyz = m @ c / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@dataclass(frozen=True)
class Look:
    """How one series is drawn: its colour (hex), line style and point marker."""

    colour: str
    dashed: bool = False
    marker: str = "o"


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    foreground: str
    muted: str
    density_low: str  # colour of zero density in a heatmap
    density_high: str
    points: str  # an unlabelled cloud
    scale: float = 1.0  # projector zoom: fonts, markers and line widths
    weight: float = 1.0  # lines and markers heavier than the fonts' scale (washed-out screens)

    @property
    def palette(self) -> tuple[str, ...]:
        return _PALETTE

    def palette_rgb(self, k: int) -> np.ndarray:
        """(k, 3) float RGB in [0, 1], cycling the palette."""
        rgb = np.array([_rgb(_PALETTE[i % len(_PALETTE)]) for i in range(max(k, 1))], float)
        return rgb / 255.0

    def color(self, i: int) -> str:
        return _PALETTE[i % len(_PALETTE)]

    def colour_of(self, spec: int | str) -> str:
        """A Series colour spec (palette index, INK or MUTED) as a hex colour."""
        if isinstance(spec, str):
            return self.muted if spec == MUTED else self.foreground
        return self.foreground if spec < 0 else self.color(spec)

    def look(self, ref: SeriesRef, table: dict[str, Series] | None = None) -> Look:
        """The look of a layer's ``series``: a named Series of the frame (its colour, line
        style and marker), INK, MUTED, or a palette index."""
        if isinstance(ref, str) and ref not in (INK, MUTED):
            s = (table or {}).get(ref)
            if s is None:
                return Look(self.foreground)
            return Look(self.colour_of(s.colour), s.dashed, s.marker)
        return Look(self.colour_of(ref))

    def free_colours(self, used: Iterable[int | str]) -> list[int]:
        """Palette indices for unnamed series: none of ``used``, and none closer than 40 ΔE
        to a colour in ``used`` (a reader must not take them for a named series)."""
        taken = [self.colour_of(u) for u in used]
        return [i for i in range(len(_PALETTE))
                if all(lab_distance(_PALETTE[i], t) >= 40 for t in taken)] or [0]

    @property
    def marker(self) -> float:
        return 6.0 * self.scale * self.weight

    @property
    def line(self) -> float:
        return 1.6 * self.scale * self.weight

    @property
    def font_pt(self) -> float:
        return 11.0 * self.scale

    def scaled(self, scale: float) -> Theme:
        return replace(self, scale=float(min(max(scale, 0.5), 3.0)))


# Densities, energies and error maps are drawn in neutral slate greys: a heatmap is not a
# series, and a coloured ramp would share a hue with some series drawn over it (orange paths
# vanished into the dark theme's orange density).  The ramp stops at a mid tone so ink points
# and every palette colour stay readable on its peaks.
LIGHT = Theme("light", background="#FFFFFF", foreground="#1A1A1A", muted="#8A8A8A",
              density_low="#FFFFFF", density_high="#5A6B84", points="#1A1A1A")
DARK = Theme("dark", background="#15171C", foreground="#E8E8E8", muted="#8A8F98",
             density_low="#15171C", density_high="#8796AE", points="#E8E8E8")
# For washed-out projectors: pure black on white, a darker density ramp, heavier lines and
# markers.
PROJECTOR = Theme("projector", background="#FFFFFF", foreground="#000000", muted="#4D4D4D",
                  density_low="#FFFFFF", density_high="#34425A", points="#000000", weight=1.5)
THEMES = {"light": LIGHT, "dark": DARK, "projector": PROJECTOR}


def get_theme(name: str, scale: float = 1.0) -> Theme:
    return THEMES.get(name, LIGHT).scaled(scale)
