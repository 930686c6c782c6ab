"""Softmax cross-entropy in the exact fixed-point semantics (issue 15 item 2; DESIGN section 4;
nonlinear-gadgets.md section 4; ``docs/fixed_point.md``, "Softmax cross-entropy").

The loss's output gradient is composed from the gadgets' semantics functions, never
re-implemented here: ``circuits.rowmax.row_max``, ``circuits.exp.table_outputs`` and
``circuits.division.divide``. For logits Z'_L (``value_bits`` = Q signed bits at 2^R) of a
batch row i over ``cols`` columns whose first C are the real classes (M_j = [j < C]):

    (CE1) m_i  = max_{j < C} z_ij                    row max over the real classes (e one-hot)
    (CE2) D_ij = M_j (m_i - z_ij)                    in [0, 2^Q - 1]: Q unsigned bits, < 2^32
    (CE3) P_ij = M_j E0[D_ij mod 2^16] E1[D_ij >> 16] e^(-D/2^R) at 2^(2 R_T), exact; 0 on padding
    (CE4) S_i  = sum_j P_ij                          in [2^(2 R_T), C 2^(2 R_T)]
    (CE5) p_ij = round_half_up(2^(R_p) P_ij / S_i)   in [0, 2^(R_p)], by the division gadget
    (CE6) G_ij = p_ij - Y_ij                         Y one-hot labels at 2^R; R_p = R

(the same numbering in ``docs/fixed_point.md``). With R_p = R, G is at 2^R, the scale of MSE's
G_out = Y_hat - Y, and feeds the same backward: G_Z,L = G, G_W,L = G^T A_{L-1}, and so on.
The 1/B of the mean cross-entropy, whose gradient in the logits is (p - y)/B, is folded into
the learning rate as MSE's 2/(B n_out) is: ``circuits.semantics.ce_lr_num``.

Why R_p = R: G then has MSE's scale and units (the backward, its widths and the update are
unchanged), and p's rounding (2^(-R-1)) is below the exp tables' error (about C 2^(-R_T)),
so a finer p would buy nothing at R_T = R = 16.

Widths, for every witness the range checks admit (DESIGN section 9; ``SoftmaxSizing``):
D in Q <= 32 unsigned bits (the exp gadget's input domain [0, 2^32): a recipe with
Q > 32 is refused), P in [0, 2^(2 R_T)] (2 R_T + 1 unsigned bits, table outputs), S in
[1, 2^(w_S)] with w_S = 2 R_T + ceil(log2 cols), p in the division's w_q = R_p + 2 signed bits,
G in [-(2^(w_q - 1) + 2^R), 2^(w_q - 1) + 2^R]. Every integer of the relations stays below
2^(bound_bits) with bound_bits far below 250 (``relation_bounds``).

Error against float softmax (``probability_error_bound``): with delta the exp product's error
``circuits.exp.product_error_bound`` (|P / 2^(2 R_T) - e^(-D/2^R)| <= delta, 0 at the max),
S / 2^(2 R_T) >= 1 and the division's rounding,

    |p_ij / 2^(R_p) - softmax(z_i / 2^R)_j| <= 2^(-R_p - 1) + delta (1 + (C - 1) s_ij)
                                             <= 2^(-R_p - 1) + C delta,

s_ij the true softmax. Proof: write P_k / 2^(2 R_T) = e_k + eps_k with e_k = e^(-D_k/2^R),
E = sum_k e_k, S' = S / 2^(2 R_T) = E + sum_k eps_k. Then
P_j / S - e_j / E = (eps_j (1 - s_j) - s_j sum_(k != j) eps_k) / S'; eps vanishes at the max
(E0[0] E1[0] = 2^(2 R_T)), so the numerator is at most s_j (C - 1) delta when j is the argmax
and delta (1 - s_j) + s_j (C - 2) delta otherwise, both <= delta (1 + (C - 1) s_j); and
S' >= 1 (the max's term). The division adds its rounding, in (-1/2, 1/2] ulp.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .division import Division, divide
from .exp import (
    INPUT_BITS,
    TABLE_BITS,
    check_params,
    product_error_bound,
    table_outputs,
)
from .layout import log2_ceil
from .rowmax import row_max

#: The loss names of ``circuits.recipe.TrainSpec``.
LOSSES = ("mse", "cross_entropy")


@dataclass(frozen=True)
class SoftmaxSizing:
    """Widths of the softmax cross-entropy of one batch: ``classes`` real classes among
    ``cols`` columns (the rest padding), logits of ``value_bits`` signed bits at 2^``frac_bits``,
    exp tables at 2^``table_bits``; probabilities at 2^R_p with R_p = ``frac_bits``."""

    classes: int
    cols: int
    frac_bits: int
    value_bits: int
    table_bits: int = TABLE_BITS
    rows: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.classes <= self.cols:
            raise ValueError(f"softmax: {self.classes} real classes for {self.cols} columns")
        if not 16 <= self.frac_bits <= 32:
            raise ValueError(
                f"cross_entropy needs 16 <= frac_bits <= 32 (the exp tables index 16-bit limbs of "
                f"a gap at 2^R), got frac_bits = {self.frac_bits}"
            )
        if not 2 <= self.value_bits <= INPUT_BITS:
            raise ValueError(
                f"cross_entropy needs value_bits <= {INPUT_BITS}: the gap m - z of Q-bit logits has "
                f"Q bits and exp takes d < 2^{INPUT_BITS}; got value_bits = {self.value_bits}"
            )
        if self.rows < 1:
            raise ValueError(f"softmax: {self.rows} rows")
        check_params(self.frac_bits, self.table_bits)
        self.division  # noqa: B018 -- validates the division's int64 widths now

    # --- widths ---------------------------------------------------------------------------
    @property
    def prob_bits(self) -> int:
        """R_p: probabilities at 2^(R_p), R_p = R (G at MSE's scale)."""
        return self.frac_bits

    @property
    def gap_bits(self) -> int:
        """D = M (m - z) in [0, 2^Q - 1]: Q unsigned bits (``circuits.rowmax``)."""
        return self.value_bits

    @property
    def product_bits(self) -> int:
        """P in [0, 2^(2 R_T)]: 2 R_T + 1 unsigned bits (P = 2^(2 R_T) at the max only)."""
        return 2 * self.table_bits + 1

    @property
    def sum_bits(self) -> int:
        """w_S: S in [1, 2^(w_S)], S <= cols 2^(2 R_T) <= 2^(2 R_T + ceil(log2 cols))."""
        return 2 * self.table_bits + log2_ceil(self.cols)

    @property
    def division(self) -> Division:
        """p = round_half_up(2^(R_p) P / S): numerator P (w_n = 2 R_T + 2 signed bits holds
        [0, 2^(2 R_T)]), committed divisor S, quotient in w_q = R_p + 2 signed bits (0 <= P <= S
        gives 0 <= p <= 2^(R_p))."""
        return Division(
            name="softmax",
            rows_vars=log2_ceil(self.rows),
            cols_vars=log2_ceil(self.cols),
            n_bits=2 * self.table_bits + 2,
            d_bits=self.sum_bits,
            shift=self.prob_bits,
            q_bits=self.prob_bits + 2,
        )

    def relation_bounds(self, label_max: int) -> dict[str, int]:
        """The largest magnitude of every integer of the softmax relations, for any witness the
        range checks admit (DESIGN section 9), keyed ``softmax_*``; ``label_max`` bounds Y."""
        q_max = 1 << (self.division.q_bits - 1)
        return {
            "softmax_max": 1 << self.value_bits,  # m = sum_j e_ij z_ij, D = M (m - z): rowmax (c), (d)
            "softmax_gap": (1 << self.gap_bits) - 1,
            "softmax_product": 1 << (2 * self.table_bits),
            "softmax_sum": self.cols << (2 * self.table_bits),
            "softmax_division": 1 << self.division.bound_bits(),  # both sides of 2 p S + r' = 2 s P + S
            "softmax_probability": q_max,
            "softmax_gradient": q_max + label_max,  # G = p - Y
        }


@dataclass(frozen=True)
class SoftmaxCE:
    """The witness of (CE1)-(CE6) for one batch, int64 arrays [rows, cols] (``m``, ``total``
    [rows]): the one-hot ``onehot`` and ``max`` m (row max), the gap D, the looked-up ``e0``,
    ``e1``, the masked ``product`` P, the row ``total`` S, the probabilities p, the division's
    ``remainder`` r' (2 p S + r' = 2 2^(R_p) P + S, 0 <= r' < 2 S), and the gradient G = p - Y."""

    onehot: np.ndarray
    max: np.ndarray
    gap: np.ndarray
    e0: np.ndarray
    e1: np.ndarray
    product: np.ndarray
    total: np.ndarray
    prob: np.ndarray
    remainder: np.ndarray
    gradient: np.ndarray


def _check_range(values: np.ndarray, lo: int, hi: int, what: str) -> None:
    """A hard error (never saturation) when an honest value leaves its declared range."""
    if values.size and (int(values.min()) < lo or int(values.max()) > hi):
        bad = int(values.min()) if int(values.min()) < lo else int(values.max())
        raise OverflowError(f"softmax: {what} value {bad} outside its declared range [{lo}, {hi}]")


def check_labels(y: np.ndarray, sizing: SoftmaxSizing) -> None:
    """Y must be one-hot at 2^R over the real classes, row by row (zero on padded classes):
    the labels the cross-entropy gradient p - Y takes (``circuits.data.encode_labels``)."""
    y = np.asarray(y)
    unit = 1 << sizing.frac_bits
    if y.ndim != 2 or y.shape[1] != sizing.cols:
        raise ValueError(f"labels: expected shape (rows, {sizing.cols}), got {y.shape}")
    ok = np.isin(y, (0, unit)).all() and not y[:, sizing.classes:].any()
    if not ok or not (y.sum(axis=1) == unit).all():
        raise ValueError(f"labels: cross_entropy needs one-hot rows at 2^{sizing.frac_bits} over the "
                         f"{sizing.classes} real classes")


def softmax_fixed(z: np.ndarray, sizing: SoftmaxSizing) -> SoftmaxCE:
    """(CE1)-(CE5) for int64 logits z [rows, cols] (padded columns must hold 0, as the forced
    zero weight rows give); ``gradient`` is p itself (no labels)."""
    z = np.asarray(z, dtype=np.int64)
    if z.ndim != 2 or z.shape[1] != sizing.cols:
        raise ValueError(f"logits: expected shape (rows, {sizing.cols}), got {z.shape}")
    half = 1 << (sizing.value_bits - 1)
    _check_range(z, -half, half - 1, f"logit (Q = {sizing.value_bits} signed bits)")
    if z[:, sizing.classes:].any():
        raise ValueError("logits: a padded class holds a nonzero logit")
    onehot, m, gap = row_max(z, sizing.classes)  # (CE1), (CE2)
    _check_range(gap, 0, (1 << sizing.gap_bits) - 1, "gap m - z")
    mask = (np.arange(sizing.cols) < sizing.classes).astype(np.int64)
    e0, e1 = table_outputs(gap, sizing.frac_bits, sizing.table_bits)
    product = mask * (e0 * e1)  # (CE3): = exp_neg_product(gap) on the real classes
    _check_range(product, 0, 1 << (2 * sizing.table_bits), "exp product P")
    total = product.sum(axis=1)  # (CE4)
    _check_range(total, 1 << (2 * sizing.table_bits), 1 << sizing.sum_bits, "row sum S")
    prob, remainder = divide(product, total[:, None], sizing.prob_bits)  # (CE5)
    _check_range(prob, 0, 1 << sizing.prob_bits, "probability p")
    return SoftmaxCE(onehot, m, gap, e0, e1, product, total, prob, remainder, prob)


def softmax_ce(z: np.ndarray, y: np.ndarray, sizing: SoftmaxSizing) -> SoftmaxCE:
    """(CE1)-(CE6): the softmax witness and the output gradient G = p - Y at 2^R."""
    check_labels(y, sizing)
    w = softmax_fixed(z, sizing)
    gradient = w.prob - np.asarray(y, dtype=np.int64)  # (CE6)
    return SoftmaxCE(w.onehot, w.max, w.gap, w.e0, w.e1, w.product, w.total, w.prob, w.remainder, gradient)


def probability_error_bound(sizing: SoftmaxSizing, s: float | np.ndarray | None = None) -> Fraction | np.ndarray:
    """|p / 2^(R_p) - softmax_j| <= 2^(-R_p - 1) + delta (1 + (C - 1) s_j) (module docstring),
    as a Fraction for the worst case s_j = 1 (C delta), or as float64 per entry for true
    softmax values ``s``."""
    delta = product_error_bound(sizing.table_bits)
    rounding = Fraction(1, 1 << (sizing.prob_bits + 1))
    if s is None:
        return rounding + delta * sizing.classes
    return float(rounding) + float(delta) * (1 + (sizing.classes - 1) * np.asarray(s, dtype=np.float64))


def cross_entropy_value(prob: np.ndarray, y: np.ndarray, sizing: SoftmaxSizing) -> float:
    """The mean cross-entropy -1/B sum_i log p_(i, y_i) of the fixed-point probabilities, for
    reporting only (the loss value is not proven; issue 15 item 2). A p of 0 counts as
    2^(-R_p - 1), its rounding bound."""
    rows = np.arange(prob.shape[0])
    label = np.argmax(np.asarray(y), axis=1)
    p = np.maximum(prob[rows, label].astype(np.float64), 0.5) / float(1 << sizing.prob_bits)
    return float(-np.mean(np.log(p)))
