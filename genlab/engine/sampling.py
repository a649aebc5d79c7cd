"""From uniform numbers to samples: LCGs, the spectral test, Box-Muller, inverse CDF,
Cholesky and ancestral sampling.  numpy/scipy only.

Linear congruential generator (Lehmer 1949; Knuth, TAOCP vol. 2, sec. 3.2.1)::

    X_{t+1} = (a X_t + c) mod m,        U_t = X_t / m  in [0, 1)

Its successive d-tuples (U_t, ..., U_{t+d-1}) lie on a lattice, hence on families of parallel
hyperplanes; the spectral test (TAOCP sec. 3.3.4) finds the family that is farthest apart.

Box-Muller (1958): for U1, U2 ~ U(0, 1) independent, R = sqrt(-2 ln U1), theta = 2 pi U2,
(R cos theta, R sin theta) are two independent N(0, 1) draws.

Inverse CDF: if U ~ U(0, 1) then X = F^{-1}(U) has CDF F.

Cholesky: if z ~ N(0, I) and Sigma = L L^T then x = mu + L z ~ N(mu, Sigma).

Ancestral sampling of a mixture: k ~ Categorical(pi), then x ~ N(mu_k, Sigma_k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

# ---------------------------------------------------------------------------- LCG


class LCGSpec(NamedTuple):
    """A linear congruential generator X_{t+1} = (a X_t + c) mod m."""

    m: int
    a: int
    c: int


GENERATORS: dict[str, LCGSpec] = {
    # IBM's infamous RANDU (1960s): triples fall on 15 planes, x_{k+2} = 6 x_{k+1} - 9 x_k.
    "RANDU": LCGSpec(2**31, 65539, 0),
    # Park & Miller's "minimal standard", revised multiplier (1993).
    "MINSTD": LCGSpec(2**31 - 1, 48271, 0),
    # Numerical Recipes' quick-and-dirty 32-bit generator.
    "Numerical Recipes": LCGSpec(2**32, 1664525, 1013904223),
    # A toy with a full period of 256: its pairs lie on 22 lines, its triples on 8 planes.
    "tiny lattice": LCGSpec(256, 137, 187),
}


def ndtr(x: Any) -> Any:
    """Standard normal CDF (scipy.special.ndtr, imported on first use to keep start-up fast)."""
    from scipy.special import ndtr as f

    return f(x)


def ndtri(u: Any) -> Any:
    """Standard normal quantile (scipy.special.ndtri, imported on first use)."""
    from scipy.special import ndtri as f

    return f(u)


def _check_lcg(m: int, a: int, c: int, x0: int, n: int) -> tuple[int, int, int, int, int]:
    m, a, c, x0, n = (int(v) for v in (m, a, c, x0, n))
    if not 2 <= m <= 2**64:
        raise ValueError(f"the modulus m must be in [2, 2**64], got {m}")
    if a < 0 or c < 0 or x0 < 0:
        raise ValueError(f"a, c and x0 must be >= 0, got a={a}, c={c}, x0={x0}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return m, a % m, c % m, x0 % m, n


def _lcg_python(m: int, a: int, c: int, x0: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    x = x0
    for i in range(n):
        x = (a * x + c) % m
        out[i] = x
    return out


def lcg(m: int, a: int, c: int, x0: int, n: int) -> np.ndarray:
    """The states X_1, ..., X_n (uint64, shape (n,)) of X_{t+1} = (a X_t + c) mod m.

    The seed X_0 = x0 is not part of the output: the first value is X_1 = (a x0 + c) mod m.
    a, c and x0 are taken mod m.  Arithmetic is exact for every m <= 2**64.

    For m <= 2**32 (and for any power of two up to 2**64, where uint64 wrap-around *is*
    arithmetic mod 2**64) the sequence is vectorised by jumping ahead: with B a block
    length, X_{t+B} = (A X_t + C) mod m where A = a^B mod m and C = c (a^{B-1} + ... + 1)
    mod m, so each block is one numpy operation on the previous block.  Other moduli above
    2**32 fall back to exact Python integers.
    """
    m, a, c, x0, n = _check_lcg(m, a, c, x0, n)
    pow2 = m & (m - 1) == 0
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if m > 2**32 and not pow2:
        return _lcg_python(m, a, c, x0, n)
    block = max(1, min(n, int(math.isqrt(n)) + 1, 4096))
    first = _lcg_python(m, a, c, x0, block)
    # jump-ahead constants for B = block, exact in Python ints
    big_a, big_c = 1, 0
    for _ in range(block):
        big_a, big_c = (a * big_a) % m, (a * big_c + c) % m
    out = np.empty(n, dtype=np.uint64)
    out[:block] = first
    mask = np.uint64((m - 1) if m < 2**64 else 2**64 - 1)
    ua, uc, um = np.uint64(big_a), np.uint64(big_c), np.uint64(m % 2**64)
    prev = first
    with np.errstate(over="ignore"):
        for start in range(block, n, block):
            if pow2:  # exact mod 2**64, then mod m by masking
                nxt = (ua * prev + uc) & mask
            else:  # A, X, C < 2**32: A X + C < 2**64 fits uint64 exactly
                nxt = (ua * prev + uc) % um
            stop = min(n, start + block)
            out[start:stop] = nxt[:stop - start]
            prev = nxt
    return out


def lcg_uniforms(m: int, a: int, c: int, x0: int, n: int) -> np.ndarray:
    """U_t = X_t / m for t = 1..n (float64 in [0, 1)); see ``lcg``."""
    x = lcg(m, a, c, x0, n)
    u = x.astype(np.float64) / float(m)
    # for m near 2**64 a state m - 1 rounds to 1.0 in float64: keep the interval half-open
    return np.minimum(u, np.nextafter(1.0, 0.0))


# ---------------------------------------------------------------------------- spectral test


def _lll(basis: list[list[int]], delta: Fraction = Fraction(99, 100)) -> list[list[int]]:
    """LLL-reduce integer row vectors with exact rational arithmetic (small dimensions)."""
    b = [list(map(int, row)) for row in basis]
    n = len(b)

    def dot(u: Sequence[int | Fraction], v: Sequence[int | Fraction]) -> Any:
        return sum(x * y for x, y in zip(u, v, strict=True))

    def gram_schmidt() -> tuple[list[list[Fraction]], list[list[Fraction]], list[Fraction]]:
        bstar: list[list[Fraction]] = []
        mu = [[Fraction(0)] * n for _ in range(n)]
        norms: list[Fraction] = []
        for i in range(n):
            v = [Fraction(x) for x in b[i]]
            for j in range(i):
                mu[i][j] = dot(b[i], bstar[j]) / norms[j]
                v = [vi - mu[i][j] * bj for vi, bj in zip(v, bstar[j], strict=True)]
            bstar.append(v)
            norms.append(dot(v, v))
        return bstar, mu, norms

    _, mu, norms = gram_schmidt()
    k = 1
    while k < n:
        for j in range(k - 1, -1, -1):
            q = round(mu[k][j])
            if q:
                b[k] = [x - q * y for x, y in zip(b[k], b[j], strict=True)]
                _, mu, norms = gram_schmidt()
        if norms[k] >= (delta - mu[k][k - 1] ** 2) * norms[k - 1]:
            k += 1
        else:
            b[k], b[k - 1] = b[k - 1], b[k]
            _, mu, norms = gram_schmidt()
            k = max(k - 1, 1)
    return b


def _shortest_vector(basis: list[list[int]]) -> list[int]:
    """Shortest nonzero vector of the lattice spanned by an LLL-reduced basis.

    Fincke-Pohst enumeration: with Gram-Schmidt norms B_i and coefficients mu, a vector
    sum_i x_i b_i has squared length sum_i B_i (x_i + sum_{j>i} mu_ji x_j)^2, so for a bound
    R each x_i, given x_{i+1..d}, ranges over a short interval.  Floats only prune; lengths
    of candidates are computed exactly in integers.
    """
    d = len(basis)
    bm = np.array(basis, dtype=np.float64)
    mu = np.zeros((d, d))
    bstar = np.zeros_like(bm)
    bnorm = np.zeros(d)
    for i in range(d):
        v = bm[i].copy()
        for j in range(i):
            mu[i, j] = bm[i] @ bstar[j] / bnorm[j]
            v -= mu[i, j] * bstar[j]
        bstar[i] = v
        bnorm[i] = v @ v

    def norm2(coef: list[int]) -> int:
        vec = [sum(coef[i] * basis[i][k] for i in range(d)) for k in range(len(basis[0]))]
        return sum(x * x for x in vec)

    best = list(basis[0])
    best_n2 = sum(x * x for x in best)
    best_coef = [1] + [0] * (d - 1)
    coef = [0] * d

    def search(i: int, partial: float) -> None:
        nonlocal best_n2, best_coef
        centre = -sum(mu[j, i] * coef[j] for j in range(i + 1, d))
        room = (best_n2 * (1 + 1e-9) + 1e-9 - partial) / bnorm[i]
        if room < 0:
            return
        half = math.sqrt(room)
        for x in range(math.ceil(centre - half), math.floor(centre + half) + 1):
            coef[i] = x
            p = partial + bnorm[i] * (x - centre) ** 2
            if i == 0:
                if any(coef):
                    n2 = norm2(coef)
                    if n2 < best_n2:
                        best_n2, best_coef = n2, list(coef)
            else:
                search(i - 1, p)
        coef[i] = 0

    search(d - 1, 0.0)
    return [sum(best_coef[i] * basis[i][k] for i in range(d)) for k in range(len(basis[0]))]


def planes_hit(tuples: np.ndarray, h: np.ndarray) -> int:
    """How many hyperplanes h·u = k + δ of a family actually carry points of ``tuples``
    (n, d): the distinct values of h·U.  ``worst_planes`` counts the planes that cross the
    unit cube, an upper bound (a tiny LCG's full period meets 21 of its 22 lines: one
    clips a corner with no point on it)."""
    v = np.asarray(tuples, np.float64) @ np.asarray(h, np.float64)
    return int(len(np.unique(np.round(v, 6))))


def worst_planes(m: int, a: int, dim: int = 3, c: int = 0) -> tuple[np.ndarray, int]:
    """The spectral test: the normal of the widest-spaced family of hyperplanes.

    Successive d-tuples U = (U_t, ..., U_{t+d-1}) of an LCG satisfy, for any integer vector
    h with

        h_1 + a h_2 + a^2 h_3 + ... + a^{d-1} h_d = 0 (mod m)        (the dual lattice),

    h . U = k + delta for an integer k and a fixed offset delta (0 when c = 0): the points lie
    on parallel hyperplanes orthogonal to h, spaced 1 / |h| apart.  The shortest such nonzero
    h gives the widest spacing (Knuth's nu_d = |h|).  It is found exactly by LLL reduction of
    the dual lattice's basis {(m, 0, ..., 0), (-a mod m, 1, 0, ...), (-a^2 mod m, 0, 1, ...),
    ...} followed by a Fincke-Pohst enumeration (fine for dim <= ~6).

    Returns ``(h, n_planes)``: h (dim,) int64 with its first nonzero entry positive, and the
    number of hyperplanes of the family h . u = k + delta that meet the unit cube [0, 1)^dim
    (an upper bound on how many carry points).  For RANDU, dim 3: h = (9, -6, 1), 15 planes.
    """
    m, a, dim, c = int(m), int(a) % int(m), int(dim), int(c) % int(m)
    if m < 2:
        raise ValueError(f"the modulus m must be >= 2, got {m}")
    if not 1 <= dim <= 8:
        raise ValueError(f"dim must be in 1..8, got {dim}")
    basis = [[m] + [0] * (dim - 1)]
    for i in range(1, dim):
        row = [0] * dim
        row[0] = (-pow(a, i, m)) % m
        row[i] = 1
        basis.append(row)
    h = _shortest_vector(_lll(basis)) if dim > 1 else [m]
    first = next(x for x in h if x != 0)
    if first < 0:
        h = [-x for x in h]
    # offset: U_{t+i} = a^i U_t + c (a^{i-1} + ... + 1) / m  (mod 1)
    s, acc = 0, 0
    for hi in h:
        s += hi * acc
        acc = (acc * a + 1) % m
    delta = Fraction(c * s % m, m)
    pos = sum(x for x in h if x > 0)
    neg = sum(x for x in h if x < 0)
    # h . u ranges over [neg, pos) on [0, 1)^d, with neg attained only if neg == 0
    lo_k = math.ceil(neg - delta) if neg == 0 else math.floor(neg - delta) + 1
    hi_k = math.ceil(pos - delta) - 1 if pos > 0 else math.floor(pos - delta)
    n_planes = max(0, hi_k - lo_k + 1)
    return np.array(h, dtype=np.int64), int(n_planes)


# ---------------------------------------------------------------------------- Box-Muller


def box_muller(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent N(0, 1) arrays from two independent U(0, 1) arrays.

        R = sqrt(-2 ln u1),  theta = 2 pi u2,  z1 = R cos theta,  z2 = R sin theta.

    u1 = 0 (which an LCG can produce) is raised to 2**-53, the smallest positive value of a
    53-bit uniform, so R stays finite (at most ~8.6).
    """
    u1 = np.maximum(np.asarray(u1, dtype=np.float64), 2.0**-53)
    u2 = np.asarray(u2, dtype=np.float64)
    r = np.sqrt(-2.0 * np.log(u1))
    theta = 2.0 * np.pi * u2
    return r * np.cos(theta), r * np.sin(theta)


