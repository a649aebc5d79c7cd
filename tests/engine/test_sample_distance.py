"""Sample distances against POT and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from genlab.engine.sample_distance import (
    energy_distance,
    sliced_wasserstein,
    wasserstein_1d_sq,
)


def test_1d_w2_matches_pot_for_unequal_sizes():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(0)
    for n, m in ((50, 50), (37, 91), (200, 13)):
        u, v = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
        want = ot.wasserstein_1d(u, v, p=2)
        np.testing.assert_allclose(wasserstein_1d_sq(u[:, None], v[:, None])[0], want,
                                   rtol=1e-10)


def test_sliced_w2_equals_pot_with_the_same_directions():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) * [1.0, 2.0] + [0.5, 0.0]
    n_proj, seed = 32, 7
    theta = np.random.default_rng(seed).standard_normal((2, n_proj))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    want = ot.sliced_wasserstein_distance(x, y, projections=theta, p=2)
    assert sliced_wasserstein(x, y, n_proj=n_proj, seed=seed) == pytest.approx(want, rel=1e-10)


def test_sliced_w2_of_a_shift_is_the_shift_times_the_mean_projection():
    """y = x + s: every projection is shifted by θ·s, so SW₂² = mean (θ·s)² ≈ |s|²/2 in 2D."""
    x = np.random.default_rng(2).normal(size=(500, 2))
    s = np.array([3.0, 0.0])
    d = sliced_wasserstein(x, x + s, n_proj=4000)
    assert d == pytest.approx(3.0 / np.sqrt(2.0), rel=0.02)
    assert sliced_wasserstein(x, x.copy()) == 0.0


def test_energy_distance_matches_scipy_in_1d_and_is_zero_for_equal_clouds():
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=120), rng.normal(0.7, 1.5, size=80)
    want = scipy.stats.energy_distance(u, v)
    assert energy_distance(u[:, None], v[:, None]) == pytest.approx(want, rel=1e-9)
    x = rng.normal(size=(100, 2))
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="non-empty"):
        energy_distance(np.zeros((0, 2)), x)
