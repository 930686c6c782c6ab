"""Ghost BN's gamma and beta trained by SGD with momentum and weight decay (issue 17, "affine
gamma/beta trained by the run's optimizer"; docs/ghost_bn.md section 4.1, docs/momentum.md):
the engine against torch, the proof in both modes, and the attacks on gamma's and beta's
buffers, each rejected by the check it names.

gamma and beta are trained as a bias is (``MlpCircuit.trained_tensors``): a buffer per tensor,
rounded every step by design (A), 2^K buf_t + r_t = mu' buf_{t-1} + 2^K dgamma_t + lam' gamma_t,
gamma_{t+1} = gamma_t - lr_t buf_t, with dgamma = sum_b dy X (dbeta = 2^R sum_b dy) the Hadamard
gradient functional of ``verifier/normalization.py``. Their buffers' checkpoints travel with the
layer's state (``bn{l}.VGamma.T``, ``bn{l}.Vbeta.T``).

The proven run is tests/test_ghost_bn_proof.py's tiny MLP (4 -> 8(BN) -> 3, batch 4, ghost
batch 2, 3 steps padded to 4) under tests/test_momentum_proof.py's mu ~ 0.9 and decay.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

import circuits.ghost_bn as semantics
import prover.training as pt
from circuits.momentum import Dyadic
from prover.training import mlp_witness, rescale
from verifier.optimizers import momentum_coefficients
from verifier.training import TrainingStatement, TrainingWalk
from test_ghost_bn_proof import RECIPE
from test_ghost_bn_proof import _circuit as _bn_circuit
from test_ghost_bn_training import bn_recipe, encoded
from test_lars_proof import _data
from test_momentum_proof import (
    LAM,
    MU,
    MODES,
    _RecklessWalk,
    _cheat,
    _phase_1_fails,
    _prove,
    _rejected,
    proven_first_segment,
    proven_run,
    stale,
    transcript_labels,
)
from zktrain.data import load_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, train
from zktrain.fixedpoint.momentum import RoundedState, rounded_step
from zktrain.fixedpoint.reference import compare, norms, train_float

MOMENTUM_TRAIN = dict(optimizer="sgd_momentum", momentum=Dyadic(29491, 15), weight_decay=Dyadic(1, 20), buf_bits=48)


def _circuit(gadget: str = "limbs", **changes):
    return _bn_circuit(gadget, optimizer="sgd_momentum", momentum=MU, weight_decay=LAM, **changes)


# --- the engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_dataset({"source": "digits"})


@pytest.fixture(scope="module")
def engine_run(digits):
    recipe = bn_recipe(steps=3, **MOMENTUM_TRAIN)
    data = encoded(digits, recipe)
    return recipe, data, train(recipe, data.x_train, data.y_train, data.batches)


def test_trace_buffers_are_design_a_step_by_step(engine_run):
    """Each step's NormTrace holds gamma's and beta's buffers before and after the step and the
    remainder: buf_t is ``rounded_step`` of buf_{t-1} on the kernel's dgamma (dbeta), and gamma
    (beta) moves by -lr buf_t, exactly; the final state carries the last buffers."""
    recipe, data, trace = engine_run
    spec = FixedPointMLP.seeded(recipe).norm
    mom, q = FixedPointMLP.seeded(recipe).momentum, recipe.quant
    for t, step in enumerate(trace.steps):
        for layer in step.layers[:-1]:
            n = layer.norm
            y = semantics.forward_train(spec, layer.z, n.gamma, n.beta)
            bw = semantics.backward(spec, y.xhat, y.rstd, n.gamma, n.dy)
            assert np.array_equal(n.gamma_grad, bw.g_gamma.astype(np.int64)) and np.array_equal(n.beta_grad, bw.g_beta.astype(np.int64))
            for param, grad, prev, buf, rem in ((n.gamma, bw.g_gamma, n.state[0], n.gamma_buf, n.gamma_buf_rem),
                                                (n.beta, bw.g_beta, n.state[1], n.beta_buf, n.beta_buf_rem)):
                state, r = rounded_step(RoundedState(param, prev, t), np.asarray(grad, dtype=np.int64), step.lr_num, mom,
                                        q.lr_shift, q.weight_bits, recipe.train.buf_bits)
                assert np.array_equal(state.buf, buf) and np.array_equal(r, rem)
            if t:
                before = trace.steps[t - 1].layers[layer.layer - 1].norm
                assert np.array_equal(n.state[0], before.gamma_buf) and np.array_equal(n.state[1], before.beta_buf)
                assert np.array_equal(n.gamma, before.gamma - trace.steps[t - 1].lr_num * before.gamma_buf)
            else:
                assert not n.state[0].any() and not n.state[1].any()
    last = trace.steps[-1].layers[0].norm
    final = trace.final_norms[0]
    assert len(final) == 6 and np.array_equal(final[4], last.gamma_buf) and np.array_equal(final[5], last.beta_buf)
    assert np.array_equal(final[0], last.gamma - trace.steps[-1].lr_num * last.gamma_buf)


def test_resume_from_a_checkpoint_with_buffers_is_identical(engine_run):
    """Steps 0-1, then step 2 from the checkpoint (weights, W's buffers and the layers' state with
    gamma's and beta's buffers) give the one-run trace; a state of four (no buffers) starts
    the buffers at zero, and a wrong count is refused by name."""
    recipe, data, trace = engine_run
    first = FixedPointMLP.seeded(recipe)
    for t in range(2):
        first.step(data.x_train[data.batches[t]], data.y_train[data.batches[t]], recipe.train.lr_num[t], t, data.batches[t])
    resumed = FixedPointMLP(recipe, first.weights, first.biases, first.state(), norms=first.norm_state())
    resumed.step(data.x_train[data.batches[2]], data.y_train[data.batches[2]], recipe.train.lr_num[2], 2, data.batches[2])
    for a, b in zip(resumed.norm_state(), trace.final_norms):
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
    fresh = FixedPointMLP(recipe, first.weights, first.biases, norms=[s[:4] for s in first.norm_state()])
    assert all(not s[4].any() and not s[5].any() for s in fresh.norm_state())
    with pytest.raises(ValueError, match=r"norms of layer 1: expected \(gamma, beta, running_mean, running_var, "
                                         r"VGamma, Vbeta\)"):
        FixedPointMLP(recipe, first.weights, first.biases, norms=[s[:5] for s in first.norm_state()])


def test_fixed_point_follows_float64_with_momentum(digits, single_threaded):
    """30 steps of digits 64-128(BN)-128(BN)-10 under SGD(momentum ~0.9, weight decay 2^-20 folded),
    against ``torch.optim.SGD`` over every parameter, gamma and beta included: weights within 0.5%,
    gamma within 0.1%, eval-mode test accuracy within two points (measured 2026-12-07: largest
    relative weight distance 1.2e-4, 94.15% on both sides)."""
    recipe = bn_recipe(steps=30, lr=0.05, **MOMENTUM_TRAIN)
    data = encoded(digits, recipe)
    result = compare(recipe, data)
    assert result.fixed_accuracy > 0.8 and abs(result.fixed_accuracy - result.float_accuracy) <= 0.02
    assert max(result.distances) < 5e-3
    w0 = FixedPointMLP.seeded(recipe)
    model = train_float(recipe, data.x_train, data.y_train, data.batches, w0.weights, w0.biases).model
    scale = 2.0 ** recipe.scales.weight
    for bn, state in zip(norms(model, recipe), result.trace.final_norms):
        reference = bn.weight.detach().numpy()
        assert np.linalg.norm(state[0] / scale - reference) / np.linalg.norm(reference) < 1e-3


# --- the proof ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module", params=list(MODES))
def run(request, data):
    return proven_run(request.param, data, _circuit(), RECIPE)


def _witness(run, **kwargs):
    return mlp_witness(run["c"], run["x"], run["y"], run["w0"], run["b0"], **kwargs)


def test_honest_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_witness_is_momentum_on_gamma_and_beta(run):
    """The witness's stacked gamma (beta) moves by -lr buf_t with buf_t design (A)'s rounding of
    mu' buf_{t-1} + 2^K dgamma_t + lam' gamma_t on the kernel's dgamma; the checkpoint
    ``bn1.VGamma.T`` is the buffer after the last real step."""
    c, wit = run["c"], run["witness"]
    spec, K = c.ghost_bn(1).spec, c.momentum_shift
    mu, lam = momentum_coefficients(c)
    gamma, beta = (np.asarray(wit[f"bn1.{v}"], dtype=object) for v in ("Gamma", "beta"))
    bufs = [np.zeros(8, dtype=object), np.zeros(8, dtype=object)]
    for t in range(c.steps):
        fw = semantics.forward_train(spec, np.asarray(wit["ZP1"][t], dtype=object), gamma[t], beta[t])
        bw = semantics.backward(spec, fw.xhat, fw.rstd, gamma[t], np.asarray(wit["bn1.dy"][t], dtype=object))
        for i, (param, grad) in enumerate(((gamma, bw.g_gamma), (beta, bw.g_beta))):
            bufs[i], _ = rescale((1 << K) * np.asarray(grad, dtype=object) + mu * bufs[i] + lam * param[t], K)
            assert (param[t + 1] == param[t] - c.lr[t] * bufs[i]).all()
            name = ("bn1.VGamma", "bn1.Vbeta")[i]
            assert (np.asarray(wit[name][t], dtype=object) == bufs[i]).all()
    assert (np.asarray(wit["bn1.VGamma.T"], dtype=object) == bufs[0]).all()
    assert (np.asarray(wit["bn1.Vbeta.T"], dtype=object) == bufs[1]).all()


def test_bits_gadget_proves_it(data):
    """The same walk over the bit gadget, clear mode, no bias."""
    from prover.backends import get_backend
    from prover.training import ProverChannel
    from verifier.training import verify_training

    c = _circuit("bits", bias=False)
    st = TrainingStatement(c, RECIPE, data["w0"], [None, None])
    channel = ProverChannel(st, mlp_witness(c, data["x"], data["y"], data["w0"], [None, None]),
                            get_backend("reference"), None, random.Random(2))
    TrainingWalk(st, channel).run()
    verify_training(st, channel.public, channel.proof_bytes())


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_run_file_in_segments_verifies(zk):
    """``zktrain prove`` on the tiny run with Ghost BN under SGD(momentum 0.9, weight decay 1e-4),
    in two segments chained by the committed state (the buffers of W, b, gamma and beta): the
    engine's records are the witness, and the bundle verifies against its model file."""
    from tiny_run import tiny_run
    from verifier.bundle import verify_bundle
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    cfg = tiny_run({"zk": zk, "segment_steps": 2})
    cfg["model"]["norm"] = {"name": "ghost_batchnorm", "virtual_batch_size": 4}
    cfg["train"].update(momentum=0.9, weight_decay=1e-4)
    run = parse_run(cfg)
    assert run.recipe.train.optimizer == "sgd_momentum"
    bundle, summary = prove_run(run)
    assert summary.segments == 2
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason


