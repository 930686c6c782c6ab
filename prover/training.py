"""Proving an MLP training run: the witness in the circuit's layout, and the prover channel.

The walk itself is ``verifier.training.TrainingWalk``; this module supplies what only the
prover has: the witness tensors (stacked over padded steps, with padded features), the Hyrax
commitments with their blinding, and a channel that computes and writes every message.
"""

from __future__ import annotations

import dataclasses
import time
from collections import ChainMap
from typing import Callable, Sequence

import numpy as np

from circuits import ghost_bn
from circuits.lars import buffer_terms, update_multiplier
from circuits.mlp import NORM_STATE, MlpCircuit, parameter_name, state_name
from prover.backends.base import FieldBackend
from prover import losses
from prover.commit import hyrax
from prover.commit.generators import prover_generators
from prover.gadgets import slot_values, to_field
from prover.ghost_bn_step import ghost_bn_step_witness
from prover.logup import derive_tables, multiplicities
from prover.phase import prove_phase
from prover.lamb_step import lamb_step_witness
from prover.trust import trust_witness
from verifier.claims import Claim
from verifier.encoding import encode_scalars
from verifier.field import MODULUS as R
from verifier.hyrax import HyraxCommitment, HyraxLayout
from verifier.logup import Challenges, LogupStatement
from verifier.normalization import GhostBnLayers
from verifier.optimizers import momentum_coefficients
from verifier.phase import Reduction
from verifier.training import DOMAIN, TrainingStatement, TrainingWalk, has_logup, logup_statement
from verifier.transcript import Transcript

Witness = dict[str, np.ndarray]


