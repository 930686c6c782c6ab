"""One Ghost BN layer's training step, verifier side: the relations of
``circuits/ghost_bn_step.py`` (docs/ghost_bn.md section 3, relations 1-7, and section 4;
nonlinear-gadgets.md sections 1, 5, 9, 10), over [T', B, C] elements, [T' G, C] statistics and
[T', C] parameters (C low; the ghost batch's i bits the low bits of b).

**Phase ``ghost-bn:<name>``**: two zero-checks batched in one sumcheck, each combining its
identities (written once, as ``Poly``s, in ``circuits/ghost_bn_step.py``) by challenges drawn
before it:

    sum_e eq(w, e) [X_0 + sum_j gamma_j X_j](e) = 0    over (c, i, g, t): (X), (Y), (DX)
    sum_s eq(w', s) [S_0 + sum_j gamma'_j S_j](s) = 0  over (c, g, t): (T) (LO) (HI) (K) (P) (RM) (RV)

A statistics table in the element zero-check is constant over i (Gamma and beta over g and i,
and Gamma over g in the statistics one): its claim is at the point without those coordinates
(``drop_i``, ``drop_gi``, ``drop_g``). An identity that fails at a boolean point escapes with
probability at most 1/r over the gammas plus num_vars/r over w, besides the sumcheck's own.
At the element point e: X, rX, rY, dx, rdx are what their slots recompose to
(``Walk.slice_value``); at e without i: y, K, P likewise. At the statistics point s: y, t, lo,
hi, K, P, RM, rm, RV, rv likewise, and uv = 2d - 1 - rv. The claims on x, dy, Y (at e), Gamma,
beta (at e without g, i) and Gamma (at s without g) are returned.

**Phase ``ghost-bn:<name>:stats``**: four sumchecks batched:

* the statistics, one instance over (c, g, t) with tables [eq(s), eq(e'), S1, S2, A, Bs]:
  D~(s) + r0 S1~(s) + r1 S1~(e') + r2 A~(e') + r3 Bs~(s) = sum_z [eq(s, z) (v S2 - S1^2 + r0 S1
  + r3 Bs) + eq(e', z) (r1 S1 + r2 A)](z): the virtual D, S1, A, Bs become S1, S2, A, Bs at one
  point s2 (relation 1's degree-3 reduction of S1^2: nothing per statistic is committed for D);
* the parameter gradients at a point p (c, t) drawn here, whose values dgamma~(p), dbeta~(p)
  the prover sends: dgamma~(p) + r dbeta~(p) = sum_e eq(p, (c, t)) dy (X + r 2^R)(e) over the
  elements (degree 3), ending in claims on dy (returned) and X (tied to its slots); the claims
  on dgamma, dbeta are returned for the caller's optimizer (relation 6);
* the shifts (relation 7): RMp~(c, j) = eq(j, 0) RM0~(c) + sum_s eq(j, s + 1) RM~(c, s) over the
  states j = t G + g (``step_functional_reduction``, as LAMB's moments), RM0~(c) sent by the
  prover (its claim returned), ending in a claim on RM tied to its slots; RV alike.

**Phase ``ghost-bn:<name>:sums``**: one sumcheck over the elements: S1 + r0 S2 + r1 A + r2 Bs at
s2 = sum_e eq(s2, (c, g, t)) [x + r0 x^2 + r1 dy + r2 dy X](e) (degree 3; eq of the point
without i, so the sum runs over i), ending in claims on x, dy (returned) and X (tied to its
slots).

The range checks of every slots tensor (``ranged``) are the caller's (its logUp statement, or
booleanity for bits); so are the Q-bit checks of x, dy and Y and the ``weight_bits`` checks of
Gamma and beta. With them the identities make every value the semantics' (the soundness
argument is in ``circuits/ghost_bn_step.py``). Transcript labels: ``ghost-bn-w``,
``ghost-bn-gamma``, ``ghost-bn-stat-w``, ``ghost-bn-stat-gamma``, ``ghost-bn-stats-rho``,
``ghost-bn-grad-w``, ``ghost-bn-grad-rho``, ``ghost-bn-sums-rho``.

The prover materializes a broadcast table from the witness copy ``broadcast_name(tensor, over)``
and an i- or b-sum's operand from ``bound_name(tensor, over)`` (the tensor with the summed bits
as its outer axis and the others flattened, ``Table("bind")``): the verifier never reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from circuits.ghost_bn_step import GhostBnStep
from circuits.sqrt import Decomposition

from .claims import Claim
from .field import MODULUS as R
from .gadgets import step_functional_reduction
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval, eq_table
from .sumcheck import InstanceShape, Term
from .values import canonical, linear_combination
from .walk import Walk
from .zero_check import ZeroTable, combine, flat, zero_check

def ranged(c: GhostBnStep) -> list[tuple[str, Decomposition, int]]:
    """Every slots tensor the caller must range-check (``GhostBnStep.ranged``)."""
    return c.ranged()


def broadcast_name(tensor: str, over: str) -> str:
    """The prover's copy of ``tensor`` repeated over the ``over`` bits (``i``, ``g``, ``gi``)."""
    return f"{tensor}@{over}"


