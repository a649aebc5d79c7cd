r"""A small convolutional VAE on the image data sets (digits 8×8, sprites 32×32), with safe
checkpoints: the image half of the VAE lab.

    tr = ImageVAETrainer(digits(), latent_dim=2, beta=1.0)
    tr.step(500)                      # Adam steps on the β-ELBO; tr.step_, tr.history_
    mu, logvar = tr.encode(images)    # q(z|x) = N(μ, diag σ²), (n, L) each
    x = tr.decode(z)                  # the decoder's mean image, (n, C, H, W) in [−1, 1]
    tr.save("vae.safetensors"); tr = ImageVAETrainer.load("vae.safetensors")

Model: q(z|x) = N(μ(x), diag σ²(x)) from a conv encoder (stride-2 convolutions down to 4×4,
then linear layers), p(z) = N(0, I), and a decoder mirroring it (a linear layer, then
transposed convolutions) whose outputs l are per-pixel logits: log p(x|z) = Σ_pixels
[p log σ(l) + (1 − p) log(1 − σ(l))] with p = (x + 1)/2 the pixel's intensity in [0, 1], the
Bernoulli likelihood of the β-VAE papers (Higgins et al. 2017; Burgess et al. 2018).  (A
Gaussian with a learned variance, as in the 2D lab, shrinks s² on the sprites' black
background until the reconstruction term dwarfs the KL and β loses its meaning.)  For grey
pixels this is a cross-entropy rather than a normalised density, so the ELBO here is in nats
of that cross-entropy.  Training maximises E[log p(x|z)] − β KL(q(z|x) ‖ p(z)) with the
reparameterised z = μ + σ ⊙ ε.

Data: any object with ``name``, ``shape`` (C, H, W), ``n_classes``, ``class_names``, ``len``
and ``get(idx)`` (``genlab.engine.images.data``).  Sets drawn on demand (the sprites) are read
into a fixed pool of ``POOL`` images once, so a step does not redraw its batch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

from genlab.engine.optim import LiveLearningRate, applied, guarded_steps
from genlab.engine.training.checkpoint import (
    flatten_state,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)
from genlab.engine.vae import gaussian_kl

__all__ = ["ImageVAE", "ImageVAETrainer", "POOL"]

KIND = "vae-images"
POOL = 8192  # images drawn once from a lazy set (sprites) to train on
HIDDEN = 256  # the linear layer between the 4×4 feature map and the latent
_INIT_KEYS = ("latent_dim", "width", "beta", "lr", "batch_size", "seed")


def _downs(side: int) -> int:
    """Stride-2 stages that take ``side`` down to 4 (8 -> 1, 16 -> 2, 32 -> 3)."""
    k = int(round(math.log2(side / 4))) if side >= 8 else 0
    if k < 1 or 4 * 2 ** k != side:
        raise ValueError(f"the image VAE takes square images of side 8, 16, 32 or 64; got "
                         f"{side}")
    return k


class ImageVAE(nn.Module):
    """Conv encoder and decoder for (C, H, H) images with H = 4·2^k.

    encoder: k × [conv 4×4 stride 2 → SiLU] (channels w, 2w, 2w …) down to 4×4, flatten,
    linear → HIDDEN → SiLU → linear → (μ, logvar), each (n, L).
    decoder: linear → HIDDEN → SiLU → linear → SiLU → (channels, 4, 4), k × [transposed conv
    4×4 stride 2] (SiLU between them) up to the logits (n, C, H, H).  No layer works at full
    resolution: those cost most on a CPU and add little at these sizes."""

    def __init__(self, shape: tuple[int, int, int], latent_dim: int, width: int) -> None:
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"the image VAE takes square images, got {h}×{w}")
        k = _downs(h)
        chans = [c, width] + [2 * width] * (k - 1)
        enc: list[nn.Module] = []
        for i in range(k):
            enc += [nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1), nn.SiLU()]
        self.features = nn.Sequential(*enc, nn.Flatten())
        flat = chans[-1] * 16
        self.to_latent = nn.Sequential(nn.Linear(flat, HIDDEN), nn.SiLU(),
                                       nn.Linear(HIDDEN, 2 * latent_dim))
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, HIDDEN), nn.SiLU(),
                                         nn.Linear(HIDDEN, flat), nn.SiLU())
        dec: list[nn.Module] = []
        for i in range(k, 0, -1):
            dec.append(nn.ConvTranspose2d(chans[i], chans[i - 1], 4, stride=2, padding=1))
            if i > 1:
                dec.append(nn.SiLU())
        self.up = nn.Sequential(*dec)
        self.latent_dim = latent_dim
        self.top = (chans[-1], 4, 4)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.to_latent(self.features(x))
        return out[:, :self.latent_dim], out[:, self.latent_dim:]

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.from_latent(z).view(-1, *self.top))


def bernoulli_log_lik(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Σ over pixels of p log σ(l) + (1 − p) log(1 − σ(l)), p = (x + 1)/2: (n, C, H, W) ->
    (n,) nats."""
    p = (x + 1.0) * 0.5
    return -F.binary_cross_entropy_with_logits(logits, p, reduction="none").flatten(1).sum(1)


