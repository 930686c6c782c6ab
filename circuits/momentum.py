"""SGD with momentum and weight decay in exact fixed point: hyperparameters, scales, the public
period coefficients, the bit budget and the per-step proof cost of the two designs (issue 15,
item 3; DESIGN sections 4, 9 and 10; shared/reference/nonlinear-gadgets.md sections 0, 11, 12).

This module holds the *semantics* both the prover and the verifier need: it uses the standard
library (and ``circuits.semantics`` for the recipe's widths) only. The witness kernels are in
``zktrain.fixedpoint.momentum``; the decision and its figures in docs/momentum.md.

Semantics (``torch.optim.SGD(momentum=mu, dampening=0, nesterov=False, weight_decay=lam)``)::

    g'_t   = g_t + lam w_t
    buf_t  = mu buf_{t-1} + g'_t          (buf_{-1} = 0, so buf_0 = g'_0 as in torch)
    w_t+1  = w_t - lr_t buf_t

Fixed point (DESIGN section 4): master weights W at 2^(2R+k), weight gradients G = G_Z^T A at
2^(2R), learning rates lr_t = lr_num_t / 2^k with the loss factor (2/(B n_out) for the mean
MSE, 1/B for the mean cross-entropy) folded in. In those *folded* units buf is the torch
buffer divided by the loss factor c, so the weight decay the fixed point applies is
lam_f = lam / c (``fold_weight_decay``): exact whenever 1/c is dyadic (B n_out / 2 and B are
integers). mu = mu_num / 2^k_mu and lam_f = lam_num / 2^k_lam are dyadic, in lowest terms.

Two designs (DESIGN section 10, "Optimizer state"):

(A) per-step rounding. buf lives at 2^(2R) (the gradient's own scale) and is rounded every step
    by K_A = max(k_mu, k + k_lam) bits (k_mu when lam = 0)::

        2^K_A buf_t + r_t = mu_num 2^(K_A - k_mu) buf_{t-1} + 2^K_A G_t + lam_num 2^(K_A - k - k_lam) W_t
        W_{t+1} = W_t - lr_num_t buf_t                       (exact, as in plain SGD)

    r_t in [-2^(K_A - 1), 2^(K_A - 1)) and buf_t (the quotient, reference section 0.3) are
    range-checked: buf is committed (as limbs) every step; W stays *virtual*
    (W_t = W_0 - sum_{s<t} lr_num_s buf_s is linear in the committed buf).

(B) exact within a rounding period of P steps (reference section 11). From the committed
    W_{t0} (at 2^(2R+k)) and buf_{t0-1} (at 2^(2R)), step j = t - t0 of the period keeps both
    exact at growing scales, D = ``growth_bits`` bits per step (D = k_mu without weight decay,
    max(k_mu, k + k_lam) with it: the decay feeds W back into buf, and lr_t carries it back)::

        W_j    at 2^(2R + k + j D),        buf_j at 2^(2R + (j+1) D)
        buf_j   = mu_num 2^(D - k_mu) buf_{j-1} + 2^((j+1) D) G_j + lam_num 2^(D - k - k_lam) W_j
        W_{j+1} = 2^D W_j - lr_num_j buf_j

    so that W_j = a_j W_{t0} + b_j buf_{t0-1} - sum_{s<j} C(j, s) G_{t0+s} with public integer
    weights (``period_coefficients``; a_j = 2^(jD), b_j = 0 and C geometric when lam = 0).
    At the period's end both are rounded by P D bits (two remainders of P D bits) and
    committed. Every product that consumes W_j (Z = A W_j^T, G_Z W_j) then rescales by
    S + j D instead of S = 2R + k: the hidden cost of section 11.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from .semantics import MAX_RELATION_BITS, relation_bounds

#: Widest shift a dyadic hyperparameter may use (keeps the recipe's integers small).
MAX_HYPER_SHIFT = 32
#: Limb width of the range gadget (reference section 0).
LIMB_BITS = 16

Number = Union[int, float, str, Fraction]


def as_fraction(x: Number) -> Fraction:
    """A float through its shortest repr (0.9 means nine tenths), anything else exactly."""
    if isinstance(x, bool):
        raise ValueError(f"expected a number, got {x!r}")
    return Fraction(repr(x)) if isinstance(x, float) else Fraction(x)


# --- dyadic hyperparameters ---------------------------------------------------------------


@dataclass(frozen=True)
class Dyadic:
    """num / 2^shift in lowest terms (num odd, or num = shift = 0): one encoding per value."""

    num: int
    shift: int

    def __post_init__(self) -> None:
        if type(self.num) is not int or type(self.shift) is not int:
            raise ValueError(f"dyadic: num and shift must be integers, got {self.num!r}, {self.shift!r}")
        if not 0 <= self.shift <= MAX_HYPER_SHIFT:
            raise ValueError(f"dyadic: shift must lie in [0, {MAX_HYPER_SHIFT}], got {self.shift}")
        if self.num < 0:
            raise ValueError(f"dyadic: must be >= 0, got {self.num}/2^{self.shift}")
        if (self.num == 0 and self.shift != 0) or (self.num != 0 and self.shift > 0 and self.num % 2 == 0):
            raise ValueError(f"dyadic: {self.num}/2^{self.shift} is not in lowest terms")

    @classmethod
    def reduced(cls, num: int, shift: int) -> Dyadic:
        """num / 2^shift brought to lowest terms."""
        if num == 0:
            return cls(0, 0)
        while shift > 0 and num % 2 == 0:
            num, shift = num // 2, shift - 1
        if shift < 0:
            raise ValueError(f"dyadic: negative shift {shift}")
        return cls(num, shift)

    @classmethod
    def exact(cls, value: Number, what: str = "value") -> Dyadic:
        """``value`` if it is a dyadic rational (within MAX_HYPER_SHIFT), else ValueError."""
        v = as_fraction(value)
        den = v.denominator
        if den & (den - 1):
            raise ValueError(f"{what}: {value!r} is not a dyadic rational (denominator {den})")
        return cls.reduced(v.numerator, den.bit_length() - 1)

    @property
    def value(self) -> Fraction:
        return Fraction(self.num, 1 << self.shift)


def quantize(value: Number, shift: int, what: str = "value") -> Dyadic:
    """round_half_up(value 2^shift) / 2^shift, in lowest terms. Its error is at most 2^-(shift+1)."""
    v = as_fraction(value)
    if v < 0:
        raise ValueError(f"{what}: must be >= 0, got {value!r}")
    if not 0 <= shift <= MAX_HYPER_SHIFT:
        raise ValueError(f"{what}: shift must lie in [0, {MAX_HYPER_SHIFT}], got {shift}")
    return Dyadic.reduced(math.floor(v * (1 << shift) + Fraction(1, 2)), shift)


def fold_weight_decay(lam: Dyadic, inverse_loss_scale: Number) -> Dyadic:
    """The decay in folded units, lam / c, from torch's lam and 1/c (B n_out / 2 for the mean MSE,
    B for the mean cross-entropy): exact, or ValueError when 1/c is not dyadic."""
    inv = Dyadic.exact(inverse_loss_scale, "inverse loss scale")
    return Dyadic.exact(lam.value * inv.value, "folded weight decay")


@dataclass(frozen=True)
class MomentumSpec:
    """mu and the folded weight decay lam_f, both dyadic (module docstring)."""

    mu: Dyadic
    lam: Dyadic = Dyadic(0, 0)

    def __post_init__(self) -> None:
        if not isinstance(self.mu, Dyadic) or not isinstance(self.lam, Dyadic):
            raise ValueError("momentum: mu and lam must be Dyadic values")
        if self.mu.value >= 1:
            raise ValueError(f"momentum: mu must lie in [0, 1), got {self.mu.num}/2^{self.mu.shift}")

    def rounding_shift(self, lr_shift: int) -> int:
        """K_A of design (A): the shift of buf's per-step rescale."""
        return max(self.mu.shift, lr_shift + self.lam.shift) if self.lam.num else self.mu.shift

    def growth_bits(self, lr_shift: int) -> int:
        """D of design (B): scale bits W and buf gain per step within a period."""
        return self.rounding_shift(lr_shift)


