"""One Ghost BN layer in evaluation mode, prover side: the witness of
``circuits/ghost_bn_eval.py`` (specification: ``verifier/ghost_bn_eval.py``, which the prover
runs over its own channel like every walk).

From the rows x [N, C] and the checkpoint's Gamma, beta, RM, RV [C] it gives every tensor the
gadget reads: the tables of both zero-checks (object arrays of Python ints), the committed
slots of every range-checked value (``GhostBnEval.ranged``), and the prover's broadcast copies
the verifier's tables name (``derived_tables``: ``broadcast_name(tensor, "r")``). The values are
the semantics of ``circuits/ghost_bn.py`` (``GhostBnEval.witness_values`` runs its
``forward_eval``); every entry is then checked against it: every identity holds over the
integers (not only mod r), y is ``rsqrt_round`` of RV + eps_int, each remainder is the
rescale's. A value past its width is a hard error (the semantics' ``GhostBnWidthError``, or the
decompositions). (``tests/test_ghost_bn_eval.py`` compares the witness with the kernel,
``zktrain.fixedpoint.ghost_bn.forward_eval``, entry by entry: the prover does not import
zktrain, DESIGN section 2.)
"""

from __future__ import annotations

import numpy as np

from circuits.ghost_bn_eval import GhostBnEval
from circuits.semantics import rescale
from circuits.sqrt import rsqrt_round
from verifier.ghost_bn_eval import ROWS, broadcast_tables, masked_tables
from prover.ghost_bn_step import slot_tables
from verifier.ghost_bn_step import broadcast_name


def ghost_bn_eval_witness(c: GhostBnEval, x, gamma, beta, rm, rv) -> dict[str, np.ndarray]:
    """Every tensor the eval-mode Ghost BN gadget reads, by name (module docstring)."""
    w = c.witness_values(x, gamma, beta, rm, rv)
    out = w | derived_tables(c, w)
    _check_against_semantics(c, out)
    return out | slot_tables(c, w)


def derived_tables(c: GhostBnEval, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The prover's copies the verifier's tables name: y, RM, Gamma, beta broadcast over the
    rows ([N, C]), RM and beta zero on the padded rows when some are (``GhostBnEval.masked``)."""
    N, C = c.rows, c.features
    out = {broadcast_name(n, ROWS): np.repeat(np.asarray(w[n], dtype=object).reshape(1, C), N, axis=0)
           for n in broadcast_tables(c)}
    if c.masked:
        for n in masked_tables(c):
            out[broadcast_name(n, ROWS)][c.real_rows:] = 0
    return out


def _check_against_semantics(c: GhostBnEval, w: dict[str, np.ndarray]) -> None:
    """Every identity is 0 over the integers at every entry; y is rsqrt_round(RV + eps_int, a);
    X and Y are the rescales their remainders say. An AssertionError otherwise: a bug, never a
    cheat."""
    sp, r = c.spec, c.rsqrt
    bad = []
    if [rsqrt_round(int(v) + sp.eps_int, sp.eval_rsqrt_shift) for v in w[c.t("RV")]] != list(w[r.y]):
        bad.append("rstd")  # pragma: no cover
    rm, beta = (w[broadcast_name(n, ROWS)] for n in (c.t("RM"), c.t("beta")))  # masked where rows are padding
    xc = (w[c.t("x")] << sp.frac_bits) - rm
    pairs = [rescale(int(z), sp.eval_xhat_shift) for z in (xc * w[r.y][None, :]).reshape(-1)]
    if pairs != list(zip(w[c.t("X")].reshape(-1), w[c.t("rX")].reshape(-1))):
        bad.append("X")  # pragma: no cover
    z = w[c.t("Gamma")][None, :] * w[c.t("X")] + (beta << sp.frac_bits)
    pairs = [rescale(int(v), sp.param_shift) for v in z.reshape(-1)]
    if pairs != list(zip(w[c.t("Y")].reshape(-1), w[c.t("rY")].reshape(-1))):
        bad.append("Y")  # pragma: no cover
    flat = {name: w[name] for name in w if "@" not in name}
    elem = flat | {n: w[broadcast_name(n, ROWS)] for n in broadcast_tables(c)}
    bad += [label for label, poly in c.element_identities() if np.any(poly.evaluate(elem) != 0)]
    bad += [label for label, poly in c.feature_identities() if np.any(poly.evaluate(flat) != 0)]
    if bad:  # pragma: no cover - the witness is built to satisfy them
        raise AssertionError(f"{c.name}: the witness breaks {sorted(set(bad))}")
