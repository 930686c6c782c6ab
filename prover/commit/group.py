"""The prover's G1 arithmetic through py-arkworks-bls12381, and scalars built from bytes.

arkworks' MSM sizes its windows by the largest scalar's bit length, so small unsigned
scalars (16-bit quantized values after the offset trick) make an MSM several times cheaper
than full 255-bit ones (DESIGN section 3, measured table). Two consequences shape this module:

* small scalars are built from numpy bytes in bulk (``Scalar.from_le_bytes`` on 32-byte
  slices of one buffer), never one Python int at a time;
* a single full-size scalar in an MSM makes every scalar full-size, so blinding terms
  (r h) are never folded into a small-scalar MSM: they are added separately.

``Scalar(int)`` parses a decimal string (about 8 us); ``from_le_bytes`` takes 0.4 us, so
Python ints go through their 32-byte encoding.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import py_arkworks_bls12381 as ark

from verifier.field import MODULUS as R

G1 = ark.G1Point
Scalar = ark.Scalar


def scalar(x: int) -> Scalar:
    """An arkworks scalar from any Python int (taken mod r)."""
    return Scalar.from_le_bytes((x % R).to_bytes(32, "little"))


def scalars(xs: Sequence[int]) -> list[Scalar]:
    return [Scalar.from_le_bytes((x % R).to_bytes(32, "little")) for x in xs]


def scalars_from_uint64(values: np.ndarray) -> list[Scalar]:
    """Scalars for unsigned 64-bit values, built from one little-endian byte buffer."""
    flat = np.ascontiguousarray(values, dtype="<u8").reshape(-1)
    padded = np.zeros((flat.size, 32), dtype=np.uint8)
    padded[:, :8] = flat.view(np.uint8).reshape(-1, 8)
    buf = padded.tobytes()
    return [Scalar.from_le_bytes(buf[i : i + 32]) for i in range(0, len(buf), 32)]


def msm(points: Sequence[G1], coeffs: Sequence[int]) -> G1:
    """sum_i coeffs[i] points[i] for arbitrary Python-int coefficients."""
    if len(points) != len(coeffs):
        raise ValueError(f"msm: {len(points)} points but {len(coeffs)} scalars")
    if not points:
        return G1.identity()
    return G1.multiexp_unchecked(list(points), scalars(coeffs))


def mul(point: G1, k: int) -> G1:
    return point * scalar(k)


def to_bytes(point: G1) -> bytes:
    return bytes(point.to_compressed_bytes())


def from_bytes(data: bytes) -> G1:
    """A point the prover produced itself (or the verifier derived): no subgroup check needed."""
    return G1.from_compressed_bytes_unchecked(bytes(data))


class FixedBase:
    """k * P for many k and one fixed P by a byte-wise table (a fixed-base comb).

    table[w][d] = d 2^(8w) P for d in 1..255 and the 32 bytes w of a scalar: 8160 additions
    once, then at most 32 additions per product, several times faster than ``P * Scalar``
    (a generic variable-base multiplication). Used for the per-row blinding terms r_i h.
    """

    def __init__(self, point: G1):
        self._table: list[list[G1]] = []
        base = point
        for _ in range(32):
            row = [base]
            for _ in range(254):
                row.append(row[-1] + base)
            self._table.append(row)
            base = row[-1] + base  # 256 * base
        self._identity = G1.identity()

    def mul(self, k: int) -> G1:
        acc = None
        for w, byte in enumerate((k % R).to_bytes(32, "little")):
            if byte:
                term = self._table[w][byte - 1]
                acc = term if acc is None else acc + term
        return self._identity if acc is None else acc
