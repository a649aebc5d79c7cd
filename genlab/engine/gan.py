r"""Generative adversarial networks on the plane: the losses, the trainer, and the 2D measures.

A generator G maps latent draws z ~ p_z (uniform on [−1, 1]^k or N(0, I_k), k = 1 or 2) to
points x = G(z) in the plane; a discriminator (critic) f scores points.  With D(x) = σ(f(x)):

=================  =======================================  ====================================
loss               discriminator minimises                  generator minimises
=================  =======================================  ====================================
minimax            −E_p log D(x) − E_q log(1 − D(x))        E_q log(1 − D(x))  (saturating)
non-saturating     the same                                 −E_q log D(x)
least-squares      ½E_p (f − 1)² + ½E_q f²                  ½E_q (f − 1)²
wgan-gp            E_q f − E_p f + λ E_x̃ (‖∇f(x̃)‖ − 1)²    −E_q f
hinge              E_p max(0, 1 − f) + E_q max(0, 1 + f)    −E_q f
=================  =======================================  ====================================

(p the data, q the generator's law; Goodfellow et al. 2014; Mao et al. 2017 with a = 0,
b = c = 1; Gulrajani et al. 2017 with x̃ = εx + (1 − ε)G(z), ε ~ U[0, 1]; Lim & Ye 2017 and
Miyato et al. 2018 for the hinge.)  For a fixed G the best discriminator of the first three is
D*(x) = p(x) / (p(x) + q(x)) (for least squares f* = D*), and the minimax value at D* is
2 JSD(p, q) − log 4 (Goodfellow et al. 2014, Theorem 1); the best hinge critic is
sign(p − q).  ``optimal_discriminator``, ``gan_value`` and ``jensen_shannon`` evaluate these
on a quadrature grid.

``mode_coverage`` is the standard measure on mixtures of Gaussians (Metz et al. 2017;
Srivastava et al. 2017): a sample is of high quality when it lies within 3σ of its nearest
mode, and a mode is covered when enough high-quality samples land on it.

torch is imported by ``GANTrainer`` and the loss functions only (the numpy measures here do
not need it), so a lab may import this module before it trains.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    import torch

Array = NDArray[np.float64]

LOSSES = ("non-saturating", "minimax", "least-squares", "wgan-gp", "hinge")
#: losses whose discriminator output is a probability D = σ(f)
PROBABILITY = ("non-saturating", "minimax")
LATENTS = ("gaussian", "uniform")
OPTIMIZERS = ("adam", "sgd")
TRAIN = ("both", "D", "G")
GP_WEIGHT = 10.0  # λ of Gulrajani et al. 2017
MIN_MODE_FRACTION = 0.02  # a mode is covered by at least this fraction of the samples

__all__ = ["GANTrainer", "LOSSES", "d_loss", "g_loss", "gan_value", "gradient_penalty",
           "jensen_shannon", "mixture_density", "mode_coverage", "optimal_discriminator"]


# --------------------------------------------------------------------------- numpy measures


def mode_coverage(samples: ArrayLike, means: ArrayLike, std: float, *,
                  min_fraction: float = MIN_MODE_FRACTION) -> tuple[int, float]:
    """(modes covered, high-quality fraction) of samples (n, d) against modes means (k, d)
    of standard deviation ``std`` (Metz et al. 2017, "Unrolled GANs", §3.1).

    A sample is of high quality when its distance to the nearest mode is at most 3·std; a
    mode is covered when at least max(1, ⌈min_fraction · n⌉) high-quality samples have it as
    their nearest mode (so a few stragglers do not count as a mode learned)."""
    x = np.asarray(samples, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    if x.ndim != 2 or mu.ndim != 2 or x.shape[1] != mu.shape[1] or len(mu) == 0:
        raise ValueError(f"samples (n, d) and means (k, d) needed, got {x.shape}, {mu.shape}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    if len(x) == 0:
        return 0, 0.0
    d2 = ((x[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    near = d2.argmin(axis=1)
    good = np.sqrt(d2[np.arange(len(x)), near]) <= 3.0 * std
    need = max(1, math.ceil(min_fraction * len(x)))
    counts = np.bincount(near[good], minlength=len(mu))
    return int((counts >= need).sum()), float(good.mean())


def mixture_density(x: ArrayLike, means: ArrayLike, std: float,
                    weights: ArrayLike | None = None) -> Array:
    """Density at x (n, d) of the mixture Σ_k w_k N(μ_k, std² I) (equal weights by default)."""
    xa = np.asarray(x, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    w = np.full(len(mu), 1.0 / len(mu)) if weights is None else np.asarray(weights, float)
    d = xa.shape[1]
    d2 = ((xa[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
    norm = (2.0 * math.pi * std * std) ** (-d / 2.0)
    return (np.exp(-0.5 * d2 / (std * std)) * norm) @ w


def optimal_discriminator(p_data: ArrayLike, p_g: ArrayLike) -> Array:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Proposition 1),
    elementwise; ½ where both densities vanish."""
    p, q = np.asarray(p_data, float), np.asarray(p_g, float)
    s = p + q
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), 0.5)


