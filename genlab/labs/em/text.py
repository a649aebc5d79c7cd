"""The EM lab's sentences: numbers on screen, notes about degenerate components, and the race
between EM and Adam, all from the run's own values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genlab.engine import gmm

MATCH = 1e-3  # Adam "matches" EM within this much mean log-likelihood


def fmt(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}f}".replace("-", "−")


def eps(v: float) -> str:
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")


def _components(idx: Sequence[int]) -> str:
    """"Component 3 is" or "Components 0, 4, 5 … are", to open a sentence."""
    idx = [int(i) for i in idx]
    if len(idx) == 1:
        return f"Component {idx[0]} is"
    shown = ", ".join(str(i) for i in idx[:5]) + (" …" if len(idx) > 5 else "")
    return f"Components {shown} are"


def notes(s: gmm.GMMState, n: int, reg: float) -> list[str]:
    """Sentences about degenerate components of the state s."""
    out = []
    k = len(s.weights)
    nk = s.weights * n
    det = np.linalg.det(s.covariances)
    collapsing = np.flatnonzero((det < 10.0 * reg * reg) & (nk >= 1e-3))
    if len(collapsing):
        out.append(f"{_components(collapsing)} collapsing onto a few points; ε = {eps(reg)} "
                   f"keeps {'its covariance' if len(collapsing) == 1 else 'their covariances'}"
                   " finite.")
    empty = int(np.sum(nk < 1e-3))
    if empty:
        verb = "explains" if empty == 1 else "explain"
        out.append(f"{empty} of the {k} components {verb} almost no point (N_k < 0.001); "
                   "ε keeps them finite.")
    return out


def start_notes(k: int, n: int, n_distinct: int, reg: float) -> list[str]:
    out = []
    if k > n:
        out.append(f"K = {k} components for {n} points: some components get no points and "
                   f"are kept finite by ε = {eps(reg)}.")
    elif k > n_distinct:
        out.append(f"K = {k} components but only {n_distinct} distinct points: components "
                   f"must share points, and ε = {eps(reg)} keeps them finite.")
    if n_distinct < n:
        out.append(f"The data hold duplicates ({n_distinct} distinct points among {n}): a "
                   "component sitting on one of them shrinks to ε.")
    if n_distinct == 1:
        out.append("All points coincide: every covariance can only be ε I.")
    return out


def join(main: str, extra: Sequence[str]) -> str:
    return " ".join([main, *extra])


def race(em_iters: int, em_ll: float, adam_trace: list[tuple[int, float]]) -> str:
    """A sentence comparing EM's iterations with the Adam steps that matched its fit."""
    reached = [steps for steps, ll in adam_trace if ll >= em_ll - MATCH]
    head = f"EM converged in {em_iters} iterations; Adam "
    if reached:
        return head + (f"came within {MATCH:g} of its mean log-likelihood after {reached[0]} "
                       "steps.")
    steps = adam_trace[-1][0] if adam_trace else 0
    return head + f"is not within {MATCH:g} of its mean log-likelihood after {steps} steps."
