"""Proofs of training with Ghost BN (issue 17, docs/ghost_bn.md section 4,
``verifier/normalization.py``), end to end in both modes: the honest run verifies, and
deviating provers are rejected by the check meant for them.

The run is the tiny MLP of tests/test_momentum_proof.py (4 -> 8 -> 3, batch 4, 3 steps padded to
4, biases, mean MSE) with a Ghost BN of ghost batch 2 between the hidden Linear and its ReLU
(momentum 3277/2^15 ~ 0.1, eps 42950/2^32 ~ 1e-5), trained by plain SGD. Each soundness case
is a prover that runs another computation, proves it with the protocol's own prover against the
statement, publishes what its run ends on, and is rejected by the check the case names (issue
12), per mode. The gadget's own attacks (a rstd off by one, a variance without eps, statistics
of another ghost batch, running statistics skipping a ghost batch) are tests/test_ghost_bn_step.py's;
here are those that cross the walk: gamma and beta, Y and dx as the walk uses them, the running
statistics' start and checkpoint, the ghost size.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

import circuits.ghost_bn as semantics
import prover.training as pt
from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import ProverChannel, commit_tensor, mlp_witness
from verifier.training import TrainingStatement, TrainingWalk, verify_training
from test_lars_proof import _data
from test_momentum_proof import MODES, _SUMCHECK_ROUND, _cheat, _phase_1_fails, _rejected, proven_run

RECIPE = b'{"run":"tiny-ghost-bn"}'
NORM = dict(norm="ghost_bn", virtual_batch=2, bn_momentum=(3277, 15), bn_eps=42950)


def _circuit(gadget: str = "limbs", **changes) -> MlpCircuit:
    c = MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(3000, 2000, 1000), range_check=gadget, limb_bits=8,
                   **NORM)
    return dataclasses.replace(c, **changes)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module", params=list(MODES))
def run(request, data):
    return proven_run(request.param, data, _circuit(), RECIPE)


def _witness(run, **kwargs):
    return mlp_witness(run["c"], run["x"], run["y"], run["w0"], run["b0"], **kwargs)


def _phase_2_fails(run) -> str:
    return rf"^phase-2: {_SUMCHECK_ROUND[run['mode']]}"


# --- completeness ---------------------------------------------------------------------------


def test_honest_ghost_bn_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_witness_is_the_semantics_step_by_step(run):
    """The walk's tensors are ``circuits.ghost_bn``'s: Y the train-mode output, the ReLU on Y,
    dx = G_Z the input gradient, gamma and beta moved by SGD on dgamma = sum_b dy X and
    dbeta = 2^R sum_b dy, the running statistics' checkpoint the sequential update's."""
    c, wit = run["c"], run["witness"]
    spec = c.ghost_bn(1).spec
    gamma, beta = (np.asarray(wit[f"bn1.{v}"], dtype=object) for v in ("Gamma", "beta"))
    rm, rv = np.zeros(8, dtype=object), np.full(8, 1 << 32, dtype=object)
    for t in range(c.steps):
        x = np.asarray(wit["ZP1"][t], dtype=object)
        fw = semantics.forward_train(spec, x, gamma[t], beta[t])
        assert (np.asarray(fw.out) == np.asarray(wit["bn1.Y"][t], dtype=object)).all()
        assert (np.asarray(wit["S1"][t]) == (np.asarray(fw.out) <= 0)).all()
        bw = semantics.backward(spec, fw.xhat, fw.rstd, gamma[t], np.asarray(wit["bn1.dy"][t], dtype=object))
        assert (np.asarray(bw.g_in) == np.asarray(wit["GZ1"][t], dtype=object)).all()
        assert (gamma[t + 1] == gamma[t] - c.lr[t] * np.asarray(bw.g_gamma)).all()
        assert (beta[t + 1] == beta[t] - c.lr[t] * np.asarray(bw.g_beta)).all()
        ru = semantics.running_update(spec, rm, rv, fw.s1, fw.d)
        rm, rv = ru.running_mean, ru.running_var
    assert (np.asarray(wit["bn1.RM.T"], dtype=object) == rm).all()
    assert (np.asarray(wit["bn1.RV.T"], dtype=object) == rv).all()
    assert (np.asarray(wit["bn1.Gamma.T"], dtype=object) == gamma[c.steps]).all()


def test_bits_gadget_proves_ghost_bn(data):
    """The same walk over the bit gadget (booleanity instead of logUp), clear mode, no bias."""
    c = _circuit("bits", bias=False)
    st = TrainingStatement(c, RECIPE, data["w0"], [None, None])
    channel = ProverChannel(st, mlp_witness(c, data["x"], data["y"], data["w0"], [None, None]),
                            get_backend("reference"), None, random.Random(2))
    TrainingWalk(st, channel).run()
    verify_training(st, channel.public, channel.proof_bytes())


def test_norm_changes_the_circuit_encoding():
    """A circuit without norm keeps the bytes it had; Ghost BN's fields are absorbed."""
    plain = dataclasses.replace(_circuit(), norm="none", virtual_batch=0, bn_momentum=(0, 0), bn_eps=0)
    assert b"norm" not in plain.encode() and b'"virtual_batch":2' in _circuit().encode()


