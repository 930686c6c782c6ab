"""Data in the recipe's fixed-point encoding, and the order in which batches are consumed.

Loading is ``zktrain.data``'s job (digits, npz, synthetic); this module turns a loaded
``Dataset`` into the integers the engine and the data commitment use (DESIGN section 9,
"Data"), with the encodings and the batch order of ``circuits.data`` (which a verifier of
public or committed data derives too). Both the fixed-point engine and the float reference
consume exactly these batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuits.data import batch_order, encode_inputs, encode_labels
from circuits.recipe import Recipe
from zktrain.data import Dataset

__all__ = ["EncodedData", "batch_order", "encode_dataset", "encode_inputs", "encode_labels"]


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
