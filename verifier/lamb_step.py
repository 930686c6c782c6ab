"""One LAMB step, verifier side: relations (E) and (P) of ``circuits/lamb_step.py`` (docs/lamb.md
sections 4 and 4.1; nonlinear-gadgets.md sections 5-8), per (step, entry) over [T', n] tensors
(the n parameter variables low) and per step over [T'].

**Phase ``lamb:<name>``**: two zero-checks batched in one sumcheck, each combining its
identities by challenges drawn before it (the identities are written once, as ``Poly``s, in
``circuits/lamb_step.py``):

    sum_x eq(w, x)  [E_0(x) + sum_j gamma_j E_j(x)] = 0     over (p, tau): (M), (V), (S), (Q), (D)
    sum_t eq(w', t) [P_0(t) + sum_j gamma'_j P_j(t)] = 0    over tau: (ZP) (ZU) (F) (L) (NS) (PH)
                                                                      (LO) (HI) (LP)

(the moments' roundings, the isqrt of 2^cs B_t V, the division r_q = round(2^cq A_t M / D) with
D = s + E, and the step 2^kd dP + rd = inv_c Lphi U with U = c1 r_q + ln P; then the zero-norm
flags and the fused rounding of phi from N_P, N_U). A_t, B_t (``circuits.lamb.bias_corrections``)
and lr_num_t are public steps tables the verifier evaluates itself. An identity that fails at a
boolean x escapes with probability at most 1/r over the gammas plus num_vars/r over w, besides
the sumcheck's own.

At the first zero-check's point (p, tau): M, V, r1, r2, r_q, rho, dP, rd are what their slots
recompose to (``Walk.slice_value``); sigma = 2(s + E) - 1 - rho likewise (linear in the values
at the point); s and e are tied to the isqrt's e and u = 2s - e slots (``verifier.sqrt.tie_root``);
the claim on Lphi (at tau) joins the ledger; the claims on P and G are returned.

At the second's point tau': phi, phi2, lo, hi, NUs are what their slots recompose to; f_P, f_U,
f, Lphi join the ledger; N_P and N_U go on to the norm sumcheck.

**Phase ``lamb:<name>:prev``**: three sumchecks batched:

* the shift (the first moment; the second alike): Mp~(p, tau) = eq(tau, 0) M0~(p)
  + sum_s eq(tau, s + 1) M~(s, p), with M0~(p) sent by the prover (its claim is returned: the
  caller opens it against its M0, or requires 0 in the first segment), a sum over the steps with
  public weights (``step_functional_reduction``) ending in a claim on M at (p, r_s), tied to M's
  slots;
* the norms, one sumcheck for both: N_U~(tau') + g N_P~(tau') = sum_x eq(tau', x_t)
  [(c1 R_q + ln P)^2 + g P^2](x) (``verifier/norms.py``'s reduction on the virtual U), ending in
  claims on r_q (tied to its slots) and P (returned).

The range checks of every slots tensor (``ranged``) are the caller's (its logUp statement, or
booleanity for bits); with them the identities make every value the semantics' (the soundness
argument is in ``circuits/lamb_step.py``). Transcript labels: ``lamb-w``, ``lamb-gamma``,
``lamb-step-w``, ``lamb-step-gamma``, ``lamb-norm-gamma``.
"""

from __future__ import annotations

from circuits.lamb_step import LambStep
from circuits.sqrt import Decomposition

from .claims import Claim
from .field import MODULUS as R
from .gadgets import step_functional_reduction
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval, eq_table, mle_evaluate
from .sqrt import tie_root
from .sumcheck import InstanceShape, Term
from .values import canonical, linear_combination
from .walk import Walk
from .zero_check import ZeroTable, combine, flat, zero_check


def ranged(c: LambStep) -> list[tuple[str, Decomposition, int]]:
    """Every slots tensor the caller must range-check (``LambStep.ranged``)."""
    return c.ranged()


def entry_tables(c: LambStep) -> list[ZeroTable]:
    """The per-entry zero-check's tables after eq: the entries', the public steps tables A, B
    (broadcast over the entries), and Lphi broadcast (its claim at tau, without p)."""
    pv = c.param_vars
    names = [c.t(n) for n in ("P", "G", "M", "Mp", "V", "Vp", "r1", "r2", "rq", "rho", "dP", "rd")]
    out = [flat(n) for n in names + [c.sqrt.s, c.sqrt.e]]
    a, b = c.a_table(), c.b_table()
    out.append(ZeroTable(c.t("A"), Table("steps", (tuple(a), pv)), public=lambda p: mle_evaluate(a, p[pv:])))
    out.append(ZeroTable(c.t("B"), Table("steps", (tuple(b), pv)), public=lambda p: mle_evaluate(b, p[pv:])))
    out.append(ZeroTable(c.t("Lphi"), Table("broadcast", (c.t("Lphi"), pv)), point=lambda p: tuple(p[pv:])))
    return out


def step_tables(c: LambStep) -> list[ZeroTable]:
    """The per-step zero-check's tables after eq (LR public)."""
    names = [c.t(n) for n in ("NP", "NU", "NUs", "fP", "fU", "f", "phi", "phi2", "lo", "hi", "Lphi")]
    lr = c.lr_table()
    return [flat(n) for n in names] + [ZeroTable(c.t("LR"), Table("steps", (tuple(lr), 0)),
                                                 public=lambda p: mle_evaluate(lr, p))]