def spec_from_torch(
    momentum: Number,
    weight_decay: Number = 0,
    *,
    dampening: Number = 0,
    nesterov: bool = False,
    inverse_loss_scale: Number = 1,
    mu_shift: int = 15,
    lam_shift: int = 20,
    max_relative_error: Number = Fraction(1, 512),
) -> MomentumSpec:
    """The spec for torch.optim.SGD's options: mu and lam quantized (``quantize``), lam folded.

    Refused with a ValueError naming the option: ``nesterov=True``, ``dampening != 0`` (other
    semantics), mu outside [0, 1) before or after quantization, a negative weight decay, and a
    quantization whose relative error exceeds ``max_relative_error`` (raise the shift).
    """
    if nesterov:
        raise ValueError("nesterov: only nesterov=False is supported (buf_t = mu buf_{t-1} + g'_t, w -= lr buf_t)")
    if as_fraction(dampening) != 0:
        raise ValueError(f"dampening: only dampening=0 is supported, got {dampening!r}")
    mu_f, lam_f = as_fraction(momentum), as_fraction(weight_decay)
    if not 0 <= mu_f < 1:
        raise ValueError(f"momentum: must lie in [0, 1), got {momentum!r}")
    if lam_f < 0:
        raise ValueError(f"weight_decay: must be >= 0, got {weight_decay!r}")
    out = []
    for name, v, shift in (("momentum", mu_f, mu_shift), ("weight_decay", lam_f, lam_shift)):
        q = quantize(v, shift, name)
        if v and abs(q.value - v) > as_fraction(max_relative_error) * v:
            raise ValueError(
                f"{name}: {v} quantized to {q.num}/2^{q.shift} has relative error "
                f"{float(abs(q.value - v) / v):.3g} > {float(as_fraction(max_relative_error)):.3g}; raise its shift"
            )
        if name == "momentum" and q.value >= 1:
            raise ValueError(f"momentum: {momentum!r} quantizes to {q.num}/2^{q.shift} >= 1")
        out.append(q)
    return MomentumSpec(out[0], fold_weight_decay(out[1], inverse_loss_scale))


