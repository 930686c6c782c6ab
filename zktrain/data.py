"""Data sources shared by float training and proving: a run config's ``data:`` section.

Three sources, each a classification data set split into train and test parts:

* ``{source: digits}``: scikit-learn's bundled 8x8 handwritten digits (1797 images, 64 features
  scaled to [0, 1], 10 classes; no download), split by a fixed seeded permutation.
* ``{source: npz, path: FILE}``: arrays ``X`` (n x d) and ``y`` (n integer labels), and either
  ``X_test``/``y_test`` in the same file or a seeded split of ``X``/``y``.
* ``{source: synthetic, n: 512, d: 16, classes: 4}``: a seeded Gaussian input with labels from a
  random linear teacher (argmax of x W), so the task is learnable by construction.

Options common to the split: ``test_fraction`` (default 0.2) and ``split_seed`` (default 0; the
split is fixed, independent of the run's seed, so runs with different seeds see the same test
set). Features are float32, labels int64. Every malformed input raises ``DataError`` naming the
offending key (``data.path: ...``).

Options common to every source, for proofs (issue 13, ``zktrain.run_config``): ``binding``
(``private``, the default; ``public``; ``committed``) and, for committed data, the data owner's
``commitment`` and its ``opening`` (paths). Loading ignores them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DataError", "Dataset", "DataSource", "parse_data_spec", "load_dataset", "export_dataset", "SOURCES"]


class DataError(ValueError):
    """A ``data:`` section or a data file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Dataset:
    """A classification data set: float32 features, int64 labels in [0, num_classes)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]


@dataclass(frozen=True)
class DataSource:
    """A validated ``data:`` section: the source name and its checked options."""

    source: str
    options: Mapping[str, Any]

    def load(self) -> Dataset:
        return _LOADERS[self.source](self.options)


# Option name -> (default, checker). A default of _REQUIRED marks a mandatory option.
_REQUIRED = object()


def _fraction(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise DataError(f"data.{key}: must be a number in (0, 1), got {value!r}")
    return float(value)


def _count(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DataError(f"data.{key}: must be an integer >= {minimum}, got {value!r}")
    return value


def _path(key: str, value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise DataError(f"data.{key}: must be a file path, got {value!r}")
    return Path(value)


def _binding(key: str, value: Any) -> str:
    if value not in BINDINGS:
        raise DataError(f"data.{key}: must be one of {', '.join(BINDINGS)}, got {value!r}")
    return value


def _optional_path(key: str, value: Any) -> Path | None:
    return None if value is None else _path(key, value)


BINDINGS = ("private", "public", "committed")
_SPLIT = {"test_fraction": (0.2, _fraction), "split_seed": (0, lambda k, v: _count(k, v, 0))}
_PROOF = {"binding": ("private", _binding), "commitment": (None, _optional_path), "opening": (None, _optional_path)}

SOURCES: dict[str, dict[str, tuple[Any, Any]]] = {
    "digits": {**_SPLIT, **_PROOF},
    "npz": {"path": (_REQUIRED, _path), **_SPLIT, **_PROOF},
    "synthetic": {
        "n": (_REQUIRED, lambda k, v: _count(k, v, 2)),
        "d": (_REQUIRED, lambda k, v: _count(k, v, 1)),
        "classes": (_REQUIRED, lambda k, v: _count(k, v, 2)),
        "seed": (0, lambda k, v: _count(k, v, 0)),
        **_SPLIT,
        **_PROOF,
    },
}


def parse_data_spec(spec: Any, base_dir: str | Path | None = None) -> DataSource:
    """Validate a ``data:`` mapping; a relative npz ``path`` is taken relative to ``base_dir``."""
    if not isinstance(spec, Mapping):
        raise DataError(f"data: must be a mapping with a 'source' key, got {spec!r}")
    source = spec.get("source")
    if source not in SOURCES:
        raise DataError(f"data.source: must be one of {sorted(SOURCES)}, got {source!r}")
    schema = SOURCES[source]
    unknown = sorted(set(spec) - set(schema) - {"source"})
    if unknown:
        raise DataError(f"data.{unknown[0]}: unknown option for source {source!r} (known: {sorted(schema)})")
    options: dict[str, Any] = {}
    for key, (default, check) in schema.items():
        if key in spec:
            options[key] = check(key, spec[key])
        elif default is _REQUIRED:
            raise DataError(f"data.{key}: required for source {source!r}")
        else:
            options[key] = default
    for key in ("path", "commitment", "opening"):
        if options.get(key) is not None and base_dir is not None and not options[key].is_absolute():
            options[key] = Path(base_dir) / options[key]
    committed = options["binding"] == "committed"
    for key in ("commitment", "opening"):
        if committed and options[key] is None:
            raise DataError(f"data.{key}: committed data needs the data owner's {key} (a path)")
        if not committed and options[key] is not None:
            raise DataError(f"data.{key}: only with binding: committed")
    return DataSource(source, options)


def load_dataset(spec: Any, base_dir: str | Path | None = None) -> Dataset:
    """Validate ``spec`` and load the data set it describes."""
    return parse_data_spec(spec, base_dir).load()


def _split(name: str, x: np.ndarray, y: np.ndarray, options: Mapping[str, Any], num_classes: int) -> Dataset:
    """A seeded permutation; the first round(test_fraction * n) samples are the test set."""
    n = x.shape[0]
    n_test = round(options["test_fraction"] * n)
    if not 0 < n_test < n:
        raise DataError(f"data.test_fraction: {options['test_fraction']} leaves an empty part of {n} samples")
    order = np.random.default_rng(options["split_seed"]).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, x[train], y[train], x[test], y[test], num_classes)


def _load_digits(options: Mapping[str, Any]) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel intensities are integers 0..16; scale them to [0, 1].
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return _split("digits", x, y, options, num_classes=10)


def _checked_arrays(path: Path, x: Any, y: Any, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"data.path: {path}: {x_key} must be a non-empty 2-D array (n, d), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"data.path: {path}: {x_key} must be real numbers, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"data.path: {path}: {x_key} contains NaN or infinite values")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"data.path: {path}: {y_key} must be 1-D with {x.shape[0]} labels, got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # integral labels stored as floats are accepted
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"data.path: {path}: {y_key} must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0:
        raise DataError(f"data.path: {path}: {y_key} must hold labels >= 0, got {int(y.min())}")
    return x.astype(np.float32), y.astype(np.int64)


def _load_npz(options: Mapping[str, Any]) -> Dataset:
    path = options["path"]
    if not path.is_file():
        raise DataError(f"data.path: file not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"data.path: {path} is not a readable .npz file ({err})") from err
    with archive:
        keys = set(archive.files)
        for key in ("X", "y"):
            if key not in keys:
                raise DataError(f"data.path: {path} has no array {key!r} (found: {sorted(keys)})")
        has_test = {"X_test", "y_test"} & keys
        if has_test and has_test != {"X_test", "y_test"}:
            raise DataError(f"data.path: {path} has {sorted(has_test)[0]!r} without its pair (X_test with y_test)")
        x, y = _checked_arrays(path, archive["X"], archive["y"], "X", "y")
        if has_test:
            x_test, y_test = _checked_arrays(path, archive["X_test"], archive["y_test"], "X_test", "y_test")
            if x_test.shape[1] != x.shape[1]:
                raise DataError(
                    f"data.path: {path}: X_test has {x_test.shape[1]} features, X has {x.shape[1]}"
                )
    num_classes = int(max(y.max(), y_test.max() if has_test else 0)) + 1
    if has_test:
        return Dataset(path.stem, x, y, x_test, y_test, num_classes)
    return _split(path.stem, x, y, options, num_classes)


def _load_synthetic(options: Mapping[str, Any]) -> Dataset:
    rng = np.random.default_rng(options["seed"])
    n, d, classes = options["n"], options["d"], options["classes"]
    x = rng.standard_normal((n, d))
    teacher = rng.standard_normal((d, classes))
    y = np.argmax(x @ teacher, axis=1)
    return _split("synthetic", x.astype(np.float32), y.astype(np.int64), options, num_classes=classes)


_LOADERS = {"digits": _load_digits, "npz": _load_npz, "synthetic": _load_synthetic}


def export_dataset(dataset: Dataset) -> bytes:
    """The data set as an .npz for verifiers and data owners (``zktrain export-data``): arrays
    ``X``, ``y`` (the training part, in the order the batch stream indexes it) and
    ``X_test``, ``y_test``. ``{source: npz, path: FILE}`` loads it back to the same split, and
    a verifier of public data reads ``X`` and ``y`` (``verifier.data.load_public_dataset``)."""
    out = io.BytesIO()
    np.savez(out, X=dataset.x_train, y=dataset.y_train, X_test=dataset.x_test, y_test=dataset.y_test)
    return out.getvalue()