def rescale(z: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(floor((z + 2^(bits-1)) / 2^bits), remainder) on exact integers (DESIGN section 4)."""
    q = (z + (1 << (bits - 1))) // (1 << bits)
    return q, z - q * (1 << bits)


def _pad(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    out = np.zeros(shape, dtype=object)
    out[tuple(slice(0, n) for n in np.shape(a))] = np.asarray(a, dtype=object)
    return out


def _int64(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "i":  # the engine's records: already machine integers, no Python ints
        return a.astype(np.int64, copy=False)
    try:
        return np.asarray(a, dtype=object).astype(np.int64)
    except OverflowError:
        raise OverflowError(f"{what} exceeds int64") from None


Hook = Callable[[str, np.ndarray], np.ndarray]


def exact_step(c: MlpCircuit, w: list, b: list, x: np.ndarray, y: np.ndarray, lr: int, hook: Hook | None = None,
               bufs: list | None = None, coefficients: tuple[int, int] | None = None, real: bool = True,
               step: int = 0, norms: list | None = None):
    """One step of the exact semantics on padded object arrays (the relation the circuit
    proves, written plainly). Returns the step's tensors by witness name, W and b after it,
    the optimizer's state after it (``bufs``: per layer the momentum buffers of W and b,
    ``sgd_momentum`` only; None for plain SGD) and Ghost BN's (gamma, beta) per hidden layer
    after it, followed by the optimizer's state of them (``norm_update``) (``norms``, before
    it; None without norm: ``circuits.ghost_bn``'s train-mode
    forward and backward between each hidden Linear and its ReLU, docs/ghost_bn.md). ``coefficients`` (mu', lam') replaces the
    circuit's in the buffer's update: a deviating optimizer, for the soundness tests. A padded
    step (``real`` False) updates the state but not the weights (LARS's rate 1 is a real step's).
    ``step``: the run's index of this step (LAMB's bias corrections count from it); LAMB's
    ``bufs`` are its moments, per layer ((M_W, V_W), (M_b, V_b)).

    Every tensor passes through ``hook(name, value)`` as it is produced, and the step goes on
    with what the hook returns: the malicious-prover hook of the soundness tests.
    """
    S, L, R_ = c.rescale_bits, c.layers, c.frac_bits
    rec: dict[str, np.ndarray] = {}

    def emit(name: str, value: np.ndarray) -> np.ndarray:
        rec[name] = value if hook is None else hook(name, value)
        return rec[name]

    act = emit("IN1", x)
    y = emit("Y", y)
    forward = {}
    for l in range(1, L + 1):
        rec[f"W{l}"], rec[f"b{l}"] = w[l - 1], b[l - 1]
        zp, rem = rescale(act.dot(w[l - 1].T) + (b[l - 1] << R_), S)
        zp = emit(f"ZP{l}", zp)
        emit(f"REM{l}", rem)
        if l < L:
            if c.has_norm:  # the ReLU reads the Ghost BN's output Y
                gamma, beta = (emit(f"bn{l}.{v}", p) for v, p in zip(("Gamma", "beta"), norms[l - 1][:2]))
                forward[l] = ghost_bn.forward_train(c.ghost_bn(l).spec, zp, gamma, beta)
                zp = emit(f"NP{l}", np.asarray(forward[l].out, dtype=object))
            s = emit(f"S{l}", (zp <= 0).astype(object))
            act = emit(f"IN{l + 1}", (1 - s) * zp)
    gz = emit(f"GZ{L}", losses.output_gradient(c, rec[f"ZP{L}"], y, emit))  # the loss module's G_out
    backward = {}
    for l in range(L - 1, 0, -1):
        gp, remg = rescale(gz.dot(w[l]), S)
        gp = emit(f"GP{l}", gp)
        emit(f"REMG{l}", remg)
        gz = (1 - rec[f"S{l}"]) * gp
        if c.has_norm:  # G_Z is the Ghost BN's input gradient dx, from dy = the ReLU's
            dy = emit(f"DY{l}", gz)
            backward[l] = ghost_bn.backward(c.ghost_bn(l).spec, forward[l].xhat, forward[l].rstd, rec[f"bn{l}.Gamma"], dy)
            gz = np.asarray(backward[l].g_in, dtype=object)
        gz = emit(f"GZ{l}", gz)
    grads = [(rec[f"GZ{l}"].T.dot(rec[f"IN{l}"]), rec[f"GZ{l}"].sum(axis=0) << R_) for l in range(1, L + 1)]
    if c.has_norm:  # gamma and beta as a bias, by the run's optimizer
        norms = [norm_update(c, l, rec, backward[l], norms[l - 1][2:], lr, emit, coefficients, step, real)
                 for l in range(1, L)]
    if c.has_momentum:
        new_w, new_b, bufs = momentum_update(c, w, b, grads, bufs, lr, emit, coefficients)
        return rec, new_w, new_b, bufs, norms
    if c.optimizer == "lars":
        new_w, new_b, bufs = lars_update(c, w, b, grads, bufs, lr, emit, real)
        return rec, new_w, new_b, bufs, norms
    if c.optimizer == "lamb":
        new_w, new_b, bufs = lamb_update(c, w, b, grads, bufs, lr, emit, step)
        return rec, new_w, new_b, bufs, norms
    new_w = [w[l - 1] - lr * grads[l - 1][0] for l in range(1, L + 1)]
    if not c.bias:
        return rec, new_w, b, None, norms  # zero, and never updated
    return rec, new_w, [b[l - 1] - lr * grads[l - 1][1] for l in range(1, L + 1)], None, norms


def norm_update(c: MlpCircuit, l: int, rec: dict, backward, state: Sequence, lr: int, emit: Hook,
                coefficients: tuple[int, int] | None = None, step: int = 0, real: bool = True) -> tuple:
    """Ghost BN layer l's gamma and beta after the step, from the backward's dgamma, dbeta, and
    the optimizer's ``state`` of them (``MlpCircuit.norm_state_values()[4:]``) after it: (gamma -
    lr dgamma, beta - lr dbeta) under SGD, or a bias's update (``sgd_momentum``:
    ``momentum_buffer`` on the buffers; ``lars``: ``lars_tensor_step`` on them, its rate on real
    steps only; ``lamb``: ``lamb_tensor_step`` on the moments (M gamma,
    M beta, V gamma, V beta), the gradient emitted as ``bn{l}.GGamma``)."""
    out, after = [], []
    for i, (value, grad) in enumerate(zip(("Gamma", "beta"), (backward.g_gamma, backward.g_beta))):
        param, grad = rec[f"bn{l}.{value}"], np.asarray(grad, dtype=object)
        if c.has_momentum:
            buf = momentum_buffer(c, value, l, param, grad, state[i], emit, coefficients)
            out.append(param - lr * buf)
            after.append(buf)
        elif c.optimizer == "lars":
            new, buf = lars_tensor_step(c, value, l, param, grad, state[i], lr, emit, real)
            out.append(new)
            after.append(buf)
        elif c.optimizer == "lamb":
            grad = emit(state_name("G", value, l), grad)
            new, moments = lamb_tensor_step(c, value, l, param, grad, (state[i], state[2 + i]), lr, step)
            out.append(new)
            after.append(moments)
        else:
            out.append(param - lr * grad)
    if c.optimizer == "lamb":  # (M gamma, M beta, V gamma, V beta)
        after = [m for m, _ in after] + [v for _, v in after]
    return (*out, *after)


def momentum_buffer(c: MlpCircuit, kind: str, l: int, param, grad, prev, emit: Hook,
                    coefficients: tuple[int, int] | None = None):
    """One trained tensor's buffer of design (A) (``momentum_update``): emits its ``.prev``, the
    buffer and its remainder, and returns the buffer."""
    K = c.momentum_shift
    mu, lam = coefficients or momentum_coefficients(c)
    name = state_name("V", kind, l)
    prev = emit(f"{name}.prev", prev)
    buf, rem = rescale((1 << K) * grad + mu * prev + lam * param, K)
    buf = emit(name, buf)
    emit(state_name("RV", kind, l), rem)
    return buf


def momentum_update(c: MlpCircuit, w: list, b: list, grads: list, bufs: list, lr: int, emit: Hook,
                    coefficients: tuple[int, int] | None = None):
    """Design (A) of docs/momentum.md on padded object arrays, per layer and parameter P
    (``verifier/optimizers.py``): 2^K buf + r = mu' buf_prev + 2^K G + lam' P (buf rounded
    half up, r in [-2^(K-1), 2^(K-1))), P' = P - lr buf. Emits ``V*{l}.prev``, ``V*{l}`` and
    ``RV*{l}`` (* = W or b); returns W, b and the buffers after the step. ``coefficients``:
    (mu', lam') instead of the circuit's (``exact_step``)."""
    new_w, new_b, new_bufs = [], [], []
    for l in range(1, c.layers + 1):
        pair = []
        for kind, param, grad, prev, out in (("W", w[l - 1], grads[l - 1][0], bufs[l - 1][0], new_w),
                                             ("b", b[l - 1], grads[l - 1][1], bufs[l - 1][1], new_b)):
            if kind == "b" and not c.bias:
                out.append(param)
                pair.append(prev)
                continue
            buf = momentum_buffer(c, kind, l, param, grad, prev, emit, coefficients)
            out.append(param - lr * buf)
            pair.append(buf)
        new_bufs.append(tuple(pair))
    return new_w, new_b, new_bufs


