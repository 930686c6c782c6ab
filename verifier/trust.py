"""LARS's trust ratio, verifier side: relation (T) of ``circuits/trust.py`` (docs/lars.md
section 4.4; nonlinear-gadgets.md sections 5 and 8), per (step, tensor) over [T', Gp] tensors
(g the low variables).

Every identity of (T) (the isqrt identities (S_P), (S_G); the zero-norm flags (Z_P), (Z_G),
(B_P), (F); the zero-norm output (L); the gated division (Q) and its gated slack (U)) has
degree <= 2 in the tables, so all of them are ONE zero-check at a random point w (phase
``trust:<name>``, degree 3 with eq), combined by challenges gamma_1..gamma_8 drawn before it:

    sum_x eq(w, x) [I_0(x) + sum_j gamma_j I_j(x)] = 0,

with D = 2^(k+k_b) S_G + b S_P + E expanded inside (Q), (U). An identity that fails at some
boolean x escapes with probability at most 1 / r over the gammas (the combination at x is
linear in them) plus num_vars / r over w (sum_x eq(w, x) I(x) is multilinear in w), besides
the sumcheck's own 3 num_vars / r.

It ends at one point r with values of every table. Then, at r:

* s_P, e_P (and s_G, e_G) are tied to the isqrt gadgets' slots: e what e's slots recompose to,
  u = 2s - e what u's do (``verifier.sqrt.tie_root``; s stays virtual, s = (e + u) / 2);
* t_P = s_P - 1 + f_P and t_G = s_G - 1 + f_G are what their slots recompose to (linear in the
  tables' values at r, as u is: the MLEs agree at a random point only if the tables do);
* lambda, rho, sigma are what their slots recompose to (``Walk.slice_value``);
* the claims on f_P, f_G, f (committed plain tensors) join the ledger;
* the claims on N (``{name}.NP``) and M (``{name}.NG``) are returned: the caller reduces them
  (the norm sumchecks of ``verifier/norms.py``).

LARC (``TrustRatio.clip_lr`` set; ``circuits/trust.py``, "LARC") adds the identities (CM), (CF),
(CH), (CQ), (CU) to the same zero-check (gamma_9..gamma_13) and the public table LR, the
recipe's lr_num per padded step constant over the groups, whose MLE at the sumcheck's point the
verifier computes itself (a clear proof's other value is rejected as ``public table``). At r,
lambda_q (``{name}.ratio``), rho, sigma, the output m_q (``{name}.lam``), rho2, sigma2 and h are
what their slots recompose to, and the claim on the flag c joins the ledger. Plain LARS
(``clip_lr`` None) has neither, and its transcript is unchanged.

The range checks of every slots tensor (``ranged``: e_P, u_P, t_P, e_G, u_G, t_G, lambda, rho,
sigma; LARC: and m_q, rho2, sigma2, h) are the caller's (its logUp statement, or booleanity for
bits); with them the identities make lambda_q the semantics' trust ratio, and LARC's m_q its
clipped multiplier (the soundness argument is in ``circuits/trust.py``). Transcript labels:
``trust-w``, ``trust-gamma``.
"""

from __future__ import annotations

from collections.abc import Sequence

from circuits.sqrt import Decomposition
from circuits.trust import TrustRatio

from .claims import Claim
from .phase import Reduction, Table
from .polynomial import mle_evaluate
from .sqrt import tie_root
from .values import linear_combination
from .walk import Walk
from .zero_check import ZeroTable, combine, flat, zero_check


def ranged(c: TrustRatio) -> list[tuple[str, Decomposition, int]]:
    """Every slots tensor the caller must range-check, as (name, decomposition, value_vars):
    e_P, u_P, t_P, e_G, u_G, t_G, lambda_q, rho, sigma."""
    return c.ranged()


def tables(c: TrustRatio) -> list[str]:
    """The zero-check's committed tables after eq, in order: the roots and remainders of the
    isqrt gadgets with their radicands, the flags, lambda_q, rho, sigma (LARC: then c, m_q, rho2,
    sigma2, h; the public LR follows them in the reduction)."""
    names = [c.sqrt_p.s, c.sqrt_p.e, c.norm_p, c.sqrt_g.s, c.sqrt_g.e, c.norm_g,
             c.f_p, c.f_g, c.flag, c.ratio, c.rho, c.sig]
    if c.clip:
        names += [c.clip_flag] + [table for _, table, _ in c.sliced()[3:]]
    return names


def trust_reduction(c: TrustRatio, w: Sequence[int], gammas: Sequence[int]) -> Reduction:
    """The combined zero-check of (T) at w (``verifier/zero_check.py``): tables [eq_w] +
    ``tables(c)`` (+ LARC's public LR, the recipe's lr_num per padded step, constant over the
    groups). Ends in one claim per committed table at r."""
    zero = [flat(n) for n in tables(c)]
    if c.clip:
        lr, gv = c.clip_lr, c.group_vars
        zero.append(ZeroTable(c.lr_table, Table("steps", (lr, gv)), public=lambda p: mle_evaluate(lr, p[gv:])))
    return zero_check(f"trust:{c.name}", c.num_vars, w, combine([p for _, p in c.identities()], gammas), zero)


def verify_trust_ratio(walk: Walk, c: TrustRatio) -> list[Claim]:
    """Relation (T): the combined zero-check (phase ``trust:<name>``), then every value tied
    to its slots or ledgered at its point (module docstring). Returns the claims on N and M
    (``{name}.NP``, ``{name}.NG``, at the zero-check's point), the caller's to reduce."""
    w = walk.t.challenge_scalars(b"trust-w", c.num_vars)
    gammas = walk.t.challenge_scalars(b"trust-gamma", len(c.identities()) - 1)
    claims = walk.ch.phase(f"trust:{c.name}".encode(), [trust_reduction(c, w, gammas)])
    at = {claim.tensor: claim for claim in claims}
    point = at[c.lam].point
    for root, flag, t in ((c.sqrt_p, c.f_p, "tP"), (c.sqrt_g, c.f_g, "tG")):
        tie_root(walk, root, point, at[root.s].value, at[root.e].value)
        walk.slice_value(c.slots(t), c.t_slots(), point,
                         linear_combination([1, 1], [at[root.s].value, at[flag].value], -1))
    for key, table, d in c.sliced():
        walk.slice_value(c.slots(key), d, point, at[table].value)
    for name in c.plain_tensors():
        walk.ledger.add(at[name])
    return [at[c.norm_p], at[c.norm_g]]
