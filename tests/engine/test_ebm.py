"""genlab.engine.ebm: the contrastive loss's gradient against its closed form for a quadratic
energy, the torch Langevin sampler's stationary variance, determinism, and a short training
run that really lowers the energy on the data.  No Qt."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genlab.engine import ebm  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    # two threads on a busy 2-core machine spin against each other (100x slower here)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class _Quadratic(torch.nn.Module):
    """E_θ(x) = ½ θ |x|²."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))

    def forward(self, x):
        return 0.5 * self.theta * (x * x).sum(dim=1)


def test_contrastive_loss_gradient_matches_closed_form() -> None:
    rng = np.random.default_rng(0)
    xd = torch.as_tensor(rng.normal(size=(50, 2)) * 0.7)
    xs = torch.as_tensor(rng.normal(size=(40, 2)) * 1.6 + 0.3)
    theta, alpha = 1.3, 0.25
    model = _Quadratic(theta)
    loss, e_pos, e_neg = ebm.contrastive_loss(model, xd, xs, alpha)
    loss.backward()
    # E = θ a with a = ½|x|²: ∂L/∂θ = mean a⁺ − mean a⁻ + 2αθ (mean (a⁺)² + mean (a⁻)²)
    a_pos = 0.5 * (xd.numpy() ** 2).sum(1)
    a_neg = 0.5 * (xs.numpy() ** 2).sum(1)
    expected = a_pos.mean() - a_neg.mean() + 2 * alpha * theta * (
        (a_pos**2).mean() + (a_neg**2).mean())
    assert float(model.theta.grad) == pytest.approx(expected, rel=1e-10)
    assert float(e_pos) == pytest.approx(theta * a_pos.mean(), rel=1e-10)
    assert float(e_neg) == pytest.approx(theta * a_neg.mean(), rel=1e-10)
    # with no regulariser the loss is exactly the energy gap
    loss0, _, _ = ebm.contrastive_loss(model, xd, xs, 0.0)
    assert float(loss0.detach()) == pytest.approx(theta * (a_pos.mean() - a_neg.mean()), rel=1e-10)


@pytest.mark.parametrize("eta", [0.05, 0.2])
def test_torch_langevin_stationary_variance(eta: float) -> None:
    # E = |x|²/(2σ²): x' = (1 − η/σ²) x + √(2η) ξ has stationary variance σ² / (1 − η/(2σ²))
    sigma2 = 0.5
    model = _Quadratic(1.0 / sigma2)
    n = 40_000
    x0 = torch.zeros((n, 2), dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    x = ebm.langevin_energy(model, x0, eta, 150, gen)
    theory = sigma2 / (1.0 - eta / (2 * sigma2))
    var = float(x.var(dim=0).mean())
    # the variance of 2n draws is known to ~ √(2/(2n)) ≈ 0.5 % relative
    assert abs(var / theory - 1.0) < 0.03
    assert abs(var - sigma2) > 0.04 * sigma2  # the ULA bias is resolved
    # the box clamps every coordinate
    xb = ebm.langevin_energy(model, x0, eta, 20, torch.Generator().manual_seed(0),
                             box=(-0.1, 0.1))
    assert float(xb.abs().max()) <= 0.1


def _blobs(n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = np.array([[-1.5, 0.0], [1.5, 0.0]])
    return centres[rng.integers(0, 2, n)] + 0.25 * rng.standard_normal((n, 2))


def test_training_is_deterministic() -> None:
    kw = dict(hidden=16, lr=3e-3, batch_size=64, step_size=0.01, k_steps=5, buffer=256,
              box=(-3.0, 3.0), seed=4)
    a = ebm.EBMTrainer(_blobs(), **kw)
    b = ebm.EBMTrainer(_blobs(), **kw)
    la, lb = a.step(5), b.step(5)
    assert np.array_equal(la, lb)
    assert np.array_equal(a.chains, b.chains)
    grid = np.random.default_rng(1).uniform(-3, 3, (50, 2))
    assert np.array_equal(a.energy(grid), b.energy(grid))
    c = ebm.EBMTrainer(_blobs(), **{**kw, "seed": 5})
    assert not np.array_equal(c.step(5), la)


def test_training_lowers_energy_on_blobs_against_the_gap() -> None:
    tr = ebm.EBMTrainer(_blobs(), hidden=32, lr=3e-3, batch_size=128, step_size=0.005,
                        k_steps=20, buffer=512, box=(-3.0, 3.0), seed=0)
    e0 = tr.energy(np.array([[-1.5, 0.0], [1.5, 0.0], [0.0, 0.0]]))
    tr.step(250)
    e = tr.energy(np.array([[-1.5, 0.0], [1.5, 0.0], [0.0, 0.0], [0.0, 2.5]]))
    assert np.isfinite(tr.history_).all()
    # both blob centres now sit clearly below the point between them and a far point
    assert max(e[0], e[1]) < e[2] - 1.0
    assert max(e[0], e[1]) < e[3] - 1.0
    assert (e[2] - max(e[0], e[1])) > (e0[2] - max(e0[0], e0[1])) + 1.0
    # and the persistent chains have found the blobs
    near = np.min(np.abs(tr.chains[:, :1] - np.array([[-1.5, 1.5]])), axis=1) < 0.6
    assert near.mean() > 0.7
