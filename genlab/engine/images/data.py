"""Image data sets as (N, C, H, W) float32 in [−1, 1] with int64 labels; nothing downloaded.

- ``digits``: scikit-learn's bundled 8×8 digits (1797 images, values 0..16, 10 classes).
- ``sprites``: dSprites-like shapes drawn lazily (``genlab.engine.images.sprites``).
- ``load_images``: a user's MNIST IDX file, ``.npz`` or folder of PNG/JPEG files.

Every set has a fixed, deterministic held-out split: "train", "test" or "all".  A set's
``name`` is its spec, so ``open_image_data(data.name)`` opens the same images again (a
checkpoint keeps only the name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from genlab.engine.images import sprites as _sp
from genlab.engine.images.sprites import SpriteData, sprite_name

__all__ = ["ImageData", "SpriteData", "digits", "sprites", "load_images", "open_image_data",
           "held_out_mask", "take_split", "sprite_name"]

SPLITS = ("train", "test", "all")
HOLD_EVERY = 5  # digits and user files: every 5th image of each class is held out


@dataclass(frozen=True, eq=False)
class ImageData:
    """Images as float32 (N, C, H, W) in [-1, 1], labels (N,) int64 (all 0 when unlabelled)."""

    name: str
    x: np.ndarray  # (N, C, H, W) float32 in [-1, 1]
    y: np.ndarray  # (N,) int64
    n_classes: int  # 0 when the set has no labels
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != np.float32:
            raise ValueError(f"images must be float32 (N, C, H, W), got {self.x.dtype} "
                             f"{self.x.shape}")
        if self.y.shape != (len(self.x),) or self.y.dtype != np.int64:
            raise ValueError(f"labels must be int64 ({len(self.x)},), got {self.y.dtype} "
                             f"{self.y.shape}")
        if len(self.class_names) != self.n_classes:
            raise ValueError("class_names must name each of the n_classes classes")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.x.shape[1:]
        return int(c), int(h), int(w)

    def get(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x[idx], y[idx]): images (n, C, H, W) and labels (n,)."""
        idx = np.asarray(idx, np.int64)
        return self.x[idx], self.y[idx]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


def held_out_mask(y: np.ndarray, every: int = HOLD_EVERY) -> np.ndarray:
    """(N,) bool: every ``every``-th image of each class (counted in file order, starting
    with its 5th image) is held out — stratified and deterministic."""
    y = np.asarray(y)
    rank = np.empty(len(y), np.int64)
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        rank[where] = np.arange(len(where))
    return rank % every == every - 1


def take_split(data: ImageData, split: str) -> ImageData:
    """The "train", "test" or "all" part of a whole set (``held_out_mask`` on its labels)."""
    _check_split(split)
    if split == "all":
        return data
    keep = held_out_mask(data.y)
    if split == "train":
        keep = ~keep
    return ImageData(data.name, data.x[keep], data.y[keep], data.n_classes, data.class_names)


@lru_cache(maxsize=1)
def _digits_all() -> ImageData:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (np.asarray(d.images, np.float32) / 8.0 - 1.0)[:, None]  # 0..16 -> [-1, 1]
    y = np.asarray(d.target, np.int64)
    return ImageData("digits", x, y, 10, tuple(str(i) for i in range(10)))


def digits(split: str = "train") -> ImageData:
    """scikit-learn's 8×8 digits in [−1, 1], (N, 1, 8, 8), 10 classes "0".."9"; "test" is
    every 5th image of each class (355 images), "train" the other 1442, "all" all 1797."""
    d = _digits_all()  # cached: hand out copies so that no caller changes another's images
    return take_split(ImageData(d.name, d.x.copy(), d.y.copy(), d.n_classes, d.class_names),
                      split)


def sprites(split: str = "train", size: int = 32, seed: int = 0) -> SpriteData:
    """dSprites-like set of 737,280 sprites at ``size``×``size``: "test" is a fixed 10% of the
    factor grid (73,728 sprites, as many of each shape; which ones depends on ``seed``),
    "train" the other 663,552, "all" every sprite in grid order."""
    _check_split(split)
    if not 8 <= size <= 512:
        raise ValueError(f"sprite size must be in [8, 512], got {size}")
    name = sprite_name(size, seed)
    if split == "all":
        return SpriteData(np.arange(_sp.N_SPRITES), size, name)
    held = _sp.held_out(int(seed))
    return SpriteData(np.flatnonzero(held if split == "test" else ~held), size, name)


