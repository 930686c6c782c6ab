"""The base field Fp of BLS12-381 in numba: six 64-bit limbs, Montgomery form.

An element x of Fp (p = ``verifier.curve.P``, 381 bits) is held as the residue x R mod p with
R = 2^384, in six little-endian uint64 limbs: a numba ``UniTuple(uint64, 6)`` in registers,
one row of a uint64[n, 6] array in memory. This is the coordinate field of the G1 points that
``msm_small`` adds; it is the Fr backend's technique (``prover/backends/cpu/montgomery.py``)
at another width, and shares that module's limb-level LLVM IR helpers.

Multiplication is the CIOS method (Koc, Acar and Kaliski, "Analyzing and Comparing Montgomery
Multiplication Algorithms", IEEE Micro 1996) with gnark-crypto's "no-carry" shortcut: the top
limb of p is below (2^64 - 1)/2 - 1, so each outer iteration's carry fits in the top limb.
p < 2^382 also keeps a + b < 2^384 for reduced a and b. Products are i128 (``mulx``), carry
chains and comparisons i384 (``adc``/``sbb``/``cmov``), all emitted inline as intrinsics.

Inversion is Fermat's a^(p-2): about 570 multiplications, paid once per batch of affine
additions (Montgomery's trick), so its speed hardly matters.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.caching import FunctionCache
from numba.extending import intrinsic

# The limb-level IR builders are width-agnostic; only the CIOS loop below is Fp's own.
from prover.backends.cpu.montgomery import ir_limbs, ir_mul_add2, ir_pack, ir_unpack
from verifier.curve import P as MODULUS

LIMBS = 6
LIMB_BITS = 64
BYTES = LIMBS * LIMB_BITS // 8
_MASK = (1 << LIMB_BITS) - 1

#: Montgomery radix R = 2^384; an element x is stored as x R mod p.
MONTGOMERY_R = 1 << (LIMBS * LIMB_BITS)


def int_to_limbs(x: int) -> tuple[int, ...]:
    """The six little-endian 64-bit limbs of 0 <= x < 2^384."""
    return tuple((x >> (LIMB_BITS * k)) & _MASK for k in range(LIMBS))


def limbs_to_int(limbs) -> int:
    """Inverse of ``int_to_limbs`` (any sequence of six limbs, e.g. a numpy row)."""
    return sum(int(w) << (LIMB_BITS * k) for k, w in enumerate(limbs))


def to_montgomery_int(x: int) -> int:
    """x R mod p for any Python int x."""
    return x % MODULUS * MONTGOMERY_R % MODULUS


def from_montgomery_int(limbs) -> int:
    """The canonical integer in [0, p) of a Montgomery residue given as six limbs."""
    return limbs_to_int(limbs) * pow(MONTGOMERY_R, -1, MODULUS) % MODULUS


_Q = int_to_limbs(MODULUS)
if not _Q[-1] < (_MASK >> 1) - 1:
    raise AssertionError("modulus too large for no-carry Montgomery multiplication")
#: -p^-1 mod 2^64: the CIOS multiplier that zeroes the low limb at each step.
N_PRIME = -pow(MODULUS, -1, 1 << LIMB_BITS) % (1 << LIMB_BITS)


def _limb_tuple(x: int):
    return tuple(np.uint64(w) for w in int_to_limbs(x))


ZERO = _limb_tuple(0)
#: 1 in Montgomery form (R mod p).
ONE = _limb_tuple(MONTGOMERY_R % MODULUS)
#: R^2 mod p: mul(x, R2) = x R, the entry into Montgomery form.
R2 = _limb_tuple(MONTGOMERY_R**2 % MODULUS)
#: The plain integer 1: mul(x R, 1) = x, the exit from Montgomery form.
CANONICAL_ONE = _limb_tuple(1)
#: p - 2, the Fermat exponent of inversion.
_INVERSE_EXPONENT = _limb_tuple(MODULUS - 2)

_I64 = ir.IntType(64)
_I384 = ir.IntType(LIMBS * LIMB_BITS)
_FP = types.UniTuple(types.uint64, LIMBS)


def _modulus():
    return ir.Constant(_I384, MODULUS)


def _reduce_once(builder, t):
    """t - p if t >= p else t, for t < 2p (a compare and a select: no branch)."""
    return builder.select(builder.icmp_unsigned(">=", t, _modulus()), builder.sub(t, _modulus()), t)


def _cios(builder, a, b):
    """No-carry CIOS: t = a b R^-1 mod p up to one subtraction of p (t < 2p)."""
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
    """An intrinsic (Fp, Fp) -> Fp whose body ``emit(builder, a_limbs, b_limbs)`` is an i384."""

    def typer(typingctx, a, b):
        if a != _FP or b != _FP:
            return None

        def codegen(context, builder, signature, args):
            a, b = (ir_limbs(builder, x) for x in args)
            return ir_unpack(context, builder, emit(builder, a, b), _FP)

        return _FP(_FP, _FP), codegen

    typer.__name__ = emit.__name__
    typer.__doc__ = emit.__doc__
    return intrinsic(typer)


@_binary
def add(builder, a, b):
    """a + b mod p; a + b < 2p < 2^384, so the i384 sum is exact."""
    return _reduce_once(builder, builder.add(ir_pack(builder, a, _I384), ir_pack(builder, b, _I384)))


@_binary
def sub(builder, a, b):
    """a - b mod p: the i384 difference, plus p when it borrowed."""
    a, b = ir_pack(builder, a, _I384), ir_pack(builder, b, _I384)
    diff = builder.sub(a, b)
    return builder.select(builder.icmp_unsigned("<", a, b), builder.add(diff, _modulus()), diff)


@_binary
def mul(builder, a, b):
    """The Montgomery product a b R^-1 mod p: Montgomery forms multiply to Montgomery form."""
    return _reduce_once(builder, ir_pack(builder, _cios(builder, a, b), _I384))


@njit(inline="always", cache=True)
def load(x, i):
    """Row i of a uint64[n, 6] array as a 6-tuple."""
    return (x[i, 0], x[i, 1], x[i, 2], x[i, 3], x[i, 4], x[i, 5])


@njit(inline="always", cache=True)
def store(x, i, v):
    for k in range(LIMBS):
        x[i, k] = v[k]


@njit(cache=True)
def inv(a):
    """a^(p-2) = a^-1 for a != 0 (and 0 for a = 0), left-to-right square and multiply."""
    result = ONE
    for k in range(LIMBS - 1, -1, -1):
        limb = _INVERSE_EXPONENT[k]
        for bit in range(LIMB_BITS - 1, -1, -1):
            result = mul(result, result)
            if (limb >> np.uint64(bit)) & np.uint64(1):
                result = mul(result, a)
    return result


@njit(cache=True)
def _convert(x, factor, out):
    for i in range(x.shape[0]):
        store(out, i, mul(load(x, i), factor))


def to_montgomery(canonical: np.ndarray) -> np.ndarray:
    """uint64[n, 6] canonical limbs (each < p) -> their Montgomery residues."""
    out = np.empty_like(canonical)
    _convert(np.ascontiguousarray(canonical, dtype=np.uint64), R2, out)
    return out


def from_montgomery(residues: np.ndarray) -> np.ndarray:
    """uint64[n, 6] Montgomery residues -> canonical limbs in [0, p)."""
    out = np.empty_like(residues)
    _convert(np.ascontiguousarray(residues, dtype=np.uint64), CANONICAL_ONE, out)
    return out


def from_le_bytes(data: bytes, count: int) -> np.ndarray:
    """``count`` consecutive 48-byte little-endian integers -> uint64[count, 6] canonical limbs.

    48 bytes are exactly six limbs, so the buffer is reinterpreted, not parsed.
    """
    if len(data) != count * BYTES:
        raise ValueError(f"{len(data)} bytes for {count} field elements of {BYTES} bytes")
    return np.frombuffer(data, dtype="<u8").reshape(count, LIMBS).astype(np.uint64)


def to_le_bytes(limbs: np.ndarray) -> bytes:
    """uint64[n, 6] canonical limbs -> n consecutive 48-byte little-endian integers."""
    return np.ascontiguousarray(limbs, dtype="<u8").tobytes()


# numba keys a function's disk cache on its own source file only, while every kernel that
# uses this arithmetic compiles it inline: key such kernels' caches on this file as well, so
# an edit here cannot leave them running stale arithmetic (as prover/backends/cpu/kernels.py
# does for montgomery.py).
_ARITHMETIC_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


class _ArithmeticCache(FunctionCache):
    """numba's per-function disk cache, with this file's digest in the index key."""

    def _index_key(self, sig, codegen):
        return super()._index_key(sig, codegen) + (_ARITHMETIC_DIGEST,)


def kernel(fn=None, *, parallel: bool = False):
    """``njit(cache=True)`` for code that inlines Fp arithmetic, cache keyed on this file too."""

    def wrap(fn):
        dispatcher = njit(parallel=parallel)(fn)
        dispatcher._cache = _ArithmeticCache(dispatcher.py_func)
        return dispatcher

    return wrap if fn is None else wrap(fn)