# ---------------------------------------------------------------------------- 1D distributions

DISTRIBUTIONS: tuple[str, ...] = ("exponential", "gaussian", "mixture")


def _mixture_args(weights: Any, means: Any, stds: Any) -> tuple[np.ndarray, ...]:
    w = np.asarray(weights, dtype=np.float64).ravel()
    mu = np.asarray(means, dtype=np.float64).ravel()
    sd = np.asarray(stds, dtype=np.float64).ravel()
    if not (len(w) == len(mu) == len(sd) >= 1):
        raise ValueError("a mixture needs weights, means and stds of one length >= 1")
    if (w < 0).any() or w.sum() <= 0 or (sd <= 0).any():
        raise ValueError("mixture weights must be >= 0 (not all 0) and stds > 0")
    if not (np.isfinite(w).all() and np.isfinite(mu).all() and np.isfinite(sd).all()):
        raise ValueError("mixture parameters must be finite")
    return w / w.sum(), mu, sd


def _check_dist(dist: str) -> None:
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution '{dist}': valid ones are "
                         f"{', '.join(DISTRIBUTIONS)}")


def _positive(name: str, v: float) -> float:
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def pdf(dist: str, x: Any, **params: Any) -> np.ndarray:
    """Density of ``dist`` at x.

    exponential(rate): rate e^{-rate x} for x >= 0;  gaussian(mu, sigma):
    exp(-(x - mu)^2 / 2 sigma^2) / (sigma sqrt(2 pi));  mixture(weights, means, stds):
    sum_k w_k N(x; mean_k, std_k^2).
    """
    _check_dist(dist)
    x = np.asarray(x, dtype=np.float64)
    if dist == "exponential":
        rate = _positive("rate", params.pop("rate", 1.0))
        _no_more(params)
        return np.where(x >= 0, rate * np.exp(-rate * np.maximum(x, 0.0)), 0.0)
    if dist == "gaussian":
        mu, sigma = float(params.pop("mu", 0.0)), _positive("sigma", params.pop("sigma", 1.0))
        _no_more(params)
        return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    w, mu, sd = _mixture_args(params.pop("weights"), params.pop("means"), params.pop("stds"))
    _no_more(params)
    zz = (x[..., None] - mu) / sd
    return (w * np.exp(-0.5 * zz**2) / (sd * math.sqrt(2 * math.pi))).sum(axis=-1)


