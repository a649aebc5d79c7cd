r"""Closed forms for transporting one 1D Gaussian onto another, cost |x − y|².

The lecture's picture: μ = N(m₀, σ²) to ν = N(m₁, σ²) (equal variances; the lab uses N(0, 1) to
N(1, 1)).  For a coupling π of X ~ μ and Y ~ ν that is Gaussian with correlation ρ,

.. math:: \mathbb E|X - Y|^2 = (m_1 - m_0)^2 + 2\sigma^2 - 2\rho\sigma^2,

so the independent coupling (ρ = 0) costs Δ² + 2σ² (3 for the lab's pair) and the monotone
map T(x) = x + (m₁ − m₀) (ρ = 1, the earth mover's coupling: in 1D the optimal plan is the
monotone rearrangement, Peyré & Cuturi remark 2.30) costs Δ² (1 for the lab's pair).

The entropic coupling, argmin over couplings of E|X − Y|² + ε KL(π ‖ μ⊗ν), is Gaussian too
(Janati et al., *Entropic optimal transport between unbalanced Gaussian measures has a closed
form*, NeurIPS 2020).  With KL(π‖μ⊗ν) = −½ log(1 − ρ²) for a correlation ρ, setting the
derivative of Δ² + 2σ² − 2ρσ² − (ε/2) log(1 − ρ²) to zero gives 2σ²ρ² + ερ − 2σ² = 0:

.. math:: \rho_\varepsilon = \frac{\sqrt{\varepsilon^2 + 16\sigma^4} - \varepsilon}{4\sigma^2},

from 1 (ε → 0, the monotone map) down to 0 (ε → ∞, the independent coupling).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["entropic_correlation", "expected_sq_distance", "gaussian_joint_density",
           "gaussian_pdf", "median_sq_distance"]

Array = NDArray[np.float64]


def gaussian_pdf(x: ArrayLike, mean: float = 0.0, var: float = 1.0) -> Array:
    """Density of N(mean, var) at x."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2.0 * math.pi * var)


def gaussian_joint_density(x: ArrayLike, y: ArrayLike, m0: float, m1: float, var: float,
                           rho: float) -> Array:
    """Density at (x, y) (broadcast) of the Gaussian coupling of N(m0, var) and N(m1, var) with
    correlation rho ∈ (−1, 1)."""
    u = (np.asarray(x, dtype=np.float64) - m0) / math.sqrt(var)
    v = (np.asarray(y, dtype=np.float64) - m1) / math.sqrt(var)
    det = 1.0 - rho * rho
    q = (u * u - 2.0 * rho * u * v + v * v) / det
    return np.exp(-0.5 * q) / (2.0 * math.pi * var * math.sqrt(det))


def entropic_correlation(eps: float, var: float = 1.0) -> float:
    """ρ_ε of the entropic coupling of two Gaussians of variance ``var`` (module docstring)."""
    if eps < 0:
        raise ValueError("ε must be non-negative")
    s2 = 2.0 * var
    # (√(ε² + 16σ⁴) − ε) / (4σ²) written as 4σ² / (√(ε² + 16σ⁴) + ε): no cancellation at large ε
    return 2.0 * s2 / (math.sqrt(eps * eps + 4.0 * s2 * s2) + eps)


def expected_sq_distance(rho: float, m0: float = 0.0, m1: float = 1.0,
                         var: float = 1.0) -> float:
    """E|X − Y|² = (m1 − m0)² + 2 var (1 − ρ) for a Gaussian coupling with correlation ρ."""
    return (m1 - m0) ** 2 + 2.0 * var * (1.0 - rho)


def median_sq_distance(m0: float = 0.0, m1: float = 1.0, var: float = 1.0) -> float:
    """Median of |X − Y|² for independent X ~ N(m0, var), Y ~ N(m1, var).

    D = X − Y ~ N(m0 − m1, 2 var); P(|D| ≤ r) = Φ((r − δ)/s) − Φ((−r − δ)/s) is solved for 1/2
    by bisection (δ = m0 − m1, s² = 2 var); the median of D² is r².
    """
    delta, s = m0 - m1, math.sqrt(2.0 * var)

    def cdf(z: float) -> float:
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    lo, hi = 0.0, abs(delta) + 10.0 * s
    for _ in range(200):
        r = 0.5 * (lo + hi)
        if cdf((r - delta) / s) - cdf((-r - delta) / s) < 0.5:
            lo = r
        else:
            hi = r
    return (0.5 * (lo + hi)) ** 2
