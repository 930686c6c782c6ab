"""Squared norms as claim reductions (issue 16; nonlinear-gadgets.md section 6; semantics and
bit bound in ``circuits/sqrt.py``: ``squared_norms``, ``norm_bits``).

A tensor T laid out [groups, inner] (inner the low ``inner_vars`` variables, C order; one group
when there are no group variables) has the exact squared norms N_g = sum_i T(g, i)^2. N is
virtual: a claim N~(rho) = v is one sumcheck,

    v = sum_x eq(rho, x_g) T(x)^2                (groups; degree 3, tables [eq_rho, T])
    v = sum_x T(x)^2                             (one tensor; degree 2, tables [T])

ending in one claim on T at the sumcheck's point (the caller reduces it: T is a committed
tensor or another virtual one). The eq factor is needed: sum_i T~(rho, i)^2 is the square of
an MLE in rho, not the MLE of the per-group norms, and agrees with it only at boolean rho.

Padding adds to the norm unless it is zero: T's padding must be forced by the caller (DESIGN
section 9), as for every stacked tensor. Table kinds: ``eq_low`` and ``flat`` only.
"""

from __future__ import annotations

from .claims import Claim
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval
from .sumcheck import InstanceShape, Term
from .values import canonical
from .walk import Walk


def norm_reduction(tensor: str, claim: Claim, inner_vars: int) -> Reduction:
    """The claim N~(rho) = v on the squared norms of ``tensor`` (rho = ``claim.point``, one
    coordinate per group variable) as a sumcheck over (inner, group) variables; ends in a claim
    on ``tensor`` at its point."""
    rho = tuple(claim.point)
    num_vars = inner_vars + len(rho)
    t_table = Table("flat", (tensor,))
    if not rho:
        shape = InstanceShape(num_vars, 1, (Term(1, (0, 0)),))

        def finish(evals):
            ((t_e,),) = evals
            return [Claim(tensor, t_e.point, t_e.value)]

        return Reduction(f"norm:{tensor}", [shape], [canonical(claim.value)], finish, [[t_table]], [{}])

    shape = InstanceShape(num_vars, 2, (Term(1, (0, 1, 1)),))

    def finish_groups(evals):
        ((eq_e, t_e),) = evals
        return [Claim(tensor, eq_e.point, t_e.value)]

    tables = [Table("eq_low", (rho, inner_vars)), t_table]
    public = {0: PublicTable(f"{tensor}: norm groups eq", lambda p: eq_eval(rho, p[inner_vars:]))}
    return Reduction(f"norm:{tensor}", [shape], [canonical(claim.value)], finish_groups, [tables], [public])


def verify_norms(walk: Walk, tensor: str, norms: str, group_vars: int, inner_vars: int) -> list[Claim]:
    """Standalone use: the prover sends N~(rho) at a random rho (``norms`` names N, virtual:
    a commitment in ZK mode), which one sumcheck (phase ``norm:<tensor>``) reduces to a claim
    on T. Returns [the claim on N, the claim on T]: the first is the caller's to consume (for
    instance against the sqrt gadget's claim on its radicand), the second its ledger's."""
    rho = walk.t.challenge_scalars(b"norm-groups", group_vars)
    value = walk.ch.evaluation(norms, rho)
    claim = Claim(norms, tuple(rho), value)
    return [claim] + walk.ch.phase(f"norm:{tensor}".encode(), [norm_reduction(tensor, claim, inner_vars)])

