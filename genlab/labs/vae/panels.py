"""The 2D VAE run's pictures: the data space, the samples, the latent space and the
rate–distortion plane (numpy only; the trainer's outputs come in as arrays)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genlab.labs.frame import (
    MUTED,
    Curve,
    Ellipses,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
)
from genlab.labs.plane import square_limits
from genlab.labs.vae.params import (
    AGGREGATE,
    DATA,
    DECODER,
    POSTERIOR,
    PRIOR,
    RD,
    RECON,
    SAMPLES,
)

N_MARKED = 5  # points whose posteriors q(z|x) are drawn
N_RECON = 150  # points joined to their reconstructions
N_SAMPLES = 1000  # fixed draws shown as samples
SHOW = 1500  # at most this many data points drawn
Z_CURVE = 3.0  # a 1D latent's curve f(z) spans z in [-3, 3] ...
Z_SHEET = 2.0  # ... a 2D latent's sheet [-2, 2]^2
SHEET_LINES = 9
LATENT_LIM = 3.6
CURVE_POINTS = 61
DENSITY_POINTS = 241  # z grid of the 1D latent's densities
CORE_K, CORE_SAMPLE = 10, 400  # marked points: the dense part, by the 10th neighbour
RD_SKIP = 3  # the rate-distortion view frames the path's last two thirds ...
RD_EASE = 0.15  # ... easing toward them by this fraction a frame


def farthest_points(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of k points of x (n, 2) spread over the data's dense part: among CORE_SAMPLE
    of the points, those whose distance to their CORE_K-th neighbour is at most the median;
    start nearest the mean, then each time the point farthest from those chosen.  (Over all
    points the farthest ones are the stray points of the noise.)"""
    k = min(k, len(x))
    among = np.unique(np.linspace(0, len(x) - 1, min(len(x), CORE_SAMPLE)).astype(int))
    sample = x[among]
    d2 = ((sample[:, None, :] - sample[None, :, :]) ** 2).sum(-1)
    j = min(CORE_K, len(sample) - 1)
    reach = np.partition(d2, j, axis=1)[:, j]
    core = among[reach <= np.median(reach)]
    if len(core) < k:
        core = np.arange(len(x))
    xc = x[core]
    chosen = [int(np.argmin(((xc - xc.mean(axis=0)) ** 2).sum(axis=1)))]
    d = ((xc - xc[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(k - 1):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, ((xc - xc[i]) ** 2).sum(axis=1))
    picked = core[np.array(chosen)]
    return np.concatenate([picked[1:], picked[:1]])  # the central one last: the least telling


@dataclass
class Geometry:
    """The run's fixed choices: limits, the points shown and the noise of every draw."""

    x: np.ndarray
    latent: int
    seed: int
    xlim: tuple[float, float] = (0.0, 1.0)
    ylim: tuple[float, float] = (0.0, 1.0)
    show: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    recon: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    marked: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    z: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))
    eps: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    agg_eps: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))
    rd_box: list[float] = field(default_factory=list)
    density_top: float = 0.6

    def __post_init__(self) -> None:
        n = len(self.x)
        rng = np.random.default_rng([self.seed, 23])
        self.xlim, self.ylim = square_limits(self.x, 0.7)
        self.show = np.sort(rng.permutation(n)[:SHOW])
        self.recon = np.sort(rng.permutation(n)[:N_RECON])
        self.marked = farthest_points(self.x, N_MARKED)
        self.z = rng.standard_normal((N_SAMPLES, self.latent))
        self.eps = rng.standard_normal((N_SAMPLES, 2))
        self.agg_eps = rng.standard_normal((len(self.show), self.latent))

    @property
    def z_grid(self) -> np.ndarray:
        """The latent points whose decoder means are drawn: (CURVE_POINTS, 1) on a line, or
        for a 2D latent the SHEET_LINES rows then SHEET_LINES columns of a grid,
        CURVE_POINTS points each: (2 · SHEET_LINES · CURVE_POINTS, 2)."""
        t = np.linspace(-Z_CURVE if self.latent == 1 else -Z_SHEET,
                        Z_CURVE if self.latent == 1 else Z_SHEET, CURVE_POINTS)
        if self.latent == 1:
            return t[:, None]
        s = np.linspace(-Z_SHEET, Z_SHEET, SHEET_LINES)
        rows = np.stack(np.broadcast_arrays(t[None, :], s[:, None]), axis=-1)
        cols = np.stack(np.broadcast_arrays(s[:, None], t[None, :]), axis=-1)
        return np.concatenate([rows, cols]).reshape(-1, 2)

    def rd_limits(self, pts: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
        """Limits for the (rate, distortion) points (n, 2) seen so far, the newest last: a box
        around the later part of the path (the first steps' huge distortion would squeeze
        the rest into a corner) that eases toward its target by RD_EASE a frame, so the
        view zooms in as training settles instead of jumping."""
        recent = pts[len(pts) // RD_SKIP:]
        lo, hi = recent.min(axis=0), recent.max(axis=0)
        pad = 0.12 * np.maximum(hi - lo, 0.5)
        target = np.array([min(lo[0] - pad[0], -0.1 * pad[0]), lo[1] - pad[1],
                           hi[0] + pad[0], hi[1] + pad[1]])
        box = target if not self.rd_box else \
            np.array(self.rd_box) + RD_EASE * (target - np.array(self.rd_box))
        self.rd_box = [float(v) for v in box]
        return (self.rd_box[0], self.rd_box[2]), (self.rd_box[1], self.rd_box[3])


def _z_text(v: float) -> str:
    return f"z = {v:g}".replace("-", "−")


def data_panel(g: Geometry, recon: np.ndarray, f_grid: np.ndarray | None) -> Panel:
    """Data, reconstructions f(μ(x)) joined to their points, the decoder's mean curve or
    sheet, and the marked points (numbered as their posteriors in the latent panel).
    ``f_grid`` None: the data and the marked points alone (before there is a model)."""
    layers: dict[str, Layer] = {"data": Points(g.x[g.show], size=0.6, alpha=0.5, series=DATA)}
    what = "curve" if g.latent == 1 else "sheet"
    if f_grid is None:
        pass
    elif g.latent == 1:
        layers["f(z)"] = Paths(f_grid[:, None, :], series=DECODER, alpha=1.0)
        at = np.array([0, 20, 30, 40, 60])  # z = -3, -1, 0, 1, 3 on the 61-point line
        zs = np.linspace(-Z_CURVE, Z_CURVE, CURVE_POINTS)[at]
        layers["z marks"] = Points(f_grid[at], size=1.1, series=DECODER)
        layers["z labels"] = Labels(f_grid[at], tuple(_z_text(v) for v in zs), series=DECODER)
    else:
        lines = f_grid.reshape(2 * SHEET_LINES, CURVE_POINTS, 2)
        layers["f(z)"] = Paths(np.transpose(lines, (1, 0, 2)), series=DECODER, alpha=0.8)
    if len(recon):
        layers["links"] = Segments(g.x[g.recon], recon, weights=np.full(len(g.recon), 0.45),
                                   series=RECON)
        layers["reconstructions"] = Points(recon, size=0.8, series=RECON)
    layers["marked"] = Points(g.x[g.marked], size=1.3, series=POSTERIOR, highlight=True)
    layers["marked labels"] = Labels(g.x[g.marked], tuple(str(i + 1) for i in
                                                          range(len(g.marked))),
                                     series=POSTERIOR)
    return Panel(layers, title=f"data x, reconstructions f(μ(x)) and the decoder's {what} f(z)",
                 xlim=g.xlim, ylim=g.ylim, xlabel="x₁", ylabel="x₂", legend=True)


def samples_panel(g: Geometry, samples: np.ndarray, s: float | None) -> Panel:
    """Samples x = f(z) + s·ε over the data (None: the data alone)."""
    layers: dict[str, Layer] = {"data": Points(g.x[g.show], size=0.6, alpha=0.35,
                                               series=DATA)}
    title = "samples x = f(z) + s·ε, z ~ N(0, I), ε ~ N(0, I)"
    if s is not None:
        layers["samples"] = Points(samples, size=0.7, series=SAMPLES)
        title = f"{len(samples)} samples x = f(z) + s·ε, z ~ N(0, I), s = {s:.3f}"
    return Panel(layers, title=title, xlim=g.xlim, ylim=g.ylim, xlabel="x₁", ylabel="x₂",
                 legend=True)


def _normal(z: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """(len(z),) mean over components of N(z; mu_i, var_i): mu, var (k,).  In float32, the
    sum over components a matrix product (a frame's budget is a few milliseconds)."""
    half_prec = (-0.5 / var).astype(np.float32)
    d = z.astype(np.float32)[:, None] - mu.astype(np.float32)[None, :]
    d *= d
    d *= half_prec[None, :]
    np.maximum(d, -60.0, out=d)  # no float32 underflow (its slow path) in exp: e^-60 ~ 0
    np.exp(d, out=d)
    coef = (1.0 / np.sqrt(2 * np.pi * var) / len(mu)).astype(np.float32)
    return (d @ coef).astype(np.float64)


def latent_panel(g: Geometry, mu: np.ndarray | None, logvar: np.ndarray | None) -> Panel:
    """The posteriors of the marked points, the aggregate posterior and the prior: ellipses
    and dots for a 2D latent, densities and ±2σ bars for a 1D one.  mu, logvar:
    (len(show) + N_MARKED, L), the encodings of the points shown then of the marked points
    (None: the prior alone)."""
    if mu is None or logvar is None:
        return _prior_panel(g)
    var = np.exp(logvar)
    k = len(g.marked)
    m_mu, m_var = mu[-k:], var[-k:]
    mu, var = mu[:-k], var[:-k]
    texts = tuple(str(i + 1) for i in range(len(m_mu)))
    if g.latent == 2:
        agg = mu + np.sqrt(var) * g.agg_eps
        covs = np.stack([np.diag(v) for v in m_var])
        lim = (-LATENT_LIM, LATENT_LIM)
        return Panel({
            "prior": Ellipses([[0.0, 0.0]], [np.eye(2)], labels=[7], series=PRIOR),
            "aggregate": Points(agg, size=0.5, alpha=0.6, series=AGGREGATE),
            "posteriors": Ellipses(m_mu, covs, labels=np.full(len(m_mu), 4),
                                   n_std=(1.0, 2.0), series=POSTERIOR),
            "labels": Labels(m_mu, texts, series=POSTERIOR),
        }, title="latent z: q(z|x) of the marked points, draws of q(z) = mean of q(z|x) "
                 "over the data", xlim=lim, ylim=lim,
            xlabel="z₁", ylabel="z₂", legend=True)
    zs = np.linspace(-LATENT_LIM - 0.4, LATENT_LIM + 0.4, DENSITY_POINTS)
    prior = np.exp(-0.5 * zs * zs) / np.sqrt(2 * np.pi)
    agg = _normal(zs, mu[:, 0], var[:, 0])
    g.density_top = max(g.density_top, 1.15 * float(agg.max()))
    top = g.density_top
    heights = top * (0.9 - 0.1 * np.arange(len(m_mu)))
    sd = np.sqrt(m_var[:, 0])
    return Panel({
        "prior": Curve(zs, prior, series=PRIOR),
        "aggregate": Curve(zs, agg, series=AGGREGATE, fill=True),
        "posteriors": Segments(np.c_[m_mu[:, 0] - 2 * sd, heights],
                               np.c_[m_mu[:, 0] + 2 * sd, heights], series=POSTERIOR),
        "means": Points(np.c_[m_mu[:, 0], heights], size=1.2, series=POSTERIOR),
        "labels": Labels(np.c_[m_mu[:, 0], heights], texts, series=POSTERIOR),
    }, title="latent z: q(z|x) of the marked points (mean ± 2σ), q(z) = mean of q(z|x) "
             "over the data", xlim=(zs[0], zs[-1]), ylim=(0.0, top),
        equal_aspect=False, xlabel="z", ylabel="density", legend=True)


def _prior_panel(g: Geometry) -> Panel:
    if g.latent == 2:
        lim = (-LATENT_LIM, LATENT_LIM)
        return Panel({"prior": Ellipses([[0.0, 0.0]], [np.eye(2)], labels=[7], series=PRIOR)},
                     title="latent z: the prior N(0, I)", xlim=lim, ylim=lim, xlabel="z₁",
                     ylabel="z₂", legend=True)
    zs = np.linspace(-LATENT_LIM - 0.4, LATENT_LIM + 0.4, DENSITY_POINTS)
    return Panel({"prior": Curve(zs, np.exp(-0.5 * zs * zs) / np.sqrt(2 * np.pi),
                                 series=PRIOR)},
                 title="latent z: the prior N(0, 1)", xlim=(zs[0], zs[-1]),
                 ylim=(0.0, g.density_top), equal_aspect=False, xlabel="z", ylabel="density",
                 legend=True)


def rd_panel(g: Geometry, path: np.ndarray, beta: float, stages: list[tuple[float, float,
                                                                          float]]) -> Panel:
    """The (rate R, distortion D) of the model over training, the stage ends of a β sweep
    (labelled with their β) and the line D + β·R = const through the current point, along
    which the β-VAE's objective is the same."""
    xlim, ylim = g.rd_limits(np.concatenate([path, [[s[1], s[2]] for s in stages]])
                             if stages else path)
    r, d = path[-1]
    rs = np.array(xlim)
    layers: dict[str, Layer] = {
        "objective": Curve(rs, d - beta * (rs - r), series=MUTED, width=1.2),
        "path": Paths(path[:, None, :], series=RD, alpha=0.9),
        "now": Points(path[-1:], size=1.6, series=RD, highlight=True),
    }
    if stages:
        pts = np.array([[s[1], s[2]] for s in stages])
        layers["stages"] = Points(pts, size=1.2, series=RD)
        layers["stage labels"] = Labels(pts, tuple(f"β = {s[0]:.2g}" for s in stages),
                                        series=RD)
    return Panel(layers, title=f"rate R = KL, distortion D = −E log p(x|z); grey: "
                               f"D + {beta:.2g}·R constant",
                 xlim=xlim, ylim=ylim, equal_aspect=False, xlabel="rate R (nats)",
                 ylabel="distortion D (nats)", legend=False)
