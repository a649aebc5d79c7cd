"""The divergence lab's pictures: the target and both fits, in 1D with the (μ, σ) plane over
a KL landscape, in 2D with a cut along the line through two modes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genlab.engine import divergences as dv
from genlab.labs.divergence.params import DIRECTIONS, FIT, OPTIMUM, Params
from genlab.labs.frame import (
    INK,
    MUTED,
    Curve,
    Ellipses,
    Handles,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
)

X_LIM = (-7.5, 7.5)  # 1D: both panels' μ axis
SIGMA_LIM = (0.0, 6.0)  # 1D: the plane's σ axis
LIM_2D = (-6.0, 6.0)
SLICE_LIM = (-8.0, 8.0)  # 2D: the slice panel's axis, along the line through modes 1 and 2
CURVE_POINTS = 600
PLANE_CELLS = (80, 50)  # (μ, σ) cells of the landscape heatmap
LANDSCAPE_NODES = 81  # ε nodes of the reverse-KL landscape (a picture, not a measurement)
DENSITY_CELLS_2D = 140
RUG = 120  # minibatch points shown per fit
# half-widths of an optimum's cross: about twice the end dot's radius on screen (the plane's σ
# axis has about 1.5 times the pixels per unit of its μ axis)
CROSS_1D = (0.32, 0.21)
CROSS_2D = 0.28


def gauss(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


class TargetView:
    """What depends on the target only (rebuilt when a mode moves): curves, heatmaps."""

    def __init__(self, target: dv.Mixture, landscape: str) -> None:
        self.target = target
        self.landscape_kind = ""
        if target.dim == 1:
            self.x = np.linspace(*X_LIM, CURVE_POINTS)
            self.p = np.exp(target.logpdf(self.x))
            # room for a reverse fit sitting on the narrowest mode alone (taller than p there)
            self.ytop = 1.12 / (float(target.stds.min()) * math.sqrt(2.0 * math.pi))
            self.entropy = dv.entropy(target)
            self.set_landscape(landscape)
        else:
            n = DENSITY_CELLS_2D
            g = LIM_2D[0] + (np.arange(n) + 0.5) * (LIM_2D[1] - LIM_2D[0]) / n
            xx, yy = np.meshgrid(g, g)
            pts = np.column_stack([xx.ravel(), yy.ravel()])
            self.density = np.exp(target.logpdf(pts)).reshape(n, n)
            # the slice panel: the line through modes 1 and 2 (along x if they coincide)
            m = target.means
            gap = m[1] - m[0]
            norm = float(np.linalg.norm(gap))
            self.direction = gap / norm if norm > 1e-9 else np.array([1.0, 0.0])
            self.centre = 0.5 * (m[0] + m[1])
            self.t = np.linspace(*SLICE_LIM, CURVE_POINTS)
            self.line = self.centre + self.t[:, None] * self.direction
            self.p = np.exp(target.logpdf(self.line))
            self.ytop = 1.12 / (2.0 * math.pi * float(target.stds.min()) ** 2)

    def set_landscape(self, kind: str) -> None:
        if kind == self.landscape_kind:
            return
        nm, ns = PLANE_CELLS
        mu = X_LIM[0] + (np.arange(nm) + 0.5) * (X_LIM[1] - X_LIM[0]) / nm
        lo = 0.05
        sigma = lo + (np.arange(ns) + 0.5) * (SIGMA_LIM[1] - lo) / ns
        if kind == "reverse KL":
            kl = dv.reverse_kl_landscape(self.target, mu, sigma, nodes=LANDSCAPE_NODES)
        else:
            kl = dv.forward_kl_landscape(self.target, mu, sigma, self.entropy)
        self.landscape = -np.log(np.maximum(kl, 0.0) + 1e-3)
        self.landscape_extent = (X_LIM[0], X_LIM[1], lo, SIGMA_LIM[1])
        self.landscape_kind = kind


def _optima(xy: np.ndarray, dx: float, dy: float) -> Segments:
    """The exact optima (k, 2) as thin crosses of half-widths dx, dy (data units), drawn last:
    a fit's end dot shows through the cross that sits on it (a filled × marker hid it)."""
    d1, d2 = np.array([dx, dy]), np.array([dx, -dy])
    starts = np.concatenate([xy - d1, xy - d2])
    ends = np.concatenate([xy + d1, xy + d2])
    return Segments(starts, ends, series=OPTIMUM.name)


