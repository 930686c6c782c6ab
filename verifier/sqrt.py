"""Integer square root and reciprocal square root, verifier side: relations (S) and (R) of
``circuits/sqrt.py`` (nonlinear-gadgets.md section 5), elementwise over tensors of
``num_vars`` variables.

**isqrt** (``verify_sqrt``). s = floor(sqrt(x)) as x = s^2 + e, RC(e), RC(u = 2s - e); s is
virtual (s = (e + u) / 2, which RC(e) and RC(u) force to be the integer root: see the
circuit's docstring). One zero-check at a random point w (phase ``sqrt:<name>``, degree 3):

    sum_x eq(w, x) [S(x)^2 + E(x) - X(x)] = 0.

It ends at r with values of s, e, x. e is what its slots recompose to at r, and so is
u = 2 s~(r) - e~(r) (``Walk.slice_value``); the range checks of the two slots tensors
(``ranged``) make the bounds hold. A claim on x at r goes back to the caller. A caller that
needs s at another point reads it with ``root_at`` (s~(p) = (e~(p) + u~(p)) / 2).

**rsqrt** (``verify_rsqrt``). y = round_half_up(2^a / sqrt(x + eps)) as (R): t = y^2,
lo = 4c^2 - (4t - 4y + 1) V, hi = (4t + 4y + 1) V - 4c^2 - 1, V = x + eps, RC(y - 1), RC(lo),
RC(hi). The three identities are one zero-check (phase ``rsqrt:<name>``, degree 3), combined
by challenges lambda_1, lambda_2 drawn before it:

    sum_x eq(w, x) [(Y^2 - T) + lambda_1 (L - 4c^2 + (4T - 4Y + 1) V)
                    + lambda_2 (H + 4c^2 + 1 - (4T + 4Y + 1) V)](x) = 0,   V = X + eps.

At its point r: y, lo, hi are what their slots recompose to; claims on t (committed, the
caller's ledger) and x (the caller's tensor) go back to the caller. In the wide mode
(``Rsqrt.wide``: V past int64, t = y^2 past 2^63) t is committed as slots of t - 1 instead of a
plain tensor: its claim is tied to them too, and only the claim on x goes back.
"""

from __future__ import annotations

from collections.abc import Sequence

from circuits.sqrt import Decomposition, Rsqrt, Sqrt

from .claims import Claim
from .field import MODULUS as R
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval
from .sumcheck import InstanceShape, Term
from .values import Value, linear_combination
from .walk import Walk

HALF = (R + 1) // 2


def ranged(c: Sqrt | Rsqrt) -> list[tuple[str, Decomposition, int]]:
    """Every slots tensor the caller must range-check, as (name, decomposition, value_vars):
    isqrt: e, u; rsqrt: y - 1, lo, hi (and t - 1 in the wide mode)."""
    if isinstance(c, Sqrt):
        return [(c.slots("e"), c.e_slots(), c.num_vars), (c.slots("u"), c.u_slots(), c.num_vars)]
    out = [(c.slots("y"), c.y_slots(), c.num_vars), (c.slots("lo"), c.lo_slots(), c.num_vars),
           (c.slots("hi"), c.hi_slots(), c.num_vars)]
    return out + [(c.slots("t"), c.t_slots(), c.num_vars)] if c.wide else out


# --- integer square root ---------------------------------------------------------------------


def sqrt_reduction(c: Sqrt, w: Sequence[int]) -> Reduction:
    """The zero-check of x = s^2 + e at w. Tables [eq_w, S, E, X]; terms eq S S + eq E - eq X.
    Ends in claims on s, e, x at r."""
    terms = (Term(1, (0, 1, 1)), Term(1, (0, 2)), Term(R - 1, (0, 3)))
    shape = InstanceShape(c.num_vars, 4, terms)

    def finish(evals):
        ((eq_e, s_e, e_e, x_e),) = evals
        p = eq_e.point
        return [Claim(c.s, p, s_e.value), Claim(c.e, p, e_e.value), Claim(c.radicand, p, x_e.value)]

    tables = [Table("eq", (tuple(w),)), Table("flat", (c.s,)), Table("flat", (c.e,)), Table("flat", (c.radicand,))]
    public = {0: PublicTable(f"{c.name}: identity eq", lambda p: eq_eval(w, p))}
    return Reduction(f"sqrt:{c.name}", [shape], [0], finish, [tables], [public])