def cdf(dist: str, x: Any, **params: Any) -> np.ndarray:
    """Distribution function F(x) of ``dist`` (parameters as in ``pdf``).

    exponential: 1 - e^{-rate x} (x >= 0);  gaussian: Phi((x - mu) / sigma);
    mixture: sum_k w_k Phi((x - mean_k) / std_k).
    """
    _check_dist(dist)
    x = np.asarray(x, dtype=np.float64)
    if dist == "exponential":
        rate = _positive("rate", params.pop("rate", 1.0))
        _no_more(params)
        return np.where(x >= 0, -np.expm1(-rate * np.maximum(x, 0.0)), 0.0)
    if dist == "gaussian":
        mu, sigma = float(params.pop("mu", 0.0)), _positive("sigma", params.pop("sigma", 1.0))
        _no_more(params)
        return ndtr((x - mu) / sigma)
    w, mu, sd = _mixture_args(params.pop("weights"), params.pop("means"), params.pop("stds"))
    _no_more(params)
    return (w * ndtr((x[..., None] - mu) / sd)).sum(axis=-1)


def _no_more(params: dict[str, Any]) -> None:
    if params:
        raise TypeError(f"unexpected parameter(s): {', '.join(params)}")


def inverse_cdf(dist: str, u: Any, **params: Any) -> np.ndarray:
    """The quantile function x = F^{-1}(u) (parameters as in ``pdf``); u in [0, 1].

    exponential: x = -ln(1 - u) / rate;  gaussian: x = mu + sigma Phi^{-1}(u);
    mixture: no closed form, so F(x) = u is solved by Newton's method,
    x <- x - (F(x) - u) / f(x), safeguarded by bisection inside a bracket that always holds
    the root, vectorised over u, to |dx| <= 1e-10 (1 + |x|).  u = 0 and u = 1 give the
    support's ends (-inf / +inf, or 0 for the exponential) like scipy's ``ppf``.
    """
    _check_dist(dist)
    u = np.asarray(u, dtype=np.float64)
    if ((u < 0) | (u > 1) | ~np.isfinite(u)).any():
        raise ValueError("u must lie in [0, 1]")
    if dist == "exponential":
        rate = _positive("rate", params.pop("rate", 1.0))
        _no_more(params)
        return -np.log1p(-u) / rate
    if dist == "gaussian":
        mu, sigma = float(params.pop("mu", 0.0)), _positive("sigma", params.pop("sigma", 1.0))
        _no_more(params)
        return mu + sigma * ndtri(u)
    w, mu, sd = _mixture_args(params.pop("weights"), params.pop("means"), params.pop("stds"))
    _no_more(params)
    return _mixture_quantile(u, w, mu, sd)


