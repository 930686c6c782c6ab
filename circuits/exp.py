"""exp(-d) for d >= 0 in fixed point, from two limb tables (nonlinear-gadgets.md section 3).

The relation (semantics in ``docs/fixed_point.md``, "exp of a non-positive number"): an input
d in [0, 2^32) at scale 2^R is written d = z0 + 2^16 z1 with 16-bit limbs, and

    P = E0[z0] E1[z1]                          (exact, at scale 2^(2T))
    Y = rescale_k(P) = floor((P + 2^(k-1)) / 2^k),  k = 2T - R   (at scale 2^R)

with the tables of ``circuits.tables.exp_tables`` (E0[a] = round(2^T e^(-a/2^R)),
E1[b] = round(2^T e^(-b 2^16/2^R)), T = R_T). E1 is exactly 0 from ``underflow_limb`` on, so
P = Y = 0 for every d >= 2^16 underflow_limb: the saturation is a table row, never a value
"not in the table". The width of d is the tables' domain: a d outside [0, 2^32) has no limbs
and is a hard error here (and unprovable).

What is proven: (z0, E0[z0]) and (z1, E1[z1]) are rows of their tables (two function lookups,
which also range-check the limbs), P is virtual (a Hadamard product of the two looked-up
outputs), and P = 2^k Y + Rem with Rem in [-2^(k-1), 2^(k-1)) and Y in [0, 2^(R+1)), both
range-checked by limbs (``verifier/exp.py``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .limbs import LIMB_BITS, LimbDecomposition
from .semantics import rescale
from .tables import exp_tables

#: d < 2^INPUT_BITS: two 16-bit limbs, each a table index.
INPUT_BITS = 2 * LIMB_BITS
#: R_T: the tables' output scale. 2^16 keeps P <= 2^32 and a softmax row sum of up to 2^16
#: terms below 2^48, in int64 and in three limbs (docs/fixed_point.md).
TABLE_BITS = 16


def check_params(frac_bits: int, table_bits: int) -> int:
    """k = 2T - R, the rescale shift; P <= 2^(2T) must fit int64."""
    k = 2 * table_bits - frac_bits
    if not 1 <= k or 2 * table_bits > 62:
        raise ValueError(f"exp needs 1 <= 2 R_T - R and 2 R_T <= 62, got R = {frac_bits}, R_T = {table_bits}")
    return k


def split(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z0, z1) with d = z0 + 2^16 z1, as int64; ValueError outside [0, 2^32)."""
    d = np.asarray(d, dtype=np.int64)
    if d.size and (d.min() < 0 or d.max() >= 1 << INPUT_BITS):
        raise ValueError(f"exp input outside [0, 2^{INPUT_BITS})")
    return d & ((1 << LIMB_BITS) - 1), d >> LIMB_BITS


def table_outputs(d: np.ndarray, frac_bits: int = 16, table_bits: int = TABLE_BITS) -> tuple[np.ndarray, np.ndarray]:
    """(E0[z0], E1[z1]) as int64: the looked-up outputs."""
    z0, z1 = split(d)
    e0, e1 = exp_tables(frac_bits, table_bits)
    return np.asarray(e0.outputs, dtype=np.int64)[z0], np.asarray(e1.outputs, dtype=np.int64)[z1]


def exp_neg_product(d: np.ndarray, frac_bits: int = 16, table_bits: int = TABLE_BITS) -> np.ndarray:
    """P = E0[z0] E1[z1], e^(-d/2^R) at scale 2^(2 R_T), exact (int64)."""
    check_params(frac_bits, table_bits)
    a, b = table_outputs(d, frac_bits, table_bits)
    return a * b


def exp_neg_fixed(d: np.ndarray, frac_bits: int = 16, table_bits: int = TABLE_BITS) -> np.ndarray:
    """Y = rescale_(2T-R)(P): e^(-d/2^R) at scale 2^R (int64), 0 past the underflow bound."""
    y, _ = rescale(exp_neg_product(d, frac_bits, table_bits), check_params(frac_bits, table_bits))
    return y


def underflow_limb(frac_bits: int = 16, table_bits: int = TABLE_BITS) -> int:
    """The least b with E1[b] = 0 (E1 is nonincreasing, so 0 from there on)."""
    return exp_tables(frac_bits, table_bits)[1].outputs.index(0)


def product_error_bound(table_bits: int = TABLE_BITS) -> Fraction:
    """|P / 2^(2T) - e^(-d/2^R)| <= 2^-T (1 + 2^(-T-2)) for every d < 2^32 (each row within
    1/2 of 2^T times its factor e0, e1 <= 1: (e0 + e1) 2^(-T-1) + 2^(-2T-2))."""
    return Fraction(1, 1 << table_bits) * (1 + Fraction(1, 1 << (table_bits + 2)))


def error_bound(frac_bits: int = 16, table_bits: int = TABLE_BITS) -> Fraction:
    """|Y / 2^R - e^(-d/2^R)| <= 2^(-R-1) (the rescale) + ``product_error_bound``."""
    return Fraction(1, 1 << (frac_bits + 1)) + product_error_bound(table_bits)


def output_decomposition(frac_bits: int = 16) -> LimbDecomposition:
    """Y in [0, 2^(R+1)): Y <= 2^R, with Y = 2^R at d = 0 only."""
    return LimbDecomposition(frac_bits + 1, False)


def remainder_decomposition(frac_bits: int = 16, table_bits: int = TABLE_BITS) -> LimbDecomposition:
    """Rem = P - 2^k Y in [-2^(k-1), 2^(k-1)) (DESIGN section 4's rescale remainder)."""
    k = check_params(frac_bits, table_bits)
    return LimbDecomposition(k, False, -(1 << (k - 1)))
