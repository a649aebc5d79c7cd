r"""The data of the diffusion lab and its *exact* noised marginal :math:`p_t`.

Two kinds of data, one interface (:class:`NoisedData`):

* a Gaussian mixture :math:`p_0 = \sum_k \pi_k \mathcal N(\mu_k, \Sigma_k)` (a gallery set that
  is one, or K components fitted by EM to any other set or to drawn points, the shown data then
  being samples of the fit).  Then :math:`p_t = \sum_k \pi_k \mathcal N(a\mu_k, a^2\Sigma_k +
  vI)` in closed form (``genlab.engine.diffusion.gmm_log_density_t`` / ``gmm_score``).
* raw points :math:`x_1..x_m` with a small bandwidth h: the data are read as the kernel
  mixture :math:`p_0^h = \frac1m\sum_i \mathcal N(x_i, h^2 I)`, whose noised marginal is again
  closed form, :math:`p_t = \frac1m\sum_i \mathcal N(a x_i, (a^2h^2 + v) I)`: the exact noised
  empirical distribution, smoothed by the bandwidth (a kernel density estimate of the true
  :math:`p_t` whose kernel width :math:`\sqrt{a^2h^2 + v}` grows with t).  Its score is
  computed here with one matrix product (all kernels share one isotropic covariance), so a
  few hundred centres stay cheap.

At most ``MAX_CENTRES`` raw points are used as kernel centres (a seeded subsample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from genlab.engine import diffusion as df
from genlab.engine.mixtures import GALLERY_MIXTURES, Mixture, fit_mixture, gallery_mixture

Array = NDArray[np.float64]

MAX_CENTRES = 400

__all__ = ["MAX_CENTRES", "NoisedData", "make_noised_data"]


@dataclass(frozen=True, eq=False)
class NoisedData:
    """Data x0 (n, 2) with labels (n,) and its exact noised marginal under ``schedule``.

    ``mixture`` is set for mixture data; ``centres`` (m, 2) and ``bandwidth`` for raw points.
    ``how`` says in words what p_t is (for captions).
    """

    x0: Array
    labels: NDArray[np.int64]
    schedule: df.VPSchedule | df.VESchedule
    how: str
    mixture: Mixture | None = None
    centres: Array | None = None
    bandwidth: float = 0.0

    @property
    def exact(self) -> bool:
        return self.mixture is not None

    def _kernel(self, t: float) -> tuple[Array, float]:
        a, v = self.schedule.marginal(float(t))
        return float(a) * self.centres, float(a) ** 2 * self.bandwidth**2 + float(v)

    def _kernel_logits(self, x: Array, t: float) -> tuple[Array, Array, float]:
        """−|x − a x_i|²/(2c) for every x and centre (n, m) (in place: a few hundred
        centres times thousands of points is the hot loop of the raw-points mode), the
        kernel means a x_i (m, 2) and their variance c."""
        mu, c = self._kernel(t)
        z = x @ mu.T
        z *= 2.0
        z -= (x * x).sum(1)[:, None]
        z -= (mu * mu).sum(1)[None, :]
        z *= 0.5 / c
        return z, mu, c

    def log_density(self, x: Array, t: float) -> Array:
        """log p_t(x), shape (n,), for x (n, 2)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        if self.mixture is not None:
            return df.gmm_log_density_t(x, t, *self.mixture.as_tuple(), self.schedule)
        z, mu, c = self._kernel_logits(x, t)
        top = z.max(1)
        z -= top[:, None]
        np.exp(z, out=z)
        return top + np.log(z.mean(1)) - np.log(2.0 * np.pi * c)

    def score(self, x: Array, t: float) -> Array:
        """∇ log p_t(x), shape (n, 2): −Σ_i γ_i(x)(x − a x_i)/c for the kernels."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
        if self.mixture is not None:
            return df.gmm_score(x, t, *self.mixture.as_tuple(), self.schedule)
        z, mu, c = self._kernel_logits(x, t)
        z -= z.max(1)[:, None]
        np.exp(z, out=z)
        return -(x - (z @ mu) / z.sum(1)[:, None]) / c

    def sample_t(self, n: int, t: float, seed: int) -> Array:
        """n fresh samples (n, 2) of p_t (for distances)."""
        rng = np.random.default_rng(seed)
        if self.mixture is not None:
            x0, _ = self.mixture.sample(n, seed=int(rng.integers(2**31)))
        else:
            idx = rng.integers(0, len(self.centres), n)
            x0 = self.centres[idx] + self.bandwidth * rng.standard_normal((n, 2))
        a, v = self.schedule.marginal(float(t))
        return float(a) * x0 + np.sqrt(float(v)) * rng.standard_normal((n, 2))


def make_noised_data(x: Array, labels: NDArray[np.int64], dataset: str, noise: float,
                     data_model: str, n_components: int, bandwidth: float,
                     schedule: df.VPSchedule | df.VESchedule, seed: int) -> NoisedData:
    """The lab's data from the raw points x (n, 2) of ``dataset``.

    data_model "mixture": a gallery mixture keeps its points (they are samples of it); any other
    set is replaced by as many samples of a K-component EM fit.  "raw points": x as it is,
    with p_t the kernel mixture of at most MAX_CENTRES of its points (bandwidth h).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    if data_model == "mixture":
        if dataset in GALLERY_MIXTURES:
            mix = gallery_mixture(dataset, noise)
            how = f"the {dataset} mixture ({mix.n_components} components), exactly"
            return NoisedData(x, labels, schedule, how, mixture=mix)
        mix = fit_mixture(x, n_components, seed=seed)
        xs, comp = mix.sample(len(x), seed=seed + 1)
        how = (f"a {mix.n_components}-component mixture fitted to {dataset} by EM (the points "
               "shown are its samples), exactly")
        return NoisedData(xs, comp, schedule, how, mixture=mix)
    rng = np.random.default_rng([seed, 3])
    idx = rng.permutation(len(x))[:MAX_CENTRES]
    how = (f"a kernel estimate: the noised empirical distribution of {len(idx)} points, "
           f"each blurred by h = {bandwidth:g}")
    return NoisedData(x, labels, schedule, how, centres=x[np.sort(idx)],
                      bandwidth=float(bandwidth))

