"""The interpolation lab's pictures: the paths in the plane of the two latents over the
annulus, their norms and log-densities against t, the decoded rows and the subspace grid;
and the numbers its captions and bars quote."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from genlab.engine import latent
from genlab.engine.images.grid import to_unit
from genlab.labs.frame import MUTED, Curve, Heatmap, ImageGrid, Labels, Panel, Points, Segments
from genlab.labs.interpolation.settings import PATHS, Prior

NAME_ROOM = 2.2  # tiles of room left of the decoded rows for their names
GRID_ROOM = 0.5  # the subspace grid's free width on either side, as a share of its own


def plane_panel(prior: Prior, X: np.ndarray, curves: dict[str, np.ndarray], at: int) -> Panel:
    """The paths in whitened coordinates, projected on the plane of u₀ = Σ^(-1/2)(x₀ − μ) and
    u₁ (lerp, combine and the slide's path lie in it; slerp about the origin leaves it when
    μ ≠ 0), over the χ_d density of the radius: the annulus, a ring of radius √d."""
    d = prior.d
    u = prior.whiten(X[:2])
    e1 = u[0] / np.linalg.norm(u[0])
    v = u[1] - (u[1] @ e1) * e1
    e2 = v / np.linalg.norm(v)
    basis = np.stack([e1, e2], 1)
    coords = {name: prior.whiten(curves[name]) @ basis for name in PATHS}
    reach = max(1.6 * math.sqrt(d), 1.08 * max(float(np.abs(c).max()) for c in coords.values()))
    g = np.linspace(-reach, reach, 161)
    gx, gy = np.meshgrid(g, g)
    ring = latent.chi_pdf(np.hypot(gx, gy), d)
    layers: dict = {"annulus": Heatmap(ring, (-reach, reach, -reach, reach),
                                       levels=(0.0, float(ring.max())))}
    for name in PATHS:
        xy = coords[name]
        layers[name] = Curve(xy[:, 0], xy[:, 1], series=name)
        layers[name + " at t"] = Points(xy[at:at + 1], series=name, size=1.8)
    ends = u @ basis
    layers["ends"] = Points(np.vstack([ends, [[0.0, 0.0]]]), size=1.4)
    layers["names"] = Labels(np.vstack([ends, [[0.0, 0.0]]]), ("x₀", "x₁", "μ"))
    return Panel(layers, title="the plane of x₀ and x₁, over the annulus", xlim=(-reach, reach),
                 ylim=(-reach, reach), xlabel="e₁ (whitened)", ylabel="e₂ (whitened)")


def norms(prior: Prior, curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """‖Σ^(-1/2)(z − μ)‖ along each path (the plain ‖z‖ for the standard prior)."""
    return {k: np.linalg.norm(prior.whiten(v), axis=-1) for k, v in curves.items()}


def norm_panel(prior: Prior, t: np.ndarray, curves: dict[str, np.ndarray], at: int) -> Panel:
    d = prior.d
    lo = max(0.0, 0.55 * math.sqrt(d / 2) - 1.5)
    n = norms(prior, curves)
    top = max(float(v.max()) for v in n.values())
    hi = max(1.12 * math.sqrt(2 * d) + 1.5, 1.05 * top)
    r = np.linspace(lo, hi, 200)
    band = np.repeat(latent.chi_pdf(r, d)[:, None], 2, axis=1)
    layers: dict = {"annulus": Heatmap(band, (0.0, 1.0, lo, hi),
                                       levels=(0.0, float(band.max())))}
    for name in PATHS:
        layers[name] = Curve(t, n[name], series=name)
        layers[name + " at t"] = Points([[t[at], n[name][at]]], series=name, size=1.8)
    marks = [("√(2d)", math.sqrt(2 * d)), ("√d", math.sqrt(d)), ("√(d/2)", math.sqrt(d / 2))]
    layers["levels"] = Segments([[0.0, y] for _, y in marks], [[1.0, y] for _, y in marks],
                                series=MUTED)
    layers["names"] = Labels([[1.0, y] for _, y in marks], tuple(s for s, _ in marks))
    ylabel = "‖z‖" if prior.standard else "‖Σ^(-1/2)(z − μ)‖"
    return Panel(layers, title="norm along the path, over the annulus", xlim=(0.0, 1.0),
                 ylim=(lo, hi), equal_aspect=False, xlabel="t", ylabel=ylabel)


def log_density_panel(prior: Prior, t: np.ndarray, curves: dict[str, np.ndarray],
                      at: int) -> Panel:
    """log p(z(t)) − log p(μ) against t, over the density of that quantity for samples of
    the prior (−χ²_d / 2): the typical band, far below the mode at 0."""
    d = prior.d
    lo = -1.15 * d - 4.0 * math.sqrt(d / 2) - 1.0
    hi = 0.08 * d + 1.0
    y = np.linspace(lo, 0.0, 240)[:-1]
    with np.errstate(divide="ignore"):
        dens = 2.0 * stats.chi2.pdf(-2.0 * y, d)
    band = np.repeat(np.minimum(dens, np.percentile(dens, 99.5))[:, None], 2, axis=1)
    layers: dict = {"typical": Heatmap(band, (0.0, 1.0, lo, 0.0),
                                       levels=(0.0, float(band.max())))}
    mode = prior.log_mode
    for name in PATHS:
        gap = prior.logpdf(curves[name]) - mode
        layers[name] = Curve(t, gap, series=name)
        layers[name + " at t"] = Points([[t[at], gap[at]]], series=name, size=1.8)
    layers["mode"] = Segments([[0.0, 0.0]], [[1.0, 0.0]], series=MUTED)
    layers["names"] = Labels([[0.5, 0.0]], ("mode",))
    return Panel(layers, title="log p(z) − log p(mode) along the path", xlim=(0.0, 1.0),
                 ylim=(lo, hi), equal_aspect=False, xlabel="t", ylabel="nats")


def rows_panel(images: np.ndarray, title: str) -> Panel:
    """images (len(PATHS), T, C, H, W) in [−1, 1]: one row per path, named at its left in
    the path's colour.  The view's limits are the mosaic's (the canvas tiles it with one
    image pixel per unit) plus room on the left for the names; fixed limits also give this
    wide panel a wide column."""
    n_rows, cols = images.shape[:2]
    h, w = images.shape[-2:]
    tiles = to_unit(images.reshape(-1, *images.shape[2:]))
    height = n_rows * (h + 1)
    layers: dict = {"images": ImageGrid(tiles, cols=cols)}
    for i, name in enumerate(PATHS):
        at = [[-0.45 * NAME_ROOM * (w + 1), height - (i + 0.5) * (h + 1)]]
        layers["name " + name] = Labels(at, (name,), series=name)
    return Panel(layers, title=title, axes=False, legend=False,
                 xlim=(-NAME_ROOM * (w + 1), cols * (w + 1)), ylim=(0.0, float(height)))


def grid_panel(images: np.ndarray, cols: int, title: str) -> Panel:
    """images (n, C, H, W) in [−1, 1] tiled in ``cols`` columns.  The view is the mosaic
    with half its width free on either side: the canvas shares the row's width by the
    panels' shapes, and a square view got a narrow column beside the wide rows."""
    h, w = images.shape[-2:]
    rows = -(-len(images) // cols)
    width = cols * (w + 1.0)
    return Panel({"images": ImageGrid(to_unit(images), cols=cols)}, title=title, axes=False,
                 xlim=(-GRID_ROOM * width, (1 + GRID_ROOM) * width),
                 ylim=(0.0, rows * (h + 1.0)))


def contrast(images: np.ndarray) -> np.ndarray:
    """Pixel standard deviation of each image (n, C, H, W): low for a washed-out image."""
    return images.reshape(len(images), -1).std(axis=1)


def midpoint_numbers(prior: Prior, X: np.ndarray, centroid: np.ndarray) -> dict[str, float]:
    """Norms (whitened) at t = ½ per path, the centroid's plain mean and its combine, and how
    many norm standard deviations lerp's midpoint lies inside the annulus."""
    from genlab.labs.interpolation.settings import paths

    d = prior.d
    mid = paths(X[0], X[1], np.array([0.5]), prior.mean)
    out = {name: float(np.linalg.norm(prior.whiten(v[0]))) for name, v in mid.items()}
    k = len(centroid)
    w = np.full(k, 1.0 / k)
    out["centroid plain"] = float(np.linalg.norm(prior.whiten(w @ centroid)))
    out["centroid combine"] = float(np.linalg.norm(prior.whiten(
        latent.combine(w, centroid, prior.mean))))
    out["inside sds"] = (latent.chi_mean(d) - math.sqrt(d / 2)) / latent.chi_std(d)
    lerp = mid["lerp"][0]
    out["lerp log-density gain"] = float(prior.logpdf(lerp) - prior.logpdf(X[0]))
    # P(log p(x) ≥ log p(lerp's midpoint)) for x from the prior: P(χ²_d ≤ ‖u‖²)
    out["lerp as probable"] = float(stats.chi2.cdf(out["lerp"] ** 2, d))
    return out