def lars_update(c: MlpCircuit, w: list, b: list, grads: list, bufs: list, lr: int, emit: Hook, real: bool = True):
    """LARS (``circuits.lars``, docs/lars.md; ``verifier/optimizers.py``) on padded object arrays,
    per parameter tensor P with folded gradient G: the exact squared norms N, M, the trust
    ratio lambda_q (LARC: the clipped multiplier m_q, ``circuits.lars.update_multiplier``), 2^K v + r = mu' v_prev + a 2^(k+k_b) G + a b P (v rounded half up), P' = P - v.
    Emits ``V*{l}.prev``, ``V*{l}``, ``RV*{l}``, the stacked gradient ``G*{l}``, the norms
    ``NP*{l}``, ``NG*{l}`` and ``LAM*{l}`` (per step: 0-d); returns W, b and the buffers. A
    padded step (not ``real``) runs the recurrence (lr 0: v = mu' v_prev rounded) and leaves the
    weights (``verifier/optimizers.py``: rate 0 there)."""
    new = {"W": [], "b": []}
    new_bufs = []
    for l in range(1, c.layers + 1):
        pair = []
        for i, kind in enumerate(("W", "b")):
            param, grad, prev = (w, b)[i][l - 1], grads[l - 1][i], bufs[l - 1][i]
            if kind == "b" and not c.bias:
                new[kind].append(param)
                pair.append(prev)
                continue
            param, buf = lars_tensor_step(c, kind, l, param, grad, prev, lr, emit, real)
            new[kind].append(param)
            pair.append(buf)
        new_bufs.append(tuple(pair))
    return new["W"], new["b"], new_bufs


def lars_tensor_step(c: MlpCircuit, kind: str, l: int, param, grad, prev, lr: int, emit: Hook, real: bool = True):
    """One trained tensor's LARS step (``lars_update``): emits its buffer's ``.prev``, its folded
    gradient ``G*``, the squared norms ``NP*``, ``NG*``, the multiplier ``LAM*`` and the buffer
    with its remainder; returns the tensor and the buffer after the step."""
    spec, k = c.lars_spec(), c.lr_shift
    prev = emit(f"{state_name('V', kind, l)}.prev", prev)
    grad = emit(state_name("G", kind, l), np.asarray(grad, dtype=object))
    # The trust ratio of the norms as emitted (a soundness test's hook may replace them).
    n_p = int(emit(state_name("NP", kind, l), np.array(sum(int(v) * int(v) for v in np.asarray(param).reshape(-1)), dtype=object)))
    n_g = int(emit(state_name("NG", kind, l), np.array(sum(int(v) * int(v) for v in grad.reshape(-1)), dtype=object)))
    lam = int(emit(state_name("LAM", kind, l), np.array(update_multiplier(n_p, n_g, lr, spec, k), dtype=object)))
    K, mu, a, ab = buffer_terms(lam, lr, spec, k)
    buf, rem = rescale(mu * prev + (a << (k + spec.beta.shift)) * grad + ab * param, K)
    buf = emit(state_name("V", kind, l), buf)
    emit(state_name("RV", kind, l), rem)
    return (param - buf if real else param), buf


def lamb_update(c: MlpCircuit, w: list, b: list, grads: list, moments: list, lr: int, emit: Hook, step: int):
    """LAMB (``circuits.lamb``, docs/lamb.md; ``verifier/optimizers.py``) on padded object arrays,
    per parameter tensor P with folded gradient G (emitted as ``G*{l}``, the gadget's input):
    the step gadget's semantics for one step (``circuits.lamb_step.LambStep.witness_values``, t =
    ``step`` + 1), P' = P - dP. Returns W, b and the moments after the step. A padded step (lr 0)
    has dP = 0: the weights stay, the moments run on."""
    new = {"W": [], "b": []}
    out = []
    for l in range(1, c.layers + 1):
        pair = []
        for i, kind in enumerate(("W", "b")):
            param, grad, (m, v) = (w, b)[i][l - 1], grads[l - 1][i], moments[l - 1][i]
            if kind == "b" and not c.bias:
                new[kind].append(param)
                pair.append((m, v))
                continue
            grad = emit(f"G{kind}{l}", np.asarray(grad, dtype=object))
            param, after = lamb_tensor_step(c, kind, l, param, grad, (m, v), lr, step)
            new[kind].append(param)
            pair.append(after)
        out.append(tuple(pair))
    return new["W"], new["b"], out


