"""Exact division with rounding, verifier side: relation (1) of ``circuits/division.py``,

    2 q d + r' = 2 s n + d,   RC(r'), RC(2d - 1 - r'), RC(d - 1), RC(q + 2^(w_q - 1)),

over q_ij, r'_ij, n_ij [rows, cols] and d_i broadcast over j (nonlinear-gadgets.md
section 1).

The identity is one zero-check at a random point w (DESIGN section 5: a claim reduction),

    sum_x eq(w, x) [2 D(x) Q(x) + R'(x) - 2s N(x) - D(x)] = 0,   D(x) = d(x_row),

degree 3 with eq; a public d is a table the verifier evaluates itself (d~(r_row)), a
committed one is a product term (its broadcast, whose MLE at (r_col, r_row) is d~(r_row)).
It ends at a point r with values of q, r', n and d. Then q, r' and d are what their committed
slots recompose to at r (``Walk.slice_value``), and so is u = 2d - 1 - r', computed by the
verifier from the other two: the range checks of the slots tensors (``ranged``: the caller's
logUp statement, or booleanity for bits) make every one of (1)'s bounds hold.

``verify_division`` returns the claims the caller reduces next: on n at r (the caller's
tensor) and, for a committed divisor, on d at r_row; the slot claims join the walk's ledger.
"""

from __future__ import annotations

from collections.abc import Sequence

from circuits.division import Decomposition, Division

from .claims import Claim
from .field import MODULUS as R
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval, mle_evaluate
from .sumcheck import InstanceShape, Term
from .values import linear_combination
from .walk import Walk


def ranged(c: Division) -> list[tuple[str, Decomposition, int]]:
    """Every slots tensor the caller must range-check, as (name, decomposition, value_vars):
    the divisor's first (RC(d - 1)), then q, r', u."""
    cells = [(c.slots("q"), c.q_slots(), c.num_vars), (c.slots("r"), c.r_slots(), c.num_vars),
             (c.slots("u"), c.u_slots(), c.num_vars)]
    return ([(c.slots("d"), c.d_slots(), c.rows_vars)] if c.committed_divisor else []) + cells


def identity_reduction(c: Division, w: Sequence[int]) -> Reduction:
    """The zero-check of (1) at w. Tables [eq_w, D, Q, R', N]; terms 2 eq D Q + eq R'
    - 2s eq N - eq D. Ends in claims on q, r', n at r and, when committed, d at r_row."""
    two_s = 2 << c.shift
    terms = (Term(2, (0, 1, 2)), Term(1, (0, 3)), Term(R - two_s, (0, 4)), Term(R - 1, (0, 1)))
    shape = InstanceShape(c.num_vars, 5, terms)

    def finish(evals):
        ((eq_e, d_e, q_e, r_e, n_e),) = evals
        p = eq_e.point
        out = [Claim(c.q, p, q_e.value), Claim(c.r, p, r_e.value), Claim(c.numerator, p, n_e.value)]
        return out + ([Claim(c.d, p[c.cols_vars :], d_e.value)] if c.committed_divisor else [])

    public = {0: PublicTable(f"{c.name}: identity eq", lambda p: eq_eval(w, p))}
    if c.committed_divisor:
        d_table = Table("broadcast", (c.d, c.cols_vars))
    else:
        d_table = Table("steps", (c.divisor, c.cols_vars))
        public[1] = PublicTable(f"{c.name}: public divisors", lambda p: mle_evaluate(c.divisor, p[c.cols_vars :]))
    tables = [Table("eq", (tuple(w),)), d_table, Table("flat", (c.q,)), Table("flat", (c.r,)),
              Table("flat", (c.numerator,))]
    return Reduction(f"division:{c.name}", [shape], [0], finish, [tables], [public])


def verify_division(walk: Walk, c: Division) -> list[Claim]:
    """Relation (1): the zero-check (phase ``division:<name>``), then q, r', u = 2d - 1 - r'
    and d tied to their slots at the zero-check's point. Returns the claims on n (and d)."""
    w = walk.t.challenge_scalars(b"division-w", c.num_vars)
    q, r, n, *d = walk.ch.phase(f"division:{c.name}".encode(), [identity_reduction(c, w)])
    p, p_row = q.point, q.point[c.cols_vars :]
    d_value = d[0].value if d else mle_evaluate(c.divisor, p_row)
    walk.slice_value(c.slots("q"), c.q_slots(), p, q.value)
    walk.slice_value(c.slots("r"), c.r_slots(), p, r.value)
    walk.slice_value(c.slots("u"), c.u_slots(), p, linear_combination([2, -1], [d_value, r.value], -1))
    if d:
        walk.slice_value(c.slots("d"), c.d_slots(), p_row, d_value)
    return [n, *d]
