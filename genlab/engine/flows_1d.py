r"""A 1D flow as in the lectures: a monotone map between a Gaussian base and the data.

The model is the normalising map :math:`z = g(x)`, increasing, with

.. math:: g(x) = a\,u + b + \sum_{k=1}^{K} w_k \tanh\big(s_k (u - c_k)\big),
          \qquad u = (x - \mathrm{loc}) / \mathrm{scale},

:math:`a, w_k, s_k > 0` (softplus of free parameters), so
:math:`g'(x) = \big(a + \sum_k w_k s_k \operatorname{sech}^2(s_k(u - c_k))\big)/\mathrm{scale}
> 0`.  The generative map is its inverse, :math:`x = f(z) = g^{-1}(z)`, and the change of
variables gives the induced density

.. math:: p(x) = \mathcal N(g(x); 0, 1)\, g'(x) = \mathcal N(f^{-1}(x); 0, 1)
          \left|\frac{d f^{-1}}{dx}\right|.

Because :math:`|g(x) - a u - b| \le \sum_k w_k`, :math:`p` has Gaussian tails and integrates
to 1.  :math:`f` is computed by a safeguarded Newton solve in the bracket
:math:`[(z - b - W)/a, (z - b + W)/a]`, :math:`W = \sum_k w_k` (no autograd through it).

:class:`MonotoneFlow1D` has the same interface as the 2D flows of :mod:`genlab.engine.flows`
(``forward`` x → (z, log g'(x)), ``inverse``, ``log_prob``, ``sample``, ``forward_layers``),
on 1D arrays (n,).  :func:`make_dataset_1d` draws the 1D toy sets the lab trains on, and
:func:`density_1d` gives their exact densities.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from genlab.engine.flows import FlowBase, solve_monotone

__all__ = ["DATASETS_1D", "MonotoneFlow1D", "MonotoneTanhMap", "density_1d",
           "make_dataset_1d"]

_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus⁻¹(1)


def _inv_softplus(y: Tensor) -> Tensor:
    return y + torch.log(-torch.expm1(-y))


class MonotoneTanhMap(nn.Module):
    """z = a u + b + Σ_k w_k tanh(s_k (u − c_k)), u = (x − loc)/scale; see the module doc."""

    def __init__(self, n_terms: int, generator: torch.Generator, loc: float = 0.0,
                 scale: float = 1.0, spread: float = 2.5) -> None:
        super().__init__()
        k = int(n_terms)
        self.loc, self.scale = float(loc), float(scale)
        self.raw_a = nn.Parameter(torch.tensor(_SOFTPLUS_ONE))
        self.b = nn.Parameter(torch.tensor(0.0))
        # small bumps spread over the standardised range: the start is close to z = u
        w = 0.05 + 0.1 * torch.rand(k, generator=generator)
        self.raw_w = nn.Parameter(_inv_softplus(w))
        s = 1.0 + 0.5 * torch.rand(k, generator=generator)
        self.raw_s = nn.Parameter(_inv_softplus(s))
        centres = torch.linspace(-spread, spread, k) if k > 1 else torch.zeros(1)
        self.c = nn.Parameter(centres + 0.2 * torch.randn(k, generator=generator))

    def coefficients(self) -> tuple[Tensor, Tensor, Tensor]:
        """(a, w (K,), s (K,)), all positive."""
        sp = nn.functional.softplus
        return sp(self.raw_a), sp(self.raw_w), sp(self.raw_s)

    def _g(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """g as a function of u, and dg/du (both (n,))."""
        a, w, s = self.coefficients()
        th = torch.tanh((u.unsqueeze(-1) - self.c) * s)
        z = a * u + self.b + (w * th).sum(-1)
        dz = a + (w * s * (1.0 - th * th)).sum(-1)
        return z, dz

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, dz = self._g((x - self.loc) / self.scale)
        return z, torch.log(dz) - math.log(self.scale)

    def inverse(self, z: Tensor) -> Tensor:
        with torch.no_grad():
            a, w, _ = self.coefficients()
            big_w = w.sum()
            u = solve_monotone(self._g, z, (z - self.b - big_w) / a - 1e-6,
                               (z - self.b + big_w) / a + 1e-6)
            return self.loc + self.scale * u


class MonotoneFlow1D(FlowBase):
    """A 1D flow: one monotone map z = g(x) with ``n_terms`` tanh bumps.

    seed fixes the initial bumps (weights in [0.05, 0.15], slopes in [1, 1.5], centres
    spread over [−2.5, 2.5] with jitter), so the untrained map is close to z = (x − loc)/scale
    and the induced density close to N(loc, scale²).
    """

    dim = 1

    def __init__(self, n_terms: int = 8, seed: int = 0, loc: float = 0.0,
                 scale: float = 1.0) -> None:
        super().__init__()
        if n_terms < 1:
            raise ValueError(f"MonotoneFlow1D needs n_terms >= 1, got {n_terms}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        gen = torch.Generator().manual_seed(int(seed))
        self.layers = nn.ModuleList([MonotoneTanhMap(n_terms, gen, loc, scale)])

    @property
    def map(self) -> MonotoneTanhMap:
        return self.layers[0]  # type: ignore[return-value]

    def derivative(self, x: ArrayLike) -> np.ndarray:
        """g'(x) = dz/dx (n,), numpy in and out (> 0 everywhere)."""
        _, ld = self.forward(np.asarray(x, dtype=np.float64))
        return np.exp(ld)