def test_norm_is_provable_with_sgd_only():
    with pytest.raises(ValueError, match="norm ghost_bn is provable with optimizer sgd only"):
        _circuit(optimizer="sgd_momentum", momentum=(1, 1), weight_decay=(0, 0))


# --- soundness ------------------------------------------------------------------------------


def test_gamma_moved_otherwise_is_rejected(run):
    """gamma_2 one unit off SGD's step (the prover's gadget is honest for the gamma it uses):
    gamma_T = gamma_0 - sum_s lr_s dgamma_s fails in phase 1's final-gamma functional."""
    def hook(t):
        if t != 2:
            return None
        return lambda name, value: value + 1 if name == "bn1.Gamma" else value
    _rejected(run, _cheat(run, _witness(run, hook=hook)), _phase_1_fails(run))


@pytest.mark.parametrize("value", ["Gamma", "beta"])
def test_gamma_or_beta_off_the_updates_for_one_step_is_rejected(run, value):
    """Step 1 normalizes with gamma_1 + 1 (beta_1 + 1) and step 2 takes the unit back, so the
    chain ends where the prover's own updates lead and the final point holds: the gadget's
    claims on the stacked gamma are gamma_0 minus the updates before their step (phase 2)."""
    def hook(t):
        if t not in (1, 2):
            return None
        return lambda name, v: v + (1 if t == 1 else -1) if name == f"bn1.{value}" else v
    _rejected(run, _cheat(run, _witness(run, hook=hook)), _phase_2_fails(run))


@pytest.mark.parametrize("which", ["g_gamma", "g_beta"])
def test_gamma_or_beta_gradient_altered_is_rejected(run, monkeypatch, which):
    """SGD on gamma or beta with a gradient other than the backward's (doubled): the stacked
    parameter the gadget reads is no longer gamma_0 minus the summed updates of dgamma = sum_b
    dy X (dbeta = 2^R sum_b dy), which phase 1's final functional checks."""
    honest = semantics.backward

    def altered(*args, **kwargs):
        bw = honest(*args, **kwargs)
        return dataclasses.replace(bw, **{which: 2 * np.asarray(getattr(bw, which), dtype=object)})

    monkeypatch.setattr(semantics, "backward", altered)
    _rejected(run, _cheat(run, _witness(run)), _phase_1_fails(run))


@pytest.mark.parametrize("value", ["Gamma", "beta"])
def test_published_gamma_or_beta_other_than_the_runs_is_rejected(run, value):
    """The run is honest but its published gamma_T (beta_T) is one unit off: phase A's final
    point ties the checkpoint to gamma_0 minus the summed updates (phase 1)."""
    wit = dict(run["witness"])
    wit[f"bn1.{value}.T"] = wit[f"bn1.{value}.T"] + 1
    _rejected(run, _cheat(run, wit), _phase_1_fails(run))


def test_normalizing_another_tensor_than_the_layers_output_is_rejected(run, monkeypatch):
    """The prover's BN normalizes 2 Z' (every other tensor, gamma and beta included, follows
    from it consistently) while the matmul produced Z': the gadget's claims on x are read off
    Z'{l}'s slots."""
    forward, witness = semantics.forward_train, pt.ghost_bn_step_witness
    monkeypatch.setattr(semantics, "forward_train", lambda spec, x, *rest: forward(spec, 2 * x, *rest))
    monkeypatch.setattr(pt, "ghost_bn_step_witness", lambda g, x, *rest: witness(g, 2 * np.asarray(x), *rest))
    _rejected(run, _cheat(run, _witness(run)), r"^Z1\.limbs: slots do not recompose to the claimed value")


def test_gamma_gradient_from_another_xhat_is_rejected(run, monkeypatch):
    """gamma moves by sum_b dy (X + 1) and the prover's copy of X in the gradients' sumcheck is
    X + 1 (so the step functionals hold): the claims that sumcheck leaves on X are read off X's
    slots, which hold the gadget's X."""
    honest = semantics.backward

    def shifted(spec, xhat, rstd, gamma, dy, *args, **kwargs):
        bw = honest(spec, xhat, rstd, gamma, dy, *args, **kwargs)
        return dataclasses.replace(bw, g_gamma=np.asarray(bw.g_gamma, dtype=object) + np.asarray(dy, dtype=object).sum(axis=0))

    monkeypatch.setattr(semantics, "backward", shifted)
    wit = dict(_witness(run))
    wit["bn1.X^b"] = np.asarray(wit["bn1.X^b"], dtype=object) + 1
    _rejected(run, _cheat(run, wit), r"^bn1\.X\.slots: slots do not recompose to the claimed value")