class _DataSpec:
    """A checkpoint's data set by name, opened when training resumes."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.name = str(cfg["data"])
        self.shape = tuple(int(s) for s in cfg["shape"])
        self.n_classes = int(cfg["n_classes"])
        self.class_names = tuple(str(c) for c in cfg["class_names"])

    def __len__(self) -> int:
        return 0


class ImageVAETrainer(LiveLearningRate):
    """Adam on minibatches of −(E_q log p(x|z) − β KL) for an ``ImageVAE`` on ``data``.

    ``beta``, ``lr`` and ``batch_size`` may change between steps.  ``seed`` fixes the
    weights, the batches (a numpy generator) and the noise ε (a CPU torch generator).
    Learned state: ``step_``, ``history_`` (minibatch losses, nats per image), ``net``,
    ``optimizer``; ``config`` (JSON) holds what determines the model, and the data set's
    name."""

    def __init__(self, data: Any, latent_dim: int = 2, width: int = 32, beta: float = 1.0,
                 lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
                 device: str = "auto") -> None:
        from genlab.engine.device import resolve

        shape = tuple(int(s) for s in data.shape)
        if int(latent_dim) < 1 or int(width) < 1 or int(batch_size) < 1:
            raise ValueError("need latent_dim, width and batch_size >= 1")
        if not (float(beta) >= 0 and math.isfinite(beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.device = resolve(device)
        self.config: dict[str, Any] = {
            "data": str(data.name), "shape": list(shape), "n_classes": int(data.n_classes),
            "class_names": [str(c) for c in data.class_names],
            "latent_dim": int(latent_dim), "width": int(width), "beta": float(beta),
            "lr": float(lr), "batch_size": int(batch_size), "seed": int(seed)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.net = ImageVAE(shape, int(latent_dim), int(width))  # type: ignore[arg-type]
        self.net.to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(lr))
        self.beta = float(beta)
        self.batch_size = int(batch_size)
        self.latent_dim = int(latent_dim)
        self.data = data
        self._rng = np.random.default_rng([int(seed), 3])
        self._gen = torch.Generator().manual_seed(int(seed) + 1)
        self._x: torch.Tensor | None = None
        self.step_ = 0
        self.history_: list[float] = []

    # ----------------------------------------------------------------------------- data
    def _ensure_data(self) -> torch.Tensor:
        if self._x is not None:
            return self._x
        if isinstance(self.data, _DataSpec):
            from genlab.engine.images.data import open_image_data

            self.data = open_image_data(self.config["data"])
        x = getattr(self.data, "x", None)
        if not isinstance(x, np.ndarray):  # drawn on demand: a fixed pool of them
            n = len(self.data)
            pick = np.sort(np.random.default_rng([self.config["seed"], 5]).choice(
                n, size=min(n, POOL), replace=False))
            x = self.data.get(pick)[0]
        if len(x) < 1:
            raise ValueError(f"'{self.data.name}' has no images to train on")
        self._x = torch.as_tensor(np.asarray(x, np.float32), device=self.device)
        return self._x

    # ---------------------------------------------------------------------------- train
    def terms_t(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E log p(x|z) with one z = μ + σ ⊙ ε per image, KL): x (n, C, H, W), eps (n, L)
        -> ((n,), (n,)) nats."""
        mu, logvar = self.net.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return bernoulli_log_lik(self.net.logits(z), x), gaussian_kl(mu, logvar)

    def _loss(self) -> torch.Tensor:
        x = self._ensure_data()
        b = min(int(self.batch_size), len(x))
        idx = torch.as_tensor(self._rng.integers(0, len(x), b), device=self.device)
        eps = torch.randn((b, self.latent_dim), generator=self._gen).to(self.device)
        recon, kl = self.terms_t(x[idx], eps)
        return -(recon - self.beta * kl).mean()

    def step(self, n: int = 1) -> np.ndarray:
        """Up to n Adam steps; their minibatch losses (nats per image).  Stops at the first
        non-finite loss without applying it."""
        self.net.train()
        losses = guarded_steps(self.optimizer, self._loss, int(n))
        k = applied(losses)
        self.step_ += k
        self.history_ += [float(v) for v in losses[:k]]
        return losses

    # ---------------------------------------------------------------------------- views
    def _t(self, x: ArrayLike) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, np.float32), device=self.device)

    def terms(self, x: ArrayLike, seed: int = 0) -> dict[str, float]:
        """Mean "reconstruction" E_q log p(x|z) (one z per image from ``seed``), "kl" and
        "elbo" (β = 1) per image of x (n, C, H, W) in [−1, 1], nats."""
        self.net.eval()
        with torch.no_grad():
            xt = self._t(x)
            g = torch.Generator().manual_seed(int(seed))
            eps = torch.randn((len(xt), self.latent_dim), generator=g).to(self.device)
            recon, kl = self.terms_t(xt, eps)
        r, k = float(recon.mean()), float(kl.mean())
        return {"reconstruction": r, "kl": k, "elbo": r - k}

    def encode(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(μ, log σ²) of q(z|x) for images x (n, C, H, W) in [−1, 1]: two (n, L) arrays."""
        self.net.eval()
        with torch.no_grad():
            mu, logvar = self.net.encode(self._t(x))
        return mu.cpu().numpy().astype(np.float64), logvar.cpu().numpy().astype(np.float64)

    def decode(self, z: ArrayLike) -> np.ndarray:
        """The decoder's mean image 2σ(l) − 1 for z (n, L): (n, C, H, W) float32 in [−1, 1]."""
        self.net.eval()
        with torch.no_grad():
            za = np.asarray(z, np.float32).reshape(-1, self.latent_dim)
            out = torch.sigmoid(self.net.logits(self._t(za))) * 2.0 - 1.0
        return out.cpu().numpy().astype(np.float32)

    def reconstruct(self, x: ArrayLike) -> np.ndarray:
        """f(μ(x)): the decoder's mean at the posterior mean, (n, C, H, W) in [−1, 1]."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """The decoder's mean images at n draws z ~ N(0, I) from ``seed``."""
        z = np.random.default_rng(int(seed)).standard_normal((int(n), self.latent_dim))
        return self.decode(z)

    def kl_per_dim(self, x: ArrayLike) -> np.ndarray:
        """(L,) mean KL per latent coordinate (nats): ~0 for an unused one."""
        mu, logvar = self.encode(x)
        return (0.5 * (mu * mu + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)

    # ----------------------------------------------------------------------- checkpoint
    def save(self, path: str | Path) -> None:
        """One .safetensors file: weights, Adam state, torch RNG state; config, step,
        history, numpy RNG state and β as JSON metadata."""
        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        skeleton, opt = flatten_state(self.optimizer.state_dict(), "optim")
        tensors.update(opt)
        tensors["rng.torch"] = self._gen.get_state()
        meta = {"kind": KIND, "config": {**self.config, "beta": self.beta, "lr": self.lr,
                                         "batch_size": self.batch_size},
                "step": self.step_, "history": self.history_, "optim": skeleton,
                "rng_numpy": self._rng.bit_generator.state}
        save_checkpoint(path, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, data: Any = None, device: str = "auto") -> ImageVAETrainer:
        """A trainer from ``save``'s file, ready to sample or to train on (its step and
        history go on).  ValueError (one line) for a bad file or data that do not match."""
        tensors, meta = load_checkpoint(path, kind=KIND)
        name = Path(path).name
        try:
            cfg = meta["config"]
            spec = _DataSpec(cfg)
            kwargs = {k: cfg[k] for k in _INIT_KEYS}
            step, history = int(meta["step"]), [float(v) for v in meta["history"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{name}: incomplete VAE checkpoint ({e!s:.80})") from None
        if data is not None and tuple(int(s) for s in data.shape) != spec.shape:
            raise ValueError(f"{name} was trained on {spec.shape} images; the data given "
                             "do not match")
        tr = cls(spec if data is None else data, device=device, **kwargs)
        try:
            tr.net.load_state_dict({k[4:]: v for k, v in tensors.items()
                                    if k.startswith("net.")})
            tr.optimizer.load_state_dict(unflatten_state(meta["optim"], tensors))
            tr._gen.set_state(tensors["rng.torch"])
            tr._rng.bit_generator.state = meta["rng_numpy"]
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            msg = " ".join(str(e).split())[:100]
            raise ValueError(f"{name}: weights do not fit this model ({msg})") from None
        tr.step_, tr.history_ = step, history
        return tr
