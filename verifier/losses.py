"""The loss modules of the training walk (DESIGN section 10: "the walk composes operations; it
does not branch on them"; ``docs/cross_entropy_proof.md``).

``verifier.training.TrainingWalk`` asks the circuit's loss module (``loss_module``, keyed by the
recipe's ``train.loss``, which the transcript absorbs with the recipe bytes and the circuit's
encoding) for what the loss adds, at fixed places of the walk:

  * ``lookups()``: function lookups joined to the walk's one logUp statement;
  * ``output_gradient(walk, claims)``: phase 3 consumes the claims on G_Z,L = G_out;
  * ``relations(walk)``: after phase 3 and before the data phase, the loss's own reductions,
    whose claims join the walk's ledger.

Its committed and range-checked tensors are the circuit's (``circuits/loss.py``), so the walk
commits, range-checks (logUp limbs or bits' booleanity) and opens them with its own.

:class:`MseLoss` is the walk's former phase-3 check, moved: G_Z,L~(u) = Z'_L~(u) - Y~(u), with
the same messages and transcript (MSE proofs are byte-identical).

:class:`SoftmaxCrossEntropy` proves (CE1)-(CE6) of ``circuits/softmax.py`` over the stacked
logits (rows (batch, step), classes innermost), from the gadgets:

  1. output gradient (phase 3, linear): G~(u) = p~(u) - Y~(u), p~(u) the recomposition of the
     division's quotient slots (CE6);
  2. division (``verifier.division``, phase ``division:ce.div``): 2 p S + r' = 2^(R+1) n + S
     with RC(p), RC(r'), RC(2S - 1 - r'), RC(S - 1) (CE5); claims on n at r and on S at r_row;
  3. masked product (phase ``ce:product``, one degree-3 sumcheck): with M_j = [j < C],
     n = M e0 e1 and S(row) = sum_j M_j e0 e1 (CE3), (CE4):
         n~(r) + alpha S~(r_row) = sum_x eq(r_row, x_row) M(x_col) (eq(r_col, x_col) + alpha) e0 e1,
     a public weight the verifier evaluates (``masked_product_reduction``); claims on e0, e1;
  4. row max (``verifier.rowmax``, phases ``rowmax:ce.max:*``) (CE1), (CE2), with the gap read
     as D~(p) = z0~(p) + 2^16 z1~(p) (two evaluations of the committed exp indices): (d) ties
     the indices to the logits, whose claims go to Z{L}'s committed slots;
  5. lookups: (z0, e0) in E0 and (z1, e1) in E1 (``circuits.tables.exp_tables``), which also
     range-check z0, z1 in [0, 2^16), so D in [0, 2^32): D >= 0 (rowmax (d)) and in exp's domain;
  6. labels one-hot (phase ``ce:labels``): booleanity of Y / 2^R, sum_x eq(w, x) Y (Y - 2^R) = 0,
     and each row sums to 2^R on real steps and 0 on padded ones:
         2^(log C') Y~(1/2, .., 1/2, rho) = 2^R [s < T]~(rho_steps),
     the MLE of the row sums at rho (a multilinear function summed over the boolean cube is
     2^k times its value at the centre). Padded classes of Y are zero by the data's padding.
"""

from __future__ import annotations

from collections.abc import Sequence

from circuits.loss import SoftmaxCELossCircuit, loss_circuit
from circuits.tables import exp_tables

from .claims import Claim
from .division import verify_division
from .field import MODULUS as R
from .logup import FunctionLookup
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval, eq_table, mle_evaluate
from .rowmax import verify_rowmax
from .sumcheck import InstanceShape, Term
from .values import Value, linear_combination

HALF = pow(2, -1, R)


class MseLoss:
    """G_out = Z'_L - Y (DESIGN section 4): the walk's phase-3 check, nothing else."""

    def __init__(self, circuit):
        self.c = circuit

    def lookups(self) -> tuple[FunctionLookup, ...]:
        return ()

    def output_gradient(self, walk, claims: Sequence[Claim]) -> None:
        c = self.c
        for claim in claims:
            zp = walk.slice_value(c.ranged(f"Z{c.layers}"), c.z_slots(c.layers), claim.point)
            y = walk.st.data.labels(walk, claim.point)
            walk.require_equal(zp - y, claim.value, "output gradient is not Y_hat - Y")

    def relations(self, walk) -> None:
        pass


def masked_product_reduction(lc: SoftmaxCELossCircuit, n: Claim, s: Claim, alpha: int) -> Reduction:
    """Step 3 of the module docstring: claims n~(r) = v_n, S~(r_row) = v_S become claims on e0,
    e1 at one point, by sum_x W(x) e0(x) e1(x) = v_n + alpha v_S with the public weight

        W(x) = eq(r_row, x_row) M(x_col) (eq(r_col, x_col) + alpha)
             = sum_(j < C) (eq(r_col, j) + alpha) eq((j, r_row), x),

    a combination of C eq tables at points with boolean class coordinates (the mask M as the
    sum over the real classes only), which the verifier evaluates in O(C log C'). Tables
    [W, e0, e1], degree 3."""
    cols, r_row = lc.cols_vars, tuple(s.point)
    r_col = tuple(n.point[:cols])
    if tuple(n.point[cols:]) != r_row:
        raise AssertionError("the division's claims on n and S share their row point")
    eq_col = eq_table(r_col)
    points = tuple(tuple((j >> k) & 1 for k in range(cols)) + r_row for j in range(lc.classes))
    rho = tuple((eq_col[j] + alpha) % R for j in range(lc.classes))

    def weight(p):
        return sum(w * eq_eval(u, p) for w, u in zip(rho, points)) % R

    def finish(evals):
        ((_, e0_e, e1_e),) = evals
        return [Claim(lc.e0, e0_e.point, e0_e.value), Claim(lc.e1, e1_e.point, e1_e.value)]

    tables = [Table("combined_eq", (points, rho)), Table("flat", (lc.e0,)), Table("flat", (lc.e1,))]
    public = {0: PublicTable("ce: masked product weight", weight)}
    shape = InstanceShape(lc.num_vars, 3, (Term(1, (0, 1, 2)),))
    claimed = linear_combination([1, alpha % R], [n.value, s.value])
    return Reduction("ce:product", [shape], [claimed], finish, [tables], [public])