def lamb_tensor_step(c: MlpCircuit, kind: str, l: int, param, grad, moments: tuple, lr: int, step: int):
    """One trained tensor's LAMB step, the step gadget's semantics for one step (t = ``step`` + 1):
    the tensor and its moments (M, V) after it."""
    m, v = moments
    one = dataclasses.replace(c.lamb_step(kind, l), step_vars=0, lr=(lr,), first_step=step + 1)
    vals = one.witness_values(np.asarray(param).reshape(-1), np.asarray(grad, dtype=object).reshape(1, -1),
                              np.asarray(m).reshape(-1), np.asarray(v).reshape(-1))
    shape = np.shape(param)
    new = np.asarray(vals[one.t("Pfinal")], dtype=object).reshape(shape)
    return new, tuple(np.asarray(vals[one.t(x)][0], dtype=object).reshape(shape) for x in ("M", "V"))


def lamb_tensors(c: MlpCircuit, wit: Witness, state: tuple, first_step: int, norms: tuple | None = None) -> Witness:
    """Every trained tensor's step gadget witness (``prover/lamb_step.py``) from the stacked
    tensor, its stacked folded gradient and the moments the segment starts from, with the weights'
    and biases' checkpoints M*{l}.0, V*{l}.0 and M*{l}.T, V*{l}.T (the moments after the last real
    step, which must be the gadget's there; gamma's and beta's, from ``norms`` as
    ``stack_witness`` takes them, are their layer's: ``norm_tensors``)."""
    start, end = state
    out: Witness = {}
    for kind, l in c.trained_tensors():
        gadget = c.lamb_step(kind, l, first_step + 1)
        stacked = wit[parameter_name(kind, l)].reshape(c.padded_steps, -1)
        grads = np.asarray(wit[state_name("G", kind, l)], dtype=object).reshape(c.padded_steps, -1)
        if kind in ("W", "b"):
            (m0, v0), (m_t, v_t) = start[l - 1]["Wb".index(kind)], end[l - 1]["Wb".index(kind)]
        else:  # the layer's state at the start and its updated part at the end (``stack_witness``)
            first = dict(zip(c.norm_state_values(), norms[0][l - 1], strict=True))
            last = dict(zip(("Gamma", "beta") + c.norm_state_values()[len(NORM_STATE):], norms[1][l - 1], strict=True))
            (m0, v0), (m_t, v_t) = ((x[f"M{kind}"], x[f"V{kind}"]) for x in (first, last))
        out.update(lamb_step_witness(gadget, stacked, grads, np.asarray(m0).reshape(-1), np.asarray(v0).reshape(-1)))
        for mom, first, last in (("M", m0, m_t), ("V", v0, v_t)):
            name = state_name(mom, kind, l)
            if list(out[gadget.t(mom)][c.steps - 1]) != [int(x) for x in np.asarray(last).reshape(-1)]:
                raise AssertionError(f"prover bug: LAMB's {name} after the last real step differs from the gadget's")
            if kind in ("W", "b"):
                out[f"{name}.0"] = _int64(np.asarray(first), f"{name}.0")
                out[f"{name}.T"] = _int64(np.asarray(last), f"{name}.T")
    return out


