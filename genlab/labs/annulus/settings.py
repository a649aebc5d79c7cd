"""The annulus lab's parameters, named series, pacing, and the samples it grows.

``GrowingSample`` holds n points of N(0, I_d) and adds coordinates to the SAME points as d
grows (x in R^d is x in R^(d−1) with one more independent N(0, 1) coordinate), keeping only
running sums: squared norms, the inner products of pairs (2i, 2i+1), and the inner products
with two Gaussian directions g₁, g₂ that grow with them (a random 2D projection, made
orthonormal from their Gram matrix).  A sweep of d from 1 to 10⁴ thus draws n·10⁴ numbers in
all, in column blocks seeded by (seed, block), so the points at a given d are the same
whichever way d was reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from genlab.labs.frame import INK, MUTED, Series
from genlab.labs.params import Flag, Range

D_MAX = 10_000
BLOCK = 256  # coordinates drawn per random block
CUBE_MAX = 40  # uniform points in the cube are drawn for d up to this (beyond, none hit)

SAMPLES, EXACT, WITHIN, BALL, CUBE, MODE = ("samples", "exact", "within r", "unit ball",
                                            "cube [-1, 1]^d", "mode")
SERIES = (Series(SAMPLES, 0), Series(EXACT, INK, dashed=True), Series(WITHIN, 2),
          Series(BALL, 3), Series(CUBE, 4), Series(MODE, MUTED, dashed=True))

# Pacing at FPS: the sweep's small d in slow motion (each of d = 1..10 is a new picture),
# beats where a story turns, and a held end.
FPS = 10.0
SWEEP_FRAMES = 110
SLOW_UNTIL = 12  # d at or below this: pace SLOW
SLOW = 3.0
BEATS = {1: 2.0, 2: 1.5, 3: 1.0, 100: 1.0, 1000: 1.0}  # first d at or past the key: hold
HOLD_END = 2.5


@dataclass(frozen=True)
class Params:
    d: Annotated[int, Range(
        1, D_MAX, "the dimension d of x ~ N(0, I_d) (the sweep ends here)", log=True,
        label="dimension d")] = D_MAX
    sweep: Annotated[bool, Flag(
        "grow d from 1 to the slider's d, adding coordinates to the same points")] = True
    n: Annotated[int, Range(
        200, 4000, "number of samples (pairs of them give distances and angles)", step=100,
        label="samples")] = 2000
    radius: Annotated[float, Range(
        0.0, 2.0, "the radius r of the ball around the mode, as a multiple of the square "
        "root of d: the fraction of the mass inside it is shown", step=0.01, live=True,
        label="r / sqrt d")] = 0.95
    seed: Annotated[int, Range(0, 2**31 - 1, "random seed")] = 0


LIVE = ("radius",)


def sweep_dims(d_end: int, frames: int = SWEEP_FRAMES) -> np.ndarray:
    """The d of each sweep frame: every d up to 10, then geometric steps to d_end (unique,
    increasing, ending at d_end)."""
    geo = np.round(np.geomspace(1, max(d_end, 1), frames)).astype(int)
    small = np.arange(1, min(d_end, 10) + 1)
    return np.unique(np.concatenate([small, geo, [d_end]]))


class GrowingSample:
    """n points of N(0, I_d) and n uniform points of the cube [−1, 1]^d (d ≤ CUBE_MAX), by
    running sums, for d growing from 0.  Read the properties after ``grow(d)``."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.d = int(n) - int(n) % 2, int(seed), 0
        self.sq = np.zeros(self.n)  # ‖x_i‖²
        self.dot = np.zeros(self.n // 2)  # x_{2i} · x_{2i+1}
        self.proj = np.zeros((self.n, 2))  # x_i · g_j
        self.gram = np.zeros((2, 2))  # g_j · g_k
        self._cube = np.random.default_rng([self.seed, 1]).uniform(-1, 1, (self.n, CUBE_MAX))
        self._cached: tuple[int, np.ndarray] | None = None

    def _block(self, j: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != j:
            rng = np.random.default_rng([self.seed, 0, j])
            self._cached = (j, rng.standard_normal((self.n + 2, BLOCK), dtype=np.float32))
        return self._cached[1]

    def grow(self, d: int) -> None:
        """Add coordinates d_now + 1 .. d (no-op if d ≤ d_now: points never lose any)."""
        while self.d < d:
            j, lo = divmod(self.d, BLOCK)
            hi = min(BLOCK, lo + d - self.d)
            blk = self._block(j)[:, lo:hi]
            x, g = blk[:self.n], blk[self.n:]
            self.sq += np.einsum("ij,ij->i", x, x, dtype=np.float64)
            self.dot += np.einsum("ij,ij->i", x[0::2], x[1::2], dtype=np.float64)
            self.proj += (x @ g.T).astype(np.float64)
            self.gram += (g @ g.T).astype(np.float64)
            self.d += hi - lo

    @property
    def norms(self) -> np.ndarray:
        return np.sqrt(self.sq)

    @property
    def log_density_gap(self) -> np.ndarray:
        """log N(x; 0, I) − log N(0; 0, I) = −‖x‖²/2, per sample (nats)."""
        return -0.5 * self.sq

    @property
    def distances(self) -> np.ndarray:
        """‖x_{2i} − x_{2i+1}‖ per pair."""
        return np.sqrt(np.maximum(self.sq[0::2] + self.sq[1::2] - 2 * self.dot, 0.0))

    @property
    def angles(self) -> np.ndarray:
        """Angle between x_{2i} and x_{2i+1}, degrees."""
        cos = self.dot / np.sqrt(self.sq[0::2] * self.sq[1::2])
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    @property
    def projection(self) -> np.ndarray:
        """(n, 2): coordinates on the orthonormal basis e₁ = g₁/‖g₁‖, e₂ ∝ g₂ − (g₂·e₁)e₁
        (for d = 1 the space is a line: e₂ does not exist and the second coordinate is 0)."""
        g11, g12, g22 = self.gram[0, 0], self.gram[0, 1], self.gram[1, 1]
        p1 = self.proj[:, 0] / np.sqrt(g11)
        if self.d < 2:
            return np.stack([p1, np.zeros_like(p1)], 1)
        perp = np.sqrt(max(g22 - g12 * g12 / g11, 1e-300))
        p2 = (self.proj[:, 1] - g12 / g11 * self.proj[:, 0]) / perp
        return np.stack([p1, p2], 1)

    def cube_fraction(self) -> float | None:
        """The fraction of n uniform points of [−1, 1]^d inside the unit ball (d ≤ CUBE_MAX;
        None above)."""
        if self.d > CUBE_MAX:
            return None
        return float(np.mean((self._cube[:, :self.d] ** 2).sum(1) <= 1.0))
