"""Integer square root and reciprocal square root, prover side: the witnesses of relations (S)
and (R) of ``circuits/sqrt.py`` (specification: ``verifier/sqrt.py``, which the prover runs
over its own channel like every walk).

isqrt: the values its zero-check reads (x, s, e: s is the prover's table, never sent) and the
committed slots of e and u = 2s - e. rsqrt: the values (x, y, t = y^2, lo, hi), t committed by
the caller, and the slots of y - 1, lo and hi. A radicand outside its declared width, or a value
past the width the gadget derived, is a hard error (the decompositions raise), never a silent
saturation. Squared norms need no witness beyond the caller's tensor and
``circuits.sqrt.squared_norms``.
"""

from __future__ import annotations

import numpy as np

from circuits.sqrt import Rsqrt, Sqrt


def _flat(c, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=object if getattr(c, "wide", False) else np.int64)
    if x.size != 1 << c.num_vars:
        raise ValueError(f"{c.name}: {x.size} radicands for {1 << c.num_vars} entries")
    return x.reshape(-1)


def sqrt_witness(c: Sqrt, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor the isqrt gadget reads, by name, for radicands ``x`` (int64, 2^num_vars of
    them in any shape, within [0, 2^x_bits); Python ints in the wide mode, x_bits > 62, where
    x, s, e are object arrays and the slots small integers as always)."""
    x = _flat(c, x)
    s, e, u = c.witness_values(x)
    return {
        c.radicand: x,
        c.s: s,
        c.e: e,
        c.slots("e"): c.e_slots().decompose(e, f"{c.name}: x - s^2"),
        c.slots("u"): c.u_slots().decompose(u, f"{c.name}: 2s - (x - s^2)"),
    }


def rsqrt_witness(c: Rsqrt, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor the rsqrt gadget reads, by name, for radicands ``x`` (int64, 2^num_vars of
    them, within [0, 2^x_bits), x + eps >= 1; Python ints in the wide mode, where t is committed
    as the slots of t - 1)."""
    x = _flat(c, x)
    y, t, lo, hi = c.witness_values(x)
    wide = {c.slots("t"): c.t_slots().decompose(t, f"{c.name}: y^2")} if c.wide else {}
    return wide | {
        c.radicand: x,
        c.y: y,
        c.t: t,
        c.lo: lo,
        c.hi: hi,
        c.slots("y"): c.y_slots().decompose(y, f"{c.name}: y"),
        c.slots("lo"): c.lo_slots().decompose(lo, f"{c.name}: 4c^2 - (2y - 1)^2 V"),
        c.slots("hi"): c.hi_slots().decompose(hi, f"{c.name}: (2y + 1)^2 V - 4c^2 - 1"),
    }
