"""Data in the recipe's fixed-point encoding, and the order in which batches are consumed.

Loading is ``zktrain.data``'s job (digits, npz, synthetic); this module turns a loaded
``Dataset`` into the integers the engine and the data commitment use (DESIGN section 9,
"Data"): inputs round_half_up(x 2^R), labels one-hot at 2^R, and a deterministic batch
stream. Both the fixed-point engine and the float reference consume exactly these batches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from circuits.recipe import Recipe
from zktrain.data import Dataset

_BATCH_DOMAIN = b"zktrain.batches.v1"


def encode_inputs(x: np.ndarray, frac_bits: int) -> np.ndarray:
    """round_half_up(x 2^R) as int64, computed exactly from float32/float64 inputs.

    x 2^R is exact (a power-of-two scaling), and so is its fractional part v - floor(v);
    adding 0.5 before flooring would round for |v| >= 2^52.
    """
    v = np.asarray(x, dtype=np.float64) * float(1 << frac_bits)
    if not np.all(np.isfinite(v)) or np.any(np.abs(v) >= 2.0**62):
        raise ValueError("inputs: non-finite values or magnitudes beyond 2^62 after scaling")
    floor = np.floor(v)
    return floor.astype(np.int64) + (v - floor >= 0.5)


def encode_labels(labels: np.ndarray, classes: int, frac_bits: int) -> np.ndarray:
    """One-hot targets at 2^R: Y[i, c] = 2^R if labels[i] == c else 0."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels: expected a vector of class ids in [0, {classes})")
    y = np.zeros((labels.size, classes), dtype=np.int64)
    y[np.arange(labels.size), labels] = 1 << frac_bits
    return y


def batch_order(samples: int, batch_size: int, steps: int, seed: int) -> np.ndarray:
    """Row indices [steps, batch_size]: epochs of seeded permutations, the last partial batch
    of each epoch dropped (every step sees a full batch).

    Epoch e sorts the rows by 64-bit keys from the SHAKE256 stream of (domain, seed, e), ties
    by row index: identical on every machine, and independent of numpy's generators.
    """
    per_epoch = samples // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the {samples} training samples")
    out = np.empty((steps, batch_size), dtype=np.int64)
    for start in range(0, steps, per_epoch):
        epoch = start // per_epoch
        label = b"|".join([_BATCH_DOMAIN, seed.to_bytes(8, "little"), epoch.to_bytes(4, "little")])
        keys = np.frombuffer(hashlib.shake_256(label).digest(8 * samples), dtype="<u8")
        order = np.argsort(keys, kind="stable")[: per_epoch * batch_size].reshape(per_epoch, batch_size)
        take = min(per_epoch, steps - start)
        out[start : start + take] = order[:take]
    return out


@dataclass(frozen=True)
class EncodedData:
    """A data set in the recipe's encoding, with the batch stream of its training part."""

    x_train: np.ndarray  # [n, d_0] at 2^R
    y_train: np.ndarray  # [n, d_L] one-hot at 2^R
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    batches: np.ndarray  # [T, B] rows of the training part

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(X_t, Y_t) of one step: the tensors C_data commits."""
        rows = self.batches[step]
        return self.x_train[rows], self.y_train[rows]


def encode_dataset(dataset: Dataset, recipe: Recipe) -> EncodedData:
    """Encode ``dataset`` for ``recipe``, checking that its shape matches the recipe's."""
    d, R = recipe.data, recipe.quant.frac_bits
    if dataset.num_features != d.features or dataset.num_classes > d.classes:
        raise ValueError(
            f"data: {dataset.name} has {dataset.num_features} features and {dataset.num_classes} classes, "
            f"the recipe {d.features} and {d.classes}"
        )
    batches = batch_order(len(dataset.y_train), recipe.train.batch_size, recipe.train.steps, recipe.seed)
    return EncodedData(
        x_train=encode_inputs(dataset.x_train, R),
        y_train=encode_labels(dataset.y_train, d.classes, R),
        labels_train=dataset.y_train,
        x_test=encode_inputs(dataset.x_test, R),
        labels_test=dataset.y_test,
        batches=batches,
    )
