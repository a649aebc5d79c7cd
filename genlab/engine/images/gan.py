r"""A DCGAN-style GAN on image data sets (Radford et al. 2015), with the losses of
``genlab.engine.gan``, one-file checkpoints that resume exactly, and fixed-noise sampling.

    tr = ImageGANTrainer(digits(), loss="non-saturating", width=32)
    losses = tr.step(500)                  # (500, 2): D loss, G loss per iteration
    x = tr.sample(64, noise=tr.latent_draws(64, seed=7))   # (64, 1, 8, 8) in [-1, 1]
    tr.save("gan.safetensors"); tr = ImageGANTrainer.load("gan.safetensors")

Generator: z (B, k) → linear → (c₀, s, s) → [BatchNorm, ReLU, transposed 4×4 conv stride 2
halving the channels] × m → BatchNorm, ReLU, 3×3 conv → tanh, where the image side is s·2^m
(m the halvings that leave a side ≥ 4: 8×8 → 4×4 in one, 32×32 in three; 28 → 7 in two) and
c₀ = width·2^m.  Discriminator: a 3×3 conv, then m strided 4×4 convs doubling the channels,
LeakyReLU(0.2) after each, no normalisation (WGAN-GP's penalty is per sample, which
BatchNorm would break), and a linear read-out of one score.  G samples in eval mode (its
BatchNorm's running statistics), so a fixed noise gives the same images for the same weights.

Randomness: batches (which images) from a numpy Generator, z and WGAN-GP's ε from a CPU
torch.Generator, both seeded by ``seed`` and saved in checkpoints, so on the CPU "train 20"
and "train 10, save, load, train 10" take the same steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genlab.engine.gan import (
    GP_WEIGHT,
    LATENTS,
    LOSSES,
    OPTIMIZERS,
    d_loss,
    g_loss,
    gradient_penalty,
)
from genlab.engine.training.checkpoint import (
    flatten_state,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)

__all__ = ["ImageGANTrainer", "halvings"]

KIND = "image-gan"
_INIT_KEYS = ("loss", "latent_dim", "width", "d_steps", "lr_d", "lr_g", "batch_size", "latent",
              "opt_d", "opt_g", "seed")


def halvings(side: int, most: int = 3) -> int:
    """How many times ``side`` halves exactly while staying ≥ 4 (at most ``most``)."""
    m = 0
    while m < most and side % 2 == 0 and side // 2 >= 4:
        side //= 2
        m += 1
    return m


class Generator(nn.Module):
    """z (B, k) → images (B, C, H, W) in [−1, 1] (see the module docstring)."""

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        c, h, w = shape
        m = halvings(min(h, w))
        self.base = (h >> m, w >> m)
        ch = width * 2 ** m
        self.ch = ch
        self.fc = nn.Linear(latent_dim, ch * self.base[0] * self.base[1])
        layers: list[nn.Module] = []
        for _ in range(m):
            layers += [nn.BatchNorm2d(ch), nn.ReLU(),
                       nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1)]
            ch //= 2
        layers += [nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, c, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).reshape(z.shape[0], self.ch, *self.base))


class Discriminator(nn.Module):
    """Images (B, C, H, W) → scores (B,)."""

    def __init__(self, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        c, h, w = shape
        m = halvings(min(h, w))
        layers: list[nn.Module] = [nn.Conv2d(c, width, 3, padding=1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(m):
            layers += [nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            ch *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.out = nn.Linear(ch * (h >> m) * (w >> m), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x)).squeeze(1)


class ImageGANTrainer:
    """Trains a DCGAN on ``data`` (ImageData-like: name, shape, n_classes, class_names, len,
    get(idx)).  Each iteration: ``d_steps`` discriminator steps on fresh batches, then one
    generator step on the last of them's z; Adam (β = (0.5, 0.999), or (0.5, 0.9) for
    WGAN-GP) or SGD for each; ``lr_d``, ``lr_g`` can change between steps.

    Learned state: ``step_`` (iterations), ``history_`` ((D loss, G loss) per iteration),
    ``G``, ``D``; ``config`` (JSON) holds everything that determines the model and the data
    set's name."""

    def __init__(self, data: Any, loss: str = "non-saturating", latent_dim: int = 32,
                 width: int = 32, d_steps: int = 1, lr_d: float = 2e-4, lr_g: float = 2e-4,
                 batch_size: int = 64, latent: str = "gaussian", opt_d: str = "adam",
                 opt_g: str = "adam", seed: int = 0, device: str = "cpu") -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if latent not in LATENTS or opt_d not in OPTIMIZERS or opt_g not in OPTIMIZERS:
            raise ValueError("latent must be gaussian or uniform, optimisers adam or sgd")
        if min(int(latent_dim), int(width), int(d_steps), int(batch_size)) < 1:
            raise ValueError("latent_dim, width, d_steps and batch_size must be >= 1")
        shape = tuple(int(s) for s in data.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"data shape must be (C, H, W), got {shape}")
        self.config: dict[str, Any] = {
            "data": str(data.name), "shape": list(shape), "n_classes": int(data.n_classes),
            "class_names": [str(c) for c in data.class_names], "loss": loss,
            "latent_dim": int(latent_dim), "width": int(width), "d_steps": int(d_steps),
            "lr_d": float(lr_d), "lr_g": float(lr_g), "batch_size": int(batch_size),
            "latent": latent, "opt_d": opt_d, "opt_g": opt_g, "seed": int(seed)}
        self.data, self.device = data, device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.G = Generator(int(latent_dim), shape, int(width)).to(device)
            self.D = Discriminator(shape, int(width)).to(device)
        self.opt_d = self._optimizer(opt_d, self.D, lr_d)
        self.opt_g = self._optimizer(opt_g, self.G, lr_g)
        self.d_steps = int(d_steps)
        self._rng = np.random.default_rng([int(seed), 0x6A7])
        self._gen = torch.Generator().manual_seed(int(seed))
        self._x: torch.Tensor | None = None
        self.step_ = 0
        self.history_: list[tuple[float, float]] = []

    def _optimizer(self, kind: str, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if kind == "sgd":
            return torch.optim.SGD(net.parameters(), lr=float(lr))
        betas = (0.5, 0.9) if self.config["loss"] == "wgan-gp" else (0.5, 0.999)
        return torch.optim.Adam(net.parameters(), lr=float(lr), betas=betas)

    @property
    def lr_d(self) -> float:
        return float(self.opt_d.param_groups[0]["lr"])

    @lr_d.setter
    def lr_d(self, v: float) -> None:
        for g in self.opt_d.param_groups:
            g["lr"] = float(v)

    @property
    def lr_g(self) -> float:
        return float(self.opt_g.param_groups[0]["lr"])

    @lr_g.setter
    def lr_g(self, v: float) -> None:
        for g in self.opt_g.param_groups:
            g["lr"] = float(v)

    # ------------------------------------------------------------------------------ draws
    def _z(self, n: int, gen: torch.Generator) -> torch.Tensor:
        shape = (int(n), self.config["latent_dim"])
        z = (2.0 * torch.rand(shape, generator=gen) - 1.0 if self.config["latent"] == "uniform"
             else torch.randn(shape, generator=gen))
        return z.to(self.device)

    def latent_draws(self, n: int, seed: int = 0) -> np.ndarray:
        """n latent draws (n, latent_dim) float32 from their own stream ``seed``."""
        return self._z(n, torch.Generator().manual_seed(int(seed))).cpu().numpy()

    def _real(self) -> torch.Tensor:
        b = self.config["batch_size"]
        idx = self._rng.integers(0, len(self.data), b)
        x = getattr(self.data, "x", None)
        if isinstance(x, np.ndarray):
            if self._x is None:  # an in-memory set lives on the device once
                self._x = torch.as_tensor(x, dtype=torch.float32, device=self.device)
            return self._x[torch.as_tensor(idx, device=self.device)]
        return torch.as_tensor(np.asarray(self.data.get(idx)[0], np.float32),
                               device=self.device)

    # --------------------------------------------------------------------------- training
    def step(self, n: int = 1) -> np.ndarray:
        """Up to n iterations; their (D loss, G loss) as (m, 2).  A non-finite loss stops it
        without applying that step (it is the last row returned, not in ``history_``)."""
        if len(self.data) < 1:
            raise ValueError(f"'{self.data.name}' has no images to train on")
        loss = self.config["loss"]
        self.G.train()
        self.D.train()
        out = []
        for _ in range(int(n)):
            for _k in range(self.d_steps):
                real = self._real()
                z = self._z(real.shape[0], self._gen)
                with torch.no_grad():
                    fake = self.G(z)
                ld = d_loss(loss, self.D(real), self.D(fake))
                if loss == "wgan-gp":
                    ld = ld + gradient_penalty(self.D, real, fake, GP_WEIGHT,
                                               generator=self._gen)
                if not torch.isfinite(ld):
                    break
                self.opt_d.zero_grad(set_to_none=True)
                ld.backward()
                self.opt_d.step()
            lg = g_loss(loss, self.D(self.G(z)))
            row = (float(ld.detach()), float(lg.detach()))
            out.append(row)
            if not np.isfinite(row).all():
                break
            self.opt_g.zero_grad(set_to_none=True)
            lg.backward(inputs=list(self.G.parameters()))
            self.opt_g.step()
            self.step_ += 1
            self.history_.append(row)
        return np.array(out, dtype=np.float64).reshape(-1, 2)

    def sample(self, n: int, noise: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        """n images (n, C, H, W) float32 in [−1, 1]: G (eval mode) at ``noise`` (n, k), else
        at latent draws from ``seed``."""
        z = self.latent_draws(n, seed) if noise is None else np.asarray(noise, np.float32)
        if z.shape != (int(n), self.config["latent_dim"]):
            raise ValueError(f"noise must be ({n}, {self.config['latent_dim']}), got {z.shape}")
        self.G.eval()
        with torch.no_grad():
            return self.G(torch.from_numpy(z.copy()).to(self.device)).cpu().numpy()

    # ------------------------------------------------------------------------- checkpoint
    def save(self, path: str | Path) -> None:
        """One .safetensors file: G, D, both optimisers' state and the torch RNG state as
        tensors; config, step, history and the numpy RNG state as JSON."""
        tensors = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        tensors.update({f"D.{k}": v for k, v in self.D.state_dict().items()})
        sk_d, td = flatten_state(self.opt_d.state_dict(), "opt_d")
        sk_g, tg = flatten_state(self.opt_g.state_dict(), "opt_g")
        tensors.update(td)
        tensors.update(tg)
        tensors["rng.torch"] = self._gen.get_state()
        meta = {"kind": KIND, "config": self.config, "step": self.step_,
                "history": [list(r) for r in self.history_], "opt_d": sk_d, "opt_g": sk_g,
                "rng_numpy": self._rng.bit_generator.state}
        save_checkpoint(path, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, data: Any = None, device: str = "cpu") -> ImageGANTrainer:
        """A trainer from a checkpoint, ready to sample or to train on (``data`` None opens
        the data set by its name).  ValueError (one line) for a bad file or data that do not
        match."""
        tensors, meta = load_checkpoint(path, kind=KIND)
        name = Path(path).name
        try:
            cfg = meta["config"]
            kwargs = {k: cfg[k] for k in _INIT_KEYS}
            step = int(meta["step"])
            history = [(float(a), float(b)) for a, b in meta["history"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{name}: incomplete image-GAN checkpoint ({e!s:.80})") from None
        if data is None:
            from genlab.engine.images.data import open_image_data

            data = open_image_data(cfg["data"])
        if [int(s) for s in data.shape] != cfg["shape"]:
            raise ValueError(f"{name} was trained on {tuple(cfg['shape'])} images; the data "
                             "given do not match")
        tr = cls(data, device=device, **kwargs)
        try:
            tr.G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
            tr.D.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
            tr.opt_d.load_state_dict(unflatten_state(meta["opt_d"], tensors))
            tr.opt_g.load_state_dict(unflatten_state(meta["opt_g"], tensors))
            tr._gen.set_state(tensors["rng.torch"])
            tr._rng.bit_generator.state = meta["rng_numpy"]
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            msg = " ".join(str(e).split())[:100]
            raise ValueError(f"{name}: weights do not fit this model ({msg})") from None
        tr.step_, tr.history_ = step, history
        return tr
