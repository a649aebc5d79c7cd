"""dSprites-like images drawn in-process: a square, an ellipse or a heart, white on black.

The factor grid is dSprites' (Matthey et al. 2017, https://github.com/deepmind/dsprites-dataset):
shape (3) × scale (6, linspace(0.5, 1)) × rotation (40 in [0, 2π)) × pos_x (32) × pos_y (32)
= 737,280 images; an image's flat index runs over that grid in C order (shape slowest, pos_y
fastest).  Nothing is stored: ``draw_sprites`` renders any batch of factor tuples on demand,
anti-aliased by supersampling (each pixel is the covered fraction of a k×k grid of sub-pixel
points, each tested against the shape's implicit equation, all sprites of a batch at once).
``SpriteData`` is a split of the grid (``held_out``: a fixed 10%) drawn lazily in ``get``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
N_SPRITES = int(np.prod(FACTOR_SIZES))  # 737,280
SCALES = np.linspace(0.5, 1.0, FACTOR_SIZES[1])
ROTATIONS = np.arange(FACTOR_SIZES[2]) * (2.0 * np.pi / FACTOR_SIZES[2])
POSITIONS = np.linspace(0.0, 1.0, FACTOR_SIZES[3])
HELD_OUT = 0.1  # this fraction of each shape's factor grid is the held-out split
DRAW_VERSION = 1  # bump when the pictures change (classifier caches hash a probe of them)

# Geometry in units of the image width.  A shape at scale s has "radius" RADIUS·s; every shape
# fits in the unit disc of its own coordinates (REACH ≤ 1.061, the square's corner), so a
# centre in [MARGIN, 1 − MARGIN] keeps every rotation inside the frame.
RADIUS = 0.24
REACH = 0.75 * np.sqrt(2.0)
MARGIN = 0.26
_HALF_SIDE = 0.75  # square: |u|, |v| ≤ 0.75
_ELLIPSE = (1.0, 0.6)  # semi-axes along u and v
_HEART = (1.28, 0.2)  # (x²+y²−1)³ ≤ x²y³ with (x, y) = 1.28·(u, −v) + (0, 0.2): reach 1, tip down


def unravel(flat: np.ndarray) -> np.ndarray:
    """Flat indices (n,) over the factor grid -> (n, 5) int64 factor indices."""
    flat = np.asarray(flat, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= N_SPRITES):
        raise ValueError(f"sprite index out of range [0, {N_SPRITES})")
    return np.stack(np.unravel_index(flat, FACTOR_SIZES), axis=-1).astype(np.int64)


def ravel(factors: np.ndarray) -> np.ndarray:
    """(n, 5) factor indices -> (n,) flat indices (the inverse of ``unravel``)."""
    f = np.asarray(factors, np.int64).reshape(-1, 5)
    return np.ravel_multi_index(tuple(f.T), FACTOR_SIZES).astype(np.int64)


def factor_values(factors: np.ndarray) -> np.ndarray:
    """(n, 5) factor indices -> (n, 5) float64 values: shape index, scale in [0.5, 1],
    rotation in [0, 2π), pos_x and pos_y in [0, 1] (dSprites' latent values)."""
    f = np.asarray(factors, np.int64).reshape(-1, 5)
    return np.stack([f[:, 0].astype(np.float64), SCALES[f[:, 1]], ROTATIONS[f[:, 2]],
                     POSITIONS[f[:, 3]], POSITIONS[f[:, 4]]], axis=-1)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the points (u, v) (shape-centred, rotated, in radii) are inside the shape."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= _HALF_SIDE
    if shape == 1:
        a, b = _ELLIPSE
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    k, dy = _HEART
    x2 = (k * u) ** 2
    y = dy - k * v  # image rows grow downwards, the heart's y upwards
    r = x2 + y * y - 1.0
    return r * r * r <= x2 * y * y * y


def draw_sprites(factors: np.ndarray, size: int = 32, supersample: int = 4) -> np.ndarray:
    """Render sprites: (n, 5) factor indices -> (n, 1, size, size) float32 in [−1, 1]
    (−1 black background, +1 fully covered pixels, in between on the anti-aliased edge).

    Each sprite is evaluated only in a window around its centre, on ``supersample``² points
    per pixel; sprites of the same shape and scale share one vectorised evaluation."""
    f = np.asarray(factors, np.int64).reshape(-1, 5)
    if f.size and (f.min() < 0 or np.any(f.max(axis=0) >= np.asarray(FACTOR_SIZES))):
        raise ValueError("sprite factor index out of range")
    if not 8 <= size <= 512:
        raise ValueError(f"sprite size must be in [8, 512], got {size}")
    n, k = len(f), int(supersample)
    pad = int(np.ceil(RADIUS * REACH * size)) + 2
    canvas = np.zeros((n, size + 2 * pad, size + 2 * pad), np.float32)
    cx = (MARGIN + (1.0 - 2.0 * MARGIN) * POSITIONS[f[:, 3]]) * size  # pixels, x to the right
    cy = (MARGIN + (1.0 - 2.0 * MARGIN) * POSITIONS[f[:, 4]]) * size  # pixels, y downwards
    theta = ROTATIONS[f[:, 2]]
    cos, sin = np.cos(theta), np.sin(theta)
    for shape in range(FACTOR_SIZES[0]):
        for scale in range(FACTOR_SIZES[1]):
            sel = np.flatnonzero((f[:, 0] == shape) & (f[:, 1] == scale))
            if not sel.size:
                continue
            radius = RADIUS * SCALES[scale] * size  # pixels
            h = int(np.ceil(radius * REACH)) + 1  # window half-width, pixels
            m = 2 * h
            ox = np.floor(cx[sel]).astype(np.int64) - h  # window origin (canvas = image - pad)
            oy = np.floor(cy[sel]).astype(np.int64) - h
            sub = ((np.arange(m * k) + 0.5) / k).astype(np.float32)  # sub-pixel centres
            dx = ((ox - cx[sel])[:, None] + sub[None, :]).astype(np.float32) / np.float32(radius)
            dy = ((oy - cy[sel])[:, None] + sub[None, :]).astype(np.float32) / np.float32(radius)
            c = cos[sel].astype(np.float32)[:, None, None]
            s = sin[sel].astype(np.float32)[:, None, None]
            # rotate the sample points by −θ, i.e. the shape by +θ
            u = c * dx[:, None, :] + s * dy[:, :, None]
            v = c * dy[:, :, None] - s * dx[:, None, :]
            cover = _inside(shape, u, v).reshape(len(sel), m, k, m, k).mean(
                axis=(2, 4), dtype=np.float32)
            rows = (oy + pad)[:, None, None] + np.arange(m)[None, :, None]
            cols = (ox + pad)[:, None, None] + np.arange(m)[None, None, :]
            canvas[sel[:, None, None], rows, cols] = cover
    img = canvas[:, pad:pad + size, pad:pad + size]
    return (img * 2.0 - 1.0)[:, None].astype(np.float32, copy=False)


class SpriteData:
    """dSprites-like images, drawn on demand: the same interface as ``ImageData`` (name,
    n_classes, class_names, shape, len, get) without ``x`` / ``y`` arrays.

    Item i of a split is the sprite with flat grid index ``index_[i]`` (see ``unravel``);
    y = its shape (0 square, 1 ellipse, 2 heart)."""

    def __init__(self, index: np.ndarray, size: int = 32, name: str = "sprites") -> None:
        self.index_ = np.asarray(index, np.int64)
        self.size = int(size)
        self.name = name
        self.n_classes = len(SHAPES)
        self.class_names: tuple[str, ...] = SHAPES

    def __len__(self) -> int:
        return len(self.index_)

    @property
    def shape(self) -> tuple[int, int, int]:
        return 1, self.size, self.size

    def factors(self, idx: np.ndarray) -> np.ndarray:
        """(n,) item indices -> (n, 5) int64 factor indices (shape, scale, rotation, pos_x,
        pos_y) into ``sprites.FACTOR_SIZES`` = (3, 6, 40, 32, 32)."""
        return unravel(self.index_[np.asarray(idx, np.int64)])

    def get(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw items ``idx``: images (n, 1, size, size) float32 in [−1, 1], shapes (n,)."""
        f = self.factors(idx)
        return draw_sprites(f, self.size), f[:, 0].copy()


@lru_cache(maxsize=8)
def held_out(seed: int) -> np.ndarray:
    """(N_SPRITES,) bool, read-only: the held-out 10% — the same count of each shape, drawn
    from a generator seeded by ``seed``."""
    rng = np.random.default_rng([seed, 0x5B1])
    per_shape = N_SPRITES // FACTOR_SIZES[0]
    n_held = int(round(HELD_OUT * per_shape))
    held = np.zeros(N_SPRITES, bool)
    for s in range(FACTOR_SIZES[0]):
        held[s * per_shape + rng.permutation(per_shape)[:n_held]] = True
    held.setflags(write=False)
    return held


def sprite_name(size: int = 32, seed: int = 0) -> str:
    """The spec of a sprite set: "sprites", "sprites64", "sprites-s3", "sprites64-s3"."""
    return "sprites" + ("" if size == 32 else str(size)) + ("" if seed == 0 else f"-s{seed}")
