"""The 2D GAN lab's pictures: the data plane (D's output or the critic's potential, the real
and fake samples, G's manifold and G's gradients), the optimal discriminator beside it (or the
generator's density where D* has no closed form), and the latent batch in slow motion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.engine.gan import PROBABILITY, optimal_discriminator
from genlab.labs.frame import MUTED, Arrows, Heatmap, Layer, Panel, Paths, Points
from genlab.labs.gan.geometry import (
    ARROW_CAP,
    GRID,
    KDE_CELLS,
    N_ARROWS,
    N_KDE,
    Plane,
    kde_grid,
    kde_width,
)
from genlab.labs.gan.params import DATA, GEN, GRAD, MANIFOLD
from genlab.labs.plane import signed

POTENTIAL_CONTOURS = 11
EMPTY = 1e-4  # D* is shown as ½ where both densities are below this share of their peak


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The model seen at one moment (numpy): D's output on the grid (GRID, GRID), G's fixed
    samples (m, 2), the warped latent grid (T, L, 2), arrows (starts, ends) and the mean
    length |−∂ℓ_G/∂x| of G's gradients on its samples."""

    heat: np.ndarray
    fakes: np.ndarray
    manifold: np.ndarray
    arrow_starts: np.ndarray
    arrow_ends: np.ndarray
    grad_norm: float
    ns_norm: float | None = None  # minimax: the non-saturating loss's on the same D


def snapshot(trainer: Any, g: Plane, z_show: np.ndarray) -> Snapshot:
    """D on the grid, G on the fixed draws and the latent grid, G's gradients on the first
    N_ARROWS fixed draws."""
    heat = trainer.discriminator(g.cells).reshape(GRID, GRID)
    fakes = trainer.generate(z_show)
    t, n_lines, k = g.lines.shape
    manifold = trainer.generate(g.lines.reshape(-1, k)).reshape(t, n_lines, 2)
    xs, grads = trainer.generator_gradient(z_show[:N_ARROWS])
    norm = float(np.linalg.norm(grads, axis=1).mean())
    ns = None
    if trainer.loss == "minimax":
        ns = float(np.linalg.norm(trainer.generator_gradient(z_show[:N_ARROWS],
                                                             "non-saturating")[1],
                                  axis=1).mean())
    return Snapshot(heat, fakes, manifold, xs, g.arrow_ends(xs, grads), norm, ns)


def d_title(loss: str) -> str:
    if loss in PROBABILITY:
        return "D(x) = P(real | x): data, G's samples, G's gradients"
    if loss == "least-squares":
        return "D(x), least squares (targets 1 real, 0 fake)"
    if loss == "wgan-gp":
        return "critic f(x) as a potential: G's samples climb it"
    return "hinge critic f(x): margins at ±1"


def d_heatmap(loss: str, heat: np.ndarray, g: Plane) -> Heatmap:
    """D's output: probabilities (and least squares' scores) on [0, 1] with the D = ½
    boundary; a critic on its own range with iso-lines (a potential)."""
    if loss in (*PROBABILITY, "least-squares"):
        return Heatmap(np.clip(heat, -0.5, 1.5), g.extent, contours=1, levels=(0.0, 1.0))
    contours = POTENTIAL_CONTOURS if loss == "wgan-gp" else 0
    return Heatmap(heat, g.extent, contours=contours)


def plane(layers: dict[str, Layer], title: str, g: Plane) -> Panel:
    return Panel(layers, title=title, xlim=g.xlim, ylim=g.ylim, xlabel="x₁", ylabel="x₂",
                 link="plane")


def manifold_layer(manifold: np.ndarray) -> Paths:
    return Paths(manifold, series=MANIFOLD, alpha=0.5)


def data_panel(loss: str, g: Plane, s: Snapshot) -> Panel:
    layers: dict[str, Layer] = {
        "D": d_heatmap(loss, s.heat, g),
        "manifold": manifold_layer(s.manifold),
        "real": Points(g.show_real, size=0.6, alpha=0.7, series=DATA),
        "fake": Points(s.fakes, size=0.6, alpha=0.85, series=GEN),
        "gradients": Arrows(s.arrow_starts, s.arrow_ends, series=GRAD, min_px=0.0),
    }
    return plane(layers, d_title(loss), g)


