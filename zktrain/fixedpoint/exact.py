"""Exact integer matrix products whose results overflow int64 (DESIGN section 6).

A pre-activation Z = A W^T of the zkDL shape reaches about 2^100 (32-bit activations, 56-bit
master weights, 3072 terms). numpy has no fast exact integer matmul that wide, so we split
both operands into balanced limbs, multiply limb pairs with float64 BLAS, and recombine:

    a = sum_i a_i 2^(c_a i),  b = sum_j b_j 2^(c_b j),  a_i, b_j in [-2^(c-1), 2^(c-1)]
    a @ b = sum_{i,j} (a_i @ b_j) 2^(c_a i + c_b j)

Each limb product is exact in float64 when n max|a_i| max|b_j| <= 2^53 (n the inner
dimension): every partial sum BLAS forms, in any order and with or without FMA, is then an
integer of at most 53 bits. The limb widths are chosen from the operands' actual magnitudes,
so typical data needs two or three limb products, adversarial data more.

The sum of the shifted partial products never materializes as one integer: it is reduced
straight to (floor((Z + offset) / 2^s), (Z + offset) mod 2^s) with int64 carries, which is the
rescale's (quotient, remainder) when offset = 2^(s-1), or a (hi, lo) pair of a :class:`Wide`.
Python object arrays appear only in the tests, as the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: float64 represents every integer of magnitude <= 2^53 exactly.
MANTISSA_LIMIT = 1 << 53
#: Operands must satisfy |x| < 2^62, so that balanced limb extraction cannot overflow.
OPERAND_LIMIT = 1 << 62
_MAX_LIMBS = 16


@dataclass(frozen=True)
class Term:
    """The integer matrix ``value * 2^shift``; ``bound`` >= max|value| (a Python int)."""

    value: np.ndarray
    shift: int
    bound: int


@dataclass(frozen=True)
class Wide:
    """Integers beyond int64 as hi 2^lo_bits + lo, with lo in [0, 2^lo_bits) and hi int64."""

    hi: np.ndarray
    lo: np.ndarray
    lo_bits: int

    @classmethod
    def of(cls, x: np.ndarray, lo_bits: int = 32) -> Wide:
        """The int64 array ``x`` split at bit ``lo_bits``."""
        return cls(x >> lo_bits, x & ((1 << lo_bits) - 1), lo_bits)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.hi.shape

    def to_object(self) -> np.ndarray:
        """The exact values as Python ints (an object array): for tests and reference code."""
        return self.hi.astype(object) * (1 << self.lo_bits) + self.lo.astype(object)

    def magnitude_below(self, limit: int) -> bool:
        """Whether every |value| < limit, with a fast path on the high words alone."""
        # value in [hi 2^lo_bits, (hi + 1) 2^lo_bits), so |value| <= (|hi| + 1) 2^lo_bits.
        if (max_abs(self.hi) + 1) << self.lo_bits <= limit:
            return True
        return bool(self.fits(1 - limit, limit - 1).all())

    def fits(self, lo: int, hi: int) -> np.ndarray:
        """Elementwise lo <= value <= hi, computed exactly on the (hi, lo) pairs."""
        return _at_least(self, lo) & ~_at_least(self, hi + 1)

    def to_int64(self) -> np.ndarray:
        """The values as int64; raises OverflowError unless every |value| < 2^62."""
        if not self.magnitude_below(OPERAND_LIMIT):
            raise OverflowError("wide values exceed int64 headroom (|value| >= 2^62)")
        return (self.hi << self.lo_bits) + self.lo


def _at_least(x: Wide, t: int) -> np.ndarray:
    """x >= t elementwise: (hi, lo) compared lexicographically with t's own (hi, lo)."""
    t_hi, t_lo = t >> x.lo_bits, t & ((1 << x.lo_bits) - 1)
    if not -(1 << 63) <= t_hi < 1 << 63:
        return np.full(x.shape, t_hi < 0)
    return (x.hi > t_hi) | ((x.hi == t_hi) & (x.lo >= t_lo))


def max_abs(x: np.ndarray) -> int:
    """max |x| as a Python int (no int64 overflow at -2^63); 0 for an empty array."""
    if x.size == 0:
        return 0
    return max(int(x.max()), -int(x.min()))


def balanced_limbs(x: np.ndarray, width: int, count: int) -> list[np.ndarray]:
    """Digits x_i in [-2^(width-1), 2^(width-1)) with x = sum_i x_i 2^(width i), low first.

    Requires |x| < 2^(width count - 1); then by induction every residual after i digits is at
    most 2^(width (count - i) - 1), so the last digit (the residual itself) also has magnitude
    at most 2^(width-1).
    """
    if count == 1:
        return [x]
    half, mask = 1 << (width - 1), (1 << width) - 1
    digits, rest = [], x
    for _ in range(count - 1):
        digit = ((rest + half) & mask) - half
        digits.append(digit)
        rest = (rest - digit) >> width
    digits.append(rest)
    return digits


@dataclass(frozen=True)
class LimbPlan:
    """How to split each operand: (limb width, limb count, bound on a limb's magnitude)."""

    a_width: int
    a_count: int
    a_bound: int
    b_width: int
    b_count: int
    b_bound: int


