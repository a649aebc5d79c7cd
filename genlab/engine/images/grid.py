"""Image grids as pictures: (n, C, H, W) in [-1, 1] -> one uint8 mosaic, and PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_unit(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] -> (n, H, W) or (n, H, W, C) float32 in [0, 1] (one channel is
    dropped, three are moved last): the layout of ``genlab sample``'s .npz and of
    ``ImageGrid`` layers."""
    x = np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    if x.ndim != 4:
        raise ValueError(f"images must be (n, C, H, W), got shape {x.shape}")
    return x[:, 0] if x.shape[1] == 1 else np.moveaxis(x, 1, -1)


def mosaic(images: np.ndarray, cols: int = 8, pad: int = 1, scale: int = 1) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] -> (rows·(H+pad)+pad, cols·(W+pad)+pad[, 3]) uint8, row 0 on
    top, on a mid-grey background, each pixel repeated ``scale`` times."""
    x = to_unit(images)
    n, h, w = x.shape[:3]
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    shape = (rows * (h + pad) + pad, cols * (w + pad) + pad) + x.shape[3:]
    out = np.full(shape, 0.5, np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        out[y0:y0 + h, x0:x0 + w] = x[i]
    out = np.round(out * 255).astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def save_grid(images: np.ndarray, path: str | Path, cols: int = 8, min_size: int = 256) -> Path:
    """A PNG of the mosaic, pixels enlarged so its short side is at least ``min_size``."""
    from PIL import Image

    m = mosaic(images, cols)
    scale = max(1, int(np.ceil(min_size / max(1, min(m.shape[:2])))))
    if scale > 1:
        m = m.repeat(scale, axis=0).repeat(scale, axis=1)
    path = Path(path)
    Image.fromarray(m).save(path, format="PNG")
    return path
