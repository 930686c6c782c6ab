"""LAMB in exact fixed point: hyperparameters, bias corrections, and the step's integer
semantics (issue 16, item 2; docs/lamb.md; shared/reference/nonlinear-gadgets.md sections 5-8).

Float semantics (``zktrain.optim.LAMB``, You et al. 2019, Algorithm 2, phi the identity), per
parameter tensor x with gradient g and step t >= 1::

    m_t = b1 m + (1 - b1) g,   v_t = b2 v + (1 - b2) g^2
    r   = m_t / (1 - b1^t) / (sqrt(v_t / (1 - b2^t)) + eps)
    u   = r + lam x                       (decay inside the trust ratio)
    x  -= lr (||x|| / ||u||) u            (ratio 1 when a norm is 0; 1 without adaptation)

Fixed point, per tensor P (at 2^(2R+k)) with folded gradient G (at 2^(2R); g = c G / 2^(2R),
1/c = ``inv_c``; ``circuits.lars`` for the folding). The moments live in folded units, so c
cancels in m / sqrt(v) and only eps carries it:

    2^k1 M_t + r1 = b1n M + (2^k1 - b1n) G                  M at 2^(2R)      (1 - b1 = (2^k1 - b1n)/2^k1)
    2^(k2+SV) V_t + r2 = b2n 2^SV V + (2^k2 - b2n) G^2      V at 2^(4R-SV)
    A_t = round(2^KA / (1 - b1^t)),  B_t = round(2^KB / (1 - b2^t))      public, exact big ints
    s   = isqrt(V B_t 2^(SV + 2KS - KB))                     sqrt(v_hat) at 2^KS (folded units)
    D   = s + E,  E = round_half_up(eps 2^(2R+KS) inv_c) >= 1
    r_q = round_half_up(M A_t 2^(KS+KR-KA) / D)              r at 2^KR
    U   = r_q 2^(2R+k+kl-KR) + ln P                          u at 2^KU, KU = 2R + k + kl (exact)
    phi = (isqrt(4 Z // N_U) + 1) // 2, Z = 2^(2(KP+KU-2R-k)) N_P     round(2^KP ||P|| / ||U||)
                                                            (2^KP when N_P = 0 or N_U = 0, or no adaptation)
    dP  = round_half_up(lr_num inv_c phi U / 2^(KP+KU-2R))   P_t+1 = P - dP

with lam = ln / 2^kl, N_P = sum P^2, N_U = sum U^2. The roundings are each one integer
relation with a range-checked remainder (the moments, r_q's division, dP), the square roots
are floors (``circuits.sqrt``), and phi is the single fused rounding of nonlinear-gadgets.md
section 8: (2 phi - 1)^2 N_U <= 4 Z < (2 phi + 1)^2 N_U.

This module is the semantics on Python ints and the quantization of the options; the kernel on
arrays is ``zktrain.fixedpoint.lamb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .lars import quantize_relative
from .momentum import Dyadic, Number, as_fraction, quantize

#: Scales (module docstring): bias corrections at 2^-30, sqrt(v_hat) at 2^-24, r at 2^-24, the
#: trust ratio at 2^-24, and V dropped by SV = 16 bits below G^2 (honest G up to 2^39 keeps V
#: in 62 bits: a true gradient entry of 2 at batch 64).
KA = KB = 30
KS = KR = KP = 24
SV = 16
#: V's unsigned width: an honest gradient up to 2^39 at 2^(2R) (a true entry of 2 at batch 64).
V_BITS = 62


@dataclass(frozen=True)
class LambSpec:
    """LAMB's options in the fixed point: 1 - b1 and 1 - b2 as dyadics (so that b = 1 - that),
    the decoupled decay lam (torch's, not folded: it multiplies x), the eps integer E, 1/c,
    and whether the trust ratio applies (``adapt``: apex/timm's lam != 0 or always_adapt)."""

    one_minus_b1: Dyadic
    one_minus_b2: Dyadic
    lam: Dyadic
    eps_int: int
    inv_c: int
    adapt: bool = True

    def __post_init__(self) -> None:
        for name, d in (("betas[0]", self.one_minus_b1), ("betas[1]", self.one_minus_b2)):
            if not 0 < d.value <= 1:
                raise ValueError(f"{name}: 1 - beta must lie in (0, 1], got {d.num}/2^{d.shift}")
        if self.eps_int < 1:
            raise ValueError("eps: must be > 0 (its integer E >= 1 keeps the divisor sqrt(v_hat) + eps >= 1)")
        if self.inv_c < 1:
            raise ValueError(f"1/c must be >= 1, got {self.inv_c}")

    def betas(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(b_num, k) per moment: b = b_num / 2^k = 1 - (1 - b)."""
        return tuple(((1 << d.shift) - d.num, d.shift) for d in (self.one_minus_b1, self.one_minus_b2))


def spec_from_float(betas: tuple[Number, Number] = (0.9, 0.999), eps: Number = 1e-6, weight_decay: Number = 0.01, *,
                    inv_c: int, frac_bits: int = 16, always_adapt: bool = False) -> LambSpec:
    """``zktrain.optim.LAMB``'s options: 1 - b1, 1 - b2 and lam quantized within relative error
    1/512 (``circuits.lars.quantize_relative``), eps as E. ValueError names the option."""
    out = []
    for i, b in enumerate(betas):
        v = as_fraction(b)
        if not 0 <= v < 1:
            raise ValueError(f"betas[{i}]: must lie in [0, 1), got {b!r}")
        out.append(quantize_relative(1 - v, f"betas[{i}] (as 1 - beta)"))
    lam = quantize_relative(weight_decay, "weight_decay")
    return LambSpec(out[0], out[1], lam, eps_integer(eps, frac_bits, inv_c), inv_c, adapt=lam.num != 0 or always_adapt)


#: eps is quantized at 2^-EPS_SHIFT (1e-6 -> 4295/2^32, +0.003%).
EPS_SHIFT = 32


def recipe_hyperparameters(betas: tuple[Number, Number] = (0.9, 0.999), eps: Number = 1e-6,
                           weight_decay: Number = 0.01) -> dict[str, Dyadic]:
    """``zktrain.optim.LAMB``'s options as the recipe's dyadics (``train.beta1``, ``beta2``,
    ``eps``, ``weight_decay``), quantized as ``spec_from_float`` quantizes them: 1 - beta and the
    decay within relative error 1/512, eps at 2^-32. ValueError naming the option."""
    if len(betas) != 2:
        raise ValueError(f"betas: must be a pair, got {betas!r}")
    out = {}
    for i, b in enumerate(betas):
        v = as_fraction(b)
        if not 0 <= v < 1:
            raise ValueError(f"betas[{i}]: must lie in [0, 1), got {b!r}")
        out[f"beta{i + 1}"] = Dyadic.exact(1 - quantize_relative(1 - v, f"betas[{i}] (as 1 - beta)").value, f"betas[{i}]")
    if as_fraction(eps) <= 0:
        raise ValueError(f"eps: must be > 0, got {eps!r}")
    out["eps"] = quantize(eps, EPS_SHIFT, "eps")
    if out["eps"].num == 0:
        raise ValueError(f"eps: {eps!r} is below 2^-{EPS_SHIFT + 1}")
    out["weight_decay"] = quantize_relative(weight_decay, "weight_decay")
    return out


def eps_integer(eps: Number, frac_bits: int, inv_c: int) -> int:
    """E = round_half_up(eps 2^(2R+KS) inv_c): eps in the divisor's units."""
    v = as_fraction(eps)
    if v <= 0:
        raise ValueError(f"eps: must be > 0, got {eps!r}")
    return math.floor(v * (1 << (2 * frac_bits + KS)) * inv_c + Fraction(1, 2))


def bias_corrections(spec: LambSpec, t: int) -> tuple[int, int]:
    """(A_t, B_t) = (round(2^KA / (1 - b1^t)), round(2^KB / (1 - b2^t))) for step t >= 1, exact."""
    if t < 1:
        raise ValueError(f"bias corrections start at step 1, got {t}")
    out = []
    for (b, k), scale in zip(spec.betas(), (KA, KB)):
        denominator = (1 << (k * t)) - b**t  # 1 - b^t = denominator / 2^(k t)
        out.append((2 * (1 << (scale + k * t)) + denominator) // (2 * denominator))
    return out[0], out[1]


def round_half_up_div(n: int, d: int) -> int:
    return (2 * n + d) // (2 * d)


def trust(sum_p2: int, sum_u2: int, frac_bits: int, lr_shift: int, ku: int) -> int:
    """phi = round(2^KP sqrt(N_P / N_U) 2^(KU-2R-k)), i.e. the y with
    (2y - 1)^2 N_U <= 4 Z < (2y + 1)^2 N_U, Z = 2^(2(KP+KU-2R-k)) N_P; 2^KP for a zero norm."""
    if sum_p2 == 0 or sum_u2 == 0:
        return 1 << KP
    z = sum_p2 << (2 * (KP + ku - 2 * frac_bits - lr_shift))
    return (math.isqrt(4 * z // sum_u2) + 1) // 2