def test_recorder_proves_ghost_bn_with_momentum(tmp_path):
    """``zktrain.Recorder`` over a torch model with GhostBatchNorm1d trained by
    ``torch.optim.SGD(momentum=0.9, weight_decay=1e-4)``: the recorded run equals the engine's and
    its zero-knowledge proof verifies against its model file."""
    import torch
    from torch import nn

    import zktrain
    from test_ghost_bn_run import batch, bn_mlp
    from verifier.bundle import verify_bundle

    model = bn_mlp()
    rec = zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-4),
                           nn.MSELoss())
    for t in range(3):
        rec.step(*batch(t))
    assert rec.recipe().train.optimizer == "sgd_momentum"
    assert len(rec.trace().final_norms[0]) == 6 and rec.trace().final_norms[0][4].any()
    rec.prove(tmp_path / "bn.zkp", zk=True)
    report = verify_bundle((tmp_path / "bn.zkp").read_bytes(), weights=tmp_path / "bn.model.npz")
    assert report.accepted, report.reason


# --- soundness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["VGamma", "Vbeta"])
def test_buffer_of_another_step_is_rejected(run, value):
    """Step 2 takes gamma's (beta's) buf_0 for its buf_{t-1}: the buffer relation holds for what
    is committed, but buf_{t-1} is not the buffer shifted by one step (phase 1's shift)."""
    witness = _witness(run, hook=stale((0, f"bn1.{value}"), (2, f"bn1.{value}.prev")))
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


