r"""Discrete optimal transport between two weighted point clouds, squared Euclidean cost.

Given points :math:`x_i` (n, d) with weights :math:`a_i` and :math:`y_j` (m, d) with weights
:math:`b_j` (each summing to 1), a *coupling* (transport plan) is an (n, m) matrix
:math:`P \ge 0` with marginals :math:`P\mathbf 1 = a` and :math:`P^\top \mathbf 1 = b`.  The
cost is :math:`C_{ij} = \|x_i - y_j\|^2`.  Three couplings (Peyré & Cuturi, *Computational
Optimal Transport*, 2019, ch. 2-4; the numbers below refer to that book):

* ``"independent"``: the product of the marginals :math:`P = a b^\top` (feasible).  With
  positive weights it is optimal iff
  :math:`C_{ij} + C_{i'j'} = C_{ij'} + C_{i'j}` for all i, i', j, j' (no exchange of two
  pairs lowers the cost), which for the squared Euclidean cost reads
  :math:`(x_i - x_{i'})\cdot(y_j - y_{j'}) = 0`: one cloud is a single point, or the two
  clouds lie in orthogonal affine subspaces; otherwise it is not optimal;
* ``"exact"``: the earth mover's plan :math:`\arg\min_P \langle C, P\rangle` (eq. 2.11), a
  linear programme solved by POT's network simplex (``ot.emd``, imported lazily: POT imports
  torch);
* ``"sinkhorn"``: the entropic plan (eq. 4.2, in the KL form of remark 4.3)

  .. math:: P^\varepsilon = \arg\min_P \; \langle C, P\rangle
            + \varepsilon\, \mathrm{KL}(P \,\|\, a b^\top),

  whose minimiser has the form :math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij})/\varepsilon)`
  with dual potentials f, g.  On the set of couplings :math:`\mathrm{KL}(P\|ab^\top) = -H(P)`
  + a constant, so this is the same plan as POT's ``ot.sinkhorn`` (which minimises
  :math:`\langle C,P\rangle - \varepsilon H(P)`) for the same absolute ε.

Sinkhorn's iterations (eq. 4.43, the log-domain form) alternate

.. math:: f_i \leftarrow f_i + \varepsilon\,(\log a_i - \log \textstyle\sum_j P_{ij}), \qquad
          g_j \leftarrow g_j + \varepsilon\,(\log b_j - \log \textstyle\sum_i P_{ij}),

each making one marginal exact; equivalently :math:`f_i = -\varepsilon \log\sum_j b_j
e^{(g_j - C_{ij})/\varepsilon}` and the same for g.  :class:`LogSinkhorn` keeps the log-plan
:math:`L = \log P` itself, so a row update adds a vector to L's rows and the log-sums are
taken of :math:`L \le 0`: nothing overflows, and a small ε (1e-3 of the median cost, where
:math:`e^{-C/\varepsilon}` underflows to 0 for most pairs) stays finite.  A row (column)
whose whole mass underflows is summed again with its maximum subtracted (an exact
log-sum-exp), so the fast path needs no max pass.  L is rebuilt from f and g every
``REFRESH`` iterations so rounding does not drift.  The stopping rule is the L1 marginal
violation :math:`\|P\mathbf 1 - a\|_1 + \|P^\top\mathbf 1 - b\|_1 <` ``tol`` (after a column
update only the row term is non-zero).

Everything is numpy on the CPU (a 2000 x 2000 Sinkhorn iteration takes ~20 ms on one core);
there is no GPU path.  Points and weights of zero mass are allowed: a zero-weight point gets
an empty row (column) of the plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_ITER",
    "METHODS",
    "REFRESH",
    "TOL",
    "LogSinkhorn",
    "SinkhornWarning",
    "barycentric_projection",
    "check_weights",
    "cost_matrix",
    "coupling",
    "entropic_objective",
    "exact_plan",
    "import_pot",
    "independent_plan",
    "interpolate",
    "kl_to_product",
    "marginal_violation",
    "median_cost",
    "sinkhorn_iterates",
    "sinkhorn_plan",
    "transport_cost",
]

Array = NDArray[np.float64]
Method = Literal["independent", "exact", "sinkhorn"]

METHODS: tuple[str, ...] = ("independent", "exact", "sinkhorn")
TOL = 1e-9  # L1 marginal violation at which Sinkhorn stops
MAX_ITER = 10_000  # Sinkhorn's default iteration cap
REFRESH = 50  # rebuild L = log P from the potentials every this many iterations
EMD_MAX_ITER = 50_000_000  # the network simplex's pivot cap (POT's default 1e5 is too low at 2000)
_TINY = 1e-200  # a fast-path sum below this is redone as an exact log-sum-exp
# exp() of arguments below about −708 goes through libm's slow underflow path (denormals): ~50x
# slower.  Arguments are clipped here first; e^−700 ≈ 1e−304 changes no sum above _TINY.
_FLOOR = -700.0


class SinkhornWarning(UserWarning):
    """Sinkhorn reached its iteration cap before the marginal violation fell below tol."""


# ------------------------------------------------------------------------------ basics


def cost_matrix(x: ArrayLike, y: ArrayLike) -> Array:
    """Squared Euclidean costs C_ij = ‖x_i − y_j‖², shape (n, m), for x (n, d) and y (m, d).

    Summed coordinate by coordinate (no ‖x‖² + ‖y‖² − 2x·y cancellation), so C_ij = 0 exactly
    for coinciding points.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x (n, d) and y (m, d) needed, got {x.shape} and {y.shape}")
    c = np.zeros((len(x), len(y)))
    for k in range(x.shape[1]):
        d = np.subtract.outer(x[:, k], y[:, k])
        d *= d
        c += d
    return c