def mlp_witness(
    c: MlpCircuit,
    x: np.ndarray,
    y: np.ndarray,
    w0: Sequence[np.ndarray],
    b0: Sequence[np.ndarray],
    hook: Callable[[int], Hook | None] | None = None,
    dataset: Witness | None = None,
    counts: Callable = multiplicities,
    buf0: Sequence | None = None,
    coefficients: tuple[int, int] | None = None,
    first_step: int = 0,
    norm0: Sequence | None = None,
) -> Witness:
    """Run the padded steps and lay every tensor out as the circuit expects.

    ``x`` [T, B, d_0] and ``y`` [T, B, d_L] are the consumed batches at scale 2^R; ``w0``,
    ``b0`` the initial master weights and biases, ``buf0`` the momentum buffers the segment
    starts from (``sgd_momentum``: per layer the pair for W and b; default zero, a run's start).
    Padded steps see zero data and learning rate 0, padded features start at zero: the honest
    padded witness follows from the relations (the momentum recurrence runs on through them).
    ``hook(step)`` may return a per-step tensor hook (see ``exact_step``) for soundness tests;
    ``dataset`` is committed data's, ``counts`` the multiplicities' (``stack_witness``);
    ``coefficients`` a deviating momentum update's (``exact_step``). ``first_step``: the run's
    step this segment starts at (LAMB's bias corrections; its ``buf0`` are the moments).
    ``norm0``: Ghost BN's (gamma, beta, running mean, running variance) per hidden layer the
    segment starts from (default torch's initial state, ``verifier.normalization``).
    """
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]
    tp, bsz = c.padded_steps, c.batch
    xs = _pad(x, (tp, bsz, dims[0]))
    ys = _pad(y, (tp, bsz, dims[-1]))
    w = [_pad(w0[l], (dims[l + 1], dims[l])) for l in range(c.layers)]
    b = [_pad(np.zeros(dims[l + 1], dtype=np.int64) if b0[l] is None else b0[l], (dims[l + 1],)) for l in range(c.layers)]
    bufs = None
    if c.has_buffer:
        given = buf0 or [(None, None)] * c.layers
        bufs = [tuple(_pad(np.zeros((0,) * like.ndim, dtype=np.int64) if v is None else v, like.shape)
                      for v, like in zip(given[l], (w[l], b[l]))) for l in range(c.layers)]
    if c.optimizer == "lamb":
        given = buf0 or [((None, None), (None, None))] * c.layers
        bufs = [tuple(tuple(_pad(np.zeros((0,) * like.ndim, dtype=np.int64) if v is None else v, like.shape)
                            for v in pair) for pair, like in zip(given[l], (w[l], b[l]))) for l in range(c.layers)]
    norm_start = norms = None
    if c.has_norm:
        norm_start = [tuple(_pad(v, (dims[l],)) for v in (norm0[l - 1] if norm0 else
                            [GhostBnLayers.seeded(c, l, v) for v in c.norm_state_values()])) for l in c.norm_layers()]
        norms = [state[:2] + state[4:] for state in norm_start]  # what the steps update
    start, steps, ends, norm_ends = bufs, [], [], []
    for t, lr in enumerate(c.lr_padded()):
        rec, w, b, bufs, norms = exact_step(c, w, b, xs[t], ys[t], lr, None if hook is None else hook(t), bufs,
                                            coefficients, real=t < c.steps, step=first_step + t, norms=norms)
        steps.append(rec)
        ends.append(bufs)
        norm_ends.append(norms)
    state = None if bufs is None else (start, ends[c.steps - 1])
    norm_state = None if norms is None else (norm_start, norm_ends[c.steps - 1])
    return stack_witness(c, steps, w, b, dataset, counts, state, first_step, norm_state)


def stack_witness(
    c: MlpCircuit, steps: Sequence[dict], final_w: Sequence, final_b: Sequence, dataset: Witness | None = None,
    counts: Callable = multiplicities, state: tuple | None = None, first_step: int = 0, norms: tuple | None = None,
) -> Witness:
    """Stack per-step records (padded arrays named as ``exact_step`` names them, one per
    padded step) into the circuit's witness, with every range-checked value decomposed into
    its slots (and the logUp multiplicities: of the limbs, and of the loss's function lookups,
    by ``counts``, which a soundness test replaces with a cheater's count). Committed data brings
    the data set's tensors (``zktrain.data_commitment.dataset_tensors``) as ``dataset``. The
    labels stay as ``Y`` too: the cross-entropy's label checks read them (``verifier/losses.py``).
    ``state`` is ``sgd_momentum``'s: the buffers the segment starts from and those after its
    last real step (per layer the pair for W and b, padded), its checkpoints; LAMB's, the moments
    (per layer the pairs (M, V)), with ``first_step`` the run's step the segment starts at.
    ``norms`` is Ghost BN's: per hidden layer the state the segment starts from
    (``MlpCircuit.norm_state_values``) and the (gamma, beta), with ``sgd_momentum`` (gamma, beta,
    buf of gamma, buf of beta), after its last real step, padded."""
    if len(steps) != c.padded_steps:
        raise ValueError(f"{len(steps)} step records for {c.padded_steps} padded steps")
    wide = wide_records(c)  # Python ints by design: gradients and their squared norms
    wit: Witness = {name: np.stack([s[name] for s in steps]) if name in wide else _int64(np.stack([s[name] for s in steps]), name)
                    for name in steps[0]}
    for l in range(1, c.layers + 1):
        wit[c.ranged(f"Z{l}")] = c.z_slots(l).decompose(wit[f"ZP{l}"], f"Z'{l}")
        wit[c.ranged(f"R{l}")] = c.rem_slots().decompose(wit.pop(f"REM{l}"), f"Rem{l}")
        wit[f"W{l}.T"] = _int64(final_w[l - 1], f"W{l}.T")
        wit[f"b{l}.T"] = _int64(final_b[l - 1], f"b{l}.T")
        wit[f"W{l}.0"], wit[f"b{l}.0"] = wit[f"W{l}"][0], wit[f"b{l}"][0]  # a committed W_0 (views)
        if l < c.layers:
            wit[c.ranged(f"G{l}")] = c.g_slots().decompose(wit[f"GP{l}"], f"G'{l}")
            wit[c.ranged(f"RG{l}")] = c.rem_slots().decompose(wit.pop(f"REMG{l}"), f"RemG{l}")
    if c.init_committed:  # W_0, b_0 of init: committed, as range slots (padded entries zero)
        for l in range(1, c.layers + 1):
            wit[c.ranged(f"W{l}.0")] = c.w0_slots().decompose(wit[f"W{l}.0"], f"W_0,{l}")
            if c.bias:
                wit[c.ranged(f"b{l}.0")] = c.w0_slots().decompose(wit[f"b{l}.0"], f"b_0,{l}")
    if c.data_binding == "private":  # the prover commits the batches as consumed, padding included
        x, y = c.data_tensors()
        wit[x] = c.x_slots().decompose(wit["IN1"], "input")
        wit[y] = c.y_slots().decompose(wit["Y"], "label")
    elif c.data_binding == "committed":  # the stream stays virtual, selected from the data set
        if dataset is None:
            raise ValueError("committed data: the witness needs the data set's tensors")
        wit.update(dataset)
    wit.update(losses.slots(c, wit))
    if c.has_buffer:
        wit.update(buffer_slots(c, wit, state))
    if c.optimizer == "lars":
        wit.update(lars_tensors(c, wit))
    if c.optimizer == "lamb":
        wit.update(lamb_tensors(c, wit, state, first_step, norms))
    if c.has_norm:
        wit.update(norm_tensors(c, wit, norms))
    if has_logup(c):
        wit.update(counts(logup_statement(c), wit))
    return wit


