"""Exact samplers of the Langevin lab's targets: the reference the chains are measured
against (every target here has one)."""

from __future__ import annotations

from typing import Any

import numpy as np

from genlab.engine import langevin as lv


def exact_samples(target: Any, n: int, seed: int) -> np.ndarray:
    """n exact draws (n, 2) from one of the engine's targets.

    Mixtures (and the ring): ancestral sampling.  Banana: x₁ ~ N(0, a²), x₂ = b(x₁² − a²) +
    s z.  Funnel: v ~ N(0, σ_v²), x = e^(v/2) z.  Donut: the radius ρ by rejection from
    N(r, σ²) with acceptance ρ / ρ_max (the density of ρ is ∝ ρ e^(−(ρ−r)²/2σ²)), a uniform
    angle.
    """
    rng = np.random.default_rng(seed)
    if isinstance(target, lv.GaussianMixture):
        k = rng.choice(len(target.weights), size=n, p=target.weights)
        chol = np.linalg.cholesky(target.covariances)
        z = rng.standard_normal((n, 2))
        return target.means[k] + np.einsum("nij,nj->ni", chol[k], z)
    if isinstance(target, lv.Banana):
        x1 = target.a * rng.standard_normal(n)
        x2 = target.b * (x1**2 - target.a**2) + target.s * rng.standard_normal(n)
        return np.column_stack([x1, x2])
    if isinstance(target, lv.Funnel):
        v = target.sigma_v * rng.standard_normal(n)
        return np.column_stack([np.exp(v / 2) * rng.standard_normal(n), v])
    if isinstance(target, lv.Donut):
        r, s = target.radius, target.sigma
        rho_max = r + 8 * s
        out = np.empty(0)
        while len(out) < n:  # acceptance >= r / (r + 8 s): a couple of rounds at most
            rho = r + s * rng.standard_normal(2 * n)
            ok = (rho > 0) & (rng.random(2 * n) * rho_max < rho)
            out = np.concatenate([out, rho[ok]])
        th = rng.uniform(0, 2 * np.pi, n)
        return out[:n, None] * np.column_stack([np.cos(th), np.sin(th)])
    raise TypeError(f"no exact sampler for {type(target).__name__}")
