"""``zktrain prove``: train in the exact fixed-point semantics, prove it, write the bundle.

Pipeline: run file -> canonical recipe -> encoded data and batch stream -> the fixed-point
engine's trace (``zktrain.fixedpoint``; or a trace recorded from a torch loop by
``zktrain.recorder``, which has its own batches) -> the circuit's witness (padded steps run on zero
data with learning rate 0; padded features hold the honest padding values) -> the proof
(``prover.training``, or ``prover.zk_training`` for ``prove.zk: true``), one segment of
``prove.segment_steps`` steps at a time, each starting from the checkpoint the previous one
committed to -> the bundle (``verifier.bundle``, whose mode byte tells the verifier which),
and the trained model with the opening of the last segment's W_T, b_T commitments
(``verifier.model``: the values the prover committed and the blinds it kept, secret in the
zero-knowledge mode).

Both sources of a trace share one prover loop: ``plan_segments`` (the statements and the
backend, checked before any training) and ``prove_trace`` (recipe and trace -> bundle and model
artifact); ``prove_run`` is that loop fed by a run file (``train_trace``). The loop commits every
segment's end checkpoint first (``commit_checkpoints``), after which the segments are
independent: ``prove_segment`` proves one from its start and end checkpoints, and ``assemble``
encodes the bundle from the proofs. ``zktrain.distributed`` runs the same parts across
torch.distributed ranks.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np

from circuits.lars import update_multiplier
from circuits.mlp import MlpCircuit, state_name
from circuits.softmax import softmax_fixed
from prover.backends import FieldBackend, get_backend
from prover.losses import step_record as loss_record
from prover.training import ProverChannel, commit_tensor, prove_with, stack_witness
from prover.zk_training import ZkProverChannel
from verifier.bundle import bind_public_data, encode_bundle, segment_statements
from verifier.model import MODES, DisclosedModel
from verifier.training import TrainingStatement

from .data_commitment import dataset_tensors, precommitted
from .fixedpoint.data import encode_dataset
from .fixedpoint.lars import sum_of_squares
from .fixedpoint.engine import FixedPointMLP, train
from .fixedpoint.trace import TrainingTrace
from .run_config import ProveOptions, ProveRun


@dataclass
class ProveSummary:
    steps: int
    padded_steps: int
    segments: int
    #: the trained fixed-point model's accuracy on the training rows (a recorded run: on the rows
    #: of its batches) and on the test rows (None for a recorded run, which has no test set)
    train_accuracy: float
    test_accuracy: float | None
    witness_seconds: float
    prove_seconds: float
    bundle_bytes: int
    proof_bytes: int
    #: prove time by kind (commit, sumcheck, logup, open, messages), summed over the segments
    timings: dict[str, float]
    #: the trained model and the opening of its commitments (``DisclosedModel.to_bytes()`` is
    #: the model file); in the zero-knowledge mode a secret
    model: DisclosedModel
    #: processes that proved the segments (``zktrain.distributed``) and the wall time from the
    #: end of training to the bundle (None: one process, where it is about prove_seconds)
    workers: int = 1
    wall_seconds: float | None = None


@dataclass(frozen=True)
class TraceProof:
    """What ``prove_trace`` produced: the bundle, the model artifact, and how it went."""

    bundle: bytes
    model: DisclosedModel
    segments: int
    padded_steps: int
    proof_bytes: int
    witness_seconds: float
    prove_seconds: float
    timings: dict[str, float]

    def summary(self, steps: int, accuracy: tuple[float, float | None], training_seconds: float) -> ProveSummary:
        """The summary of a run of ``steps`` steps whose training took ``training_seconds``."""
        return ProveSummary(steps, self.padded_steps, self.segments, *accuracy, training_seconds + self.witness_seconds,
                            self.prove_seconds, len(self.bundle), self.proof_bytes, self.timings, self.model)


def _pad(a: np.ndarray | None, shape: tuple[int, ...], fill: int = 0) -> np.ndarray:
    """``a`` in the top-left corner of an int64 array of ``shape`` filled with ``fill``; ``a``
    itself (the trace's array, no copy) when it is int64 of that shape already. Records are
    only read: ``stack_witness`` copies them into the segment's witness."""
    if a is not None and a.shape == shape and a.dtype == np.int64:
        return a
    out = np.full(shape, fill, dtype=np.int64)
    if a is not None:
        out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def step_record(c: MlpCircuit, step, prev: list[tuple] | None = None) -> dict[str, np.ndarray]:
    """One engine StepTrace as a padded record named as ``prover.training.exact_step`` names
    them. Padded features hold what the relations force there: zeros, except the ReLU
    indicator, which is 1 (Z' = 0 <= 0). ``prev``: the momentum buffers before the step
    (``sgd_momentum`` only, ``momentum_record``)."""
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
        if layer.norm is not None:  # Ghost BN: its output Y (the ReLU's input), dy, gamma, beta
            rec[f"NP{l}"], rec[f"DY{l}"] = _pad(layer.norm.y, (b, d)), _pad(layer.norm.dy, (b, d))
            rec[f"bn{l}.Gamma"], rec[f"bn{l}.beta"] = _pad(layer.norm.gamma, (d,)), _pad(layer.norm.beta, (d,))
            rec.update(norm_optimizer_record(c, l, layer.norm, d, step.lr_num))
    rec.update(loss_record(c, step.softmax))  # the loss's tensors (prover.losses), none for MSE
    if c.has_buffer:
        rec.update(momentum_record(c, step, prev))
    if c.optimizer == "lars":
        rec.update(lars_record(c, step, rec))
    if c.optimizer == "lamb":
        rec.update(folded_gradients(c, step))
    return rec


def norm_optimizer_record(c: MlpCircuit, l: int, n, d: int, step_lr: int) -> dict[str, np.ndarray]:
    """Ghost BN layer l's optimizer tensors of gamma and beta at one step, named as
    ``prover.training.norm_update`` names them: momentum's buffers before and after the step and
    their remainders (LARS's too, with the folded gradients, squared norms and multipliers), or
    LAMB's folded gradients dgamma, dbeta (its gadget recomputes the rest)."""
    rec = {}
    if c.has_buffer:
        for i, (kind, buf, rem) in enumerate((("Gamma", n.gamma_buf, n.gamma_buf_rem), ("beta", n.beta_buf, n.beta_buf_rem))):
            name = state_name("V", kind, l)
            rec[name], rec[f"{name}.prev"], rec[state_name("RV", kind, l)] = (_pad(x, (d,)) for x in (buf, n.state[i], rem))
    if c.optimizer in ("lars", "lamb"):
        rec[state_name("G", "Gamma", l)], rec[state_name("G", "beta", l)] = (_pad_object(g, (d,)) for g in (n.gamma_grad, n.beta_grad))
    if c.optimizer == "lars":  # the squared norms and the multiplier, as ``lars_tensor_step`` emits them
        spec = c.lars_spec()
        for kind, param, grad in (("Gamma", n.gamma, n.gamma_grad), ("beta", n.beta, n.beta_grad)):
            n_p, n_g = sum_of_squares(param), sum_of_squares(grad)
            rec[state_name("NP", kind, l)], rec[state_name("NG", kind, l)] = (np.array(v, dtype=object) for v in (n_p, n_g))
            rec[state_name("LAM", kind, l)] = np.array(update_multiplier(n_p, n_g, step_lr, spec, c.lr_shift), dtype=object)
    return rec


def _pad_object(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` in the top-left corner of a zero object array of ``shape`` (Python ints)."""
    out = np.zeros(shape, dtype=object)
    out[tuple(slice(0, n) for n in a.shape)] = np.asarray(a, dtype=object)
    return out


def _buffers(c: MlpCircuit, trace, t: int) -> list[tuple]:
    """The optimizer's state after step t - 1, zero before the run's first step: per layer the
    momentum buffers of W_l, b_l, or LAMB's moments ((M, V) of W_l, (M, V) of b_l)."""
    if t == 0:
        zero = [(np.zeros((c.widths[l], c.widths[l - 1]), dtype=np.int64),
                 np.zeros(c.widths[l], dtype=np.int64) if c.bias else None) for l in range(1, c.layers + 1)]
        if c.optimizer == "lamb":
            return [tuple(None if z is None else (z, z) for z in pair) for pair in zero]
        return zero
    if c.optimizer == "lamb":
        return [((m.m, m.v), (m.bias_m, m.bias_v) if c.bias else None) for m in trace.steps[t - 1].momentum]
    return [(m.buf, m.bias_buf) for m in trace.steps[t - 1].momentum]


def momentum_record(c: MlpCircuit, step, prev: list[tuple]) -> dict[str, np.ndarray]:
    """A StepTrace's momentum tensors, padded and named as ``prover.training.momentum_update``
    names them, with ``prev`` the buffers before the step (``verifier/optimizers.py``)."""
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    rec = {}
    for m, (w_prev, b_prev) in zip(step.momentum, prev, strict=True):
        l = m.layer
        kinds = [("W", m.buf, m.buf_rem, w_prev, (dims[l], dims[l - 1]))]
        if c.bias:
            kinds.append(("b", m.bias_buf, m.bias_buf_rem, b_prev, (dims[l],)))
        for kind, buf, rem, before, shape in kinds:
            rec[f"V{kind}{l}"], rec[f"RV{kind}{l}"] = _pad(buf, shape), _pad(rem, shape)
            rec[f"V{kind}{l}.prev"] = _pad(before, shape)
    return rec


def folded_gradients(c: MlpCircuit, step) -> dict[str, np.ndarray]:
    """A StepTrace's folded gradients G_W = G_Z^T A, G_b = 2^R sum_b G_Z, padded Python ints,
    named ``G*{l}`` as ``prover.training.lamb_update`` (and ``lars_update``) names them."""
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    out = {}
    for layer in step.layers:
        l = layer.layer
        out[f"GW{l}"] = _pad_object(layer.g_w.to_object(), (dims[l], dims[l - 1]))
        if c.bias:
            out[f"Gb{l}"] = _pad_object(layer.g_b, (dims[l],))
    return out


def lars_record(c: MlpCircuit, step, rec: dict) -> dict[str, np.ndarray]:
    """A StepTrace's LARS tensors besides the buffers, named as ``prover.training.lars_update``
    names them: the folded gradients G_W = G_Z^T A, G_b = 2^R sum_b G_Z (padded, Python ints)
    and per tensor the squared norms and the buffer's multiplier: lambda_q, or LARC's clipped m_q
    (``zktrain.fixedpoint.lars.LarsScalars``)."""
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    out = {}
    for m, layer in zip(step.momentum, step.layers, strict=True):
        l = m.layer
        # The engine's own exact gradients (G_W as Python ints where it passes int64), padded.
        grads = {"W": (_pad_object(layer.g_w.to_object(), (dims[l], dims[l - 1])), m.scalars),
                 "b": (_pad_object(layer.g_b, (dims[l],)), m.bias_scalars)}
        for kind in ("W", "b") if c.bias else ("W",):
            grad, scalars = grads[kind]
            out[f"G{kind}{l}"] = grad
            out[f"NP{kind}{l}"] = np.array(scalars.sum_p2, dtype=object)
            out[f"NG{kind}{l}"] = np.array(scalars.sum_g2, dtype=object)
            out[f"LAM{kind}{l}"] = np.array(scalars.multiplier, dtype=object)  # lambda_q, or LARC's m_q
    return out


def _checkpoint(trace, t: int) -> tuple[list, list]:
    """The weights and biases before step t (after the last step for t = T)."""
    if t == len(trace.steps):
        return list(trace.final_weights), list(trace.final_biases)
    layers = trace.steps[t].layers
    return [layer.weight for layer in layers], [layer.bias for layer in layers]


class _PaddedSteps(FixedPointMLP):
    """The model that runs a segment's padded steps (no weight update, ``step``): zero data, so zero labels, which the
    cross-entropy's label check refuses (``circuits.softmax.check_labels``); there G_out is the
    softmax p itself (p - 0), the same exact semantics (``circuits.softmax.softmax_fixed``)."""

    def output_gradient(self, z, y, step=None):
        if self.softmax is None or y.any():
            return super().output_gradient(z, y, step)
        witness = softmax_fixed(z, self.softmax)
        return witness.gradient, witness

    def step(self, *args, **kwargs):
        """A padded step: the optimizer's state runs on (LARS's buffer decays by mu), the
        weights stay at the checkpoint (the proof's rate is 0 there, ``verifier/optimizers.py``)."""
        weights, biases = list(self.weights), list(self.biases)
        params = None if self.norms is None else [state[:2] for state in self.norms]
        record = super().step(*args, **kwargs)
        self.weights, self.biases = weights, biases
        if params is not None:  # gamma and beta stay too (LARS's rate is 1 on real steps only)
            self.norms = [(*kept, *state[2:]) for kept, state in zip(params, self.norms)]
        return record


@dataclass(frozen=True)
class SegmentInputs:
    """What a segment's witness is built from: its real steps' traces, the checkpoint it ends
    on (weights and biases, unpadded) and, for ``sgd_momentum``, the buffers it starts from
    and ends on (per layer the pair for W and b; None otherwise). A whole run's trace gives
    them (``segment_inputs``); a rank of ``zktrain.distributed`` replays them from the
    checkpoint the segment starts from."""

    steps: tuple
    end_weights: list
    end_biases: list
    start_buffers: list | None = None
    end_buffers: list | None = None
    #: ``model.norm: ghost_bn``: per hidden layer (gamma, beta, running mean, running variance[,
    #: the buffers of gamma and beta]) (``MlpCircuit.norm_state_values``).
    start_norms: list | None = None
    end_norms: list | None = None


def segment_inputs(c: MlpCircuit, trace, first: int) -> SegmentInputs:
    """The inputs of the segment whose circuit ``c`` starts at step ``first`` of ``trace``."""
    end_w, end_b = _checkpoint(trace, first + c.steps)
    bufs = (_buffers(c, trace, first), _buffers(c, trace, first + c.steps)) if c.has_state else (None, None)
    norms = (_norms(trace, first), _norms(trace, first + c.steps)) if c.has_norm else (None, None)
    return SegmentInputs(tuple(trace.steps[first : first + c.steps]), end_w, end_b, *bufs, *norms)


def _norms(trace, t: int) -> list[tuple]:
    """Ghost BN's state per hidden layer before step t (after the last step for t = T): gamma,
    beta, running mean and variance, and with ``sgd_momentum`` gamma's and beta's buffers
    (``MlpCircuit.norm_state_values``)."""
    if t == len(trace.steps):
        return list(trace.final_norms)
    n = [layer.norm for layer in trace.steps[t].layers if layer.norm is not None]
    return [(x.gamma, x.beta, x.running_mean, x.running_var, *x.state) for x in n]


def _padded_norms(c: MlpCircuit, norms: list) -> list[tuple]:
    """Ghost BN's state per hidden layer padded to the layer's power-of-two width (zeros)."""
    return [tuple(_pad(v, (1 << c.width_vars(l),)) for v in state) for l, state in zip(c.norm_layers(), norms, strict=True)]


def all_segment_inputs(statements: list[TrainingStatement], trace) -> list[SegmentInputs]:
    """Every segment's inputs, in order (``segment_inputs``)."""
    inputs, first = [], 0
    for st in statements:
        inputs.append(segment_inputs(st.circuit, trace, first))
        first += st.circuit.steps
    return inputs


def _padded_checkpoint(c: MlpCircuit, weights: list, biases: list, buffers: list | None = None):
    """Weights, biases and the optimizer's state (``_buffers``) padded to the circuit's
    power-of-two widths."""
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    w = [_pad(v, (dims[l], dims[l - 1])) for l, v in enumerate(weights, 1)]
    b = [_pad(v, (dims[l],)) for l, v in enumerate(biases, 1)]
    if buffers is None:
        return w, b, None
    if c.optimizer == "lamb":  # (M, V) pairs; a zero pair stands in for a missing bias's
        def pad(pair, shape):
            return tuple(_pad(None if pair is None else x, shape) for x in (pair or (None, None)))
        return w, b, [(pad(mw, (dims[l], dims[l - 1])), pad(mb, (dims[l],))) for l, (mw, mb) in enumerate(buffers, 1)]
    return w, b, [(_pad(vw, (dims[l], dims[l - 1])), _pad(vb, (dims[l],))) for l, (vw, vb) in enumerate(buffers, 1)]


def checkpoint_values(statement: TrainingStatement, inputs: SegmentInputs) -> dict[str, np.ndarray]:
    """The segment's end checkpoint (``checkpoint_tensors("T")``: W_T, b_T, the momentum
    buffers) padded, as its witness holds it: what ``commit_checkpoints`` commits."""
    c = statement.circuit
    w, b, bufs = _padded_checkpoint(c, inputs.end_weights, inputs.end_biases,
                                    inputs.end_buffers if c.has_state else None)
    values = {}
    if c.has_norm:
        for l, state in zip(c.norm_layers(), _padded_norms(c, inputs.end_norms)):
            values.update({f"bn{l}.{v}.T": x for v, x in zip(c.norm_state_values(), state, strict=True)})
    for l in range(1, c.layers + 1):
        values[f"W{l}.T"], values[f"b{l}.T"] = w[l - 1], b[l - 1]
        if c.optimizer == "lamb":
            (values[f"MW{l}.T"], values[f"VW{l}.T"]), (values[f"Mb{l}.T"], values[f"Vb{l}.T"]) = bufs[l - 1]
        elif bufs is not None:
            values[f"VW{l}.T"], values[f"Vb{l}.T"] = bufs[l - 1]
    return {name: values[name] for name in statement.checkpoint_tensors("T")}


def _segment_witness(recipe, c: MlpCircuit, inputs: SegmentInputs, dataset: dict | None = None) -> dict:
    """The witness of the segment whose circuit is ``c``: its steps' records, its padded steps
    (the end model on a zero batch with learning rate 0, so it stays at the checkpoint), the
    checkpoint it ends on, and committed data's tensors."""
    end_w, end_b = inputs.end_weights, inputs.end_biases
    state = (inputs.start_buffers, inputs.end_buffers) if c.has_state else None
    model = _PaddedSteps(recipe, end_w, end_b, None if state is None else state[1], norms=inputs.end_norms)
    zeros_x = np.zeros((c.batch, c.widths[0]), dtype=np.int64)
    zeros_y = np.zeros((c.batch, c.widths[-1]), dtype=np.int64)
    first = inputs.steps[0].step  # the run's index of the segment's first step (LAMB's t - 1)
    padded = [model.step(zeros_x, zeros_y, 0, first + t, np.zeros(c.batch, dtype=np.int64))
              for t in range(c.steps, c.padded_steps)]
    records, prev = [], None if state is None else state[0]
    for s in (*inputs.steps, *padded):
        records.append(step_record(c, s, prev))
        prev = [(m.buf, m.bias_buf) for m in s.momentum] if c.has_buffer else None
    final_w, final_b, _ = _padded_checkpoint(c, end_w, end_b)
    if state is not None:
        state = tuple(_padded_checkpoint(c, [], [], bufs)[2] for bufs in state)
    norms = None
    if c.has_norm:  # the start's state and the end's (gamma, beta[, their buffers])
        norms = (_padded_norms(c, inputs.start_norms), [n[:2] + n[4:] for n in _padded_norms(c, inputs.end_norms)])
    return stack_witness(c, records, final_w, final_b, dataset, state=state, first_step=first, norms=norms)


def blinding_rng(seed: int | None, *label):
    """The blinding randomness of one part of a proof: None, the OS RNG (production), unless a
    test passes ``seed``; then a generator seeded by it and the part's label (a segment's
    index, a checkpoint's), so the bytes do not depend on which process proves which segment
    (``zktrain.distributed``). DESIGN section 9: a seeded RNG exists only in tests."""
    if seed is None:
        return None
    return random.Random(":".join(map(str, ("zktrain-test-blinding", seed, *label))))


def commit_checkpoints(statements: list[TrainingStatement], ends: list[SegmentInputs], seed: int | None = None) -> list[dict]:
    """Commit every segment's end checkpoint (``checkpoint_values``) before any segment is
    proven: per segment, name (``W1.T``, ...) -> (commitment, opening witness). Segment k
    publishes entry k as its W_T and starts from entry k - 1 (``segment_precommitted``): the
    chain holds the very same commitments, blinds included, and the segments are independent."""
    out = []
    for st, inputs in zip(statements, ends, strict=True):
        rng = blinding_rng(seed, "checkpoint", st.segment)
        out.append({name: commit_tensor(st, name, values, rng) for name, values in checkpoint_values(st, inputs).items()})
    return out


def segment_precommitted(k: int, checkpoints: list[dict], shared: dict | None = None) -> dict:
    """Segment k's ``precommitted`` entries: the checkpoint it starts from (segment k - 1's end,
    named as its W_0, ...), the one it ends on, and the shared ones (committed data)."""
    start = {} if k == 0 else {name.replace(".T", ".0"): entry for name, entry in checkpoints[k - 1].items()}
    return {**start, **checkpoints[k], **(shared or {})}


@dataclass(frozen=True)
class SegmentProof:
    """One segment's proof, what the bundle takes (its public commitments and proof body),
    and how long it took: what a rank of ``zktrain.distributed`` sends back."""

    segment: int
    public: dict
    proof: bytes
    witness_seconds: float
    prove_seconds: float
    timings: dict[str, float]


def prove_segment(
    recipe,
    statement: TrainingStatement,
    backend: FieldBackend,
    inputs: SegmentInputs,
    zk: bool,
    precommitted: dict,
    progress: Callable[[str], None] | None = None,
    dataset: dict | None = None,
    seed: int | None = None,
) -> SegmentProof:
    """Prove one segment from its inputs, its checkpoints (start and end) and any committed data
    taken from ``precommitted`` (``segment_precommitted``). The witness is checked to hold the
    committed checkpoint values first, so a mismatch is named here, not found as a failed opening."""
    t0 = time.perf_counter()
    witness = _segment_witness(recipe, statement.circuit, inputs, dataset)
    for name in statement.checkpoint_tensors("T") + (statement.checkpoint_tensors("0") if statement.committed_init else []):
        committed = precommitted[name][1].matrix.reshape(-1)
        if not np.array_equal(witness[name].reshape(-1), committed):
            raise AssertionError(f"prover bug: segment {statement.segment}'s {name} differs from its committed checkpoint")
    witness_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    channel_type = ZkProverChannel if zk else ProverChannel
    channel = prove_with(channel_type, statement, witness, backend, precommitted=precommitted,
                         rng=blinding_rng(seed, "segment", statement.segment), progress=progress)
    return SegmentProof(statement.segment, channel.public, channel.proof_bytes(), witness_s,
                        time.perf_counter() - t0, dict(channel.timings))


def segment_line(st: TrainingStatement) -> str:
    """``segment k/n: steps a..b``, for progress lines."""
    first = st.first_step
    return f"segment {st.segment + 1}/{st.segments}: steps {first}..{first + st.circuit.steps - 1}"


def assemble(
    recipe,
    statements: list[TrainingStatement],
    proofs: list[SegmentProof],
    checkpoints: list[dict],
    zk: bool,
    data_commitment=None,
    commit_seconds: float = 0.0,
) -> TraceProof:
    """The bundle and the model artifact from every segment's proof (in any order) and the
    committed checkpoints; ``commit_seconds``, the checkpoints' commitment time, counts as
    proving (``commit``)."""
    by_index = {p.segment: p for p in proofs}
    if sorted(by_index) != list(range(len(statements))):
        raise ValueError(f"proofs of segments {sorted(by_index)} for {len(statements)} segments")
    ordered = [by_index[k] for k in range(len(statements))]
    bundle = encode_bundle(statements, [(p.public, p.proof) for p in ordered], zk=zk, dataset=data_commitment)
    timings = Counter({"commit": commit_seconds})
    for p in ordered:
        timings.update(p.timings)
    last = {name.replace(".T", ".0"): entry for name, entry in checkpoints[-1].items()}
    return TraceProof(
        bundle=bundle,
        model=model_artifact(recipe, zk, statements[-1], last),
        segments=len(statements),
        padded_steps=sum(st.circuit.padded_steps for st in statements),
        proof_bytes=sum(len(p.proof) for p in ordered),
        witness_seconds=sum(p.witness_seconds for p in ordered),
        prove_seconds=sum(p.prove_seconds for p in ordered) + commit_seconds,
        timings=dict(timings),
    )


def model_artifact(recipe, zk: bool, statement: TrainingStatement, checkpoint: dict) -> DisclosedModel:
    """The model file's content from the last segment's ``ProverChannel.checkpoint()`` (its
    W_T, b_T as committed, named as a next segment's W_0, b_0, with their Hyrax witnesses): the
    committed values, unpadded, and the row blinds that open the commitments."""
    c = statement.circuit
    tensors, blinds = {}, {}
    # The parameters and Ghost BN's state, not the optimizer's (``verifier.model``).
    for tensor in statement.parameter_tensors("T") + c.norm_state_tensors("T"):
        witness = checkpoint[tensor.replace(".T", ".0")][1]
        name = tensor.removesuffix(".T")
        layer = int(name[2:].split(".")[0]) if name.startswith("bn") else int(name[1:])
        dims = (layer, layer - 1) if name.startswith("W") else (layer,)
        padded = witness.matrix.reshape([1 << c.width_vars(i) for i in dims])
        real = tuple(slice(0, c.widths[i]) for i in dims)
        values = padded[real].copy()
        if np.count_nonzero(padded) != np.count_nonzero(values):
            raise AssertionError(f"prover bug: the committed {tensor} has nonzero padding")
        tensors[name], blinds[name] = values, list(witness.blinds)
    return DisclosedModel(recipe.digest(), MODES[zk], recipe.scales.weight, tensors, blinds,
                          2 * recipe.quant.frac_bits if c.has_norm else None)


def _bind_data(run: ProveRun, statements: list[TrainingStatement]) -> tuple[list[TrainingStatement], dict | None, dict]:
    """The statements with the run's data bound (``verifier.data``), committed data's witness
    tensors, and the data owner's commitment as the prover channels' ``precommitted`` entries
    (checked to open to this data set's rows, ``zktrain.data_commitment.precommitted``)."""
    recipe = run.recipe
    if recipe.data.binding == "private":
        return statements, None, {}
    data = encode_dataset(run.dataset, recipe)
    if recipe.data.binding == "public":
        return bind_public_data(statements, recipe, data.x_train, data.y_train), None, {}
    encoding = statements[0].circuit.dataset_encoding()
    tensors = dataset_tensors(encoding, data.x_train, data.y_train)
    return statements, tensors, precommitted(run.data_commitment, run.data_opening, tensors)


def train_trace(run: ProveRun):
    """Train in the fixed-point semantics: the trace and the trained model's (train, test) accuracy."""
    recipe = run.recipe
    data = encode_dataset(run.dataset, recipe)
    initial = None if run.initial is None else FixedPointMLP(recipe, *run.initial)
    trace = train(recipe, data.x_train, data.y_train, data.batches, model=initial)
    model = FixedPointMLP(recipe, list(trace.final_weights), list(trace.final_biases),
                          norms=None if trace.final_norms is None else list(trace.final_norms))
    train_acc = float(np.mean(model.predict(data.x_train) == data.labels_train))
    test_acc = float(np.mean(model.predict(data.x_test) == data.labels_test))
    return trace, (train_acc, test_acc)


def plan_segments(recipe, options: ProveOptions) -> tuple[list[TrainingStatement], FieldBackend]:
    """The statements of the run's segments (``prove.segment_steps``; default: one segment) and
    the prover backend, resolved before any training so that a bad option fails fast."""
    segment_steps = min(options.segment_steps or recipe.train.steps, recipe.train.steps)
    statements = segment_statements(recipe, options.range_check, segment_steps)
    try:
        return statements, get_backend(options.backend)
    except ValueError as err:
        raise ValueError(f"prove.backend: {err}") from None


def prove_trace(
    statements: list[TrainingStatement],
    backend: FieldBackend,
    trace: TrainingTrace,
    zk: bool,
    progress: Callable[[str], None] | None = None,
    dataset: dict | None = None,
    shared: dict | None = None,
    data_commitment=None,
    seed: int | None = None,
) -> TraceProof:
    """Prove ``trace`` (its recipe is the statements') segment by segment and encode the bundle:
    first every segment's end checkpoint is committed (``commit_checkpoints``), then each
    segment is proven from its start and end checkpoints (``prove_segment``), one segment's
    witness in memory at a time; ``zktrain.distributed`` runs the same steps across ranks.
    ``dataset``, ``shared`` and ``data_commitment`` are committed data's witness tensors,
    precommitted entries and commitment (``_bind_data``); a private run has none. ``seed``
    seeds the blinding (tests only; None: the OS RNG)."""
    say = progress or (lambda _msg: None)
    recipe = trace.recipe
    inputs = all_segment_inputs(statements, trace)
    t0 = time.perf_counter()
    checkpoints = commit_checkpoints(statements, inputs, seed)
    commit_s = time.perf_counter() - t0
    if len(statements) > 1:
        say(f"committed the {len(statements)} segments' checkpoints ({commit_s:.2f} s)")
    proofs = []
    for k, st in enumerate(statements):
        if len(statements) > 1:
            say(segment_line(st))
        proofs.append(prove_segment(recipe, st, backend, inputs[k], zk, segment_precommitted(k, checkpoints, shared),
                                    say, dataset, seed))
    return assemble(recipe, statements, proofs, checkpoints, zk, data_commitment, commit_s)


def prove_run(run: ProveRun, progress: Callable[[str], None] | None = None) -> tuple[bytes, ProveSummary]:
    """Train, prove segment by segment (each from the checkpoint the previous one committed
    to; one segment's witness in memory at a time) and encode; returns the bundle and a summary,
    whose ``model`` is the trained model with the opening of its final commitments."""
    say = progress or (lambda _msg: None)
    recipe = run.recipe
    statements, backend = plan_segments(recipe, run.options)

    t0 = time.perf_counter()
    trace, accuracy = train_trace(run)
    train_s = time.perf_counter() - t0
    say(f"trained {recipe.train.steps} steps in the fixed-point semantics ({train_s:.2f} s): "
        f"train accuracy {accuracy[0]:.3f}, test accuracy {accuracy[1]:.3f}")

    statements, dataset, shared = _bind_data(run, statements)
    proof = prove_trace(statements, backend, trace, run.options.zk, say, dataset, shared, run.data_commitment)
    return proof.bundle, proof.summary(recipe.train.steps, accuracy, train_s)
