"""Exact combinations of small-integer rows with field weights: t = L^T M mod r.

A Hyrax opening needs the combined row t_j = sum_i L_i M_ij, where L is an eq-table (full
255-bit field elements) and M holds small signed integers. Python ints would cost one big
multiplication per entry; instead both sides are cut into 16-bit limbs, and every limb
product sum is one float64 matrix product (BLAS), exact because every partial sum stays
below 2^53: a limb product is below 2^32 and at most 2^20 rows are summed at a time.
The limb sums are recombined with Python ints once per column.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from verifier.field import MODULUS as R

LIMB_BITS = 16
_FIELD_LIMBS = 16  # 16 x 16 = 256 bits cover r
_ROW_CHUNK = 1 << 20  # 2^32 * 2^20 < 2^53: float64 sums of limb products stay exact


def _field_limbs(weights: Sequence[int]) -> np.ndarray:
    """(16, n) float64 array: limb l of weight i is bits [16 l, 16 l + 16) of weights[i] mod r."""
    raw = b"".join((w % R).to_bytes(32, "little") for w in weights)
    limbs = np.frombuffer(raw, dtype="<u2").reshape(len(weights), _FIELD_LIMBS)
    return limbs.T.astype(np.float64)


def _int_limbs(values: np.ndarray, bits: int) -> list[np.ndarray]:
    """Signed int64 values of |v| < 2^(bits-1) as limbs v = sum_l 2^(16 l) v_l: all limbs in
    [0, 2^16) except the top one, which carries the sign (arithmetic shift)."""
    limbs, rest = [], values
    for _ in range(max(1, -(-bits // LIMB_BITS)) - 1):
        limbs.append((rest & 0xFFFF).astype(np.float64))
        rest = rest >> LIMB_BITS
    limbs.append(rest.astype(np.float64))
    return limbs


def combine_rows(weights: Sequence[int], matrix: np.ndarray, bits: int) -> list[int]:
    """t_j = sum_i weights[i] * matrix[i, j] mod r, exactly, for int64 entries of ``bits`` bits."""
    if matrix.ndim != 2 or matrix.shape[0] != len(weights):
        raise ValueError(f"combine_rows: {len(weights)} weights for a matrix of shape {matrix.shape}")
    if not 1 <= bits <= 63:
        raise ValueError(f"combine_rows: bits must lie in [1, 63], got {bits}")
    num_cols = matrix.shape[1]
    num_value_limbs = max(1, -(-bits // LIMB_BITS))
    # sums[s][j] = sum over limb pairs (a, l) with a + l = s of sum_i W_a[i] M_l[i, j].
    sums = np.zeros((_FIELD_LIMBS + num_value_limbs - 1, num_cols), dtype=object)
    for start in range(0, len(weights), _ROW_CHUNK):
        stop = min(start + _ROW_CHUNK, len(weights))
        w_limbs = _field_limbs(weights[start:stop])
        m_limbs = _int_limbs(np.asarray(matrix[start:stop], dtype=np.int64), bits)
        for l, m in enumerate(m_limbs):
            partial = (w_limbs @ m).astype(np.int64)  # (16, cols), each entry exact
            for a in range(_FIELD_LIMBS):
                sums[a + l] += partial[a].astype(object)
    out = []
    for j in range(num_cols):
        total = 0
        for s in range(sums.shape[0] - 1, -1, -1):
            total = (total << LIMB_BITS) + int(sums[s, j])
        out.append(total % R)
    return out
