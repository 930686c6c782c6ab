"""LARS in exact fixed point: hyperparameters, the trust ratio and the buffer update (issue 16,
item 2; docs/lars.md; shared/reference/nonlinear-gadgets.md sections 5, 6 and 8).

Float semantics (You, Gitman, Ginsburg 2017, Algorithm 1, the global rate inside the momentum,
as ``zktrain.optim.LARS`` with its default ``lr_in_momentum=True``), per parameter tensor P
(every W_l and b_l is its own tensor) with gradient g::

    lambda = eta ||P|| / (||g|| + beta ||P|| + eps)     (1 when ||P|| = 0 or ||g|| = 0)
    v_t    = mu v_{t-1} + gamma_t lambda (g + beta P)
    P_t+1  = P_t - v_t

Fixed point (DESIGN section 4, docs/momentum.md section 1 for the folded units): P at
2^(2R+k), the folded gradient G at 2^(2R) (g = c G / 2^(2R), c the loss factor, 1/c = ``inv_c``
an integer: B for the mean cross-entropy, B n_out / 2 for the mean MSE), lr_num_t = gamma_t c 2^k,
beta_f = beta / c = b / 2^k_b (folded, exact), eta = e / 2^k_e. Multiplying lambda's numerator
and denominator by 2^(2R+k+k_b) / c gives integers throughout:

    N = sum P^2,  M = sum G^2                          exact squared norms
    s_P = isqrt(N),  s_G = isqrt(M)                    floor square roots
    D = 2^(k+k_b) s_G + b s_P + E                      E = round_half_up(eps 2^(2R+k+k_b) inv_c)
    lambda_q = round_half_up(e inv_c s_P 2^(K_l+k_b) / (2^k_e D))   (2^K_l when s_P = 0 or s_G = 0)

lambda_q is lambda at 2^-K_l (``trust_bits`` K_l). The buffer v lives at P's scale and is
rounded every step by K = max(k_mu, K_l + k + k_b) bits, as in design (A) of docs/momentum.md::

    2^K v_t + r_t = mu_num 2^(K-k_mu) v_{t-1} + lr_num_t lambda_q (2^(k+k_b) G_t + b P_t) 2^(K-K_l-k-k_b)
    P_t+1 = P_t - v_t                                    (exact)

r_t in [-2^(K-1), 2^(K-1)). Only floors and one rounding per scalar stand between this and the
float: s_P, s_G are within one unit of 2^-(2R+k) ||P|| and 2^-(2R) ||g|| / c, lambda_q within
half a unit of 2^-K_l, and v within half a unit of 2^-(2R+k) per step.

**LARC** (``LarsSpec.clip``; NVIDIA apex ``LARC``, ``zktrain.optim.LARS(clip=True)``): the
multiplier of gamma_t is min(lambda / gamma_t, 1), and 1 on a zero norm or where gamma_t = 0.
With gamma_t = lr_num_t inv_c / 2^k (lr_num_t = gamma_t c 2^k), lambda / gamma_t at 2^-K_l is
lambda_q 2^k / (inv_c lr_num_t), so the multiplier at 2^-K_l is::

    q_t = round_half_up(lambda_q 2^k / (inv_c lr_num_t))                  (lr_num_t > 0)
    m_q = min(q_t, 2^K_l)                        (2^K_l when s_P = 0, s_G = 0 or lr_num_t = 0)

and m_q replaces lambda_q in the buffer relation (the update's rate is gamma_t m_q / 2^K_l =
min(lambda, gamma_t) up to the roundings)::

    2^K v_t + r_t = mu_num 2^(K-k_mu) v_{t-1} + lr_num_t m_q (2^(k+k_b) G_t + b P_t) 2^(K-K_l-k-k_b)

The zero-norm rule is the float's, not min(q_t, 2^K_l) of lambda_q = 2^K_l (which would give
1 / gamma_t for gamma_t > 1): the float leaves a zero-norm tensor unscaled. Why two roundings
(lambda_q, then q_t) rather than one from the norms (round(e s_P 2^(K_l+k_b+k) / (2^k_e D
lr_num_t)), inv_c cancelling): the proof's division by the public inv_c lr_num_t has degree 2
(q lr_num), one by D lr_num_t degree 3 (an extra committed product per entry,
``circuits/trust.py``). The cost in precision is small: q_t carries lambda_q's relative error
1 / (2 lambda_q) and its own half unit, so the update's rate gamma_t m_q / 2^K_l is within
lambda_q's own rounding plus gamma_t 2^-(K_l+1) of min(lambda, gamma_t); at the clip's boundary
(q_t = 2^K_l) both sides give 2^K_l. The clip is decided on the rounded q_t: m_q = 2^K_l iff
2 lambda_q 2^k + inv_c lr_num_t >= 2^(K_l+1) inv_c lr_num_t (``larc_multiplier``).

This module is the semantics on Python ints (what the tests check the engine's kernel,
``zktrain.fixedpoint.lars``, against) and the hyperparameters' quantization; it imports only
the standard library and ``circuits.momentum``'s dyadics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .momentum import HYPER_RELATIVE_ERROR, MAX_HYPER_SHIFT, MU_SHIFT, Dyadic, Number, as_fraction, quantize

#: The trust ratio's resolution K_l (``lambda_q`` is lambda at 2^-K_l): 2^-24 keeps a ratio of
#: 0.01 within 6e-6 relative.
TRUST_BITS = 24
#: lambda_q is refused above 2^(K_l + TRUST_HEADROOM): a trust ratio beyond 2^16 is a recipe
#: error (beta > 0 bounds it by eta / beta).
TRUST_HEADROOM = 16
#: eta and beta are quantized at the coarsest 2^-s, s in [MIN_SHIFT, MAX_HYPER_SHIFT], within
#: relative error HYPER_RELATIVE_ERROR (the weight decay's rule, docs/momentum.md section 7).
MIN_SHIFT = 10


@dataclass(frozen=True)
class LarsSpec:
    """LARS's hyperparameters in the fixed point: mu, the folded weight decay beta_f, eta, the
    eps integer E, 1/c and K_l; ``clip`` selects LARC's multiplier (module docstring)."""

    mu: Dyadic
    beta: Dyadic  # folded: beta / c
    eta: Dyadic
    eps_int: int
    inv_c: int
    trust_bits: int = TRUST_BITS
    clip: bool = False

    def __post_init__(self) -> None:
        if self.mu.value >= 1:
            raise ValueError(f"momentum: must lie in [0, 1), got {self.mu.num}/2^{self.mu.shift}")
        if self.eta.num <= 0:
            raise ValueError("trust_coefficient: must be > 0")
        if self.eps_int < 0 or self.inv_c < 1:
            raise ValueError(f"eps integer {self.eps_int} and 1/c {self.inv_c} must be >= 0 and >= 1")
        if not 1 <= self.trust_bits <= 32:
            raise ValueError(f"trust_bits: must lie in [1, 32], got {self.trust_bits}")
        if type(self.clip) is not bool:
            raise ValueError(f"clip: must be True or False, got {self.clip!r}")

    def rounding_shift(self, lr_shift: int) -> int:
        """K: the bits the buffer's per-step rescale drops."""
        return max(self.mu.shift, self.trust_bits + lr_shift + self.beta.shift)

    @property
    def trust_limit(self) -> int:
        """lambda_q must lie in [0, 2^(K_l + TRUST_HEADROOM)]."""
        return 1 << (self.trust_bits + TRUST_HEADROOM)


