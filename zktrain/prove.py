"""``zktrain prove``: train in the exact fixed-point semantics, prove it, write the bundle.

Pipeline: run file -> canonical recipe -> encoded data and batch stream -> the fixed-point
engine's trace (``zktrain.fixedpoint``) -> the circuit's witness (padded steps run on zero
data with learning rate 0; padded features hold the honest padding values) -> the proof
(``prover.training``, or ``prover.zk_training`` for ``prove.zk: true``), one segment of
``prove.segment_steps`` steps at a time, each starting from the checkpoint the previous one
committed to -> the bundle (``verifier.bundle``, whose mode byte tells the verifier which).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import ProverChannel, prove_with, stack_witness
from prover.zk_training import ZkProverChannel
from verifier.bundle import encode_bundle, segment_statements

from .fixedpoint.data import encode_dataset
from .fixedpoint.engine import FixedPointMLP, train
from .run_config import ProveRun


@dataclass
class ProveSummary:
    steps: int
    padded_steps: int
    segments: int
    train_accuracy: float
    test_accuracy: float
    witness_seconds: float
    prove_seconds: float
    bundle_bytes: int
    proof_bytes: int
    #: prove time by kind (commit, sumcheck, logup, open, messages), summed over the segments
    timings: dict[str, float]


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


def _checkpoint(trace, t: int) -> tuple[list, list]:
    """The weights and biases before step t (after the last step for t = T)."""
    if t == len(trace.steps):
        return list(trace.final_weights), list(trace.final_biases)
    layers = trace.steps[t].layers
    return [layer.weight for layer in layers], [layer.bias for layer in layers]


def _segment_witness(recipe, c: MlpCircuit, trace, first: int) -> dict:
    """The witness of the segment whose circuit ``c`` starts at step ``first``: its steps'
    records, its padded steps (the end model on a zero batch with learning rate 0, so it
    stays at the checkpoint), and the checkpoint it ends on."""
    end_w, end_b = _checkpoint(trace, first + c.steps)
    model = FixedPointMLP(recipe, end_w, end_b)
    zeros_x = np.zeros((c.batch, c.widths[0]), dtype=np.int64)
    zeros_y = np.zeros((c.batch, c.widths[-1]), dtype=np.int64)
    padded = [model.step(zeros_x, zeros_y, 0, t, np.zeros(c.batch, dtype=np.int64)) for t in range(c.steps, c.padded_steps)]
    records = [step_record(c, s) for s in (*trace.steps[first : first + c.steps], *padded)]
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    final_w = [_pad(w, (dims[l], dims[l - 1])) for l, w in enumerate(end_w, 1)]
    final_b = [_pad(b, (dims[l],)) for l, b in enumerate(end_b, 1)]
    return stack_witness(c, records, final_w, final_b)


def train_trace(run: ProveRun):
    """Train in the fixed-point semantics: the trace and the trained model's (train, test) accuracy."""
    recipe = run.recipe
    data = encode_dataset(run.dataset, recipe)
    initial = None if run.initial is None else FixedPointMLP(recipe, *run.initial)
    trace = train(recipe, data.x_train, data.y_train, data.batches, model=initial)
    model = FixedPointMLP(recipe, list(trace.final_weights), list(trace.final_biases))
    train_acc = float(np.mean(model.predict(data.x_train) == data.labels_train))
    test_acc = float(np.mean(model.predict(data.x_test) == data.labels_test))
    return trace, (train_acc, test_acc)


def prove_run(run: ProveRun, progress: Callable[[str], None] | None = None) -> tuple[bytes, ProveSummary]:
    """Train, prove segment by segment (each from the checkpoint the previous one committed
    to; one segment's witness in memory at a time) and encode; returns the bundle and a summary."""
    say = progress or (lambda _msg: None)
    recipe, options = run.recipe, run.options
    segment_steps = min(options.segment_steps or recipe.train.steps, recipe.train.steps)
    statements = segment_statements(recipe, options.range_check, segment_steps)
    try:
        backend = get_backend(options.backend)
    except ValueError as err:
        raise ValueError(f"prove.backend: {err}") from None

    t0 = time.perf_counter()
    trace, (train_acc, test_acc) = train_trace(run)
    witness_s = time.perf_counter() - t0
    say(f"trained {recipe.train.steps} steps in the fixed-point semantics ({witness_s:.2f} s): "
        f"train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")

    channel_type = ZkProverChannel if options.zk else ProverChannel
    segments, checkpoint, prove_s, first, timings = [], {}, 0.0, 0, Counter()
    for st in statements:
        if len(statements) > 1:
            say(f"segment {st.segment + 1}/{len(statements)}: steps {first}..{first + st.circuit.steps - 1}")
        t0 = time.perf_counter()
        witness = _segment_witness(recipe, st.circuit, trace, first)
        witness_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        channel = prove_with(channel_type, st, witness, backend, precommitted=checkpoint, progress=say)
        prove_s += time.perf_counter() - t0
        segments.append((channel.public, channel.proof_bytes()))
        timings.update(channel.timings)
        checkpoint, first = channel.checkpoint(), first + st.circuit.steps
        del witness, channel
    bundle = encode_bundle(statements, segments, zk=options.zk)
    proof_bytes = sum(len(proof) for _, proof in segments)
    padded_steps = sum(st.circuit.padded_steps for st in statements)
    summary = ProveSummary(recipe.train.steps, padded_steps, len(statements), train_acc, test_acc, witness_s,
                           prove_s, len(bundle), proof_bytes, dict(timings))
    return bundle, summary