def bound_name(tensor: str, over: str) -> str:
    """The prover's copy of ``tensor`` with the ``over`` bits (``i`` or ``b``) as its lowest
    variables (the axis moved innermost): the sums' sumchecks read it with eq_low."""
    return f"{tensor}^{over}"


def drops(c: GhostBnStep) -> dict[str, Callable[[tuple], tuple]]:
    """Points without the broadcast coordinates: ``i`` (element -> statistic), ``gi`` (element
    -> parameter), ``g`` (statistic -> parameter)."""
    cv, n, gv = c.feature_vars, c.ghost_bits, c.group_vars
    return {"i": lambda p: tuple(p[:cv]) + tuple(p[cv + n:]),
            "gi": lambda p: tuple(p[:cv]) + tuple(p[cv + n + gv:]),
            "g": lambda p: tuple(p[:cv]) + tuple(p[cv + gv:])}


def element_tables(c: GhostBnStep) -> list[ZeroTable]:
    """The element zero-check's tables after eq: the flat element tensors, then the statistics
    broadcast over i and the parameters over (g, i)."""
    dr = drops(c)
    out = [flat(c.t(n)) for n in ("x", "dy", "X", "rX", "Y", "rY", "dx", "rdx")]
    out += [ZeroTable(n, Table("flat", (broadcast_name(n, "i"),)), dr["i"])
            for n in (c.rsqrt.y, c.t("S1"), c.t("K"), c.t("A"), c.t("P"))]
    return out + [ZeroTable(c.t(n), Table("flat", (broadcast_name(c.t(n), "gi"),)), dr["gi"]) for n in ("Gamma", "beta")]


def stat_tables(c: GhostBnStep) -> list[ZeroTable]:
    """The statistics zero-check's tables after eq: the flat statistics, Gamma broadcast over g."""
    r = c.rsqrt
    names = [r.y, r.t, r.lo, r.hi, c.t("D")] + [c.t(n) for n in ("K", "P", "Bs", "S1", "RM", "RMp", "rm", "RV",
                                                                 "RVp", "rv")]
    return ([flat(n) for n in names]
            + [ZeroTable(c.t("Gamma"), Table("flat", (broadcast_name(c.t("Gamma"), "g"),)), drops(c)["g"])])


def stats_reduction(c: GhostBnStep, s: Sequence[int], e: Sequence[int], claimed, rho: Sequence[int]) -> Reduction:
    """D~(s) + r0 S1~(s) + r1 S1~(e) + r2 A~(e) + r3 Bs~(s) = sum_z [eq(s, z)(v S2 - S1^2 + r0 S1 +
    r3 Bs) + eq(e, z)(r1 S1 + r2 A)](z) over (c, g, t); ``claimed`` the five values in that
    order. Tables [eq(s), eq(e), S1, S2, A, Bs]; ends in claims on S1, S2, A, Bs."""
    r0, r1, r2, r3 = rho
    v = c.spec.virtual_batch_size
    coeffs = ((v, (0, 3)), (-1, (0, 2, 2)), (r0, (0, 2)), (r3, (0, 5)), (r1, (1, 2)), (r2, (1, 4)))
    shape = InstanceShape(c.stat_vars, 6, tuple(Term(k % R, f) for k, f in coeffs if k % R))
    names = [c.t(n) for n in ("S1", "S2", "A", "Bs")]

    def finish(evals):
        ((eq_e, _, *rest),) = evals
        return [Claim(n, eq_e.point, x.value) for n, x in zip(names, rest, strict=True)]

    tables = [Table("eq", (tuple(s),)), Table("eq", (tuple(e),))] + [Table("flat", (n,)) for n in names]
    public = {0: PublicTable(f"{c.name}: statistics eq", lambda p: eq_eval(s, p)),
              1: PublicTable(f"{c.name}: element statistics eq", lambda p: eq_eval(e, p))}
    total = canonical(linear_combination([1, r0, r1, r2, r3], claimed))
    return Reduction(f"ghost-bn-stats:{c.name}", [shape], [total], finish, [tables], [public])


def _element_point(c: GhostBnStep, low: int) -> Callable[[tuple], tuple]:
    """From a point of a copy with ``low`` summed bits lowest, (r, c, rest), to the element
    point (c, r, rest)."""
    cv = c.feature_vars
    return lambda p: tuple(p[low:low + cv]) + tuple(p[:low]) + tuple(p[low + cv:])