def quantize_relative(value: Number, what: str, min_shift: int = MIN_SHIFT) -> Dyadic:
    """``value`` at the coarsest 2^-s (s in [min_shift, MAX_HYPER_SHIFT]) within relative error
    HYPER_RELATIVE_ERROR; 0 stays 0. ValueError naming ``what`` when none is close enough."""
    v = as_fraction(value)
    if v < 0:
        raise ValueError(f"{what}: must be >= 0, got {value!r}")
    if v == 0:
        return Dyadic(0, 0)
    for shift in range(min_shift, MAX_HYPER_SHIFT + 1):
        q = quantize(v, shift, what)
        if abs(q.value - v) <= HYPER_RELATIVE_ERROR * v:
            return q
    raise ValueError(f"{what}: {value!r} is too small to quantize within relative error "
                     f"1/{HYPER_RELATIVE_ERROR.denominator} at 2^-{MAX_HYPER_SHIFT}")


def eps_integer(eps: Number, frac_bits: int, lr_shift: int, beta_shift: int, inv_c: int) -> int:
    """E = round_half_up(eps 2^(2R+k+k_b) inv_c): eps in the denominator D's units."""
    v = as_fraction(eps)
    if v < 0:
        raise ValueError(f"eps: must be >= 0, got {eps!r}")
    return math.floor(v * (1 << (2 * frac_bits + lr_shift + beta_shift)) * inv_c + Fraction(1, 2))


def spec_from_float(momentum: Number, weight_decay: Number, trust_coefficient: Number, eps: Number, *,
                    inv_c: int, frac_bits: int = 16, lr_shift: int = 16, trust_bits: int = TRUST_BITS,
                    clip: bool = False) -> LarsSpec:
    """``zktrain.optim.LARS``'s options as a LarsSpec: mu at 2^-15 (rounded half up), beta and
    eta by ``quantize_relative``, beta folded by 1/c, eps as E, LARC when ``clip``. ValueError
    names the option."""
    mu = quantize(momentum, MU_SHIFT, "momentum")
    if mu.value >= 1:
        raise ValueError(f"momentum: {momentum!r} quantizes to {mu.num}/2^{mu.shift} >= 1")
    beta = quantize_relative(weight_decay, "weight_decay")
    beta_f = Dyadic.exact(beta.value * inv_c, "folded weight decay")
    eta = quantize_relative(trust_coefficient, "trust_coefficient")
    if eta.num == 0:
        raise ValueError(f"trust_coefficient: must be > 0, got {trust_coefficient!r}")
    return LarsSpec(mu, beta_f, eta, eps_integer(eps, frac_bits, lr_shift, beta_f.shift, inv_c), inv_c, trust_bits,
                    clip)