def norm_tensors(c: MlpCircuit, wit: Witness, norms: tuple) -> Witness:
    """Each Ghost BN layer's gadget tensors (``prover/ghost_bn_step.py``) from the stacked Z',
    dy, gamma and beta and the starting statistics, which must give the steps' own Y and dx;
    the ReLU's slots of Y, and the checkpoints bn{l}.*.0 and bn{l}.*.T (the running statistics
    read off the gadget's states at the last real step's last ghost batch)."""
    starts, ends = norms
    out: Witness = {}
    updated = ("Gamma", "beta") + c.norm_state_values()[len(NORM_STATE):]
    for l, start, end in zip(c.norm_layers(), starts, ends, strict=True):
        g = c.ghost_bn(l)
        gw = ghost_bn_step_witness(g, wit[f"ZP{l}"], wit.pop(f"DY{l}"), wit.pop(g.t("Gamma")), wit.pop(g.t("beta")),
                                   start[2], start[3])
        y = wit.pop(f"NP{l}")
        check_norm_outputs(g, gw, y, wit[f"GZ{l}"])
        out.update(gw)
        out[c.ranged(f"N{l}")] = c.relu_slots().decompose(y, f"Y{l}")
        last = g.spec.ghosts * c.steps - 1
        finals = dict(zip(updated, end, strict=True)) | {"RM": gw[g.t("RM")][last], "RV": gw[g.t("RV")][last]}
        for value, first in zip(c.norm_state_values(), start, strict=True):
            out[f"bn{l}.{value}.0"] = _int64(first, f"bn{l}.{value}.0")
            out[f"bn{l}.{value}.T"] = _int64(finals[value], f"bn{l}.{value}.T")
    return out


def check_norm_outputs(g, gadget: Witness, y: np.ndarray, dx: np.ndarray) -> None:
    """The gadget's Y and dx are the step's ReLU input and G_Z: an AssertionError otherwise (a
    prover bug; the soundness tests' cheating provers skip it)."""
    for mine, theirs in ((y, g.t("Y")), (dx, g.t("dx"))):
        if not (np.asarray(gadget[theirs], dtype=object) == np.asarray(mine, dtype=object)).all():
            raise AssertionError(f"prover bug: the Ghost BN gadget's {theirs} is not the step's")


def buffer_slots(c: MlpCircuit, wit: Witness, state: tuple) -> Witness:
    """The optimizer's buffer tensors (momentum's or LARS's, ``verifier/optimizers.py``) per
    trained tensor: the buffers' and remainders' slots, the stacked buffers flattened to
    [T', params] (the sumchecks bind their parameter axes at once), and the weights' and biases'
    checkpoints V*{l}.0 and V*{l}.T (gamma's and beta's are their layer's, ``norm_tensors``)."""
    start, end = state
    out: Witness = {}
    for kind, l in c.trained_tensors():
        name, rem = state_name("V", kind, l), state_name("RV", kind, l)
        out[c.ranged(name)] = c.buf_slots().decompose(wit[name], f"{c.optimizer} buffer {kind}{l}")
        out[c.ranged(rem)] = c.buf_rem_slots().decompose(wit.pop(rem), f"{c.optimizer} buffer remainder {kind}{l}")
        for key in (name, f"{name}.prev"):
            out[key] = wit[key].reshape(c.padded_steps, -1)
        if (kind, l) in c.parameter_tensors():
            i = "Wb".index(kind)
            out[f"{name}.0"] = _int64(start[l - 1][i], f"{name}.0")
            out[f"{name}.T"] = _int64(end[l - 1][i], f"{name}.T")
    return out


