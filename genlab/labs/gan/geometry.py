"""The 2D GAN run's fixed geometry (limits, grids, the latent grid, fixed draws), the data's
law where it is known (the ring of 8 Gaussians, the Gaussian), and a kernel density estimate
of the generator's law on the heatmap grid.  numpy and scipy only: no torch here."""

from __future__ import annotations

import math

import numpy as np

from genlab.engine.datasets import DATASETS, make_dataset
from genlab.engine.gan import mixture_density
from genlab.labs.base import sub_seed
from genlab.labs.gan.params import Params
from genlab.labs.plane import cells, square_limits

GRID = 64  # heatmap cells per side
N_FAKES = 500  # fixed latent draws shown as G's samples
N_ARROWS = 60  # of them, with G's gradient drawn
N_EVAL = 2000  # samples the metrics are measured on (and as many data points)
N_KDE = 20_000  # samples of G for the density estimate behind D*
KDE_CELLS = 1.5  # the KDE's widest kernel, in heatmap cells
SHOW_REAL = 1000
LINES = 11  # the latent grid: lines per direction ...
LINE_POINTS = 48  # ... and points per line (a 1D latent: one line of CURVE_POINTS)
CURVE_POINTS = 240
Q_GAUSS = 0.01  # a Gaussian latent's grid spans its quantiles Q .. 1 − Q per axis
ARROW_SCALE = 1.0  # an arrow is this many data units per unit of −∂ℓ_G/∂x ...
ARROW_CAP = 0.8  # ... and at most this long


def ring_law(dataset: str, noise: float) -> tuple[np.ndarray, float] | None:
    """(means (k, 2), std) of the data's law when it is a mixture of isotropic Gaussians
    with equal weights (genlab.engine.datasets): the ring of 8 (centres on the circle of
    radius 2.5, std 2·noise) and the Gaussian (N(0, (1 + noise²) I)); None otherwise."""
    if dataset == "8gaussians" and noise > 0:
        ang = 2.0 * np.pi * np.arange(8) / 8.0
        return 2.5 * np.column_stack([np.cos(ang), np.sin(ang)]), 2.0 * noise
    if dataset == "gaussian":
        return np.zeros((1, 2)), math.sqrt(1.0 + noise * noise)
    return None


def latent_quantile(u: np.ndarray, latent: str) -> np.ndarray:
    """The latent value at per-axis quantile u in (0, 1): 2u − 1 (uniform) or Φ⁻¹(u)."""
    if latent == "uniform":
        return 2.0 * u - 1.0
    from scipy.special import ndtri

    return ndtri(u)


def latent_lines(latent: str, dim: int) -> np.ndarray:
    """The latent grid as points (T, n_lines, dim): for dim 2, LINES lines per direction at
    equal quantile steps (each cell holds the same latent mass), LINE_POINTS points each; for
    dim 1, one line of CURVE_POINTS points."""
    lo = 0.0 if latent == "uniform" else Q_GAUSS
    if dim == 1:
        u = np.linspace(lo, 1.0 - lo, CURVE_POINTS)
        return latent_quantile(u, latent)[:, None, None]
    s = latent_quantile(np.linspace(lo, 1.0 - lo, LINES), latent)
    t = latent_quantile(np.linspace(lo, 1.0 - lo, LINE_POINTS), latent)
    horiz = np.stack(np.broadcast_arrays(t[:, None], s[None, :]), axis=-1)  # (T, L, 2)
    vert = np.stack(np.broadcast_arrays(s[None, :], t[:, None]), axis=-1)
    return np.concatenate([horiz, vert], axis=1)


def kde_width(samples: np.ndarray, cell: float) -> float:
    """The KDE's kernel std: Scott's rule n^(−1/6)·σ (σ the samples' root mean variance),
    at most KDE_CELLS cells, so a narrow G (a collapsed blob) is not smeared wider than it
    is, while a spread one is smoothed over a cell or so."""
    sigma = float(np.sqrt(samples.var(axis=0).mean()))
    return min(KDE_CELLS * cell, len(samples) ** (-1.0 / 6.0) * sigma)


def kde_grid(samples: np.ndarray, xlim: tuple[float, float], ylim: tuple[float, float],
             h: float, n: int = GRID) -> np.ndarray:
    """A Gaussian kernel density estimate (n, n) of samples (m, 2) at the centres of the
    grid's cells (row i: y, column j: x, as a Heatmap), kernel std h: the samples'
    histogram smoothed by a Gaussian filter (samples outside the box are dropped; their mass
    is missing from the estimate)."""
    from scipy.ndimage import gaussian_filter

    hist, _, _ = np.histogram2d(samples[:, 1], samples[:, 0], bins=n, range=[ylim, xlim])
    dx, dy = (xlim[1] - xlim[0]) / n, (ylim[1] - ylim[0]) / n
    dens = gaussian_filter(hist, sigma=h / dx, mode="constant") if h > 0 else hist
    return dens / (len(samples) * dx * dy)


class Plane:
    """What a 2D run draws on and measures against: limits, heatmap cells, the data shown,
    the data's law (when known) on the cells, independent data draws for the sliced W₂ and
    its floor, and the latent grid."""

    def __init__(self, p: Params, x: np.ndarray) -> None:
        self.x = x
        self.xlim, self.ylim = square_limits(x, 0.65)
        self.extent = (*self.xlim, *self.ylim)
        self.cells = cells(self.xlim, self.ylim, GRID)
        self.cell = (self.xlim[1] - self.xlim[0]) / GRID
        self.show_real = x[:SHOW_REAL]
        self.law = ring_law(p.dataset, p.noise) if p.dataset in DATASETS else None
        self.p_data = (mixture_density(self.cells, *self.law).reshape(GRID, GRID)
                       if self.law is not None else None)
        self.modes = self.law if (self.law is not None and len(self.law[0]) > 1) else None
        if p.dataset in DATASETS:  # two fresh draws of the data's law: the reference and
            # the floor (what a perfect generator reaches with as many samples)
            self.ref = make_dataset(p.dataset, N_EVAL, p.noise, sub_seed(p.seed, 1))[0]
            self.other = make_dataset(p.dataset, N_EVAL, p.noise, sub_seed(p.seed, 2))[0]
        else:  # drawn points: no law to draw from again, so the points themselves
            self.ref, self.other = x, None
        self.lines = latent_lines(p.latent, p.latent_dim)
        self.latent_dim = p.latent_dim

    def arrow_ends(self, x: np.ndarray, g: np.ndarray, zoom: float = 1.0) -> np.ndarray:
        """Arrow tips for gradients g at points x: zoom · ARROW_SCALE · g, at most ARROW_CAP
        long."""
        v = zoom * ARROW_SCALE * g
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return x + v * np.minimum(1.0, ARROW_CAP / np.maximum(n, 1e-12))
