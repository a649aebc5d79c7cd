r"""Backbones for image diffusion and flow matching: a small U-Net and an MLP for 8×8.

Both map ``(x, t, y)`` to a tensor shaped like x:

* x (B, C, H, W) float, t (B,) float in [0, 1], y (B,) int64 in 0..n_classes (``n_classes``
  is the *null* label: "no class", used for the unconditional half of classifier-free
  guidance) or None (= the null label).  Unconditional nets (n_classes = 0) take y None.
* the output is ε̂ (diffusion) or the velocity v̂ (flow matching), (B, C, H, W).

The U-Net (Ronneberger et al. 2015, in the form of Ho et al. 2020 without attention, which
costs more than it gives at 8–32 px on a CPU): residual blocks with GroupNorm and SiLU at
``levels`` resolutions (two for 8×8, three up to 32×32, four above), channels ``width·(1,2,2,2)``,
the sum of a sinusoidal time embedding and a learned class embedding added in every block.
Sides that do not halve ``levels − 1`` times (e.g. 30) are zero-padded inside and cropped back;
28×28 halves to 14 and 7 as it is.  Last layers start at zero, so the net starts as "predict 0".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLPNet", "UNet", "make_net", "resolve_backbone", "time_features"]


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Sinusoidal features of t (B,) in [0, 1], shape (B, dim) (Vaswani et al. 2017, as in
    Ho et al. 2020 with t scaled to 0..1000): :math:`[\sin(1000\,t\,\omega_j),
    \cos(1000\,t\,\omega_j)]`, :math:`\omega_j = 10000^{-j/(dim/2)}`."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device,
                                                        dtype=torch.float32) / half)
    arg = 1000.0 * t.float()[:, None] * freqs[None, :]
    out = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
    return F.pad(out, (0, dim - 2 * half))


class _Embedding(nn.Module):
    """Time features through a 2-layer MLP plus a class embedding with a null row."""

    def __init__(self, width: int, dim: int, n_classes: int) -> None:
        super().__init__()
        self.width = width
        self.n_classes = n_classes
        self.time = nn.Sequential(nn.Linear(width, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label = nn.Embedding(n_classes + 1, dim) if n_classes > 0 else None

    def forward(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        e = self.time(time_features(t, self.width))
        if self.label is not None:
            if y is None:
                y = torch.full((t.shape[0],), self.n_classes, dtype=torch.long,
                               device=t.device)
            e = e + self.label(y)
        elif y is not None:
            raise ValueError("this net is unconditional (n_classes = 0): y must be None")
        return e


def _groups(ch: int) -> int:
    return next(g for g in (8, 4, 2, 1) if ch % g == 0)


class _ResBlock(nn.Module):
    """GN-SiLU-conv, + embedding, GN-SiLU-conv, plus a (1×1) skip (Ho et al. 2020)."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(e))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """U-Net for (B, channels, H, W) images; ``levels`` None picks 2 (side ≤ 16), 3 (≤ 32)
    or 4.  ``width`` = channels at full resolution (×2 below)."""

    def __init__(self, channels: int, size: tuple[int, int], width: int = 32,
                 n_classes: int = 0, levels: int | None = None) -> None:
        super().__init__()
        h, w = size
        side = min(h, w)
        self.levels = levels or (2 if side <= 16 else 3 if side <= 32 else 4)
        self.n_classes = n_classes
        chs = [width * (1 if i == 0 else 2) for i in range(self.levels)]
        emb = 4 * width
        self.embed = _Embedding(width, emb, n_classes)
        self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = width
        for i, c in enumerate(chs):
            self.down.append(_ResBlock(prev, c, emb))
            if i < self.levels - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
            prev = c
        self.mid = _ResBlock(prev, prev, emb)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(self.levels)):
            self.up.append(_ResBlock(prev + chs[i], chs[i], emb))
            prev = chs[i]
            if i > 0:
                self.upsample.append(nn.Conv2d(prev, prev, 3, padding=1))
        self.norm_out = nn.GroupNorm(_groups(width), width)
        self.conv_out = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        h0, w0 = x.shape[-2:]
        m = 2 ** (self.levels - 1)
        ph, pw = (-h0) % m, (-w0) % m
        if ph or pw:  # pad to sides that halve levels-1 times; cropped back below
            x = F.pad(x, (0, pw, 0, ph))
        e = self.embed(t, y)
        h = self.conv_in(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, e)
            skips.append(h)
            if i < self.levels - 1:
                h = self.downsample[i](h)
        h = self.mid(h, e)
        for j, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), e)
            if j < self.levels - 1:
                h = self.upsample[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out[..., :h0, :w0]


class MLPNet(nn.Module):
    """Residual MLP on flattened images (for 8×8): hidden size ``8·width``, ``depth``
    pre-norm blocks :math:`h \\leftarrow h + W_2\\,\\mathrm{SiLU}(W_1\\,\\mathrm{LN}(h) + E e)`."""

    def __init__(self, channels: int, size: tuple[int, int], width: int = 32,
                 n_classes: int = 0, depth: int = 3) -> None:
        super().__init__()
        self.shape = (channels, *size)
        self.n_classes = n_classes
        d = channels * size[0] * size[1]
        hid = 8 * width
        self.embed = _Embedding(width, hid, n_classes)
        self.inp = nn.Linear(d, hid)
        self.norms = nn.ModuleList(nn.LayerNorm(hid) for _ in range(depth))
        self.fc1 = nn.ModuleList(nn.Linear(hid, hid) for _ in range(depth))
        self.emb = nn.ModuleList(nn.Linear(hid, hid) for _ in range(depth))
        self.fc2 = nn.ModuleList(nn.Linear(hid, hid) for _ in range(depth))
        self.norm_out = nn.LayerNorm(hid)
        self.out = nn.Linear(hid, d)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        e = F.silu(self.embed(t, y))
        h = self.inp(x.flatten(1))
        for norm, fc1, emb, fc2 in zip(self.norms, self.fc1, self.emb, self.fc2, strict=True):
            h = h + fc2(F.silu(fc1(norm(h)) + emb(e)))
        return self.out(F.silu(self.norm_out(h))).view(x.shape)


def resolve_backbone(backbone: str, shape: tuple[int, int, int]) -> str:
    """"auto" -> "mlp" for images of at most 8×8, else "unet"; others checked and returned."""
    if backbone == "auto":
        return "mlp" if max(shape[1:]) <= 8 else "unet"
    if backbone not in ("unet", "mlp"):
        raise ValueError(f"backbone must be 'auto', 'unet' or 'mlp', got {backbone!r}")
    return backbone


def make_net(backbone: str, shape: tuple[int, int, int], width: int = 32,
             n_classes: int = 0) -> nn.Module:
    """The backbone for images of ``shape`` (C, H, W); n_classes > 0 makes it conditional."""
    c, h, w = shape
    kind = resolve_backbone(backbone, shape)
    if kind == "mlp":
        return MLPNet(c, (h, w), width, n_classes)
    return UNet(c, (h, w), width, n_classes)
