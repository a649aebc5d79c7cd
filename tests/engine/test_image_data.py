"""Image data: digits, generated sprites, and users' files (IDX, .npz, folders), good and bad."""

from __future__ import annotations

import gzip
import pickle
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genlab.engine.images import data as imdata
from genlab.engine.images import sprites as sp

# ------------------------------------------------------------------------------- digits


def test_digits_splits_are_fixed_stratified_and_in_range():
    train, test, whole = imdata.digits("train"), imdata.digits("test"), imdata.digits("all")
    assert len(whole) == 1797 and len(train) + len(test) == 1797
    assert whole.shape == (1, 8, 8) and whole.x.dtype == np.float32 and whole.y.dtype == np.int64
    assert whole.x.min() == -1.0 and whole.x.max() == 1.0
    assert whole.n_classes == 10 and whole.class_names == tuple("0123456789")
    # every 5th image of each class is held out
    for c in range(10):
        n_c = int(np.sum(whole.y == c))
        assert np.sum(test.y == c) == n_c // 5
    held = imdata.held_out_mask(whole.y)
    np.testing.assert_array_equal(test.x, whole.x[held])
    np.testing.assert_array_equal(train.x, whole.x[~held])
    np.testing.assert_array_equal(imdata.digits("test").x, test.x)  # deterministic
    x, y = train.get(np.array([3, 0]))
    np.testing.assert_array_equal(x, train.x[[3, 0]])
    np.testing.assert_array_equal(y, train.y[[3, 0]])


def test_digits_copies_are_independent():
    a = imdata.digits("all")
    a.x[0] = 0.0
    assert imdata.digits("all").x[0].min() == -1.0


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        imdata.digits("valid")


# ------------------------------------------------------------------------------ sprites


def test_sprite_splits_hold_out_ten_percent_of_each_shape():
    train, test, whole = imdata.sprites("train"), imdata.sprites("test"), imdata.sprites("all")
    assert len(whole) == 3 * 6 * 40 * 32 * 32 == 737_280
    assert len(test) == 73_728 and len(train) + len(test) == len(whole)
    assert not np.intersect1d(train.index_, test.index_).size
    np.testing.assert_array_equal(np.bincount(test.factors(np.arange(len(test)))[:, 0]),
                                  [24_576] * 3)
    np.testing.assert_array_equal(imdata.sprites("test").index_, test.index_)
    other = imdata.sprites("test", seed=3)
    assert other.name == "sprites-s3" and not np.array_equal(other.index_, test.index_)
    assert train.n_classes == 3 and train.class_names == ("square", "ellipse", "heart")
    assert not hasattr(train, "x")  # drawn lazily: the trainer goes through get()


def test_sprite_factors_and_drawing():
    s = imdata.sprites("all")
    idx = np.array([0, 1, 32, 737_279])
    np.testing.assert_array_equal(s.factors(idx), [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1],
                                                   [0, 0, 0, 1, 0], [2, 5, 39, 31, 31]])
    np.testing.assert_array_equal(sp.ravel(sp.unravel(idx)), idx)
    v = sp.factor_values(s.factors(idx))
    assert v[3, 1] == 1.0 and v[0, 1] == 0.5 and 0 <= v[3, 2] < 2 * np.pi and v[3, 3] == 1.0
    x, y = s.get(idx)
    assert x.shape == (4, 1, 32, 32) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 0, 2])
    assert x.min() == -1.0 and x.max() == 1.0
    # white on black, anti-aliased: the edge has grey pixels, the corners are black
    assert np.any((x > -0.9) & (x < 0.9))
    assert np.all(x[:, 0, 0, 0] == -1.0)
    np.testing.assert_array_equal(s.get(idx)[0], x)  # deterministic
    assert imdata.sprites("test", size=64).get(np.arange(3))[0].shape == (3, 1, 64, 64)
    with pytest.raises(ValueError):
        sp.unravel(np.array([737_280]))