def check_weights(w: ArrayLike | None, n: int, name: str = "weights") -> Array:
    """Weights (n,) as float64 summing to 1: uniform 1/n when None.

    ValueError for a wrong length, a negative or non-finite entry, or a zero total.  Weights
    summing to 1 (to 1e-12) are used as given, others are divided by their sum.
    """
    if n < 1:
        raise ValueError(f"{name}: need at least one point")
    if w is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(w, dtype=np.float64).ravel()
    if len(w) != n:
        raise ValueError(f"{name} has {len(w)} entries for {n} points")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name} sum to zero")
    return w if abs(total - 1.0) < 1e-12 else w / total


def median_cost(c: ArrayLike) -> float:
    """The median entry of the cost matrix (the scale ε is given relative to in the lab)."""
    return float(np.median(np.asarray(c, dtype=np.float64)))


def marginal_violation(plan: ArrayLike, a: ArrayLike, b: ArrayLike) -> float:
    """L1 marginal violation ‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ of a plan (n, m) for weights a (n,), b (m,)."""
    p = np.asarray(plan, dtype=np.float64)
    return float(np.abs(p.sum(axis=1) - np.asarray(a)).sum()
                 + np.abs(p.sum(axis=0) - np.asarray(b)).sum())


def transport_cost(plan: ArrayLike, c: ArrayLike) -> float:
    """⟨C, P⟩ = Σ_ij C_ij P_ij, the plan's transport cost (the mean squared displacement)."""
    return float(np.vdot(np.asarray(c, dtype=np.float64), np.asarray(plan, dtype=np.float64)))


