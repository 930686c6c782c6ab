"""Ghost Batch Normalization in exact fixed point: the semantics a proof will check (issue 17
item 1; docs/ghost_bn.md; nonlinear-gadgets.md sections 1, 5, 9 and 10; large-batch-stack.md
section 3). No proof yet: this module states the integer computation, its scales and widths,
and the bound of every relation (DESIGN section 9), on Python ints.

Float target: ``zktrain.nn.GhostBatchNorm1d`` on [B, C] inputs, train mode. The batch is cut in
order into G = B / v ghost batches of v = 2^n samples (v a power of two dividing B); for ghost
batch g, feature c and its samples i::

    mu = mean_i x,  var = mean_i (x - mu)^2  (biased),  x_hat = (x - mu) / sqrt(var + eps)
    y = gamma x_hat + beta
    dx = gamma / (v sqrt(var + eps)) (v dy - sum_i dy - x_hat sum_i dy x_hat)
    dgamma = sum_b dy x_hat,  dbeta = sum_b dy           (over the whole batch)
    running <- (1 - m) running + m stat, once per ghost batch, in order, with the *unbiased*
    variance var v / (v - 1) (``_update_running_stats``); eval mode uses the running stats.

Fixed point (R = frac_bits, k = lr_shift, S = 2R + k, Q = value_bits, R_s = rstd_bits):

=====================  ================  ==========================================================
value                  scale             definition (exact unless "rescale")
=====================  ================  ==========================================================
x, y (output), dy, dx  2^R               Q-bit two's complement (the MLP's activations)
gamma, beta            2^S               ``weight_bits`` signed, master scale: trained by the run's
                                         optimizer exactly like a weight and a bias
eps                    2^(2R)            ``eps_int`` >= 1, a public integer
S1 = sum_i x           2^R               exact
S2 = sum_i x^2         2^(2R)            exact
D = v S2 - S1^2        2^(2R)            = v^2 var 2^(2R) >= 0, exact
V = D + v^2 eps_int    2^(2R)            = v^2 (var + eps) 2^(2R) >= 1
rstd                   2^(R_s)           y_r = rsqrt_round(V, a), a = R_s + R + n: round_half_up(
                                         2^a / sqrt(V)) = round(2^R_s / sqrt(var + eps))
x_c = v x - S1         2^R               = v (x - mu) 2^R, exact
x_hat                  2^R               X = rescale_(n + R_s)(x_c y_r)
out                    2^R               Y = rescale_S(gamma X + 2^R beta)
A = sum_i dy           2^R               exact, per ghost batch
Bs = sum_i dy X        2^(2R)            exact, per ghost batch
inner                  2^(3R)            (v dy - A) 2^(2R) - X Bs, exact
dx                     2^R               rescale_(S + R_s + 2R + n)(gamma y_r inner)  (one rounding)
dgamma                 2^(2R)            sum_g Bs = sum_b dy X   (a weight gradient's scale)
dbeta                  2^(2R)            2^R sum_g A = 2^R sum_b dy (a bias gradient's scale)
running mean RM        2^(2R)            2^K RM' + r = (2^K - m) RM + m 2^(R - n) S1
running var RV         2^(2R)            RV' = round_half_up(N / d), d = (v - 1) 2^(K + n),
                                         N = (2^K - m)(v - 1) 2^n RV + m D
=====================  ================  ==========================================================

``rescale_k(z) = floor((z + 2^(k-1)) / 2^k)`` (round half up, remainder in [-2^(k-1), 2^(k-1)),
``circuits.semantics.rescale``); every division by v = 2^n is inside a rescale's shift. The
momentum is a dyadic m / 2^K (K = max(its shift, 1), so m = 0 and m = 1 work too); the mean's
update is a pure shift recurrence (v | 2^R since n <= R), the variance's divides by the public
(v - 1) 2^(K + n) (``circuits.division``'s rounded division with a public divisor, shift 0):
one rounding per ghost batch and feature each, sequentially over the ghost batches in order.
m D / ((v - 1) 2^(K + n)) is m/2^K times the unbiased variance at 2^(2R): D / (v (v - 1)) =
var v / (v - 1) 2^(2R).

Eval mode (inference; RM, RV as above): y_e = rsqrt_round(RV + eps_int, R_s + R) (rstd at
2^R_s), X_e = rescale_(R + R_s)((2^R x - RM) y_e), Y_e = rescale_S(gamma X_e + 2^R beta).

Only four roundings touch the training path: rstd (1/2 ulp at 2^-R_s), x_hat (1/2 ulp at
2^-R), the output (1/2 ulp at 2^-R) and dx (1/2 ulp at 2^-R); the mean, the variance and both
backward sums are exact. The bounds (``GhostBnSpec.relation_bounds``) hold for every witness
the declared widths admit, and the spec refuses a configuration where one reaches 2^250.

The reference functions below loop over Python ints; ``zktrain.fixedpoint.ghost_bn`` is the
vectorized kernel the tests hold equal to them entry by entry. This module imports the
standard library, numpy and ``circuits`` only (the verifier may import it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .division import round_div
from .momentum import HYPER_RELATIVE_ERROR, MAX_HYPER_SHIFT, MU_SHIFT, Dyadic, Number, as_fraction, quantize
from .semantics import MAX_RELATION_BITS, rescale
from .sqrt import rsqrt_round

__all__ = [
    "Backward",
    "EvalForward",
    "GhostBnSpec",
    "GhostBnWidthError",
    "RunningUpdate",
    "TrainForward",
    "backward",
    "check_width",
    "eps_integer",
    "forward_eval",
    "forward_train",
    "initial_parameters",
    "quantize_momentum",
    "recipe_hyperparameters",
    "running_update",
    "spec_from_float",
]

#: The rstd resolution R_s: rstd is held at 2^-R_s, so its relative error is 2^-(R_s+1) sigma.
RSTD_BITS = 24


class GhostBnWidthError(ValueError):
    """A value outside its declared width: the run does not fit the semantics (never saturated)."""


def _is_int(v: object) -> bool:
    return type(v) is int


@dataclass(frozen=True)
class GhostBnSpec:
    """One Ghost BN layer's fixed-point parameters (module docstring for the semantics).

    ``momentum`` is a :class:`circuits.momentum.Dyadic` in [0, 1]; ``eps_int`` is eps at
    2^(2 frac_bits) (>= 1). ``spec_from_float`` builds one from torch's floats.
    """

    batch_size: int
    virtual_batch_size: int
    momentum: Dyadic
    eps_int: int
    frac_bits: int = 16
    lr_shift: int = 16
    value_bits: int = 32
    weight_bits: int = 56
    rstd_bits: int = RSTD_BITS

    def __post_init__(self) -> None:
        for name in ("batch_size", "virtual_batch_size", "eps_int", "frac_bits", "lr_shift", "value_bits",
                     "weight_bits", "rstd_bits"):
            if not _is_int(getattr(self, name)):
                raise ValueError(f"ghost BN {name}: must be an integer, got {getattr(self, name)!r}")
        v, b = self.virtual_batch_size, self.batch_size
        if v < 2 or v & (v - 1):
            raise ValueError(f"ghost BN virtual_batch_size: must be a power of two >= 2, got {v}")
        if b < 1 or b % v:
            raise ValueError(f"ghost BN virtual_batch_size: {v} must divide the batch size {b}")
        if not 1 <= self.frac_bits <= 32:
            raise ValueError(f"ghost BN frac_bits: must lie in [1, 32], got {self.frac_bits}")
        if self.ghost_bits > self.frac_bits:
            raise ValueError(f"ghost BN virtual_batch_size: 2^{self.ghost_bits} exceeds 2^frac_bits = "
                             f"2^{self.frac_bits} (the running mean's update needs v | 2^R)")
        if not 0 <= self.lr_shift <= 32:
            raise ValueError(f"ghost BN lr_shift: must lie in [0, 32], got {self.lr_shift}")
        if not self.frac_bits + 2 <= self.value_bits <= 48:
            raise ValueError(f"ghost BN value_bits: must lie in [frac_bits + 2, 48], got {self.value_bits}")
        # The engine keeps gamma and beta in int64 (62 bits); a proof's spec declares instead the
        # width its virtual stacked Gamma can reach over the run (``MlpCircuit.norm_param_bits``).
        if not 2 <= self.weight_bits <= 126:
            raise ValueError(f"ghost BN weight_bits: must lie in [2, 126], got {self.weight_bits}")
        if not 1 <= self.rstd_bits <= 48:
            raise ValueError(f"ghost BN rstd_bits: must lie in [1, 48], got {self.rstd_bits}")
        if not isinstance(self.momentum, Dyadic):
            raise ValueError(f"ghost BN momentum: must be a Dyadic (quantize it: spec_from_float), got "
                             f"{self.momentum!r}")
        if self.momentum.value > 1:
            raise ValueError(f"ghost BN momentum: must lie in [0, 1], got {self.momentum.num}/2^{self.momentum.shift}")
        if self.eps_int < 1:
            raise ValueError(f"ghost BN eps: eps_int = {self.eps_int}; eps must be > 0 and representable at "
                             f"2^-{2 * self.frac_bits} (eps_int >= 1), else a constant feature has V = 0")
        if self.eps_int >= 1 << (2 * self.value_bits):
            raise ValueError(f"ghost BN eps: eps_int = {self.eps_int} exceeds 2^(2 value_bits)")
        # rsqrt_round(V, a) >= 1 needs V <= 4 c^2 = 2^(2a + 2) (circuits.sqrt.Rsqrt), in train and eval.
        if self.v_max > 1 << (2 * self.rsqrt_shift + 2) or self.eval_v_max > 1 << (2 * self.eval_rsqrt_shift + 2):
            raise ValueError(f"ghost BN rstd_bits: 2^-{self.rstd_bits} is too coarse for a variance up to "
                             f"2^{2 * (self.value_bits - 1 - self.frac_bits)}: rstd would round to 0")
        for name, bits in self.relation_bounds().items():
            if bits > MAX_RELATION_BITS:
                raise ValueError(f"ghost BN {name}: the relation needs {bits} bits > {MAX_RELATION_BITS} "
                                 f"(DESIGN section 9): reduce the widths")

    # --- derived constants --------------------------------------------------------------------
    @property
    def ghost_bits(self) -> int:
        """n = log2 v."""
        return self.virtual_batch_size.bit_length() - 1

    @property
    def ghosts(self) -> int:
        """G = B / v ghost batches per step."""
        return self.batch_size // self.virtual_batch_size

    @property
    def param_shift(self) -> int:
        """S = 2R + k: gamma and beta at 2^S (the master weights' scale); the affine rescale."""
        return 2 * self.frac_bits + self.lr_shift

    @property
    def stat_shift(self) -> int:
        """2R: the running statistics and eps_int are at 2^(2R)."""
        return 2 * self.frac_bits

    @property
    def rsqrt_shift(self) -> int:
        """a = R_s + R + n: y_r = round(2^a / sqrt(V)) is rstd at 2^R_s."""
        return self.rstd_bits + self.frac_bits + self.ghost_bits

    @property
    def eval_rsqrt_shift(self) -> int:
        """R_s + R: round(2^(R_s + R) / sqrt(RV + eps_int)) is rstd at 2^R_s."""
        return self.rstd_bits + self.frac_bits

    @property
    def xhat_shift(self) -> int:
        """n + R_s: X = rescale(x_c y_r) drops the division by v and rstd's scale."""
        return self.ghost_bits + self.rstd_bits

    @property
    def eval_xhat_shift(self) -> int:
        """R + R_s: (2^R x - RM) is at 2^(2R), y_e at 2^R_s."""
        return self.frac_bits + self.rstd_bits

    @property
    def dx_shift(self) -> int:
        """S + R_s + 2R + n: gamma (2^S) y_r (2^R_s) inner (2^(3R)) / v down to 2^R."""
        return self.param_shift + self.rstd_bits + 2 * self.frac_bits + self.ghost_bits

    @property
    def mom_shift(self) -> int:
        """K = max(momentum's shift, 1)."""
        return max(self.momentum.shift, 1)

    @property
    def mom_num(self) -> int:
        """m with momentum = m / 2^K."""
        return self.momentum.num << (self.mom_shift - self.momentum.shift)

    @property
    def var_divisor(self) -> int:
        """d = (v - 1) 2^(K + n), the running variance's public divisor."""
        return (self.virtual_batch_size - 1) << (self.mom_shift + self.ghost_bits)

    # --- widths ------------------------------------------------------------------------------------
    @property
    def value_max(self) -> int:
        """|x|, |dy| <= 2^(Q-1) (the Q-bit range is [-2^(Q-1), 2^(Q-1)))."""
        return 1 << (self.value_bits - 1)

    @property
    def d_max(self) -> int:
        """D = v^2 (biased variance of the integers) <= v^2 (2^Q - 1)^2 / 4 (Popoviciu)."""
        v = self.virtual_batch_size
        return (v * v * ((1 << self.value_bits) - 1) ** 2) >> 2

    @property
    def v_max(self) -> int:
        """The largest radicand V = D + v^2 eps_int."""
        v = self.virtual_batch_size
        return self.d_max + v * v * self.eps_int

    @property
    def eval_v_max(self) -> int:
        return self.running_var_max + self.eps_int

    @property
    def rstd_slack_bits(self) -> int:
        """circuits.sqrt.Rsqrt's slack width for the train radicand: a + 4 + ceil(log2(V_max) / 2)."""
        b = (self.v_max - 1).bit_length()
        return self.rsqrt_shift + 4 + (b + 1) // 2

    @property
    def xhat_max(self) -> int:
        """|X| <= sqrt(v - 1) 2^R + (v - 1)(2^Q - 1) / 2^(n + R_s + 1) + 1/2: x_c^2 <= (v - 1) D bounds
        |x_c| 2^a / sqrt(V) by sqrt(v - 1) 2^a, and y_r exceeds 2^a / sqrt(V) by at most 1/2."""
        v, h = self.virtual_batch_size, self.xhat_shift
        centered = (v - 1) * ((1 << self.value_bits) - 1)  # |x_c| <= (v - 1)(2^Q - 1)
        return math.isqrt((v - 1) << (2 * self.frac_bits)) + 1 + (centered >> (h + 1)) + 1

    @property
    def xhat_bits(self) -> int:
        """X in two's complement: [-2^(w-1), 2^(w-1)) holds [-xhat_max, xhat_max]."""
        return self.xhat_max.bit_length() + 1

    @property
    def running_mean_max(self) -> int:
        """|RM| <= 2^(Q-1+R): a convex combination of ghost means |S1| 2^(R-n) < 2^(Q-1+R), rounded."""
        return 1 << (self.value_bits - 1 + self.frac_bits)

    @property
    def running_var_max(self) -> int:
        """0 <= RV <= 2^(2Q-1): the unbiased variance D / (v (v - 1)) <= v / (v - 1) 2^(2Q-2)."""
        return 1 << (2 * self.value_bits - 1)

    def widths(self) -> dict[str, tuple[int, bool]]:
        """Every value a proof range-checks (or takes from a range-checked producer): name ->
        (bits, signed). Unsigned b bits: [0, 2^b); signed: [-2^(b-1), 2^(b-1))."""
        return {
            "x": (self.value_bits, True),
            "rstd_minus_one": (self.rsqrt_shift, False),  # y_r - 1 in [0, 2^a): RC_a(y - 1)
            "rstd_slack": (self.rstd_slack_bits, False),  # lo, hi of circuits.sqrt.Rsqrt
            "xhat": (self.xhat_bits, True),
            "xhat_remainder": (self.xhat_shift, True),
            "out": (self.value_bits, True),
            "out_remainder": (self.param_shift, True),
            "g_out": (self.value_bits, True),
            "g_in": (self.value_bits, True),
            "g_in_remainder": (self.dx_shift, True),
            "gamma": (self.weight_bits, True),
            "beta": (self.weight_bits, True),
            "running_mean": (self.running_mean_max.bit_length() + 1, True),
            "running_mean_remainder": (self.mom_shift, True),
            "running_var": (self.running_var_max.bit_length(), False),
            "running_var_remainder": ((2 * self.var_divisor - 1).bit_length(), False),  # r' in [0, 2d)
        }

    def relation_bounds(self) -> dict[str, int]:
        """Bits of the largest integer in each relation, for every witness the widths admit (the
        sum of its terms' magnitudes): a relation mod r below 2^250 holds over the integers."""
        v, n, R = self.virtual_batch_size, self.ghost_bits, self.frac_bits
        q, w, a = self.value_max, 1 << (self.weight_bits - 1), self.rsqrt_shift
        xh = 1 << (self.xhat_bits - 1)
        s1, s2 = v * q, v * q * q
        radicand = v * s2 + s1 * s1 + v * v * self.eps_int  # V = v S2 - S1^2 + v^2 eps, term by term
        four_c2, y_max = 1 << (2 * a + 2), 1 << a
        slack = 1 << self.rstd_slack_bits
        # (R): t = y^2, lo = 4c^2 - (4t - 4y + 1) V, hi = (4t + 4y + 1) V - 4c^2 - 1
        rsqrt = four_c2 + 4 * y_max * y_max * radicand + 4 * y_max * radicand + radicand + 2 * slack + 1
        xc = 2 * v * q
        xhat = (xh << self.xhat_shift) + (1 << (self.xhat_shift - 1)) + xc * y_max
        S = self.param_shift
        affine = (q << S) + (1 << (S - 1)) + w * xh + (w << R)
        a_sum, b_sum = v * q, v * q * xh
        inner = (2 * v * q << (2 * R)) + xh * b_sum
        dx = (q << self.dx_shift) + (1 << (self.dx_shift - 1)) + w * y_max * inner
        K, m = self.mom_shift, self.mom_num
        rm = self.running_mean_max
        mean = (rm << K) + (1 << (K - 1)) + (((1 << K) - m) * rm) + m * (s1 << (R - n))
        d = self.var_divisor
        num = ((1 << K) - m) * (v - 1) * (self.running_var_max << n) + m * (v * s2 + s1 * s1)
        var = 2 * self.running_var_max * d + 2 * d + 2 * num + d
        return {
            "ghost_bn_sums": (v * s2 + s1 * s1).bit_length(),
            "ghost_bn_rsqrt": rsqrt.bit_length(),
            "ghost_bn_xhat": xhat.bit_length(),
            "ghost_bn_affine": affine.bit_length(),
            "ghost_bn_backward_sums": (a_sum + b_sum + inner).bit_length(),
            "ghost_bn_dx": dx.bit_length(),
            "ghost_bn_param_grads": (self.batch_size * q * xh + (self.batch_size * q << R)).bit_length(),
            "ghost_bn_running_mean": mean.bit_length(),
            "ghost_bn_running_var": var.bit_length(),
        }


def eps_integer(eps: Number, frac_bits: int = 16) -> int:
    """eps_int = round_half_up(eps 2^(2R)), exactly (a float through its shortest repr)."""
    e = as_fraction(eps)
    if e < 0:
        raise ValueError(f"ghost BN eps: must be > 0, got {eps!r}")
    return math.floor(e * (1 << (2 * frac_bits)) + Fraction(1, 2))


def spec_from_float(batch_size: int, virtual_batch_size: int, momentum: Number = 0.1, eps: Number = 1e-5, *,
                    frac_bits: int = 16, lr_shift: int = 16, value_bits: int = 32, weight_bits: int = 56,
                    rstd_bits: int = RSTD_BITS) -> GhostBnSpec:
    """``GhostBatchNorm1d(C, virtual_batch_size, momentum, eps)`` as a GhostBnSpec: momentum at
    2^-15 (rounded half up, relative error within 1/512 as the SGD momentum's), eps at 2^-(2R).
    A ValueError names the option that does not fit."""
    return GhostBnSpec(batch_size, virtual_batch_size, quantize_momentum(momentum), eps_integer(eps, frac_bits),
                       frac_bits, lr_shift, value_bits, weight_bits, rstd_bits)


def quantize_momentum(momentum: Number) -> Dyadic:
    """torch's momentum at 2^-15, rounded half up, within relative error 1/512 (the SGD
    momentum's rule); ValueError naming the option."""
    mf = as_fraction(momentum)
    if not 0 <= mf <= 1:
        raise ValueError(f"ghost BN momentum: must lie in [0, 1], got {momentum!r}")
    m = quantize(mf, MU_SHIFT, "ghost BN momentum")
    if mf and abs(m.value - mf) > HYPER_RELATIVE_ERROR * mf:
        raise ValueError(f"ghost BN momentum: {momentum!r} quantized to {m.num}/2^{m.shift} has relative error "
                         f"{float(abs(m.value - mf) / mf):.3g} > 1/512")
    return m


def recipe_hyperparameters(momentum: Number, eps: Number, frac_bits: int) -> tuple[Dyadic, Dyadic]:
    """``GhostBatchNorm1d``'s momentum and eps as the recipe's ``model.bn_momentum`` and
    ``model.bn_eps``: the momentum by ``quantize_momentum``, eps at 2^-min(2R, 32) rounded half
    up (2^-(2R), eps_int's scale, for the default R = 16). ValueError naming the option."""
    e = quantize(eps, min(2 * frac_bits, MAX_HYPER_SHIFT), "ghost BN eps")
    if e.num == 0:
        raise ValueError(f"ghost BN eps: {eps!r} rounds to 0 at 2^-{min(2 * frac_bits, MAX_HYPER_SHIFT)}; eps must be "
                         "> 0 (a constant feature would have no rstd)")
    return quantize_momentum(momentum), e


def initial_parameters(spec: GhostBnSpec, features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """torch's initial state at the fixed-point scales: gamma = 1, beta = 0 at 2^S, RM = 0 and
    RV = 1 at 2^(2R)."""
    return (np.full(features, 1 << spec.param_shift, dtype=np.int64), np.zeros(features, dtype=np.int64),
            np.zeros(features, dtype=np.int64), np.full(features, 1 << spec.stat_shift, dtype=np.int64))


# --- width checks ----------------------------------------------------------------------------------


def check_width(spec: GhostBnSpec, name: str, values, where: str = "") -> None:
    """Raise GhostBnWidthError unless every value lies in ``spec.widths()[name]``."""
    bits, signed = spec.widths()[name]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    arr = np.asarray(values)
    if arr.size == 0:
        return
    vmin, vmax = int(arr.min()), int(arr.max())
    if vmin < lo or vmax > hi:
        bad = vmin if vmin < lo else vmax
        raise GhostBnWidthError(f"ghost BN {name}{where}: value {bad} is outside its declared "
                                f"{bits}-bit {'signed' if signed else 'unsigned'} range [{lo}, {hi}]")


# --- results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainForward:
    """Train-mode forward of one step. Per (g, c): s1, s2, d, radicand V, rstd y_r.
    Per sample [B, C]: xc, xhat and its remainder, out and its remainder."""

    s1: np.ndarray
    s2: np.ndarray
    d: np.ndarray
    radicand: np.ndarray
    rstd: np.ndarray
    xc: np.ndarray
    xhat: np.ndarray
    xhat_rem: np.ndarray
    out: np.ndarray
    out_rem: np.ndarray


@dataclass(frozen=True)
class RunningUpdate:
    """The sequential update over the G ghost batches: means, variances [G + 1, C] (row 0 the
    state before the step, row G after it), the mean remainders r in [-2^(K-1), 2^(K-1)) and
    the variance remainders r' = 2N + d - 2 q d in [0, 2d), [G, C]."""

    means: np.ndarray
    variances: np.ndarray
    mean_rem: np.ndarray
    var_rem: np.ndarray

    @property
    def running_mean(self) -> np.ndarray:
        return self.means[-1]

    @property
    def running_var(self) -> np.ndarray:
        return self.variances[-1]


@dataclass(frozen=True)
class EvalForward:
    """Eval-mode forward: rstd y_e per feature, xc = 2^R x - RM, xhat, out and remainders."""

    rstd: np.ndarray
    xc: np.ndarray
    xhat: np.ndarray
    xhat_rem: np.ndarray
    out: np.ndarray
    out_rem: np.ndarray


@dataclass(frozen=True)
class Backward:
    """Backward of one step: per (g, c) the sums A, Bs and the coefficient gamma y_r; per sample
    inner, dx and its remainder; per feature dgamma, dbeta (at 2^(2R))."""

    a_sum: np.ndarray
    b_sum: np.ndarray
    coef: np.ndarray
    inner: np.ndarray
    g_in: np.ndarray
    g_in_rem: np.ndarray
    g_gamma: np.ndarray
    g_beta: np.ndarray


# --- the reference semantics on Python ints -----------------------------------------------------


def _ints(a) -> list:
    """A nested list of Python ints from any integer array."""
    return np.asarray(a).astype(object).tolist()


def _obj(rows) -> np.ndarray:
    out = np.empty((len(rows), len(rows[0])) if rows and isinstance(rows[0], list) else (len(rows),), dtype=object)
    if out.ndim == 2:
        for i, row in enumerate(rows):
            for j, val in enumerate(row):
                out[i, j] = val
    else:
        for i, val in enumerate(rows):
            out[i] = val
    return out


def _where(step: int | None) -> str:
    return "" if step is None else f" at step {step}"


def _shape(spec: GhostBnSpec, x) -> tuple[int, int]:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] != spec.batch_size:
        raise ValueError(f"ghost BN: expected a [{spec.batch_size}, C] input, got shape {arr.shape}")
    return arr.shape


def _features(name: str, a, c: int) -> None:
    if np.asarray(a).shape != (c,):
        raise ValueError(f"ghost BN {name}: expected shape ({c},), got {np.asarray(a).shape}")


def forward_train(spec: GhostBnSpec, x, gamma, beta, step: int | None = None) -> TrainForward:
    """The train-mode forward on Python ints (module docstring). ``step`` names the step in
    width errors."""
    where = _where(step)
    b, c = _shape(spec, x)
    _features("gamma", gamma, c), _features("beta", beta, c)
    for name, val in (("x", x), ("gamma", gamma), ("beta", beta)):
        check_width(spec, name, val, where)
    xs, gs, bs = _ints(x), _ints(gamma), _ints(beta)
    v, R = spec.virtual_batch_size, spec.frac_bits
    per = {k: [[0] * c for _ in range(spec.ghosts)] for k in ("s1", "s2", "d", "radicand", "rstd")}
    full = {k: [[0] * c for _ in range(b)] for k in ("xc", "xhat", "xhat_rem", "out", "out_rem")}
    for g in range(spec.ghosts):
        rows = range(g * v, (g + 1) * v)
        for f in range(c):
            s1 = sum(xs[i][f] for i in rows)
            s2 = sum(xs[i][f] * xs[i][f] for i in rows)
            d = v * s2 - s1 * s1
            radicand = d + v * v * spec.eps_int
            y = rsqrt_round(radicand, spec.rsqrt_shift)
            for key, val in zip(("s1", "s2", "d", "radicand", "rstd"), (s1, s2, d, radicand, y)):
                per[key][g][f] = val
            for i in rows:
                xc = v * xs[i][f] - s1
                xhat, xrem = rescale(xc * y, spec.xhat_shift)
                out, orem = rescale(gs[f] * xhat + (bs[f] << R), spec.param_shift)
                for key, val in zip(("xc", "xhat", "xhat_rem", "out", "out_rem"), (xc, xhat, xrem, out, orem)):
                    full[key][i][f] = val
    result = TrainForward(**{k: _obj(val) for k, val in {**per, **full}.items()})
    check_width(spec, "xhat", result.xhat, where)  # implied by xhat_max; checked all the same
    check_width(spec, "out", result.out, where)
    return result


def running_update(spec: GhostBnSpec, running_mean, running_var, s1, d, step: int | None = None) -> RunningUpdate:
    """The sequential running-statistics update over the ghost batches in order, on Python ints."""
    where = _where(step)
    check_width(spec, "running_mean", running_mean, where)
    check_width(spec, "running_var", running_var, where)
    rm, rv, s1s, ds = _ints(running_mean), _ints(running_var), _ints(s1), _ints(d)
    v, n, R, K, m = spec.virtual_batch_size, spec.ghost_bits, spec.frac_bits, spec.mom_shift, spec.mom_num
    keep, div = (1 << K) - m, spec.var_divisor
    means, variances, mean_rem, var_rem = [list(rm)], [list(rv)], [], []
    for g in range(len(s1s)):
        row_m, row_v, rem_m, rem_v = [], [], [], []
        for f in range(len(rm)):
            qm, r = rescale(keep * means[-1][f] + ((m * s1s[g][f]) << (R - n)), K)
            num = keep * (v - 1) * (variances[-1][f] << n) + m * ds[g][f]
            qv = round_div(num, div, 0)
            row_m.append(qm), rem_m.append(r), row_v.append(qv), rem_v.append(2 * num + div - 2 * qv * div)
        means.append(row_m), variances.append(row_v), mean_rem.append(rem_m), var_rem.append(rem_v)
    result = RunningUpdate(_obj(means), _obj(variances), _obj(mean_rem), _obj(var_rem))
    check_width(spec, "running_mean", result.means, where)
    check_width(spec, "running_var", result.variances, where)
    return result


def forward_eval(spec: GhostBnSpec, x, gamma, beta, running_mean, running_var, step: int | None = None) -> EvalForward:
    """Eval mode on Python ints: the running statistics instead of the ghost batch's. Any number
    of rows (inference is not tied to the batch size)."""
    where = _where(step)
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"ghost BN: expected a [rows, C] input, got shape {arr.shape}")
    c = arr.shape[1]
    for name, val in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        _features(name, val, c)
    for name, val in (("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                      ("running_var", running_var)):
        check_width(spec, name, val, where)
    xs, gs, bs, rm, rv = (_ints(a) for a in (x, gamma, beta, running_mean, running_var))
    R = spec.frac_bits
    rstd = [rsqrt_round(rv[f] + spec.eps_int, spec.eval_rsqrt_shift) for f in range(c)]
    keys = ("xc", "xhat", "xhat_rem", "out", "out_rem")
    full = {k: [[0] * c for _ in range(len(xs))] for k in keys}
    for i, row in enumerate(xs):
        for f in range(c):
            xc = (row[f] << R) - rm[f]
            xhat, xrem = rescale(xc * rstd[f], spec.eval_xhat_shift)
            out, orem = rescale(gs[f] * xhat + (bs[f] << R), spec.param_shift)
            for key, val in zip(keys, (xc, xhat, xrem, out, orem)):
                full[key][i][f] = val
    result = EvalForward(_obj(rstd), **{k: _obj(val) for k, val in full.items()})
    check_width(spec, "out", result.out, where)
    return result


def backward(spec: GhostBnSpec, xhat, rstd, gamma, g_out, step: int | None = None) -> Backward:
    """The backward on Python ints from the forward's X and y_r (the same committed values) and
    the output gradient dy: both sums exact, one rounding per element."""
    where = _where(step)
    b, c = _shape(spec, g_out)
    check_width(spec, "g_out", g_out, where)
    check_width(spec, "gamma", gamma, where)
    xh, ys, gs, dys = _ints(xhat), _ints(rstd), _ints(gamma), _ints(g_out)
    v, R = spec.virtual_batch_size, spec.frac_bits
    a_sum = [[0] * c for _ in range(spec.ghosts)]
    b_sum = [[0] * c for _ in range(spec.ghosts)]
    coef = [[0] * c for _ in range(spec.ghosts)]
    inner = [[0] * c for _ in range(b)]
    g_in = [[0] * c for _ in range(b)]
    g_rem = [[0] * c for _ in range(b)]
    for g in range(spec.ghosts):
        rows = range(g * v, (g + 1) * v)
        for f in range(c):
            A = sum(dys[i][f] for i in rows)
            B = sum(dys[i][f] * xh[i][f] for i in rows)
            k = gs[f] * ys[g][f]
            a_sum[g][f], b_sum[g][f], coef[g][f] = A, B, k
            for i in rows:
                inn = ((v * dys[i][f] - A) << (2 * R)) - xh[i][f] * B
                inner[i][f] = inn
                g_in[i][f], g_rem[i][f] = rescale(k * inn, spec.dx_shift)
    g_gamma = [sum(b_sum[g][f] for g in range(spec.ghosts)) for f in range(c)]
    g_beta = [sum(a_sum[g][f] for g in range(spec.ghosts)) << R for f in range(c)]
    result = Backward(_obj(a_sum), _obj(b_sum), _obj(coef), _obj(inner), _obj(g_in), _obj(g_rem), _obj(g_gamma),
                      _obj(g_beta))
    check_width(spec, "g_in", result.g_in, where)
    return result
