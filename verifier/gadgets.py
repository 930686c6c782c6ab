"""Verifier side of the gadgets: claim reductions of the training circuit (zkDL, FAC4DNN).

Each ``*_reduction`` returns a :class:`~verifier.phase.Reduction` (sumcheck instances, their
public tables, and how the other final evaluations become claims); ``fold_slices`` is the
one reduction that needs no sumcheck (the walk checks the slot values it folds:
``TrainingWalk.slice_value``). Points are little-endian; ``claim_at`` callbacks let
the circuit builder place the sumcheck's coordinates into each tensor's own layout.

Claimed values are walk values (``verifier/values.py``): ints in the clear mode, commitments
in the zero-knowledge mode; the gadgets only combine them linearly, so they serve both.

Tables are listed in a fixed order per gadget; the prover's ``prover/gadgets.py`` builds the
same tables in the same order.
"""

from __future__ import annotations

from typing import Callable, Sequence

from circuits.layout import Layout

from .claims import Claim
from .errors import VerifyError
from .field import MODULUS as R
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval, eq_table
from .sumcheck import InstanceShape, Term, product_shape
from .transcript import Transcript
from .values import Value, canonical, linear_combination

# Where a gadget's final evaluation lands: the tensor's name and its point in the tensor's own
# layout, from the sumcheck's coordinates (split in two parts for the two-part gadgets).
Place = Callable[[tuple[int, ...]], tuple[str, tuple[int, ...]]]
ClaimAt = Callable[[tuple[int, ...], tuple[int, ...]], tuple[str, tuple[int, ...]]]


def matmul_reduction(
    name: str, value: Value, u_t: Sequence[int], k_vars: int,
    a_table: Table, b_table: Table, a_at: ClaimAt, b_at: ClaimAt,
) -> Reduction:
    """Stacked matrix product (zkDL eqs. 9-11, Thaler's matmul sumcheck).

    For C[t, m, n] = sum_k A[t, m, k] B[t, n, k], a claim C~(u_n, u_m, u_t) = value becomes

        value = sum_{t, k} eq(u_t, t) A~(k, u_m, t) B~(k, u_n, t),

    one degree-3 sumcheck over (k, t) with tables [eq_t, A bound at u_m, B bound at u_n]
    (k the low variables). It ends in claims on A and B at (r_k, r_t), placed by a_at / b_at.
    """
    t_vars = len(u_t)

    def finish(evals):
        ((eq_e, a_e, b_e),) = evals
        r_k, r_t = eq_e.point[:k_vars], eq_e.point[k_vars:]
        return [Claim(*a_at(r_k, r_t), a_e.value), Claim(*b_at(r_k, r_t), b_e.value)]

    tables = [Table("eq_low", (tuple(u_t), k_vars)), a_table, b_table]
    public = {0: PublicTable(f"{name}: eq over steps", lambda p: eq_eval(u_t, p[k_vars:]))}
    return Reduction(name, [product_shape(k_vars + t_vars, 3)], [canonical(value)], finish, [tables], [public])


def masked_hadamard_reduction(
    name: str, claims: Sequence[Claim], rho: Sequence[int], num_vars: int,
    s_table: Table, x_table: Table, s_at: Place, x_at: Place,
) -> Reduction:
    """V = (1 - S) * X (zkReLU, DESIGN section 4), for several claims on V at once.

    sum_x E(x) (X(x) - S(x) X(x)) = sum_j rho_j V~(u_j), with E = sum_j rho_j eq(u_j, .):
    the claims are folded into one instance. Tables [E, S, X]; ends in claims on S and X.
    """
    shape = InstanceShape(num_vars, 3, (Term(1, (0, 2)), Term(R - 1, (0, 1, 2))))
    total = linear_combination(rho, [c.value for c in claims])

    def finish(evals):
        ((e_e, s_e, x_e),) = evals
        return [Claim(*s_at(e_e.point), s_e.value), Claim(*x_at(e_e.point), x_e.value)]

    e_table = Table("combined_eq", (tuple(c.point for c in claims), tuple(rho)))
    public = {0: PublicTable(f"{name}: combined eq", _combined_eq(claims, rho))}
    return Reduction(name, [shape], [total], finish, [[e_table, s_table, x_table]], [public])