# ------------------------------------------------------------------------- users' files
IDX_IMAGES, IDX_LABELS = 2051, 2049  # MNIST's magic numbers: unsigned bytes, 3 and 1 dims
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
Arrays = tuple[np.ndarray, np.ndarray, tuple[str, ...]]  # (N, H, W, C) in [0, 1], y, classes


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with gzip's magic bytes."""
    import gzip
    import zlib

    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path.name}: truncated or corrupt gzip file ({e})") from None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX array of unsigned bytes with the given magic number (2051 images, 2049 labels);
    http://yann.lecun.com/exdb/mnist/ (big-endian header: magic, then one uint32 per dim)."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path.name}: truncated IDX file ({len(raw)} bytes)")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        what = {IDX_IMAGES: "MNIST images", IDX_LABELS: "MNIST labels"}
        hint = " (this is a labels file: open the images file)" if got == IDX_LABELS else ""
        raise ValueError(f"{path.name}: not an IDX file of {what[magic]} (magic number {got}, "
                         f"expected {magic}){hint}")
    ndim = magic & 0xFF
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path.name}: truncated IDX file (header cut short)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    need = int(np.prod(dims, dtype=np.int64))
    if len(raw) - head != need:
        state = "truncated" if len(raw) - head < need else "too long"
        raise ValueError(f"{path.name}: {state} IDX file ({len(raw) - head} data bytes for "
                         f"shape {dims}, expected {need})")
    return np.frombuffer(raw, np.uint8, offset=head).reshape(dims)


def _labels_beside(path: Path) -> Path | None:
    """MNIST's labels file beside an images file: "images-idx3" -> "labels-idx1" in the name
    (also "images.idx3"), gzipped or not."""
    name = path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if a in name:
            stem = name.replace(a, b).removesuffix(".gz")
            for cand in (path.with_name(stem), path.with_name(stem + ".gz")):
                if cand.is_file():
                    return cand
    return None


def _read_mnist(path: Path, labels: Path | None) -> Arrays:
    x = _read_idx(path, IDX_IMAGES)
    labels = labels or _labels_beside(path)
    if labels is None:
        return _unit(x, path.name)[..., None], *_classes(None, len(x), path.name)
    y = _read_idx(labels, IDX_LABELS)
    if len(y) != len(x):
        raise ValueError(f"{labels.name} has {len(y)} labels for the {len(x)} images of "
                         f"{path.name}")
    return _unit(x, path.name)[..., None], *_classes(y, len(x), labels.name)


def _npz_array(z: np.lib.npyio.NpzFile, key: str, name: str) -> np.ndarray:
    try:
        return np.asarray(z[key])
    except ValueError as e:  # numpy refuses object arrays when allow_pickle=False
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise ValueError(f"{name}: '{key}' is an object array; only numeric arrays are "
                             "read (nothing is unpickled)") from None
        raise ValueError(f"{name}: cannot read '{key}' ({e})") from None
    except Exception as e:  # a damaged member of the zip archive
        raise ValueError(f"{name}: cannot read '{key}' ({type(e).__name__}: {e})") from None


def _read_npz(path: Path) -> Arrays:
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as e:  # not a zip, truncated, unreadable: all a bad file
        raise ValueError(f"{path.name}: not a readable .npz file ({type(e).__name__})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{path.name}: a single array, not an .npz archive with 'x'")
    with z:
        if "x" not in z.files:
            raise ValueError(f"{path.name} has no array 'x' (it has: {', '.join(z.files)})")
        x = _npz_array(z, "x", path.name)
        y = _npz_array(z, "y", path.name) if "y" in z.files else None
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[1:3], default=0) < 1:
        raise ValueError(f"{path.name}: 'x' must be (N, H, W) or (N, H, W, C) with C 1 or 3, "
                         f"got shape {x.shape}")
    return _unit(x, path.name), *_classes(y, len(x), path.name)


def _unit(x: np.ndarray, name: str) -> np.ndarray:
    """Pixel values -> float32 in [0, 1]: uint8 / 255; integers in 0..255 likewise; floats in
    [0, 1] kept, floats in [−1, 1] mapped."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if x.dtype.kind not in "iuf" or x.size == 0:
        raise ValueError(f"{name}: images must be uint8 or float numbers, got {x.dtype} "
                         f"{x.shape}")
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name}: images contain NaN or infinite values")
    if x.dtype.kind in "iu":
        if lo < 0 or hi > 255:
            raise ValueError(f"{name}: integer pixels must be in 0..255, got {lo:g}..{hi:g}")
        return x.astype(np.float32) / 255.0
    if lo >= 0.0 and hi <= 1.0:
        return x.astype(np.float32)
    if lo >= -1.0 and hi <= 1.0:
        return ((x.astype(np.float32) + 1.0) / 2.0).astype(np.float32)
    raise ValueError(f"{name}: float pixels must be in [0, 1] or [-1, 1], got "
                     f"{lo:.3g}..{hi:.3g}")


def _classes(y: np.ndarray | None, n: int, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels -> (int64 class indices 0..k−1 over the sorted distinct labels, their names);
    None -> all 0 and no classes."""
    if y is None:
        return np.zeros(n, np.int64), ()
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iuf" or not np.all(np.isfinite(y)) \
            or not np.all(y == np.round(y)):
        raise ValueError(f"{name}: labels must be {n} whole numbers, got {y.dtype} {y.shape}")
    values, idx = np.unique(y.astype(np.int64), return_inverse=True)
    return idx.astype(np.int64).reshape(n), tuple(str(v) for v in values)


