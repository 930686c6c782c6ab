"""Proving inference: the forward pass in the inference circuit's layout, the model's weights as
the training bundle's commitments, and the proof.

The walk is ``verifier.inference.InferenceWalk``, driven here over the training proof's prover
channels (``prover.training.ProverChannel``, ``prover.zk_training.ZkProverChannel``). What
only the prover has: the witness (``forward_records`` lays out the exact forward pass the
engine computed, ``inference_witness`` adds the range slots and multiplicities), the
opening of the weights' commitments (``weight_openings``: the trained model's values and the
row blinds of its model file, ``verifier.model``), which the channel reuses as they are, so
the proof is about the very commitments the training bundle published, and, for committed
inputs, the commitment to their slots X.s with its opening (``commit_inputs``: made before
the statement, which holds it, and reused by the channel as the weights' are).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from circuits.inference import InferenceCircuit
from circuits.mlp import NORM_STATE
from prover.backends.base import FieldBackend
from prover.commit import hyrax
from prover.commit.generators import prover_generators
from prover.commit.hyrax import HyraxWitness
from prover.ghost_bn_eval import ghost_bn_eval_witness
from prover.logup import multiplicities
from prover.training import ProverChannel, Witness, commit_width
from prover.zk_training import ZkProverChannel
from verifier.hyrax import HyraxCommitment, HyraxLayout
from verifier.inference import InferenceStatement, InferenceWalk
from verifier.training import logup_statement


def _padded(values: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    if values is not None:
        out[tuple(slice(0, n) for n in values.shape)] = values
    return out


def forward_records(c: InferenceCircuit, x: np.ndarray, layers: Sequence[tuple[np.ndarray, np.ndarray]],
                    norms: Sequence[tuple] | None = None) -> Witness:
    """The forward pass of ``x`` [N, d_0] (int64 at 2^R) padded as the circuit lays it out, from
    the engine's (Z'_l, Rem_l) of each layer (``FixedPointMLP.forward_layers``): ``IN{l}``
    [N', d_{l-1}'] (A_{l-1}), ``ZP{l}`` and ``REM{l}`` [N', d_l'], and for hidden layers the
    ReLU indicator ``S{l}``. The padded rows and features hold what the relations force there:
    zero, and s = 1 (Z' = 0 <= 0). With Ghost BN (``norms``: per hidden layer the trained
    (gamma, beta, running mean, running variance)) the ReLU reads the eval gadget's Y
    (``prover/ghost_bn_eval.py``, whose tables join the records), zero on the padded rows too."""
    rows = 1 << c.batch_vars
    records = {"IN1": _padded(x, (rows, 1 << c.width_vars(0)))}
    for l, (zp, rem) in enumerate(layers, start=1):
        shape = (rows, 1 << c.width_vars(l))
        records[f"ZP{l}"], records[f"REM{l}"] = _padded(zp, shape), _padded(rem, shape)
        if l < c.layers:
            relu_input = records[f"ZP{l}"]
            if c.model.has_norm:
                g = c.ghost_bn_eval(l)
                state = [_padded(v, shape[1:]) for v in norms[l - 1]]
                records.update(ghost_bn_eval_witness(g, relu_input, *state))
                relu_input = records[f"NP{l}"] = np.asarray(records[g.t("Y")], dtype=np.int64)
                records.update({f"bn{l}.{v}.T": a for v, a in zip(NORM_STATE, state, strict=True)})
            records[f"S{l}"] = (relu_input <= 0).astype(np.int64)
            records[f"IN{l + 1}"] = np.where(records[f"S{l}"] == 1, 0, relu_input)
    return records


def inference_witness(
    c: InferenceCircuit, records: Mapping[str, np.ndarray], weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None]
) -> Witness:
    """The witness of the walk: the records (``forward_records``), the slots of every
    range-checked value (the committed inputs' X.s, Z'_l - 1 of the hidden layers, Rem_l of
    every layer; with Ghost BN, Y - 1 and the eval gadget's), the lookup multiplicities (limb
    gadget), and the final weights and biases W{l}.T, b{l}.T padded to the circuit's widths
    (unpadded master values at 2^(2R+k), as in the model file; Ghost BN's bn{l}.*.T are the
    records')."""
    virtual = [f"IN{l}" for l in range(1, c.layers + 1)] + [f"{kind}{l}" for l in range(1, c.layers) for kind in ("S", "ZP")]
    wit: Witness = {name: np.asarray(records[name], dtype=np.int64) for name in virtual}
    for l in c.model.norm_layers():  # the eval gadget's tables (Python ints) and the ReLU's slots of Y
        g = c.ghost_bn_eval(l)
        wit.update({name: v for name, v in records.items() if name.startswith(f"{g.name}.")})
        wit[c.ranged(f"N{l}")] = c.relu_slots().decompose(records[f"NP{l}"], f"Y{l}")
    if c.committed_inputs:  # the padded inputs as committed, padding (zero) included
        wit[c.input_tensor()] = c.x_slots().decompose(wit["IN1"], "input")
    for l in range(1, c.layers + 1):
        dims = (1 << c.width_vars(l), 1 << c.width_vars(l - 1))
        if l < c.layers:
            wit[c.ranged(f"Z{l}")] = c.z_slots(l).decompose(records[f"ZP{l}"], f"Z'{l}")
        wit[c.ranged(f"R{l}")] = c.rem_slots().decompose(records[f"REM{l}"], f"Rem{l}")
        wit[f"W{l}.T"] = _padded(weights[l - 1], dims)
        wit[f"b{l}.T"] = _padded(biases[l - 1], dims[:1])
    if c.range_check == "limbs":
        wit.update(multiplicities(logup_statement(c), wit))
    return wit


def weight_openings(
    statement: InferenceStatement, commitments: Mapping[str, HyraxCommitment], witness: Witness,
    blinds: Mapping[str, Sequence[int]],
) -> dict:
    """The prover channel's ``precommitted`` entries of the weights: each W{l}.T, b{l}.T
    commitment of the training bundle with its opening witness (the padded values of
    ``witness``, and the row blinds of the model file, by layer name "W1", "b1", ...)."""
    out = {}
    for tensor in statement.weight_tensors():
        layout = HyraxLayout.square(statement.tensor_vars(tensor))
        values = witness[tensor].reshape(layout.num_rows, layout.num_cols)
        out[tensor] = (commitments[tensor],
                       HyraxWitness(layout, values, commit_width(values), list(blinds[tensor.removesuffix(".T")])))
    return out


def commit_inputs(c: InferenceCircuit, witness: Witness, rng=None) -> tuple[HyraxCommitment, HyraxWitness]:
    """Commit to the inputs' slots X.s of ``witness`` (``inference_witness`` of a circuit of
    committed inputs), with fresh blinds from the OS RNG (``rng`` only in tests): the
    commitment the statement holds and its opening witness (values and row blinds), which the
    channel reuses (``input_opening``) and whose blinds the inputs' opening file keeps."""
    name = c.input_tensor()
    layout = HyraxLayout.square(c.committed_ranges()[name].layout.num_vars)
    flat = np.asarray(witness[name], dtype=np.int64).reshape(-1)
    return hyrax.commit(prover_generators(), flat, layout, commit_width(flat), rng)


def input_opening(statement: InferenceStatement, opened: tuple[HyraxCommitment, HyraxWitness]) -> dict:
    """The prover channel's ``precommitted`` entry of the committed inputs (none when public)."""
    return {statement.circuit.input_tensor(): opened} if statement.circuit.committed_inputs else {}


def prove_inference(
    statement: InferenceStatement,
    witness: Witness,
    backend: FieldBackend,
    precommitted: dict,
    zk: bool,
    rng=None,
    progress: Callable[[str], None] | None = None,
) -> ProverChannel:
    """Run the inference walk over a prover channel of the mode ``zk``; the channel holds the
    proof bytes (``proof_bytes()``) and the prove-time breakdown (``timings``)."""
    channel_type = ZkProverChannel if zk else ProverChannel
    channel = channel_type(statement, witness, backend, precommitted, rng, progress)
    InferenceWalk(statement, channel).run()
    return channel