def label_booleanity_reduction(lc: SoftmaxCELossCircuit, w: Sequence[int]) -> Reduction:
    """Step 6: sum_x eq(w, x) (Y(x)^2 - 2^R Y(x)) = 0 over the stacked labels [T', B, C'].
    Tables [eq_w, Y]; ends in a claim on Y (the data binding's)."""
    unit = 1 << lc.circuit.frac_bits
    shape = InstanceShape(len(w), 2, (Term(1, (0, 1, 1)), Term(-unit % R, (0, 1))))

    def finish(evals):
        ((eq_e, y_e),) = evals
        return [Claim("Y", eq_e.point, y_e.value)]

    tables = [Table("eq", (tuple(w),)), Table("flat", ("Y",))]
    public = {0: PublicTable("ce: label booleanity eq", lambda p: eq_eval(w, p))}
    return Reduction("ce:label-booleanity", [shape], [0], finish, [tables], [public])


class SoftmaxCrossEntropy:
    """G_out = p - Y, p the exact fixed-point softmax of the logits (module docstring)."""

    def __init__(self, circuit):
        self.c = circuit
        self.lc: SoftmaxCELossCircuit = loss_circuit(circuit)

    def lookups(self) -> tuple[FunctionLookup, ...]:
        """(z0, e0) in E0 and (z1, e1) in E1: the exp tables at the recipe's R (pinned digests)."""
        lc = self.lc
        e0, e1 = exp_tables(self.c.frac_bits, lc.sizing.table_bits)
        return (FunctionLookup(lc.z0, lc.e0, e0, lc.num_vars), FunctionLookup(lc.z1, lc.e1, e1, lc.num_vars))

    def output_gradient(self, walk, claims: Sequence[Claim]) -> None:
        """(CE6) at every claim point u of phase 3: G~(u) = p~(u) - Y~(u), p~(u) from its slots."""
        div = self.lc.division
        for claim in claims:
            p = walk.slice_value(div.slots("q"), div.q_slots(), claim.point)
            y = walk.st.data.labels(walk, claim.point)
            walk.require_equal(p - y, claim.value, "output gradient is not p - Y")

    def relations(self, walk) -> None:
        """Steps 2, 3, 4 and 6 of the module docstring, in that order; their claims on committed
        tensors join the ledger, those on the logits Z{L}'s slots, those on Y the data binding."""
        lc, t, ch, c = self.lc, walk.t, walk.ch, self.c
        t.domain_separate(b"loss:cross-entropy")
        n_claim, s_claim = verify_division(walk, lc.division)
        alpha = t.challenge_scalar(b"ce-alpha")
        walk.ledger.extend(ch.phase(b"ce:product", [masked_product_reduction(lc, n_claim, s_claim, alpha)]))
        for claim in verify_rowmax(walk, lc.rowmax, gap=self._gap):
            if claim.tensor == lc.logits:
                walk.slice_value(c.ranged(f"Z{c.layers}"), c.z_slots(c.layers), claim.point, claim.value)
            else:
                walk.ledger.add(claim)
        self._labels(walk)

    def _gap(self, walk, point: Sequence[int]) -> Value:
        """D~(point) = z0~(point) + 2^16 z1~(point): both sent, both ledger claims (step 4)."""
        lc = self.lc
        z0, z1 = (walk.ch.evaluation(name, point) for name in (lc.z0, lc.z1))
        walk.ledger.add(Claim(lc.z0, tuple(point), z0))
        walk.ledger.add(Claim(lc.z1, tuple(point), z1))
        return linear_combination([1, 1 << 16], [z0, z1])

    def _labels(self, walk) -> None:
        """Step 6: Y one-hot at 2^R on the real steps, zero on the padded ones."""
        lc, c, t = self.lc, self.c, walk.t
        w = t.challenge_scalars(b"ce-labels", lc.num_vars)
        (claim,) = walk.ch.phase(b"ce:labels", [label_booleanity_reduction(lc, w)])
        y = walk.st.data.labels(walk, claim.point)
        walk.require_equal(y, claim.value, "ce: the label booleanity claim is not the labels'")
        rho = t.challenge_scalars(b"ce-label-rows", lc.rows_vars)
        centre = walk.st.data.labels(walk, (HALF,) * lc.cols_vars + tuple(rho))
        steps = mle_evaluate([1] * c.steps + [0] * (c.padded_steps - c.steps), rho[c.batch_vars :])
        walk.require_equal((1 << lc.cols_vars) * centre, (steps << c.frac_bits) % R,
                           "ce: a label row does not sum to 2^R (real step) or 0 (padded step)")


LOSS_MODULES = {"mse": MseLoss, "cross_entropy": SoftmaxCrossEntropy}


def loss_module(circuit) -> MseLoss | SoftmaxCrossEntropy:
    """The loss module the circuit's ``loss`` (the recipe's ``train.loss``) names."""
    return LOSS_MODULES[circuit.loss](circuit)