@pytest.mark.parametrize("case", ["weight decay skipped", "another mu"])
def test_another_update_of_gamma_and_beta_is_rejected(run, monkeypatch, case):
    """gamma and beta only (W and b honest) updated without the recipe's decay, or with mu = 7/8:
    their buffer relations of phase 1 fail."""
    c = run["c"]
    mu, lam = momentum_coefficients(c)
    other = (mu, 0) if case == "weight decay skipped" else (7 << (c.momentum_shift - 3), lam)
    honest = pt.norm_update
    monkeypatch.setattr(pt, "norm_update", lambda *args, **kwargs: honest(*args[:7], other))
    _rejected(run, _cheat(run, _witness(run)), _phase_1_fails(run))


@pytest.mark.parametrize("which", ["g_gamma", "g_beta"])
def test_buffer_driven_by_another_gradient_is_rejected(run, monkeypatch, which):
    """The buffer recurs on a doubled dgamma (dbeta): the relation's 2^K dgamma~(p, tau) is the
    Hadamard functional over dy and X, which phase 1 checks."""
    honest = semantics.backward

    def altered(*args, **kwargs):
        bw = honest(*args, **kwargs)
        return dataclasses.replace(bw, **{which: 2 * np.asarray(getattr(bw, which), dtype=object)})

    monkeypatch.setattr(semantics, "backward", altered)
    _rejected(run, _cheat(run, _witness(run)), _phase_1_fails(run))


