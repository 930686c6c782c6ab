"""BLS12-381 G1 in XYZZ coordinates over Fp on 12 x 32-bit limbs: plain Python device functions.

Fp (p = ``verifier.curve.P``, 381 bits) uses ``field.py``'s generated Montgomery arithmetic
on twelve 32-bit limbs with R = 2^384: the residues of ``prover/commit/fp381.py`` (six 64-bit
limbs, R = 2^384), byte for byte, so its generator tables cross over with a view.

A point is a 4-tuple (X, Y, ZZ, ZZZ) of Fp register forms standing for the affine point
(X / ZZ, Y / ZZZ), with ZZ^3 = ZZZ^2; ZZ = 0 is the identity. Formulas from the
Explicit-Formulas Database, "XYZZ coordinates for short Weierstrass curves"
(hyperelliptic.org/EFD/g1p/auto-shortw-xyzz.html), for a = 0 (y^2 = x^3 + 4):

* ``xyzz_madd``: P + (x, y) with an affine operand, madd-2008-s (8M + 2S);
* ``xyzz_add``: P + Q, add-2008-s (12M + 2S);
* ``xyzz_dbl`` / ``xyzz_mdbl``: 2P, dbl-2008-s-1 and mdbl-2008-s-1.

The exceptional cases the formulas exclude are handled by branches, exactly: an identity
operand returns the other one, P = Q doubles, P = -Q gives the identity (G1 has no point with
y = 0, so doubling never meets one). Like ``field.py``, ``build(jit)`` compiles them for
numba.cuda (``jit=cuda.jit(device=True)``), for the CPU (``numba.njit``, the compiled tests) or
leaves them plain Python (the simulator).
"""

from __future__ import annotations

import types as pytypes
from types import SimpleNamespace

import numpy as np

from verifier.curve import P as MODULUS

from . import field

LIMBS = 12
MONTGOMERY_R = 1 << (32 * LIMBS)
MONTGOMERY_R_INV = pow(MONTGOMERY_R, -1, MODULUS)


def limb_tuple(x: int) -> tuple:
    return tuple(np.uint64((x >> (32 * k)) & 0xFFFFFFFF) for k in range(LIMBS))


def to_montgomery_int(x: int) -> int:
    return x % MODULUS * MONTGOMERY_R % MODULUS


def from_montgomery_int(limbs) -> int:
    return field.limbs_to_int(limbs) * MONTGOMERY_R_INV % MODULUS


FP_ZERO = limb_tuple(0)
FP_ONE = limb_tuple(MONTGOMERY_R % MODULUS)
#: The identity (ZZ = ZZZ = 0; X and Y are ignored).
IDENTITY = (FP_ONE, FP_ONE, FP_ZERO, FP_ZERO)


# --- the device functions (plain Python; globals fp_* and xyzz_* are bound by build) ---------


def xyzz_mdbl(x, y):
    """2 (x, y) for an affine point with y != 0 (mdbl-2008-s-1, a = 0)."""
    u = fp_add(y, y)
    v = fp_mul(u, u)
    w = fp_mul(u, v)
    s = fp_mul(x, v)
    xx = fp_mul(x, x)
    m = fp_add(fp_add(xx, xx), xx)
    x3 = fp_sub(fp_mul(m, m), fp_add(s, s))
    y3 = fp_sub(fp_mul(m, fp_sub(s, x3)), fp_mul(w, y))
    return (x3, y3, v, w)


def xyzz_dbl(p):
    """2P (dbl-2008-s-1, a = 0); the identity doubles to itself (ZZ3 = V ZZ1 = 0)."""
    x1, y1, zz1, zzz1 = p
    u = fp_add(y1, y1)
    v = fp_mul(u, u)
    w = fp_mul(u, v)
    s = fp_mul(x1, v)
    xx = fp_mul(x1, x1)
    m = fp_add(fp_add(xx, xx), xx)
    x3 = fp_sub(fp_mul(m, m), fp_add(s, s))
    y3 = fp_sub(fp_mul(m, fp_sub(s, x3)), fp_mul(w, y1))
    return (x3, y3, fp_mul(v, zz1), fp_mul(w, zzz1))


