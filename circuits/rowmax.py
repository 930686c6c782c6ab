"""Row max by a committed one-hot: the relation, its widths and the witness.

Semantics (nonlinear-gadgets.md section 2): m_i = max_{j < C} z_ij over the C real classes of
row i. The circuit proves it with a committed one-hot e and a committed nonnegative gap D:

    (a) e_ij in {0, 1}                      booleanity zero-check;
    (p) e_ij = 0 for j >= C                  padding is forced (DESIGN section 9);
    (b) sum_j e_ij = 1                       one 1 per row, among the real classes;
    (c) m_i = sum_j e_ij z_ij                m virtual, never committed;
    (d) D_ij = M_j (m_i - z_ij) >= 0         RC_(w_z)(D), M_j = [j < C] the public mask.

(a), (p), (b) make e one-hot on a real class a_i, so (c) gives m_i = z_(i, a_i), and (d) gives
m_i >= z_ij on every real class: m_i is the max. Padded classes have logit 0 (their weight
rows are forced to zero), so they would win an all-negative row: (p) keeps them out of the row
sum and the max, M out of the nonnegativity (D = 0 there, since the caller's padded z is 0).

Width: z in [-2^(w_z - 1), 2^(w_z - 1)) (the caller's bound) gives 0 <= m - z <= 2^(w_z) - 1,
so D has exactly w_z unsigned bits. All integers are below 2^(w_z + 1), so (c) and (d)
holding mod r hold over the integers.

Ties: several j may attain the max; any of them gives the same m, and the softmax consumes
only m (through D), so no tie rule is proven. The witness takes the first index (PyTorch's
argmax rule); a caller that consumes the index itself needs the step vector of section 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bits import BitDecomposition
from .limbs import LimbDecomposition

Decomposition = BitDecomposition | LimbDecomposition


def row_max(z: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(e, m, D) of the relation for int64 logits z [rows, cols] whose first ``classes``
    columns are real: e one-hot at the first maximal real class, m the row max over the real
    classes, D = M (m - z) (zero on the padded classes)."""
    z = np.asarray(z, dtype=np.int64)
    if not 1 <= classes <= z.shape[-1]:
        raise ValueError(f"{classes} real classes for {z.shape[-1]} columns")
    real = z[:, :classes]
    a = real.argmax(axis=1)
    e = np.zeros_like(z)
    e[np.arange(z.shape[0]), a] = 1
    m = real.max(axis=1)
    mask = (np.arange(z.shape[1]) < classes).astype(np.int64)
    return e, m, mask * (m[:, None] - z)


@dataclass(frozen=True)
class RowMax:
    """One row-max gadget over z [2^rows_vars, 2^cols_vars] (cols innermost) of ``classes``
    real columns, z in [-2^(z_bits - 1), 2^(z_bits - 1)); D range-checked by limbs of
    ``limb_bits`` or by bits (``limb_bits`` None). ``logits`` names the caller's z."""

    name: str
    rows_vars: int
    cols_vars: int
    classes: int
    z_bits: int
    limb_bits: int | None = 16
    logits: str = ""

    def __post_init__(self) -> None:
        if not self.logits:
            object.__setattr__(self, "logits", f"{self.name}.z")
        if not 1 <= self.classes <= 1 << self.cols_vars:
            raise ValueError(f"{self.name}: {self.classes} classes for {1 << self.cols_vars} columns")
        if not 1 <= self.z_bits <= 63:
            raise ValueError(f"{self.name}: z_bits must lie in [1, 63], got {self.z_bits}")

    @property
    def num_vars(self) -> int:
        return self.rows_vars + self.cols_vars

    @property
    def e(self) -> str:
        """The committed one-hot [rows, cols]."""
        return f"{self.name}.e"

    @property
    def m(self) -> str:
        """The row max [rows]: virtual, only its evaluations are sent."""
        return f"{self.name}.m"

    @property
    def gap(self) -> str:
        """The committed slots of D = M (m - z) [rows, cols, slot]."""
        return f"{self.name}.D.slots"

    def gap_slots(self) -> Decomposition:
        if self.limb_bits is None:
            return BitDecomposition(self.z_bits, False)
        return LimbDecomposition(self.z_bits, False, 0, self.limb_bits)
