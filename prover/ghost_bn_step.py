"""One Ghost BN layer's training step, prover side: the witness of ``circuits/ghost_bn_step.py``
(specification: ``verifier/ghost_bn_step.py``, which the prover runs over its own channel like
every walk).

From the stacked inputs x, dy [T', B, C], the parameters Gamma, beta [T', C] and the starting
running statistics RM0, RV0 [C] it gives every tensor the gadget reads: the tables of the
zero-checks and sums (object arrays of Python ints), the committed slots of every range-checked
value (``GhostBnStep.ranged``), and the prover's broadcast and bound copies the verifier's
tables name (``derived_tables``). The values are the semantics of ``circuits/ghost_bn.py``
(``GhostBnStep.witness_values`` runs its ``forward_train``, ``running_update`` and
``backward`` step by step); every entry is then checked against it: every identity holds over
the integers (not only mod r), the sums are the sums of the inputs, y is ``rsqrt_round`` of
the radicand, each state's predecessor is the previous state. A value past its width is a hard
error (the semantics' ``GhostBnWidthError``, or the decompositions). (``tests/test_ghost_bn_step.py``
compares the witness with the kernel, ``zktrain.fixedpoint.ghost_bn``, entry by entry: the
prover does not import zktrain, DESIGN section 2.)
"""

from __future__ import annotations

import numpy as np

from circuits.ghost_bn_step import GhostBnStep
from circuits.sqrt import rsqrt_round
from verifier.ghost_bn_step import bound_name, broadcast_name


def ghost_bn_step_witness(c: GhostBnStep, x, dy, gamma, beta, rm0, rv0) -> dict[str, np.ndarray]:
    """Every tensor the Ghost BN step gadget reads, by name (module docstring)."""
    w = c.witness_values(x, dy, gamma, beta, rm0, rv0)
    out = w | derived_tables(c, w)
    _check_against_semantics(c, out)
    return out | slot_tables(c, w)


def slot_tables(c, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The committed slots of every ranged value of a Ghost BN gadget (the step's, or the eval
    mode's ``GhostBnEval``), from its table (a ValueError past its width)."""
    out = {}
    for value in c.SLOT_VALUES:
        out[c.slots(value)] = c.slot_decomposition(value).decompose(np.asarray(w[c.t(value)]).reshape(-1),
                                                                    f"{c.name}: {value}")
    r = c.rsqrt
    for value in ("y", "lo", "hi", "t"):
        d = getattr(r, f"{value}_slots")()
        out[r.slots(value)] = d.decompose(np.asarray(w[getattr(r, value)]).reshape(-1), f"{r.name}: {value}")
    return out


def derived_tables(c: GhostBnStep, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The prover's copies the verifier's tables name: statistics broadcast over i ([T', B, C]),
    Gamma and beta over (g, i) ([T', B, C]) and Gamma over g ([T' G, C]); x, dy, X with the i
    bits innermost ([T' G C, v]) and dy, X with the b bits innermost ([T' C, B])."""
    T, B, C, G, v = c.steps, c.spec.batch_size, c.features, c.spec.ghosts, c.spec.virtual_batch_size
    out = {}
    for name in (c.rsqrt.y, c.t("S1"), c.t("K"), c.t("A"), c.t("P")):
        stat = np.asarray(w[name], dtype=object).reshape(T, G, 1, C)
        out[broadcast_name(name, "i")] = np.repeat(stat, v, axis=2).reshape(T, B, C)
    for name in (c.t("Gamma"), c.t("beta")):
        par = np.asarray(w[name], dtype=object).reshape(T, 1, C)
        out[broadcast_name(name, "gi")] = np.repeat(par, B, axis=1)
    out[broadcast_name(c.t("Gamma"), "g")] = np.repeat(np.asarray(w[c.t("Gamma")], dtype=object).reshape(T, 1, C),
                                                       G, axis=1).reshape(T * G, C)
    for name in (c.t("x"), c.t("dy"), c.t("X")):
        el = np.asarray(w[name], dtype=object).reshape(T, G, v, C)
        out[bound_name(name, "i")] = el.transpose(0, 1, 3, 2).reshape(T * G * C, v)
    for name in (c.t("dy"), c.t("X")):
        out[bound_name(name, "b")] = np.asarray(w[name], dtype=object).transpose(0, 2, 1).reshape(T * C, B)
    return out


def _check_against_semantics(c: GhostBnStep, w: dict[str, np.ndarray]) -> None:
    """Every identity is 0 over the integers at every entry; S1, S2, A, Bs, D, dgamma, dbeta are
    the sums of the inputs; y is rsqrt_round(D + eps', a); each state's predecessor is the
    previous state (RM0, RV0 first). An AssertionError otherwise: a bug, never a cheat."""
    T, C, G, v = c.steps, c.features, c.spec.ghosts, c.spec.virtual_batch_size
    x, dy, X = (np.asarray(w[c.t(n)], dtype=object).reshape(T, G, v, C) for n in ("x", "dy", "X"))
    sums = {"S1": x.sum(axis=2), "S2": (x * x).sum(axis=2), "A": dy.sum(axis=2), "Bs": (dy * X).sum(axis=2)}
    bad = [n for n, val in sums.items() if not (val.reshape(T * G, C) == w[c.t(n)]).all()]
    if not (w[c.t("D")] == v * w[c.t("S2")] - w[c.t("S1")] ** 2).all():  # pragma: no cover
        bad.append("D")
    grads = {"dgamma": (dy * X).sum(axis=(1, 2)), "dbeta": dy.sum(axis=(1, 2)) << c.spec.frac_bits}
    bad += [n for n, val in grads.items() if not (val == w[c.t(n)]).all()]
    radicands = (w[c.t("D")] + c.eps).reshape(-1)
    if [rsqrt_round(int(r), c.spec.rsqrt_shift) for r in radicands] != list(w[c.rsqrt.y].reshape(-1)):
        bad.append("rstd")  # pragma: no cover
    for state in ("RM", "RV"):
        first = np.asarray(w[c.t(f"{state}0")], dtype=object).reshape(1, C)
        if not (np.concatenate([first, w[c.t(state)][:-1]]) == w[c.t(f"{state}p")]).all():  # pragma: no cover
            bad.append(f"the {state} sequence")
    flat = {name: w[name] for name in w if "@" not in name and "^" not in name}
    elem = flat | {n: w[broadcast_name(n, "i")] for n in (c.rsqrt.y, c.t("S1"), c.t("K"), c.t("A"), c.t("P"))}
    elem |= {n: w[broadcast_name(n, "gi")] for n in (c.t("Gamma"), c.t("beta"))}
    bad += [label for label, poly in c.element_identities() if np.any(poly.evaluate(elem) != 0)]
    stat = flat | {c.t("Gamma"): w[broadcast_name(c.t("Gamma"), "g")]}
    bad += [label for label, poly in c.stat_identities() if np.any(poly.evaluate(stat) != 0)]
    if bad:  # pragma: no cover - the witness is built to satisfy them
        raise AssertionError(f"{c.name}: the witness breaks {sorted(set(bad))}")