def _mixture_quantile(u: np.ndarray, w: np.ndarray, mu: np.ndarray,
                      sd: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    shape = u.shape
    uf = u.ravel()
    out = np.empty_like(uf)
    out[uf <= 0] = -np.inf
    out[uf >= 1] = np.inf
    inside = (uf > 0) & (uf < 1)
    t = uf[inside]
    # every component's quantile brackets the mixture's: F is a convex combination of F_k
    qk = mu + sd * ndtri(t[:, None])
    lo, hi = qk.min(axis=1), qk.max(axis=1)
    x = (w * qk).sum(axis=1)
    active = np.arange(len(t))  # indices still iterating; converged ones are frozen
    for _ in range(200):
        if len(active) == 0:
            break
        xa, ta = x[active], t[active]
        zz = (xa[:, None] - mu) / sd
        f = (w * ndtr(zz)).sum(axis=1) - ta
        lo[active] = np.where(f < 0, xa, lo[active])
        hi[active] = np.where(f > 0, xa, hi[active])
        dens = (w * np.exp(-0.5 * zz**2) / (sd * math.sqrt(2 * math.pi))).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - f / dens
        la, ha = lo[active], hi[active]
        ok = np.isfinite(newton) & (newton >= la) & (newton <= ha)
        nxt = np.where(ok, newton, 0.5 * (la + ha))
        nxt = np.where(f == 0, xa, nxt)
        x[active] = nxt
        done = np.abs(nxt - xa) <= tol * (1 + np.abs(nxt))
        active = active[~done]
    out[inside] = x
    return out.reshape(shape)


# ---------------------------------------------------------------------------- Gaussians


def cov_from(sx: float, sy: float, rho: float) -> np.ndarray:
    """The 2x2 covariance [[sx^2, rho sx sy], [rho sx sy, sy^2]] (sx, sy > 0, |rho| <= 1)."""
    sx, sy, rho = _positive("sx", sx), _positive("sy", sy), float(rho)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"the correlation rho must be in [-1, 1], got {rho}")
    return np.array([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]])