def kl_to_product(plan: ArrayLike, a: ArrayLike, b: ArrayLike) -> float:
    """KL(P ‖ a⊗b) = Σ_ij P_ij log(P_ij / (a_i b_j)) − P_ij + a_i b_j (0 log 0 = 0).

    The generalised KL divergence (it also takes plans whose total mass is not 1, as
    Sinkhorn's iterates); ≥ 0, and 0 exactly for P = a⊗b.  Entries with P_ij > 0 where
    a_i b_j = 0 make it infinite.
    """
    p = np.asarray(plan, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    q = np.outer(a, b)
    pos = p > 0
    if (pos & (q <= 0)).any():
        return float("inf")
    pp, qq = p[pos], q[pos]
    return float(np.sum(pp * np.log(pp / qq)) - p.sum() + q.sum())


def entropic_objective(plan: ArrayLike, c: ArrayLike, eps: float, a: ArrayLike,
                       b: ArrayLike) -> float:
    """⟨C, P⟩ + ε KL(P ‖ a⊗b): the objective Sinkhorn minimises (see the module docstring).

    POT's convention ⟨C, P⟩ − ε H(P) with H(P) = −Σ P_ij (log P_ij − 1) differs from this one
    on couplings by a constant: this = POT's + ε (H(a) + H(b) + 1), H(w) = −Σ w log w, so both
    have the same minimiser.
    """
    return transport_cost(plan, c) + eps * kl_to_product(plan, a, b)


# ------------------------------------------------------------------------------ couplings


def independent_plan(a: ArrayLike, b: ArrayLike) -> Array:
    """The product coupling P = a bᵀ (n, m): every source point sends mass to every target."""
    return np.outer(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def import_pot() -> None:
    """Import POT now: ~2 s the first time, as it loads torch (a lab does this before its first
    frame, so that later frames, and cancelling, are not held up by it)."""
    import ot  # noqa: F401


def exact_plan(c: ArrayLike, a: ArrayLike | None = None, b: ArrayLike | None = None,
               max_iter: int = EMD_MAX_ITER) -> Array:
    """The earth mover's plan argmin_P ⟨C, P⟩ over couplings (n, m), by POT's network simplex.

    ``ot.emd`` solves the linear programme exactly (a vertex of the coupling polytope: at most
    n + m − 1 non-zero entries).  Imports POT (and so torch) on first use.  POT warns
    (UserWarning) if ``max_iter`` pivots were not enough.
    """
    import ot  # lazily: POT imports torch (~2 s)

    c = np.ascontiguousarray(c, dtype=np.float64)
    n, m = c.shape
    a = check_weights(a, n, "a")
    b = check_weights(b, m, "b")
    return np.asarray(ot.emd(a, b, c, numItermax=int(max_iter)), dtype=np.float64)


class LogSinkhorn:
    """Log-domain Sinkhorn for the entropic plan of eq. (4.2), stepped a few iterations at a time.

    cost: (n, m); eps: absolute regularisation ε > 0; a (n,), b (m,): weights (uniform when
    None).  State: ``f`` (n,), ``g`` (m,) the dual potentials (P_ij = a_i b_j
    exp((f_i + g_j − C_ij)/ε)), ``iterations`` done, ``violation`` the L1 marginal
    violation of the current plan (after a column update only ‖P1 − a‖₁ is counted: the
    column term is 0 up to rounding, ~1e−16).  One iteration is a row update then a column
    update (module docstring).  FloatingPointError if a NaN or infinity appears.
    """

    def __init__(self, cost: ArrayLike, eps: float, a: ArrayLike | None = None,
                 b: ArrayLike | None = None) -> None:
        c = np.asarray(cost, dtype=np.float64)
        if c.ndim != 2:
            raise ValueError(f"cost must be (n, m), got shape {c.shape}")
        n, m = c.shape
        if not (np.isfinite(eps) and eps > 0):
            raise ValueError(f"ε must be a positive number, got {eps}")
        self.a = check_weights(a, n, "a")
        self.b = check_weights(b, m, "b")
        self.eps = float(eps)
        self.shape = (n, m)
        # Zero-weight points carry no mass: solve on the support, embed in plan().
        self._rows = np.flatnonzero(self.a > 0)
        self._cols = np.flatnonzero(self.b > 0)
        self._full = len(self._rows) == n and len(self._cols) == m
        self._c = c if self._full else c[np.ix_(self._rows, self._cols)]
        if not np.isfinite(self._c).all():
            raise ValueError("the cost matrix holds a NaN or an infinity")
        self._loga = np.log(self.a[self._rows])
        self._logb = np.log(self.b[self._cols])
        self._f = np.zeros(len(self._rows))
        self._g = np.zeros(len(self._cols))
        self._L = np.empty_like(self._c)
        self._buf = np.empty_like(self._c)
        self._rebuild()
        self.iterations = 0
        # The start (f = g = 0) violates both marginals; later states only the rows.
        self._log_r = self._lse(axis=1)
        col = np.exp(self._lse(axis=0))
        self.violation = float(np.abs(np.exp(self._log_r) - self.a[self._rows]).sum()
                               + np.abs(col - self.b[self._cols]).sum())
        self._check()

    # -- the potentials, on every point (a zero-weight point's potential is 0) -------------
    @property
    def f(self) -> Array:
        out = np.zeros(self.shape[0])
        out[self._rows] = self._f
        return out

    @property
    def g(self) -> Array:
        out = np.zeros(self.shape[1])
        out[self._cols] = self._g
        return out

    def converged(self, tol: float = TOL) -> bool:
        return self.violation < tol

    def _rebuild(self) -> None:
        """L = log a_i + log b_j + (f_i + g_j − C_ij) / ε, from scratch (no drift)."""
        L = self._L
        np.subtract(self._g[None, :], self._c, out=L)
        L += self._f[:, None]
        L /= self.eps
        L += self._loga[:, None]
        L += self._logb[None, :]
        # Clipping costs a pass: pay it only when L reaches the slow range (a small ε).
        self._clip = bool(L.size) and float(L.min()) < _FLOOR + 100.0

    def _exp(self, out: Array) -> Array:
        """exp(L) into ``out``, entries below e^_FLOOR replaced by e^_FLOOR when clipping."""
        if self._clip:
            np.maximum(self._L, _FLOOR, out=out)
            return np.exp(out, out=out)
        return np.exp(self._L, out=out)

    def _lse(self, axis: int) -> Array:
        """log Σ exp(L) along ``axis`` (1: per row, 0: per column).

        Fast path: L ≤ 0 up to the marginal errors, so exp cannot overflow; sums that
        underflow (or are not finite) are redone with the maximum subtracted.
        """
        s = self._exp(self._buf).sum(axis=axis)
        with np.errstate(divide="ignore"):
            out = np.log(s)
        bad = np.flatnonzero(~(s > _TINY) | ~np.isfinite(s))
        if len(bad):
            sub = self._L[bad] if axis == 1 else self._L[:, bad].T
            mx = sub.max(axis=1)
            finite = np.isfinite(mx)
            safe = np.where(finite, mx, 0.0)
            z = np.exp(np.maximum(sub - safe[:, None], _FLOOR)).sum(axis=1)
            out[bad] = np.where(finite, safe + np.log(z), mx)
        return out

    def _check(self) -> None:
        if not np.isfinite(self.violation):
            raise FloatingPointError(
                f"Sinkhorn produced a NaN or an infinity at iteration {self.iterations} "
                f"(ε = {self.eps:.3g}); try a larger ε")

    def _iterate(self) -> None:
        eps, L = self.eps, self._L
        # Row update: the cached log row sums make the rows exact.
        d = self._loga - self._log_r
        self._f += eps * d
        L += d[:, None]
        # Column update.
        d = self._logb - self._lse(axis=0)
        self._g += eps * d
        L += d[None, :]
        self.iterations += 1
        if self.iterations % REFRESH == 0:
            self._rebuild()
        # The new state's row sums: its violation now, the next row update later.
        self._log_r = self._lse(axis=1)
        self.violation = float(np.abs(np.exp(self._log_r) - self.a[self._rows]).sum())
        self._check()

    def run(self, steps: int, tol: float = TOL) -> bool:
        """Up to ``steps`` more iterations, stopping once violation < tol; True if converged."""
        for _ in range(int(steps)):
            if self.violation < tol:
                break
            self._iterate()
        return self.violation < tol

    def plan(self) -> Array:
        """The current plan P = exp(L), (n, m) (zero rows/columns for zero-weight points).

        Entries below e^−700 ≈ 1e−304 are returned as exactly 0.
        """
        p = self._exp(np.empty_like(self._L))
        if self._clip:
            p[self._L < _FLOOR] = 0.0
        if self._full:
            return p
        out = np.zeros(self.shape)
        out[np.ix_(self._rows, self._cols)] = p
        return out

    def kl_to_product(self, plan: Array | None = None) -> float:
        """KL(P ‖ a⊗b) of the current plan (as :func:`kl_to_product`), read off L = log P:
        Σ P L − Σ_i r_i log a_i − Σ_j c_j log b_j − Σ P + 1 with r, c P's marginals.

        ``plan``: the current ``plan()``, if already computed (saves an exp pass).
        """
        p = self.plan() if plan is None else np.asarray(plan, dtype=np.float64)
        if not self._full:
            p = p[np.ix_(self._rows, self._cols)]
        return float(np.vdot(p, self._L) - p.sum(axis=1) @ self._loga
                     - p.sum(axis=0) @ self._logb - p.sum() + 1.0)

    def log_plan(self) -> Array:
        """log P on the support (a view of the solver's state: do not modify)."""
        return self._L


def _warn_cap(s: LogSinkhorn, tol: float) -> None:
    warnings.warn(
        f"Sinkhorn stopped at its iteration cap: {s.iterations} iterations, marginal violation "
        f"{s.violation:.2e} > tol {tol:.0e} (ε = {s.eps:.3g}); raise max_iter or ε",
        SinkhornWarning, stacklevel=3)


def sinkhorn_plan(c: ArrayLike, eps: float, a: ArrayLike | None = None,
                  b: ArrayLike | None = None, max_iter: int = MAX_ITER,
                  tol: float = TOL) -> Array:
    """The entropic plan (n, m) for cost c and absolute ε, by :class:`LogSinkhorn`.

    Runs until the L1 marginal violation is below ``tol`` or ``max_iter`` iterations were done
    (then a SinkhornWarning says how far it got).
    """
    s = LogSinkhorn(c, eps, a, b)
    if not s.run(max_iter, tol):
        _warn_cap(s, tol)
    return s.plan()


def coupling(x: ArrayLike, y: ArrayLike, method: Method | str, eps: float | None = None,
             a: ArrayLike | None = None, b: ArrayLike | None = None, *,
             max_iter: int = MAX_ITER, tol: float = TOL) -> Array:
    """A coupling (n, m) of x (n, d) weighted by a and y (m, d) weighted by b, cost ‖x − y‖².

    method: "independent" (a bᵀ), "exact" (earth mover's, POT's ``ot.emd``) or "sinkhorn"
    (entropic with absolute regularisation ``eps``, log domain, until the L1 marginal
    violation < ``tol`` or ``max_iter`` iterations, with a SinkhornWarning in that case).
    Weights are uniform when None.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = check_weights(a, len(x), "a")
    b = check_weights(b, len(y), "b")
    if method == "independent":
        return independent_plan(a, b)
    if method == "exact":
        return exact_plan(cost_matrix(x, y), a, b)
    if method == "sinkhorn":
        if eps is None:
            raise ValueError("method 'sinkhorn' needs eps (the absolute regularisation ε)")
        return sinkhorn_plan(cost_matrix(x, y), eps, a, b, max_iter, tol)
    raise ValueError(f"unknown method {method!r}: valid methods are {', '.join(METHODS)}")


def sinkhorn_iterates(x: ArrayLike, y: ArrayLike, eps: float, a: ArrayLike | None = None,
                      b: ArrayLike | None = None, *, max_iter: int = MAX_ITER,
                      tol: float = TOL, every: int = 1) -> Iterator[Array]:
    """Successive Sinkhorn plans (n, m): the start P⁰_ij = a_i b_j e^(−C_ij/ε), then the plan
    after every ``every`` iterations, and always the last one (converged or at the cap, with a
    SinkhornWarning then), which equals ``coupling(x, y, "sinkhorn", eps, a, b)``.
    """
    if every < 1:
        raise ValueError("every must be at least 1")
    s = LogSinkhorn(cost_matrix(x, y), eps, a, b)
    yield s.plan()
    while not s.converged(tol) and s.iterations < max_iter:
        s.run(min(every, max_iter - s.iterations), tol)
        yield s.plan()
    if not s.converged(tol):
        _warn_cap(s, tol)


# ------------------------------------------------------------------------------ geodesics


def barycentric_projection(plan: ArrayLike, y: ArrayLike) -> Array:
    """T(x_i) = Σ_j P_ij y_j / Σ_j P_ij, shape (n, d): where each source point's mass goes on
    average.  A row carrying no mass maps to the plan-weighted mean of y (or y's mean)."""
    p = np.asarray(plan, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mass = p.sum(axis=1)
    out = p @ y
    total = mass.sum()
    fallback = (p.sum(axis=0) @ y) / total if total > 0 else y.mean(axis=0)
    pos = mass > 0
    out[pos] /= mass[pos, None]
    out[~pos] = fallback
    return out


def interpolate(x: ArrayLike, y: ArrayLike, plan: ArrayLike, t: float,
                mode: Literal["auto", "pairs", "barycentric"] = "auto"
                ) -> tuple[Array, Array]:
    """Displacement interpolation at time t ∈ [0, 1]: (points (k, d), masses (k,)).

    ``"pairs"`` (McCann's interpolant, Peyré & Cuturi remark 2.13, for an exact plan): every
    pair (i, j) with P_ij > 0 is a particle of mass P_ij at (1 − t) x_i + t y_j.
    ``"barycentric"`` (for an entropic plan, whose pairs would blur): x_i of mass Σ_j P_ij moves
    to (1 − t) x_i + t T(x_i), T the barycentric projection.  ``"auto"`` takes "pairs" when
    the plan has at most n + m − 1 non-zero entries (a vertex of the coupling polytope, as the
    exact plan is) and "barycentric" otherwise.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(plan, dtype=np.float64)
    n, m = p.shape
    if mode == "auto":
        mode = "pairs" if np.count_nonzero(p) <= n + m - 1 else "barycentric"
    if mode == "pairs":
        i, j = np.nonzero(p > 0)
        return (1.0 - t) * x[i] + t * y[j], p[i, j]
    if mode == "barycentric":
        return (1.0 - t) * x + t * barycentric_projection(p, y), p.sum(axis=1)
    raise ValueError(f"unknown mode {mode!r}: valid modes are auto, pairs, barycentric")
