"""Fr arithmetic on four 64-bit limbs in Montgomery form, emitted as LLVM IR for numba.

An element x of Fr is held as the residue x R mod r with R = 2^256, in four little-endian
uint64 limbs: a numba ``UniTuple(uint64, 4)`` in registers, one row of a uint64[n, 4]
array in memory. ``add``, ``sub`` and ``mul`` map such tuples to such tuples.

Multiplication is the CIOS method (Koc, Acar and Kaliski, "Analyzing and Comparing
Montgomery Multiplication Algorithms", IEEE Micro 1996) with the "no-carry" shortcut of
gnark-crypto ("Faster big-integer modular multiplication for most moduli", 2020): when the
top limb of r is below (2^64 - 1)/2 - 1, the carry out of each outer iteration fits in the
top limb, so the running sum needs no fifth word. r < 2^255 also keeps a + b < 2^256 for
reduced a and b, so modular addition never carries out of four limbs.

Why intrinsics: numba has no 128-bit integer type, and a 64 x 64 -> 128-bit product split
into 32-bit halves made the multiplication 2.75x slower than one ``mulx`` (measured, see
benchmarks/README.md). Each operation is therefore an ``@intrinsic`` that writes LLVM IR
directly: products on i128 (lowered to ``mulx``), carry chains and comparisons on i256
(lowered to ``adc``/``sbb``/``cmov``, no branch). Being intrinsics, they are emitted inline
into every kernel: no call, and none of numba's IR-level inlining, which made compiling the
kernels four times slower.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from verifier.field import MODULUS

LIMBS = 4
LIMB_BITS = 64
_MASK = (1 << LIMB_BITS) - 1

#: Montgomery radix R = 2^256; an element x is stored as x R mod r.
MONTGOMERY_R = 1 << (LIMBS * LIMB_BITS)
#: R^-1 mod r, to read a Montgomery residue back as a canonical integer.
MONTGOMERY_R_INV = pow(MONTGOMERY_R, -1, MODULUS)


def int_to_limbs(x: int) -> tuple[int, int, int, int]:
    """The four little-endian 64-bit limbs of 0 <= x < 2^256."""
    return tuple((x >> (LIMB_BITS * k)) & _MASK for k in range(LIMBS))


def limbs_to_int(limbs) -> int:
    """Inverse of ``int_to_limbs`` (accepts any sequence of four limbs, e.g. a numpy row)."""
    return sum(int(w) << (LIMB_BITS * k) for k, w in enumerate(limbs))


def to_montgomery_int(x: int) -> int:
    """x R mod r for any Python int x (the Python side of scalars)."""
    return x % MODULUS * MONTGOMERY_R % MODULUS


def from_montgomery_int(limbs) -> int:
    """The canonical integer in [0, r) of a Montgomery residue given as four limbs."""
    return limbs_to_int(limbs) * MONTGOMERY_R_INV % MODULUS


_Q = int_to_limbs(MODULUS)
# The no-carry CIOS condition (gnark-crypto): top limb of r below (2^64 - 1)/2 - 1.
if not _Q[-1] < (_MASK >> 1) - 1:
    raise AssertionError("modulus too large for no-carry Montgomery multiplication")
#: -r^-1 mod 2^64: the CIOS multiplier that zeroes the low limb at each step.
N_PRIME = -pow(MODULUS, -1, 1 << LIMB_BITS) % (1 << LIMB_BITS)


def _limb_tuple(x: int):
    return tuple(np.uint64(w) for w in int_to_limbs(x))


# Constants as numba sees them (global tuples are frozen into the compiled code).
ZERO = _limb_tuple(0)
#: 1 in Montgomery form (R mod r).
ONE = _limb_tuple(MONTGOMERY_R % MODULUS)
#: R^2 mod r: mul(x, R2) = x R, the entry into Montgomery form.
R2 = _limb_tuple(MONTGOMERY_R**2 % MODULUS)
#: The plain integer 1: mul(x R, 1) = x, the exit from Montgomery form.
CANONICAL_ONE = _limb_tuple(1)

#: Limbs of an unreduced sum of residues: n < 2^64 terms below 2^256 stay below 2^320.
WIDE_LIMBS = LIMBS + 1
WIDE_ZERO = tuple(np.uint64(0) for _ in range(WIDE_LIMBS))

_I64 = ir.IntType(64)
_I128 = ir.IntType(128)
_I256 = ir.IntType(256)
_I320 = ir.IntType(64 * WIDE_LIMBS)
_FR = types.UniTuple(types.uint64, LIMBS)
_WIDE = types.UniTuple(types.uint64, WIDE_LIMBS)


def ir_limbs(builder, value):
    """The i64 limbs of a numba UniTuple of uint64 (an LLVM [k x i64] array value)."""
    return [builder.extract_value(value, k) for k in range(value.type.count)]


def ir_pack(builder, limbs, int_type=_I256):
    """i64 limbs -> one wide integer (LLVM keeps it in registers; the shifts vanish)."""
    wide = ir.Constant(int_type, 0)
    for k, limb in enumerate(limbs):
        part = builder.shl(builder.zext(limb, int_type), ir.Constant(int_type, LIMB_BITS * k))
        wide = builder.or_(wide, part)
    return wide


def ir_unpack(context, builder, wide, tuple_type=_FR):
    limbs = [
        builder.trunc(builder.lshr(wide, ir.Constant(wide.type, LIMB_BITS * k)), _I64)
        for k in range(tuple_type.count)
    ]
    return context.make_tuple(builder, tuple_type, limbs)


def _modulus():
    return ir.Constant(_I256, MODULUS)


def _reduce_once(builder, t):
    """t - r if t >= r else t, for t < 2r (a compare and a select: no branch)."""
    return builder.select(builder.icmp_unsigned(">=", t, _modulus()), builder.sub(t, _modulus()), t)


def ir_mul_add2(builder, a, b, c, d):
    """(lo, hi) of a b + c + d; cannot overflow 128 bits: (2^64-1)^2 + 2(2^64-1) < 2^128."""
    a, b, c, d = (builder.zext(x, _I128) for x in (a, b, c, d))
    wide = builder.add(builder.add(builder.mul(a, b), c), d)
    hi = builder.trunc(builder.lshr(wide, ir.Constant(_I128, LIMB_BITS)), _I64)
    return builder.trunc(wide, _I64), hi


def _cios(builder, a, b):
    """No-carry CIOS: returns t = a b R^-1 mod r, up to one subtraction of r (t < 2r).

    Outer iteration i adds a b_i and the multiple m r of r that zeroes the low limb, then
    drops that limb (divides by 2^64). By the no-carry condition, the final carries C + A
    of each iteration fit in the top limb.
    """
    zero = ir.Constant(_I64, 0)
    q = [ir.Constant(_I64, w) for w in _Q]
    n_prime = ir.Constant(_I64, N_PRIME)
    t = [zero] * LIMBS
    for bi in b:
        t[0], A = ir_mul_add2(builder, a[0], bi, t[0], zero)
        m = builder.mul(t[0], n_prime)  # wraps mod 2^64, as the algorithm requires
        _, C = ir_mul_add2(builder, m, q[0], t[0], zero)  # low limb is 0 by choice of m
        for j in range(1, LIMBS):
            t[j], A = ir_mul_add2(builder, a[j], bi, t[j], A)
            t[j - 1], C = ir_mul_add2(builder, m, q[j], t[j], C)
        t[LIMBS - 1] = builder.add(C, A)
    return t


def _binary(emit):
    """An intrinsic (Fr, Fr) -> Fr whose body ``emit(builder, a_limbs, b_limbs)`` is an i256."""

    def typer(typingctx, a, b):
        if a != _FR or b != _FR:
            return None
        sig = _FR(_FR, _FR)

        def codegen(context, builder, signature, args):
            a, b = (ir_limbs(builder, x) for x in args)
            return ir_unpack(context, builder, emit(builder, a, b))

        return sig, codegen

    typer.__name__ = emit.__name__
    typer.__doc__ = emit.__doc__
    return intrinsic(typer)


@_binary
def add(builder, a, b):
    """a + b mod r; a + b < 2r < 2^256, so the i256 sum is exact."""
    return _reduce_once(builder, builder.add(ir_pack(builder, a), ir_pack(builder, b)))


@_binary
def sub(builder, a, b):
    """a - b mod r: the i256 difference, plus r when it borrowed."""
    a, b = ir_pack(builder, a), ir_pack(builder, b)
    diff = builder.sub(a, b)
    return builder.select(builder.icmp_unsigned("<", a, b), builder.add(diff, _modulus()), diff)


@_binary
def mul(builder, a, b):
    """The Montgomery product a b R^-1 mod r: Montgomery forms multiply to Montgomery form."""
    return _reduce_once(builder, ir_pack(builder, _cios(builder, a, b)))


@intrinsic
def accumulate(typingctx, acc, x):
    """acc + x over the integers, acc a 5-limb sum and x a residue: no reduction mod r.

    Reductions add the residues exactly and reduce once at the end (in Python), which
    takes the compare-and-select of a modular addition off the loop's dependency chain.
    """
    if acc != _WIDE or x != _FR:
        return None
    sig = _WIDE(_WIDE, _FR)

    def codegen(context, builder, signature, args):
        acc, x = (ir_pack(builder, ir_limbs(builder, v), _I320) for v in args)
        return ir_unpack(context, builder, builder.add(acc, x), _WIDE)

    return sig, codegen


#: Limbs of an unreduced sum of residues times machine integers: n < 2^64 terms below
#: 2^256 * 2^64 stay below 2^384.
SCALED_LIMBS = LIMBS + 2
SCALED_ZERO = tuple(np.uint64(0) for _ in range(SCALED_LIMBS))
_I384 = ir.IntType(64 * SCALED_LIMBS)
_SCALED = types.UniTuple(types.uint64, SCALED_LIMBS)


@intrinsic
def accumulate_scaled(typingctx, acc, x, k):
    """acc + x k over the integers, acc a 6-limb sum, x a residue, k a uint64: no reduction.

    A residue times a machine integer costs four 64 x 64 products (``mulx``) where embedding
    the integer and multiplying costs two Montgomery products; the sum of residues x_i R
    times integers k_i is R sum x_i k_i, the Montgomery form of the inner product, reduced
    once at the end (in Python, as ``accumulate``'s sums)."""
    if acc != _SCALED or x != _FR or k != types.uint64:
        return None
    sig = _SCALED(_SCALED, _FR, types.uint64)

    def codegen(context, builder, signature, args):
        acc, x, k = args
        zero = ir.Constant(_I64, 0)
        product, carry = [], zero
        for limb in ir_limbs(builder, x):
            low, carry = ir_mul_add2(builder, limb, k, carry, zero)
            product.append(low)
        product.append(carry)
        total = builder.add(ir_pack(builder, ir_limbs(builder, acc), _I384), ir_pack(builder, product, _I384))
        return ir_unpack(context, builder, total, _SCALED)

    return sig, codegen


@njit(inline="always", cache=True)
def load(x, i):
    """Row i of a uint64[n, 4] array as a 4-tuple."""
    return (x[i, 0], x[i, 1], x[i, 2], x[i, 3])


@njit(inline="always", cache=True)
def store(x, i, v):
    x[i, 0] = v[0]
    x[i, 1] = v[1]
    x[i, 2] = v[2]
    x[i, 3] = v[3]


@njit(inline="always", cache=True)
def store_wide(x, i, v):
    """Store a 5-limb sum (``accumulate``) as row i of a uint64[n, 5] array."""
    for k in range(WIDE_LIMBS):
        x[i, k] = v[k]


@njit(inline="always", cache=True)
def to_montgomery(a):
    """x -> x R mod r for canonical limbs x < r."""
    return mul(a, R2)


@njit(inline="always", cache=True)
def from_montgomery(a):
    """x R -> x, the canonical limbs in [0, r)."""
    return mul(a, CANONICAL_ONE)