def _combined_eq(claims: Sequence[Claim], rho: Sequence[int]):
    """x -> E(x) = sum_j rho_j eq(u_j, x) for the claims' points u_j."""
    return lambda x: sum(r * eq_eval(c.point, x) for r, c in zip(rho, claims, strict=True)) % R


def booleanity_reduction(tensor: str, w: Sequence[int]) -> Reduction:
    """Zero-check sum_x eq(w, x) (B(x)^2 - B(x)) = 0 (zkDL's auxiliary-input validity proof).

    At a random w this holds for a non-binary B with probability <= deg/|F|. Tables [eq_w, B].
    """
    shape = InstanceShape(len(w), 2, (Term(1, (0, 1, 1)), Term(R - 1, (0, 1))))

    def finish(evals):
        ((eq_e, b_e),) = evals
        return [Claim(tensor, eq_e.point, b_e.value)]

    tables = [Table("eq", (tuple(w),)), Table("flat", (tensor,))]
    public = {0: PublicTable(f"{tensor}: booleanity eq", lambda p: eq_eval(w, p))}
    return Reduction(f"bool:{tensor}", [shape], [0], finish, [tables], [public])


def step_functional_reduction(
    name: str, value: Value, kappa: Sequence[int], b_vars: int,
    operand_tables: Sequence[Table], operands: Sequence[ClaimAt], coeff: int = 1,
) -> Reduction:
    """sum_s kappa_s sum_b prod_k F_k(s, b) = value, the shape of every exact-SGD relation.

    With W_t = W_0 - sum_{s<t} lr_s G_W,s and G_W,s = G_Z,s^T A_s (DESIGN section 5), a claim on
    the stacked weights W~(p, r_t) equals W_0~(p) - sum_s kappa_s G_W~(s, p) with
    kappa_s = lr_s sum_t eq(r_t, t) [s < t]; G_W~(s, p) = sum_b G_Z~(s, b, p_j) A~(s, b, p_i).
    Tables [K, F_1, .., F_m] over (b, s) (b low); K_s = kappa_s is public.
    """
    s_vars = (len(kappa) - 1).bit_length()
    if len(kappa) != 1 << s_vars:
        raise ValueError("kappa must have a power-of-two length")
    shape = InstanceShape(b_vars + s_vars, 1 + len(operands), (Term(coeff % R, tuple(range(1 + len(operands)))),))

    def finish(evals):
        (inst,) = evals
        r_b, r_s = inst[0].point[:b_vars], inst[0].point[b_vars:]
        return [Claim(*at(r_b, r_s), ev.value) for at, ev in zip(operands, inst[1:])]

    def step_weights(point):
        return sum(e * k for e, k in zip(eq_table(point[b_vars:]), kappa)) % R

    tables = [Table("steps", (tuple(kappa), b_vars)), *operand_tables]
    public = {0: PublicTable(f"{name}: step weights", step_weights)}
    return Reduction(name, [shape], [canonical(value)], finish, [tables], [public])


def multipoint_reduction(tensor: str, claims: Sequence[Claim], rho: Sequence[int]) -> Reduction:
    """Claims on one committed tensor at m points become one (DESIGN section 9, claims ledger):
    sum_x (sum_j rho_j eq(u_j, x)) T(x) = sum_j rho_j v_j. Tables [E, T]."""
    num_vars = len(claims[0].point)
    if any(len(c.point) != num_vars for c in claims):
        raise VerifyError(f"{tensor}: claims of different dimensions")
    total = linear_combination(rho, [c.value for c in claims])

    def finish(evals):
        ((e_e, t_e),) = evals
        return [Claim(tensor, e_e.point, t_e.value)]

    tables = [Table("combined_eq", (tuple(c.point for c in claims), tuple(rho))), Table("flat", (tensor,))]
    public = {0: PublicTable(f"{tensor}: combined eq", _combined_eq(claims, rho))}
    return Reduction(f"ledger:{tensor}", [product_shape(num_vars, 2)], [total], finish, [tables], [public])