#: Run files and ``zktrain.Recorder`` quantize torch's floats (``recipe_hyperparameters``): mu at
#: 2^-MU_SHIFT, lam at the smallest shift >= LAM_MIN_SHIFT (at most MAX_HYPER_SHIFT) whose
#: relative error is at most HYPER_RELATIVE_ERROR (docs/momentum.md section 1).
MU_SHIFT = 15
LAM_MIN_SHIFT = 20
HYPER_RELATIVE_ERROR = Fraction(1, 512)


def quantization_rule() -> str:
    """``recipe_hyperparameters``' rule, in words, for error messages and docs."""
    return (f"momentum rounded half up to a multiple of 2^-{MU_SHIFT}; weight_decay to the coarsest "
            f"2^-s, s in [{LAM_MIN_SHIFT}, {MAX_HYPER_SHIFT}], within relative error 1/{HYPER_RELATIVE_ERROR.denominator}")


def recipe_hyperparameters(
    momentum: Number, weight_decay: Number = 0, *, dampening: Number = 0, nesterov: bool = False
) -> tuple[Dyadic, Dyadic]:
    """torch's (mu, lam) as the recipe's dyadics ``train.momentum``, ``train.weight_decay``
    (``quantization_rule``; lam is stored as torch's, unfolded: the verifier folds it,
    ``fold_weight_decay``). ValueError naming the option (``momentum:``, ``weight_decay:``,
    ``nesterov:``, ``dampening:``) as ``spec_from_torch``'s, which checks the same options."""
    mu = spec_from_torch(momentum, 0, dampening=dampening, nesterov=nesterov, mu_shift=MU_SHIFT,
                         max_relative_error=HYPER_RELATIVE_ERROR).mu
    lam_f = as_fraction(weight_decay)
    if lam_f < 0:
        raise ValueError(f"weight_decay: must be >= 0, got {weight_decay!r}")
    for shift in range(LAM_MIN_SHIFT, MAX_HYPER_SHIFT + 1):
        lam = quantize(lam_f, shift, "weight_decay")
        if abs(lam.value - lam_f) <= HYPER_RELATIVE_ERROR * lam_f:
            return mu, lam
    raise ValueError(
        f"weight_decay: {weight_decay!r} is too small to quantize: at 2^-{MAX_HYPER_SHIFT} its relative error "
        f"{float(abs(lam.value - lam_f) / lam_f):.3g} exceeds 1/{HYPER_RELATIVE_ERROR.denominator} ({quantization_rule()})"
    )


