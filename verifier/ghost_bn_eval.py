"""One Ghost BN layer in evaluation mode, verifier side: the relations of
``circuits/ghost_bn_eval.py`` (docs/ghost_bn.md section 4.2), over [N, C] elements and [C]
features (C low), for a proof of inference with a checkpoint's running statistics.

**Phase ``ghost-bn-eval:<name>``**: two zero-checks batched in one sumcheck, each combining its
identities (written once, as ``Poly``s, in ``circuits/ghost_bn_eval.py``) by challenges drawn
before it:

    sum_e eq(w, e) [X_0 + gamma X_1](e) = 0                   over (c, r): (X), (Y)
    sum_f eq(w', f) [F_0 + gamma'_1 F_1 + gamma'_2 F_2](f) = 0  over (c): (T) (LO) (HI)

A per-feature table in the element zero-check (y, RM, Gamma, beta) is constant over the rows:
its claim is at the element point without the row bits (``drop_rows``), and the prover reads it
through its broadcast copy ``broadcast_name(tensor, "r")`` ([N, C]; the verifier never reads
it). An identity that fails at a boolean point escapes with probability at most 1/r over the
gammas plus num_vars/r over w, besides the sumcheck's own; the shorter feature instance is
scaled by 2^(row_vars) in the batch (``verifier.sumcheck``).

At the element point e: X, rX, rY are what their slots recompose to (``Walk.slice_value``); at
e without the rows: y likewise (the rstd the element identities use is the committed one). At
the feature point f: y, t, lo, hi likewise. The claims on x, Y (at e), Gamma, beta, RM (at e
without the rows) and RV (at f) are returned, in that order: the caller's committed checkpoint
and its activations.

The range checks of every slots tensor (``ranged``) are the caller's (its logUp statement, or
booleanity for bits); so are the Q-bit checks of x and Y, the ``weight_bits`` checks of Gamma
and beta and the running widths of RM and RV (``GhostBnSpec.widths``). With them the identities
make every value the semantics' (the soundness argument is in ``circuits/ghost_bn_eval.py``).
Transcript labels (distinct from training's ``ghost-bn-*``): ``ghost-bn-eval-w``,
``ghost-bn-eval-gamma``, ``ghost-bn-eval-feature-w``, ``ghost-bn-eval-feature-gamma``.
"""

from __future__ import annotations

from collections.abc import Callable

from circuits.ghost_bn_eval import GhostBnEval
from circuits.sqrt import Decomposition

from . import field
from .claims import Claim
from .gadgets import below_eval
from .ghost_bn_step import broadcast_name
from .phase import Table
from .values import linear_combination
from .walk import Walk
from .zero_check import ZeroTable, combine, flat, zero_check

#: The per-feature tables the element zero-check reads broadcast over the rows.
ROWS = "r"


def ranged(c: GhostBnEval) -> list[tuple[str, Decomposition, int]]:
    """Every slots tensor the caller must range-check (``GhostBnEval.ranged``)."""
    return c.ranged()


def drop_rows(c: GhostBnEval) -> Callable[[tuple], tuple]:
    """An element point (c, r) without the row coordinates: the feature point (c)."""
    cv = c.feature_vars
    return lambda p: tuple(p[:cv])


def broadcast_tables(c: GhostBnEval) -> list[str]:
    """The per-feature tables the element zero-check reads: y, RM, Gamma, beta."""
    return [c.rsqrt.y, c.t("RM"), c.t("Gamma"), c.t("beta")]


def masked_tables(c: GhostBnEval) -> list[str]:
    """The per-feature tables the element zero-check reads masked by [n < N] when some rows
    are padding (``GhostBnEval.masked``): RM and beta."""
    return [c.t("RM"), c.t("beta")]


def element_tables(c: GhostBnEval) -> list[ZeroTable]:
    """The element zero-check's tables after eq: the flat element tensors, then the per-feature
    tables broadcast over the rows."""
    out = [flat(c.t(n)) for n in ("x", "X", "rX", "Y", "rY")]
    return out + [ZeroTable(n, Table("flat", (broadcast_name(n, ROWS),)), drop_rows(c)) for n in broadcast_tables(c)]


def feature_tables(c: GhostBnEval) -> list[ZeroTable]:
    """The per-feature zero-check's tables after eq: the rsqrt's y, t, lo, hi and RV."""
    r = c.rsqrt
    return [flat(n) for n in (r.y, r.t, r.lo, r.hi, c.t("RV"))]


def _tie(walk: Walk, c: GhostBnEval, claim: Claim) -> None:
    """The claim is what the slots of its element value recompose to."""
    value = claim.tensor[len(c.name) + 1:]
    walk.slice_value(c.slots(value), c.slot_decomposition(value), claim.point, claim.value)


def _tie_rsqrt(walk: Walk, c: GhostBnEval, value: str, claim: Claim) -> None:
    r = c.rsqrt
    walk.slice_value(r.slots(value), getattr(r, f"{value}_slots")(), claim.point, claim.value)


def verify_ghost_bn_eval(walk: Walk, c: GhostBnEval) -> list[Claim]:
    """Relations (E1)-(E3) (module docstring). Returns the claims, in order: x, Y at the element
    point; Gamma, beta, RM at it without the rows; RV at the feature point. Every other claim is
    tied to slots (their folded claims in the ledger)."""
    t, ch, r = walk.t, walk.ch, c.rsqrt
    elem, feat = c.element_identities(), c.feature_identities()
    w = t.challenge_scalars(b"ghost-bn-eval-w", c.element_vars)
    gammas = t.challenge_scalars(b"ghost-bn-eval-gamma", len(elem) - 1)
    w_feat = t.challenge_scalars(b"ghost-bn-eval-feature-w", c.feature_vars)
    gammas_feat = t.challenge_scalars(b"ghost-bn-eval-feature-gamma", len(feat) - 1)
    etab, ftab = element_tables(c), feature_tables(c)
    claims = ch.phase(f"ghost-bn-eval:{c.name}".encode(), [
        zero_check(f"ghost-bn-eval:{c.name}: elements", c.element_vars, w, combine([p for _, p in elem], gammas),
                   etab),
        zero_check(f"ghost-bn-eval:{c.name}: features", c.feature_vars, w_feat,
                   combine([p for _, p in feat], gammas_feat), ftab),
    ])
    e = {x.tensor: x for x in claims[:len(etab)]}
    f = {x.tensor: x for x in claims[len(etab):]}
    # --- ties at the element point e, and at e without the rows ---
    for value in c.ELEMENT_SLOTS:
        _tie(walk, c, e[c.t(value)])
    _tie_rsqrt(walk, c, "y", e[r.y])
    # --- ties at the feature point f ---
    for value in ("y", "t", "lo", "hi"):
        _tie_rsqrt(walk, c, value, f[getattr(r, value)])
    rm, beta = e[c.t("RM")], e[c.t("beta")]
    if c.masked:  # the masked copy's MLE at e is [n < N]~(e_r) times the tensor's at e_c
        below = below_eval(e[c.t("x")].point[c.feature_vars:], c.real_rows)
        walk._require(below != 0, f"ghost-bn-eval:{c.name}: the row predicate vanishes at the point")  # mutation: unreachable (probability row_vars / r; test_completeness_with_padded_rows runs the division it guards)
        rm, beta = (Claim(x.tensor, x.point, linear_combination([field.inv(below)], [x.value])) for x in (rm, beta))
    return [e[c.t("x")], e[c.t("Y")], e[c.t("Gamma")], beta, rm, f[c.t("RV")]]
