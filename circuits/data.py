"""The training data in the recipe's fixed-point encoding, and the order it is consumed in.

Both sides need these (DESIGN section 9, "Data"; section 10, "Artifacts are part of the
statement"): the trainer encodes its data set with them, and a verifier given the data set
(``data.binding: public``) or a commitment to it (``committed``) derives the very batch stream
the proof is about. Pure numpy and hashlib, no torch.

* inputs round_half_up(x 2^R) as int64, labels one-hot at 2^R;
* ``batch_order``: epochs of seeded permutations, the last partial batch of each epoch
  dropped, so that every step sees a full batch of rows of the training part;
* ``dataset_digest``: the SHA-256 of the encoded training rows, which a recipe with public
  data carries, so that a verifier refuses any other data set by name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from .bits import BitDecomposition
from .layout import Layout, log2_ceil
from .limbs import LIMB_BITS, LimbDecomposition

if TYPE_CHECKING:
    from .recipe import Recipe

#: How the proof binds the data (issue 13): ``private``, the prover's own commitment to the
#: batch stream, bound to no data set; ``public``, a data set the verifier holds (its digest
#: in the recipe); ``committed``, a data owner's commitment to the rows (its digest there).
DATA_BINDINGS = ("private", "public", "committed")

_BATCH_DOMAIN = b"zktrain.batches.v1"
_DIGEST_DOMAIN = b"zktrain.dataset.v1"


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


def dataset_digest(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 (hex) of encoded training rows: a domain, the shapes, then the int64 inputs
    [n, d] and one-hot labels [n, classes], little-endian in C order. It names the data, not a
    file: any file holding the same rows has the same digest."""
    x, y = np.asarray(x, dtype="<i8"), np.asarray(y, dtype="<i8")
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"dataset_digest: inputs {x.shape} and labels {y.shape} are not rows of one data set")
    h = hashlib.sha256(_DIGEST_DOMAIN)
    for dim in (*x.shape, y.shape[1]):
        h.update(int(dim).to_bytes(8, "little"))
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class DatasetEncoding:
    """How a data set's training rows are encoded and committed (``data.binding: committed``):
    ``rows`` rows of ``features`` inputs at 2^R in ``input_bits`` bits and one-hot labels
    over ``classes`` in ``label_bits`` bits, each decomposed into range slots of the proof's
    gadget. The data owner commits to DX.s [rows', features', slots] and DY.s [rows',
    classes', slots] (primes: padded to powers of two), rows in storage order; the trainer's
    recipe must encode its data the same way, and the circuit uses these very layouts."""

    rows: int
    features: int
    classes: int
    frac_bits: int
    input_bits: int
    input_signed: bool
    label_bits: int
    range_check: str = "limbs"
    limb_bits: int = LIMB_BITS

    def __post_init__(self) -> None:
        if self.range_check not in ("limbs", "bits"):
            raise ValueError(f"range_check must be limbs or bits, got {self.range_check!r}")
        for name in ("rows", "features", "classes", "frac_bits", "input_bits", "label_bits"):
            if type(getattr(self, name)) is not int or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")

    @classmethod
    def from_recipe(cls, recipe: "Recipe", range_check: str) -> "DatasetEncoding":
        d = recipe.data
        return cls(d.rows, d.features, d.classes, recipe.quant.frac_bits, d.input_bits, d.input_signed,
                   d.label_bits, range_check)

    def _decomposition(self, width: int, signed: bool):
        if self.range_check == "limbs":
            return LimbDecomposition(width, signed, 0, self.limb_bits)
        return BitDecomposition(width, signed)

    def x_slots(self):
        return self._decomposition(self.input_bits, self.input_signed)

    def y_slots(self):
        return self._decomposition(self.label_bits, False)

    @property
    def suffix(self) -> str:
        return self.range_check

    def layouts(self) -> dict[str, Layout]:
        """The committed slots tensors, ``DX.s`` and ``DY.s``."""
        rows = log2_ceil(self.rows)
        return {
            f"DX.{self.suffix}": Layout.of(i=rows, j=log2_ceil(self.features), slot=self.x_slots().slot_vars),
            f"DY.{self.suffix}": Layout.of(i=rows, j=log2_ceil(self.classes), slot=self.y_slots().slot_vars),
        }

    def slots(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """The slots tensors of encoded rows x [rows, features], y [rows, classes] (int64),
        padded with zero rows and columns; raises ValueError naming a value out of range."""
        x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
        if x.shape != (self.rows, self.features) or y.shape != (self.rows, self.classes):
            raise ValueError(f"rows of shape {x.shape} and {y.shape}, the encoding says "
                             f"({self.rows}, {self.features}) and ({self.rows}, {self.classes})")
        out = {}
        for (name, layout), values, d, what in zip(self.layouts().items(), (x, y), (self.x_slots(), self.y_slots()),
                                                 ("input", "label")):
            padded = np.zeros((1 << layout.vars("i"), 1 << layout.vars("j")), dtype=np.int64)
            padded[: values.shape[0], : values.shape[1]] = values
            out[name] = d.decompose(padded, what)
        return out

    def encode(self) -> bytes:
        """Canonical bytes (JSON, sorted keys): the header of a data commitment."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()
