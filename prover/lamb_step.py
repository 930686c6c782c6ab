"""One LAMB step, prover side: the witness of relations (E) and (P) of ``circuits/lamb_step.py``
(specification: ``verifier/lamb_step.py``, which the prover runs over its own channel like every
walk).

From P_0 (or the stacked weights), the stacked folded gradients G [T', n] and the starting
moments M0, V0 [n] it gives every tensor the gadget reads: the values of the zero-checks' tables
(object arrays of Python ints, per entry [T', n], per step [T']), the committed slots of every
range-checked value (``LambStep.ranged``), the plain per-step tensors, and the dP stack
(``{name}.dP``) with the weights after the last step (``{name}.Pfinal``), so that a caller can
check P_{t+1} = P_t - dP_t. The values are the semantics of ``circuits/lamb.py`` on Python ints
(``LambStep.witness_values``); every entry and step is then checked against it: every identity
of (E) and (P) holds over the integers (not only mod r), phi is ``circuits.lamb.trust`` of the
norms, A_t and B_t are ``circuits.lamb.bias_corrections``. A value past its width is a hard
error (the decompositions raise). (``tests/test_lamb_step.py`` compares the witness with the
engine's kernel, ``zktrain.fixedpoint.lamb``, entry by entry: the prover does not import
zktrain, DESIGN section 2.)
"""

from __future__ import annotations

import numpy as np

from circuits.lamb import bias_corrections, trust
from circuits.lamb_step import LambStep


def lamb_step_witness(c: LambStep, P, G, M0, V0) -> dict[str, np.ndarray]:
    """Every tensor the LAMB step gadget reads, by name. ``P``: P_0 ([n]) or the stacked weights
    [T', n] (then every P_{t+1} must be P_t - dP_t: a ValueError otherwise); ``G`` [T', n];
    ``M0``, ``V0`` [n]; Python ints (or int64)."""
    T, n = c.steps, 1 << c.param_vars
    P = np.asarray(P, dtype=object)
    p0 = P.reshape(-1) if P.size == n else P.reshape(T, n)[0]
    w = c.witness_values(p0, G, M0, V0)
    if P.size != n and not (P.reshape(T, n) == w[c.t("P")]).all():
        raise ValueError(f"{c.name}: the stacked weights are not P_(t+1) = P_t - dP_t")
    _check_against_semantics(c, w)
    out = dict(w)
    for value in c.ENTRY_SLOTS + c.STEP_SLOTS:
        d = c.slot_decomposition(value)
        out[c.slots(value)] = d.decompose(np.asarray(w[c.t(value)], dtype=object).reshape(-1), f"{c.name}: {value}")
    sq = c.sqrt
    s, e = (np.asarray(w[x], dtype=object).reshape(-1) for x in (sq.s, sq.e))
    out[sq.slots("e")] = sq.e_slots().decompose(e, f"{sq.name}: x - s^2")
    out[sq.slots("u")] = sq.u_slots().decompose(2 * s - e, f"{sq.name}: 2s - (x - s^2)")
    return out


def _check_against_semantics(c: LambStep, w: dict[str, np.ndarray]) -> None:
    """Every identity of (E) and (P) is 0 over the integers at every entry and step, phi is the
    semantics' trust ratio of the norms, A_t, B_t the bias corrections, and the weights follow
    P_{t+1} = P_t - dP_t (an AssertionError otherwise: a bug, never a cheat). The identities are
    evaluated on whole object arrays: per entry [T', n], the per-step tables broadcast."""
    entry, step = c.entry_identities(), c.step_identities()
    ent = [c.t(k) for k in ("P", "G", "M", "Mp", "V", "Vp", "r1", "r2", "rq", "rho", "dP", "rd")] + [c.sqrt.s, c.sqrt.e]
    stp = [c.t(k) for k in ("NP", "NU", "NUs", "fP", "fU", "f", "phi", "phi2", "lo", "hi", "Lphi", "LR")]
    bad = []
    for j in range(c.steps):
        t = c.first_step + j
        if (w[c.t("A")][j], w[c.t("B")][j]) != bias_corrections(c.spec, t):  # pragma: no cover
            bad.append(f"the bias corrections at step {j}")
        p, u = w[c.t("P")][j], w[c.t("U")][j]
        n_p, n_u = int((p * p).sum()), int((u * u).sum())
        if (w[c.t("NP")][j], w[c.t("NU")][j]) != (n_p, n_u) or \
                w[c.t("phi")][j] != trust(n_p, n_u, c.frac_bits, c.lr_shift, c.ku):  # pragma: no cover
            bad.append(f"the norms or the trust ratio at step {j}")
        nxt = w[c.t("P")][j + 1] if j + 1 < c.steps else w[c.t("Pfinal")]
        if not (nxt == p - w[c.t("dP")][j]).all():  # pragma: no cover
            bad.append(f"P_(t+1) = P_t - dP_t at step {j}")
    values = {name: w[name] for name in stp}
    bad += [label for label, poly in step if np.any(poly.evaluate(values) != 0)]
    values = {name: w[name] for name in ent}
    values |= {c.t(k): w[c.t(k)][:, None] for k in ("A", "B", "Lphi")}
    bad += [label for label, poly in entry if np.any(poly.evaluate(values) != 0)]
    if bad:  # pragma: no cover - the witness is built to satisfy them
        raise AssertionError(f"{c.name}: the witness breaks {sorted(set(bad))}")
