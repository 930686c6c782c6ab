"""Zero-checks of polynomial identities over tables: the one builder of every gadget that writes
its identities once, as ``circuits.poly.Poly``s, and proves them at every boolean point
(LARS's trust ratio, ``verifier/trust.py``; LAMB's step, ``verifier/lamb_step.py``; Ghost BN's
step, ``verifier/ghost_bn_step.py``).

For identities I_0 .. I_m over tables T_1 .. T_k and challenges gamma_1 .. gamma_m, w drawn
before the sumcheck and after the tables are committed:

    sum_x eq(w, x) [I_0(x) + sum_j gamma_j I_j(x)] = 0.

If some I_j is nonzero at a boolean x, the combination is a nonzero multilinear polynomial at x
except with probability 1/r over the gammas (it is linear in each), and then its sum against
eq(w, .) is nonzero except with probability num_vars / r over w (Schwartz-Zippel on its MLE),
besides the sumcheck's own error. Every monomial times eq is one term of the sumcheck, so an
identity must have degree <= 2 in the tables (3 with eq), and only name bound tables: both are
fixed by each gadget's construction and refused here (``zero_check``) before any proof is read.

A table's claim lands at the sumcheck's point, or at a point derived from it (``point``: a table
broadcast over some coordinates has its claim without them); a public table (``public``) is
evaluated by the verifier itself (``verifier.phase.PublicTable``) and leaves no claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from circuits.poly import Poly

from .claims import Claim
from .field import MODULUS as R
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval
from .sumcheck import InstanceShape, Term


@dataclass(frozen=True)
class ZeroTable:
    """A table of a zero-check: the tensor its claim names, the prover's table, where the claim
    lands (``point``, from the sumcheck's point), or ``public``: the verifier's own evaluation at
    the sumcheck's point (then no claim)."""

    name: str
    table: Table
    point: Callable[[tuple], tuple] = tuple
    public: Callable[[tuple], int] | None = None


def flat(name: str) -> ZeroTable:
    """A committed or virtual table read as it is, its claim at the sumcheck's point."""
    return ZeroTable(name, Table("flat", (name,)))


def combine(polys: Sequence[Poly], gammas: Sequence[int]) -> Poly:
    """I_0 + sum_j gamma_j I_j: one challenge per identity after the first."""
    if len(gammas) != len(polys) - 1:
        raise ValueError(f"{len(gammas)} challenges for {len(polys)} identities")
    out = polys[0]
    for g, p in zip(gammas, polys[1:]):
        out = out + g * p
    return out


def zero_check(label: str, num_vars: int, w: Sequence[int], poly: Poly, tables: Sequence[ZeroTable]) -> Reduction:
    """sum_x eq(w, x) poly(x) = 0 over [eq_w] + ``tables`` (module docstring). Ends in one claim
    per non-public table, in order, each at its ``point``."""
    index = {t.name: i + 1 for i, t in enumerate(tables)}
    if poly.degree > 2 or not poly.names() <= set(index):  # fixed by construction; pinned by tests/test_zero_check.py
        raise AssertionError(f"{label}: the identities leave degree 2 or the tables")
    terms = tuple(Term(k % R, (0,) + tuple(index[n] for n in mono)) for mono, k in sorted(poly.terms.items()) if k % R)
    shape = InstanceShape(num_vars, len(tables) + 1, terms)

    def finish(evals):
        ((eq_e, *rest),) = evals
        return [Claim(t.name, t.point(eq_e.point), e.value) for t, e in zip(tables, rest, strict=True)
                if t.public is None]

    public = {0: PublicTable(f"{label}: identity eq", lambda p: eq_eval(w, p))}
    for i, t in enumerate(tables):
        if t.public is not None:
            public[i + 1] = PublicTable(f"{label}: public table {t.name}", t.public)
    return Reduction(label, [shape], [0], finish, [[Table("eq", (tuple(w),))] + [t.table for t in tables]], [public])