# ------------------------------------------------------------------------------- 1D data

DATASETS_1D: tuple[str, ...] = ("two bumps", "three bumps", "skewed", "uniform")

# (weights, means, stds) of the Gaussian mixtures
_MIXTURES = {
    "two bumps": ((0.35, 0.65), (-1.6, 1.2), (0.45, 0.7)),
    "three bumps": ((1 / 3, 1 / 3, 1 / 3), (-2.2, 0.0, 2.2), (0.4, 0.4, 0.4)),
}
_SKEW = (-2.0, 1.2, 0.5)  # x = shift + mult * exp(N(0, sigma²)): a log-normal
_UNIFORM = (-2.0, 2.0)


def make_dataset_1d(name: str, n: int, seed: int = 0) -> np.ndarray:
    """n points (n,) float64 of a 1D toy set (``DATASETS_1D``), deterministic for seed.

    "two bumps": 0.35 N(−1.6, 0.45²) + 0.65 N(1.2, 0.7²); "three bumps": equal weights at
    −2.2, 0, 2.2, std 0.4; "skewed": −2 + 1.2 exp(N(0, 0.5²)) (log-normal); "uniform":
    U(−2, 2).
    """
    rng = np.random.default_rng(seed)
    if name in _MIXTURES:
        w, m, s = (np.array(v) for v in _MIXTURES[name])
        k = rng.choice(len(w), size=n, p=w)
        return m[k] + s[k] * rng.standard_normal(n)
    if name == "skewed":
        shift, mult, sigma = _SKEW
        return shift + mult * np.exp(sigma * rng.standard_normal(n))
    if name == "uniform":
        return rng.uniform(*_UNIFORM, size=n)
    raise ValueError(f"unknown 1D dataset '{name}': valid are {', '.join(DATASETS_1D)}")


def density_1d(name: str, x: ArrayLike) -> np.ndarray:
    """The exact density of :func:`make_dataset_1d`'s set ``name`` at x (n,)."""
    x = np.asarray(x, dtype=np.float64)
    if name in _MIXTURES:
        w, m, s = (np.array(v) for v in _MIXTURES[name])
        r = (x[..., None] - m) / s
        return (w * np.exp(-0.5 * r * r) / (s * math.sqrt(2 * math.pi))).sum(-1)
    if name == "skewed":
        shift, mult, sigma = _SKEW
        y = np.maximum((x - shift) / mult, 1e-300)
        pdf = np.exp(-0.5 * (np.log(y) / sigma) ** 2) / (y * sigma * math.sqrt(2 * math.pi))
        return np.where(x > shift, pdf / mult, 0.0)
    if name == "uniform":
        lo, hi = _UNIFORM
        return np.where((x >= lo) & (x <= hi), 1.0 / (hi - lo), 0.0)
    raise ValueError(f"unknown 1D dataset '{name}': valid are {', '.join(DATASETS_1D)}")
