"""Row max by a committed one-hot, verifier side: (a), (p), (b), (c), (d) of
``circuits/rowmax.py`` (nonlinear-gadgets.md section 2), over e, z, D [rows, cols] (cols the
low variables) and m [rows].

One phase per check, so that a rejection names the check (a caller that needs fewer rounds
batches the same reductions in one phase):

  (a) ``rowmax:<name>:booleanity``  sum_x eq(w, x) (e(x)^2 - e(x)) = 0;
  (p) ``rowmax:<name>:padding``     sum_x eq(w', x) [x_col >= C] e(x) = 0 (when C < 2^cols);
  (b) ``rowmax:<name>:row-sum``     sum_x eq(rho, x_row) e(x) = 1, the MLE of the all-ones
                                    row-sum vector at a random row point rho;
  (c) ``rowmax:<name>:max``         sum_x eq(rho, x_row) e(x) z(x) = m~(rho), the value the
                                    prover sends: m is virtual. (The eq factor is needed:
                                    sum_j e~(rho, j) z~(rho, j) is a product of two MLEs in
                                    rho, not the MLE of the row products.)
  (d) D~(sigma, rho) = M~(sigma) m~(rho) - z~(sigma, rho) at a random column point sigma,
      with D what its committed slots recompose to and M the public mask [j < C] (the MLE of
      M_j m_i is the product of the MLEs: disjoint variables). Nonnegativity is the range
      check of D's slots (``ranged``: the caller's logUp statement, or bits' booleanity).

``verify_rowmax`` returns the claims the caller reduces next: on e (committed) from (a), (p),
(b), (c); on z from (c) and (d). D's slot claim joins the walk's ledger. A caller that holds D
in another committed form passes ``gap``, which reads D~(sigma, rho) (and ledgers its own
claims): the softmax reads D = z0 + 2^16 z1 from the exp gadget's looked-up indices, whose
lookups are then D's range check (``verifier/losses.py``).
"""

from __future__ import annotations

from typing import Callable

from circuits.layout import Layout
from circuits.rowmax import Decomposition, RowMax

from .claims import Claim
from .gadgets import below_eval, booleanity_reduction, padding_reduction
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval
from .sumcheck import product_shape
from .values import Value, linear_combination
from .walk import Walk


def ranged(c: RowMax) -> list[tuple[str, Decomposition, int]]:
    """The slots tensor the caller must range-check: D (nonnegativity, (d))."""
    return [(c.gap, c.gap_slots(), c.num_vars)]


def _row_weighted(c: RowMax, what: str, rho, factors: list[str], claimed: Value) -> Reduction:
    """sum_x eq(rho, x_row) prod_k F_k(x) = claimed. Tables [eq_rho (public), F_1, ..]."""

    def finish(evals):
        ((eq_e, *rest),) = evals
        return [Claim(f, eq_e.point, e.value) for f, e in zip(factors, rest, strict=True)]

    tables = [Table("eq_low", (tuple(rho), c.cols_vars))] + [Table("flat", (f,)) for f in factors]
    public = {0: PublicTable(f"{c.name}: {what} eq", lambda p: eq_eval(rho, p[c.cols_vars :]))}
    return Reduction(f"rowmax:{what}", [product_shape(c.num_vars, len(tables))], [claimed], finish, [tables], [public])


def verify_rowmax(walk: Walk, c: RowMax, gap: Callable[[Walk, tuple], Value] | None = None) -> list[Claim]:
    """Checks (a), (p), (b), (c), (d) in that order; the claims on e and z they leave. ``gap``
    reads D at (d)'s point (default: D's committed slots, ``Walk.slice_value``)."""
    t, ch = walk.t, walk.ch
    label = f"rowmax:{c.name}:".encode()
    w = t.challenge_scalars(b"rowmax-booleanity", c.num_vars)
    claims = ch.phase(label + b"booleanity", [booleanity_reduction(c.e, w)])
    if c.classes < 1 << c.cols_vars:
        w = t.challenge_scalars(b"rowmax-padding", c.num_vars)
        layout = Layout.of(i=c.rows_vars, j=c.cols_vars)
        claims += ch.phase(label + b"padding", [padding_reduction(c.e, w, layout, {"j": c.classes})])
    rho = t.challenge_scalars(b"rowmax-rows", c.rows_vars)
    claims += ch.phase(label + b"row-sum", [_row_weighted(c, "row-sum", rho, [c.e], 1)])
    m = ch.evaluation(c.m, rho)
    claims += ch.phase(label + b"max", [_row_weighted(c, "max", rho, [c.e, c.logits], m)])
    sigma = t.challenge_scalars(b"rowmax-cols", c.cols_vars)
    point = tuple(sigma) + tuple(rho)
    gap = walk.slice_value(c.gap, c.gap_slots(), point) if gap is None else gap(walk, point)
    mask = below_eval(sigma, c.classes)
    return claims + [Claim(c.logits, point, linear_combination([mask, -1], [m, gap]))]