def test_relu_on_the_linear_output_is_rejected(run, monkeypatch):
    """BN skipped in the forward pass: the ReLU reads Z', and the prover's Y (the one table
    both the gadget and the ReLU read) is Z' too; relation (4), 2^S Y + rY = Gamma X + 2^R beta,
    fails in the gadget's element zero-check."""
    monkeypatch.setattr(pt, "check_norm_outputs", lambda *a: None)

    def hook(t):
        kept = {}

        def h(name, value):
            kept[name] = value
            return kept["ZP1"] if name == "NP1" else value
        return h
    wit = _witness(run, hook=hook)
    wit["bn1.Y"] = np.asarray(wit["ZP1"], dtype=object)
    _rejected(run, _cheat(run, wit), rf"^ghost-bn:bn1: {_SUMCHECK_ROUND[run['mode']]}")


def test_linear_gradient_not_through_bn_is_rejected(run, monkeypatch):
    """G_Z of the hidden layer is the ReLU's masked gradient dy (BN skipped in the backward
    pass) while the gadget proves the honest dx: the walk's claims on G_Z are read off dx's slots."""
    monkeypatch.setattr(pt, "check_norm_outputs", lambda *a: None)

    def hook(t):
        kept = {}

        def h(name, value):
            kept[name] = value
            return kept["DY1"] if name == "GZ1" else value
        return h
    _rejected(run, _cheat(run, _witness(run, hook=hook)), r"^bn1\.dx\.slots: slots do not recompose to the claimed value")


def test_running_statistics_from_another_start_are_rejected(run):
    """The first segment's running mean starts at 1 (not torch's 0): its start, which the
    gadget's shift reduces to, is checked against the verifier's own initial state."""
    c = run["c"]
    start = [(np.full(8, 1 << c.rescale_bits), np.zeros(8, dtype=np.int64), np.ones(8, dtype=np.int64),
              np.full(8, 1 << 32))]
    _rejected(run, _cheat(run, _witness(run, norm0=start)),
              r"^ghost bn1: the running statistic RM does not start from the initial state")


@pytest.mark.parametrize("value", ["RM", "RV"])
def test_running_statistics_checkpoint_of_an_earlier_state_is_rejected(run, value):
    """The published RM_T (RV_T) is the state one ghost batch before the end: the checkpoint is
    read off the states' slots at the last real step's last ghost batch."""
    wit = dict(_witness(run))
    g = run["c"].ghost_bn(1)
    wit[f"bn1.{value}.T"] = np.asarray(wit[g.t(value)][g.spec.ghosts * run["c"].steps - 2], dtype=np.int64)
    assert (wit[f"bn1.{value}.T"] != run["witness"][f"bn1.{value}.T"]).any()
    _rejected(run, _cheat(run, wit), rf"^bn1\.{value}\.slots: slots do not recompose to the claimed value")


def test_another_ghost_size_is_rejected(run):
    """The prover normalizes over ghost batches of 4 (the whole batch) against a recipe of 2,
    proving honestly for its own circuit: the statement's circuit fixes v, and with it the
    statistics' layouts, so the verifier reads the proof's commitments for the recipe's layouts
    and rejects the bytes (besides, the transcript absorbs the circuit before anything else)."""
    wide = dataclasses.replace(run["c"], virtual_batch=4)
    statement = dataclasses.replace(run["statement"], circuit=wide)
    witness = mlp_witness(wide, run["x"], run["y"], run["w0"], run["b0"])
    published = {n: run["published"][n] if n in wide.data_tensors() else commit_tensor(statement, n, witness[n])
                 for n in statement.public_tensors()}
    channel = run["channel"](statement, witness, run["backend"], published, random.Random(1))
    TrainingWalk(statement, channel).run()
    run["verify"](statement, channel.public, channel.proof_bytes())  # its own circuit's proof
    _rejected(run, (channel.public, channel.proof_bytes()), r"^training proof: ")


# --- from a run file ------------------------------------------------------------------------


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_run_file_in_segments_verifies(zk):
    """``zktrain prove`` on the tiny run with Ghost BN, in two segments chained by the committed
    gamma, beta and running statistics: the engine's records are the witness (the prover holds
    its gadgets' Y, dx and checkpoints to the engine's), and the bundle verifies."""
    from tiny_run import tiny_run
    from verifier.bundle import verify_bundle
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    cfg = tiny_run({"zk": zk, "segment_steps": 2})
    cfg["model"]["norm"] = {"name": "ghost_batchnorm", "virtual_batch_size": 4, "momentum": 0.1, "eps": 1e-5}
    bundle, summary = prove_run(parse_run(cfg))
    assert summary.segments == 2
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason


@pytest.mark.parametrize("norm", ["ghost", "batchnorm"])
def test_recorder_proves_ghost_bn(tmp_path, norm):
    """``zktrain.Recorder`` over a torch model with GhostBatchNorm1d (or nn.BatchNorm1d, one
    ghost batch of the whole batch): the recorded run's zero-knowledge proof verifies against
    its model file."""
    from torch import nn

    from test_ghost_bn_run import bn_mlp, record
    from verifier.bundle import verify_bundle

    rec = record(bn_mlp() if norm == "ghost" else bn_mlp(lambda c: nn.BatchNorm1d(c, momentum=0.25)), steps=3)
    rec.prove(tmp_path / "bn.zkp", zk=True)
    report = verify_bundle((tmp_path / "bn.zkp").read_bytes(), weights=tmp_path / "bn.model.npz")
    assert report.accepted, report.reason