def norms_reduction(c: LambStep, n_p: Claim, n_u: Claim, gamma: int) -> Reduction:
    """N_U~(tau') + gamma N_P~(tau') = sum_x eq(tau', x_t) [(c1 R_q + ln P)^2 + gamma P^2](x):
    tables [eq_low(tau'), R_q, P]; ends in claims on r_q and P at its point."""
    tau, pv = tuple(n_u.point), c.param_vars
    c1, ln = c.c1, c.ln
    coeffs = ((c1 * c1, (0, 1, 1)), (2 * c1 * ln, (0, 1, 2)), (ln * ln + gamma, (0, 2, 2)))
    terms = tuple(Term(k % R, f) for k, f in coeffs if k % R)
    shape = InstanceShape(c.num_vars, 3, terms)

    def finish(evals):
        ((eq_e, rq_e, p_e),) = evals
        return [Claim(c.t("rq"), eq_e.point, rq_e.value), Claim(c.t("P"), eq_e.point, p_e.value)]

    tables = [Table("eq_low", (tau, pv)), Table("flat", (c.t("rq"),)), Table("flat", (c.t("P"),))]
    public = {0: PublicTable(f"{c.name}: norm steps eq", lambda p: eq_eval(tau, p[pv:]))}
    total = canonical(linear_combination([1, gamma], [n_u.value, n_p.value]))
    return Reduction(f"lamb-norms:{c.name}", [shape], [total], finish, [tables], [public])


def verify_lamb_step(walk: Walk, c: LambStep) -> list[Claim]:
    """Relations (E) and (P) (module docstring): returns the claims on the inputs, in order
    [P at (p, tau), G at (p, tau), P at the norm sumcheck's point, M0 at p, V0 at p]; every
    other claim is tied to slots or ledgered."""
    t, ch = walk.t, walk.ch
    pv = c.param_vars
    entry, step = c.entry_identities(), c.step_identities()
    w = t.challenge_scalars(b"lamb-w", c.num_vars)
    gammas = t.challenge_scalars(b"lamb-gamma", len(entry) - 1)
    w_step = t.challenge_scalars(b"lamb-step-w", c.step_vars)
    gammas_step = t.challenge_scalars(b"lamb-step-gamma", len(step) - 1)
    reductions = [
        zero_check(f"lamb:{c.name}: entries", c.num_vars, w, combine([p for _, p in entry], gammas), entry_tables(c)),
        zero_check(f"lamb:{c.name}: steps", c.step_vars, w_step, combine([p for _, p in step], gammas_step),
                   step_tables(c)),
    ]
    claims = ch.phase(f"lamb:{c.name}".encode(), reductions)
    n_entry = sum(1 for table in entry_tables(c) if table.public is None)
    ent = {claim.tensor: claim for claim in claims[:n_entry]}
    stp = {claim.tensor: claim for claim in claims[n_entry:]}

    def e(name):  # a per-entry claim (Lphi's at tau)
        return ent[c.t(name)]

    def s(name):  # a per-step claim, at tau'
        return stp[c.t(name)]

    # --- per entry, at (p, tau) ---
    point = e("M").point
    p, tau = point[:pv], point[pv:]
    for value in ("M", "V", "r1", "r2", "rq", "rho", "dP", "rd"):
        walk.slice_value(c.slots(value), c.slot_decomposition(value), point, e(value).value)
    root, rem = ent[c.sqrt.s], ent[c.sqrt.e]
    tie_root(walk, c.sqrt, point, root.value, rem.value)
    walk.slice_value(c.slots("sig"), c.slot_decomposition("sig"), point,
                     linear_combination([2, -1], [root.value, e("rho").value], 2 * c.spec.eps_int - 1))
    walk.ledger.add(e("Lphi"))
    # --- per step, at tau' ---
    q = s("NP").point
    for value in ("phi", "phi2", "lo", "hi", "NUs"):
        walk.slice_value(c.slots(value), c.slot_decomposition(value), q, s(value).value)
    for name in ("fP", "fU", "f", "Lphi"):
        walk.ledger.add(s(name))
    # --- the shifts and the norms ---
    eq_tau = eq_table(tau)
    shifted = eq_tau[1:] + [0]
    starts, prev = [], []
    for mom in ("M", "V"):
        start = ch.evaluation(c.t(f"{mom}0"), p)  # M0~(p), V0~(p): the caller's tensors
        starts.append(Claim(c.t(f"{mom}0"), tuple(p), start))
        tensor = c.t(mom)
        prev.append(step_functional_reduction(
            f"lamb-shift{mom}:{c.name}", linear_combination([1, -eq_tau[0]], [e(f"{mom}p").value, start]),
            shifted, 0, [Table("bind", (tensor, 1, tuple(p)))],
            [lambda r_b, r_s, tensor=tensor: (tensor, tuple(p) + r_s)]))
    gamma = t.challenge_scalar(b"lamb-norm-gamma")
    prev.append(norms_reduction(c, s("NP"), s("NU"), gamma))
    m_claim, v_claim, rq_claim, p_claim = ch.phase(f"lamb:{c.name}:prev".encode(), prev)
    walk.slice_value(c.slots("M"), c.slot_decomposition("M"), m_claim.point, m_claim.value)
    walk.slice_value(c.slots("V"), c.slot_decomposition("V"), v_claim.point, v_claim.value)
    walk.slice_value(c.slots("rq"), c.slot_decomposition("rq"), rq_claim.point, rq_claim.value)
    return [e("P"), e("G"), p_claim, *starts]