def grads_reduction(c: GhostBnStep, p: Sequence[int], claimed, rho: int) -> Reduction:
    """dgamma~(p) + rho dbeta~(p) = sum_(b, c, t) eq(p, (c, t)) dy (X + rho 2^R) over the
    elements, the batch bits b lowest (the prover's copies ``bound_name(., "b")``); tables
    [eq_low(p), dy, X]. Ends in claims on dy, X at the element point (c, r_b, t)."""
    terms = (Term(1, (0, 1, 2)), Term((rho << c.spec.frac_bits) % R, (0, 1)))
    shape = InstanceShape(c.element_vars, 3, terms)
    at = _element_point(c, c.batch_vars)

    def finish(evals):
        ((eq_e, dy_e, x_e),) = evals
        point = at(eq_e.point)
        return [Claim(c.t("dy"), point, dy_e.value), Claim(c.t("X"), point, x_e.value)]

    bv = c.batch_vars
    tables = [Table("eq_low", (tuple(p), bv))] + [Table("flat", (bound_name(c.t(n), "b"),)) for n in ("dy", "X")]
    public = {0: PublicTable(f"{c.name}: gradients eq", lambda q: eq_eval(p, q[bv:]))}
    total = canonical(linear_combination([1, rho], claimed))
    return Reduction(f"ghost-bn-grads:{c.name}", [shape], [total], finish, [tables], [public])


def sums_reduction(c: GhostBnStep, s2: Sequence[int], claimed, rho: Sequence[int]) -> Reduction:
    """S1 + r0 S2 + r1 A + r2 Bs at s2 = sum_(i, c, g, t) eq(s2, (c, g, t)) [x + r0 x^2 + r1 dy +
    r2 dy X] over the elements, the i bits lowest (the prover's copies ``bound_name(., "i")``);
    tables [eq_low(s2), x, dy, X]. Ends in claims on x, dy, X at the element point (c, r_i, g, t)."""
    r0, r1, r2 = rho
    coeffs = ((1, (0, 1)), (r0, (0, 1, 1)), (r1, (0, 2)), (r2, (0, 2, 3)))
    shape = InstanceShape(c.element_vars, 4, tuple(Term(k % R, f) for k, f in coeffs if k % R))
    names = [c.t(n) for n in ("x", "dy", "X")]
    at, n = _element_point(c, c.ghost_bits), c.ghost_bits

    def finish(evals):
        ((eq_e, *rest),) = evals
        return [Claim(name, at(eq_e.point), x.value) for name, x in zip(names, rest, strict=True)]

    tables = [Table("eq_low", (tuple(s2), n))] + [Table("flat", (bound_name(name, "i"),)) for name in names]
    public = {0: PublicTable(f"{c.name}: sums eq", lambda q: eq_eval(s2, q[n:]))}
    total = canonical(linear_combination([1, r0, r1, r2], claimed))
    return Reduction(f"ghost-bn-sums:{c.name}", [shape], [total], finish, [tables], [public])


def shift_reduction(c: GhostBnStep, state: str, s: Sequence[int], prev, start) -> Reduction:
    """RMp~(c, j) = eq(j, 0) RM0~(c) + sum_q eq(j, q + 1) RM~(c, q) (RV alike) at s = (c, j):
    a sum over the states with public weights, table RM bound at c; ends in a claim on the
    state tensor at (c, r_j)."""
    s_c, s_j = tuple(s[:c.feature_vars]), tuple(s[c.feature_vars:])
    eq_j = eq_table(s_j)
    tensor = c.t(state)
    return step_functional_reduction(
        f"ghost-bn-shift{state}:{c.name}", linear_combination([1, -eq_j[0]], [prev, start]), eq_j[1:] + [0], 0,
        [Table("bind", (tensor, 1, s_c))], [lambda r_b, r_s: (tensor, s_c + tuple(r_s))])


def _tie(walk: Walk, c: GhostBnStep, claim: Claim, value: str | None = None) -> None:
    """The claim is what the slots of ``value`` (default: the claim's own table) recompose to."""
    name = value or claim.tensor[len(c.name) + 1:]
    walk.slice_value(c.slots(name), c.slot_decomposition(name), claim.point, claim.value)


