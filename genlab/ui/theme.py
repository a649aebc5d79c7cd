"""Colours, sizes and fonts: how layers look.  Labs never choose colours."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# Categorical colours readable on white and on near-black (Okabe–Ito first, then tab10-like).
_PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C564B",
    "#7F7F7F", "#BCBD22", "#17BECF", "#1F3A93", "#F0C808", "#6A3D9A", "#FF7F0E",
    "#2CA02C", "#E377C2", "#393B79", "#8C6D31", "#AD494A", "#3182BD",
)


def _rgb(hexcode: str) -> tuple[int, int, int]:
    h = hexcode.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


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

    @property
    def palette(self) -> tuple[str, ...]:
        return _PALETTE

    def palette_rgb(self, k: int) -> np.ndarray:
        """(k, 3) float RGB in [0, 1], cycling the palette."""
        rgb = np.array([_rgb(_PALETTE[i % len(_PALETTE)]) for i in range(max(k, 1))], float)
        return rgb / 255.0

    def color(self, i: int) -> str:
        return _PALETTE[i % len(_PALETTE)]

    @property
    def marker(self) -> float:
        return 6.0 * self.scale

    @property
    def line(self) -> float:
        return 1.6 * self.scale

    @property
    def font_pt(self) -> float:
        return 11.0 * self.scale

    def scaled(self, scale: float) -> Theme:
        return replace(self, scale=float(min(max(scale, 0.5), 3.0)))


LIGHT = Theme("light", background="#FFFFFF", foreground="#1A1A1A", muted="#8A8A8A",
              density_low="#FFFFFF", density_high="#3B4CC0", points="#1A1A1A")
DARK = Theme("dark", background="#15171C", foreground="#E8E8E8", muted="#8A8F98",
             density_low="#15171C", density_high="#F6C445", points="#E8E8E8")
THEMES = {"light": LIGHT, "dark": DARK}


def get_theme(name: str, scale: float = 1.0) -> Theme:
    return THEMES.get(name, LIGHT).scaled(scale)