def cholesky(cov: Any) -> np.ndarray:
    """The lower-triangular L with L L^T = cov; ValueError unless cov is symmetric positive
    definite."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"a covariance must be square, got shape {cov.shape}")
    if not np.isfinite(cov).all() or not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ValueError("a covariance must be finite and symmetric")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("the covariance is not positive definite (Cholesky failed): "
                         f"eigenvalues {np.linalg.eigvalsh(cov)}") from None


def cholesky_transform(z: Any, mean: Any, cov: Any) -> np.ndarray:
    """x = mean + z L^T (row-wise x_i = mean + L z_i) with L = cholesky(cov).

    z (n, d) ~ N(0, I) gives x ~ N(mean, cov) since Cov(L z) = L I L^T = cov.
    """
    z = np.asarray(z, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64).ravel()
    big_l = cholesky(cov)
    if z.ndim != 2 or z.shape[1] != big_l.shape[0] or mean.shape != (big_l.shape[0],):
        raise ValueError(f"shapes do not match: z {z.shape}, mean {mean.shape}, "
                         f"cov {big_l.shape}")
    return mean + z @ big_l.T


def categorical(weights: Any, u: Any) -> np.ndarray:
    """k ~ Categorical(pi) by inverse CDF: the first k with pi_0 + ... + pi_k > u (int64)."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0 and not all 0")
    cum = np.cumsum(w / w.sum())
    k = np.searchsorted(cum, np.asarray(u, dtype=np.float64), side="right")
    return np.minimum(k, len(w) - 1).astype(np.int64)


def ancestral_gmm(weights: Any, means: Any, covs: Any, n: int,
                  seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample a Gaussian mixture ancestrally: ``(components (n,) int64, x (n, d))``.

    First k_i ~ Categorical(pi) from uniforms u_i (``categorical``), then
    x_i = mu_{k_i} + L_{k_i} z_i with z_i ~ N(0, I) and L_k = cholesky(Sigma_k).
    Deterministic for ``seed`` (``np.random.default_rng``).
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    mu = np.asarray(means, dtype=np.float64)
    cv = np.asarray(covs, dtype=np.float64)
    k = len(w)
    if mu.ndim != 2 or mu.shape[0] != k or cv.shape != (k, mu.shape[1], mu.shape[1]):
        raise ValueError(f"shapes do not match: weights ({k},), means {mu.shape}, "
                         f"covs {cv.shape}")
    chol = np.stack([cholesky(c) for c in cv]) if k else cv
    rng = np.random.default_rng(seed)
    comp = categorical(w, rng.random(int(n)))
    z = rng.standard_normal((int(n), mu.shape[1]))
    x = mu[comp] + np.einsum("nij,nj->ni", chol[comp], z)
    return comp, x