def selection_weight(rows: Sequence[Sequence[int]], r_b: Sequence[int], r_t: Sequence[int], r_i: Sequence[int]) -> int:
    """c~(r_i) for c(i) = sum_{t, b} eq(r_t, t) eq(r_b, b) [rows[t][b] = i]: the MLE of the
    selection that feeds batch entry (t, b) from data set row rows[t][b] (steps past
    ``len(rows)``, the padded ones, select nothing), at r_i. len(r_i) products per entry."""
    eq_t, eq_b = eq_table(r_t), eq_table(r_b)
    total = 0
    for t, batch in enumerate(rows):
        for b, i in enumerate(batch):
            weight = eq_t[t] * eq_b[b] % R
            for k, r in enumerate(r_i):
                weight = weight * (r if (i >> k) & 1 else 1 - r) % R
            total += weight
    return total % R


def selection_reduction(
    name: str, claim: Claim, dataset: str, rows: Sequence[Sequence[int]], f_vars: int, b_vars: int, row_vars: int
) -> Reduction:
    """A claim on a batch stream drawn from a committed data set (issue 13): with S(t, b, f) =
    D(rows[t][b], f) on the segment's real steps (zero on the padded ones),

        S~(p, r_b, r_t) = sum_i c(i) D~(i, p),   c as in ``selection_weight``,

    one degree-2 sumcheck over the data set's row variables, tables [c (public), D with its
    feature axis bound at p]; it ends in a claim on D at (p, r_i), D's layout being [i, f].
    ``claim.point`` is (p, r_b, r_t) in the stream's layout [t, b, f], f the low variables."""
    point = tuple(claim.point)
    p, r_b, r_t = point[:f_vars], point[f_vars : f_vars + b_vars], point[f_vars + b_vars :]

    def finish(evals):
        ((c_e, d_e),) = evals
        return [Claim(dataset, p + tuple(c_e.point), d_e.value)]

    tables = [Table("selection", (tuple(map(tuple, rows)), r_b, r_t, row_vars)), Table("bind", (dataset, 1, p))]
    public = {0: PublicTable(f"{name}: selection", lambda r_i: selection_weight(rows, r_b, r_t, r_i))}
    return Reduction(name, [product_shape(row_vars, 2)], [canonical(claim.value)], finish, [tables], [public])


def slot_point(decomposition, slot: int) -> tuple[int, ...]:
    """The boolean coordinates of slot ``slot`` (e.g. the sign slot), little-endian."""
    return tuple((slot >> j) & 1 for j in range(decomposition.slot_vars))


def fold_slices(
    transcript: Transcript, tensor: str, decomposition, u: Sequence[int], slices: Sequence[Value]
) -> Claim:
    """Fold the slot values (absorbed by whoever sent them) at a random rho: the claim
    B~(rho, u) = sum_i eq(rho, i) v_i on the slots tensor. Values may be ints or commitments."""
    rho = transcript.challenge_scalars(b"slot-fold", decomposition.slot_vars)
    return Claim(tensor, tuple(rho) + tuple(u), linear_combination(eq_table(rho), slices))


def below_eval(r: Sequence[int], n: int) -> int:
    """The MLE of the predicate [x < n] over len(r) variables, at r."""
    return sum(eq_table(r)[:n]) % R


def padding_reduction(tensor: str, w: Sequence[int], layout: Layout, real: dict[str, int]) -> Reduction:
    """Padding is forced (DESIGN section 9): sum_x eq(w, x) P(x) B(x) = 0, where the public
    predicate P is 1 on every slot outside the real extent ``real`` of some axis.

    P~(r) = 1 - prod_axis below(r_axis, n_axis) is computed by the verifier itself. Tables
    [eq_w, P, B]; ends in a claim on B.
    """
    shape = product_shape(len(w), 3)

    def finish(evals):
        ((eq_e, _, b_e),) = evals
        return [Claim(tensor, eq_e.point, b_e.value)]

    def predicate(point):
        coords = layout.split(point)
        inside = 1
        for axis, _ in layout.axes:
            inside = inside * below_eval(coords[axis], real.get(axis, 1 << layout.vars(axis))) % R
        return (1 - inside) % R

    tables = [
        Table("eq", (tuple(w),)),
        Table("padding", (layout, tuple(sorted(real.items())))),
        Table("flat", (tensor,)),
    ]
    public = {
        0: PublicTable(f"{tensor}: padding eq", lambda p: eq_eval(w, p)),
        1: PublicTable(f"{tensor}: padding predicate", predicate),
    }
    return Reduction(f"padding:{tensor}", [shape], [0], finish, [tables], [public])