def wide_records(c: MlpCircuit) -> set[str]:
    """The records kept as Python ints: the folded gradients (LARS's and LAMB's) and LARS's norms."""
    if c.optimizer == "lamb":
        return {state_name("G", kind, l) for kind, l in c.trained_tensors()}
    if c.optimizer != "lars":
        return set()
    return {state_name(x, kind, l) for x in ("G", "NP", "NG") for kind, l in c.trained_tensors()}


def lars_tensors(c: MlpCircuit, wit: Witness) -> Witness:
    """The trust-ratio gadget's tensors (``prover/trust.py``) from the per-step squared norms,
    laid out [T', groups] (groups low); its lambda_q must be the update's, entry by entry."""
    trust = c.trust()
    params = c.trained_tensors()
    shape = (c.padded_steps, 1 << trust.group_vars)
    norms = {src: np.zeros(shape, dtype=object) for src in ("P", "G")}
    for g, (kind, l) in enumerate(params):
        for src in ("P", "G"):
            norms[src][:, g] = wit[state_name(f"N{src}", kind, l)]
    out = trust_witness(trust, norms["P"], norms["G"])
    check_lars_multipliers(c, np.asarray(out[trust.lam]).reshape(shape), wit)
    for kind, l in (t for t in params if t[0] in NORM_STATE):  # BN's M: lambda repeated over the features
        lam = state_name("LAM", kind, l)
        out[f"{lam}^c"] = np.repeat(np.asarray(wit[lam], dtype=object).reshape(-1, 1), 1 << c.width_vars(l), axis=1)
    return out


def check_lars_multipliers(c: MlpCircuit, lam: np.ndarray, wit: Witness) -> None:
    """The trust-ratio gadget's lambda_q [T', groups] are the update's, tensor by tensor: an
    AssertionError otherwise (a prover bug; the soundness tests' cheating provers skip it)."""
    for g, (kind, l) in enumerate(c.trained_tensors()):
        if any(int(x) != int(y) for x, y in zip(lam[:, g], wit[state_name("LAM", kind, l)])):
            raise AssertionError(f"prover bug: the trust-ratio gadget's lambda_q differs from the update's ({kind}{l})")


def commit_width(values: np.ndarray) -> int:
    """Signed bits the offset trick needs for these values (at least 2 for {0, 1})."""
    v = np.asarray(values, dtype=np.int64)
    top = max(int(v.max()), -int(v.min()) - 1, 1) if v.size else 1
    return top.bit_length() + 1


def commit_tensor(statement: TrainingStatement, tensor: str, values: np.ndarray, rng=None):
    """Hyrax-commit one of the statement's committed tensors: (commitment, opening witness)."""
    layout = HyraxLayout.square(statement.tensor_vars(tensor))
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    return hyrax.commit(prover_generators(), flat, layout, commit_width(flat), rng)