def gan_value(d: ArrayLike, p: ArrayLike, q: ArrayLike, weights: ArrayLike) -> float:
    """V(D, G) = E_p log D + E_q log(1 − D) by quadrature: Σ w_i (p_i log d_i + q_i
    log(1 − d_i)) over nodes with densities p_i, q_i and weights w_i (0·log 0 = 0)."""
    d, p, q, w = (np.asarray(a, float) for a in (d, p, q, weights))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(d), 0.0)
        b = np.where(q > 0, q * np.log1p(-d), 0.0)
    return float((w * (a + b)).sum())


def jensen_shannon(p: ArrayLike, q: ArrayLike, weights: ArrayLike) -> float:
    """JSD(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, in nats, by quadrature."""
    p, q, w = (np.asarray(a, float) for a in (p, q, weights))
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log(p / m), 0.0)
        kq = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(0.5 * (w * (kp + kq)).sum())


# ------------------------------------------------------------------------------ the losses


def d_loss(loss: str, f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss (without WGAN-GP's penalty) from its raw outputs f on a real
    batch (b,) and a fake batch (b,); see the module table.  log σ(f) is −softplus(−f)."""
    import torch.nn.functional as F

    if loss in PROBABILITY:
        return F.softplus(-f_real).mean() + F.softplus(f_fake).mean()
    if loss == "least-squares":
        return 0.5 * ((f_real - 1.0) ** 2).mean() + 0.5 * (f_fake ** 2).mean()
    if loss == "wgan-gp":
        return f_fake.mean() - f_real.mean()
    if loss == "hinge":
        return F.relu(1.0 - f_real).mean() + F.relu(1.0 + f_fake).mean()
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def g_loss(loss: str, f_fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's raw outputs on fakes (b,)."""
    import torch.nn.functional as F

    if loss == "minimax":
        return -F.softplus(f_fake).mean()  # log(1 − σ(f)) = −softplus(f)
    if loss == "non-saturating":
        return F.softplus(-f_fake).mean()
    if loss == "least-squares":
        return 0.5 * ((f_fake - 1.0) ** 2).mean()
    if loss in ("wgan-gp", "hinge"):
        return -f_fake.mean()
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def gradient_penalty(critic: Any, real: torch.Tensor, fake: torch.Tensor,
                     weight: float = GP_WEIGHT, eps: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    r"""WGAN-GP's penalty λ E (‖∇_x̃ f(x̃)‖₂ − 1)² at x̃ = ε x + (1 − ε) x̃_fake (Gulrajani et
    al. 2017, eq. 3): real, fake (b, ...) batches, ε (b,) ~ U[0, 1] (drawn from
    ``generator`` unless given); the norm is over all of a sample's coordinates.  Built with
    ``create_graph`` so that it can be differentiated with respect to the critic."""
    import torch

    b = real.shape[0]
    if eps is None:
        eps = torch.rand(b, generator=generator).to(real.device)
    e = eps.reshape(b, *([1] * (real.dim() - 1))).to(real.dtype)
    x = (e * real + (1.0 - e) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    norm = grad.reshape(b, -1).norm(dim=1)
    return weight * ((norm - 1.0) ** 2).mean()


# ------------------------------------------------------------------------------ the trainer


def _mlp(n_in: int, n_out: int, hidden: int, depth: int, act: Any) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    width = n_in
    for _ in range(max(int(depth), 1)):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def _optimizer(kind: str, params: Any, lr: float, loss: str) -> Any:
    import torch

    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr)
    # Radford et al. 2015 (β₁ = 0.5); Gulrajani et al. 2017 (0.5, 0.9) for the critic loss
    betas = (0.5, 0.9) if loss == "wgan-gp" else (0.5, 0.999)
    return torch.optim.Adam(params, lr=lr, betas=betas)


class GANTrainer:
    """A GAN on 2D points x (n, 2): G an MLP latent_dim → hidden^depth → 2 (ReLU), D an MLP
    2 → hidden^depth → 1 (LeakyReLU 0.2), trained by alternating steps: each iteration takes
    ``d_steps`` discriminator steps on fresh batches (real points and G(z) of fresh z), then
    one generator step on the last D step's z (as in the DCGAN reference code), each with its
    own optimiser (``opt_d``, ``opt_g``: "adam" or "sgd") and learning rate.

    ``loss``: see the module table.  ``latent``: "gaussian" N(0, I) or "uniform" on [−1, 1]^k.
    ``lr_d``, ``lr_g`` and ``d_steps`` can change between steps.  Randomness: the weights from
    ``seed``; batches, z and WGAN-GP's ε from one CPU torch.Generator seeded by ``seed``; the
    trainer never touches torch's global RNG.

    Learned state: ``step_`` (iterations done), ``history_`` (one (D loss, G loss) per
    iteration; the D loss includes the gradient penalty), ``G``, ``D``.
    """

    def __init__(self, x: ArrayLike, loss: str = "non-saturating", latent_dim: int = 2,
                 hidden: int = 64, depth: int = 2, d_steps: int = 1, lr_d: float = 1e-3,
                 lr_g: float = 1e-3, seed: int = 0, device: str = "cpu", *,
                 latent: str = "gaussian", opt_d: str = "adam", opt_g: str = "adam",
                 batch_size: int = 256, gp_weight: float = GP_WEIGHT) -> None:
        import torch
        from torch import nn

        xa = np.asarray(x, dtype=np.float64)
        if xa.ndim != 2 or xa.shape[1] != 2 or len(xa) < 1 or not np.isfinite(xa).all():
            raise ValueError(f"x must be finite points (n ≥ 1, 2), got shape {xa.shape}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if latent not in LATENTS:
            raise ValueError(f"latent must be one of {', '.join(LATENTS)}, got {latent!r}")
        if opt_d not in OPTIMIZERS or opt_g not in OPTIMIZERS:
            raise ValueError(f"optimisers are one of {', '.join(OPTIMIZERS)}")
        if int(latent_dim) < 1 or int(hidden) < 1 or int(depth) < 1 or int(batch_size) < 1:
            raise ValueError("latent_dim, hidden, depth and batch_size must be >= 1")
        self.loss, self.latent, self.latent_dim = loss, latent, int(latent_dim)
        self.d_steps, self.batch_size, self.gp_weight = int(d_steps), int(batch_size), gp_weight
        self.device = device
        self.x = torch.as_tensor(xa, dtype=torch.float32, device=device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.G = _mlp(self.latent_dim, 2, int(hidden), int(depth), nn.ReLU).to(device)
            self.D = _mlp(2, 1, int(hidden), int(depth),
                          lambda: nn.LeakyReLU(0.2)).to(device)
        self.opt_d = _optimizer(opt_d, self.D.parameters(), float(lr_d), loss)
        self.opt_g = _optimizer(opt_g, self.G.parameters(), float(lr_g), loss)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.step_ = 0
        self.history_: list[tuple[float, float]] = []

    # ----------------------------------------------------------------- live hyperparameters
    @property
    def lr_d(self) -> float:
        return float(self.opt_d.param_groups[0]["lr"])

    @lr_d.setter
    def lr_d(self, value: float) -> None:
        for g in self.opt_d.param_groups:
            g["lr"] = float(value)

    @property
    def lr_g(self) -> float:
        return float(self.opt_g.param_groups[0]["lr"])

    @lr_g.setter
    def lr_g(self, value: float) -> None:
        for g in self.opt_g.param_groups:
            g["lr"] = float(value)

    # ------------------------------------------------------------------------------- draws
    def _z(self, n: int, generator: torch.Generator) -> torch.Tensor:
        import torch

        shape = (int(n), self.latent_dim)
        if self.latent == "uniform":
            z = 2.0 * torch.rand(shape, generator=generator) - 1.0
        else:
            z = torch.randn(shape, generator=generator)
        return z.to(self.device)

    def latent_draws(self, n: int, seed: int = 0) -> Array:
        """n draws (n, latent_dim) from p_z, from their own stream ``seed``."""
        import torch

        return self._z(n, torch.Generator().manual_seed(int(seed))).cpu().double().numpy()

    def _real(self) -> torch.Tensor:
        import torch

        idx = torch.randint(0, self.x.shape[0], (self.batch_size,), generator=self.generator)
        return self.x[idx.to(self.device)]

    # -------------------------------------------------------------------------- training
    def _d_side(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        f_real, f_fake = self.D(real).squeeze(1), self.D(fake).squeeze(1)
        out = d_loss(self.loss, f_real, f_fake)
        if self.loss == "wgan-gp":
            out = out + gradient_penalty(self.D, real, fake, self.gp_weight,
                                         generator=self.generator)
        return out

    def _iteration(self, train: str, record: bool) -> tuple[float, float, dict[str, Any]]:
        import torch

        info: dict[str, Any] = {}
        d_params = list(self.D.parameters())
        g_params = list(self.G.parameters())
        ld = torch.zeros(())
        for k in range(max(self.d_steps, 1) if train != "G" else 1):
            real = self._real()
            z = self._z(self.batch_size, self.generator)
            with torch.no_grad():
                fake = self.G(z)
            last = k == max(self.d_steps, 1) - 1 or train == "G"
            if record and last:
                with torch.no_grad():
                    info.update(real=real, z=z, fake=fake, d_real=self.D(real).squeeze(1),
                                d_fake=self.D(fake).squeeze(1))
            ld = self._d_side(real, fake)
            if train != "G" and math.isfinite(float(ld.detach())):
                self.opt_d.zero_grad(set_to_none=True)
                ld.backward(inputs=d_params)
                self.opt_d.step()
        fake = self.G(z)
        if record:
            fake.retain_grad()
        lg = g_loss(self.loss, self.D(fake).squeeze(1))
        ld_v, lg_v = float(ld.detach()), float(lg.detach())
        if math.isfinite(lg_v) and (train != "D" or record):
            self.opt_g.zero_grad(set_to_none=True)
            lg.backward(inputs=g_params + ([fake] if record else []))
            if record:  # the per-sample gradient: the mean's gradient times the batch size
                info["grad"] = -fake.grad * fake.shape[0]
            if train != "D":
                self.opt_g.step()
            else:
                self.opt_g.zero_grad(set_to_none=True)
        if record:
            with torch.no_grad():
                info["fake_after"] = self.G(z)
        return ld_v, lg_v, info

    def step(self, n: int = 1, train: str = "both") -> Array:
        """Up to n iterations (``train``: "both", "D" only or "G" only); their (D loss,
        G loss) as an (m, 2) array, m ≤ n.  A non-finite loss stops it after that
        iteration's report, without applying the step whose loss was not finite."""
        if train not in TRAIN:
            raise ValueError(f"train must be one of {', '.join(TRAIN)}, got {train!r}")
        out = []
        for _ in range(int(n)):
            ld, lg, _ = self._iteration(train, False)
            out.append((ld, lg))
            if not (math.isfinite(ld) and math.isfinite(lg)):
                break
            self.step_ += 1
            self.history_.append((ld, lg))
        return np.array(out, dtype=np.float64).reshape(-1, 2)

    def step_detail(self, train: str = "both") -> dict[str, Any]:
        """One iteration, recorded stage by stage (numpy, float64): ``real`` (b, 2), ``z``
        (b, k), ``fake`` = G(z) (b, 2), ``d_real``, ``d_fake`` (b,) the discriminator's
        output (as ``discriminator``) before its update, ``loss_d``, ``loss_g``, ``grad``
        (b, 2) = −∂ℓ_G/∂x at each fake (the direction G's loss pushes it, against the updated
        D), ``fake_after`` (b, 2) = G(z) after the update.  With d_steps > 1 the batch shown
        is the last D step's."""
        if train not in TRAIN:
            raise ValueError(f"train must be one of {', '.join(TRAIN)}, got {train!r}")
        ld, lg, info = self._iteration(train, True)
        out: dict[str, Any] = {k: self._out(v) if k.startswith("d_") else
                               v.detach().cpu().double().numpy() for k, v in info.items()}
        out.update(loss_d=ld, loss_g=lg)
        if math.isfinite(ld) and math.isfinite(lg):
            self.step_ += 1
            self.history_.append((ld, lg))
        return out

    # ------------------------------------------------------------------------- evaluation
    def _out(self, f: torch.Tensor) -> Array:
        import torch

        v = torch.sigmoid(f) if self.loss in PROBABILITY else f
        return v.detach().cpu().double().numpy()

    def generate(self, z: ArrayLike) -> Array:
        """G(z) for latent points z (n, latent_dim): (n, 2)."""
        import torch

        za = np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim)
        with torch.no_grad():
            return self.G(torch.from_numpy(za).to(self.device)).cpu().double().numpy()

    def sample(self, n: int, seed: int = 0) -> Array:
        """n samples G(z) (n, 2), z drawn from p_z with its own stream ``seed``."""
        return self.generate(self.latent_draws(n, seed))

    def critic(self, x: ArrayLike) -> Array:
        """The discriminator's raw output f(x) (n,) at points x (n, 2)."""
        import torch

        xa = torch.as_tensor(np.asarray(x, np.float32).reshape(-1, 2), device=self.device)
        with torch.no_grad():
            return self.D(xa).squeeze(1).cpu().double().numpy()

    def discriminator(self, x: ArrayLike) -> Array:
        """The discriminator's output at x (n, 2): the probability D(x) = σ(f(x)) of "real"
        for minimax and non-saturating; the raw score f(x) otherwise (least squares: targets
        1 real, 0 fake; WGAN-GP and hinge: a critic, higher is more real)."""
        import torch

        xa = torch.as_tensor(np.asarray(x, np.float32).reshape(-1, 2), device=self.device)
        with torch.no_grad():
            return self._out(self.D(xa).squeeze(1))

    def critic_gradient(self, x: ArrayLike) -> Array:
        """∇f(x) (n, 2), the gradient of the discriminator's raw output at points x (n, 2)
        (WGAN-GP's penalty pushes its norm towards 1 between the data and G's samples)."""
        import torch

        xa = torch.as_tensor(np.asarray(x, np.float32).reshape(-1, 2), device=self.device)
        xa.requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(xa).sum(), xa)
        return grad.cpu().double().numpy()

    def generator_gradient(self, z: ArrayLike, loss: str | None = None
                           ) -> tuple[Array, Array]:
        """(x, g): the fakes x = G(z) (n, 2) and g = −∂ℓ_G/∂x (n, 2), the direction the
        generator's per-sample loss ℓ_G pushes each fake (GAN Lab's arrows); ``loss`` another
        generator loss to take on the same D (default: the trainer's).  For the minimax loss
        g = D(x)∇f(x), for the non-saturating one (1 − D(x))∇f(x)."""
        import torch

        za = torch.as_tensor(np.asarray(z, np.float32).reshape(-1, self.latent_dim),
                             device=self.device)
        with torch.no_grad():
            x = self.G(za)
        x.requires_grad_(True)
        ell = g_loss(loss or self.loss, self.D(x).squeeze(1)) * x.shape[0]
        (grad,) = torch.autograd.grad(ell, x)
        return x.detach().cpu().double().numpy(), -grad.cpu().double().numpy()
