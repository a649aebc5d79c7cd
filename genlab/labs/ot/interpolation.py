"""The OT lab's interpolation view: the points moved along a plan as t goes from 0 to 1
(pairs of the exact plan; the barycentric projection of the entropic one; pairs drawn from
a⊗b for the independent one).  With unequal masses a moving point's area is its mass."""

from __future__ import annotations

from typing import Any

import numpy as np

from genlab.engine.ot import (
    barycentric_projection,
    exact_plan,
    independent_plan,
)
from genlab.engine.ot_summary import sample_pairs
from genlab.labs.base import FrameGenerator
from genlab.labs.frame import Frame, Layer, Panel, Points
from genlab.labs.ot.common import (
    Problem,
    clouds,
    data_text,
    e,
    eps_text,
    g,
    join,
    mass_sizes,
    point_size,
)
from genlab.labs.ot.params import SERIES, Params
from genlab.labs.ot.plan import WORK_PER_FRAME, SinkhornRun, live

INDEPENDENT_PAIRS = 2000  # particles of the independent coupling's interpolation
T_FRAMES = 60  # frames of the t animation (3 s at the lab's 20 fps)
HOLD_START = 1.0  # seconds t = 0 is held before the points move
HOLD_END = 2.5  # seconds t = 1 (or a fixed t) is held


def _layers(pb: Problem, pts: np.ndarray, rank: np.ndarray, sizes: np.ndarray | None
            ) -> dict[str, Layer]:
    layers = clouds(pb, alpha=0.25)
    layers["moving"] = Points(pts, values=rank, size=point_size(len(pts)), sizes=sizes)
    return layers


def run_interpolation(p: Params, pb: Problem) -> FrameGenerator:
    n, m = len(pb.x), len(pb.y)
    method = p.method
    base = f"OT · {method} · interpolation"
    notes = list(pb.notes)
    step = 0

    def take(new: Any) -> None:
        nonlocal p
        p = live(p, new)

    # Every particle moves on a straight line: (panel title, starts, ends, colour values,
    # marker sizes or None).
    movers: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
    rank = np.arange(n) / max(n - 1, 1)  # x is sorted along the principal direction
    src_sizes = None if pb.uniform else mass_sizes(pb.a, n)
    titles = {"independent": ["independent: pairs from a⊗b"],
              "exact": ["exact: pairs move straight"],
              "sinkhorn": [f"entropic (ε = {g(pb.eps)}): barycentric"]}
    titles["exact vs sinkhorn"] = titles["exact"] + titles["sinkhorn"]

    def waiting() -> tuple[Panel, ...]:
        """The panels while a plan is solved: every point still at its source, t = 0."""
        return tuple(Panel(_layers(pb, pb.x, rank, src_sizes), title=f"{title}, t = 0 "
                           "(solving)", xlim=pb.xlim, ylim=pb.ylim) for title in titles[method])

    if method in ("exact", "exact vs sinkhorn"):
        take((yield Frame(step, f"{base} · solving", waiting(), series=SERIES,
                          caption=join(f"{data_text(pb, p)}; solving the exact problem "
                                       "(POT's network simplex).", *notes))))
        step += 1
        ex = exact_plan(pb.c, pb.a, pb.b)
        i, j = np.nonzero(ex > 0)
        sizes = None if pb.uniform else mass_sizes(ex[i, j], n)
        movers.append((titles["exact"][0], pb.x[i], pb.y[j], rank[i], sizes))
    if method == "independent":
        rng = np.random.default_rng(p.seed + 3)
        # pairs drawn from a⊗b carry equal shares of the mass: one size
        i, j = sample_pairs(independent_plan(pb.a, pb.b), INDEPENDENT_PAIRS, rng)
        movers.append((titles["independent"][0], pb.x[i], pb.y[j], rank[i], None))
    if method in ("sinkhorn", "exact vs sinkhorn"):
        sk = SinkhornRun(pb, keep_plan=False)
        per = max(1, 2 * WORK_PER_FRAME // (n * m))  # these frames draw no plan: do more
        while not sk.done and sk.s.iterations < p.max_iter:
            caption = join(f"Solving Sinkhorn first ({eps_text(pb, p)}): iteration "
                           f"{sk.s.iterations}, marginal violation {e(sk.s.violation)}.",
                           *notes)
            take((yield Frame(step, f"{base} · solving", waiting(), caption=caption,
                              series=SERIES)))
            step += 1
            sk.advance(min(per, p.max_iter - sk.s.iterations))
        if not sk.done:
            notes.append(f"Sinkhorn stopped at max iterations ({sk.s.iterations}) with marginal "
                         f"violation {e(sk.s.violation)}.")
        ends = barycentric_projection(sk.s.plan(), pb.y)
        movers.append((titles["sinkhorn"][0], pb.x, ends, rank, src_sizes))

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
    mass = "" if pb.uniform else " A marker's area is the mass it carries."
    frames = T_FRAMES if p.animate_t else 1
    k = 0
    while True:
        t = k / (T_FRAMES - 1) if p.animate_t else p.t
        panels = tuple(Panel(_layers(pb, (1.0 - t) * x0 + t * x1, r, s),
                             title=f"{title}, t = {t:.2f}", xlim=pb.xlim, ylim=pb.ylim)
                       for title, x0, x1, r, s in movers)
        last = not p.animate_t or k >= T_FRAMES - 1
        caption = join(f"Displacement interpolation at t = {t:.2f}: {how}; colour: the "
                       f"source point's place along the principal direction.{mass}",
                       *(notes if k == 0 or last else ()))
        hold = HOLD_END if last else HOLD_START if k == 0 else 0.0
        take((yield Frame(step, f"{base} · t = {t:.2f}", panels,
                          total=step + (frames - k if p.animate_t else 1),
                          caption=caption, series=SERIES, hold=hold)))
        if last:
            return
        step += 1
        k += 1
