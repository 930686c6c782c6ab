"""Test tooling shared by the soundness tests: what a cheating prover does besides its cheat."""

from __future__ import annotations

import numpy as np

from circuits.mlp import MlpCircuit
from prover.logup import multiplicities, slot_matrix
from verifier.training import logup_statement


def recounted(circuit: MlpCircuit, witness: dict) -> dict:
    """``witness`` with the lookup multiplicities of the limbs it holds (limb gadget): what a
    cheating prover commits, so that the logUp sum breaks only on a slot outside its table, not
    on a stale count. A slot outside its table is counted as a lookup of 0 (no count makes the
    sum vanish then)."""
    if circuit.range_check != "limbs":
        return witness
    statement = logup_statement(circuit)
    clipped = {}
    for tensor in statement.tensors:
        slots = slot_matrix(tensor, witness[tensor.name]).copy()
        bounds = np.array([1 << b for b in tensor.slot_tags()])  # a padding slot: the table {0}
        slots[(slots < 0) | (slots >= bounds)] = 0
        clipped[tensor.name] = slots
    return {**witness, **multiplicities(statement, clipped)}
