r"""Variational auto-encoders on points (2D data, 1D or 2D latent), trained by the
reparameterised ELBO; and probabilistic PCA, the linear-Gaussian case's exact optimum.

Model (Kingma & Welling 2014; Rezende et al. 2014), for x in R^D and z in R^L:

    prior     p(z) = N(0, I)
    decoder   p(x|z) = N(f(z), s² I)              f an MLP or linear, s² learned
    encoder   q(z|x) = N(μ(x), diag σ²(x))

    ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) = log p(x) − KL(q(z|x) ‖ p(z|x)) ≤ log p(x)

The first term is the reconstruction (−distortion D), the second the rate R (Alemi et al. 2018,
"Fixing a broken ELBO").  Training maximises E_x[E_q log p(x|z) − β KL] on minibatches (the
β-VAE of Higgins et al. 2017; β = 1 is the ELBO), with z = μ + σ ⊙ ε, ε ~ N(0, I), so the
Monte-Carlo estimate is differentiable in the encoder's outputs (the reparameterisation trick).
KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²) is computed in closed form.

``decoder="linear"`` makes both maps linear: μ(x) = V x + c, σ² a learned constant, f(z) = W z
+ b.  Its marginal p(x) = N(b, W Wᵀ + s² I) is exact, and its ELBO's optimum is the maximum
likelihood of probabilistic PCA (Tipping & Bishop 1999), reached with a tight bound (Lucas et
al. 2019, "Don't blame the ELBO!"); ``ppca_log_likelihood`` gives that maximum in closed form.

The trainer works on standardised points x′ = (x − m)/σ_x (m the data mean, σ_x their root
mean variance) and reports everything in the data's own units: log p(x) = log p′(x′) −
D log σ_x.  torch is imported with this module: import it only when a run trains.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from genlab.engine.optim import LiveLearningRate, applied, guarded_steps

__all__ = ["DECODERS", "VAETrainer", "gaussian_kl", "gaussian_log_lik", "ppca",
           "ppca_log_likelihood"]

DECODERS = ("mlp", "linear")
LOG_2PI = math.log(2.0 * math.pi)
EVAL_SAMPLES = 8  # z draws per point for the Monte-Carlo reconstruction term of ``terms``
IW_ROWS = 8192  # importance-sampled log p(x): at most this many (draw, point) rows at once
# The decoder's s starts at this fraction of the data's spread.  Started at the whole spread
# (s = 1 in standardised units), N(f, s²I) already explains the data as noise and training
# tends to stay at that collapsed stationary point (Lucas et al. 2019): see set_noise_std.
S_START = 0.3


# ----------------------------------------------------------------------------- closed forms
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag exp(logvar)) ‖ N(0, I)) per row: mu, logvar (n, L) -> (n,) nats.

    ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²) (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def gaussian_log_lik(x: torch.Tensor, mean: torch.Tensor, log_s2: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, s² I) per row: x, mean (..., D), log_s2 a scalar -> (...,) nats.

    −½ Σ_d [(x_d − mean_d)² / s² + log s² + log 2π]."""
    d = x.shape[-1]
    sq = ((x - mean) ** 2).sum(dim=-1)
    return -0.5 * (sq * torch.exp(-log_s2) + d * (log_s2 + LOG_2PI))