def panels_1d(p: Params, view: TargetView, fits: dict[str, dv.GaussianFit],
              paths: dict[str, list[np.ndarray]], optima: dict[str, np.ndarray]
              ) -> tuple[Panel, ...]:
    t = view.target
    ytop = view.ytop
    dens: dict[str, Layer] = {"target p": Curve(view.x, view.p, series=INK, fill=True,
                                                width=1.5)}
    for d in DIRECTIONS:
        f = fits[d]
        dens[f"{d} fit"] = Curve(view.x, gauss(view.x, float(f.mean[0]), f.std),
                                 series=FIT[d].name, width=2.5)
    for i, d in enumerate(DIRECTIONS):
        f = fits[d]
        if len(f.samples):  # the minibatches as rugs below the axis
            xs = f.samples[:RUG, 0]
            dens[f"{d} minibatch"] = Points(
                np.column_stack([xs, np.full(len(xs), -(0.04 + 0.05 * i) * ytop)]),
                series=FIT[d].name, size=0.45, alpha=0.6)
    for d, side in (("forward", -1.0), ("reverse", 1.0)):
        f = fits[d]
        mean, std = float(f.mean[0]), f.std
        # the name's anchor on its curve, at least 1.2 either side of the mean, so the two
        # names stay apart when the fits coincide
        xl = float(np.clip(mean + side * max(std, 1.2), X_LIM[0] + 1.0, X_LIM[1] - 1.0))
        yl = float(min(gauss(np.array([xl]), mean, std)[0], 0.9 * ytop))
        dens[f"{d} name"] = Labels(np.array([[xl, yl]]), (FIT[d].name,), series=FIT[d].name)
    k = len(t.weights)
    dens["modes"] = Handles(np.column_stack([t.means[:, 0], np.zeros(k)]),
                            tuple(f"mu{i + 1}" for i in range(k)), (None,) * k,
                            texts=tuple(str(i + 1) for i in range(k)))

    plane: dict[str, Layer] = {"landscape": Heatmap(view.landscape, view.landscape_extent,
                                                    contours=10)}
    plane["start"] = Handles(np.array([[p.init_mean, p.init_std]]), ("init_mean",),
                             ("init_std",), texts=("start",))
    for d in DIRECTIONS:
        plane[f"{d} path"] = Paths(np.array(paths[d])[:, None, :], series=FIT[d].name,
                                   alpha=0.9)
    for d in DIRECTIONS:
        f = fits[d]
        plane[f"{d} fit"] = Points(np.array([[f.mean[0], f.std]]), series=FIT[d].name,
                                   highlight=True)
    plane["optima"] = _optima(np.array([optima[d] for d in DIRECTIONS]), *CROSS_1D)
    which = "KL(q‖p)" if view.landscape_kind == "reverse KL" else "KL(p‖q)"
    return (
        Panel(dens, title="target p (filled) and the two fits", xlim=X_LIM,
              ylim=(-0.14 * ytop, ytop), equal_aspect=False, xlabel="x", ylabel="density"),
        Panel(plane, title=f"paths in (μ, σ) over −log {which}", xlim=X_LIM, ylim=SIGMA_LIM,
              equal_aspect=False, xlabel="μ", ylabel="σ"),
    )


def panels_2d(p: Params, view: TargetView, fits: dict[str, dv.GaussianFit],
              paths: dict[str, list[np.ndarray]], optima: dict[str, np.ndarray]
              ) -> tuple[Panel, ...]:
    t = view.target
    ends = view.centre + np.array(SLICE_LIM)[:, None] * view.direction
    layers: dict[str, Layer] = {
        "slice line": Segments(ends[:1], ends[1:], series=MUTED),
        "target p": Heatmap(view.density, (*LIM_2D, *LIM_2D), contours=6)}
    for d in DIRECTIONS:
        f = fits[d]
        if len(f.samples):
            layers[f"{d} minibatch"] = Points(f.samples[:RUG], series=FIT[d].name, size=0.45,
                                              alpha=0.5)
    for d in DIRECTIONS:
        layers[f"{d} path"] = Paths(np.array(paths[d])[:, None, :], series=FIT[d].name,
                                    alpha=0.9)
    for d in DIRECTIONS:
        f = fits[d]
        colour: Any = FIT[d].colour  # an ellipse takes a palette index: its series' colour
        layers[f"{d} fit"] = Ellipses(f.mean[None], f.cov[None], labels=np.array([colour]),
                                      n_std=(1.0, 2.0))
        ell_top = f.mean + np.array([0.0, 2.0 * math.sqrt(f.cov[1, 1])])
        pos = np.clip(ell_top, LIM_2D[0] + 0.8, LIM_2D[1] - 0.4)
        layers[f"{d} name"] = Labels(pos[None], (FIT[d].name,), series=FIT[d].name)
    layers["optima"] = _optima(np.array([optima[d] for d in DIRECTIONS]), CROSS_2D, CROSS_2D)
    k = len(t.weights)
    layers["start"] = Handles(np.array([[p.init_x, p.init_y]]), ("init_x",), ("init_y",),
                              texts=("start",))
    layers["modes"] = Handles(t.means, tuple(f"mu{i + 1}x" for i in range(k)),
                              tuple(f"mu{i + 1}y" for i in range(k)),
                              texts=tuple(str(i + 1) for i in range(k)))
    cut: dict[str, Layer] = {"target p": Curve(view.t, view.p, series=INK, fill=True,
                                               width=1.5)}
    for d in DIRECTIONS:
        f = fits[d]
        q = np.exp(dv._gaussian_logpdf(view.line, f.mean, f.cov))
        cut[f"{d} fit"] = Curve(view.t, q, series=FIT[d].name, width=2.5)
    proj = (t.means[:2] - view.centre) @ view.direction  # modes 1 and 2 lie on the line
    cut["modes"] = Labels(np.column_stack([proj, np.zeros(2)]), ("1", "2"))
    return (
        Panel(layers, title="target p with the fits' 1σ and 2σ ellipses", xlim=LIM_2D,
              ylim=LIM_2D, xlabel="x", ylabel="y"),
        Panel(cut, title="densities along the line through modes 1 and 2", xlim=SLICE_LIM,
              ylim=(0.0, view.ytop), equal_aspect=False, xlabel="position along the line",
              ylabel="density"),
    )