def _read_folder(root: Path, size: int | None) -> Arrays:
    """PNG/JPEG files: in sub-folders (one class each, sorted names) or all in ``root``
    (unlabelled).  Other files are skipped; an image file Pillow cannot read is refused."""
    from PIL import Image

    def images_in(d: Path) -> list[Path]:
        return sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                      and p.suffix.lower() in IMAGE_SUFFIXES)

    subs = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    groups = [(d.name, images_in(d)) for d in subs]
    groups = [(n, f) for n, f in groups if f]
    loose = images_in(root)
    if groups and loose:
        raise ValueError(f"{root.name}: images both in the folder and in class sub-folders "
                         f"({loose[0].name}); put every image in a class sub-folder")
    if not groups and not loose:
        raise ValueError(f"{root.name}: no PNG or JPEG images in this folder or its "
                         "sub-folders")
    files = loose or [f for _, fs in groups for f in fs]
    y = np.repeat(np.arange(len(groups)), [len(fs) for _, fs in groups]) if groups else None
    pics = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
                arr = np.asarray(im.convert("F" if gray else "RGB"), np.float32)
        except Exception as e:  # truncated, not an image at all, a decompression bomb...
            raise ValueError(f"{f.name}: not a readable image ({type(e).__name__}); remove it "
                             "from the folder") from None
        top = 65535.0 if gray and arr.max() > 255 else 255.0  # 16-bit greyscale PNGs
        pics.append(np.clip(arr / top, 0.0, 1.0).reshape(arr.shape[:2] + (-1,)))
    h, w = (size, size) if size else pics[0].shape[:2]
    # colour only when some image has colour (a palette of greys stays one channel)
    colour = any(p.shape[-1] == 3 and np.ptp(p, axis=-1).max() > 0 for p in pics)
    pics = [p[..., :1] if not colour else p for p in pics]
    x = np.stack([_resize_one(np.repeat(p, 3, -1) if colour and p.shape[-1] == 1 else p,
                              (h, w)) for p in pics])
    names = tuple(n for n, _ in groups)
    return x, (np.zeros(len(x), np.int64) if y is None else y.astype(np.int64)), names


def _resize_one(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> (h, w, C), each channel resized by Pillow (Lanczos)."""
    if img.shape[:2] == hw:
        return img.astype(np.float32, copy=False)
    from PIL import Image

    out = [np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c], np.float32)).resize(
        (hw[1], hw[0]), Image.Resampling.LANCZOS)) for c in range(img.shape[-1])]
    return np.clip(np.stack(out, -1), 0.0, 1.0).astype(np.float32)


def _resize(x: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or x.shape[1:3] == (size, size):
        return x
    return np.stack([_resize_one(im, (size, size)) for im in x])


def _to_model_range(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) in [0, 1] -> (N, C, H, W) float32 in [−1, 1]."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1) * 2.0 - 1.0, dtype=np.float32)


_SPRITE_SPEC = re.compile(r"sprites(\d+)?(?:-s(\d+))?")
_SIZED_PATH = re.compile(r"(.+)@(\d+)")


def load_images(path: str | Path, size: int | None = None, split: str = "train",
                labels: str | Path | None = None) -> ImageData:
    """A user's images: MNIST IDX (gzipped or not; the
    labels file beside it is found by name), ``.npz`` (``x``, optional ``y``) or a folder
    of PNG/JPEG files (sub-folders are classes), resized to ``size``×``size`` when given.
    "test" holds out every 5th image of each class.  ValueError (one line) for a bad file."""
    _check_split(split)
    if size is not None and not 4 <= int(size) <= 1024:
        raise ValueError(f"image size must be in [4, 1024], got {size}")
    path = Path(path)
    if path.is_dir():
        x, y, names = _read_folder(path, size)
    elif not path.is_file():
        raise ValueError(f"no such file or folder: {path}")
    elif path.suffix.lower() == ".npz":
        x, y, names = _read_npz(path)
    else:
        x, y, names = _read_mnist(path, None if labels is None else Path(labels))
    x = _to_model_range(_resize(x, size))
    name = str(path.resolve())  # the spec reopens it from any working folder
    name = name if size is None else f"{name}@{int(size)}"
    whole = ImageData(name, x, y, len(names), names)
    return take_split(whole, split)


def open_image_data(spec: str, split: str = "train",
                    size: int | None = None) -> ImageData | SpriteData:
    """A data set by its spec: "digits", "sprites" (32×32), "sprites64" (64×64),
    "sprites-s<seed>", or a path (``load_images``; "path@N" resizes to N×N)."""
    _check_split(split)
    spec = str(spec)
    if spec == "digits":
        if size not in (None, 8):
            raise ValueError(f"digits are 8×8 images; size {size} is not available")
        return digits(split)
    m = _SPRITE_SPEC.fullmatch(spec)
    if m and not Path(spec).exists():
        native = int(m.group(1) or 32)
        return sprites(split, size=int(size or native), seed=int(m.group(2) or 0))
    m = _SIZED_PATH.fullmatch(spec)
    if m and not Path(spec).exists() and Path(m.group(1)).exists() and size is None:
        return load_images(m.group(1), int(m.group(2)), split)
    if not Path(spec).exists():
        raise ValueError(f"no data set {spec!r}: use digits, sprites, sprites64 or a path to "
                         "an IDX file, an .npz or a folder of images")
    return load_images(spec, size, split)
