"""LARS's trust ratio, prover side: the witness of relation (T) of ``circuits/trust.py``
(specification: ``verifier/trust.py``, which the prover runs over its own channel like every
walk).

From the exact squared norms N, M ([T', Gp], Python ints) it gives every tensor the gadget
reads: the values of the zero-check's tables (N, M, the roots s_P, s_G and remainders e_P, e_G,
the flags f_P, f_G, f, lambda_q, rho, sigma; LARC: c, m_q, rho2, sigma2, h; object arrays of
Python ints) and the committed slots of e_P, u_P, t_P, e_G, u_G, t_G and of ``sliced``'s values
(lambda_q, rho, sigma; LARC: m_q, rho2, sigma2, h). A norm outside its declared width, or a
value past the width the gadget derived, is a hard error (the decompositions raise).
"""

from __future__ import annotations

import numpy as np

from circuits.trust import TrustRatio


def trust_witness(c: TrustRatio, sum_p2: np.ndarray, sum_g2: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor the trust-ratio gadget reads, by name (flat, C order over [T', Gp]), for the
    squared norms N = ``sum_p2`` and M = ``sum_g2`` (2^num_vars Python ints each, any shape)."""
    w = c.witness_values(sum_p2, sum_g2)
    out = dict(w)
    for root, t, t_value in ((c.sqrt_p, "tP", c.t_p), (c.sqrt_g, "tG", c.t_g)):
        s, e = w[root.s], w[root.e]
        out[root.slots("e")] = root.e_slots().decompose(e, f"{root.name}: x - s^2")
        out[root.slots("u")] = root.u_slots().decompose(2 * s - e, f"{root.name}: 2s - (x - s^2)")
        out[c.slots(t)] = c.t_slots().decompose(w[t_value], f"{c.name}: s - 1 + f ({t})")
    for key, table, d in c.sliced():
        out[c.slots(key)] = d.decompose(w[table], f"{c.name}: {key}")
    return out
