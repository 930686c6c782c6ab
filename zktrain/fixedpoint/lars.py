"""LARS in exact fixed point: the step kernel of ``circuits.lars`` on numpy arrays (issue 16).

Per parameter tensor P (at 2^(2R+k)) with buffer v (at P's scale) and folded gradient G (at
2^(2R)): the exact squared norms, their floor square roots, the trust ratio lambda_q and the
buffer update rounded by K bits, then P - v (``circuits.lars`` for the relations). The
per-tensor scalars are Python ints (a handful per step); with ``spec.clip`` (LARC) the update
multiplies by ``circuits.lars.larc_multiplier``'s m_q instead of lambda_q. The elementwise
update runs in int64
where its bound allows and in Python ints otherwise (``zktrain.fixedpoint.momentum``'s exact
helpers). A buffer or weight beyond its declared width, or a trust ratio beyond
``LarsSpec.trust_limit``, raises :class:`LarsWidthError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuits.lars import LarsSpec, buffer_terms, larc_multiplier, trust_ratio

from .momentum import MomentumWidthError, _check, _lincomb, _narrow, _rescale

__all__ = ["LarsScalars", "LarsWidthError", "lars_step", "sum_of_squares"]

#: Limb width of ``sum_of_squares``: limb products below 2^(2 x 21) = 2^42, and 2^20 of them
#: sum below 2^62.
_LIMB = 21
_CHUNK = 1 << 20


class LarsWidthError(MomentumWidthError):
    """A value outside its declared width (a buffer, a weight, or the trust ratio)."""


def sum_of_squares(a: np.ndarray) -> int:
    """sum a^2 exactly, for int64 arrays (by 21-bit limbs and int64 dot products, fast) and for
    object arrays of Python ints (wide gradients)."""
    a = np.asarray(a)
    if a.dtype == object:
        return int(sum(int(v) * int(v) for v in a.reshape(-1)))
    if a.dtype.kind != "i":
        raise ValueError(f"sum_of_squares: expected an integer array, got {a.dtype}")
    mag = np.abs(a.reshape(-1).astype(np.int64))
    if mag.size and int(mag.min()) < 0:  # -2^63 has no int64 magnitude
        return sum_of_squares(a.astype(object))
    mask = (1 << _LIMB) - 1
    total = 0
    for start in range(0, mag.size, _CHUNK):
        part = mag[start : start + _CHUNK]
        limbs = [(part >> (_LIMB * i)) & mask for i in range(3)]
        for i in range(3):
            for j in range(3):
                total += int(limbs[i] @ limbs[j]) << (_LIMB * (i + j))
    return total


@dataclass(frozen=True)
class LarsScalars:
    """One tensor's per-step scalars: N = sum P^2, M = sum G^2, s_P, s_G, D, lambda_q, and the
    multiplier of lr_num in the buffer relation (lambda_q; LARC's m_q with ``spec.clip``)."""

    sum_p2: int
    sum_g2: int
    s_p: int
    s_g: int
    den: int
    trust: int
    multiplier: int


def lars_step(param: np.ndarray, buf: np.ndarray, grad: np.ndarray, lr_num: int, spec: LarsSpec, lr_shift: int,
              weight_bits: int = 56, buf_bits: int = 48, step: int = 0):
    """One LARS step of one tensor: (P_t+1, v_t, r_t, LarsScalars), pure and exact."""
    param, buf, grad = np.asarray(param), np.asarray(buf), np.asarray(grad)
    if not param.shape == buf.shape == grad.shape:
        raise ValueError(f"lars_step: shapes {param.shape}, {buf.shape}, {grad.shape} differ")
    scalars = _scalars(param, grad, lr_num, spec, lr_shift)
    if not 0 <= scalars.trust <= spec.trust_limit:
        raise LarsWidthError(f"trust ratio at step {step}: {scalars.trust}/2^{spec.trust_bits} exceeds "
                             f"2^{spec.trust_limit.bit_length() - 1 - spec.trust_bits}")
    K, mu, a, ab = buffer_terms(scalars.multiplier, lr_num, spec, lr_shift)
    terms = [(a << (lr_shift + spec.beta.shift), grad)]
    if mu:
        terms.append((mu, buf))
    if ab:
        terms.append((ab, param))
    v, rem = _rescale(_lincomb(terms), K)
    v = _narrow(v)
    new = _narrow(_lincomb([(1, param), (-1, v)]))
    try:
        _check(v, buf_bits, "LARS buffer", step)
        _check(new, weight_bits, "weight", step)
    except MomentumWidthError as err:
        raise LarsWidthError(str(err)) from None
    return new, v, _narrow(rem), scalars


def _scalars(param, grad, lr_num, spec, lr_shift) -> LarsScalars:
    n, m = sum_of_squares(param), sum_of_squares(grad)
    s_p, s_g, den, lam = trust_ratio(n, m, spec, lr_shift)
    mult = larc_multiplier(lam, lr_num, spec, lr_shift, zero_norm=s_p == 0 or s_g == 0) if spec.clip else lam
    return LarsScalars(n, m, s_p, s_g, den, lam, mult)
