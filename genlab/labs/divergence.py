"""Lab "divergence": one Gaussian fitted to a mixture by forward KL and by reverse KL.

Both fits start from the same Gaussian and take their steps together, a few per frame:

* forward KL(p‖q) = E_p[log p − log q]: Adam on a fresh minibatch x ~ p per step, i.e.
  maximum likelihood; q must put mass wherever p has some, so it covers every mode;
* reverse KL(q‖p) = E_q[log q − log p]: Adam on reparameterised samples x = μ + Lε,
  ε ~ N(0, I), scored by log p; q is punished wherever p is small, so it seeks one mode.

1D: the target density with both fitted Gaussians, the minibatches as rugs, and a second panel
with the two parameter paths in the (μ, σ) plane over the KL landscape (× marks the exact
optima: the moments for forward KL, L-BFGS on the quadrature objective for reverse KL).  2D: the
target density with each fit as 1σ and 2σ ellipses (the reverse fit dashed) and the paths of
their means.  The modes are handles: dragging one moves the target while both fits go on from
where they are.  Metrics: KL both ways, total variation and W1 (sliced W1 in 2D) of each fit,
from ``genlab.engine.divergences`` (which holds all the numerics; this module stages frames).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from genlab.engine import divergences as dv
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.frame import (
    Curve,
    Ellipses,
    Frame,
    Handles,
    Heatmap,
    Labels,
    Layer,
    Panel,
    Paths,
    Points,
    Segments,
)
from genlab.labs.params import Choice, Range, live_fields

DIMENSIONS = ("1d", "2d")
LANDSCAPES = ("reverse KL", "forward KL")
DIRECTIONS = ("forward", "reverse")
SERIES = {"forward": 0, "reverse": 1}  # palette indices, as the metric curves colour them
MODE_SERIES = -1  # the target and its handles: the foreground colour
START_SERIES = 7
# Points number their colours one up (series 0 is the theme's plain point colour).
POINT_SERIES = {d: s + 1 for d, s in SERIES.items()}

X_LIM = (-7.5, 7.5)  # 1D: both panels' μ axis
SIGMA_LIM = (0.0, 6.0)  # 1D: the plane's σ axis
LIM_2D = (-6.0, 6.0)
SLICE_LIM = (-8.0, 8.0)  # 2D: the slice panel's axis, along the line through modes 1 and 2
CURVE_POINTS = 600
PLANE_CELLS = (80, 50)  # (μ, σ) cells of the landscape heatmap
LANDSCAPE_NODES = 81  # ε nodes of the reverse-KL landscape (a picture, not a measurement)
DENSITY_CELLS_2D = 140
RUG = 120  # minibatch points shown per fit
OPTIMUM_NODES_2D = 41  # ε nodes per axis for the 2D reverse optimum drawn each frame

_1D: Any = ("dimension", ("1d",))
_2D: Any = ("dimension", ("2d",))


def _pos(help: str, label: str, dims: Any, lim: float) -> Any:
    return Range(-lim, lim, help, step=0.05, live=True, when=dims, label=label)


_M1 = _pos("position of mode 1 (drag its handle)", "mode 1", _1D, 5.0)
_M2 = _pos("position of mode 2 (drag its handle)", "mode 2", _1D, 5.0)
_M3 = _pos("position of mode 3, used when modes = 3 (drag its handle)", "mode 3", _1D, 5.0)
_M1X = _pos("mode 1, x coordinate (drag its handle)", "mode 1 x", _2D, 4.0)
_M1Y = _pos("mode 1, y coordinate (drag its handle)", "mode 1 y", _2D, 4.0)
_M2X = _pos("mode 2, x coordinate (drag its handle)", "mode 2 x", _2D, 4.0)
_M2Y = _pos("mode 2, y coordinate (drag its handle)", "mode 2 y", _2D, 4.0)
_M3X = _pos("mode 3, x coordinate, used when modes = 3 (drag its handle)", "mode 3 x", _2D, 4.0)
_M3Y = _pos("mode 3, y coordinate, used when modes = 3 (drag its handle)", "mode 3 y", _2D, 4.0)


@dataclass(frozen=True)
class Params:
    dimension: Annotated[str, Choice(
        DIMENSIONS, "fit on the line (1d: with the (μ, σ) plane) or in the plane (2d)")] = "1d"
    n_modes: Annotated[int, Range(
        2, 3, "number of modes K of the target mixture p", live=True, label="modes")] = 2
    mu1: Annotated[float, _M1] = -2.5
    mu2: Annotated[float, _M2] = 2.5
    mu3: Annotated[float, _M3] = 0.5
    mu1x: Annotated[float, _M1X] = -2.0
    mu1y: Annotated[float, _M1Y] = -1.5
    mu2x: Annotated[float, _M2X] = 2.0
    mu2y: Annotated[float, _M2Y] = 1.5
    mu3x: Annotated[float, _M3X] = -1.5
    mu3y: Annotated[float, _M3Y] = 2.5
    std1: Annotated[float, Range(
        0.2, 1.5, "standard deviation of mode 1", step=0.05, live=True,
        label="σ of mode 1")] = 0.6
    std2: Annotated[float, Range(
        0.2, 1.5, "standard deviation of mode 2", step=0.05, live=True,
        label="σ of mode 2")] = 0.6
    std3: Annotated[float, Range(
        0.2, 1.5, "standard deviation of mode 3 (used when modes = 3)", step=0.05, live=True,
        label="σ of mode 3")] = 0.6
    w1: Annotated[float, Range(
        0.05, 1.0, "relative weight of mode 1 (the weights are normalised: π_k = w_k / Σ w)",
        step=0.05, live=True, label="weight 1")] = 1.0
    w2: Annotated[float, Range(
        0.05, 1.0, "relative weight of mode 2 (π_k = w_k / Σ w)", step=0.05, live=True,
        label="weight 2")] = 1.0
    w3: Annotated[float, Range(
        0.05, 1.0, "relative weight of mode 3, used when modes = 3 (π_k = w_k / Σ w)",
        step=0.05, live=True, label="weight 3")] = 1.0
    lr: Annotated[float, Range(
        1e-3, 0.5, "Adam's step size for both fits (on μ and the log standard deviations)",
        log=True, live=True, label="learning rate")] = 0.05
    n_samples: Annotated[int, Range(
        4, 4096, "minibatch size: samples x ~ p (forward) or ε ~ N(0, I) (reverse) per step",
        step=4, live=True, label="samples / step")] = 256
    steps: Annotated[int, Range(
        10, 5000, "optimisation steps of each fit in the run")] = 300
    steps_per_frame: Annotated[int, Range(
        1, 50, "optimisation steps taken between two frames", live=True,
        label="steps / frame")] = 3
    init_mean: Annotated[float, Range(
        -5.0, 5.0, "mean μ₀ where both fits start (drag the start handle in the (μ, σ) plane)",
        step=0.05, when=_1D, label="start μ₀")] = 0.5
    init_x: Annotated[float, Range(
        -4.0, 4.0, "x of the mean where both fits start (drag the start handle)", step=0.05,
        when=_2D, label="start x")] = 0.5
    init_y: Annotated[float, Range(
        -4.0, 4.0, "y of the mean where both fits start (drag the start handle)", step=0.05,
        when=_2D, label="start y")] = 0.0
    init_std: Annotated[float, Range(
        0.2, 5.0, "standard deviation σ₀ where both fits start (2d: a circle of radius σ₀)",
        step=0.05, label="start σ₀")] = 0.5
    landscape: Annotated[str, Choice(
        LANDSCAPES, "which objective the (μ, σ) plane shows under the two paths", live=True,
        when=_1D)] = "reverse KL"
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of both fits' minibatches")] = 0


_LIVE = live_fields(Params)


# ------------------------------------------------------------------------------ helpers


def _target(p: Params) -> dv.Mixture:
    k = p.n_modes
    w = (p.w1, p.w2, p.w3)[:k]
    s = (p.std1, p.std2, p.std3)[:k]
    if p.dimension == "1d":
        m: Any = (p.mu1, p.mu2, p.mu3)[:k]
    else:
        m = ((p.mu1x, p.mu1y), (p.mu2x, p.mu2y), (p.mu3x, p.mu3y))[:k]
    return dv.Mixture.make(w, m, s)


def _target_key(p: Params) -> tuple[Any, ...]:
    return (p.n_modes, p.mu1, p.mu2, p.mu3, p.mu1x, p.mu1y, p.mu2x, p.mu2y, p.mu3x, p.mu3y,
            p.std1, p.std2, p.std3, p.w1, p.w2, p.w3)


def _start(p: Params) -> tuple[np.ndarray, np.ndarray]:
    if p.dimension == "1d":
        return np.array([p.init_mean]), np.array([p.init_std])
    return np.array([p.init_x, p.init_y]), p.init_std**2 * np.eye(2)


def _n(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}".replace("-", "−")


def _gauss(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


def _cross(xy: np.ndarray, dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    """Segments drawing an × at each point xy (m, 2)."""
    d1, d2 = np.array([dx, dy]), np.array([dx, -dy])
    starts = np.concatenate([xy - d1, xy - d2])
    ends = np.concatenate([xy + d1, xy + d2])
    return starts, ends


def _metric_names(dim: int) -> dict[str, str]:
    w1 = "W1" if dim == 1 else "sliced W1"
    return {"kl_pq": "KL(p‖q)", "kl_qp": "KL(q‖p)", "tv": "TV", "w1": w1}


def _metrics(target: dv.Mixture, fits: dict[str, dv.GaussianFit]) -> dict[str, float]:
    names = _metric_names(target.dim)
    out: dict[str, float] = {}
    found = dv.divergences_many(target, [(fits[d].mean, fits[d].cov) for d in DIRECTIONS])
    divs = dict(zip(DIRECTIONS, found, strict=True))
    for attr, name in names.items():
        for d in DIRECTIONS:
            out[f"{name}/{d}"] = getattr(divs[d], attr)
    return out


class _TargetView:
    """What depends on the target only (rebuilt when a mode moves): curves, heatmaps, optima."""

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


# ------------------------------------------------------------------------------ frames


def _frame_1d(step: int, total: int, p: Params, view: _TargetView,
              fits: dict[str, dv.GaussianFit], paths: dict[str, list[np.ndarray]],
              optima: dict[str, np.ndarray], metrics: dict[str, float],
              caption: str, title: str) -> Frame:
    t = view.target
    ytop = view.ytop
    dens: dict[str, Layer] = {"target p": Curve(view.x, view.p, series=MODE_SERIES, fill=True,
                                                width=1.5)}
    for d in DIRECTIONS:
        f = fits[d]
        mean, std = float(f.mean[0]), f.std
        dens[f"{d} fit"] = Curve(view.x, _gauss(view.x, mean, std), series=SERIES[d], width=2.5)
    for i, d in enumerate(DIRECTIONS):
        f = fits[d]
        if len(f.samples):
            xs = f.samples[:RUG, 0]
            dens[f"{d} minibatch"] = Points(
                np.column_stack([xs, np.full(len(xs), -(0.04 + 0.05 * i) * ytop)]),
                series=POINT_SERIES[d], size=0.45, alpha=0.6)
    for d, side in (("forward", -1.0), ("reverse", 1.0)):
        f = fits[d]
        mean, std = float(f.mean[0]), f.std
        # at least 1.2 either side of the mean, so the names stay apart when the fits coincide
        xl = float(np.clip(mean + side * max(std, 1.2), X_LIM[0] + 1.0, X_LIM[1] - 1.0))
        yl = float(min(_gauss(np.array([xl]), mean, std)[0], 0.9 * ytop))
        dens[f"{d} name"] = Labels(np.array([[xl, yl]]), (f"{d} KL",), series=SERIES[d])
    k = len(t.weights)
    dens["modes"] = Handles(np.column_stack([t.means[:, 0], np.zeros(k)]),
                            tuple(f"mu{i + 1}" for i in range(k)), (None,) * k,
                            texts=tuple(str(i + 1) for i in range(k)), series=MODE_SERIES)

    plane: dict[str, Layer] = {"landscape": Heatmap(view.landscape, view.landscape_extent,
                                                    contours=10)}
    for d in DIRECTIONS:
        path = np.array(paths[d])
        plane[f"{d} path"] = Paths(path[:, None, :], series=SERIES[d], alpha=0.9)
    for d in DIRECTIONS:
        f = fits[d]
        plane[f"{d} fit"] = Points(np.array([[f.mean[0], f.std]]), series=POINT_SERIES[d],
                                   highlight=True)
        starts, ends = _cross(optima[d][None], 0.18, 0.12)
        plane[f"{d} optimum"] = Segments(starts, ends, series=SERIES[d])
    plane["start"] = Handles(np.array([[p.init_mean, p.init_std]]), ("init_mean",),
                             ("init_std",), texts=("start",), series=START_SERIES)
    which = "KL(q‖p)" if view.landscape_kind == "reverse KL" else "KL(p‖q)"
    panels = (
        Panel(dens, title="target p (filled) with the forward-KL and reverse-KL fits",
              xlim=X_LIM, ylim=(-0.14 * ytop, ytop), equal_aspect=False, xlabel="x",
              ylabel="density"),
        Panel(plane, title=f"(μ, σ) paths over −log {which}; × optima",
              xlim=X_LIM, ylim=SIGMA_LIM, equal_aspect=False, xlabel="μ", ylabel="σ"),
    )
    return Frame(step=step, title=title, panels=panels, total=total, metrics=metrics,
                 caption=caption)


def _frame_2d(step: int, total: int, p: Params, view: _TargetView,
              fits: dict[str, dv.GaussianFit], paths: dict[str, list[np.ndarray]],
              optima: dict[str, np.ndarray], metrics: dict[str, float],
              caption: str, title: str) -> Frame:
    t = view.target
    layers: dict[str, Layer] = {"target p": Heatmap(view.density, (*LIM_2D, *LIM_2D),
                                                    contours=6)}
    for d in DIRECTIONS:
        f = fits[d]
        if len(f.samples):
            layers[f"{d} minibatch"] = Points(f.samples[:RUG], series=POINT_SERIES[d],
                                              size=0.45, alpha=0.5)
    for d in DIRECTIONS:
        layers[f"{d} path"] = Paths(np.array(paths[d])[:, None, :], series=SERIES[d],
                                    alpha=0.9)
    for d in DIRECTIONS:
        f = fits[d]
        layers[f"{d} fit"] = Ellipses(f.mean[None], f.cov[None], labels=np.array([SERIES[d]]),
                                      n_std=(1.0, 2.0), dashed=d == "reverse")
        starts, ends = _cross(optima[d][None], 0.15, 0.15)
        layers[f"{d} optimum"] = Segments(starts, ends, series=SERIES[d])
        ell_top = f.mean + np.array([0.0, 2.0 * math.sqrt(f.cov[1, 1])])
        pos = np.clip(ell_top, LIM_2D[0] + 0.8, LIM_2D[1] - 0.4)
        layers[f"{d} name"] = Labels(pos[None], (f"{d} KL",), series=SERIES[d])
    k = len(t.weights)
    layers["start"] = Handles(np.array([[p.init_x, p.init_y]]), ("init_x",), ("init_y",),
                              texts=("start",), series=START_SERIES)
    layers["modes"] = Handles(t.means, tuple(f"mu{i + 1}x" for i in range(k)),
                              tuple(f"mu{i + 1}y" for i in range(k)),
                              texts=tuple(str(i + 1) for i in range(k)), series=MODE_SERIES)
    ends = view.centre + np.array(SLICE_LIM)[:, None] * view.direction
    layers = {"slice line": Segments(ends[:1], ends[1:], series=START_SERIES), **layers}
    cut: dict[str, Layer] = {"target p": Curve(view.t, view.p, series=MODE_SERIES, fill=True,
                                               width=1.5)}
    for d in DIRECTIONS:
        f = fits[d]
        q = np.exp(dv._gaussian_logpdf(view.line, f.mean, f.cov))
        cut[f"{d} fit"] = Curve(view.t, q, series=SERIES[d], width=2.5,
                                dashed=d == "reverse")
    proj = (t.means[:2] - view.centre) @ view.direction  # modes 1 and 2 lie on the line
    cut["modes"] = Labels(np.column_stack([proj, np.zeros(2)]), ("1", "2"),
                          series=MODE_SERIES)
    panels = (
        Panel(layers, title="target p; forward fit solid, reverse dashed; × optima",
              xlim=LIM_2D, ylim=LIM_2D, xlabel="x", ylabel="y"),
        Panel(cut, title="densities along the line through modes 1 and 2", xlim=SLICE_LIM,
              ylim=(0.0, view.ytop), equal_aspect=False, xlabel="position along the line",
              ylabel="density"),
    )
    return Frame(step=step, title=title, panels=panels, total=total, metrics=metrics,
                 caption=caption)


def _describe(fit: dv.GaussianFit) -> str:
    if fit.dim == 1:
        return f"q = N({_n(fit.mean[0])}, {_n(fit.std)}²)"
    sd = np.sqrt(np.diag(fit.cov))
    return (f"q has mean ({_n(fit.mean[0])}, {_n(fit.mean[1])}) and stds ({_n(sd[0])}, "
            f"{_n(sd[1])})")


def _agree(fits: dict[str, dv.GaussianFit]) -> bool:
    f, r = fits["forward"], fits["reverse"]
    scale = float(np.sqrt(np.trace(f.cov) / f.dim))
    # loose enough for Adam's jitter at the default step size, tight enough to tell a mode
    # from the covering fit
    close_mean = float(np.linalg.norm(f.mean - r.mean)) < 0.2 * scale
    ratio = np.sqrt(np.trace(r.cov) / np.trace(f.cov))
    return close_mean and abs(ratio - 1.0) < 0.1


# ------------------------------------------------------------------------------ the run


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of both fits: the start, then ``steps_per_frame`` steps of each per frame."""
    p = params
    dim = 1 if p.dimension == "1d" else 2
    target = _target(p)
    view = _TargetView(target, p.landscape)
    mean0, cov0 = _start(p)
    fits = {d: dv.GaussianFit(d, mean0, cov0, lr=p.lr, n_samples=p.n_samples, seed=p.seed)
            for d in DIRECTIONS}

    def point(f: dv.GaussianFit) -> np.ndarray:
        return np.array([f.mean[0], f.std]) if dim == 1 else f.mean.copy()

    paths: dict[str, list[np.ndarray]] = {d: [point(f)] for d, f in fits.items()}
    nodes = None if dim == 1 else OPTIMUM_NODES_2D

    def optimum(direction: str, start: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean, cov = dv.optimal_gaussian(target, direction, start, nodes=nodes)
        return np.array([mean[0], math.sqrt(cov[0, 0])]) if dim == 1 else mean

    def reverse_optimum() -> np.ndarray:
        # from where the reverse fit is now: the local optimum of the basin it is in
        r = fits["reverse"]
        return optimum("reverse", (r.mean, np.array([r.std]) if dim == 1 else r.cov))

    optima = {"forward": optimum("forward", (mean0, cov0)), "reverse": reverse_optimum()}
    make = _frame_1d if dim == 1 else _frame_2d
    lab_title = "Forward vs reverse KL" + ("" if dim == 1 else " in the plane")
    start_text = (f"N({_n(p.init_mean)}, {_n(p.init_std)}²)" if dim == 1 else
                  f"a circle of radius {_n(p.init_std)} at ({_n(p.init_x)}, {_n(p.init_y)})")
    sample_text = "x = μ + σε" if dim == 1 else "x = μ + Lε"
    caption = (f"Both fits start at {start_text}. Forward KL(p‖q) is minimised on samples "
               f"x ~ p (maximum likelihood); reverse KL(q‖p) on {sample_text}, ε ~ N(0, I), "
               "scored by log p. × marks the exact optima: the moments (forward) and L-BFGS on the "
               "exact reverse KL from where the reverse fit is (reverse).")
    total = 1 + math.ceil(p.steps / p.steps_per_frame)
    metrics = _metrics(target, fits)
    new = yield make(0, total, p, view, fits, paths, optima, metrics, caption,
                     f"{lab_title} · start")

    last_key = _target_key(p)
    done = 0
    frame = 0
    while done < p.steps:
        moved = False
        if new is not None:
            p = dataclasses.replace(p, **{name: getattr(new, name) for name in _LIVE})
            if _target_key(p) != last_key:
                last_key = _target_key(p)
                target = _target(p)
                view = _TargetView(target, p.landscape)
                moved = True
                optima["forward"] = optimum("forward", (mean0, cov0))
            if dim == 1:
                view.set_landscape(p.landscape)
            for f in fits.values():
                f.lr, f.n_samples = p.lr, p.n_samples
        n = min(p.steps_per_frame, p.steps - done)
        for _ in range(n):
            for d, f in fits.items():
                try:
                    f.step(target)
                except dv.FitDiverged as e:
                    raise LabError(f"{e}: lower the learning rate (now {p.lr:g}).") from None
                paths[d].append(point(f))
        done += n
        frame += 1
        total = frame + 1 + math.ceil((p.steps - done) / p.steps_per_frame)
        metrics = _metrics(target, fits)
        optima["reverse"] = reverse_optimum()
        fw, rv = fits["forward"], fits["reverse"]
        caption = (f"Forward KL(p‖q) = E_p[log p − log q], fitted on x ~ p (maximum "
                   f"likelihood), must cover every mode: {_describe(fw)}. Reverse KL(q‖p) = "
                   f"E_q[log q − log p], fitted on {sample_text} scored by log p, is punished "
                   f"wherever p is small: {_describe(rv)}, "
                   f"{_where(target, rv, metrics['KL(q‖p)/reverse'])}.")
        notes = []
        if moved:
            notes.append("The target moved: both fits go on from where they are.")
        if _agree(fits):
            notes.append("The two fits agree: p is close to a single Gaussian.")
        title = f"{lab_title} · step {done} / {p.steps}"
        new = yield make(frame, total, p, view, fits, paths, optima, metrics,
                         " ".join([caption, *notes]), title)


def _where(target: dv.Mixture, fit: dv.GaussianFit, kl_qp: float) -> str:
    """Where the reverse fit sits: on one mode, or spread over several (then say whether
    sitting on one mode alone would score a lower KL(q‖p), i.e. whether this is a poorer local
    optimum)."""
    size = float(np.sqrt(np.trace(fit.cov) / fit.dim))
    dist = np.linalg.norm(target.means - fit.mean, axis=1)
    k = int(np.argmin(dist / target.stds))
    on_mode = dist[k] < 0.5 * target.stds[k] and abs(size / target.stds[k] - 1.0) < 0.3
    if on_mode and len(target.weights) > 1:
        same = np.flatnonzero(np.linalg.norm(target.means - target.means[k], axis=1)
                              < 0.5 * target.stds)
        if len(same) > 1:
            names = " and ".join(str(i + 1) for i in same)
            return f"locked onto modes {names}, which coincide"
        return f"locked onto mode {k + 1}"
    covered = int(np.sum(dist < 1.5 * size + target.stds))
    if covered < 2:
        return "on its way"
    alone = [dv.reverse_kl(target, m, s if target.dim == 1 else s * s * np.eye(2))
             for m, s in zip(target.means, target.stds, strict=True)]
    best = int(np.argmin(alone))
    if alone[best] < kl_qp - 0.02:
        return (f"spread over {covered} modes: a local optimum of reverse KL, since q on mode "
                f"{best + 1} alone would score KL(q‖p) = {alone[best]:.2f} < {kl_qp:.2f} (start "
                "narrower or nearer a mode)")
    return f"spread over {covered} overlapping modes"


LAB = LabInfo(
    name="divergence",
    title="Forward vs reverse KL",
    description="Fit one Gaussian to a mixture by forward KL (mode covering) and by reverse KL "
                "(mode seeking), side by side; drag the modes apart.",
    params=Params,
    run=run,
)