# --- design (B): the public coefficients of a period --------------------------------------


@dataclass(frozen=True)
class PeriodCoefficients:
    """Integer weights of one period (module docstring, design B), for j = 0..P:

        W_j   (at 2^(2R+k+jD))    = a[j] W_t0 + b[j] buf_t0-1 - sum_{s<j} c[j][s] G_t0+s
        buf_j (at 2^(2R+(j+1)D))  = ba[j] W_t0 + bb[j] buf_t0-1 + sum_{s<=j} bc[j][s] G_t0+s  (j < P)
    """

    growth: int
    a: tuple[int, ...]
    b: tuple[int, ...]
    c: tuple[tuple[int, ...], ...]
    ba: tuple[int, ...]
    bb: tuple[int, ...]
    bc: tuple[tuple[int, ...], ...]


def period_coefficients(lr_nums: Sequence[int], spec: MomentumSpec, lr_shift: int) -> PeriodCoefficients:
    """The weights C(t, s) of a period of len(lr_nums) steps, exactly (Python ints), by running
    the period's integer recurrence on linear forms (W_t0, buf_t0-1, G_0..G_P-1). The verifier
    evaluates the weights' multilinear extension from these in O(P^2) (reference section 11)."""
    P, D = len(lr_nums), spec.growth_bits(lr_shift)
    m, n, k_mu, k_lam = spec.mu.num, spec.lam.num, spec.mu.shift, spec.lam.shift
    for lr in lr_nums:
        if type(lr) is not int or lr < 0:
            raise ValueError(f"lr_num: must be integers >= 0, got {lr!r}")
    # A linear form is a list [coef of W_t0, coef of buf_t0-1, coef of G_0, ..., G_P-1].
    w = [1, 0] + [0] * P
    buf = [0, 1] + [0] * P
    a, b, c, ba, bb, bc = [1], [0], [()], [], [], []
    for j, lr in enumerate(lr_nums):
        mu_mult = m << (D - k_mu) if m else 0
        lam_mult = n << (D - lr_shift - k_lam) if n else 0
        buf = [mu_mult * x + lam_mult * y for x, y in zip(buf, w)]
        buf[2 + j] += 1 << ((j + 1) * D)
        w = [(x << D) - lr * y for x, y in zip(w, buf)]
        ba.append(buf[0])
        bb.append(buf[1])
        bc.append(tuple(buf[2 : 3 + j]))
        a.append(w[0])
        b.append(w[1])
        c.append(tuple(-x for x in w[2 : 3 + j]))
    return PeriodCoefficients(D, tuple(a), tuple(b), tuple(c), tuple(ba), tuple(bb), tuple(bc))


def _eq_table(u: Sequence[int], modulus: int) -> list[int]:
    """eq(u, x) for x in {0,1}^n, index sum_j x_j 2^j (little-endian, DESIGN section 9)."""
    table = [1]
    for uj in u:
        table = [t * (1 - uj) % modulus for t in table] + [t * uj % modulus for t in table]
    return table


def period_weight_mles(co: PeriodCoefficients, tau: Sequence[int], rho: Sequence[int], modulus: int) -> tuple[int, int, int]:
    """(a~(tau), b~(tau), C~(tau, rho)) mod ``modulus``: the multilinear extensions of a_j, b_j and
    C(j, s) over the steps j, s < P of a period, padded with zeros to 2^len(tau) x 2^len(rho)
    (rows j = P..: zero; C(j, s) = 0 for s >= j). The verifier's side of the reduction of a claim
    W~(tau, x) to a_~ W~_t0(x) + b~ buf~_t0-1(x) - sum_rho C~(tau, rho) G~(rho, x): O(P^2)."""
    P = len(co.c) - 1
    if P > 1 << len(tau) or P > 1 << len(rho):
        raise ValueError(f"period of {P} steps does not fit 2^{len(tau)} x 2^{len(rho)}")
    et, er = _eq_table(tau, modulus), _eq_table(rho, modulus)
    a = sum(et[j] * co.a[j] for j in range(P)) % modulus
    b = sum(et[j] * co.b[j] for j in range(P)) % modulus
    c = sum(et[j] * sum(er[s] * x for s, x in enumerate(co.c[j])) for j in range(P)) % modulus
    return a, b, c