def verify_sqrt(walk: Walk, c: Sqrt) -> list[Claim]:
    """Relation (S): the zero-check (phase ``sqrt:<name>``), then e and u = 2s - e tied to
    their slots at its point. Returns the claim on x."""
    w = walk.t.challenge_scalars(b"sqrt-w", c.num_vars)
    s, e, x = walk.ch.phase(f"sqrt:{c.name}".encode(), [sqrt_reduction(c, w)])
    tie_root(walk, c, e.point, s.value, e.value)
    return [x]


def tie_root(walk: Walk, c: Sqrt, point: Sequence[int], s: Value, e: Value) -> None:
    """Claims s~(point) = s, e~(point) = e left by an identity: e is what e's slots recompose
    to at the point and u = 2s - e what u's slots do (``Walk.slice_value``; the folded slot
    claims join the ledger). With the range checks of both slots tensors (``ranged``) this makes
    s the integer root (the circuit's docstring)."""
    walk.slice_value(c.slots("e"), c.e_slots(), tuple(point), e)
    walk.slice_value(c.slots("u"), c.u_slots(), tuple(point), linear_combination([2, -1], [s, e]))


def root_at(walk: Walk, c: Sqrt, point: Sequence[int]) -> Value:
    """s~(point) = (e~(point) + u~(point)) / 2, read from the slots of e and u (their folded
    claims join the ledger): how a caller turns a claim on s into claims the range checks
    cover (LAMB's divisor D = s + eps_int)."""
    e = walk.slice_value(c.slots("e"), c.e_slots(), tuple(point))
    u = walk.slice_value(c.slots("u"), c.u_slots(), tuple(point))
    return linear_combination([HALF, HALF], [e, u])


# --- reciprocal square root ------------------------------------------------------------------


def rsqrt_reduction(c: Rsqrt, w: Sequence[int], lam: Sequence[int]) -> Reduction:
    """The combined zero-check of (R) at w. Tables [eq_w, Y, T, X, L, H]; ends in claims on
    y, t, x, lo, hi at r. With V = X + eps the terms expand to (all times eq):

        Y Y + (4 eps (l1 - l2) - 1) T + l1 L + l2 H + 4 (l1 - l2) T X - 4 (l1 + l2) Y X
        - 4 eps (l1 + l2) Y + (l1 - l2) X + l1 (eps - 4c^2) + l2 (4c^2 + 1 - eps).
    """
    l1, l2 = lam
    eps, c4 = c.eps, c.four_c2
    coeffs = [
        (1, (0, 1, 1)),
        (4 * eps * (l1 - l2) - 1, (0, 2)),
        (l1, (0, 4)),
        (l2, (0, 5)),
        (4 * (l1 - l2), (0, 2, 3)),
        (-4 * (l1 + l2), (0, 1, 3)),
        (-4 * eps * (l1 + l2), (0, 1)),
        (l1 - l2, (0, 3)),
        (l1 * (eps - c4) + l2 * (c4 + 1 - eps), (0,)),
    ]
    shape = InstanceShape(c.num_vars, 6, tuple(Term(k % R, f) for k, f in coeffs))

    def finish(evals):
        ((eq_e, y_e, t_e, x_e, lo_e, hi_e),) = evals
        p = eq_e.point
        return [Claim(c.y, p, y_e.value), Claim(c.t, p, t_e.value), Claim(c.radicand, p, x_e.value),
                Claim(c.lo, p, lo_e.value), Claim(c.hi, p, hi_e.value)]

    tables = [Table("eq", (tuple(w),))] + [Table("flat", (n,)) for n in (c.y, c.t, c.radicand, c.lo, c.hi)]
    public = {0: PublicTable(f"{c.name}: identity eq", lambda p: eq_eval(w, p))}
    return Reduction(f"rsqrt:{c.name}", [shape], [0], finish, [tables], [public])


def verify_rsqrt(walk: Walk, c: Rsqrt) -> list[Claim]:
    """Relation (R): the combined zero-check (phase ``rsqrt:<name>``), then y, lo, hi tied to
    their slots at its point. Returns the claims on t and x; in the wide mode t is tied to its
    slots as well and only the claim on x is returned."""
    w = walk.t.challenge_scalars(b"rsqrt-w", c.num_vars)
    lam = walk.t.challenge_scalars(b"rsqrt-lambda", 2)
    y, t, x, lo, hi = walk.ch.phase(f"rsqrt:{c.name}".encode(), [rsqrt_reduction(c, w, lam)])
    walk.slice_value(c.slots("y"), c.y_slots(), y.point, y.value)
    walk.slice_value(c.slots("lo"), c.lo_slots(), lo.point, lo.value)
    walk.slice_value(c.slots("hi"), c.hi_slots(), hi.point, hi.value)
    if c.wide:
        walk.slice_value(c.slots("t"), c.t_slots(), t.point, t.value)
        return [x]
    return [t, x]