def _split(bound: int, count: int) -> tuple[int, int]:
    """(limb width, limb magnitude bound) for ``count`` balanced limbs of values <= bound."""
    if count == 1:
        return bound.bit_length(), bound
    width = -(-(bound.bit_length() + 1) // count)  # count * width >= bits + 1
    return width, 1 << (width - 1)


def plan_limbs(a_bound: int, b_bound: int, inner: int) -> LimbPlan:
    """The split with the fewest limb products such that inner a_limb b_limb <= 2^53.

    Ties go to fewer limbs in total (fewer conversions). Both bounds are max magnitudes.
    """
    best: tuple[tuple[int, int], LimbPlan] | None = None
    for a_count in range(1, _MAX_LIMBS + 1):
        a_width, a_limb = _split(a_bound, a_count)
        for b_count in range(1, _MAX_LIMBS + 1):
            b_width, b_limb = _split(b_bound, b_count)
            if inner * a_limb * b_limb <= MANTISSA_LIMIT:
                cost = (a_count * b_count, a_count + b_count)
                if best is None or cost < best[0]:
                    best = (cost, LimbPlan(a_width, a_count, a_limb, b_width, b_count, b_limb))
                break  # more b limbs only cost more for this a_count
    if best is None:
        raise OverflowError(f"no limb split keeps {inner}-term sums below 2^53")
    return best[1]


def limb_products(a: np.ndarray, b: np.ndarray, what: str = "matmul") -> list[Term]:
    """``a @ b`` for int64 matrices as exact terms sum_p value_p 2^shift_p (value_p int64).

    ``b`` may be a transposed view; BLAS reads it without a copy.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"{what}: shapes {a.shape} and {b.shape} do not multiply")
    a_bound, b_bound, inner = max_abs(a), max_abs(b), a.shape[1]
    for name, bound in (("left", a_bound), ("right", b_bound)):
        if bound >= OPERAND_LIMIT:
            raise OverflowError(f"{what}: {name} operand reaches 2^{bound.bit_length() - 1} (limit 2^62)")
    if a_bound == 0 or b_bound == 0 or inner == 0:
        return []
    plan = plan_limbs(a_bound, b_bound, inner)
    a_limbs = [limb.astype(np.float64) for limb in balanced_limbs(a, plan.a_width, plan.a_count)]
    b_limbs = [limb.astype(np.float64) for limb in balanced_limbs(b, plan.b_width, plan.b_count)]
    terms = []
    for i, a_limb in enumerate(a_limbs):
        for j, b_limb in enumerate(b_limbs):
            product = (a_limb @ b_limb).astype(np.int64)  # exact: see the module docstring
            terms.append(Term(product, plan.a_width * i + plan.b_width * j, inner * plan.a_bound * plan.b_bound))
    return terms


def shifted_floor_divmod(
    terms: list[Term], shape: tuple[int, ...], shift: int, offset: int = 0, what: str = "sum"
) -> tuple[np.ndarray, np.ndarray]:
    """(floor(V / 2^shift), V mod 2^shift) for V = offset + sum_p value_p 2^shift_p, in int64.

    A term at or above the shift goes to the quotient whole; one below is split as
    value = H 2^(shift - s) + L with L in [0, 2^(shift - s)), whose H joins the quotient and
    whose L 2^s (< 2^shift) joins a nonnegative low accumulator. Raises OverflowError if the
    terms' bounds do not guarantee that the quotient fits int64.
    """
    low_terms = sum(1 for t in terms if t.shift < shift)
    if not 0 <= offset < 1 << shift or (low_terms + 1) << shift >= 1 << 63:
        raise OverflowError(f"{what}: {low_terms} low terms at shift {shift} overflow the int64 accumulator")
    # The low accumulator carries at most low_terms into the quotient.
    quotient_bound = low_terms + sum(
        t.bound << (t.shift - shift) if t.shift >= shift else (t.bound >> (shift - t.shift)) + 1 for t in terms
    )
    if quotient_bound >= 1 << 62:
        reach = quotient_bound.bit_length() - 1 + shift
        raise OverflowError(f"{what}: values may reach 2^{reach}, beyond int64 after /2^{shift}")
    hi = np.zeros(shape, dtype=np.int64)
    lo = np.full(shape, offset, dtype=np.int64)
    for t in terms:
        if t.shift >= shift:
            hi += t.value << (t.shift - shift)
        else:
            gap = shift - t.shift
            hi += t.value >> gap  # arithmetic shift: floor
            lo += (t.value & ((1 << gap) - 1)) << t.shift
    hi += lo >> shift
    return hi, lo & ((1 << shift) - 1)


def matmul_rescale(
    a: np.ndarray, b: np.ndarray, shift: int, extra: tuple[Term, ...] = (), what: str = "matmul"
) -> tuple[np.ndarray, np.ndarray]:
    """Rescaled exact product: (q, r) with Z = a @ b + sum(extra), q = floor((Z + 2^(s-1)) / 2^s)
    and r = Z - 2^s q in [-2^(s-1), 2^(s-1)) (``circuits.semantics.rescale``), Z never formed."""
    shape = (a.shape[0], b.shape[1])
    terms = limb_products(a, b, what) + list(extra)
    half = 1 << (shift - 1)
    q, low = shifted_floor_divmod(terms, shape, shift, offset=half, what=what)
    return q, low - half


def matmul_wide(a: np.ndarray, b: np.ndarray, lo_bits: int = 32, what: str = "matmul") -> Wide:
    """Exact ``a @ b`` as a :class:`Wide` (hi, lo) pair."""
    shape = (a.shape[0], b.shape[1])
    hi, lo = shifted_floor_divmod(limb_products(a, b, what), shape, lo_bits, what=what)
    return Wide(hi, lo, lo_bits)
