"""Fr arithmetic on four 64-bit limbs in Montgomery form: numba scalar helpers.

An element x of Fr is held as the residue x R mod r with R = 2^256, in four little-endian
uint64 limbs (a numba ``UniTuple(uint64, 4)`` in registers, one row of a uint64[n, 4]
array in memory). Multiplication is the CIOS method of Koc, Acar and Kaliski, "Analyzing
and Comparing Montgomery Multiplication Algorithms" (IEEE Micro 1996), with the "no-carry"
shortcut of gnark-crypto (Ethereum Foundation / ConsenSys, "Faster big-integer modular
multiplication for most moduli", 2020): when the top limb of r is below (2^64 - 1)/2 - 1,
the carry out of each outer iteration fits in the top limb and needs no fifth word.
r < 2^255 also means a + b < 2^256 for reduced a, b, so modular addition never carries out
of four limbs.

numba has no 128-bit integer type; the 64 x 64 -> 128 products and the carry chains are
written as LLVM intrinsics on i128, which LLVM lowers to single ``mulx``/``mul`` and
``adc``/``sbb`` instructions (about 3x faster than a 32-bit split, measured in
benchmarks/README.md).

Every helper is ``inline="always"``: the vector kernels in ``kernels.py`` inline them, and
their numba cache is keyed on this file too (see ``kernels._KernelCache``).
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
    """x R mod r for any Python int x (Python-side, for scalars)."""
    return x % MODULUS * MONTGOMERY_R % MODULUS


def from_montgomery_int(limbs) -> int:
    """The canonical integer in [0, r) of a Montgomery residue given as four limbs."""
    return limbs_to_int(limbs) * MONTGOMERY_R_INV % MODULUS


_Q = int_to_limbs(MODULUS)
# The no-carry CIOS condition (gnark-crypto): top limb of r below (2^64 - 1)/2 - 1.
assert _Q[3] < (_MASK >> 1) - 1, "modulus too large for no-carry Montgomery multiplication"

Q0, Q1, Q2, Q3 = (np.uint64(w) for w in _Q)
#: -r^-1 mod 2^64: the CIOS multiplier that zeroes the low limb at each step.
N_PRIME = np.uint64(-pow(MODULUS, -1, 1 << LIMB_BITS) % (1 << LIMB_BITS))
# R^2 mod r: mont_mul(x, R^2) = x R, the entry into Montgomery form.
R2_0, R2_1, R2_2, R2_3 = (np.uint64(w) for w in int_to_limbs(MONTGOMERY_R**2 % MODULUS))
# 1 in Montgomery form (R mod r), the neutral element of mont_mul.
ONE_0, ONE_1, ONE_2, ONE_3 = (np.uint64(w) for w in int_to_limbs(MONTGOMERY_R % MODULUS))
_Z = np.uint64(0)
_U1 = np.uint64(1)

_I64 = ir.IntType(64)
_I128 = ir.IntType(128)
_PAIR = types.UniTuple(types.uint64, 2)


def _lo_hi(builder, wide, hi_shift):
    lo = builder.trunc(wide, _I64)
    hi = builder.trunc(builder.lshr(wide, ir.Constant(_I128, hi_shift)), _I64)
    return lo, hi


@intrinsic
def mul_add2(typingctx, a, b, c, d):
    """(lo, hi) of a b + c + d, computed in i128 (it cannot overflow: (2^64-1)^2 + 2(2^64-1) < 2^128)."""
    sig = _PAIR(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        a, b, c, d = (builder.zext(x, _I128) for x in args)
        wide = builder.add(builder.add(builder.mul(a, b), c), d)
        return context.make_tuple(builder, signature.return_type, _lo_hi(builder, wide, 64))

    return sig, codegen


@intrinsic
def add_carry(typingctx, a, b, carry):
    """(sum, carry out) of a + b + carry with carry in {0, 1}."""
    sig = _PAIR(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        a, b, c = (builder.zext(x, _I128) for x in args)
        wide = builder.add(builder.add(a, b), c)
        return context.make_tuple(builder, signature.return_type, _lo_hi(builder, wide, 64))

    return sig, codegen


@intrinsic
def sub_borrow(typingctx, a, b, borrow):
    """(difference, borrow out) of a - b - borrow with borrow in {0, 1}."""
    sig = _PAIR(types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        a, b, c = (builder.zext(x, _I128) for x in args)
        wide = builder.sub(builder.sub(a, b), c)
        # A negative i128 difference has its sign bit set: that bit is the borrow.
        return context.make_tuple(builder, signature.return_type, _lo_hi(builder, wide, 127))

    return sig, codegen


@njit(cache=True)
def load(x, i):
    """Row i of a uint64[n, 4] array as a 4-tuple."""
    return (x[i, 0], x[i, 1], x[i, 2], x[i, 3])


@njit(cache=True)
def store(x, i, v):
    x[i, 0] = v[0]
    x[i, 1] = v[1]
    x[i, 2] = v[2]
    x[i, 3] = v[3]


@njit(cache=True)
def zero():
    return (_Z, _Z, _Z, _Z)


@njit(cache=True)
def one():
    """1 in Montgomery form."""
    return (ONE_0, ONE_1, ONE_2, ONE_3)


@njit(cache=True)
def _reduce_once(t0, t1, t2, t3):
    """t - r if t >= r else t, for t < 2r."""
    d0, b = sub_borrow(t0, Q0, _Z)
    d1, b = sub_borrow(t1, Q1, b)
    d2, b = sub_borrow(t2, Q2, b)
    d3, b = sub_borrow(t3, Q3, b)
    if b:
        return (t0, t1, t2, t3)
    return (d0, d1, d2, d3)


@njit(cache=True)
def add(a, b):
    """a + b mod r. No carry leaves the top limb since a + b < 2r < 2^256."""
    s0, c = add_carry(a[0], b[0], _Z)
    s1, c = add_carry(a[1], b[1], c)
    s2, c = add_carry(a[2], b[2], c)
    s3, c = add_carry(a[3], b[3], c)
    return _reduce_once(s0, s1, s2, s3)


@njit(cache=True)
def sub(a, b):
    """a - b mod r: subtract, and add r back on a borrow."""
    d0, w = sub_borrow(a[0], b[0], _Z)
    d1, w = sub_borrow(a[1], b[1], w)
    d2, w = sub_borrow(a[2], b[2], w)
    d3, w = sub_borrow(a[3], b[3], w)
    if w:
        d0, c = add_carry(d0, Q0, _Z)
        d1, c = add_carry(d1, Q1, c)
        d2, c = add_carry(d2, Q2, c)
        d3, c = add_carry(d3, Q3, c)
    return (d0, d1, d2, d3)


@njit(cache=True)
def _cios_step(t0, t1, t2, t3, a, bi):
    """One outer iteration of no-carry CIOS: t <- (t + a bi + m r) / 2^64.

    The multiple m of r makes the low limb vanish, so the division is a shift by one limb;
    C + A fits in the top limb by the no-carry condition on r.
    """
    t0, A = mul_add2(a[0], bi, t0, _Z)
    m = t0 * N_PRIME  # wraps mod 2^64, as the algorithm requires
    _, C = mul_add2(m, Q0, t0, _Z)
    t1, A = mul_add2(a[1], bi, t1, A)
    t0, C = mul_add2(m, Q1, t1, C)
    t2, A = mul_add2(a[2], bi, t2, A)
    t1, C = mul_add2(m, Q2, t2, C)
    t3, A = mul_add2(a[3], bi, t3, A)
    t2, C = mul_add2(m, Q3, t3, C)
    return t0, t1, t2, C + A


@njit(cache=True)
def mul(a, b):
    """Montgomery product a b R^-1 mod r (so Montgomery forms multiply to Montgomery form)."""
    t0, t1, t2, t3 = _cios_step(_Z, _Z, _Z, _Z, a, b[0])
    t0, t1, t2, t3 = _cios_step(t0, t1, t2, t3, a, b[1])
    t0, t1, t2, t3 = _cios_step(t0, t1, t2, t3, a, b[2])
    t0, t1, t2, t3 = _cios_step(t0, t1, t2, t3, a, b[3])
    return _reduce_once(t0, t1, t2, t3)


@njit(cache=True)
def to_montgomery(a):
    """x -> x R mod r for canonical limbs x < r."""
    return mul(a, (R2_0, R2_1, R2_2, R2_3))


@njit(cache=True)
def from_montgomery(a):
    """x R -> x, the canonical limbs in [0, r)."""
    return mul(a, (_U1, _Z, _Z, _Z))