def density_panels(loss: str, g: Plane, trainer: Any, seed: int, fakes: np.ndarray
                   ) -> tuple[tuple[Panel, ...], str, np.ndarray, np.ndarray | None]:
    """G's density p_g (a KDE of N_KDE samples) and, where the data's density is known, the
    best discriminator for this G: D* = p/(p + p_g) (minimax, non-saturating, least squares;
    Goodfellow et al. 2014) or sign(p − p_g) (hinge); WGAN-GP's best critic has no closed
    form.  Returns the panels, the caption's sentence about them, p_g on the grid and D*
    (None where it is not drawn, or for the hinge)."""
    x = trainer.sample(N_KDE, seed=seed)
    h = kde_width(x, g.cell)
    p_g = kde_grid(x, g.xlim, g.ylim, h)
    real = Points(g.show_real, size=0.45, alpha=0.5, series=DATA)
    density = plane({"p_g": Heatmap(p_g, g.extent, levels=(0.0, float(p_g.max()) or 1.0)),
                     "real": real}, "G's density p_g (KDE)", g)
    alone = g.p_data is None and loss != "wgan-gp"  # no panel right of it
    text = (f" {'Right' if alone else 'Middle'}: G's density p_g, a kernel density estimate "
            f"from {N_KDE:,} samples (kernel std {h:.2g}: Scott's rule, at most "
            f"{KDE_CELLS:g} cells).")
    if g.p_data is None or loss == "wgan-gp":
        why = ("the best critic is an optimal-transport potential, with no closed form"
               if loss == "wgan-gp" else "the data's density is not known in closed form")
        return (density,), text + f" No optimal D is drawn: {why}.", p_g, None
    top = max(float(g.p_data.max()), float(p_g.max()))
    empty = (g.p_data < EMPTY * top) & (p_g < EMPTY * top)
    where = (f"where neither density reaches {EMPTY:g} of the peak (an optimal D may be "
             "anything there)")
    layers: dict[str, Layer] = {"real": real,
                                "fake": Points(fakes, size=0.45, alpha=0.6, series=GEN)}
    if loss == "hinge":
        field = Heatmap(np.where(empty, 0.0, np.sign(g.p_data - p_g)), g.extent,
                        levels=(-1.0, 1.0))
        return ((density, plane({"field": field, **layers},
                                "best hinge critic sign(p_data − p_g)", g)),
                text + f" Right: the best hinge critic for this G, +1 where the data's exact "
                       f"density exceeds p_g, −1 below, 0 {where}.", p_g, None)
    d_star = optimal_discriminator(g.p_data, p_g)
    field = Heatmap(np.where(empty, 0.5, d_star), g.extent, levels=(0.0, 1.0))
    return ((density, plane({"field": field, **layers},
                            "optimal D*(x) = p_data / (p_data + p_g)", g)),
            text + " Right: the best discriminator for this G (Goodfellow et al. 2014), from "
                   f"the data's exact mixture density and that p_g; ½ {where}.", p_g, d_star)


def latent_panel(z: np.ndarray, latent: str, highlight: bool) -> Panel:
    """The batch's latent draws: points in the plane (k = 2) or on a line (k = 1)."""
    zz = z if z.shape[1] == 2 else np.column_stack([z[:, 0], np.zeros(len(z))])
    lim = (-1.15, 1.15) if latent == "uniform" else (-3.2, 3.2)
    return Panel({"z": Points(zz, size=0.8, series=GEN, highlight=highlight)},
                 title=f"latent batch z ~ {'U[−1, 1]' if latent == 'uniform' else 'N(0, I)'}",
                 xlim=lim, ylim=lim, xlabel="z₁", ylabel="z₂" if z.shape[1] == 2 else "")


def batch_layers(real: np.ndarray, fake: np.ndarray) -> dict[str, Layer]:
    return {"real": Points(real, size=0.8, alpha=0.85, series=DATA),
            "fake": Points(fake, size=0.8, alpha=0.9, series=GEN)}


def moved(before: np.ndarray, after: np.ndarray) -> dict[str, Layer]:
    """G's update: where the batch's fakes were (grey) and where they are now."""
    return {"before": Points(before, size=0.6, alpha=0.5, series=MUTED),
            "moves": Arrows(before[:N_ARROWS], after[:N_ARROWS], series=MUTED, min_px=0.0),
            "fake": Points(after, size=0.8, alpha=0.9, series=GEN)}


def zoom_for(norm: float) -> float:
    """A round magnification (1, 2, 5, 10 or 20) that draws arrows of mean length ``norm``
    about 0.4 long (slow motion, where one iteration's small gradients must be seen)."""
    for z in (1.0, 2.0, 5.0, 10.0):
        if z * norm >= 0.25:
            return z
    return 20.0


def slope_panel(slope: np.ndarray, g: Plane) -> Panel:
    """The critic's slope |∇f| on the grid, 1 (the penalty's target) at mid-grey."""
    return plane({"slope": Heatmap(np.clip(slope, 0.0, 2.0), g.extent, contours=1,
                                   levels=(0.0, 2.0)),
                  "real": Points(g.show_real, size=0.45, alpha=0.5, series=DATA)},
                 "the critic's slope |∇f(x)|", g)


def grad_sentence(loss: str, norm: float, ns: float | None = None, zoom: float = 1.0) -> str:
    """What the arrows are, with their mean length (and, for the minimax loss, the
    non-saturating loss's mean length on the same D)."""
    what = {"minimax": "−∂/∂x log(1 − D(x)) (it vanishes where D(x) → 0: the minimax loss "
                       "saturates)",
            "non-saturating": "∂/∂x log D(x)",
            "least-squares": "−∂/∂x ½(f(x) − 1)²",
            "wgan-gp": "∇f(x), uphill on the critic",
            "hinge": "∇f(x), uphill on the critic"}[loss]
    scale = "to scale" if zoom == 1 else f"{zoom:g}× longer"
    other = ("" if ns is None else
             f"; the non-saturating loss on the same D would give {signed(ns, 3)}")
    return (f"Arrows on {N_ARROWS} of G's samples: the direction G's loss pushes each, "
            f"{what}; mean length {signed(norm, 3)}{other} (drawn {scale}, at most "
            f"{ARROW_CAP:g} long).")