def _img(shape: int, scale: int = 5, rot: int = 0, px: int = 16, py: int = 16,
         size: int = 32) -> np.ndarray:
    return sp.draw_sprites(np.array([[shape, scale, rot, px, py]]), size)[0, 0]


def test_sprite_geometry_follows_the_factors():
    area = [float(np.sum(_img(0, s) + 1) / 2) for s in range(6)]
    assert np.all(np.diff(area) > 0)  # bigger scale, bigger shape
    # a square's area is (2·0.75·r)², r = 0.24·scale·size pixels (anti-aliasing keeps it)
    assert area[5] == pytest.approx((1.5 * 0.24 * 32) ** 2, rel=0.02)
    np.testing.assert_allclose(_img(0, rot=10), _img(0, rot=0), atol=1e-6)  # 90° symmetric
    np.testing.assert_allclose(_img(1, rot=20), _img(1, rot=0), atol=1e-6)  # 180° symmetric
    assert np.abs(_img(2, rot=20) - _img(2, rot=0)).max() > 1.0  # a heart is not
    w = (_img(2, px=0) + 1) / 2
    cols = np.arange(32)
    x0 = (w.sum(0) @ cols) / w.sum()
    w = (_img(2, px=31) + 1) / 2
    assert (w.sum(0) @ cols) / w.sum() - x0 == pytest.approx(0.48 * 32, abs=0.3)
    heart = _img(2)
    assert heart[:16].sum() > heart[16:].sum()  # lobes on top, the tip below


def test_drawing_256_sprites_is_fast():
    f = sp.unravel(np.random.default_rng(0).integers(0, sp.N_SPRITES, 256))
    sp.draw_sprites(f)
    best = min(_timed(lambda: sp.draw_sprites(f)) for _ in range(3))
    assert best < 0.1


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ------------------------------------------------------------------------- data by spec


def test_open_image_data_by_spec(tmp_path):
    assert imdata.open_image_data("digits", "test").name == "digits"
    s = imdata.open_image_data("sprites64", "test")
    assert s.shape == (1, 64, 64) and s.name == "sprites64"
    assert imdata.open_image_data(s.name).shape == (1, 64, 64)
    assert len(imdata.open_image_data("sprites-s3", "test")) == 73_728
    p = tmp_path / "x.npz"
    np.savez(p, x=np.zeros((5, 6, 6), np.uint8))
    d = imdata.open_image_data(str(p), "all", size=4)
    assert d.shape == (1, 4, 4) and d.name == f"{p}@4"
    assert imdata.open_image_data(d.name, "all").shape == (1, 4, 4)  # the name reopens it
    with pytest.raises(ValueError, match="no data set"):
        imdata.open_image_data("cifar")
    with pytest.raises(ValueError, match="8×8"):
        imdata.open_image_data("digits", size=16)


# ---------------------------------------------------------------------------- MNIST IDX


def _idx_images(x: np.ndarray) -> bytes:
    return struct.pack(">IIII", 2051, *x.shape) + x.astype(np.uint8).tobytes()


def _idx_labels(y: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(y)) + y.astype(np.uint8).tobytes()


def _mnist(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 7, 5)).astype(np.uint8), np.arange(n) % 3


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_with_labels_beside(tmp_path, gz):
    x, y = _mnist()
    ext = ".gz" if gz else ""
    pack = gzip.compress if gz else (lambda b: b)
    (tmp_path / f"train-images-idx3-ubyte{ext}").write_bytes(pack(_idx_images(x)))
    (tmp_path / f"train-labels-idx1-ubyte{ext}").write_bytes(pack(_idx_labels(y)))
    d = imdata.load_images(tmp_path / f"train-images-idx3-ubyte{ext}", split="all")
    assert d.shape == (1, 7, 5) and d.n_classes == 3 and d.class_names == ("0", "1", "2")
    np.testing.assert_allclose(d.x[:, 0], x / 255.0 * 2 - 1, atol=1e-6)
    np.testing.assert_array_equal(d.y, y)
    test = imdata.load_images(tmp_path / f"train-images-idx3-ubyte{ext}", split="test")
    assert len(test) == 3  # the 5th of each class (7, 7, 6 images)
    r = imdata.load_images(tmp_path / f"train-images-idx3-ubyte{ext}", size=14, split="all")
    assert r.shape == (1, 14, 14) and -1.0 <= r.x.min() and r.x.max() <= 1.0


