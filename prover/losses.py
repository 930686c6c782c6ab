"""The loss modules, prover side: each loss's witness (specification: ``verifier/losses.py``, whose
reductions the prover runs over its own channel; tensors: ``circuits/loss.py``).

Two entry points per loss, keyed by ``MlpCircuit.loss`` like the verifier's modules:

* ``output_gradient(c, zp, y, emit)``: G_out of one padded step from the logits Z'_L and labels
  Y (object arrays [B, C']), the logits and every intermediate tensor passed through ``emit`` (the
  malicious-prover hook of ``prover.training.exact_step``); each is computed from the emitted
  (possibly edited) values before it, so a soundness test edits one tensor and the rest stays
  consistent with the edit;
* ``step_record(c, softmax)``: the same tensors from the engine's ``StepTrace.softmax``
  (``circuits.softmax.SoftmaxCE``, over the C real classes), padded to C' columns with the
  values the relations force there: D = 0, so z0 = z1 = 0 and e0 = E0[0], e1 = E1[0]; n = 0,
  so p = 0 and r' = S.

``slots(c, wit)`` decomposes the stacked division values into their committed slots.
"""

from __future__ import annotations

import numpy as np

from circuits.division import Division
from circuits.loss import SoftmaxCELossCircuit
from circuits.rowmax import row_max
from circuits.tables import exp_tables


def _lookup(table, index: np.ndarray) -> np.ndarray:
    """table[index] entrywise; an index outside the table (only a cheating witness has one)
    looks up 0, which the verifier's lookup rejects."""
    out = np.zeros(index.shape, dtype=object)
    for pos, i in np.ndenumerate(index):
        if 0 <= i < len(table.outputs):
            out[pos] = table.outputs[int(i)]
    return out


def _mask(lc: SoftmaxCELossCircuit) -> np.ndarray:
    return np.array([int(j < lc.classes) for j in range(1 << lc.cols_vars)], dtype=object)


def ce_output_gradient(c, zp: np.ndarray, y: np.ndarray, emit) -> np.ndarray:
    """(CE1)-(CE6) of ``circuits/softmax.py`` on one padded step (module docstring): e, m,
    D = M (m - z), z0, z1, e0, e1, n = M e0 e1, S, p and r' = 2^(R+1) n + S - 2 p S; returns
    G = p - Y."""
    lc = c.loss_circuit()
    div: Division = lc.division
    z = emit(lc.logits, np.asarray(zp, dtype=object))
    onehot, _, _ = row_max(z.astype(np.int64), lc.classes)
    e = emit(lc.onehot, onehot.astype(object))
    m = emit(lc.rowmax.m, (e * z).sum(axis=1))
    gap = emit("ce.gap", _mask(lc) * (m[:, None] - z))
    z0 = emit(lc.z0, gap % (1 << 16))
    z1 = emit(lc.z1, gap // (1 << 16))
    t0, t1 = exp_tables(c.frac_bits, lc.sizing.table_bits)
    e0 = emit(lc.e0, _lookup(t0, z0))
    e1 = emit(lc.e1, _lookup(t1, z1))
    n = emit(lc.numerator, _mask(lc) * e0 * e1)
    s = emit(div.d, n.sum(axis=1))
    top = 2 * n * (1 << div.shift) + s[:, None]
    p = emit(div.q, top // (2 * s[:, None]))
    emit(div.r, top - 2 * p * s[:, None])
    return p - y


def mse_output_gradient(c, zp: np.ndarray, y: np.ndarray, emit) -> np.ndarray:
    return zp - y


def _pad(a: np.ndarray, shape, fill: int | np.ndarray = 0) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64) + np.asarray(fill, dtype=np.int64)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def ce_step_record(c, softmax) -> dict[str, np.ndarray]:
    """The engine's softmax witness (``StepTrace.softmax``) as a padded record (module docstring)."""
    lc = c.loss_circuit()
    div = lc.division
    shape = (c.batch, 1 << lc.cols_vars)
    t0, t1 = exp_tables(c.frac_bits, lc.sizing.table_bits)
    gap = _pad(softmax.gap, shape)
    total = np.asarray(softmax.total, dtype=np.int64)
    logits = np.asarray(softmax.max, dtype=np.int64)[:, None] - np.asarray(softmax.gap, dtype=np.int64)
    return {
        lc.logits: _pad(logits, shape),  # z = m - D on the real classes (CE2), 0 on the padded
        lc.onehot: _pad(softmax.onehot, shape),
        lc.rowmax.m: np.asarray(softmax.max, dtype=np.int64),
        "ce.gap": gap,
        lc.z0: gap & 0xFFFF,
        lc.z1: gap >> 16,
        lc.e0: _pad(softmax.e0, shape, t0.outputs[0]),
        lc.e1: _pad(softmax.e1, shape, t1.outputs[0]),
        lc.numerator: _pad(softmax.product, shape),
        div.d: total,
        div.q: _pad(softmax.prob, shape),
        div.r: _pad(softmax.remainder, shape, total[:, None]),
    }


def ce_slots(c, wit: dict) -> dict[str, np.ndarray]:
    """The division's committed slots from the stacked values: p, r', u = 2S - 1 - r', S - 1."""
    div = c.loss_circuit().division
    d = np.asarray(wit[div.d], dtype=np.int64)
    r = np.asarray(wit[div.r], dtype=np.int64)
    return {
        div.slots("q"): div.q_slots().decompose(np.asarray(wit[div.q], dtype=np.int64), "softmax probability"),
        div.slots("r"): div.r_slots().decompose(r, "softmax division remainder"),
        div.slots("u"): div.u_slots().decompose(2 * d[..., None] - 1 - r, "softmax 2S - 1 - r'"),
        div.slots("d"): div.d_slots().decompose(d, "softmax row sum"),
    }


OUTPUT_GRADIENTS = {"mse": mse_output_gradient, "cross_entropy": ce_output_gradient}
STEP_RECORDS = {"mse": lambda c, softmax: {}, "cross_entropy": ce_step_record}
SLOTS = {"mse": lambda c, wit: {}, "cross_entropy": ce_slots}


def output_gradient(c, zp, y, emit):
    """G_out of one padded step by the circuit's loss (``exact_step``)."""
    return OUTPUT_GRADIENTS[c.loss](c, zp, y, emit)


def step_record(c, softmax) -> dict[str, np.ndarray]:
    """The loss's tensors of one engine step (``zktrain.prove.step_record``)."""
    return STEP_RECORDS[c.loss](c, softmax)


def slots(c, wit: dict) -> dict[str, np.ndarray]:
    """The loss's committed slots from the stacked witness (``prover.training.stack_witness``)."""
    return SLOTS[c.loss](c, wit)
