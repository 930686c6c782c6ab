"""Public function tables for logUp lookups, generated exactly and pinned by digest.

A function table maps a ``index_bits``-bit index j to an integer output f(j). A looked-up pair
(x, y) of committed tensors is proven to satisfy y = f(x) by one lookup of the folded column
x + gamma y against the rows j + gamma f(j) (Haboeck, eprint 2022/1530, the remark on
multi-column tables after the soundness theorem; ``verifier/logup.py``). The verifier never
receives a table: it regenerates it from its recipe here and evaluates its multilinear
extension itself (:meth:`FunctionTable.mle`).

Tables are generated with exact integer arithmetic (nonlinear-gadgets.md rule 0.7: a libm
difference would flip one rounding and split prover from verifier), and every table a recipe
can name has a SHA-256 pinned in ``PINNED``, checked on generation.

The exp tables (``docs/fixed_point.md``, "exp of a non-positive number"), for an input
d = z0 + 2^16 z1 at scale 2^R:

    E0[a] = round(2^T e^(-a / 2^R)),   E1[b] = round(2^T e^(-b 2^16 / 2^R)),   a, b < 2^16,

rounded half up at output scale 2^T (R_T in the reference). A row is the rounding of
2^T c^k for c = e^(-s): c is computed to P bits by an exact rational Taylor sum, the rows by
k fixed-point products with a tracked error bound, and a row is accepted only if every value
within that bound rounds the same way, so the result is the exact rounding (no value
2^T c^k with k > 0 is a half-integer: e^q is irrational for rational q != 0, Lindemann).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Sequence

#: Index bits of every function table (one 16-bit limb, as the range tables).
INDEX_BITS = 16
#: Guard bits of the fixed-point row recurrence: 2^16 rows lose at most 18 of them.
GUARD_BITS = 160

#: SHA-256 of every table a recipe may name (``FunctionTable.digest``), pinned in code.
PINNED = {
    "exp0.R16.T16": "27aaa3d2e4c9b437aeb0f62dfc7feaf8c786195ab9424ace20f3068f2fcd5010",
    "exp1.R16.T16": "e0986abc240aad2f6a2677b9f93ca789be1b398730c5e8916caf02c7a10f7319",
}


@dataclass(frozen=True, eq=False)
class FunctionTable:
    """j -> outputs[j] for j < 2^index_bits (outputs are Python ints, any sign and size)."""

    name: str
    index_bits: int
    outputs: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.outputs) != 1 << self.index_bits:
            raise ValueError(f"{self.name}: {len(self.outputs)} outputs for {self.index_bits} index bits")

    @cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of the index bits and every output, 32-byte signed little-endian."""
        h = hashlib.sha256(self.index_bits.to_bytes(1, "little"))
        h.update(b"".join(v.to_bytes(32, "little", signed=True) for v in self.outputs))
        return h.hexdigest()

    def mle(self, point: Sequence[int], modulus: int) -> int:
        """f~(point) mod ``modulus``: the multilinear extension of the outputs, variable j the
        index's bit j (little-endian, DESIGN section 9), by 2^index_bits folds."""
        if len(point) != self.index_bits:
            raise ValueError(f"{self.name}: a point of {len(point)} coordinates, expected {self.index_bits}")
        v = [x % modulus for x in self.outputs]
        for r in point:
            v = [(lo + r * (hi - lo)) % modulus for lo, hi in zip(v[0::2], v[1::2])]
        return v[0]


def _exp_neg_fixed_point(s: Fraction, bits: int) -> int:
    """C with |C - 2^bits e^(-s)| < 5/4, for 0 < s <= 1: the Taylor sum of e^(-s) in exact
    rationals, stopped once a term is below 2^(-bits-2) (an alternating series of decreasing
    terms errs by less than its first omitted term), then floored."""
    if not 0 < s <= 1:
        raise ValueError(f"exp step must lie in (0, 1], got {s}")
    total, term, k = Fraction(0), Fraction(1), 0
    while term >= Fraction(1, 1 << (bits + 2)):
        total += term if k % 2 == 0 else -term
        k += 1
        term = term * s / k
    return (total.numerator << bits) // total.denominator


def _round_half_up(v: int, err: int, out_bits: int, p: int) -> int:
    """round(2^out_bits x) for the real x = v' / 2^p, known only as |v' - v| <= err; raises
    when the interval straddles a rounding boundary (never at GUARD_BITS, but then exact)."""
    lo = (((v - err) << out_bits) + (1 << (p - 1))) >> p
    hi = (((v + err) << out_bits) + (1 << (p - 1))) >> p
    if lo != hi:
        raise ArithmeticError("exp table row within the error bound of a rounding boundary")
    return lo


def exp_rows(step: Fraction, out_bits: int, n: int = 1 << INDEX_BITS) -> tuple[int, ...]:
    """round(2^out_bits e^(-k step)) for k < n, exactly (module docstring)."""
    p = GUARD_BITS + out_bits
    c = _exp_neg_fixed_point(step, p)
    v, err, rows = 1 << p, 0, []
    for _ in range(n):
        rows.append(_round_half_up(v, err, out_bits, p))
        # v' = floor(v c / 2^p): |c - 2^p e^-s| < 5/4 adds < 5/4 v / 2^p <= 5/4, the floor
        # < 1, and the old error shrinks by a factor c / 2^p < 1.
        v, err = (v * c) >> p, err + 3
    return tuple(rows)


def _checked(table: FunctionTable) -> FunctionTable:
    pinned = PINNED.get(table.name)
    if pinned is not None and table.digest != pinned:
        raise ArithmeticError(f"table {table.name}: digest {table.digest} differs from the pinned {pinned}")
    return table


@lru_cache(maxsize=8)
def exp_tables(frac_bits: int, out_bits: int) -> tuple[FunctionTable, FunctionTable]:
    """(E0, E1) for an input d = z0 + 2^16 z1 at scale 2^frac_bits, outputs at 2^out_bits:
    E0 steps e^(-1/2^R) over the low limb, E1 e^(-2^16/2^R) over the high limb."""
    if not INDEX_BITS <= frac_bits <= 2 * INDEX_BITS or out_bits < 1:
        raise ValueError(f"exp tables need 16 <= R <= 32 and R_T >= 1, got R = {frac_bits}, R_T = {out_bits}")
    tag = f"R{frac_bits}.T{out_bits}"
    e0 = FunctionTable(f"exp0.{tag}", INDEX_BITS, exp_rows(Fraction(1, 1 << frac_bits), out_bits))
    e1 = FunctionTable(f"exp1.{tag}", INDEX_BITS, exp_rows(Fraction(1 << INDEX_BITS, 1 << frac_bits), out_bits))
    return _checked(e0), _checked(e1)
