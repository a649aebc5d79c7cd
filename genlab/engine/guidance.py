r"""Guidance in closed form: class-conditional Gaussian mixtures and their guided scores.

Classifier-free guidance (Ho & Salimans 2022) samples with the score

.. math:: s_w(x, t, y) = \nabla\log p_t(x) + w\,[\nabla\log p_t(x\mid y) - \nabla\log p_t(x)]
          = \nabla\log p_t(x) + w\,\nabla\log p_t(y\mid x),

the score of the tilted density :math:`p_t(x)\,p_t(y\mid x)^w` (Bayes:
:math:`p(x\mid y) = p(x)p(y\mid x)/p(y)`, so the two differences are equal; the right-hand
form is classifier guidance, Dhariwal & Nichol 2021).  w = 0 gives the unconditional score,
w = 1 the conditional one, w > 1 sharpens the classifier: samples land where the class is
most certain (fidelity up) and spread less (diversity down).

When each class is a Gaussian mixture :math:`p(x\mid y) = \sum_k \pi_{yk}\mathcal N(\mu_{yk},
\Sigma_{yk})` with class priors :math:`\pi_y`, every term is exact under a noise schedule
(``diffusion.gmm_score`` / ``gmm_log_density_t`` of each class, and of the pooled mixture
:math:`p = \sum_y \pi_y p(\cdot\mid y)`), so a lab can show the exact guided field beside a
learned one.  Plain numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from genlab.engine import diffusion as dif
from genlab.engine.mixtures import Mixture, fit_mixture, gallery_mixture

Array = NDArray[np.float64]

__all__ = ["ClassMixtures", "class_mixtures", "gallery_class_mixtures", "guided"]

#: Gallery sets whose classes are exactly Gaussian mixtures (one component per class).
EXACT_CLASS_SETS = ("8gaussians",)


def guided(uncond: ArrayLike, cond: ArrayLike, w: float) -> Array:
    r"""The guidance combination :math:`u + w\,(c - u)` of an unconditional and a conditional
    prediction (scores or noises, any matching shapes): w = 0 gives u, w = 1 gives c."""
    u = np.asarray(uncond, dtype=np.float64)
    return u + float(w) * (np.asarray(cond, dtype=np.float64) - u)


@dataclass(frozen=True)
class ClassMixtures:
    """One Gaussian :class:`Mixture` per class and the class priors π_y (C,), summing to 1.

    Methods take x (n, 2), a time t in (0, 1], a class y in 0..C−1 and a schedule of
    ``genlab.engine.diffusion``; they return (n, 2) scores or (n,) log densities.
    """

    mixtures: tuple[Mixture, ...]
    priors: Array
    _pooled: Mixture = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mixes = tuple(self.mixtures)
        pri = np.asarray(self.priors, dtype=np.float64).ravel()
        if len(mixes) == 0 or len(pri) != len(mixes):
            raise ValueError("need one prior per class mixture (C >= 1)")
        if (pri < 0).any() or not np.isfinite(pri).all() or pri.sum() <= 0:
            raise ValueError("class priors must be finite, >= 0, with a positive sum")
        pri = pri / pri.sum()
        pri.setflags(write=False)
        object.__setattr__(self, "mixtures", mixes)
        object.__setattr__(self, "priors", pri)
        object.__setattr__(self, "_pooled", self._pool())

    @property
    def n_classes(self) -> int:
        return len(self.mixtures)

    def _pool(self) -> Mixture:
        w = np.concatenate([p * m.weights for p, m in zip(self.priors, self.mixtures,
                                                          strict=True)])
        means = np.concatenate([m.means for m in self.mixtures])
        covs = np.concatenate([m.covariances for m in self.mixtures])
        return Mixture(w, means, covs)

    def unconditional(self) -> Mixture:
        r"""The pooled mixture :math:`p = \sum_y \pi_y\,p(\cdot\mid y)`: weights
        :math:`\pi_y\pi_{yk}` over all the classes' components."""
        return self._pooled

    def _class(self, y: int) -> Mixture:
        if not 0 <= int(y) < self.n_classes:
            raise ValueError(f"class y = {y} is not in 0..{self.n_classes - 1}")
        return self.mixtures[int(y)]

    # -- scores ---------------------------------------------------------------------------
    def score(self, x: ArrayLike, t: float, y: int, schedule: Any) -> Array:
        r"""Exact conditional score :math:`\nabla\log p_t(x\mid y)`, (n, 2)."""
        return dif.gmm_score(x, t, *self._class(y).as_tuple(), schedule)

    def uncond_score(self, x: ArrayLike, t: float, schedule: Any) -> Array:
        r"""Exact unconditional score :math:`\nabla\log p_t(x)` of the pooled mixture."""
        return dif.gmm_score(x, t, *self.unconditional().as_tuple(), schedule)

    def guided_score(self, x: ArrayLike, t: float, y: int, w: float, schedule: Any) -> Array:
        r""":math:`\nabla\log p_t(x) + w[\nabla\log p_t(x\mid y) - \nabla\log p_t(x)]`,
        (n, 2): the score of :math:`p_t(x)p_t(y\mid x)^w` (see the module docstring)."""
        return guided(self.uncond_score(x, t, schedule), self.score(x, t, y, schedule), w)

    def scores(self, x: ArrayLike, t: float, y: int, w: float, schedule: Any
               ) -> tuple[Array, Array, Array]:
        """(unconditional, conditional, guided) scores at x, each (n, 2), computed once."""
        u = self.uncond_score(x, t, schedule)
        c = self.score(x, t, y, schedule)
        return u, c, guided(u, c, w)

    # -- densities ------------------------------------------------------------------------
    def log_density(self, x: ArrayLike, t: float, y: int, schedule: Any) -> Array:
        r""":math:`\log p_t(x\mid y)`, (n,)."""
        return dif.gmm_log_density_t(x, t, *self._class(y).as_tuple(), schedule)

    def uncond_log_density(self, x: ArrayLike, t: float, schedule: Any) -> Array:
        r""":math:`\log p_t(x)` of the pooled mixture, (n,)."""
        return dif.gmm_log_density_t(x, t, *self.unconditional().as_tuple(), schedule)

    def classifier_log_probs(self, x: ArrayLike, t: float, schedule: Any) -> Array:
        r"""All classes' :math:`\log p_t(y\mid x) = \log\pi_y + \log p_t(x\mid y) -
        \log\sum_{y'}\pi_{y'}p_t(x\mid y')`, shape (n, C) (rows log-sum-exp to 0)."""
        joint = np.column_stack([np.log(np.maximum(p, 1e-300)) + self.log_density(x, t, y,
                                                                                  schedule)
                                 for y, p in enumerate(self.priors)])
        top = joint.max(axis=1, keepdims=True)
        return joint - (top + np.log(np.exp(joint - top).sum(axis=1, keepdims=True)))

    def classifier_log_prob(self, x: ArrayLike, t: float, y: int, schedule: Any) -> Array:
        r""":math:`\log p_t(y\mid x)`, (n,): the exact noisy classifier."""
        self._class(y)
        return self.classifier_log_probs(x, t, schedule)[:, int(y)]

    def guided_log_density(self, x: ArrayLike, t: float, y: int, w: float,
                           schedule: Any) -> Array:
        r""":math:`\log p_t(x) + w\log p_t(y\mid x)`, (n,): the log of the tilted density whose
        score is the guided one, up to its (unknown) normaliser."""
        return (self.uncond_log_density(x, t, schedule)
                + float(w) * self.classifier_log_prob(x, t, y, schedule))

    # -- samples and moments --------------------------------------------------------------
    def sample(self, n: int, seed: int = 0) -> tuple[Array, NDArray[np.int64]]:
        """n points (n, 2) of the pooled data and each one's class (n,)."""
        rng = np.random.default_rng(seed)
        y = rng.choice(self.n_classes, size=int(n), p=self.priors)
        x = np.zeros((int(n), 2))
        for c in range(self.n_classes):
            idx = np.flatnonzero(y == c)
            if len(idx):
                x[idx] = self.mixtures[c].sample(len(idx), seed=int(rng.integers(2**31)))[0]
        return x, y.astype(np.int64)

    def class_covariance(self, y: int) -> Array:
        r"""Covariance (2, 2) of class y's mixture: :math:`\sum_k\pi_k(\Sigma_k + \mu_k\mu_k^T)
        - \bar\mu\bar\mu^T`."""
        m = self._class(y)
        mean = m.weights @ m.means
        second = np.einsum("k,kij->ij", m.weights, m.covariances
                           + m.means[:, :, None] * m.means[:, None, :])
        return second - np.outer(mean, mean)


