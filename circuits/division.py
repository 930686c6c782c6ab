"""Exact division with rounding: the relation, its widths and its bit accounting.

Semantics (nonlinear-gadgets.md section 1, DESIGN section 10): for a numerator n (signed), a
divisor d >= 1 and a public scale s = 2^shift,

    q = round_half_up(n s / d) = floor((2 n s + d) / (2 d)),

which is q d + r = n s + floor(d/2) with 0 <= r < d. The circuit proves the witness-divisor
form, which needs no floor(d/2) witness (r' = 2 r + (d mod 2)):

    2 q d + r' = 2 s n + d,   RC(r'), RC(2d - 1 - r'), RC(d - 1), RC(q + 2^(w_q - 1)).   (1)

Shapes: n is [rows, cols] (n_ij), d is one divisor per row (d_i, broadcast over j): the
softmax's normalisation p_ij = round(e_ij s / sum_j e_ij). d is either public (a tuple of the
rows' divisors) or committed (its slots, d - 1 in w_d bits).

Widths (``n_bits`` w_n, ``d_bits`` w_d, ``q_bits`` w_q), for every witness the range checks
admit, not only the honest one:

* n in [-2^(w_n - 1), 2^(w_n - 1)): the caller's bound (n is the caller's tensor);
* d in [1, 2^(w_d)]: RC_(w_d)(d - 1), or checked in the clear when public;
* r' in [0, 2d): RC_(w_d + 1)(r') and RC_(w_d + 1)(2d - 1 - r') (strict: rule 0.1);
* q in [-2^(w_q - 1), 2^(w_q - 1)): RC_(w_q)(q + 2^(w_q - 1)), both ends (rule 0.2). It is
  the check that stops the "fraction" q = (2sn + d - r') (2d)^(-1) mod p (rule 0.3). The
  default w_q = w_n + shift is exact for d >= 1 (q = n s at d = 1); a caller that knows
  more (softmax: 0 <= n <= d, so 0 <= q <= s) may declare fewer bits.

Integer lift (DESIGN section 9): the terms of (1) are below 2^(w_q + w_d), 2^(w_d + 1),
2^(w_n + shift), 2^(w_d) in magnitude, so both sides stay below 2^(bound_bits). The int64
witness caps w_n + shift and w_d at 61 and w_q at 63, so bound_bits <= 126 < 250 (DESIGN's
MAX_RELATION_BITS) < log2(r/2): (1) holding mod r holds over the integers, and with
0 <= r' < 2d, d >= 1 its single integer solution is q = floor((2sn + d)/(2d)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bits import BitDecomposition
from .limbs import LimbDecomposition

Decomposition = BitDecomposition | LimbDecomposition
#: Witness generation computes 2 s n + d in int64: s n and d must leave a bit of headroom.
INT64_BITS = 61


def round_div(n: int, d: int, shift: int) -> int:
    """The reference semantics on Python ints: round_half_up(n 2^shift / d), d >= 1."""
    if d < 1:
        raise ValueError(f"divisor must be >= 1, got {d}")
    return (2 * (n << shift) + d) // (2 * d)


def divide(n: np.ndarray, d: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(q, r') of (1) elementwise on int64 arrays (d broadcast against n), floor division
    (numpy's // floors negatives, as the semantics needs). The caller bounds the operands
    (``Division`` does: |2 s n + d| < 2^62)."""
    n, d = np.asarray(n, dtype=np.int64), np.asarray(d, dtype=np.int64)
    if d.size and d.min() < 1:
        raise ValueError(f"divisor must be >= 1, got {d.min()}")
    top = 2 * (n << shift) + d
    q = top // (2 * d)
    return q, top - 2 * q * d


