"""Exact OT and Sinkhorn at n = m = 2000: genlab.engine.ot against POT, in the same run.

Data: 2000 points of the "gaussian" set to 2000 of the "moons" set (seeds 0 and 1), uniform
weights, squared Euclidean cost.

* Exact: ours is ``coupling(x, y, "exact")``, our whole wrapper (weights, the cost matrix,
  then POT's ``ot.emd``); POT is ``ot.emd(a, b, M)`` on a precomputed ``M``.  Both with the same
  pivot cap; best of ``REPEATS``.
* Sinkhorn, ε = ``EPS_REL`` × the median cost, tolerance 1e-9: ours is ``LogSinkhorn`` (log
  domain, stops when the L1 marginal violation < 1e-9, checked every iteration); POT is
  ``ot.sinkhorn(..., method="sinkhorn_log")`` and the default ``method="sinkhorn"`` (the
  scaling form u = a / Kv) with ``stopThr=1e-9`` (POT stops when the L2 norm of the column
  marginal's error < 1e-9, checked every 10 iterations: a looser test, so it may stop
  earlier).  Iterations, time per iteration and the final L1 violation of each plan are given.
* A small ε (``SMALL_REL`` × the median cost), a fixed ``SMALL_ITERS`` iterations each: whether
  the result is finite (the scaling form is not: e^(−C/ε) underflows) and the time per
  iteration.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from benchmarks._common import best_of, headline, ms, table

N = 2000
EPS_REL = 0.05
SMALL_REL = 1e-3
SMALL_ITERS = 20
TOL = 1e-9
REPEATS = 2
EMD_ITERS = 50_000_000


def _pot_sinkhorn(ot, a, b, c, eps, method: str, iters: int, thr: float):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        plan, log = ot.sinkhorn(a, b, c, eps, method=method, numItermax=iters, stopThr=thr,
                                log=True)
        dt = time.perf_counter() - t
    # POT's "niter" is the index of the last iteration run (0-based)
    return dt, np.asarray(plan), int(log.get("niter", iters - 1)) + 1, caught


def run() -> None:
    import ot

    from genlab.engine import ot as got
    from genlab.engine.datasets import make_dataset

    x, _ = make_dataset("gaussian", N, 0.1, 0)
    y, _ = make_dataset("moons", N, 0.1, 1)
    a = np.full(N, 1.0 / N)
    b = np.full(N, 1.0 / N)
    c = got.cost_matrix(x, y)
    m_pot = ot.dist(x, y)  # POT's own squared Euclidean costs

    # ---------------------------------------------------------------- exact
    got.coupling(x[:50], y[:50], "exact")  # warm-up (imports, first-call allocations)
    t_ours, p_ours = best_of(lambda: got.coupling(x, y, "exact"), REPEATS)
    t_pot, p_pot = best_of(lambda: ot.emd(a, b, m_pot, numItermax=EMD_ITERS), REPEATS)
    d_cost = abs(got.transport_cost(p_ours, c) - got.transport_cost(p_pot, c))
    ratio_exact = t_ours / t_pot
    table(f"ot: exact OT, n = m = {N}, best of {REPEATS}",
          ("implementation", "time ms", "cost ⟨C,P⟩"),
          [("genlab coupling(x, y, 'exact') incl. cost matrix", ms(t_ours),
            f"{got.transport_cost(p_ours, c):.9f}"),
           (f"POT {ot.__version__} ot.emd (cost matrix given)", ms(t_pot),
            f"{got.transport_cost(p_pot, c):.9f}"),
           ("ratio ours / POT", f"{ratio_exact:.2f}", "")],
          notes=(f"|cost difference| = {d_cost:.1e}; ours calls ot.emd: the ratio is the "
                 "wrapper's overhead (weights and the cost matrix)",))

    # ---------------------------------------------------------------- sinkhorn to tolerance
    eps = EPS_REL * got.median_cost(c)
    t0 = time.perf_counter()
    s = got.LogSinkhorn(c, eps, a, b)
    s.run(100_000, TOL)
    p_s = s.plan()
    t_s = time.perf_counter() - t0
    it_s = s.iterations
    rows = [("genlab LogSinkhorn (log domain)", ms(t_s), str(it_s), ms(t_s / max(it_s, 1)),
             f"{got.marginal_violation(p_s, a, b):.1e}")]
    results = {}
    for label, method in (("POT sinkhorn_log", "sinkhorn_log"),
                          ("POT sinkhorn (scaling form)", "sinkhorn")):
        dt, plan, iters, _ = _pot_sinkhorn(ot, a, b, m_pot, eps, method, 100_000, TOL)
        results[method] = (dt, iters, plan)
        rows.append((label, ms(dt), str(iters), ms(dt / iters),
                     f"{got.marginal_violation(plan, a, b):.1e}"))
    r_log = t_s / results["sinkhorn_log"][0]
    r_std = t_s / results["sinkhorn"][0]
    per_ours = t_s / max(it_s, 1)
    per_log = results["sinkhorn_log"][0] / results["sinkhorn_log"][1]
    per_std = results["sinkhorn"][0] / results["sinkhorn"][1]
    d_plan = float(np.abs(p_s - results["sinkhorn_log"][2]).max())
    rows += [("ratio ours / POT log (time to tolerance)", f"{r_log:.2f}", "",
              f"{per_ours / per_log:.2f}", ""),
             ("ratio ours / POT scaling form", f"{r_std:.2f}", "", f"{per_ours / per_std:.2f}",
              "")]
    table(f"ot: Sinkhorn to tolerance {TOL:.0e}, n = m = {N}, ε = {EPS_REL} × median cost "
          f"= {eps:.4g}",
          ("implementation", "time ms", "iterations", "ms / iteration", "L1 violation"),
          rows,
          notes=(f"max |P_ours − P_POT log| = {d_plan:.1e} (plan entries ~{1 / N:.0e} / row)",
                 "ours stops on the L1 violation checked every iteration, POT on the L2 norm "
                 "of the column error every 10 iterations; the last column is the same L1 "
                 "measure for all",
                 "ratio row 'ms / iteration' compares the cost of one iteration"))

    # ---------------------------------------------------------------- small ε
    eps_small = SMALL_REL * got.median_cost(c)
    t0 = time.perf_counter()
    s2 = got.LogSinkhorn(c, eps_small, a, b)
    s2.run(SMALL_ITERS, 0.0)
    p2 = s2.plan()
    t_small = time.perf_counter() - t0
    rows = [("genlab LogSinkhorn", ms(t_small / SMALL_ITERS),
             str(bool(np.isfinite(p2).all())), f"{p2.sum():.3f}",
             f"{got.marginal_violation(p2, a, b):.2e}", "")]
    for label, method in (("POT sinkhorn_log", "sinkhorn_log"),
                          ("POT sinkhorn (scaling form)", "sinkhorn")):
        dt, plan, iters, caught = _pot_sinkhorn(ot, a, b, m_pot, eps_small, method,
                                                SMALL_ITERS, 0.0)
        finite = bool(np.isfinite(plan).all())
        note = "; ".join(sorted({str(w.message)[:40] for w in caught})) or "-"
        rows.append((label, ms(dt / iters), str(finite), f"{plan.sum():.3f}",
                     f"{got.marginal_violation(plan, a, b):.2e}" if finite else "nan", note))
    table(f"ot: small ε = {SMALL_REL:g} × median cost = {eps_small:.3g}, {SMALL_ITERS} "
          f"iterations each, n = m = {N}",
          ("implementation", "ms / iteration", "finite", "mass ΣP", "L1 violation",
           "POT warnings"),
          rows,
          notes=("the scaling form needs K = e^(−C/ε), which underflows to 0 for most pairs "
                 "here: POT stops at its first iteration and returns its last finite iterate",
                 "after so few iterations the log-domain solvers are still far from the "
                 "marginals (both the same); it is the time per iteration that compares"))

    headline("ot", f"exact OT at n = m = {N}, ours incl. costs", f"{t_ours * 1e3:.0f} ms")
    headline("ot", "exact ratio ours / POT ot.emd", f"{ratio_exact:.2f}", "<= 1.2",
             ratio_exact <= 1.2)
    headline("ot", "Sinkhorn ms per iteration, ours (log domain)", f"{per_ours * 1e3:.1f} ms",
             "tens of ms", per_ours < 0.1)
    headline("ot", "Sinkhorn time ratio ours / POT sinkhorn_log", f"{r_log:.2f}", "<= 1.0",
             r_log <= 1.0)
    headline("ot", "Sinkhorn time ratio ours / POT scaling form", f"{r_std:.2f}")
    headline("ot", "Sinkhorn iterations ours / POT log / POT scaling",
             f"{it_s} / {results['sinkhorn_log'][1]} / {results['sinkhorn'][1]}")