def class_mixtures(x: ArrayLike, labels: ArrayLike, k_per_class: int, seed: int = 0,
                   reg_covar: float = 1e-2) -> tuple[ClassMixtures, NDArray[np.int64]]:
    """Fit ``k_per_class`` Gaussians by EM (``mixtures.fit_mixture``) to each class's points.

    x (n, 2), labels (n,) any non-negative ints.  Classes are the distinct labels in increasing
    order; priors are their frequencies.  Returns the mixtures and the label value of each
    class (C,), so class c stands for ``values[c]``.
    """
    xa = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    if lab.shape != (len(xa),) or len(xa) == 0:
        raise ValueError("need one label per point and at least one point")
    values, counts = np.unique(lab, return_counts=True)
    mixes = tuple(fit_mixture(xa[lab == v], k_per_class, seed=seed, reg_covar=reg_covar)
                  for v in values)
    return ClassMixtures(mixes, counts.astype(np.float64)), values.astype(np.int64)


def gallery_class_mixtures(name: str, noise: float = 0.1) -> ClassMixtures:
    """The exact class structure of a gallery set that is a mixture with one component per
    class: "8gaussians", class k = component k of ``gallery_mixture("8gaussians", noise)``
    (the labels ``datasets.make_dataset`` gives: the cluster at angle 2πk/8)."""
    if name not in EXACT_CLASS_SETS:
        raise ValueError(f"'{name}' has no exact class mixtures; valid: "
                         f"{', '.join(EXACT_CLASS_SETS)} (fit others with class_mixtures)")
    mix = gallery_mixture(name, noise)
    per = tuple(Mixture([1.0], mix.means[k:k + 1], mix.covariances[k:k + 1])
                for k in range(mix.n_components))
    return ClassMixtures(per, mix.weights)
