"""Data sources: digits, npz, synthetic; seeded splits and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from zktrain.data import DataError, load_dataset, parse_data_spec


def test_digits_fixed_split():
    data = load_dataset({"source": "digits"})
    assert data.x_train.shape == (1438, 64) and data.x_test.shape == (359, 64)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.num_classes == 10 and data.num_features == 64
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert set(np.unique(data.y_test)) == set(range(10))
    again = load_dataset({"source": "digits"})
    assert np.array_equal(data.x_test, again.x_test) and np.array_equal(data.y_train, again.y_train)
    other = load_dataset({"source": "digits", "split_seed": 1, "test_fraction": 0.5})
    assert other.x_test.shape == (898, 64) and not np.array_equal(other.y_test[:359], data.y_test)


def test_synthetic_is_seeded_and_learnable_by_construction():
    spec = {"source": "synthetic", "n": 200, "d": 5, "classes": 3, "seed": 7}
    a, b = load_dataset(spec), load_dataset(spec)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert a.x_train.shape == (160, 5) and a.num_classes == 3
    c = load_dataset({**spec, "seed": 8})
    assert not np.array_equal(a.x_train, c.x_train)
    # Labels come from a linear teacher: a least-squares linear probe separates the classes well.
    x = np.concatenate([a.x_train, np.ones((160, 1), np.float32)], axis=1)
    w, *_ = np.linalg.lstsq(x, np.eye(3)[a.y_train], rcond=None)
    assert np.mean(np.argmax(x @ w, axis=1) == a.y_train) > 0.8


def test_npz_with_and_without_a_test_part(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 4)), rng.integers(0, 3, 50)
    np.savez(tmp_path / "plain.npz", X=x, y=y)
    data = load_dataset({"source": "npz", "path": str(tmp_path / "plain.npz"), "test_fraction": 0.2})
    assert data.x_train.shape == (40, 4) and data.x_test.shape == (10, 4) and data.name == "plain"
    assert data.num_classes == int(y.max()) + 1

    np.savez(tmp_path / "split.npz", X=x, y=y.astype(np.float64), X_test=x[:7], y_test=y[:7])
    data = load_dataset({"source": "npz", "path": "split.npz"}, base_dir=tmp_path)
    assert data.x_train.shape == (50, 4) and data.x_test.shape == (7, 4)
    assert data.y_train.dtype == np.int64 and np.array_equal(data.y_test, y[:7])


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(X=np.zeros((4, 2))), "has no array 'y'"),
        (dict(y=np.zeros(4, np.int64)), "has no array 'X'"),
        (dict(X=np.zeros(4), y=np.zeros(4, np.int64)), r"X must be a non-empty 2-D array \(n, d\), got shape \(4,\)"),
        (dict(X=np.zeros((4, 2)), y=np.zeros(3, np.int64)), r"y must be 1-D with 4 labels, got shape \(3,\)"),
        (dict(X=np.zeros((4, 2)), y=np.array([0, 1, 0.5, 1])), "y must hold integer class labels"),
        (dict(X=np.zeros((4, 2)), y=np.array([0, -1, 0, 1])), "y must hold labels >= 0, got -1"),
        (dict(X=np.array([[0.0, np.nan]] * 4), y=np.zeros(4, np.int64)), "X contains NaN or infinite values"),
        (dict(X=np.array([["a", "b"]] * 4), y=np.zeros(4, np.int64)), "X must be real numbers"),
        (dict(X=np.zeros((4, 2)), y=np.zeros(4, np.int64), X_test=np.zeros((2, 2))), "'X_test' without its pair"),
        (
            dict(X=np.zeros((4, 2)), y=np.zeros(4, np.int64), X_test=np.zeros((2, 3)), y_test=np.zeros(2, np.int64)),
            "X_test has 3 features, X has 2",
        ),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset({"source": "npz", "path": str(tmp_path / "bad.npz")})


def test_npz_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="data.path: file not found: .*missing.npz"):
        load_dataset({"source": "npz", "path": str(tmp_path / "missing.npz")})
    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    with pytest.raises(DataError, match="is not a readable .npz file"):
        load_dataset({"source": "npz", "path": str(tmp_path / "junk.npz")})


@pytest.mark.parametrize(
    "spec, message",
    [
        ("digits", "data: must be a mapping with a 'source' key, got 'digits'"),
        ({"source": "mnist"}, r"data.source: must be one of \['digits', 'npz', 'synthetic'\], got 'mnist'"),
        ({"source": "digits", "shuffle": True}, "data.shuffle: unknown option for source 'digits'"),
        ({"source": "npz"}, "data.path: required for source 'npz'"),
        ({"source": "synthetic", "n": 10, "d": 2}, "data.classes: required for source 'synthetic'"),
        ({"source": "synthetic", "n": -5, "d": 2, "classes": 2}, "data.n: must be an integer >= 2, got -5"),
        ({"source": "digits", "test_fraction": 1.0}, r"data.test_fraction: must be a number in \(0, 1\), got 1.0"),
        ({"source": "digits", "split_seed": "x"}, "data.split_seed: must be an integer >= 0, got 'x'"),
    ],
)
def test_spec_errors(spec, message):
    with pytest.raises(DataError, match=message):
        parse_data_spec(spec)


def test_split_must_leave_both_parts_nonempty():
    with pytest.raises(DataError, match="data.test_fraction: 0.01 leaves an empty part of 20 samples"):
        load_dataset({"source": "synthetic", "n": 20, "d": 2, "classes": 2, "test_fraction": 0.01})
