"""Toy datasets and point files (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.engine.datasets import (
    DATASETS,
    load_labelled_points,
    load_points,
    make_dataset,
    save_points,
)

N_LABELS = {"gaussian": 1, "8gaussians": 8, "moons": 2, "circles": 2, "checkerboard": 8,
            "swissroll": 3, "pinwheel": 5, "2spirals": 2, "line": 1}


def test_names_in_order() -> None:
    assert DATASETS == ("gaussian", "8gaussians", "moons", "circles", "checkerboard",
                        "swissroll", "pinwheel", "2spirals", "line")
    assert set(N_LABELS) == set(DATASETS)


@pytest.mark.parametrize("name", DATASETS)
def test_shape_dtype_finite_bounds_labels(name: str) -> None:
    n = 3000
    x, labels = make_dataset(name, n, 0.1, seed=3)
    assert x.shape == (n, 2) and x.dtype == np.float64
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert np.isfinite(x).all()
    # Inside roughly [-4, 4]^2 (a Gaussian tail may poke out a little) and centred.
    assert np.abs(x).max() < 4.6
    assert np.mean(np.abs(x) > 4.0) < 0.002
    assert np.abs(x.mean(axis=0)).max() < 0.5
    # Labels cover 0..k-1, every class is used.
    k = N_LABELS[name]
    assert labels.min() == 0 and labels.max() == k - 1
    assert (np.bincount(labels, minlength=k) > 0).all()


@pytest.mark.parametrize("name", DATASETS)
def test_deterministic_for_a_seed(name: str) -> None:
    a = make_dataset(name, 500, 0.2, seed=11)
    b = make_dataset(name, 500, 0.2, seed=11)
    c = make_dataset(name, 500, 0.2, seed=12)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("name", DATASETS)
def test_noise_changes_the_data(name: str) -> None:
    x0, _ = make_dataset(name, 400, 0.0, seed=5)
    x1, _ = make_dataset(name, 400, 0.3, seed=5)
    assert np.isfinite(x0).all()
    assert not np.allclose(x0, x1)


def test_exact_structure_at_zero_noise() -> None:
    x, k = make_dataset("8gaussians", 400, 0.0, seed=0)
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), 2.5)
    ang = np.arctan2(x[:, 1], x[:, 0]) % (2 * np.pi)
    np.testing.assert_allclose(ang, 2 * np.pi * k / 8, atol=1e-9)
    x, k = make_dataset("circles", 400, 0.0, seed=0)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(r[k == 0], 3.0)
    np.testing.assert_allclose(r[k == 1], 1.5)
    x, k = make_dataset("checkerboard", 2000, 0.0, seed=0)
    cell = np.floor((x + 3.0) / 1.5).astype(int)
    assert ((cell.sum(axis=1) % 2) == 0).all()  # only the dark squares
    # the square index names one cell
    for j in range(8):
        assert len({tuple(c) for c in cell[k == j]}) == 1
    x, _ = make_dataset("line", 300, 0.0, seed=0)
    np.testing.assert_allclose(x[:, 1], 0.5 * x[:, 0])


def test_moons_labels_separate_the_moons() -> None:
    x, k = make_dataset("moons", 1000, 0.0, seed=0)
    # the upper moon (label 0 in scikit-learn) lies above the lower one on average
    assert x[k == 0, 1].mean() > x[k == 1, 1].mean()


def test_errors() -> None:
    with pytest.raises(ValueError, match="8gaussians"):
        make_dataset("nope", 10, 0.1, 0)
    with pytest.raises(ValueError):
        make_dataset("moons", -1, 0.1, 0)
    with pytest.raises(ValueError):
        make_dataset("moons", 10, -0.1, 0)
    x, labels = make_dataset("moons", 0, 0.1, 0)
    assert x.shape == (0, 2) and labels.shape == (0,)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(DATASETS), n=st.integers(1, 60),
       noise=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_any_small_request_is_well_formed(name: str, n: int, noise: float, seed: int) -> None:
    x, labels = make_dataset(name, n, noise, seed)
    assert x.shape == (n, 2) and labels.shape == (n,)
    assert np.isfinite(x).all()
    assert (labels >= 0).all()


# ---------------------------------------------------------------------------- files


@pytest.mark.parametrize("ext", [".csv", ".npy", ".CSV"])
def test_round_trip(tmp_path, ext: str) -> None:
    x, _ = make_dataset("moons", 123, 0.1, seed=1)
    path = tmp_path / f"pts{ext}"
    save_points(path, x)
    y = load_points(str(path))
    assert y.shape == (123, 2) and y.dtype == np.float64
    np.testing.assert_array_equal(x, y)  # %.17g is exact for float64


def test_csv_header_written_and_optional(tmp_path) -> None:
    path = tmp_path / "a.csv"
    save_points(path, [[1.0, 2.0], [3.5, -4.0]])
    assert path.read_text().splitlines()[0] == "x,y"
    bare = tmp_path / "b.csv"
    bare.write_text("1,2\n3.5, -4\n\n")
    np.testing.assert_array_equal(load_points(bare), [[1.0, 2.0], [3.5, -4.0]])
    header_only = tmp_path / "c.csv"
    header_only.write_text("x,y\n")
    assert load_points(header_only).shape == (0, 2)


@pytest.mark.parametrize("content, match", [
    ("x,y\n1,2\n3,oops\n", "line 3"),
    ("x,y\n1,2,3,4\n", "2 \\(x,y\\) or 3"),
    ("x,y\n1,2,3\n1,2\n", "expected 3 columns"),
    ("x,y,label\n1,2,0.5\n", "whole numbers"),
    ("x,y,label\n1,2,-1\n", "whole numbers"),
    ("x,y\n1,nan\n", "NaN"),
    ("x,y\n1,inf\n", "NaN or an infinity"),
    ("", "empty"),
])
def test_bad_csv(tmp_path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_points(path)


def test_bad_npy(tmp_path) -> None:
    p = tmp_path / "shape.npy"
    np.save(p, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        load_points(p)
    p = tmp_path / "flat.npy"
    np.save(p, np.zeros(4))
    with pytest.raises(ValueError, match="shape"):
        load_points(p)
    p = tmp_path / "str.npy"
    np.save(p, np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="numbers"):
        load_points(p)
    p = tmp_path / "obj.npy"
    np.save(p, np.array([[1, None]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="npy"):
        load_points(p)
    p = tmp_path / "nan.npy"
    np.save(p, np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        load_points(p)
    p = tmp_path / "garbage.npy"
    p.write_bytes(b"not an npy file at all")
    with pytest.raises(ValueError, match="npy"):
        load_points(p)


def test_bad_extension_and_points(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\.csv or \.npy"):
        save_points(tmp_path / "a.txt", np.zeros((2, 2)))
    (tmp_path / "a.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"\.csv or \.npy"):
        load_points(tmp_path / "a.txt")
    with pytest.raises(ValueError, match="shape"):
        save_points(tmp_path / "a.csv", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        save_points(tmp_path / "a.npy", np.array([[np.inf, 0.0]]))
    with pytest.raises(FileNotFoundError):
        load_points(tmp_path / "missing.csv")


@pytest.mark.parametrize("ext", [".csv", ".npy"])
def test_labelled_points_round_trip(tmp_path, ext: str) -> None:
    rng = np.random.default_rng(3)
    x, labels = rng.normal(size=(30, 2)), rng.integers(0, 4, 30)
    path = tmp_path / f"two-colours{ext}"
    save_points(path, x, labels)
    y, lab = load_labelled_points(path)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(lab, labels)
    np.testing.assert_array_equal(load_points(path), x)  # the plain reader drops the labels
    save_points(path, x)
    assert load_labelled_points(path)[1] is None
    with pytest.raises(ValueError, match="one label per point"):
        save_points(path, x, labels[:-1])
