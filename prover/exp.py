"""exp(-d) for d >= 0, prover side: the gadget's witness (``verifier/exp.py``, ``circuits/exp.py``).

The reductions are the verifier's (``verifier.exp.ExpWalk``), run over the prover's channel;
the lookups' and range checks' multiplicities come from ``prover.logup.multiplicities`` over
the caller's logUp statement. What only the prover has is the witness: the limbs of d, the
looked-up outputs, and the limbs of Y and of the rescale remainder.
"""

from __future__ import annotations

import numpy as np

from circuits.exp import exp_neg_product, split, table_outputs
from circuits.semantics import rescale
from verifier.exp import ExpGadget


def exp_witness(gadget: ExpGadget, d: np.ndarray) -> dict[str, np.ndarray]:
    """The committed tensors of ``gadget`` for inputs d (2^value_vars of them, int64, in
    [0, 2^32)): flat z0, z1, e0, e1, and [2^n, padded_width] limbs of Y and Rem."""
    d = np.asarray(d, dtype=np.int64).reshape(-1)
    if d.size != 1 << gadget.value_vars:
        raise ValueError(f"exp {gadget.name}: {d.size} inputs, expected 2^{gadget.value_vars}")
    z0, z1 = split(d)
    e0, e1 = table_outputs(d, gadget.frac_bits, gadget.table_bits)
    y, rem = rescale(exp_neg_product(d, gadget.frac_bits, gadget.table_bits), gadget.shift)
    y_t, rem_t = gadget.range_tensors()
    return {
        gadget.tensor("z0"): z0, gadget.tensor("z1"): z1, gadget.tensor("e0"): e0, gadget.tensor("e1"): e1,
        y_t.name: y_t.decomposition.decompose(y, "exp output").astype(np.int64),
        rem_t.name: rem_t.decomposition.decompose(rem, "exp remainder").astype(np.int64),
    }