@dataclass(frozen=True)
class Division:
    """One division gadget: q_ij = round_half_up(n_ij 2^shift / d_i) over [2^rows_vars,
    2^cols_vars] (cols innermost), with its widths and how it range-checks (16-bit style limbs
    of ``limb_bits``, or bits when ``limb_bits`` is None).

    ``divisor``: the public divisors (one per padded row), or None for a committed divisor.
    ``numerator``: the name of the caller's tensor n. Padded slots need no mask: with n = 0
    there, q = 0 for any admitted d (padded rows of a public divisor take d = 1).
    """

    name: str
    rows_vars: int
    cols_vars: int
    n_bits: int
    d_bits: int
    shift: int
    q_bits: int | None = None
    divisor: tuple[int, ...] | None = None
    limb_bits: int | None = 16
    numerator: str = ""

    def __post_init__(self) -> None:
        if self.q_bits is None:
            object.__setattr__(self, "q_bits", self.n_bits + self.shift)
        if not self.numerator:
            object.__setattr__(self, "numerator", f"{self.name}.n")
        if min(self.n_bits, self.d_bits, self.q_bits) < 1 or self.shift < 0:
            raise ValueError(f"{self.name}: widths must be >= 1 and the shift >= 0")
        if self.n_bits + self.shift > INT64_BITS or self.d_bits > INT64_BITS or self.q_bits > 63:
            raise ValueError(f"{self.name}: widths beyond the int64 witness "
                             f"(w_n + shift, w_d <= {INT64_BITS}, w_q <= 63)")
        if self.divisor is not None:
            if len(self.divisor) != 1 << self.rows_vars:
                raise ValueError(f"{self.name}: {len(self.divisor)} public divisors for {1 << self.rows_vars} rows")
            if any(not 1 <= d <= 1 << self.d_bits for d in self.divisor):
                raise ValueError(f"{self.name}: a public divisor lies outside [1, 2^{self.d_bits}]")

    # --- the relation's integers -------------------------------------------------------
    def bound_bits(self) -> int:
        """Both sides of (1) are below 2^bound_bits in magnitude, for any admitted witness:
        |2qd| <= 2^(w_q + w_d), r' < 2^(w_d + 1), |2sn| <= 2^(w_n + shift), d <= 2^(w_d)."""
        terms = (1 << (self.q_bits + self.d_bits)) + (1 << (self.d_bits + 1))
        terms += (1 << (self.n_bits + self.shift)) + (1 << self.d_bits)
        return terms.bit_length()

    @property
    def num_vars(self) -> int:
        return self.rows_vars + self.cols_vars

    @property
    def committed_divisor(self) -> bool:
        return self.divisor is None

    # --- tensors -------------------------------------------------------------------------
    # Values (the prover's tables, virtual for the verifier) and their committed slots.
    @property
    def q(self) -> str:
        return f"{self.name}.q"

    @property
    def r(self) -> str:
        return f"{self.name}.r"

    @property
    def d(self) -> str:
        return f"{self.name}.d"

    def slots(self, value: str) -> str:
        """The committed slots tensor of q, r, u = 2d - 1 - r' or d."""
        return f"{self.name}.{value}.slots"

    def _decomposition(self, width: int, signed: bool, offset: int = 0) -> Decomposition:
        if self.limb_bits is None:
            return BitDecomposition(width, signed, offset)
        return LimbDecomposition(width, signed, offset, self.limb_bits)

    def q_slots(self) -> Decomposition:
        """q in [-2^(w_q - 1), 2^(w_q - 1)): two's complement, both ends checked."""
        return self._decomposition(self.q_bits, True)

    def r_slots(self) -> Decomposition:
        """r' in [0, 2^(w_d + 1)); with u's check, r' < 2d."""
        return self._decomposition(self.d_bits + 1, False)

    def u_slots(self) -> Decomposition:
        """u = 2d - 1 - r' in [0, 2^(w_d + 1)): r' <= 2d - 1, strictly below 2d."""
        return self._decomposition(self.d_bits + 1, False)

    def d_slots(self) -> Decomposition:
        """d in [1, 2^(w_d)]: d - 1 in w_d unsigned bits (offset 1)."""
        return self._decomposition(self.d_bits, False, 1)