def test_idx_without_labels_and_with_explicit_labels(tmp_path):
    x, y = _mnist()
    (tmp_path / "imgs.idx").write_bytes(_idx_images(x))
    (tmp_path / "labs.idx").write_bytes(_idx_labels(y))
    d = imdata.load_images(tmp_path / "imgs.idx", split="all")
    assert d.n_classes == 0 and d.class_names == () and np.all(d.y == 0)
    d = imdata.load_images(tmp_path / "imgs.idx", split="all", labels=tmp_path / "labs.idx")
    np.testing.assert_array_equal(d.y, y)


def test_bad_idx_files_get_one_line_messages(tmp_path):
    x, y = _mnist()
    good = _idx_images(x)
    cases = {
        "truncated": (good[:-7], "truncated"),
        "header": (good[:10], "truncated"),
        "long": (good + b"\0", "too long"),
        "magic": (struct.pack(">I", 2052) + good[4:], "magic number 2052"),
        "labels": (_idx_labels(y), "labels file"),
        "gz": (gzip.compress(good)[:-12], "gzip"),
    }
    for name, (raw, msg) in cases.items():
        p = tmp_path / f"{name}-images-idx3-ubyte"
        p.write_bytes(raw)
        with pytest.raises(ValueError, match=msg) as e:
            imdata.load_images(p)
        assert "\n" not in str(e.value)
    (tmp_path / "a-images-idx3-ubyte").write_bytes(good)
    (tmp_path / "a-labels-idx1-ubyte").write_bytes(_idx_labels(y[:-1]))
    with pytest.raises(ValueError, match="19 labels for the 20 images"):
        imdata.load_images(tmp_path / "a-images-idx3-ubyte")
    with pytest.raises(ValueError, match="no such file"):
        imdata.load_images(tmp_path / "missing.idx")


# ---------------------------------------------------------------------------------- npz


