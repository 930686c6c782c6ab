"""The exact fixed-point semantics of MLP training, as pure integer functions (DESIGN section 4).

Prover and verifier share this module: it defines what one training step *is* (rescaling,
scales, declared widths, the folded MSE learning rate), derives the bit bound of every relation
the circuit proves (DESIGN section 9), and generates the seeded initial weights the verifier
recomputes. It uses the standard library and numpy only.

Scales (a tensor T stands for the reals T / 2^scale):

    inputs X, activations A, pre-activations Z', gradients G'_A, G_Z    2^R
    master weights W and biases b                                      2^(2R+k)
    products Z = A W^T + 2^R b and G_Z W, before rescaling              2^(3R+k)
    weight and bias gradients G_W = G_Z^T A, G_b = 2^R 1^T G_Z          2^(2R)

with R = ``frac_bits`` and k = ``lr_shift``. One rescale by S = 2R + k per matmul brings a
product back to 2^R, and ``W_{t+1} = W_t - lr_num_t G_W`` is exact: lr_num_t / 2^k times G_W
at 2^(2R) lands on 2^(2R+k) with no rounding. The bias is a weight on a constant input 1.0
(= 2^R at activation scale): it sits at the weight scale, enters Z as 2^R b (so at the product
scale 2^(3R+k), as DESIGN section 4 asks, while fitting in int64), and updates the same way.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:  # the recipe imports this module; only type hints go the other way
    from .recipe import Recipe

#: Every integer a relation can produce must stay below 2^MAX_RELATION_BITS in magnitude, so
#: that a relation holding mod r (255 bits) also holds over the integers (DESIGN section 9).
MAX_RELATION_BITS = 250


def refuse_wide_identities(name: str, bounds: dict[str, int], widths: str = "") -> None:
    """A gadget's constructor refusal: ValueError if an identity's bound (its bits, ``bounds``
    by label) passes 2^MAX_RELATION_BITS for some witness the declared widths admit (``widths``
    says which, in words, for the message)."""
    worst = max(bounds, key=bounds.get)
    if bounds[worst] > MAX_RELATION_BITS:
        admit = f" ({widths})" if widths else ""
        raise ValueError(f"{name}: identity {worst} could reach 2^{bounds[worst] - 1} or more for a witness the "
                         f"declared widths admit{admit}, beyond 2^{MAX_RELATION_BITS}: a relation mod r would not "
                         f"imply it over the integers")

IntLike = Union[int, np.ndarray]


# --- rescaling ---------------------------------------------------------------------------


def rescale(z: IntLike, k: int) -> tuple[IntLike, IntLike]:
    """``(q, r)`` with q = floor((z + 2^(k-1)) / 2^k) (round half up) and r = z - 2^k q.

    The remainder lies in [-2^(k-1), 2^(k-1)) (DESIGN section 4; zkDL's rescaling, reference
    notes section 2). Works on Python ints and on int64 arrays; arrays must leave headroom for
    z + 2^(k-1) (the engine's wide operands go through ``zktrain.fixedpoint.exact`` instead).
    """
    if k < 1:
        raise ValueError(f"rescale shift must be >= 1, got {k}")
    q = (z + (1 << (k - 1))) >> k
    return q, z - (q << k)


# --- scales and widths -------------------------------------------------------------------


@dataclass(frozen=True)
class Scales:
    """Binary exponents of every scale of the semantics (see the module docstring)."""

    frac_bits: int  # R
    lr_shift: int  # k

    @property
    def activation(self) -> int:
        return self.frac_bits

    @property
    def weight(self) -> int:
        """Master weights and biases: 2^(2R+k)."""
        return 2 * self.frac_bits + self.lr_shift

    @property
    def product(self) -> int:
        """A W^T and G_Z W before rescaling: 2^(3R+k)."""
        return 3 * self.frac_bits + self.lr_shift

    @property
    def weight_gradient(self) -> int:
        """G_W = G_Z^T A and G_b: 2^(2R)."""
        return 2 * self.frac_bits

    @property
    def rescale_shift(self) -> int:
        """S = 2R + k: product scale minus activation scale; also the remainder's width."""
        return self.product - self.activation


@dataclass(frozen=True)
class Width:
    """A declared two's-complement or unsigned width, as an inclusive integer interval.

    ``offset`` shifts the checked quantity: a hidden pre-activation Z' is declared through
    Z' - 1 (``offset=1``), whose sign bit is the ReLU indicator [Z' <= 0].
    """

    bits: int
    signed: bool
    offset: int = 0

    @property
    def lo(self) -> int:
        return self.offset - (1 << (self.bits - 1)) if self.signed else self.offset

    @property
    def hi(self) -> int:
        top = (1 << (self.bits - 1)) if self.signed else (1 << self.bits)
        return self.offset + top - 1

    def contains(self, value: int) -> bool:
        return self.lo <= value <= self.hi


def declared_widths(recipe: Recipe) -> dict[str, Width]:
    """Every width the engine enforces and the circuit range-checks, by tensor kind.

    ``input``/``label``: the committed data; ``hidden_pre_activation``: Z' of a ReLU layer via
    Z' - 1 (DESIGN section 4: decomposing Z' - 1 puts [Z' <= 0] in the sign bit);
    ``output``: Z'_L; ``gradient``: G'_A; ``remainder``: both rescale remainders, in
    [-2^(S-1), 2^(S-1)); ``weight``: master weights and biases at every step (W_0 and b_0 are
    range-checked against it when committed).
    """
    q, d = recipe.quant, recipe.data
    widths = {
        "input": Width(d.input_bits, d.input_signed),
        "label": Width(d.label_bits, signed=False),
        "hidden_pre_activation": Width(q.value_bits, signed=True, offset=1),
        "output": Width(q.value_bits, signed=True),
        "gradient": Width(q.value_bits, signed=True),
        "remainder": Width(q.rescale_bits, signed=True),
        "weight": Width(q.weight_bits, signed=True),
    }
    if recipe.train.optimizer == "lamb":  # circuits.lamb: the moments M (buf_bits) and V (62 bits)
        widths["momentum_buffer"] = Width(recipe.train.buf_bits, signed=True)
        widths["second_moment"] = Width(62, signed=False)
    spec = momentum_spec(recipe) or lars_spec(recipe)
    if spec is not None:
        # ``train.optimizer: sgd_momentum`` (docs/momentum.md section 2, design A) and ``lars``
        # (``circuits.lars``): buf_t of every weight and bias, and the remainder of its rescale
        # by K, in [-2^(K-1), 2^(K-1)).
        widths["momentum_buffer"] = Width(recipe.train.buf_bits, signed=True)
        widths["momentum_remainder"] = Width(spec.rounding_shift(q.lr_shift), signed=True)
    return widths


def momentum_spec(recipe: Recipe):
    """The ``circuits.momentum.MomentumSpec`` of an ``optimizer: sgd_momentum`` recipe (None for
    plain SGD): mu, and the decay in folded units lam_f = lam / c, c = 2 / (B n_out) for the mean
    MSE or 1 / B for the mean cross-entropy (docs/momentum.md section 1, ``fold_weight_decay``)."""
    t = recipe.train
    if t.optimizer != "sgd_momentum":
        return None
    from .momentum import MomentumSpec, fold_weight_decay  # circuits.momentum imports this module

    return MomentumSpec(t.momentum, fold_weight_decay(t.weight_decay, inverse_loss_scale(recipe)))


def inverse_loss_scale(recipe: Recipe) -> Fraction:
    """1/c: B n_out / 2 for the mean MSE, B for the mean cross-entropy (the loss factor c is
    folded into lr_num, DESIGN section 4)."""
    t = recipe.train
    return Fraction(t.batch_size * recipe.model.widths[-1], 2) if t.loss == "mse" else Fraction(t.batch_size)


def integer_inverse_loss_scale(recipe: Recipe) -> int:
    """1/c as the integer LARS's and LAMB's eps and decay need (ValueError otherwise)."""
    inv = inverse_loss_scale(recipe)
    if inv.denominator != 1:
        raise ValueError(f"the loss factor's inverse {inv} is not an integer (batch 1 with an odd number of outputs)")
    return int(inv)


def lars_spec(recipe: Recipe):
    """The ``circuits.lars.LarsSpec`` of an ``optimizer: lars`` recipe (None otherwise): the
    recipe's dyadics, the weight decay folded by 1/c (which must be an integer), eps as E, and
    LARC's clipping when ``train.clip``."""
    t, q = recipe.train, recipe.quant
    if t.optimizer != "lars":
        return None
    from .lars import LarsSpec, eps_integer  # circuits.lars imports circuits.momentum, which imports this module
    from .momentum import fold_weight_decay

    inv = integer_inverse_loss_scale(recipe)
    beta = fold_weight_decay(t.weight_decay, inv)
    eps = eps_integer(t.eps.value, q.frac_bits, q.lr_shift, beta.shift, inv)
    return LarsSpec(t.momentum, beta, t.trust_coefficient, eps, inv, clip=t.clip)


def lamb_spec(recipe: Recipe):
    """The ``circuits.lamb.LambSpec`` of an ``optimizer: lamb`` recipe (None otherwise): 1 - beta
    exactly from the recipe's dyadic betas, the decay unfolded (it multiplies x), eps as E,
    adaptation when the decay is nonzero (``zktrain.optim.LAMB``'s default)."""
    t, q = recipe.train, recipe.quant
    if t.optimizer != "lamb":
        return None
    from .lamb import LambSpec, eps_integer  # circuits.lamb imports circuits.momentum, which imports this module
    from .momentum import Dyadic

    inv = integer_inverse_loss_scale(recipe)
    complements = [Dyadic.exact(1 - b.value, "1 - beta") for b in (t.beta1, t.beta2)]
    return LambSpec(*complements, t.weight_decay, eps_integer(t.eps.value, q.frac_bits, inv), inv,
                    adapt=t.weight_decay.num != 0)


def norm_spec(recipe: Recipe):
    """The ``circuits.ghost_bn.GhostBnSpec`` of a ``model.norm: ghost_bn`` recipe (None without
    normalization), shared by every hidden layer: the batch, v, the momentum, eps_int =
    bn_eps 2^(2R) (exact: the recipe holds a multiple of 2^-(2R)) and the quant widths
    (docs/ghost_bn.md section 1). The spec's own ValueError names what does not fit."""
    m, q = recipe.model, recipe.quant
    if m.norm != "ghost_bn":
        return None
    from .ghost_bn import GhostBnSpec  # circuits.ghost_bn imports this module

    eps_int = m.bn_eps.num << (2 * q.frac_bits - m.bn_eps.shift)
    return GhostBnSpec(recipe.train.batch_size, m.virtual_batch_size, m.bn_momentum, eps_int, q.frac_bits, q.lr_shift,
                       q.value_bits, q.weight_bits)


def seeded_norms(recipe: Recipe) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None:
    """The normalization state every ``ghost_bn`` run starts from (None without normalization):
    per hidden layer l = 1..L-1 of d_l features, (gamma, beta, running mean, running var) =
    (1, 0, 0, 1) as torch initializes them, at 2^S, 2^S, 2^(2R), 2^(2R)
    (``circuits.ghost_bn.initial_parameters``)."""
    spec = norm_spec(recipe)
    if spec is None:
        return None
    from .ghost_bn import initial_parameters

    return [initial_parameters(spec, width) for width in recipe.model.widths[1:-1]]


# --- learning rate ------------------------------------------------------------------------


def _as_fraction(lr: Union[int, float, str, Fraction]) -> Fraction:
    # A float goes through its shortest repr, so 0.1 means one tenth, not 0.1000000000000000055.
    value = Fraction(repr(lr)) if isinstance(lr, float) else Fraction(lr)
    if value < 0:
        raise ValueError(f"learning rate must be >= 0, got {lr!r}")
    return value


def mse_lr_num(lr: Union[int, float, str, Fraction], batch_size: int, outputs: int, lr_shift: int) -> int:
    """The integer lr_num for a float SGD learning rate ``lr`` on the *mean* MSE loss.

    The mean MSE over B x n_out entries has gradient 2/(B n_out) (Y_hat - Y); the engine uses
    G_out = Y_hat - Y exactly and folds the factor into the learning rate (DESIGN section 4):
    lr_num = round_half_up(lr * 2 / (B n_out) * 2^k).
    """
    exact = _as_fraction(lr) * 2 * (1 << lr_shift) / (batch_size * outputs)
    return math.floor(exact + Fraction(1, 2))


def mse_torch_lr(lr_num: int, batch_size: int, outputs: int, lr_shift: int) -> Fraction:
    """The float SGD learning rate on ``nn.MSELoss()`` (mean) that lr_num stands for, exactly:
    lr_num / 2^k * B n_out / 2 (the inverse of ``mse_lr_num`` without its rounding)."""
    return Fraction(lr_num * batch_size * outputs, 2 << lr_shift)


def ce_lr_num(lr: Union[int, float, str, Fraction], batch_size: int, lr_shift: int) -> int:
    """The integer lr_num for a float SGD learning rate ``lr`` on the *mean* softmax
    cross-entropy (``nn.CrossEntropyLoss()``), the analogue of ``mse_lr_num``.

    The mean over B rows has gradient (p - y)/B in the logits; the engine uses G_out = p - Y
    at 2^R exactly (``circuits.softmax``, R_p = R) and folds the 1/B into the learning rate:
    lr_num = round_half_up(lr / B * 2^k).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    exact = _as_fraction(lr) * (1 << lr_shift) / batch_size
    return math.floor(exact + Fraction(1, 2))


def ce_torch_lr(lr_num: int, batch_size: int, lr_shift: int) -> Fraction:
    """The float SGD learning rate on ``nn.CrossEntropyLoss()`` (mean) that lr_num stands for,
    exactly: lr_num / 2^k * B (the inverse of ``ce_lr_num`` without its rounding)."""
    return Fraction(lr_num * batch_size, 1 << lr_shift)


def lr_num_for(loss: str, lr: Union[int, float, str, Fraction], batch_size: int, outputs: int, lr_shift: int) -> int:
    """``mse_lr_num`` or ``ce_lr_num`` by the recipe's ``train.loss``."""
    if loss == "mse":
        return mse_lr_num(lr, batch_size, outputs, lr_shift)
    if loss == "cross_entropy":
        return ce_lr_num(lr, batch_size, lr_shift)
    raise ValueError(f"train.loss: must be one of ['mse', 'cross_entropy'], got {loss!r}")


def torch_lr_for(loss: str, lr_num: int, batch_size: int, outputs: int, lr_shift: int) -> Fraction:
    """``mse_torch_lr`` or ``ce_torch_lr`` by the recipe's ``train.loss``."""
    if loss == "mse":
        return mse_torch_lr(lr_num, batch_size, outputs, lr_shift)
    if loss == "cross_entropy":
        return ce_torch_lr(lr_num, batch_size, lr_shift)
    raise ValueError(f"train.loss: must be one of ['mse', 'cross_entropy'], got {loss!r}")


def softmax_sizing(recipe: Recipe, padded_classes: bool = False):
    """The ``circuits.softmax.SoftmaxSizing`` of a cross-entropy recipe: C = data.classes real
    classes, over C columns (the engine) or the padded 2^ceil(log2 C) (the circuit)."""
    from .layout import padded
    from .softmax import SoftmaxSizing  # imports circuits.exp, which imports this module

    classes, q = recipe.data.classes, recipe.quant
    return SoftmaxSizing(classes, padded(classes) if padded_classes else classes, q.frac_bits, q.value_bits,
                         rows=recipe.train.batch_size)


# --- seeded initial weights ---------------------------------------------------------------

_INIT_DOMAIN = b"zktrain.init.v1"


def init_bound(fan_in: int, scale_bits: int) -> int:
    """floor(2^scale_bits / sqrt(fan_in)): PyTorch's default ``nn.Linear`` range at that scale.

    ``nn.Linear`` draws weights with kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), and its bias from the same interval; isqrt keeps the bound exact.
    """
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return math.isqrt((1 << (2 * scale_bits)) // fan_in)


def _uniform_symmetric(label: bytes, count: int, bound: int) -> np.ndarray:
    """``count`` integers uniform in [-bound, bound] from the SHAKE256 stream of ``label``.

    Candidates are consecutive little-endian 64-bit words of the stream masked to the bit
    length of 2 bound + 1; value i is the i-th candidate below 2 bound + 1, minus bound
    (rejection sampling, so exactly uniform). SHAKE256 is an XOF: a longer digest extends the
    shorter one, so the result does not depend on how many bytes are drawn.
    """
    span = 2 * bound + 1
    bits = span.bit_length()
    if bits > 63:
        raise ValueError(f"init bound {bound} needs more than 63 bits")
    mask = np.uint64((1 << bits) - 1)
    # Acceptance is span / 2^bits > 1/2; draw about 5% more than expected, plus slack.
    words = count * (1 << bits) // span + count // 20 + 64
    while True:
        stream = hashlib.shake_256(label).digest(8 * words)
        candidates = np.frombuffer(stream, dtype="<u8") & mask
        accepted = candidates[candidates < np.uint64(span)]
        if accepted.size >= count:
            return accepted[:count].astype(np.int64) - bound
        words *= 2


def seeded_parameters(recipe: Recipe) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """W_0 and b_0 of ``init: seeded`` (DESIGN section 4), identical on every machine.

    Layer l (1-based) has W_l of shape [d_l, d_{l-1}] (PyTorch's [out, in]) and b_l of shape
    [d_l], at the master scale 2^(2R+k), uniform on [-init_bound(d_{l-1}), init_bound(d_{l-1})]:
    PyTorch's default ``nn.Linear`` initialization, quantized. Each tensor has its own SHAKE256
    stream, labelled by domain, kind, layer and the recipe's seed.
    """
    scale = Scales(recipe.quant.frac_bits, recipe.quant.lr_shift).weight
    widths = recipe.model.widths
    weights: list[np.ndarray] = []
    biases: list[np.ndarray | None] = []
    for layer in range(1, len(widths)):
        fan_in, fan_out = widths[layer - 1], widths[layer]
        bound = init_bound(fan_in, scale)

        def stream(kind: bytes, count: int) -> np.ndarray:
            label = b"|".join(
                [_INIT_DOMAIN, kind, layer.to_bytes(4, "little"), recipe.seed.to_bytes(8, "little")]
            )
            return _uniform_symmetric(label, count, bound)

        weights.append(stream(b"weight", fan_out * fan_in).reshape(fan_out, fan_in))
        biases.append(stream(b"bias", fan_out) if recipe.model.bias else None)
    return weights, biases


# --- bit bounds of every relation -----------------------------------------------------------


def relation_bounds(recipe: Recipe) -> dict[str, int]:
    """The largest magnitude any integer of each tensor kind can take, over all layers and steps.

    Derived from the declared widths alone, for *any* witness the range checks admit (not the
    honest run): a prover may choose every range-checked value adversarially, so the virtual
    tensors built from them are bounded by worst cases. With q = 2^(Q-1), S = 2R + k, B the
    batch, d_l the widths and Sigma the sum of lr_num over all steps:

    - ``activation``: A_l = (1 - s) Z' <= q (Z' - 1 < q for hidden layers); A_0 = X.
    - ``pre_activation``: |Z'_l| <= q; ``remainder``: 2^(S-1).
    - ``output_gradient``: |G_out| = |Y_hat - Y| <= q + max Y; ``gradient``: |G_Z|, |G'_A| <= q.
    - ``weight_gradient``: |G_W,l| <= B max|G_Z,l| max A_{l-1}; ``bias_gradient``: B 2^R max|G_Z,l|.
    - ``weight``: |W_t,l| <= |W_0,l| + Sigma max|G_W,l| for every t <= T (per-step weights are
      virtual: W_t = W_0 - sum_{s<t} lr_s G_W,s); ``bias`` likewise.
    - ``product``: both sides of Z = A W^T + 2^R b = 2^S Z' + r; ``backward_product``: both sides
      of G_Z W = 2^S G'_A + r.
    - ``sgd``: both sides of W_T = W_0 - sum_s lr_s G_W,s (and its bias twin).
    - ``softmax_*`` (``train.loss: cross_entropy`` only): the softmax relations'
      (``circuits.softmax.SoftmaxSizing.relation_bounds``); the MSE bound of
      ``output_gradient`` holds for G_out = p - Y as well (|p| < 2^(R+1) <= q).
    - ``lars_norms``, ``lars_trust``, ``lars`` (``train.optimizer: lars``, ``circuits.lars``): the
      squared norms, both sides of the trust ratio's division and of the buffer relation; the
      weights move by at most T 2^(buf_bits-1) (the rate is inside the buffer).
    - ``train.optimizer: lamb`` (``circuits.lamb_step``): the weights move by at most
      T 2^weight_bits (dP's range check); the step gadget bounds its own relations.
    - ``momentum_buffer``, ``momentum`` (``train.optimizer: sgd_momentum`` only, design (A) of
      docs/momentum.md section 6): |buf| < 2^(buf_bits-1), so ``weight``/``bias`` become
      |W_0| + Sigma 2^(buf_bits-1) (W_t = W_0 - sum_{s<t} lr_s buf_s), and both sides of
      2^K_A buf_t + r_t = mu_num 2^(K_A-k_mu) buf_{t-1} + 2^K_A G_t + lam_num 2^(K_A-k-k_lam) W_t.
    """
    q_cfg, widths = recipe.quant, recipe.model.widths
    R, S = q_cfg.frac_bits, q_cfg.rescale_bits
    batch, layers = recipe.train.batch_size, len(widths) - 1
    lr_sum = sum(recipe.train.lr_num)
    q = 1 << (q_cfg.value_bits - 1)
    declared = declared_widths(recipe)
    x_max = max(-declared["input"].lo, declared["input"].hi)
    y_max = declared["label"].hi
    rescaled_side = (q << S) + (1 << (S - 1))  # |2^S Z' + r|

    if recipe.model.init == "seeded":
        scale = Scales(R, q_cfg.lr_shift).weight
        w0 = [init_bound(widths[l - 1], scale) for l in range(1, layers + 1)]
    else:
        w0 = [-declared["weight"].lo] * layers
    b0 = w0 if recipe.model.bias else [0] * layers

    a_max = [x_max] + [q] * (layers - 1)  # A_0 .. A_{L-1}
    g_out = q + y_max
    gz_max = [q] * (layers - 1) + [g_out]  # G_Z,1 .. G_Z,L
    gw_max = [batch * gz_max[l] * a_max[l] for l in range(layers)]
    gb_max = [(batch * gz_max[l]) << R if recipe.model.bias else 0 for l in range(layers)]
    w_max = [w0[l] + lr_sum * gw_max[l] for l in range(layers)]
    b_max = [b0[l] + lr_sum * gb_max[l] for l in range(layers)]
    spec, lars = momentum_spec(recipe), lars_spec(recipe)
    if spec is not None or lars is not None:
        # W_t = W_0 - sum_{s<t} lr_s buf_s (momentum, docs/momentum.md) or W_0 - sum_{s<t} v_s
        # (LARS: the rate is inside the buffer) with the committed, range-checked buffer.
        buf_max = 1 << (recipe.train.buf_bits - 1)
        moved = (lr_sum if lars is None else recipe.train.steps) * buf_max
        w_max = [w0[l] + moved for l in range(layers)]
        b_max = [b0[l] + moved if recipe.model.bias else 0 for l in range(layers)]
    if lamb_spec(recipe) is not None:
        # W_t = W_0 - sum_{s<t} dP_s (circuits.lamb_step), every |dP| < 2^weight_bits (its range check).
        moved = recipe.train.steps << q_cfg.weight_bits
        w_max = [w0[l] + moved for l in range(layers)]
        b_max = [b0[l] + moved if recipe.model.bias else 0 for l in range(layers)]
    product = [widths[l] * a_max[l] * w_max[l] + (b_max[l] << R) for l in range(layers)]
    # G'_A of hidden layer j (1-based) comes from G_Z,j+1 [B, d_{j+1}] times W_{j+1} [d_{j+1}, d_j].
    backward = [widths[j + 1] * gz_max[j] * w_max[j] for j in range(1, layers)]

    bounds = {
        "input": x_max,
        "label": y_max,
        "activation": max(a_max),
        "pre_activation": q,
        "remainder": 1 << (S - 1),
        "output_gradient": g_out,
        "gradient": q,
        "weight_gradient": max(gw_max),
        "bias_gradient": max(gb_max),
        "initial_weight": max(w0),
        "weight": max(w_max),
        "bias": max(b_max),
        "product": max(max(product), rescaled_side),
        "backward_product": max(backward + [rescaled_side]),
        "sgd": max(w_max + b_max),
        "range_recombination": max(1 << w.bits for w in declared.values()),
    }
    if spec is not None:
        K, k = spec.rounding_shift(q_cfg.lr_shift), q_cfg.lr_shift
        mu_mult = spec.mu.num << (K - spec.mu.shift) if spec.mu.num else 0
        lam_mult = spec.lam.num << (K - k - spec.lam.shift) if spec.lam.num else 0
        bounds["momentum_buffer"] = buf_max
        bounds["momentum"] = max(
            (buf_max << K) + (1 << (K - 1)),
            mu_mult * buf_max + (max(gw_max + gb_max) << K) + lam_mult * max(w_max + b_max),
        )
    if lars is not None:
        # circuits.lars: the squared norms, the trust ratio's division, the buffer relation.
        K, k, kb = lars.rounding_shift(q_cfg.lr_shift), q_cfg.lr_shift, lars.beta.shift
        p_max, g_max = max(w_max + b_max), max(gw_max + gb_max)
        params = max(widths[l] * widths[l + 1] for l in range(layers))
        s_p, s_g = math.isqrt(params * p_max * p_max) + 1, math.isqrt(params * g_max * g_max) + 1
        den = (s_g << (k + kb)) + lars.beta.num * s_p + lars.eps_int
        a_max = max(recipe.train.lr_num) * lars.trust_limit << (K - lars.trust_bits - k - kb)
        mu_mult = lars.mu.num << (K - lars.mu.shift)
        bounds["momentum_buffer"] = buf_max
        bounds["lars_norms"] = params * max(p_max, g_max) ** 2
        bounds["lars_trust"] = max((lars.eta.num * lars.inv_c * s_p << (lars.trust_bits + kb)) + (den << lars.eta.shift),
                                   2 * lars.trust_limit * (den << lars.eta.shift))
        bounds["lars"] = max((buf_max << K) + (1 << (K - 1)),
                             mu_mult * buf_max + a_max * ((g_max << (k + kb)) + lars.beta.num * p_max))
    if recipe.train.loss == "cross_entropy":
        # The softmax relations (``circuits.softmax``), at the circuit's padded class count.
        # G_out = p - Y is bounded by ``output_gradient`` above too: |p| < 2^(R+1) <= q.
        bounds.update(softmax_sizing(recipe, padded_classes=True).relation_bounds(y_max))
    return bounds


def bit_bounds(recipe: Recipe) -> dict[str, int]:
    """``relation_bounds`` as bit lengths: every integer of a kind is below 2^bits in magnitude
    (at most, and equal to, 2^bits only when the bound is an exact power of two)."""
    return {kind: bound.bit_length() for kind, bound in relation_bounds(recipe).items()}


def check_relation_bounds(recipe: Recipe) -> None:
    """Refuse a recipe where some relation could reach 2^MAX_RELATION_BITS (DESIGN section 9)."""
    for kind, bound in relation_bounds(recipe).items():
        if bound >= 1 << MAX_RELATION_BITS:
            raise ValueError(
                f"recipe: {kind} values could reach 2^{bound.bit_length() - 1} or more, beyond "
                f"2^{MAX_RELATION_BITS}: a relation mod r would not imply it over the integers"
            )
