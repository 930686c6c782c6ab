"""Exact division with rounding, prover side: the witness of relation (1) of
``circuits/division.py`` (specification: ``verifier/division.py``, which the prover runs over
its own channel like every walk).

The witness holds the values the identity's sumcheck tables read (q, r', n, and d for a
committed divisor: the prover's, never sent) and the committed slots of q, r', u = 2d - 1 - r'
and d - 1. Witness generation that would overflow a declared width is a hard error (the
decompositions raise), never a silent saturation.
"""

from __future__ import annotations

import numpy as np

from circuits.division import Division, divide


def division_witness(c: Division, n: np.ndarray, d: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every tensor the gadget reads, by name, for numerators ``n`` [rows, cols] (int64, within
    w_n signed bits) and divisors ``d`` [rows] (None for the public ones)."""
    n = np.asarray(n, dtype=np.int64)
    if n.shape != (1 << c.rows_vars, 1 << c.cols_vars):
        raise ValueError(f"{c.name}: numerators of shape {n.shape}")
    if n.size and not -(1 << (c.n_bits - 1)) <= n.min() <= n.max() < 1 << (c.n_bits - 1):
        raise ValueError(f"{c.name}: a numerator lies outside {c.n_bits} signed bits")
    if (d is None) != (c.divisor is not None):
        raise ValueError(f"{c.name}: divisors must be given exactly when they are committed")
    d = np.asarray(c.divisor if d is None else d, dtype=np.int64)
    q, r = divide(n, d[:, None], c.shift)
    out = {
        c.numerator: n,
        c.q: q,
        c.r: r,
        c.slots("q"): c.q_slots().decompose(q, f"{c.name}: quotient"),
        c.slots("r"): c.r_slots().decompose(r, f"{c.name}: remainder"),
        c.slots("u"): c.u_slots().decompose(2 * d[:, None] - 1 - r, f"{c.name}: 2d - 1 - r'"),
    }
    if c.committed_divisor:
        out[c.d] = d
        out[c.slots("d")] = c.d_slots().decompose(d, f"{c.name}: divisor")
    return out