# --- design (B): the bit budget -----------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What the bit budget and the cost model read of a recipe: widths, batch and quantization."""

    widths: tuple[int, ...]
    batch: int
    frac_bits: int = 16
    lr_shift: int = 16
    value_bits: int = 32
    weight_bits: int = 56
    buf_bits: int = 48
    bias: bool = True

    @property
    def rescale_bits(self) -> int:
        return 2 * self.frac_bits + self.lr_shift

    @property
    def parameters(self) -> int:
        w = self.widths
        return sum(o * i + (o if self.bias else 0) for i, o in zip(w, w[1:]))

    @property
    def forward_rescales(self) -> int:
        """Rescaled values per step that consume W: Z' of every layer."""
        return self.batch * sum(self.widths[1:])

    @property
    def backward_rescales(self) -> int:
        """G'_A of every hidden layer (the input layer's is not computed)."""
        return self.batch * sum(self.widths[1:-1])


def gradient_bounds(recipe) -> dict[str, int]:
    """The adversarial bounds ``circuits.semantics.relation_bounds`` derives from the recipe's
    declared widths (any witness the range checks admit), that the period budget needs."""
    rb = relation_bounds(recipe)
    return {k: rb[k] for k in ("activation", "gradient", "output_gradient", "weight_gradient", "bias_gradient")}


def period_relation_bounds(
    shape: Shape, spec: MomentumSpec, lr_num: int, period: int, grads: dict[str, int]
) -> dict[str, int]:
    """The largest magnitude of every integer of design (B)'s relations over a period of
    ``period`` steps at the constant ``lr_num`` (DESIGN section 9's accounting, for any witness the
    range checks admit: W_t0 and buf_t0-1 in their declared widths, gradients at ``grads``'
    bounds, e.g. ``gradient_bounds(recipe)``):

    - ``weight``/``buffer``: the virtual W_j = a_j W_t0 + b_j buf - sum C G and buf_j;
    - ``product``: A W_j^T + 2^R b_j = 2^(S+jD) Z' + r (largest fan-in);
    - ``backward_product``: G_Z W_j = 2^(S+jD) G'_A + r (largest fan-out);
    - ``boundary``: W_P and buf_P-1 = 2^(P D) x rounded + r at the period's end.
    """
    if period < 1:
        raise ValueError(f"period: must be >= 1, got {period}")
    co = period_coefficients([lr_num] * period, spec, shape.lr_shift)
    R = shape.frac_bits
    w0, b0 = 1 << (shape.weight_bits - 1), 1 << (shape.buf_bits - 1)
    g = max(grads["weight_gradient"], grads["bias_gradient"])  # both at 2^(2R)
    w_j = [abs(co.a[j]) * w0 + abs(co.b[j]) * b0 + sum(abs(x) for x in co.c[j]) * g for j in range(period + 1)]
    buf_j = [abs(co.ba[j]) * w0 + abs(co.bb[j]) * b0 + sum(abs(x) for x in co.bc[j]) * g for j in range(period)]
    fan_in, fan_out = max(shape.widths[:-1]), max(shape.widths[1:])
    a_max, gz_max = grads["activation"], max(grads["gradient"], grads["output_gradient"])
    q = 1 << (shape.value_bits - 1)
    S, D = shape.rescale_bits, co.growth
    # The bias enters Z as 2^R b_j; rescaled side: 2^(S+jD) Z' + r.
    product = max(
        max(fan_in * a_max * w_j[j] + (w_j[j] << R), (q << (S + j * D)) + (1 << (S + j * D - 1))) for j in range(period)
    )
    backward = max(
        max(fan_out * gz_max * w_j[j], (q << (S + j * D)) + (1 << (S + j * D - 1))) for j in range(period)
    )
    return {
        "weight": max(w_j),
        "buffer": max(buf_j),
        "product": product,
        "backward_product": backward,
        "boundary": max(w_j[period], buf_j[period - 1]) + (1 << max(0, period * D - 1)),
    }