def xyzz_madd(p, x2, y2):
    """P + (x2, y2) for an affine point (x2, y2) (madd-2008-s), every case exact."""
    x1, y1, zz1, zzz1 = p
    if fp_is_zero(zz1):
        return (x2, y2, FP_ONE, FP_ONE)
    pp_ = fp_sub(fp_mul(x2, zz1), x1)  # P = U2 - X1
    r = fp_sub(fp_mul(y2, zzz1), y1)  # R = S2 - Y1
    if fp_is_zero(pp_):
        if fp_is_zero(r):
            return xyzz_mdbl(x2, y2)
        return (FP_ONE, FP_ONE, FP_ZERO, FP_ZERO)
    pp = fp_mul(pp_, pp_)
    ppp = fp_mul(pp_, pp)
    q = fp_mul(x1, pp)
    x3 = fp_sub(fp_sub(fp_mul(r, r), ppp), fp_add(q, q))
    y3 = fp_sub(fp_mul(r, fp_sub(q, x3)), fp_mul(y1, ppp))
    return (x3, y3, fp_mul(zz1, pp), fp_mul(zzz1, ppp))


def xyzz_add(p, q):
    """P + Q (add-2008-s), every case exact."""
    x1, y1, zz1, zzz1 = p
    x2, y2, zz2, zzz2 = q
    if fp_is_zero(zz1):
        return q
    if fp_is_zero(zz2):
        return p
    u1 = fp_mul(x1, zz2)
    s1 = fp_mul(y1, zzz2)
    pp_ = fp_sub(fp_mul(x2, zz1), u1)
    r = fp_sub(fp_mul(y2, zzz1), s1)
    if fp_is_zero(pp_):
        if fp_is_zero(r):
            return xyzz_dbl(p)
        return (FP_ONE, FP_ONE, FP_ZERO, FP_ZERO)
    pp = fp_mul(pp_, pp_)
    ppp = fp_mul(pp_, pp)
    q1 = fp_mul(u1, pp)
    x3 = fp_sub(fp_sub(fp_mul(r, r), ppp), fp_add(q1, q1))
    y3 = fp_sub(fp_mul(r, fp_sub(q1, x3)), fp_mul(s1, ppp))
    return (x3, y3, fp_mul(fp_mul(zz1, zz2), pp), fp_mul(fp_mul(zzz1, zzz2), ppp))


def xyzz_load(x, y, zz, zzz, i):
    """Row i of four uint32[n, 12] arrays as a point."""
    return (fp_load(x, i), fp_load(y, i), fp_load(zz, i), fp_load(zzz, i))


def xyzz_store(x, y, zz, zzz, i, p):
    fp_store(x, i, p[0])
    fp_store(y, i, p[1])
    fp_store(zz, i, p[2])
    fp_store(zzz, i, p[3])


#: In dependency order: each may call the ones before it.
FUNCTIONS = ("xyzz_mdbl", "xyzz_dbl", "xyzz_madd", "xyzz_add", "xyzz_load", "xyzz_store")


def build(jit=None) -> SimpleNamespace:
    """Fp's ``fp_*`` and the ``xyzz_*`` functions wrapped by ``jit`` (None: plain Python),
    all bound to one namespace so that each calls the others' wrapped versions."""
    fp = field.compile_functions("fp", MODULUS, LIMBS, jit)
    namespace = dict(vars(fp), np=np, FP_ZERO=FP_ZERO, FP_ONE=FP_ONE)
    for name in FUNCTIONS:
        fn = globals()[name]
        rebound = pytypes.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
        rebound.__doc__ = fn.__doc__
        namespace[name] = jit(rebound) if jit is not None else rebound
    return SimpleNamespace(**{k: v for k, v in namespace.items() if k.startswith(("fp_", "xyzz_"))})


# Names the plain functions above read from their namespace (bound by build); defined here
# only so that linters and readers see where they come from.
fp_add = fp_sub = fp_mul = fp_is_zero = fp_load = fp_store = None