def test_gamma_moved_by_another_buffer_than_the_committed_is_rejected(run, monkeypatch):
    """gamma moves by buf + delta at step 1 and the next buffer recurs from it; the prover's
    stacked buffer (the table its step functionals bind) holds buf + delta there, so the shift
    and the updates hold, while the committed slots hold buf, on which step 1's relation holds:
    the functionals' claims on the stacked buffer are read off its slots (``MomentumStep.settle``)."""
    delta = np.full(8, 1 << 20, dtype=object)
    honest, calls = pt.norm_update, []

    def moved(*args):
        out = honest(*args)
        lr = args[5]
        calls.append(None)
        if len(calls) != 2:
            return out
        return (out[0] - lr * delta, out[1], out[2] + delta, out[3])

    monkeypatch.setattr(pt, "norm_update", moved)
    witness = dict(_witness(run))
    stacked = np.array(witness["bn1.VGamma"], dtype=object)
    stacked[1] += delta  # the slots were decomposed from buf
    witness["bn1.VGamma"] = stacked
    _rejected(run, _cheat(run, witness), r"^bn1\.VGamma\.limbs: slots do not recompose to the claimed value$")


@pytest.mark.parametrize("value", ["VGamma", "Vbeta"])
def test_checkpoint_of_a_padded_step_is_rejected(run, value):
    """The published bn1.VGamma.T (Vbeta) is the buffer after the last padded step: the walk
    reads the stacked buffer's slots at the last real step (``MomentumStep.relations``)."""
    witness = dict(run["witness"])
    witness[f"bn1.{value}.T"] = np.asarray(witness[f"bn1.{value}"][-1]).reshape(witness[f"bn1.{value}.T"].shape)
    assert not np.array_equal(witness[f"bn1.{value}.T"], run["witness"][f"bn1.{value}.T"])
    _rejected(run, _cheat(run, witness), rf"^bn1\.{value}\.limbs: slots do not recompose to the claimed value$")


def test_segments_chain_gammas_buffers(run):
    """Steps 0-1 and step 2 as two segments: the second starts from the first's committed state,
    gamma's and beta's buffers included (bn1.VGamma.0, bn1.Vbeta.0). Honest: both verify. A second
    segment that restarts those buffers at zero is rejected: its claims on bn1.VGamma.0 do not
    open against the first segment's checkpoint."""
    c, d = run["c"], run
    seg, second, wit0, checkpoint, public0 = proven_first_segment(run, RECIPE)
    assert {"bn1.VGamma.0", "bn1.Vbeta.0", "VW1.0"} <= set(checkpoint)
    layers = range(1, c.layers + 1)
    w1, b1 = [wit0[f"W{l}.T"] for l in layers], [wit0[f"b{l}.T"] for l in layers]
    bufs = [(wit0[f"VW{l}.T"], wit0[f"Vb{l}.T"]) for l in layers]
    state = [wit0[f"bn1.{v}.T"] for v in c.norm_state_values()]

    def second_proof(norm0, channel_type):
        wit1 = mlp_witness(seg, d["x"][2:], d["y"][2:], w1, b1, buf0=bufs, norm0=[norm0])
        pub, proof = _prove(run, second, wit1, dict(checkpoint), channel_type, _RecklessWalk)
        return {**pub, **public0}, proof

    run["verify"](second, *second_proof(state, None))
    restarted = second_proof(state[:4] + [0 * state[4], state[5]], run["reckless"])
    opening = {"clear": r"^hyrax opening: <t, R> differs from the claimed value$",
               "zk": r"^inner-product argument: final check fails$"}[run["mode"]]
    _rejected(run, restarted, opening, statement=second)


def test_gamma_buffers_sit_in_the_momentum_domain(run, monkeypatch):
    """The buffer relations of gamma and beta are drawn in the momentum module's transcript
    domain, after the weights' and biases', with a point over the layer's features and the steps."""
    labels = transcript_labels(monkeypatch)
    _prove(run, run["statement"], run["witness"], run["published"])
    start = labels.index(b"momentum")
    points = [label for label in labels[start:] if label == b"momentum-point"]
    assert len(points) == len(run["c"].trained_tensors()) == 6
