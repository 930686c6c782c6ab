"""Row max by a committed one-hot, prover side: the witness of ``circuits/rowmax.py``
(specification: ``verifier/rowmax.py``, which the prover runs over its own channel).

The witness holds the committed one-hot e and slots of D = M (m - z), and the row max m, whose
evaluations the prover sends (m itself is virtual). A logit outside its declared width is a
hard error (D's decomposition raises).
"""

from __future__ import annotations

import numpy as np

from circuits.rowmax import RowMax, row_max


def rowmax_witness(c: RowMax, z: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor the gadget reads, by name, for logits ``z`` [rows, cols] (int64), whose
    padded classes (columns >= classes) must be 0."""
    z = np.asarray(z, dtype=np.int64)
    if z.shape != (1 << c.rows_vars, 1 << c.cols_vars):
        raise ValueError(f"{c.name}: logits of shape {z.shape}")
    if z[:, c.classes :].any():
        raise ValueError(f"{c.name}: a padded class has a nonzero logit")
    if z.size and not -(1 << (c.z_bits - 1)) <= z.min() <= z.max() < 1 << (c.z_bits - 1):
        raise ValueError(f"{c.name}: a logit lies outside {c.z_bits} signed bits")
    e, m, gap = row_max(z, c.classes)
    return {c.logits: z, c.e: e, c.m: m, c.gap: c.gap_slots().decompose(gap, f"{c.name}: m - z")}
