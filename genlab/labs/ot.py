"""Lab "ot": couplings of two point clouds, from the independent one to the earth mover's.

Views:

* ``plan``: the plan as segments x_i → y_j (the heaviest ``MAX_SEGMENTS`` entries, opacity
  ∝ mass) over the source (blue) and target (orange) clouds, with the plan matrix beside it
  (rows and columns sorted along the first principal direction of the pooled points, shown as
  at most HEAT x HEAT block means).  Sinkhorn is animated a few iterations per frame: the
  marginal violation (log axis), the transport cost and the entropic objective are metrics.
  The independent and exact plans are shown at once.
* ``interpolation``: displacement interpolation, the points moved along the plan as t goes
  from 0 to 1 (pairs of the exact plan; the barycentric projection for the entropic one; pairs
  drawn from a⊗b for the independent one).
* ``1D Gaussians``: the lecture's picture, N(0, 1) to N(1, 1): the independent coupling
  against the monotone (earth mover's) one as joint densities with the marginals on the axes,
  and, for the Sinkhorn methods, the entropic coupling in closed form as ε sweeps down.

The numerics are in ``genlab.engine.ot`` (numpy, CPU only; POT for the exact plan, imported
when a run needs it), ``ot_summary`` and ``ot_gaussian``; this module stages them as frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Annotated, Any

import numpy as np

from genlab.engine import ot_gaussian as g1d
from genlab.engine.datasets import DATASETS, make_dataset
from genlab.engine.ot import (
    TOL,
    LogSinkhorn,
    barycentric_projection,
    cost_matrix,
    exact_plan,
    import_pot,
    independent_plan,
    marginal_violation,
    transport_cost,
)
from genlab.engine.ot_summary import block_means, principal_order, sample_pairs, top_entries
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.data import DATA_CHOICES, lab_data
from genlab.labs.frame import Curve, Frame, Heatmap, Layer, Panel, Points, Segments, message_frame
from genlab.labs.params import Choice, Flag, Range

METHODS = ("independent", "exact", "sinkhorn", "exact vs sinkhorn")
VIEWS = ("plan", "interpolation", "1D Gaussians")
WEIGHTS = ("uniform", "dirichlet")
MAX_SEGMENTS = 3000  # heaviest plan entries drawn as segments
INDEPENDENT_SEGMENTS = 600  # pairs drawn from a⊗b (every entry is alike: "heaviest" is moot)
INDEPENDENT_PAIRS = 2000  # particles of the independent coupling's interpolation
HEAT = 150  # the plan matrix is shown as at most HEAT x HEAT block means
T_FRAMES = 60  # frames of the t animation
SWEEP_FRAMES = 40  # frames of the ε sweep in the 1D view
WORK_PER_FRAME = 8_000_000  # Sinkhorn entry-iterations per frame at most (~0.1 s), so the
#                              run yields often at n = m = 2000 whatever iterations / frame says
SEGMENT_SERIES = 7  # grey: the plan's lines stay behind the two coloured clouds
GRID_1D = 150
LIM_1D = (-3.5, 4.5)
M0, M1 = 0.0, 1.0  # the 1D picture: N(0, 1) to N(1, 1)

_SINKHORN: Any = ("method", ("sinkhorn", "exact vs sinkhorn"))
_INTERP: Any = ("view", ("interpolation",))


@dataclass(frozen=True)
class Params:
    # The source is named ``dataset`` so the window's Paint tool switches it to the drawing.
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the source cloud: a toy data set, or the points you drew in colour 1",
        label="source")] = "gaussian"
    target: Annotated[str, Choice(
        DATA_CHOICES, "the target cloud: a toy data set, or the points you drew in colour 2",
        label="target")] = "moons"
    n: Annotated[int, Range(
        2, 2000, "how many source points to draw from the data set", step=10,
        when=("dataset", DATASETS), label="source points n")] = 400
    m: Annotated[int, Range(
        2, 2000, "how many target points to draw from the data set", step=10,
        when=("target", DATASETS), label="target points m")] = 400
    noise: Annotated[float, Range(
        0.0, 1.0, "how much both data sets are blurred (drawn points are used as they are)",
        step=0.01)] = 0.1
    weights: Annotated[str, Choice(
        WEIGHTS, "the points' masses a_i, b_j: all equal, or random from a Dirichlet")] = "uniform"
    concentration: Annotated[float, Range(
        0.1, 10.0, "Dirichlet concentration α: small α gives a few heavy points, large α "
        "nearly equal masses", log=True, when=("weights", ("dirichlet",)),
        label="Dirichlet α")] = 1.0
    method: Annotated[str, Choice(
        METHODS, "the coupling: independent a⊗b, exact (earth mover's, POT), entropic "
        "(Sinkhorn), or exact and entropic side by side")] = "exact vs sinkhorn"
    eps_rel: Annotated[float, Range(
        1e-3, 10.0, "entropic regularisation ε as a multiple of the median cost "
        "(the caption gives the absolute ε)", log=True, when=_SINKHORN,
        label="ε / median cost")] = 0.02
    view: Annotated[str, Choice(
        VIEWS, "what to show: the plan, the points moved along it, or the 1D picture "
        "N(0, 1) → N(1, 1)")] = "plan"
    t: Annotated[float, Range(
        0.0, 1.0, "time of the displacement interpolation (0: source, 1: target)", step=0.01,
        live=True, when=_INTERP)] = 0.5
    animate_t: Annotated[bool, Flag(
        "sweep t from 0 to 1 over the frames, then hold (off: show the slider's t)",
        live=True, when=_INTERP, label="animate t")] = True
    iters_per_frame: Annotated[int, Range(
        1, 500, "Sinkhorn iterations per frame (fewer at large n·m, to keep frames quick)",
        log=True, live=True, when=_SINKHORN, label="iterations / frame")] = 3
    max_iter: Annotated[int, Range(
        10, 100_000, f"Sinkhorn stops here if the marginal violation is not yet below "
        f"{TOL:.0e}", log=True, when=_SINKHORN, label="max iterations")] = 5000
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data sets and the Dirichlet weights")] = 0


# ------------------------------------------------------------------------------ the problem


@dataclass(frozen=True, eq=False)
class _Problem:
    """Both clouds sorted along the principal direction, their weights and costs."""

    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    scale: float  # the median cost (the mean cost if the median is 0, 1 if that is 0 too)
    eps: float
    notes: tuple[str, ...]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def _side(dataset: str, count: int, noise: float, seed: int, ctx: RunContext,
          want: int, side: str) -> tuple[np.ndarray, str]:
    if dataset != "drawn":
        return make_dataset(dataset, count, noise, seed)[0], ""
    pts, labels = lab_data("drawn", count, noise, seed, ctx)
    colours = np.unique(labels)
    if len(colours) == 1:
        return pts, (f"Only one colour was painted, so all {len(pts)} drawn points are the "
                     f"{side}.")
    return pts[labels == colours[min(want, len(colours) - 1)]], ""


def _limits(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    pts = np.concatenate([x, y])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    span = np.where(span > 1e-6, span, 2.0)
    span = np.full(2, span.max())  # square, so the two clouds keep their shapes
    mid = 0.5 * (lo + hi)
    lo, hi = mid - 0.56 * span, mid + 0.56 * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def _problem(p: Params, ctx: RunContext) -> _Problem:
    notes = []
    x, note = _side(p.dataset, p.n, p.noise, p.seed, ctx, 0, "source")
    notes += [note] if note else []
    y, note = _side(p.target, p.m, p.noise, p.seed + 1, ctx, 1, "target")
    if note and p.dataset == "drawn":
        note = ("Only one colour was painted, so the source and the target are the same drawn "
                "points: the exact plan keeps every point in place and costs 0.")
        notes = []
    notes += [note] if note else []
    ox, oy = principal_order(x, y)
    x, y = np.ascontiguousarray(x[ox]), np.ascontiguousarray(y[oy])
    n, m = len(x), len(y)
    if p.weights == "dirichlet":
        rng = np.random.default_rng(p.seed + 2)
        a = rng.dirichlet(np.full(n, p.concentration))
        b = rng.dirichlet(np.full(m, p.concentration))
    else:
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    c = cost_matrix(x, y)
    scale = float(np.median(c))
    if scale <= 0:
        scale = float(c.mean())
        if scale > 0:
            notes.append("Most pairs cost 0 (the median cost is 0), so ε is relative to the "
                         "mean cost.")
        else:
            scale = 1.0
            notes.append("Every point coincides: every coupling costs 0.")
    xlim, ylim = _limits(x, y)
    for w in (x, y, a, b, c):
        w.setflags(write=False)
    return _Problem(x, y, a, b, c, scale, p.eps_rel * scale, tuple(notes), xlim, ylim)


# ------------------------------------------------------------------------------ helpers


def _g(v: float) -> str:
    return f"{v:.4g}".replace("-", "−")


def _e(v: float) -> str:
    return f"{v:.1e}".replace("e-0", "e−").replace("e+0", "e").replace("-", "−")


def _join(*parts: str) -> str:
    return " ".join(s for s in parts if s)


def _clouds(pb: _Problem, alpha: float = 1.0) -> dict[str, Layer]:
    size = 0.8 if len(pb.x) + len(pb.y) <= 1000 else 0.55
    # Points take palette colour series − 1 (series 0 is the theme's ink), Curves colour series.
    return {"source": Points(pb.x, series=1, size=size, alpha=alpha),
            "target": Points(pb.y, series=2, size=size, alpha=alpha)}


def _segments(pb: _Problem, plan: np.ndarray, independent: bool,
              rng: np.random.Generator | None = None) -> Segments:
    if independent:
        rng = rng if rng is not None else np.random.default_rng(0)
        i, j = sample_pairs(plan, min(INDEPENDENT_SEGMENTS, plan.size), rng)
        mass = plan[i, j]
    else:
        i, j, mass = top_entries(plan, MAX_SEGMENTS)
    top = mass.max() if len(mass) else 1.0
    w = mass / top if top > 0 else np.ones_like(mass)
    return Segments(pb.x[i], pb.y[j], weights=w, series=SEGMENT_SERIES)


def _plan_panel(pb: _Problem, plan: np.ndarray, title: str, independent: bool = False
                ) -> Panel:
    layers: dict[str, Layer] = {"plan": _segments(pb, plan, independent)}
    layers.update(_clouds(pb))
    return Panel(layers, title=title, xlim=pb.xlim, ylim=pb.ylim)


def _matrix_panel(pb: _Problem, plan: np.ndarray, title: str) -> Panel:
    n, m = plan.shape
    # √ of the block means: the mass near the diagonal would otherwise hide the rest.
    heat = Heatmap(np.sqrt(block_means(plan, HEAT, HEAT)), (0.0, float(m), 0.0, float(n)))
    return Panel({"matrix": heat}, title=title, xlim=(0.0, float(m)), ylim=(0.0, float(n)),
                 equal_aspect=False, xlabel="target j (sorted)", ylabel="source i (sorted)")


def _live(p: Params, new: Params | None) -> Params:
    """p with the live fields of ``new`` (sent at a yield) taken over; the others restart."""
    if new is None:
        return p
    return replace(p, iters_per_frame=new.iters_per_frame, t=new.t, animate_t=new.animate_t)


def _data_text(pb: _Problem, p: Params) -> str:
    n, m = len(pb.x), len(pb.y)
    w = ("equal masses" if p.weights == "uniform"
         else f"Dirichlet(α = {p.concentration:g}) masses")
    return f"n = {n} source points (blue) and m = {m} target points (orange), {w}"


def _eps_text(pb: _Problem, p: Params) -> str:
    return f"ε = {_g(pb.eps)} ({p.eps_rel:g} × median cost {_g(pb.scale)})"


# ------------------------------------------------------------------------------ plan view


class _SinkhornRun:
    """LogSinkhorn plus the numbers a frame shows."""

    def __init__(self, pb: _Problem, keep_plan: bool = True) -> None:
        try:
            self.s = LogSinkhorn(pb.c, pb.eps, pb.a, pb.b)
        except FloatingPointError as e:
            raise LabError(f"{e}.") from None
        self.pb = pb
        self.keep_plan = keep_plan
        self.plan = self.s.plan() if keep_plan else np.zeros((0, 0))

    def advance(self, k: int) -> None:
        try:
            self.s.run(k, TOL)
        except FloatingPointError as e:
            raise LabError(f"{e}.") from None
        if self.keep_plan:
            self.plan = self.s.plan()

    @property
    def done(self) -> bool:
        return self.s.converged(TOL)

    def metrics(self) -> tuple[float, float, float]:
        """(violation, ⟨C, P⟩, ⟨C, P⟩ + ε KL(P ‖ a⊗b)) of the current plan."""
        cost = transport_cost(self.plan, self.pb.c)
        obj = cost + self.pb.eps * self.s.kl_to_product(self.plan)
        if not (np.isfinite(cost) and np.isfinite(obj) and np.isfinite(self.s.violation)):
            raise LabError(f"Sinkhorn diverged at iteration {self.s.iterations} (a NaN or an "
                           "infinity in the plan): raise ε.")
        return self.s.violation, cost, obj


def _per_frame(p: Params, pb: _Problem) -> int:
    cap = max(1, WORK_PER_FRAME // (len(pb.x) * len(pb.y)))
    return max(1, min(p.iters_per_frame, cap))


def _sinkhorn_caption(sk: _SinkhornRun, p: Params, exact_cost: float | None,
                      v: float, cost: float, obj: float) -> str:
    s = sk.s
    eps = _eps_text(sk.pb, p)
    ref = f" (exact OT: {_g(exact_cost)})" if exact_cost is not None else ""
    if s.iterations == 0:
        return (f"Sinkhorn starts from P⁰_ij = a_i b_j e^(−C_ij/ε) with {eps}: far from a "
                f"coupling, marginal violation ‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ = {_e(v)}.")
    if sk.done:
        return (f"Sinkhorn converged after {s.iterations} iterations (violation {_e(v)} < "
                f"{_e(TOL)}) with {eps}: ⟨C, P⟩ = {_g(cost)}{ref}, ⟨C, P⟩ + ε KL(P‖a⊗b) = "
                f"{_g(obj)}; a smaller ε gives a sharper plan but needs more iterations.")
    if s.iterations >= p.max_iter:
        return (f"Sinkhorn stopped at max iterations = {s.iterations} with marginal violation "
                f"{_e(v)} > {_e(TOL)}: with {eps} each iteration moves the potentials little; "
                "raise max iterations or ε.")
    return (f"Sinkhorn iteration {s.iterations}: f_i += ε(log a_i − log Σ_j P_ij), then "
            f"g_j likewise, in the log domain with {eps}; marginal violation {_e(v)}, "
            f"⟨C, P⟩ = {_g(cost)}{ref}.")


def _run_plan(p: Params, pb: _Problem) -> FrameGenerator:
    n, m = len(pb.x), len(pb.y)
    method = p.method
    notes = pb.notes
    base = f"OT · {method}"
    step = 0

    def take(new: Any) -> None:
        nonlocal p
        p = _live(p, new)

    if method == "independent":
        plan = independent_plan(pb.a, pb.b)
        cost = transport_cost(plan, pb.c)
        caption = _join(
            f"The independent coupling P = a⊗b: every source point sends its mass to every "
            f"target in proportion to b_j (segments: {INDEPENDENT_SEGMENTS} pairs drawn from "
            f"P); it costs ⟨C, P⟩ = E‖X − Y‖² = {_g(cost)} for {_data_text(pb, p)}.", *notes)
        flat = p.weights == "uniform"  # every entry 1/(nm): the heatmap shows one colour
        title = ("plan matrix: every entry 1/(n m)" if flat
                 else "plan matrix √P = √(a⊗b) (block means)")
        take((yield Frame(step, f"{base} · P = a⊗b",
                          (_plan_panel(pb, plan, "independent: P = a⊗b", True),
                           _matrix_panel(pb, plan, title)), total=1,
                          metrics={"cost/⟨C,P⟩ independent": cost}, caption=caption)))
        return

    exact = None
    exact_cost = None
    if method in ("exact", "exact vs sinkhorn"):
        # POT's import (~2 s: it loads torch) goes before the first frame, so that a cancel
        # after it is prompt; the first frame comes before the solve (~1 s at 2000 × 2000).
        import_pot()
        caption = _join(f"{_data_text(pb, p)}; solving the exact problem (POT's network "
                        f"simplex on the {n} × {m} costs).", *notes)
        take((yield Frame(step, f"{base} · solving", (Panel(
            _clouds(pb), title="source and target", xlim=pb.xlim, ylim=pb.ylim),),
            caption=caption)))
        step += 1
        exact = exact_plan(pb.c, pb.a, pb.b)
        exact_cost = transport_cost(exact, pb.c)
        if method == "exact":
            support = int(np.count_nonzero(exact))
            caption = _join(
                f"The earth mover's plan minimises ⟨C, P⟩ = Σ_ij ‖x_i − y_j‖² P_ij over "
                f"couplings: {_g(exact_cost)}, a vertex of the polytope with {support} "
                f"non-zero entries (at most n + m − 1 = {n + m - 1}); marginal violation "
                f"{_e(marginal_violation(exact, pb.a, pb.b))}.", *notes)
            yield Frame(step, f"{base} · earth mover's plan",
                        (_plan_panel(pb, exact, "exact (earth mover's) plan"),
                         _matrix_panel(pb, exact, "plan matrix √P (block means)")), total=step + 1,
                        metrics={"cost/exact OT": exact_cost}, caption=caption)
            return

    exact_panel = None if exact is None else _plan_panel(pb, exact, "exact (earth mover's)")
    sk = _SinkhornRun(pb)
    while True:
        v, cost, obj = sk.metrics()
        metrics = {"marginal violation": max(v, 1e-300), "cost/⟨C,P⟩ Sinkhorn": cost,
                   "cost/⟨C,P⟩ + εKL": obj}
        panels = [_plan_panel(pb, sk.plan, f"Sinkhorn, iteration {sk.s.iterations}"),
                  _matrix_panel(pb, sk.plan, "plan matrix √P (block means)")]
        if exact_panel is not None and exact_cost is not None:
            metrics["cost/exact OT"] = exact_cost
            panels = [exact_panel, *panels]
        left = p.max_iter - sk.s.iterations
        finished = sk.done or left <= 0
        total = step + 1 + (0 if finished else math.ceil(left / _per_frame(p, pb)))
        caption = _join(_sinkhorn_caption(sk, p, exact_cost, v, cost, obj),
                        *(notes if sk.s.iterations == 0 else ()))
        state = ("converged" if sk.done else "stopped at max iterations" if left <= 0
                 else f"iteration {sk.s.iterations}")
        take((yield Frame(step, f"{base} · {state}", tuple(panels), total=total,
                          metrics=metrics, caption=caption, log_metrics=("marginal violation",))))
        if finished:
            return
        step += 1
        sk.advance(min(_per_frame(p, pb), p.max_iter - sk.s.iterations))


# ------------------------------------------------------------------------------ interpolation


def _interp_layers(pb: _Problem, pts: np.ndarray, rank: np.ndarray) -> dict[str, Layer]:
    layers = _clouds(pb, alpha=0.25)
    size = 0.8 if len(pts) <= 1000 else 0.55
    layers["moving"] = Points(pts, values=rank, size=size)
    return layers


def _run_interpolation(p: Params, pb: _Problem) -> FrameGenerator:
    n, m = len(pb.x), len(pb.y)
    method = p.method
    base = f"OT · {method} · interpolation"
    notes = list(pb.notes)
    step = 0

    def take(new: Any) -> None:
        nonlocal p
        p = _live(p, new)

    # Every particle moves on a straight line: (panel title, starts, ends, colour values).
    movers: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    rank = np.arange(n) / max(n - 1, 1)  # x is sorted along the principal direction
    titles = {"independent": ["independent: pairs from a⊗b"],
              "exact": ["exact: pairs move straight"],
              "sinkhorn": [f"entropic (ε = {_g(pb.eps)}): barycentric"]}
    titles["exact vs sinkhorn"] = titles["exact"] + titles["sinkhorn"]

    def waiting() -> tuple[Panel, ...]:
        """The panels while a plan is solved: every point still at its source, t = 0."""
        return tuple(Panel(_interp_layers(pb, pb.x, rank), title=f"{title}, t = 0 (solving)",
                           xlim=pb.xlim, ylim=pb.ylim) for title in titles[method])

    if method in ("exact", "exact vs sinkhorn"):
        import_pot()
        take((yield Frame(step, f"{base} · solving", waiting(),
                          caption=_join(f"{_data_text(pb, p)}; solving the exact problem "
                                        "(POT's network simplex).", *notes))))
        step += 1
        ex = exact_plan(pb.c, pb.a, pb.b)
        i, j = np.nonzero(ex > 0)
        movers.append((titles["exact"][0], pb.x[i], pb.y[j], rank[i]))
    if method == "independent":
        rng = np.random.default_rng(p.seed + 3)
        i, j = sample_pairs(independent_plan(pb.a, pb.b), INDEPENDENT_PAIRS, rng)
        movers.append((titles["independent"][0], pb.x[i], pb.y[j], rank[i]))
    if method in ("sinkhorn", "exact vs sinkhorn"):
        sk = _SinkhornRun(pb, keep_plan=False)
        per = max(1, 2 * WORK_PER_FRAME // (n * m))  # these frames draw no plan: do more
        while not sk.done and sk.s.iterations < p.max_iter:
            caption = _join(f"Solving Sinkhorn first ({_eps_text(pb, p)}): iteration "
                            f"{sk.s.iterations}, marginal violation {_e(sk.s.violation)}.",
                            *notes)
            take((yield Frame(step, f"{base} · solving", waiting(), caption=caption)))
            step += 1
            sk.advance(min(per, p.max_iter - sk.s.iterations))
        if not sk.done:
            notes.append(f"Sinkhorn stopped at max iterations ({sk.s.iterations}) with marginal "
                         f"violation {_e(sk.s.violation)}.")
        ends = barycentric_projection(sk.s.plan(), pb.y)
        movers.append((titles["sinkhorn"][0], pb.x, ends, rank))

    how = {
        "independent": "pairs (i, j) drawn from a⊗b move on straight lines from x_i to y_j, "
                       "so halfway the cloud is a blur of both",
        "exact": "each pair (i, j) of the exact plan carries its mass P_ij along "
                 "(1 − t) x_i + t y_j (McCann's interpolation)",
        "sinkhorn": "each x_i moves to (1 − t) x_i + t T(x_i), T(x_i) = Σ_j P_ij y_j / Σ_j P_ij "
                    "the barycentric projection of the entropic plan (which shrinks the "
                    "target towards its local means)",
        "exact vs sinkhorn": "left, the exact plan's pairs move along (1 − t) x_i + t y_j; "
                             "right, each x_i moves towards its barycentric projection "
                             "Σ_j P_ij y_j / Σ_j P_ij under the entropic plan",
    }[method]
    frames = T_FRAMES if p.animate_t else 1
    k = 0
    while True:
        t = k / (T_FRAMES - 1) if p.animate_t else p.t
        panels = tuple(Panel(_interp_layers(pb, (1.0 - t) * x0 + t * x1, r),
                             title=f"{title}, t = {t:.2f}", xlim=pb.xlim, ylim=pb.ylim)
                       for title, x0, x1, r in movers)
        hold = not p.animate_t or k >= T_FRAMES - 1
        caption = _join(f"Displacement interpolation at t = {t:.2f}: {how}; colour: the "
                        "source point's place along the principal direction.",
                        *(notes if k == 0 or hold else ()))
        take((yield Frame(step, f"{base} · t = {t:.2f}", panels,
                          total=step + (frames - k if p.animate_t else 1),
                          caption=caption)))
        if hold:
            return
        step += 1
        k += 1


# ------------------------------------------------------------------------------ 1D view


def _1d_layers(density: np.ndarray, pairs: np.ndarray, extra: dict[str, Layer] | None = None
               ) -> dict[str, Layer]:
    lo, hi = LIM_1D
    grid = np.linspace(lo, hi, 400)
    p0 = g1d.gaussian_pdf(grid, M0)
    p1 = g1d.gaussian_pdf(grid, M1)
    strip = 1.2 / p0.max()
    layers: dict[str, Layer] = {
        "density": Heatmap(density, (lo, hi, lo, hi)),
        "pairs": Points(pairs, series=3, size=0.5, alpha=0.5),
    }
    layers.update(extra or {})
    layers["source N(0, 1)"] = Curve(grid, lo + strip * p0, series=0)
    layers["target N(1, 1)"] = Curve(lo + strip * p1, grid, series=1)
    return layers


def _run_1d(p: Params) -> FrameGenerator:
    lo, hi = LIM_1D
    centres = lo + (np.arange(GRID_1D) + 0.5) * (hi - lo) / GRID_1D
    xx, yy = np.meshgrid(centres, centres)  # values[i, j] at x = centres[j], y = centres[i]
    rng = np.random.default_rng(p.seed)
    z0, z1 = rng.standard_normal(300), rng.standard_normal(300)
    x_s = M0 + z0
    indep = np.column_stack([x_s, M1 + z1])
    mono = np.column_stack([x_s, x_s + (M1 - M0)])
    ind_cost = g1d.expected_sq_distance(0.0, M0, M1)
    mono_cost = g1d.expected_sq_distance(1.0, M0, M1)
    panel_kw: dict[str, Any] = {"xlim": LIM_1D, "ylim": LIM_1D, "xlabel": "x ~ N(0, 1)",
                                "ylabel": "y ~ N(1, 1)"}
    ind_panel = Panel(_1d_layers(g1d.gaussian_pdf(xx, M0) * g1d.gaussian_pdf(yy, M1), indep),
                      title=f"independent: E|X − Y|² = {ind_cost:g}", **panel_kw)
    line = Curve(np.array([lo, hi - (M1 - M0)]), np.array([lo + (M1 - M0), hi]), series=3,
                 width=3.0)
    mono_panel = Panel(_1d_layers(np.zeros_like(xx), mono, {"T(x) = x + 1": line}),
                       title=f"monotone T(x) = x + 1: E|X − Y|² = {mono_cost:g}", **panel_kw)
    base = ("N(0, 1) (x, blue) coupled with N(1, 1) (y, orange): independent pairs cost "
            "E|X − Y|² = Var X + Var Y + (EY − EX)² = 1 + 1 + 1 = 3, the monotone map "
            "y = x + 1 (earth mover's, all mass on a line) costs 1.")
    metrics = {"E|X−Y|²/independent": ind_cost, "E|X−Y|²/monotone": mono_cost}
    if p.method not in ("sinkhorn", "exact vs sinkhorn"):
        yield Frame(0, "OT · 1D Gaussians", (ind_panel, mono_panel), total=1, metrics=metrics,
                    caption=base)
        return
    med = g1d.median_sq_distance(M0, M1)
    rels = (np.geomspace(10.0, p.eps_rel, SWEEP_FRAMES) if p.eps_rel < 10.0
            else np.array([p.eps_rel]))
    for k, rel in enumerate(rels):
        eps = float(rel) * med
        rho = g1d.entropic_correlation(eps)
        cost = g1d.expected_sq_distance(rho, M0, M1)
        dens = g1d.gaussian_joint_density(xx, yy, M0, M1, 1.0, min(rho, 1.0 - 1e-9))
        pairs = np.column_stack([x_s, M1 + rho * z0 + math.sqrt(max(1.0 - rho * rho, 0.0)) * z1])
        ent_panel = Panel(_1d_layers(dens, pairs),
                          title=f"entropic ε = {_g(eps)}: E|X − Y|² = {cost:.3f}", **panel_kw)
        caption = (f"{base} The entropic coupling (ε = {_g(eps)}, {rel:.3g} × median cost) "
                   f"is Gaussian with correlation ρ = (√(ε² + 16) − ε)/4 = {rho:.4f}, cost "
                   f"3 − 2ρ = {cost:.4f}: the monotone map as ε → 0, independence as ε → ∞.")
        yield Frame(k, f"OT · 1D Gaussians · ε = {_g(eps)}", (ind_panel, ent_panel, mono_panel),
                    total=len(rels), metrics={**metrics, "E|X−Y|²/entropic": cost},
                    caption=caption)


# ------------------------------------------------------------------------------ the run


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of the chosen view (module docstring)."""
    if params.view == "1D Gaussians":
        yield from _run_1d(params)
        return
    try:
        pb = _problem(params, ctx)
    except LabError as e:
        yield message_frame("OT · no data", str(e))
        return
    if params.view == "interpolation":
        yield from _run_interpolation(params, pb)
    else:
        yield from _run_plan(params, pb)


LAB = LabInfo(
    name="ot",
    title="Optimal transport (couplings)",
    description="Couple two point clouds: the independent plan, the earth mover's plan and "
                "Sinkhorn's entropic plan animated iteration by iteration, displacement "
                "interpolation, and the 1D Gaussian picture (numpy on the CPU).",
    params=Params,
    run=run,
    takes_data=True,
)
