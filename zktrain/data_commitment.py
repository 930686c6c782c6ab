"""A data owner's commitment to a data set, and the opening a trainer proves with (issue 13).

``zktrain commit-data FILE.npz --out data.commitment --opening data.opening`` encodes the
training rows (``circuits.data``), decomposes them into the range slots DX.s and DY.s
(``circuits.data.DatasetEncoding``) and commits to them with fresh blinding: the public
``data.commitment`` (``verifier.data.DatasetCommitment``, whose digest a recipe of committed
data carries) and the secret ``data.opening``, the row blinds, which the trainer needs to
prove against that very commitment (whoever holds the opening and the data can open it;
nobody else learns anything about the rows from the commitment).

Opening file: magic, u16 version, the commitment's SHA-256 (32 bytes), then the blind of every
row commitment of DX.s and of DY.s, 32 bytes each, little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuits.data import DatasetEncoding
from prover.commit import hyrax
from prover.commit.generators import prover_generators
from prover.commit.hyrax import HyraxWitness
from verifier import field
from verifier.data import DatasetCommitment
from verifier.hyrax import HyraxLayout

OPENING_MAGIC = b"ZKDOPEN\x00"
OPENING_VERSION = 1


def dataset_tensors(encoding: DatasetEncoding, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The witness tensors of committed data: the encoded rows padded as the circuit lays
    them out (DX [rows', features'], DY [rows', classes']) and their range slots."""
    slots = encoding.slots(x, y)
    out = dict(slots)
    for (name, layout), values in zip(encoding.layouts().items(), (x, y)):
        padded = np.zeros((1 << layout.vars("i"), 1 << layout.vars("j")), dtype=np.int64)
        padded[: values.shape[0], : values.shape[1]] = values
        out[name.split(".")[0]] = padded
    return out


def _width(values: np.ndarray) -> int:
    top = max(int(values.max(initial=0)), 1)
    return top.bit_length() + 1


@dataclass(frozen=True)
class DatasetOpening:
    """The row blinds of a data commitment, by tensor (``DX.limbs``, ``DY.limbs``)."""

    digest: str
    blinds: dict[str, list[int]]

    def to_bytes(self) -> bytes:
        parts = [OPENING_MAGIC, OPENING_VERSION.to_bytes(2, "little"), bytes.fromhex(self.digest)]
        parts += [field.to_bytes(b) for blinds in self.blinds.values() for b in blinds]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, commitment: DatasetCommitment, what: str = "data opening") -> "DatasetOpening":
        head = len(OPENING_MAGIC) + 2 + 32
        counts = DatasetCommitment.row_counts(commitment.encoding)
        if len(data) != head + 32 * sum(counts) or data[: len(OPENING_MAGIC)] != OPENING_MAGIC:
            raise ValueError(f"{what}: not the opening of this data commitment ({len(data)} bytes)")
        if int.from_bytes(data[len(OPENING_MAGIC) : head - 32], "little") != OPENING_VERSION:
            raise ValueError(f"{what}: unsupported version")
        digest = data[head - 32 : head].hex()
        if digest != commitment.digest():
            raise ValueError(f"{what}: opens the commitment {digest}, not {commitment.digest()}")
        values = [field.from_bytes(data[i : i + 32]) for i in range(head, len(data), 32)]
        blinds, pos = {}, 0
        for name, n in zip(commitment.encoding.layouts(), counts):
            blinds[name], pos = values[pos : pos + n], pos + n
        return cls(digest, blinds)


def commit_dataset(encoding: DatasetEncoding, x: np.ndarray, y: np.ndarray, rng=None) -> tuple[DatasetCommitment, DatasetOpening]:
    """Commit to encoded training rows x [rows, features], y [rows, classes] (int64 at 2^R):
    the public commitment and its secret opening. Blinds come from the OS RNG (``rng`` only
    in tests)."""
    gens = prover_generators()
    rows, blinds = [], {}
    for name, slots in encoding.slots(x, y).items():
        layout = HyraxLayout.square(encoding.layouts()[name].num_vars)
        flat = slots.reshape(-1).astype(np.int64)
        commitment, witness = hyrax.commit(gens, flat, layout, _width(flat), rng)
        rows.append(commitment)
        blinds[name] = witness.blinds
    commitment = DatasetCommitment(encoding, *rows)
    return commitment, DatasetOpening(commitment.digest(), blinds)


def precommitted(commitment: DatasetCommitment, opening: DatasetOpening, tensors: dict[str, np.ndarray]) -> dict:
    """The prover channel's ``precommitted`` entries of the data set: each slots tensor's
    published commitment with the opening witness it needs (the values and the owner's
    blinds). The witness must be the one committed: checked by recommitting with the blinds,
    so a trainer holding other rows finds out here, not from a rejected proof."""
    out = {}
    for name, com in commitment.tensors().items():
        layout = HyraxLayout.square(commitment.encoding.layouts()[name].num_vars)
        flat = tensors[name].reshape(-1).astype(np.int64)
        again, _ = hyrax.commit(prover_generators(), flat, layout, _width(flat), _Replay(opening.blinds[name]))
        if again.rows != com.rows:
            raise ValueError(f"data: the rows given do not open the data commitment ({name} differs)")
        out[name] = (com, HyraxWitness(layout, flat.reshape(layout.num_rows, layout.num_cols), _width(flat),
                                       list(opening.blinds[name])))
    return out


class _Replay:
    """A RandomSource that hands back given blinds in order (``prover.nizk.randomness``)."""

    def __init__(self, values):
        self._values = iter(values)

    def randrange(self, _bound: int) -> int:
        return next(self._values)


def commit_training_rows(path, frac_bits: int = 16, input_bits: int | None = None, label_bits: int | None = None,
                         range_check: str = "limbs", rng=None) -> tuple[DatasetCommitment, DatasetOpening]:
    """``zktrain commit-data``: the training rows of an .npz data set (``{source: npz, path}``:
    X, y, and X_test, y_test or a seeded split, as a trainer's run file will load them),
    encoded at 2^R in the given widths (default: the narrowest that hold them), committed."""
    from circuits.data import encode_inputs, encode_labels
    from circuits.recipe import QuantSpec

    from .data import load_dataset
    from .run_config import input_encoding

    dataset = load_dataset({"source": "npz", "path": str(path)})
    given = {k: v for k, v in (("input_bits", input_bits), ("label_bits", label_bits)) if v is not None}
    widths = input_encoding(dataset, QuantSpec(frac_bits=frac_bits), given)
    encoding = DatasetEncoding(len(dataset.y_train), dataset.num_features, dataset.num_classes, frac_bits,
                               widths["input_bits"], widths["input_signed"], widths["label_bits"], range_check)
    x = encode_inputs(dataset.x_train, frac_bits)
    y = encode_labels(dataset.y_train, dataset.num_classes, frac_bits)
    return commit_dataset(encoding, x, y, rng)