def verify_ghost_bn_step(walk: Walk, c: GhostBnStep, gradients: bool = True) -> list[Claim]:
    """Relations 1-7 (module docstring). Returns the claims on the inputs and outputs, in order:
    x, dy, Y at the element point; Gamma, beta at it without (g, i); Gamma at the statistics
    point without g; dy at the gradients' point; dgamma, dbeta at p (for the caller's
    optimizer); RM0, RV0 at the statistics point's features; x, dy at the sums' point. Every
    other claim is tied to slots (their folded claims in the ledger).

    ``gradients`` False leaves relation 6 to the caller, who proves its own functionals of
    dgamma = sum_b dy X and dbeta = 2^R sum_b dy over dy and X (the training walk's optimizer,
    ``verifier/normalization.py``): no point p is drawn, and dy at p, dgamma and dbeta are not returned."""
    t, ch, r = walk.t, walk.ch, c.rsqrt
    elem, stat = c.element_identities(), c.stat_identities()
    w = t.challenge_scalars(b"ghost-bn-w", c.element_vars)
    gammas = t.challenge_scalars(b"ghost-bn-gamma", len(elem) - 1)
    w_stat = t.challenge_scalars(b"ghost-bn-stat-w", c.stat_vars)
    gammas_stat = t.challenge_scalars(b"ghost-bn-stat-gamma", len(stat) - 1)
    etab, stab = element_tables(c), stat_tables(c)
    claims = ch.phase(f"ghost-bn:{c.name}".encode(), [
        zero_check(f"ghost-bn:{c.name}: elements", c.element_vars, w, combine([p for _, p in elem], gammas), etab),
        zero_check(f"ghost-bn:{c.name}: statistics", c.stat_vars, w_stat,
                   combine([p for _, p in stat], gammas_stat), stab),
    ])
    e = {x.tensor: x for x in claims[:len(etab)]}
    s = {x.tensor: x for x in claims[len(etab):]}
    # --- ties at the element point e, and at e without i ---
    for value in c.ELEMENT_SLOTS:
        _tie(walk, c, e[c.t(value)])
    for value in ("K", "P"):
        _tie(walk, c, e[c.t(value)])
        _tie(walk, c, s[c.t(value)])
    walk.slice_value(r.slots("y"), r.y_slots(), e[r.y].point, e[r.y].value)
    # --- ties at the statistics point s ---
    for value in ("y", "t", "lo", "hi"):
        claim = s[getattr(r, value)]
        walk.slice_value(r.slots(value), getattr(r, f"{value}_slots")(), claim.point, claim.value)
    for value in ("RM", "rm", "RV", "rv"):
        _tie(walk, c, s[c.t(value)])
    rv = s[c.t("rv")]
    walk.slice_value(c.slots("uv"), c.slot_decomposition("uv"), rv.point,
                     linear_combination([-1], [rv.value], 2 * c.spec.var_divisor - 1))
    # --- the statistics, the parameter gradients and the shifts ---
    sp, ep = s[c.t("D")].point, e[c.t("S1")].point
    rho = t.challenge_scalars(b"ghost-bn-stats-rho", 4)
    grads: list[Claim] = []
    if gradients:
        p = tuple(t.challenge_scalars(b"ghost-bn-grad-w", c.param_vars))
        grads = [Claim(c.t(n), p, ch.evaluation(c.t(n), p)) for n in ("dgamma", "dbeta")]
        rho_g = t.challenge_scalar(b"ghost-bn-grad-rho")
    s_c = tuple(sp[:c.feature_vars])
    starts = [Claim(c.t(n), s_c, ch.evaluation(c.t(n), s_c)) for n in ("RM0", "RV0")]
    stats = [s[c.t("D")].value, s[c.t("S1")].value, e[c.t("S1")].value, e[c.t("A")].value, s[c.t("Bs")].value]
    s1, s2, a, bs, *rest = ch.phase(f"ghost-bn:{c.name}:stats".encode(), [
        stats_reduction(c, sp, ep, stats, rho),
        *([grads_reduction(c, p, [x.value for x in grads], rho_g)] if gradients else []),
        shift_reduction(c, "RM", sp, s[c.t("RMp")].value, starts[0].value),
        shift_reduction(c, "RV", sp, s[c.t("RVp")].value, starts[1].value),
    ])
    dy_g, x_g, rm, rv = rest if gradients else (None, None, *rest)
    for claim in (x_g, rm, rv) if gradients else (rm, rv):
        _tie(walk, c, claim)
    # --- the sums over i ---
    rho_i = t.challenge_scalars(b"ghost-bn-sums-rho", 3)
    x_i, dy_i, xh_i = ch.phase(f"ghost-bn:{c.name}:sums".encode(),
                               [sums_reduction(c, s1.point, [s1.value, s2.value, a.value, bs.value], rho_i)])
    _tie(walk, c, xh_i)
    gamma_e, beta_e = e[c.t("Gamma")], e[c.t("beta")]
    return [e[c.t("x")], e[c.t("dy")], e[c.t("Y")], gamma_e, beta_e, s[c.t("Gamma")], *([dy_g] if gradients else []),
            *grads, *starts, x_i, dy_i]
