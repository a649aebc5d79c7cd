"""Normalising flows (genlab.engine.flows, genlab.engine.flows_1d): change of variables,
invertibility, Jacobians against torch.autograd, sampling against the density, training."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genlab.engine.datasets import make_dataset  # noqa: E402
from genlab.engine.flows import (  # noqa: E402
    SCALE_BOUND,
    MLETrainer,
    PlanarFlow,
    RealNVP,
    flow_parameters,
    solve_monotone,
)
from genlab.engine.flows_1d import (  # noqa: E402
    DATASETS_1D,
    MonotoneFlow1D,
    density_1d,
    make_dataset_1d,
)

MASS_TOL = 2e-3  # |∫ p - 1| on a 500 x 500 midpoint grid over [-B, B]^2 (measured ~1e-8)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # torch's second thread spin-waits when another process holds the other core: one
    # thread is both faster and steadier on the 2-core machines the suite runs on
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _moons_std(n: int = 1000, seed: int = 0) -> np.ndarray:
    x, _ = make_dataset("moons", n, 0.1, seed)
    return (x - x.mean(0)) / np.sqrt(x.var(0).mean())


def _trained(model, x: np.ndarray, steps: int, lr: float = 5e-3):
    tr = MLETrainer(model, x, lr=lr, batch_size=256, seed=0)
    tr.step(steps)
    return model


def _grid_mass(model, bound: float, n: int = 500) -> tuple[float, np.ndarray, float]:
    """Midpoint-rule ∫ p over [-bound, bound]^2: (mass, log p on the cells, cell area)."""
    c = -bound + (np.arange(n) + 0.5) * 2 * bound / n
    xx, yy = np.meshgrid(c, c)
    logp = model.log_prob(np.column_stack([xx.ravel(), yy.ravel()]))
    area = (2 * bound / n) ** 2
    return float(np.exp(logp).sum() * area), logp, area


def _models() -> dict[str, object]:
    return {
        "realnvp (random init)": RealNVP(4, 16, seed=1, init_scale=1.0).double(),
        "realnvp (trained)": _trained(RealNVP(6, 32, seed=2), _moons_std(), 300).double(),
        "planar (random init)": PlanarFlow(8, seed=3).double(),
        "planar (trained)": _trained(PlanarFlow(16, seed=4), _moons_std(), 300).double(),
    }


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    return _models()


# ---------------------------------------------------------------------- change of variables


@pytest.mark.parametrize("name", ["realnvp (random init)", "realnvp (trained)",
                                  "planar (random init)", "planar (trained)"])
def test_density_integrates_to_one(models, name) -> None:
    model = models[name]
    bound = 8.0
    mass, _, _ = _grid_mass(model, bound)
    # the mass outside the box, estimated from samples, is negligible for these flows
    s = model.sample(50_000, seed=0)
    outside = float((np.abs(s) > bound).any(axis=1).mean())
    assert outside < 1e-3
    assert abs(mass + outside - 1.0) < MASS_TOL, (name, mass, outside)


@pytest.mark.parametrize("name", ["realnvp (random init)", "realnvp (trained)",
                                  "planar (random init)", "planar (trained)"])
def test_inverse_of_forward_is_identity(models, name) -> None:
    model = models[name]
    x = np.random.default_rng(0).normal(scale=2.0, size=(500, 2))
    z, _ = model.forward(x)
    np.testing.assert_allclose(model.inverse(z), x, atol=1e-9)
    zz = np.random.default_rng(1).normal(size=(500, 2))
    z_back, _ = model.forward(model.inverse(zz))
    np.testing.assert_allclose(z_back, zz, atol=1e-9)


@pytest.mark.parametrize("name", ["realnvp (random init)", "realnvp (trained)",
                                  "planar (random init)", "planar (trained)"])
def test_log_det_matches_autograd_jacobian(models, name) -> None:
    model = models[name]
    x = torch.tensor(np.random.default_rng(2).normal(scale=1.5, size=(25, 2)))
    _, log_det = model.forward(x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda p: model.forward(p[None])[0][0], x[i])
        assert jac.shape == (2, 2)
        expected = torch.linalg.slogdet(jac).logabsdet
        assert float(log_det[i].detach()) == pytest.approx(float(expected), abs=1e-9)


def test_log_prob_is_base_density_plus_log_det(models) -> None:
    model = models["realnvp (trained)"]
    x = np.random.default_rng(3).normal(size=(100, 2))
    z, ld = model.forward(x)
    expected = -0.5 * (z**2).sum(1) - math.log(2 * math.pi) + ld
    np.testing.assert_allclose(model.log_prob(x), expected, rtol=1e-12, atol=1e-12)


def test_float32_model_is_accurate_to_single_precision() -> None:
    model = _trained(RealNVP(6, 32, seed=2), _moons_std(), 100)
    assert model.dtype == torch.float32
    x = np.random.default_rng(0).normal(size=(300, 2))
    z, ld = model.forward(x)
    assert z.dtype == np.float64 and ld.dtype == np.float64  # numpy out is float64
    np.testing.assert_allclose(model.inverse(z), x, atol=1e-4)


# ---------------------------------------------------------------------- interface


def test_numpy_in_numpy_out_tensor_in_tensor_out() -> None:
    model = RealNVP(3, 8, seed=0)
    x = np.random.default_rng(0).normal(size=(7, 2))
    outs = [*model.forward(x), model.inverse(x), model.log_prob(x), *model.forward_layers(x),
            *model.inverse_layers(x), model.sample(5, seed=0)]
    assert all(isinstance(o, np.ndarray) and o.dtype == np.float64 for o in outs)
    assert model.forward(x.tolist())[0].shape == (7, 2)  # lists count as arrays
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    z, ld = model.forward(t)
    outs_t = [z, ld, model.inverse(t), model.log_prob(t), *model.forward_layers(t),
              *model.inverse_layers(t), model.sample(5, seed=0, tensor=True)]
    assert all(isinstance(o, torch.Tensor) for o in outs_t)
    # tensors keep the graph: the log-likelihood can be differentiated to the input
    model.log_prob(t).sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()
    # numpy in: no graph is built
    np_lp = model.log_prob(x)
    np.testing.assert_allclose(np_lp, model.log_prob(t).detach().numpy(), rtol=1e-5)


def test_layers_lists() -> None:
    model = RealNVP(5, 8, seed=0).double()
    x = np.random.default_rng(0).normal(size=(40, 2))
    fwd = model.forward_layers(x)
    assert len(fwd) == model.n_layers + 1 == 6
    np.testing.assert_array_equal(fwd[0], x)
    np.testing.assert_allclose(fwd[-1], model.forward(x)[0], atol=1e-12)
    inv = model.inverse_layers(fwd[-1])
    assert len(inv) == 6
    np.testing.assert_allclose(inv[-1], x, atol=1e-12)
    # inverse layer k undoes forward layer K - k + 1
    for k in range(6):
        np.testing.assert_allclose(inv[k], fwd[5 - k], atol=1e-12)
    # a coupling changes one coordinate only, alternating
    for k in range(5):
        kept = k % 2
        np.testing.assert_array_equal(fwd[k + 1][:, kept], fwd[k][:, kept])
        assert not np.allclose(fwd[k + 1][:, 1 - kept], fwd[k][:, 1 - kept])


def test_seed_gives_deterministic_init_and_samples() -> None:
    a, b, c = RealNVP(4, 16, seed=5), RealNVP(4, 16, seed=5), RealNVP(4, 16, seed=6)
    x = np.random.default_rng(0).normal(size=(10, 2))
    np.testing.assert_array_equal(a.log_prob(x), b.log_prob(x))
    assert not np.allclose(a.log_prob(x), c.log_prob(x))
    np.testing.assert_array_equal(a.sample(20, seed=1), b.sample(20, seed=1))
    p, q = PlanarFlow(4, seed=5), PlanarFlow(4, seed=5)
    np.testing.assert_array_equal(p.log_prob(x), q.log_prob(x))
    # building a model does not disturb torch's global generator
    torch.manual_seed(0)
    first = torch.rand(1)
    torch.manual_seed(0)
    RealNVP(4, 16, seed=9)
    assert torch.equal(torch.rand(1), first)


def test_realnvp_log_scales_are_bounded() -> None:
    model = RealNVP(3, 8, seed=0, init_scale=50.0)  # a wild init
    x = np.random.default_rng(0).normal(scale=5.0, size=(1000, 2))
    with torch.no_grad():
        h = torch.tensor(x, dtype=torch.float32)
        for layer in model.layers:
            h, s = layer(h)
            assert float(s.abs().max()) <= SCALE_BOUND + 1e-5
    _, ld = model.forward(x)
    assert np.abs(ld).max() <= 3 * SCALE_BOUND + 1e-4


def test_device_and_to() -> None:
    model = RealNVP(2, 8, seed=0)
    assert model.device.type == "cpu" and model.dtype == torch.float32
    assert model.double().dtype == torch.float64
    if torch.cuda.is_available():
        cuda = RealNVP(2, 8, seed=0).to("cuda")
        x = np.random.default_rng(0).normal(size=(5, 2))
        np.testing.assert_allclose(cuda.log_prob(x), RealNVP(2, 8, seed=0).log_prob(x),
                                   atol=1e-4)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        RealNVP(0, 8)
    with pytest.raises(ValueError):
        PlanarFlow(0)
    with pytest.raises(ValueError):
        MonotoneFlow1D(0)


def test_parameter_count() -> None:
    # each coupling: 1->h, h->h, h->2 with biases
    h = 16
    assert flow_parameters(RealNVP(3, h)) == 3 * ((h + h) + (h * h + h) + (2 * h + 2))
    assert flow_parameters(PlanarFlow(5)) == 5 * 5


# ---------------------------------------------------------------------- sampling


@pytest.mark.parametrize("name", ["realnvp (trained)", "planar (trained)"])
def test_samples_have_the_model_density(models, name) -> None:
    model = models[name]
    bound, n = 6.0, 480
    mass, logp, area = _grid_mass(model, bound, n)
    p = np.exp(logp)
    # E_p[log p] = -entropy, by quadrature and by Monte Carlo over the model's samples
    neg_entropy = float((p * logp).sum() * area / mass)
    s = model.sample(20_000, seed=1)
    lp = model.log_prob(s)
    se = lp.std() / math.sqrt(len(lp))
    assert abs(lp.mean() - neg_entropy) < 5 * se + 1e-3, (lp.mean(), neg_entropy, se)
    # and the samples' histogram matches the density's mass per bin (total variation)
    bins = 12
    edges = np.linspace(-bound, bound, bins + 1)
    counts, _, _ = np.histogram2d(s[:, 0], s[:, 1], bins=[edges, edges])
    cell_mass = p.reshape(n, n).T.reshape(bins, n // bins, bins, n // bins).sum((1, 3)) * area
    tv = 0.5 * np.abs(counts / len(s) - cell_mass).sum()
    assert tv < 0.03, tv


# ---------------------------------------------------------------------- planar flow


def test_planar_invertibility_condition_holds_even_for_bad_u() -> None:
    model = PlanarFlow(6, seed=0).double()
    with torch.no_grad():
        for k, layer in enumerate(model.layers):
            # u pointing against w with w·u far below -1: the raw layer would fold the plane
            layer.u.copy_(-(3.0 + k) * layer.w / (layer.w @ layer.w))
    cond = model.condition()
    assert cond.shape == (6,) and (cond > -1).all()
    x = np.random.default_rng(0).normal(scale=2.0, size=(2000, 2))
    z, ld = model.forward(x)
    assert np.isfinite(ld).all()
    np.testing.assert_allclose(model.inverse(z), x, atol=1e-8)
    # each layer is monotone along w: w·f(x) increases with w·x (checked on a line)
    layer = model.layers[0]
    w = layer.w.detach().numpy()
    t = np.linspace(-5, 5, 2001)
    line = torch.tensor(t[:, None] * w / (w @ w))
    proj = (layer(line)[0] @ layer.w).detach().numpy()
    assert (np.diff(proj) > 0).all()


def test_solve_monotone_against_closed_form() -> None:
    target = torch.linspace(-6, 6, 101, dtype=torch.float64)

    def g(a):
        return a**3 + a, 3 * a**2 + 1

    a = solve_monotone(g, target, torch.full_like(target, -3.0), torch.full_like(target, 3.0))
    np.testing.assert_allclose((a**3 + a).numpy(), target.numpy(), atol=1e-12)
    # arctan: plain Newton diverges from |a| > 1.39 and cycles near it; the safeguard copes
    target = torch.linspace(-1.4, 1.4, 57, dtype=torch.float64)
    a = solve_monotone(lambda a: (torch.atan(a), 1 / (1 + a * a)), target,
                       torch.full_like(target, -20.0), torch.full_like(target, 30.0))
    np.testing.assert_allclose(a.numpy(), np.tan(target.numpy()), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- training


@pytest.mark.parametrize("kind", ["realnvp", "planar"])
def test_short_training_lowers_held_out_nll(kind) -> None:
    x = _moons_std(1200, seed=3)
    train, held = x[:900], x[900:]
    model = RealNVP(6, 32, seed=0) if kind == "realnvp" else PlanarFlow(16, seed=0)
    tr = MLETrainer(model, train, lr=5e-3, batch_size=256, seed=0)
    before = tr.nll(held)
    losses = tr.step(300)
    assert len(losses) == 300 and tr.n_steps_ == 300 and np.isfinite(losses).all()
    after = tr.nll(held)
    assert after < before - 0.5, (before, after)
    assert losses[-50:].mean() < losses[:50].mean()


def test_trainer_is_deterministic_and_takes_live_settings() -> None:
    x = _moons_std(500)
    runs = []
    for _ in range(2):
        tr = MLETrainer(RealNVP(3, 8, seed=1), x, lr=1e-2, batch_size=64, seed=4)
        runs.append(tr.step(20))
    np.testing.assert_array_equal(runs[0], runs[1])
    tr.lr = 1e-4
    assert all(g["lr"] == 1e-4 for g in tr.optimizer.param_groups)
    tr.batch_size = 10_000  # larger than the data: the whole set
    assert len(tr.step(1)) == 1


def test_trainer_stops_at_a_non_finite_loss_without_updating() -> None:
    model = RealNVP(2, 8, seed=0)
    x = np.random.default_rng(0).normal(size=(50, 2))
    x[:] = np.nan
    tr = MLETrainer(model, x, lr=1e-2, batch_size=16, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    losses = tr.step(10)
    assert len(losses) == 1 and np.isnan(losses[0]) and tr.n_steps_ == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_gradient_clipping_option() -> None:
    x = _moons_std(300)
    tr = MLETrainer(RealNVP(3, 8, seed=0), x, lr=1e-2, batch_size=64, seed=0,
                    max_grad_norm=1e-3)
    first = [p.detach().clone() for p in tr.model.parameters()]
    tr.step(1)
    # Adam normalises the step, so check the clipped gradient itself
    norm = torch.sqrt(sum((p.grad**2).sum() for p in tr.model.parameters()))
    assert float(norm) <= 1e-3 * (1 + 1e-5)
    assert not all(torch.equal(a, b) for a, b in zip(first, tr.model.parameters(),
                                                      strict=True))


# ---------------------------------------------------------------------- the 1D flow


def _trained_1d(name: str = "two bumps", steps: int = 300) -> MonotoneFlow1D:
    model = MonotoneFlow1D(8, seed=0)
    MLETrainer(model, make_dataset_1d(name, 1000, seed=0), lr=2e-2, seed=0).step(steps)
    return model.double()


@pytest.mark.parametrize("trained", [False, True])
def test_1d_map_is_monotone_and_density_integrates_to_one(trained) -> None:
    model = _trained_1d() if trained else MonotoneFlow1D(8, seed=3).double()
    x = np.linspace(-15.0, 15.0, 30_001)
    z, ld = model.forward(x)
    assert (np.diff(z) > 0).all()
    assert (model.derivative(x) > 0).all()
    np.testing.assert_allclose(np.exp(ld), model.derivative(x))
    mass = np.trapezoid(np.exp(model.log_prob(x)), x)
    assert mass == pytest.approx(1.0, abs=1e-6)
    # the generative map x = f(z) is increasing too, and inverts g
    zs = np.linspace(-4, 4, 401)
    f = model.inverse(zs)
    assert (np.diff(f) > 0).all()
    np.testing.assert_allclose(model.forward(f)[0], zs, atol=1e-9)


def test_1d_log_det_matches_autograd() -> None:
    model = _trained_1d(steps=100)
    x = torch.linspace(-4, 4, 50, dtype=torch.float64, requires_grad=True)
    z, ld = model.forward(x)
    (dz,) = torch.autograd.grad(z.sum(), x)  # elementwise map: the sum's gradient is g'
    np.testing.assert_allclose(ld.detach().numpy(), torch.log(dz).numpy(), atol=1e-12)


def test_1d_induced_density_is_the_change_of_variables() -> None:
    """p(x) = N(f⁻¹(x)) |df⁻¹/dx|, with df⁻¹/dx by finite differences of the inverse map."""
    model = _trained_1d(steps=200)
    x = np.linspace(-3, 3, 61)
    h = 1e-5
    z = model.forward(x)[0]
    dzdx = (model.forward(x + h)[0] - model.forward(x - h)[0]) / (2 * h)
    expected = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi) * dzdx
    np.testing.assert_allclose(np.exp(model.log_prob(x)), expected, rtol=1e-6)


def test_1d_training_fits_two_bumps() -> None:
    data = make_dataset_1d("two bumps", 2000, seed=0)
    model = MonotoneFlow1D(8, seed=0)
    tr = MLETrainer(model, data[:1500], lr=2e-2, seed=0)
    before = tr.nll(data[1500:])
    tr.step(600)
    after = tr.nll(data[1500:])
    assert after < before - 0.5
    # compared with the true density: close in total variation
    x = np.linspace(-5, 5, 2001)
    tv = 0.5 * np.trapezoid(np.abs(np.exp(model.log_prob(x)) - density_1d("two bumps", x)), x)
    assert tv < 0.1, tv
    s = model.sample(5000, seed=0)
    assert s.shape == (5000,) and abs(s.mean() - data.mean()) < 0.15


@pytest.mark.parametrize("name", DATASETS_1D)
def test_1d_datasets_match_their_densities(name) -> None:
    x = np.linspace(-6, 12, 36_001)
    assert np.trapezoid(density_1d(name, x), x) == pytest.approx(1.0, abs=2e-3)
    data = make_dataset_1d(name, 20_000, seed=1)
    np.testing.assert_array_equal(data, make_dataset_1d(name, 20_000, seed=1))
    edges = np.linspace(-4, 6, 41)
    counts, _ = np.histogram(data, edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    fine = np.linspace(-4, 6, 4001)
    mass = np.array([np.trapezoid(density_1d(name, fine[(fine >= a) & (fine <= b)]),
                                  fine[(fine >= a) & (fine <= b)])
                     for a, b in zip(edges[:-1], edges[1:], strict=True)])
    assert len(mid) == len(mass)
    assert 0.5 * np.abs(counts / len(data) - mass).sum() < 0.03
    with pytest.raises(ValueError):
        make_dataset_1d("nope", 10)


@pytest.mark.parametrize("scale", [-50.0, 1e3, -1e4, -1e6])
def test_planar_constraint_holds_in_float32_for_extreme_u(scale):
    """wᵀû > −1 as computed in float32, u scaled far out (it read −1.0000005 at −50)."""
    import torch

    from genlab.engine.flows import PlanarLayer

    for seed in range(100):
        layer = PlanarLayer(torch.Generator().manual_seed(seed))
        with torch.no_grad():
            layer.u.mul_(scale)
        wu = float((layer.w @ layer.u_hat()).detach())
        assert wu > -1.0, f"seed {seed}: wᵀû = {wu!r}"