def ppca(x: ArrayLike, latent_dim: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Probabilistic PCA's maximum-likelihood fit (Tipping & Bishop 1999, eq. 7–8):
    x (n, D) -> (mean (D,), W (D, q), σ²), for the model x = W z + mean + noise, z ~ N(0, I_q),
    noise ~ N(0, σ² I_D).

    With S the sample covariance (1/n), eigenvalues λ_1 ≥ … ≥ λ_D and eigenvectors U:
    σ² = mean(λ_{q+1..D}) (0 when q = D), W = U_q (Λ_q − σ² I)^{1/2}."""
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim != 2 or len(xa) < 2:
        raise ValueError(f"x must be (n >= 2, D), got shape {xa.shape}")
    d = xa.shape[1]
    q = int(latent_dim)
    if not 1 <= q <= d:
        raise ValueError(f"latent_dim must be in 1..{d}, got {latent_dim}")
    mean = xa.mean(axis=0)
    s = np.cov(xa, rowvar=False, bias=True).reshape(d, d)
    lam, u = np.linalg.eigh(s)
    lam, u = np.maximum(lam[::-1], 0.0), u[:, ::-1]
    sigma2 = float(lam[q:].mean()) if q < d else 0.0
    w = u[:, :q] * np.sqrt(np.maximum(lam[:q] - sigma2, 0.0))
    return mean, w, sigma2


def ppca_log_likelihood(x: ArrayLike, latent_dim: int) -> float:
    """PPCA's maximum mean log-likelihood of x (n, D) with a q = latent_dim dimensional latent,
    in nats per point (Tipping & Bishop 1999, eq. 4 at the optimum of eq. 7–8):

        (1/n) max log p(x) = −½ [D log 2π + Σ_{j≤q} log λ_j + (D − q) log σ² + D],

    σ² = mean(λ_{q+1..D}); for q = D it is the full Gaussian's −½ [D log 2π + log|S| + D].
    +inf when the data have no spread off a q-dimensional plane (σ² = 0)."""
    xa = np.asarray(x, dtype=np.float64)
    _, _, sigma2 = ppca(xa, latent_dim)
    d, q = xa.shape[1], int(latent_dim)
    lam = np.maximum(np.linalg.eigvalsh(np.cov(xa, rowvar=False, bias=True).reshape(d, d))
                     [::-1], 0.0)
    if lam[:q].min() <= 0.0 or (q < d and sigma2 <= 0.0):
        return math.inf
    rest = (d - q) * math.log(sigma2) if q < d else 0.0
    return -0.5 * (d * LOG_2PI + float(np.log(lam[:q]).sum()) + rest + d)


# ------------------------------------------------------------------------------- networks
def _mlp(d_in: int, d_out: int, hidden: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.SiLU()]
        d = hidden
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """q(z|x) = N(μ(x), diag exp(logvar(x))): x (n, D) -> (μ (n, L), logvar (n, L)).

    "mlp": one MLP with 2L outputs; "linear": μ = V x + c and a learned logvar shared by all
    points (the linear VAE of Lucas et al. 2019)."""

    def __init__(self, d: int, latent: int, hidden: int, depth: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        if kind == "linear":
            self.net = nn.Linear(d, latent)
            self.logvar = nn.Parameter(torch.zeros(latent))
        else:
            self.net = _mlp(d, 2 * latent, hidden, depth)
        self.latent = latent

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "linear":
            mu = self.net(x)
            return mu, self.logvar.expand_as(mu)
        out = self.net(x)
        return out[:, :self.latent], out[:, self.latent:]


class VAETrainer(LiveLearningRate):
    """A VAE on points x (n, D), trained by Adam on minibatches of the reparameterised β-ELBO.

    ``latent_dim`` L; ``hidden`` and ``depth`` (hidden layers, SiLU) of the encoder's and the
    decoder's MLPs; ``decoder`` "mlp" or "linear" (both maps linear: PPCA's model); ``beta``
    weighs the KL term in training (``.beta``, ``.lr`` and ``.batch_size`` may change between
    steps); ``seed`` fixes the weights, the minibatches and the noise ε (a CPU generator, so
    they are the same on every device).

    Learned state: ``step_`` (Adam steps applied), ``history_`` (their minibatch losses,
    −(E log p(x|z) − β KL) per point in the data's units), ``encoder``, ``decoder``,
    ``log_s2`` (log s² of the decoder, standardised units; s starts at S_START of the data's
    spread, ``set_noise_std`` moves it).  ``m_`` and ``scale_`` standardise
    the data (x′ = (x − m_)/scale_).
    """

    def __init__(self, x: ArrayLike, latent_dim: int = 2, hidden: int = 64, depth: int = 2,
                 decoder: str = "mlp", beta: float = 1.0, lr: float = 1e-3, seed: int = 0,
                 device: str = "cpu") -> None:
        xa = np.asarray(x, dtype=np.float64)
        if xa.ndim != 2 or len(xa) < 2 or not np.isfinite(xa).all():
            raise ValueError(f"x must be finite (n >= 2, D) points, got shape {xa.shape}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be 'mlp' or 'linear', got {decoder!r}")
        if int(latent_dim) < 1 or int(hidden) < 1 or int(depth) < 0:
            raise ValueError("need latent_dim >= 1, hidden >= 1 and depth >= 0")
        if not (float(beta) >= 0 and math.isfinite(beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.m_ = xa.mean(axis=0)
        self.scale_ = float(np.sqrt(xa.var(axis=0).mean()))
        if not self.scale_ > 1e-12:
            raise ValueError("the points all coincide: there is no spread to model")
        self.dim, self.latent_dim = xa.shape[1], int(latent_dim)
        self.kind = decoder
        self.device = device
        self.beta = float(beta)
        self.batch_size = 256
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG untouched
            torch.manual_seed(self.seed)
            self.encoder = Encoder(self.dim, self.latent_dim, int(hidden), int(depth), decoder)
            self.decoder = (nn.Linear(self.latent_dim, self.dim) if decoder == "linear"
                            else _mlp(self.latent_dim, self.dim, int(hidden), int(depth)))
        self.encoder.to(device)
        self.decoder.to(device)
        self.log_s2 = nn.Parameter(torch.full((), 2.0 * math.log(S_START), device=device))
        self.x_ = self._std(xa)
        self.generator = torch.Generator().manual_seed(self.seed)
        params = [*self.encoder.parameters(), *self.decoder.parameters(), self.log_s2]
        self.optimizer = torch.optim.Adam(params, lr=float(lr))
        self.step_ = 0
        self.history_: list[float] = []

    # ---------------------------------------------------------------------------- units
    @property
    def log_scale_d(self) -> float:
        """D log σ_x: what a log-density in standardised units loses in the data's units."""
        return self.dim * math.log(self.scale_)

    @property
    def noise_std(self) -> float:
        """The decoder's s, in the data's units."""
        return float(torch.exp(0.5 * self.log_s2.detach())) * self.scale_

    def set_noise_std(self, s: float) -> None:
        """Set the decoder's s (data units), e.g. to start training from another value."""
        if not (float(s) > 0 and math.isfinite(s)):
            raise ValueError(f"s must be a positive number, got {s}")
        with torch.no_grad():
            self.log_s2.fill_(2.0 * math.log(float(s) / self.scale_))

    def _std(self, x: ArrayLike) -> torch.Tensor:
        xa = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        dtype = next(self.decoder.parameters()).dtype
        return torch.as_tensor((xa - self.m_) / self.scale_, dtype=dtype, device=self.device)

    def _randn(self, *shape: int) -> torch.Tensor:
        dtype = next(self.decoder.parameters()).dtype
        return torch.randn(shape, generator=self.generator).to(self.device, dtype)

    # ---------------------------------------------------------------------------- terms
    def terms_t(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E log p(x′|z) estimate, KL) per point, standardised units: x (n, D) standardised,
        eps (n, L) or (k, n, L) noise -> ((n,), (n,)), the reconstruction averaged over the
        k draws z = μ + σ ⊙ ε (differentiable: the reparameterisation trick)."""
        mu, logvar = self.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = gaussian_log_lik(x, self.decoder(z), self.log_s2)
        return (recon if eps.dim() == 2 else recon.mean(dim=0)), gaussian_kl(mu, logvar)

    def _loss(self) -> torch.Tensor:
        """The minibatch loss in standardised units (``step`` adds D log σ_x)."""
        n = self.x_.shape[0]
        b = min(int(self.batch_size), n)
        idx = torch.randint(0, n, (b,), generator=self.generator).to(self.device)
        recon, kl = self.terms_t(self.x_[idx], self._randn(b, self.latent_dim))
        return -(recon - self.beta * kl).mean()

    def step(self, n: int = 1) -> np.ndarray:
        """Up to n Adam steps on minibatches of −(E_q log p(x|z) − β KL); their losses (nats
        per point, data units).  Stops at the first non-finite loss without applying it."""
        self.encoder.train()
        self.decoder.train()
        losses = guarded_steps(self.optimizer, self._loss, int(n)) + self.log_scale_d
        k = applied(losses)
        self.step_ += k
        self.history_ += losses[:k].tolist()
        return losses

    def point_terms(self, x: ArrayLike, samples: int = EVAL_SAMPLES
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(E_q log p(x|z), KL(q(z|x) ‖ p(z))) per point of x (n, D), two (n,) arrays in nats,
        data units.  The linear model's reconstruction term is exact (E‖x′ − W z − b‖² =
        ‖x′ − W μ − b‖² + Σ_j σ_j² ‖W_j‖²); the MLP's averages ``samples`` draws per point
        from a fixed noise stream, so calls on the same points and weights agree."""
        with torch.no_grad():
            xt = self._std(x)
            if self.kind == "linear":
                recon, kl = self._linear_terms(xt)
            else:
                g = torch.Generator().manual_seed(self.seed + 7919)
                eps = torch.randn((int(samples), xt.shape[0], self.latent_dim), generator=g)
                recon, kl = self.terms_t(xt, eps.to(self.device, xt.dtype))
        return (recon.detach().cpu().numpy().astype(np.float64) - self.log_scale_d,
                kl.detach().cpu().numpy().astype(np.float64))

    def terms(self, x: ArrayLike, samples: int = EVAL_SAMPLES) -> dict[str, float]:
        """Mean ELBO terms per point in nats, data units: "reconstruction" E_q log p(x|z),
        "kl" KL(q(z|x) ‖ p(z)), "elbo" their difference (β = 1); see ``point_terms``."""
        recon, kl = self.point_terms(x, samples)
        r, k = float(recon.mean()), float(kl.mean())
        return {"reconstruction": r, "kl": k, "elbo": r - k}

    def _linear_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x)
        w = self.decoder.weight  # (D, L)
        mean = self.decoder(mu)
        spread = (logvar.exp() * (w * w).sum(dim=0)).sum(dim=-1)  # Σ_j σ_j² ‖W_j‖²
        d = x.shape[-1]
        sq = ((x - mean) ** 2).sum(dim=-1) + spread
        recon = -0.5 * (sq * torch.exp(-self.log_s2) + d * (self.log_s2 + LOG_2PI))
        return recon, gaussian_kl(mu, logvar)

    def elbo(self, x: ArrayLike) -> float:
        """The mean ELBO per point of x (n, D) in nats at β = 1, under the learned decoder
        N(f(z), s² I) (see ``terms``)."""
        return self.terms(x)["elbo"]

    def kl_per_dim(self, x: ArrayLike) -> np.ndarray:
        """(L,) mean KL of each latent coordinate (nats): ~0 for a collapsed one."""
        with torch.no_grad():
            mu, logvar = self.encoder(self._std(x))
            kl = 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar)
        return kl.mean(dim=0).detach().cpu().numpy().astype(np.float64)

    def log_likelihood(self, x: ArrayLike, samples: int = 256) -> np.ndarray:
        """log p(x) per point (n,), nats, data units.  Linear decoder: exact, the Gaussian
        marginal N(b, W Wᵀ + s² I).  MLP: the importance-sampled estimate
        log (1/K) Σ_k p(x|z_k) p(z) / q(z_k|x), z_k ~ q(z|x) (Burda et al. 2016), a lower
        bound in expectation that tightens as K = ``samples`` grows."""
        with torch.no_grad():
            xt = self._std(x)
            if self.kind == "linear":
                w, b = self.decoder.weight, self.decoder.bias
                cov = w @ w.T + torch.exp(self.log_s2) * torch.eye(self.dim, dtype=w.dtype,
                                                                    device=w.device)
                dist = torch.distributions.MultivariateNormal(b, covariance_matrix=cov)
                lp = dist.log_prob(xt)
            else:
                mu, logvar = self.encoder(xt)
                g = torch.Generator().manual_seed(self.seed + 104729)
                eps = torch.randn((int(samples), *mu.shape), generator=g).to(mu.device,
                                                                              mu.dtype)
                # in slices of the K draws: one (K, n, hidden) pass overflows the CPU's cache
                per = max(1, IW_ROWS // max(1, len(xt)))
                lw = torch.cat([self._log_weights(xt, mu, logvar, e)
                                for e in torch.split(eps, per)])
                lp = torch.logsumexp(lw, dim=0) - math.log(lw.shape[0])
        return lp.detach().cpu().numpy().astype(np.float64) - self.log_scale_d

    def _log_weights(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                     eps: torch.Tensor) -> torch.Tensor:
        """log p(x|z) + log p(z) − log q(z|x) at z = μ + σ ⊙ ε: eps (k, n, L) -> (k, n)."""
        z = mu + torch.exp(0.5 * logvar) * eps
        log_px_z = gaussian_log_lik(x, self.decoder(z), self.log_s2)
        log_pz = -0.5 * (z * z + LOG_2PI).sum(dim=-1)
        log_q = -0.5 * (eps * eps + logvar + LOG_2PI).sum(dim=-1)
        return log_px_z + log_pz - log_q

    # ------------------------------------------------------------------------- the maps
    def encode(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(μ, log σ²) of q(z|x) for x (n, D) in data units: two (n, L) arrays."""
        with torch.no_grad():
            mu, logvar = self.encoder(self._std(x))
        return (mu.detach().cpu().numpy().astype(np.float64),
                logvar.detach().cpu().numpy().astype(np.float64))

    def decode(self, z: ArrayLike) -> np.ndarray:
        """The decoder's mean f(z) in data units: z (n, L) -> (n, D)."""
        za = np.asarray(z, dtype=np.float64).reshape(-1, self.latent_dim)
        dtype = next(self.decoder.parameters()).dtype
        with torch.no_grad():
            f = self.decoder(torch.as_tensor(za, dtype=dtype, device=self.device))
        return self.m_ + self.scale_ * f.detach().cpu().numpy().astype(np.float64)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """n draws x = f(z) + s ε, z ~ N(0, I), ε ~ N(0, I): (n, D) in data units.  ``seed``
        fixes the draws (None: the next draws of a stream of the trainer's seed)."""
        if seed is None:
            self._sample_calls = getattr(self, "_sample_calls", 0) + 1
            seed = self.seed * 1_000_003 + self._sample_calls
        rng = np.random.default_rng(int(seed))
        z = rng.standard_normal((int(n), self.latent_dim))
        return self.decode(z) + self.noise_std * rng.standard_normal((int(n), self.dim))

    def z_share(self, n: int = 4000) -> float:
        """How much the decoder's mean uses z: tr Cov_z f(z) over the data's total variance,
        z ~ N(0, I) (exact for the linear decoder, ‖W‖²_F / tr Cov x; else a fixed draw of n
        z).  0 when f ignores z (posterior collapse)."""
        if self.kind == "linear":
            w = self.decoder.weight.detach()
            return float((w * w).sum()) / self.dim  # standardised data: tr Cov x′ = D
        z = np.random.default_rng(self.seed + 31).standard_normal((int(n), self.latent_dim))
        f = self.decode(z)
        return float(f.var(axis=0).sum() / (self.dim * self.scale_ ** 2))

    def n_parameters(self) -> int:
        return sum(p.numel() for p in (*self.encoder.parameters(),
                                       *self.decoder.parameters())) + 1

    def state(self) -> dict[str, Any]:
        """What a lab shows of the trainer in one call: the decoder's s (data units), the
        step, the model's kind."""
        return {"s": self.noise_std, "step": self.step_, "decoder": self.kind}
