"""The OT lab's plan view: the independent, exact and entropic plans as segments over the two
clouds, with the plan matrix; Sinkhorn animated iteration by iteration.

Pacing: Sinkhorn's first iterations change the plan most (the marginal violation falls from 2
to 0.1 within a few dozen), so P⁰ is held, the first SLOW_FRAMES iterations are shown one per
frame in slow motion, and the iterations per frame then ramp up to ``iters_per_frame``.  Once
⟨C, P⟩ has moved less than FLAT_RTOL over the last FLAT_ITERS iterations the plan no longer
changes visibly: the run fast-forwards (the iterations per frame double each frame) to
convergence or the iteration cap, and holds its last frame.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from genlab.engine.ot import (
    TOL,
    LogSinkhorn,
    exact_plan,
    independent_plan,
    marginal_violation,
    transport_cost,
)
from genlab.labs.base import FrameGenerator, LabError
from genlab.labs.frame import Frame, Panel
from genlab.labs.ot.common import (
    INDEPENDENT_SEGMENTS,
    Problem,
    clouds,
    data_text,
    e,
    eps_text,
    g,
    join,
    matrix_panel,
    plan_panel,
)
from genlab.labs.ot.params import SERIES, Params
from genlab.labs.pacing import ramp

WORK_PER_FRAME = 8_000_000  # Sinkhorn entry-iterations per frame at most (~0.1 s), so the
#                              run yields often at n = m = 2000 whatever iterations / frame says
FAST_WORK_PER_FRAME = 64_000_000  # ... and in a fast forward, where drawing a frame (~0.3 s
#                                   at n = m = 2000) would otherwise cost more than iterating
HOLD_START = 1.5  # seconds P⁰ is held before the first iteration
HOLD_END = 2.5  # seconds the last frame is held
SLOW_FRAMES = 10  # the first iterations, one per frame ...
SLOW = 5.0  # ... each staying this many frame intervals ...
EASE_FRAMES = 10  # ... then the pace eases back to 1 over this many frames
RAMP_FRAMES = 20  # frames over which the iterations per frame grow to iters_per_frame
FLAT_ITERS = 30  # the plan has levelled off when ⟨C, P⟩ moved less than FLAT_RTOL (relative)
FLAT_RTOL = 1e-3  # over the last FLAT_ITERS iterations ...
MIN_ITERS = 20  # ... and never before this many
XLABEL = "Sinkhorn iteration"
VIOLATION = "marginal violation"
BARS = "⟨C, P⟩ by coupling"


def live(p: Params, new: Params | None) -> Params:
    """p with the live fields of ``new`` (sent at a yield) taken over; the others restart."""
    if new is None:
        return p
    return replace(p, iters_per_frame=new.iters_per_frame, t=new.t, animate_t=new.animate_t)


def work_cap(pb: Problem, fast: bool = False) -> int:
    work = FAST_WORK_PER_FRAME if fast else WORK_PER_FRAME
    return max(1, work // (len(pb.x) * len(pb.y)))


def iters_for(k: int, full: int, cap: int, fast: int = 0) -> int:
    """Sinkhorn iterations after the frame of Sinkhorn frame number ``k`` (0: P⁰): one each
    for the first SLOW_FRAMES, then ramping up to ``full``; in the ``fast``-th frame of a fast
    forward, ``full`` doubled ``fast`` times.  Never more than ``cap`` (the frame-cost bound)."""
    full = max(1, full)
    if fast:
        want = full * 2 ** min(fast, 30)
    elif k < SLOW_FRAMES:
        want = 1
    else:
        want = ramp(k - SLOW_FRAMES, full, RAMP_FRAMES)
    return max(1, min(want, cap))


def pace_of(k: int) -> float:
    """Frame intervals Sinkhorn frame ``k`` stays: SLOW for the one-iteration frames, easing
    back to 1 after them."""
    if k == 0:
        return 1.0
    if k <= SLOW_FRAMES:
        return SLOW
    return max(1.0, SLOW - (SLOW - 1.0) * (k - SLOW_FRAMES) / EASE_FRAMES)


def frames_left(k: int, done: int, max_iter: int, full: int, cap: int, fast: int) -> int:
    """Frames after Sinkhorn frame ``k`` (at ``done`` iterations) if the run goes to the cap:
    an upper bound, since convergence ends it sooner."""
    n = 0
    while done < max_iter:
        per = iters_for(k, full, cap, fast)
        if per >= cap or (not fast and k >= SLOW_FRAMES + RAMP_FRAMES):
            return n + -(-(max_iter - done) // per)  # the same step from here on
        done += per
        k, n = k + 1, n + 1
        fast = fast + 1 if fast else 0
    return n


class Levelled:
    """Whether ⟨C, P⟩ has moved less than FLAT_RTOL (relative) over the last FLAT_ITERS
    iterations (once true it stays true), and when the violation will reach TOL."""

    def __init__(self) -> None:
        self.history: list[tuple[int, float, float]] = []  # (iteration, cost, violation)
        self.flat = False
        self.moved = 0.0

    def _then(self, it: int, span: int = FLAT_ITERS) -> tuple[int, float, float] | None:
        """The last record at least ``span`` iterations before ``it``."""
        then = [h for h in self.history if h[0] <= it - span]
        return then[-1] if then else None

    def add(self, it: int, cost: float, violation: float) -> bool:
        self.history.append((it, cost, violation))
        then = self._then(it)
        if then is None or it < MIN_ITERS:
            return self.flat
        self.moved = abs(cost - then[1]) / max(abs(cost), 1e-12)  # for the caption, each frame
        self.flat = self.flat or self.moved <= FLAT_RTOL or abs(cost - then[1]) < 1e-12
        return self.flat

    def converges_at(self, max_iter: int) -> int:
        """The iteration where the violation reaches TOL at its recent (linear) rate, for the
        frame count; ``max_iter`` while there is no rate yet."""
        if not self.history:
            return max_iter
        it, _, v = self.history[-1]
        then = self._then(it, min(FLAT_ITERS, max(1, it // 2)))
        if it < 2 or then is None or not 0 < v < then[2]:
            return max_iter
        rate = np.log(then[2] / v) / (it - then[0])
        return int(min(max_iter, it + np.ceil(max(np.log(v / TOL), 0.0) / rate)))


class SinkhornRun:
    """LogSinkhorn plus the numbers a frame shows."""

    def __init__(self, pb: Problem, keep_plan: bool = True) -> None:
        try:
            self.s = LogSinkhorn(pb.c, pb.eps, pb.a, pb.b)
        except FloatingPointError as err:
            raise LabError(f"{err}.") from None
        self.pb = pb
        self.keep_plan = keep_plan
        self.plan = self.s.plan() if keep_plan else np.zeros((0, 0))

    def advance(self, k: int) -> None:
        try:
            self.s.run(k, TOL)
        except FloatingPointError as err:
            raise LabError(f"{err}.") from None
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


def _sinkhorn_caption(sk: SinkhornRun, p: Params, exact_cost: float | None, v: float,
                      cost: float, obj: float, moves: tuple[int, int], lev: Levelled) -> str:
    """``moves``: the iterations that led to this frame, and the fast-forward frame count."""
    s = sk.s
    eps = eps_text(sk.pb, p)
    ref = f" (exact: {g(exact_cost)})" if exact_cost is not None else ""
    if s.iterations == 0:
        return (f"Sinkhorn starts from P⁰_ij = a_i b_j e^(−C_ij/ε) with {eps}: far from a "
                f"coupling, marginal violation ‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ = {e(v)}.")
    if sk.done:
        return (f"Sinkhorn converged after {s.iterations} iterations (violation {e(v)} < "
                f"{e(TOL)}) with {eps}: ⟨C, P⟩ = {g(cost)}{ref}, ⟨C, P⟩ + ε KL(P‖a⊗b) = "
                f"{g(obj)}; a smaller ε gives a sharper plan but needs more iterations.")
    if s.iterations >= p.max_iter:
        return (f"Sinkhorn stopped at max iterations = {s.iterations} with marginal violation "
                f"{e(v)} > {e(TOL)}: with {eps} each iteration moves the potentials little; "
                "raise max iterations or ε.")
    step, fast = moves
    if fast:
        return (f"Fast forward ({step} iterations per frame): ⟨C, P⟩ = {g(cost)}{ref} moved "
                f"{100 * lev.moved:.2g}% over the last {FLAT_ITERS} iterations, so the plan no "
                f"longer changes visibly; iteration {s.iterations}, the marginal violation "
                f"keeps falling: {e(v)}.")
    slow = " (slow motion: one iteration per frame)" if step == 1 else ""
    return (f"Sinkhorn iteration {s.iterations}{slow}: f_i += ε(log a_i − log Σ_j P_ij), then "
            f"g_j likewise, in the log domain with {eps}; marginal violation {e(v)}, "
            f"⟨C, P⟩ = {g(cost)}{ref}.")


def run_plan(p: Params, pb: Problem) -> FrameGenerator:
    n, m = len(pb.x), len(pb.y)
    method = p.method
    notes = pb.notes
    base = f"OT · {method}"
    step = 0
    indep_cost = transport_cost(independent_plan(pb.a, pb.b), pb.c)
    bars = {f"{BARS}/independent": indep_cost}

    def take(new: Any) -> None:
        nonlocal p
        p = live(p, new)

    if method == "independent":
        plan = independent_plan(pb.a, pb.b)
        caption = join(
            f"The independent coupling P = a⊗b: every source point sends its mass to every "
            f"target in proportion to b_j (segments: {INDEPENDENT_SEGMENTS} pairs drawn from "
            f"P); it costs ⟨C, P⟩ = E‖X − Y‖² = {g(indep_cost)} for {data_text(pb, p)}.",
            *notes)
        title = ("plan matrix: every entry 1/(n m)" if pb.uniform
                 else "plan matrix √P = √(a⊗b) (block means)")
        take((yield Frame(step, f"{base} · P = a⊗b",
                          (plan_panel(pb, plan, "independent: P = a⊗b", True),
                           matrix_panel(pb, plan, title)), total=1, values=bars,
                          caption=caption, series=SERIES, hold=HOLD_END)))
        return

    exact_cost = None
    exact_panel = None
    if method in ("exact", "exact vs sinkhorn"):
        # the first frame comes at once, before POT's import (~2 s: it loads torch) and the
        # solve (~1 s at 2000 × 2000); the window can abandon either if the run is cancelled
        caption = join(f"{data_text(pb, p)}; solving the exact problem (POT's network "
                       f"simplex on the {n} × {m} costs).", *notes)
        take((yield Frame(step, f"{base} · solving", (Panel(
            clouds(pb), title="source and target", xlim=pb.xlim, ylim=pb.ylim),),
            caption=caption, series=SERIES)))
        step += 1
        exact = exact_plan(pb.c, pb.a, pb.b)
        exact_cost = transport_cost(exact, pb.c)
        bars[f"{BARS}/exact"] = exact_cost
        if method == "exact":
            support = int(np.count_nonzero(exact))
            caption = join(
                f"The earth mover's plan minimises ⟨C, P⟩ = Σ_ij ‖x_i − y_j‖² P_ij over "
                f"couplings: {g(exact_cost)} against {g(indep_cost)} for the independent one, "
                f"a vertex of the polytope with {support} non-zero entries (at most "
                f"n + m − 1 = {n + m - 1}); marginal violation "
                f"{e(marginal_violation(exact, pb.a, pb.b))}.", *notes)
            yield Frame(step, f"{base} · earth mover's plan",
                        (plan_panel(pb, exact, "exact (earth mover's) plan"),
                         matrix_panel(pb, exact, "plan matrix √P (block means)")),
                        total=step + 1, values=bars, caption=caption, series=SERIES,
                        hold=HOLD_END)
            return
        exact_panel = plan_panel(pb, exact, "exact (earth mover's)")

    sk = SinkhornRun(pb)
    lev = Levelled()
    k, fast, moves = 0, 0, (0, 0)
    while True:
        v, cost, obj = sk.metrics()
        it = sk.s.iterations
        metrics = {f"{VIOLATION}/entropic": max(v, 1e-300), "cost/entropic": cost,
                   "cost/entropic + εKL": obj}
        panels = [plan_panel(pb, sk.plan, f"entropic, iteration {it}"),
                  matrix_panel(pb, sk.plan, "entropic plan matrix √P")]
        if exact_panel is not None:
            panels = [exact_panel, *panels]
        finished = sk.done or it >= p.max_iter
        if lev.add(it, cost, v) and not fast and not finished:
            fast = 1
        values = dict(bars)
        if finished:  # the entropic plan's cost is an end result once it is a coupling
            values[f"{BARS}/entropic"] = cost
        cap = work_cap(pb, fast > 0)
        end = lev.converges_at(p.max_iter)
        left = 0 if finished else frames_left(k, it, end, p.iters_per_frame, cap, fast)
        caption = join(_sinkhorn_caption(sk, p, exact_cost, v, cost, obj, moves, lev),
                       *(notes if it == 0 else ()))
        state = ("converged" if sk.done else "stopped at max iterations" if finished
                 else f"iteration {it}")
        take((yield Frame(step, f"{base} · {state}", tuple(panels), total=step + 1 + left,
                          metrics=metrics, caption=caption, log_metrics=(VIOLATION,),
                          series=SERIES, values=values, x=it, xlabel=XLABEL, pace=pace_of(k),
                          hold=HOLD_START if k == 0 else HOLD_END if finished else 0.0)))
        if finished:
            return
        per = min(iters_for(k, p.iters_per_frame, cap, fast), p.max_iter - it)
        moves = (per, fast)
        sk.advance(per)
        step, k = step + 1, k + 1
        fast = fast + 1 if fast else 0
