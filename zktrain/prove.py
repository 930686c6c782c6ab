"""``zktrain prove``: train in the exact fixed-point semantics, prove it, write the bundle.

Pipeline: run file -> canonical recipe -> encoded data and batch stream -> the fixed-point
engine's trace (``zktrain.fixedpoint``) -> the circuit's witness (padded steps run on zero
data with learning rate 0; padded features hold the honest padding values) -> the proof
(``prover.training``, or ``prover.zk_training`` for ``prove.zk: true``) -> the bundle
(``verifier.bundle``, whose mode byte tells the verifier which).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import prove_training, stack_witness
from prover.zk_training import prove_training_zk
from verifier.bundle import encode_bundle, statement_for

from .fixedpoint.data import encode_dataset
from .fixedpoint.engine import FixedPointMLP, train
from .run_config import ProveRun


@dataclass
class ProveSummary:
    steps: int
    padded_steps: int
    train_accuracy: float
    test_accuracy: float
    witness_seconds: float
    prove_seconds: float
    bundle_bytes: int
    proof_bytes: int


def _pad(a: np.ndarray | None, shape: tuple[int, ...], fill: int = 0) -> np.ndarray:
    """``a`` in the top-left corner of an int64 array of ``shape`` filled with ``fill``."""
    out = np.full(shape, fill, dtype=np.int64)
    if a is not None:
        out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def step_record(c: MlpCircuit, step) -> dict[str, np.ndarray]:
    """One engine StepTrace as a padded record named as ``prover.training.exact_step`` names
    them. Padded features hold what the relations force there: zeros, except the ReLU
    indicator, which is 1 (Z' = 0 <= 0)."""
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    b = c.batch
    rec = {"IN1": _pad(step.x, (b, dims[0])), "Y": _pad(step.y, (b, dims[-1]))}
    for layer in step.layers:
        l, d = layer.layer, dims[layer.layer]
        rec[f"W{l}"] = _pad(layer.weight, (d, dims[l - 1]))
        rec[f"b{l}"] = _pad(layer.bias, (d,))
        rec[f"ZP{l}"] = _pad(layer.z, (b, d))
        rec[f"REM{l}"] = _pad(layer.z_rem, (b, d))
        rec[f"GZ{l}"] = _pad(layer.g_z, (b, d))
        if l < c.layers:
            rec[f"S{l}"] = _pad(layer.sign, (b, d), fill=1)
            rec[f"IN{l + 1}"] = _pad(layer.a, (b, d))
            rec[f"GP{l}"] = _pad(layer.g_a, (b, d))
            rec[f"REMG{l}"] = _pad(layer.g_a_rem, (b, d))
    return rec


def build_witness(run: ProveRun, c: MlpCircuit) -> tuple[dict, tuple[float, float]]:
    """Train in the fixed-point semantics and lay the trace out as the circuit's witness.

    Returns the witness and the trained model's (train, test) accuracy.
    """
    recipe = run.recipe
    data = encode_dataset(run.dataset, recipe)
    trace = train(recipe, data.x_train, data.y_train, data.batches)
    model = FixedPointMLP(recipe, list(trace.final_weights), list(trace.final_biases))
    train_acc = float(np.mean(model.predict(data.x_train) == data.labels_train))
    test_acc = float(np.mean(model.predict(data.x_test) == data.labels_test))
    # Padded steps: the final model on a zero batch with learning rate 0 (it stays W_T).
    zeros_x = np.zeros((c.batch, c.widths[0]), dtype=np.int64)
    zeros_y = np.zeros((c.batch, c.widths[-1]), dtype=np.int64)
    padded = [model.step(zeros_x, zeros_y, 0, t, np.zeros(c.batch, dtype=np.int64)) for t in range(c.steps, c.padded_steps)]
    records = [step_record(c, s) for s in (*trace.steps, *padded)]
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    final_w = [_pad(w, (dims[l], dims[l - 1])) for l, w in enumerate(trace.final_weights, 1)]
    final_b = [_pad(b, (dims[l],)) for l, b in enumerate(trace.final_biases, 1)]
    return stack_witness(c, records, final_w, final_b), (train_acc, test_acc)


def prove_run(run: ProveRun, progress: Callable[[str], None] | None = None) -> tuple[bytes, ProveSummary]:
    """Train, prove and encode; returns the bundle and a summary."""
    say = progress or (lambda _msg: None)
    recipe = run.recipe
    statement = statement_for(recipe, run.options.range_check)
    c = statement.circuit
    try:
        backend = get_backend(run.options.backend)
    except ValueError as err:
        raise ValueError(f"prove.backend: {err}") from None

    t0 = time.perf_counter()
    witness, (train_acc, test_acc) = build_witness(run, c)
    witness_s = time.perf_counter() - t0
    say(f"trained {c.steps} steps in the fixed-point semantics and laid out the witness ({witness_s:.2f} s): "
        f"train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")

    t0 = time.perf_counter()
    prove = prove_training_zk if run.options.zk else prove_training
    public, proof = prove(statement, witness, backend, progress=say)
    prove_s = time.perf_counter() - t0
    bundle = encode_bundle(recipe, public, proof, zk=run.options.zk, range_check=run.options.range_check)
    summary = ProveSummary(c.steps, c.padded_steps, train_acc, test_acc, witness_s, prove_s, len(bundle), len(proof))
    return bundle, summary