#: eps is quantized at 2^-EPS_SHIFT (1e-8 -> 43/2^32, -0.1%).
EPS_SHIFT = 32


def recipe_hyperparameters(momentum: Number, weight_decay: Number, trust_coefficient: Number,
                           eps: Number) -> dict[str, Dyadic]:
    """``zktrain.optim.LARS``'s options as the recipe's dyadics (``train.momentum``,
    ``weight_decay``, ``trust_coefficient``, ``eps``; the decay unfolded, as torch's): mu at
    2^-15 rounded half up, the decay and eta by ``quantize_relative``, eps at 2^-32.
    ValueError naming the option."""
    mu = quantize(momentum, MU_SHIFT, "momentum")
    if mu.value >= 1:
        raise ValueError(f"momentum: {momentum!r} quantizes to {mu.num}/2^{mu.shift} >= 1")
    eta = quantize_relative(trust_coefficient, "trust_coefficient")
    if eta.num == 0:
        raise ValueError(f"trust_coefficient: must be > 0, got {trust_coefficient!r}")
    return {"momentum": mu, "weight_decay": quantize_relative(weight_decay, "weight_decay"),
            "trust_coefficient": eta, "eps": quantize(eps, EPS_SHIFT, "eps")}


# --- the semantics on Python ints (the reference the engine's kernel is tested against) ---------


def round_half_up_div(n: int, d: int) -> int:
    """round_half_up(n / d) for d >= 1 (circuits/division.py's semantics, shift 0)."""
    return (2 * n + d) // (2 * d)


def trust_ratio(sum_p2: int, sum_g2: int, spec: LarsSpec, lr_shift: int) -> tuple[int, int, int, int]:
    """(s_P, s_G, D, lambda_q) for the exact squared norms N = sum P^2, M = sum G^2."""
    s_p, s_g = math.isqrt(sum_p2), math.isqrt(sum_g2)
    den = (s_g << (lr_shift + spec.beta.shift)) + spec.beta.num * s_p + spec.eps_int
    if s_p == 0 or s_g == 0:
        return s_p, s_g, den, 1 << spec.trust_bits
    num = spec.eta.num * spec.inv_c * s_p << (spec.trust_bits + spec.beta.shift)
    return s_p, s_g, den, round_half_up_div(num, den << spec.eta.shift)


def larc_multiplier(lam_q: int, lr_num: int, spec: LarsSpec, lr_shift: int, *, zero_norm: bool) -> int:
    """LARC's m_q = min(round_half_up(lambda_q 2^k / (inv_c lr_num_t)), 2^K_l), 2^K_l where
    ``zero_norm`` (s_P = 0 or s_G = 0) or lr_num_t = 0 (module docstring, "LARC"): the
    multiplier of gamma_t at 2^-K_l, what the buffer relation reads in place of lambda_q."""
    if lam_q < 0 or lr_num < 0:
        raise ValueError(f"larc_multiplier: lambda_q {lam_q} and lr_num {lr_num} must be >= 0")
    one = 1 << spec.trust_bits
    if zero_norm or lr_num == 0:
        return one
    return min(round_half_up_div(lam_q << lr_shift, spec.inv_c * lr_num), one)


def update_multiplier(sum_p2: int, sum_g2: int, lr_num: int, spec: LarsSpec, lr_shift: int) -> int:
    """What multiplies lr_num_t in the buffer relation for the exact squared norms N, M:
    lambda_q (LARS), or LARC's m_q when ``spec.clip`` (``larc_multiplier``)."""
    s_p, s_g, _, lam_q = trust_ratio(sum_p2, sum_g2, spec, lr_shift)
    if not spec.clip:
        return lam_q
    return larc_multiplier(lam_q, lr_num, spec, lr_shift, zero_norm=s_p == 0 or s_g == 0)


def buffer_terms(lam_q: int, lr_num: int, spec: LarsSpec, lr_shift: int) -> tuple[int, int, int, int]:
    """(K, mu', a, a b) of the buffer relation: 2^K v_t + r_t = mu' v_{t-1} + a 2^(k+k_b) G + a b P
    with a = lr_num lambda_q 2^(K-K_l-k-k_b) (LARC: ``lam_q`` is the multiplier m_q)."""
    K = spec.rounding_shift(lr_shift)
    mu = spec.mu.num << (K - spec.mu.shift)
    a = lr_num * lam_q << (K - spec.trust_bits - lr_shift - spec.beta.shift)
    return K, mu, a, a * spec.beta.num
