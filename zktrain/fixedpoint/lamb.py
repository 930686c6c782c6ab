"""LAMB in exact fixed point: the step kernel of ``circuits.lamb`` on numpy arrays (issue 16).

Per parameter tensor: the two moments rounded every step, the bias-corrected elementwise ratio
r = m_hat / (sqrt(v_hat) + eps) (a floor square root and one rounded division per entry), the
exact update u = r + lam x, the trust ratio ||x|| / ||u|| as one fused rounding, and the rounded
step. The elementwise work runs on Python integers (object arrays): u sits at 2^(2R+k+k_lam),
beyond int64; fine for the digits shape, slow for the zkDL one (docs/lamb.md). Widths are
checked: a moment beyond its declared bits, or a weight beyond ``weight_bits``, raises
:class:`LambWidthError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from circuits.lamb import KA, KB, KP, KR, KS, SV, V_BITS, LambSpec, bias_corrections, round_half_up_div, trust

from .lars import sum_of_squares
from .momentum import MomentumWidthError, _check, _narrow

__all__ = ["LambScalars", "LambState", "LambWidthError", "lamb_step"]

_isqrt = np.frompyfunc(math.isqrt, 1, 1)
_round_div = np.frompyfunc(round_half_up_div, 2, 1)


class LambWidthError(MomentumWidthError):
    """A moment or a weight outside its declared width."""


@dataclass(frozen=True)
class LambState:
    """P_t (at 2^(2R+k)), M_{t-1} (at 2^(2R)), V_{t-1} (at 2^(4R-SV)) and t - 1 steps taken."""

    p: np.ndarray
    m: np.ndarray
    v: np.ndarray
    steps: int = 0


@dataclass(frozen=True)
class LambScalars:
    """One tensor's per-step scalars: the bias corrections A_t, B_t, N_P = sum P^2,
    N_U = sum U^2 and the trust ratio phi at 2^-KP."""

    a: int
    b: int
    sum_p2: int
    sum_u2: int
    trust: int


def _rescale(z: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    q = (z + (1 << (shift - 1))) >> shift
    return q, z - (q << shift)


def lamb_step(state: LambState, grad: np.ndarray, lr_num: int, spec: LambSpec, frac_bits: int, lr_shift: int,
              weight_bits: int = 56, m_bits: int = 48):
    """One LAMB step of one tensor: (LambState after it, dP, LambScalars). Pure and exact."""
    p = np.asarray(state.p).astype(object)
    g = np.asarray(grad).astype(object)
    if p.shape != g.shape:
        raise ValueError(f"lamb_step: shapes {p.shape} and {g.shape} differ")
    t = state.steps + 1
    (b1, k1), (b2, k2) = spec.betas()
    m, _ = _rescale(b1 * np.asarray(state.m).astype(object) + ((1 << k1) - b1) * g, k1)
    v, _ = _rescale((b2 << SV) * np.asarray(state.v).astype(object) + ((1 << k2) - b2) * g * g, k2 + SV)
    a, b = bias_corrections(spec, t)
    s = _isqrt(v * (b << (SV + 2 * KS - KB)))
    r = _round_div(m * (a << (KS + KR - KA)), s + spec.eps_int)
    kl = spec.lam.shift
    ku = 2 * frac_bits + lr_shift + kl
    u = r * (1 << (ku - KR)) + spec.lam.num * p
    n_p, n_u = sum_of_squares(p), sum_of_squares(u)
    phi = trust(n_p, n_u, frac_bits, lr_shift, ku) if spec.adapt else 1 << KP
    dp, _ = _rescale(lr_num * spec.inv_c * phi * u, KP + ku - 2 * frac_bits)
    new = p - dp
    try:
        _check(m, m_bits, "LAMB first moment", t - 1)
        if v.size and (v.min() < 0 or v.max() >= 1 << V_BITS):
            raise MomentumWidthError(f"LAMB second moment at step {t - 1}: outside its declared {V_BITS}-bit range")
        _check(new, weight_bits, "weight", t - 1)
    except MomentumWidthError as err:
        raise LambWidthError(str(err)) from None
    out = LambState(_narrow(new), _narrow(m), _narrow(v), t)
    return out, _narrow(dp), LambScalars(a, b, n_p, n_u, phi)