def check_period(shape: Shape, spec: MomentumSpec, lr_num: int, period: int, grads: dict[str, int]) -> None:
    """Refuse a period whose relations could reach 2^MAX_RELATION_BITS (DESIGN section 9)."""
    for kind, bound in period_relation_bounds(shape, spec, lr_num, period, grads).items():
        if bound >= 1 << MAX_RELATION_BITS:
            raise ValueError(
                f"momentum period {period}: {kind} values could reach 2^{bound.bit_length() - 1} or more, "
                f"beyond 2^{MAX_RELATION_BITS}: a relation mod r would not imply it over the integers "
                f"(growth {spec.growth_bits(shape.lr_shift)} bits per step)"
            )


def max_period(shape: Shape, spec: MomentumSpec, lr_num: int, grads: dict[str, int], limit: int = 4096) -> int:
    """The largest P that ``check_period`` accepts (0 if none; ``limit`` when growth is 0)."""
    if spec.growth_bits(shape.lr_shift) == 0:
        return limit
    best = 0
    for period in range(1, limit + 1):
        try:
            check_period(shape, spec, lr_num, period, grads)
        except ValueError:
            return best
        best = period
    return best


# --- cost per step, in the proof's units --------------------------------------------------


def limb_slots(width: int, signed: bool) -> tuple[int, int]:
    """(limbs, padded slots) of a range check of ``width`` bits, the rule of
    ``circuits.limbs.LimbDecomposition`` extended past 63 bits: a signed value has
    ceil((w-1)/16) limbs plus a sign slot, an unsigned (offset) one ceil(w/16); slots pad to a
    power of two. Width 0 costs nothing."""
    if width <= 0:
        return 0, 0
    limbs = -(-(width - 1) // LIMB_BITS) + 1 if signed else -(-width // LIMB_BITS)
    if signed and width == 1:
        limbs = 1
    return limbs, 1 << (limbs - 1).bit_length()


@dataclass(frozen=True)
class StepCost:
    """Per-step (amortized) additions over plain SGD: limbs committed (nonzero 16-bit entries),
    padded slots (entries of the committed limb matrices; logUp leaves), and remainder bits."""

    design: str
    period: int
    limbs: float
    slots: float
    detail: dict


def cost_per_step(shape: Shape, spec: MomentumSpec, design: str, period: int = 1) -> StepCost:
    """The proof cost momentum adds to one step of plain SGD (reference sections 11, 12).

    (A): every parameter commits buf (``buf_bits`` signed) and its K_A-bit remainder, every step.
    (B): every parameter commits W_t0 (``weight_bits``), buf_t0-1 and two P D-bit remainders once
    per period (amortized over P), and every rescale that consumes W_j (forward Z', backward G'_A)
    checks S + j D bits instead of S (averaged over j = 0..P-1).
    """
    n = shape.parameters
    if design == "A":
        K = spec.rounding_shift(shape.lr_shift)
        parts = {"buf": limb_slots(shape.buf_bits, True), "buf remainder": limb_slots(K, False)}
        detail = {name: (n * l, n * s) for name, (l, s) in parts.items()}
        limbs = sum(v[0] for v in detail.values())
        slots = sum(v[1] for v in detail.values())
        return StepCost("A", 1, limbs, slots, {"K": K, **detail})
    if design != "B":
        raise ValueError(f"design: must be 'A' or 'B', got {design!r}")
    D, S = spec.growth_bits(shape.lr_shift), shape.rescale_bits
    parts = {
        "W checkpoint": limb_slots(shape.weight_bits, True),
        "buf checkpoint": limb_slots(shape.buf_bits, True),
        "W remainder": limb_slots(period * D, False),
        "buf remainder": limb_slots(period * D, False),
    }
    detail = {name: (n * l / period, n * s / period) for name, (l, s) in parts.items()}
    base = limb_slots(S, False)
    extra = [tuple(x - y for x, y in zip(limb_slots(S + j * D, False), base)) for j in range(period)]
    avg_l = sum(e[0] for e in extra) / period
    avg_s = sum(e[1] for e in extra) / period
    rescales = shape.forward_rescales + shape.backward_rescales
    detail["hidden: wider rescale remainders"] = (rescales * avg_l, rescales * avg_s)
    limbs = sum(v[0] for v in detail.values())
    slots = sum(v[1] for v in detail.values())
    return StepCost("B", period, limbs, slots, {"D": D, "extra remainder bits (avg)": D * (period - 1) / 2, **detail})