def test_npz_uint8_float_and_colour(tmp_path):
    rng = np.random.default_rng(1)
    x8 = rng.integers(0, 256, (10, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x8, y=np.array([5, 7] * 5))
    d = imdata.load_images(tmp_path / "a.npz", split="all")
    np.testing.assert_allclose(d.x[:, 0], x8 / 255.0 * 2 - 1, atol=1e-6)
    assert d.class_names == ("5", "7") and list(d.y[:4]) == [0, 1, 0, 1]
    xf = rng.uniform(0, 1, (10, 6, 6, 3)).astype(np.float32)
    np.savez(tmp_path / "b.npz", x=xf)
    d = imdata.load_images(tmp_path / "b.npz", split="all")
    assert d.shape == (3, 6, 6) and d.n_classes == 0
    np.testing.assert_allclose(d.x, np.moveaxis(xf, -1, 1) * 2 - 1, atol=1e-6)
    np.savez(tmp_path / "c.npz", x=xf * 2 - 1)  # already in [-1, 1]
    np.testing.assert_allclose(imdata.load_images(tmp_path / "c.npz", split="all").x, d.x,
                               atol=1e-6)
    d = imdata.load_images(tmp_path / "b.npz", size=12, split="train")
    assert d.shape == (3, 12, 12) and len(d) == 8


class _Boom:
    """Unpickling this would create a file: proof that nothing is unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_object_arrays_are_refused_and_never_unpickled(tmp_path):
    flag = tmp_path / "unpickled"
    arr = np.empty(2, object)
    arr[:] = [_Boom(str(flag)), _Boom(str(flag))]
    np.savez(tmp_path / "o.npz", x=arr)
    with pytest.raises(ValueError, match="object array"):
        imdata.load_images(tmp_path / "o.npz")
    np.savez(tmp_path / "oy.npz", x=np.zeros((2, 4, 4), np.uint8), y=arr)
    with pytest.raises(ValueError, match="'y' is an object array"):
        imdata.load_images(tmp_path / "oy.npz")
    assert not flag.exists()
    assert pickle.loads(pickle.dumps(_Boom(str(flag)))) is None and flag.exists()  # the trap


def test_bad_npz_files(tmp_path):
    cases = {
        "shape": ({"x": np.zeros((4, 5), np.uint8)}, "must be .N, H, W."),
        "channels": ({"x": np.zeros((4, 5, 5, 2), np.uint8)}, "C 1 or 3"),
        "nox": ({"images": np.zeros((4, 5, 5))}, "no array 'x'"),
        "range": ({"x": np.full((4, 5, 5), 3.0)}, r"\[0, 1\] or \[-1, 1\]"),
        "nan": ({"x": np.full((4, 5, 5), np.nan)}, "NaN"),
        "ylen": ({"x": np.zeros((4, 5, 5)), "y": np.zeros(3, int)}, "labels must be 4"),
        "yfrac": ({"x": np.zeros((4, 5, 5)), "y": np.full(4, 0.5)}, "whole numbers"),
        "text": ({"x": np.full((3, 2, 2), "a")}, "uint8 or float"),
    }
    for name, (arrays, msg) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(ValueError, match=msg) as e:
            imdata.load_images(tmp_path / f"{name}.npz")
        assert "\n" not in str(e.value)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a readable .npz"):
        imdata.load_images(tmp_path / "junk.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(ValueError, match="single array"):
        imdata.load_images(tmp_path / "single.npz")


# ------------------------------------------------------------------------------ folders


def _png(path: Path, value: int, size=(6, 4), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, 255 - value, 0)
    Image.new(mode, size, colour).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for cls, v in (("zebra", 200), ("ant", 10)):
        for i in range(5):
            _png(tmp_path / cls / f"{i}.png", v)
    (tmp_path / "ant" / "notes.txt").write_text("skipped: not an image")
    (tmp_path / "empty").mkdir()
    d = imdata.load_images(tmp_path, split="all")
    assert d.class_names == ("ant", "zebra") and d.n_classes == 2
    assert d.shape == (1, 4, 6)  # (C, H, W) of the first image
    np.testing.assert_array_equal(d.y, [0] * 5 + [1] * 5)
    np.testing.assert_allclose(d.x[0], 10 / 255 * 2 - 1, atol=1e-6)
    assert len(imdata.load_images(tmp_path, split="test")) == 2
    r = imdata.load_images(tmp_path, size=8, split="all")
    assert r.shape == (1, 8, 8)
    np.testing.assert_allclose(r.x[-1], 200 / 255 * 2 - 1, atol=1e-3)


def test_folder_unlabelled_colour_jpeg_resized(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.jpg", 40 * i, size=(10, 10), mode="RGB")
    _png(tmp_path / "grey.png", 100, size=(5, 5))  # joins the colour set as grey RGB
    d = imdata.load_images(tmp_path, size=16, split="all")
    assert d.shape == (3, 16, 16) and d.n_classes == 0 and len(d) == 4
    assert d.x[1, 0].mean() > d.x[1, 2].mean()  # red above blue in the second image


@pytest.mark.parametrize("case", ["empty", "broken", "mixed", "only_text"])
def test_bad_folders(tmp_path, case):
    if case == "broken":
        _png(tmp_path / "a" / "0.png", 5)
        (tmp_path / "a" / "1.png").write_bytes(b"\x89PNG not really")
        match = "1.png: not a readable image"
    elif case == "mixed":
        _png(tmp_path / "a" / "0.png", 5)
        _png(tmp_path / "loose.png", 5)
        match = "both in the folder and in class sub-folders"
    elif case == "only_text":
        (tmp_path / "readme.txt").write_text("hi")
        match = "no PNG or JPEG"
    else:
        match = "no PNG or JPEG"
    with pytest.raises(ValueError, match=match) as e:
        imdata.load_images(tmp_path)
    assert "\n" not in str(e.value)