class ProverChannel:
    """Computes and writes every message the walk asks for (clear mode), for the training walk
    or the inference walk (``verifier.inference``, ``prover.inference``).

    ``statement`` may be None for a walk that commits and opens nothing (the range gadget's
    own tests run ``verifier.logup.LogupWalk`` over this channel).
    """

    mode = b"clear"

    def __init__(
        self,
        statement: TrainingStatement,
        witness: Witness,
        backend: FieldBackend,
        precommitted: dict | None = None,
        rng=None,
        progress: Callable[[str], None] | None = None,
    ):
        self.st = statement
        self.witness = witness
        self.backend = backend
        self.gens = prover_generators()
        self.rng = rng
        # Commitments published before the proof (the data, an earlier run's weights):
        # name -> (HyraxCommitment, HyraxWitness). They are reused, never recomputed.
        self._precommitted = dict(precommitted or {})
        self._say = progress or (lambda _msg: None)
        self.timings = {"commit": 0.0, "sumcheck": 0.0, "logup": 0.0, "open": 0.0, "messages": 0.0}
        # Tables that exist only once challenges are drawn (the logUp trees' layers), each
        # read by one phase and dropped after it.
        self.derived: dict = {}
        self._committed = 0
        self._gkr_unreported = 0.0
        # The statement's transcript domain (training or inference); the training proof's for
        # a walk that commits nothing.
        self.transcript = Transcript(DOMAIN if statement is None else statement.domain)
        self.public: dict[str, HyraxCommitment] = {}
        self._chunks: list[bytes] = []
        self._hyrax: dict[str, hyrax.HyraxWitness] = {}

    def proof_bytes(self) -> bytes:
        return b"".join(self._chunks)

    def checkpoint(self) -> dict:
        """The committed W_T, b_T with their openings, named as the next segment's committed
        W_0, b_0 (its ``precommitted``): the chain reuses the very commitments, blinds included."""
        return {
            name.replace(".T", ".0"): (self.public[name], self._hyrax[name])
            for name in self.st.checkpoint_tensors("T")
        }

    def commitment(self, tensor: str) -> None:
        start = time.perf_counter()
        self._committed += 1
        if tensor in self._precommitted:
            commitment, hw = self._precommitted[tensor]
        else:
            commitment, hw = commit_tensor(self.st, tensor, self.witness[tensor], self.rng)
        self._hyrax[tensor] = hw
        if tensor in self.st.public_tensors():
            self.public[tensor] = commitment
        else:
            self._chunks.append(commitment.to_bytes())
        self.transcript.absorb_points(f"commitment:{tensor}".encode(), commitment.rows)
        self.timings["commit"] += time.perf_counter() - start

    def evaluation(self, tensor: str, point: Sequence[int]) -> int:
        value = self.backend.mle_evaluate(to_field(self.backend, self.witness[tensor]), list(point))
        self._chunks.append(encode_scalars([value]))
        self.transcript.absorb_scalar(f"evaluation:{tensor}".encode(), value)
        return value

    def slices(self, tensor, decomposition, point) -> list[int]:
        start = time.perf_counter()
        values = slot_values(self.backend, self.witness[tensor], decomposition, point)
        self._chunks.append(encode_scalars(values))
        self.transcript.absorb_scalars(b"slot-values", values)
        self.timings["messages"] += time.perf_counter() - start
        return values

    def fractions(self, statement: LogupStatement, challenges: Challenges):
        start = time.perf_counter()
        self.derived.update(derive_tables(self.backend, statement, challenges, self.witness))
        self.timings["logup"] += time.perf_counter() - start
        (q_top,) = self.values(b"logup-top-q", ["logup.top.q"])
        return q_top

    def values(self, label: bytes, keys: Sequence[str]):
        values = [self.derived[k] % R for k in keys]
        self._chunks.append(encode_scalars(values))
        self.transcript.absorb_scalars(label, values)
        return values

    def equal(self, a: int, b: int) -> bool:
        return (a - b) % R == 0

    def phase(self, label: bytes, reductions: Sequence[Reduction]) -> list[Claim]:
        if self._committed:
            self._say(f"committed {self._committed} tensors ({self.timings['commit']:.2f} s)")
            self._committed = 0
        if not any(red.shapes for red in reductions):
            return []
        start = time.perf_counter()
        proof, claims = self._prove_phase(label, reductions)
        self._chunks.append(proof.to_bytes())
        elapsed = time.perf_counter() - start
        gkr = [table.args for red in reductions for tables in red.tables for table in tables if table.kind == "gkr"]
        for key, layer, _ in gkr:
            self.derived.pop(("gkr", key, layer), None)
        if gkr:  # a GKR step of the limb gadget: many small phases, reported once in all
            self.timings["logup"] += elapsed
            self._gkr_unreported += elapsed
            return claims
        if self._gkr_unreported:
            self._say(f"logup-gkr: range checks of every limb ({self.timings['logup']:.2f} s)")
            self._gkr_unreported = 0.0
        self.timings["sumcheck"] += elapsed
        instances = sum(len(r.shapes) for r in reductions)
        self._say(f"{label.decode()}: batched {self.sumcheck_kind} of {instances} instances ({elapsed:.2f} s)")
        return claims

    sumcheck_kind = "sumcheck"

    def _tables(self):
        """What the phases' tables are materialized from: the witness and the derived tables."""
        return ChainMap(self.derived, self.witness)

    def _prove_phase(self, label: bytes, reductions: Sequence[Reduction]):
        return prove_phase(self.transcript, label, self.backend, reductions, self._tables())

    def open(self, tensor: str, point: Sequence[int], value) -> None:
        start = time.perf_counter()
        self._chunks.append(self._open(tensor, point, value).to_bytes())
        self.timings["open"] += time.perf_counter() - start

    def _open(self, tensor: str, point: Sequence[int], value: int):
        opened, opening = hyrax.open_clear(self._hyrax[tensor], point, self.transcript)
        if opened != value:
            raise AssertionError(f"prover bug: opening of {tensor} disagrees with its claim")
        return opening


def prove_with(
    channel_type: type[ProverChannel],
    statement: TrainingStatement,
    witness: Witness,
    backend: FieldBackend,
    precommitted=None,
    rng=None,
    progress: Callable[[str], None] | None = None,
) -> ProverChannel:
    """Run the walk over a prover channel of the wanted mode; the channel holds the public
    commitments (data, final weights), the proof bytes and the checkpoint for a next segment."""
    channel = channel_type(statement, witness, backend, precommitted, rng, progress)
    TrainingWalk(statement, channel).run()
    if progress:
        progress(f"opened {len(statement.committed_tensors())} commitments ({channel.timings['open']:.2f} s)")
    return channel


def prove_training(
    statement: TrainingStatement,
    witness: Witness,
    backend: FieldBackend,
    precommitted=None,
    rng=None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, HyraxCommitment], bytes]:
    """A clear-mode proof of training: the public commitments and the proof bytes."""
    channel = prove_with(ProverChannel, statement, witness, backend, precommitted, rng, progress)
    return channel.public, channel.proof_bytes()
