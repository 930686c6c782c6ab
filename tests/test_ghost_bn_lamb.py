"""Ghost BN's gamma and beta trained by LAMB (issue 17, "affine gamma/beta trained by the run's
optimizer"; docs/ghost_bn.md section 4.1, docs/lamb.md): the engine against the float LAMB, the
proof in both modes, and the attacks on gamma's and beta's LAMB steps, each rejected by the check
it names.

gamma and beta are trained as a bias is (``MlpCircuit.trained_tensors``): each its own LAMB step
gadget (``lambGamma{l}``, ``lambbeta{l}``: moments, bias-corrected ratio, its own trust ratio
phi(||gamma||) / ||r + lam gamma||, the step dP), its P the stacked gamma, its G the folded
gradient dgamma = sum_b dy X (dbeta = 2^R sum_b dy), a Hadamard gradient functional in phase 2
(``verifier/normalization.py``). The moments' checkpoints travel with the layer's state
(``bn{l}.MGamma.T``, ``bn{l}.VGamma.T``, ...).

The proven run is tests/test_ghost_bn_proof.py's tiny MLP (4 -> 8(BN) -> 3, batch 4, ghost
batch 2, 3 steps padded to 4) under tests/test_lamb_proof.py's LAMB.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import circuits.ghost_bn as semantics
from prover.training import mlp_witness
from test_ghost_bn_proof import RECIPE
from test_ghost_bn_proof import _circuit as _bn_circuit
from test_ghost_bn_training import bn_model, encoded
from test_lamb_proof import LAMB
from test_lamb_training import lamb_recipe
from test_lars_proof import _data
from test_momentum_proof import (
    MODES,
    _SUMCHECK_ROUND,
    _RecklessWalk,
    _cheat,
    _prove,
    _rejected,
    proven_first_segment,
    proven_run,
    stale,
)
from zktrain.data import load_dataset
from zktrain.fixedpoint.lamb import LambState, lamb_step
from zktrain.fixedpoint.reference import compare


def _circuit(gadget: str = "limbs", **changes):
    return _bn_circuit(gadget, **{**LAMB, "lr": (300, 200, 100), **changes})


def _fails(run, phase: str) -> str:
    return rf"^{phase}: {_SUMCHECK_ROUND[run['mode']]}"


# --- the engine ------------------------------------------------------------------------------


def test_fixed_point_follows_float64_lamb_with_ghost_bn(single_threaded):
    """20 steps of digits 64-128(BN)-128(BN)-10 under LAMB (cross-entropy, lr 0.01, decay 0.01 on
    every tensor, gamma and beta included) against ``zktrain.optim.LAMB`` over every parameter:
    weights within 0.5%, equal test accuracy within two points (measured 2026-12-07: largest
    relative weight distance 1.8e-3, 90.25% on both sides)."""
    recipe = dataclasses.replace(lamb_recipe(steps=20), model=bn_model())
    data = encoded(load_dataset({"source": "digits"}), recipe)
    result = compare(recipe, data)
    assert result.fixed_accuracy > 0.8 and abs(result.fixed_accuracy - result.float_accuracy) <= 0.02
    assert max(result.distances) < 5e-3
    assert [len(state) for state in result.trace.final_norms] == [8, 8]  # gamma, beta, RM, RV, M and V of both


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


def test_witness_is_lamb_on_gamma_and_beta(run):
    """The witness's stacked gamma (beta) is the engine's LAMB kernel (``lamb_step``) run on the
    kernel's dgamma (dbeta) of each step, and the moment checkpoints bn1.MGamma.T, bn1.VGamma.T
    are its moments after the last real step."""
    c, wit = run["c"], run["witness"]
    spec = c.ghost_bn(1).spec
    gamma, beta = (np.asarray(wit[f"bn1.{v}"], dtype=object) for v in ("Gamma", "beta"))
    state = {"Gamma": LambState(gamma[0], 0, 0, 0), "beta": LambState(beta[0], 0, 0, 0)}
    for t in range(c.steps):
        fw = semantics.forward_train(spec, np.asarray(wit["ZP1"][t], dtype=object), gamma[t], beta[t])
        bw = semantics.backward(spec, fw.xhat, fw.rstd, gamma[t], np.asarray(wit["bn1.dy"][t], dtype=object))
        for kind, grad, stacked in (("Gamma", bw.g_gamma, gamma), ("beta", bw.g_beta, beta)):
            s = state[kind]
            s = LambState(s.p, np.zeros(8, dtype=object) + s.m, np.zeros(8, dtype=object) + s.v, t)
            state[kind], _, _ = lamb_step(s, np.asarray(grad, dtype=object), c.lr[t], c.lamb_spec(), c.frac_bits,
                                          c.lr_shift, c.lamb_param_bits, c.buf_bits)
            assert (np.asarray(state[kind].p, dtype=object) == stacked[t + 1]).all()
    for kind in ("Gamma", "beta"):
        assert (np.asarray(wit[f"bn1.M{kind}.T"], dtype=object) == np.asarray(state[kind].m, dtype=object)).all()
        assert (np.asarray(wit[f"bn1.V{kind}.T"], dtype=object) == np.asarray(state[kind].v, dtype=object)).all()


def test_run_file_in_segments_verifies():
    """``zktrain prove`` on the tiny run with Ghost BN under LAMB (``decay_bias_and_norm: true``),
    clear mode, two segments chained by the committed state (the moments of W, b, gamma and beta):
    the bundle verifies against its model file."""
    from test_lamb_run import lamb_run
    from verifier.bundle import verify_bundle
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    cfg = lamb_run()
    cfg.setdefault("prove", {}).update({"zk": False, "segment_steps": 2})
    cfg["model"]["norm"] = {"name": "ghost_batchnorm", "virtual_batch_size": 4}
    bundle, summary = prove_run(parse_run(cfg))
    assert summary.segments == 2
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason


def test_recorder_proves_ghost_bn_with_lamb(tmp_path):
    """``zktrain.Recorder`` over a torch model with GhostBatchNorm1d trained by
    ``zktrain.optim.LAMB`` over every parameter: its zero-knowledge proof verifies against its
    model file."""
    from torch import nn

    import zktrain
    from test_ghost_bn_run import batch, bn_mlp
    from verifier.bundle import verify_bundle
    from zktrain.optim import LAMB as FloatLAMB

    model = bn_mlp()
    rec = zktrain.Recorder(model, FloatLAMB(model.parameters(), lr=0.01, weight_decay=0.01), nn.MSELoss())
    for t in range(3):
        rec.step(*batch(t))
    assert rec.recipe().train.optimizer == "lamb"
    rec.prove(tmp_path / "bn.zkp", zk=True)
    report = verify_bundle((tmp_path / "bn.zkp").read_bytes(), weights=tmp_path / "bn.model.npz")
    assert report.accepted, report.reason


# --- soundness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Gamma", "beta"])
def test_step_on_another_steps_gradient_is_rejected(run, value):
    """Step 2's LAMB step of gamma (beta) runs on step 1's dgamma: the gadget is honest for the
    gradient it claims, which phase 2's Hadamard functional ties to sum_b dy X of step 2."""
    witness = _witness(run, hook=stale((1, f"bn1.G{value}"), (2, f"bn1.G{value}")))
    _rejected(run, _cheat(run, witness), _fails(run, "phase-2"))


def test_gamma_moved_otherwise_is_rejected(run, monkeypatch):
    """gamma_2 one unit off LAMB's step, while gamma's step gadget proves its own trajectory from
    gamma_0 (every gadget relation holds): the walk's gamma is gamma_0 minus the committed steps
    dP, so its claims on the stacked gamma (the BN gadget's, the final point's) do not reduce,
    and phase 1's batched sumcheck fails on the final point."""
    import prover.training as pt

    real_witness = pt.lamb_step_witness
    monkeypatch.setattr(pt, "lamb_step_witness", lambda gadget, P, G, M0, V0: real_witness(
        gadget, np.asarray(P).reshape(gadget.steps, -1)[0], G, M0, V0))

    def hook(t):
        return None if t != 2 else (lambda name, value: value + 1 if name == "bn1.Gamma" else value)
    _rejected(run, _cheat(run, _witness(run, hook=hook)), _fails(run, "phase-1"))


@pytest.mark.parametrize("value", ["MGamma", "Vbeta"])
def test_first_segment_moments_must_start_at_zero(run, value):
    """A first segment whose gamma moments (both: a first moment with V0 = 0 would be a ratio
    beyond its width) or beta's second moment start from the honest run's last ones: the walk's
    zero check on M0 (V0) rejects, naming the tensor."""
    c, honest = run["c"], run["witness"]
    resumed = {"MGamma": ("MGamma", "VGamma"), "Vbeta": ("Vbeta",)}[value]
    state = [honest["bn1.Gamma.0"], honest["bn1.beta.0"], honest["bn1.RM.0"], honest["bn1.RV.0"]]
    state += [honest[f"bn1.{v}.T"] if v in resumed else honest[f"bn1.{v}.0"] for v in c.norm_state_values()[4:]]
    witness = _witness(run, norm0=[state])
    _rejected(run, _cheat(run, witness), rf"^lamb: the first segment's moments bn1\.{value} do not start at zero$")


@pytest.mark.parametrize("value", ["Gamma", "beta"])
def test_checkpoint_of_a_padded_step_is_rejected(run, value):
    """The published bn1.MGamma.T (Mbeta) is the first moment after the last padded step: the walk
    reads the moments' slots at the last real step."""
    c = run["c"]
    witness = dict(run["witness"])
    gadget = c.lamb_step(value, 1)
    witness[f"bn1.M{value}.T"] = np.asarray(witness[gadget.t("M")][-1], dtype=np.int64)
    assert not np.array_equal(witness[f"bn1.M{value}.T"], run["witness"][f"bn1.M{value}.T"])
    _rejected(run, _cheat(run, witness), rf"^lamb{value}1\.M\.slots: slots do not recompose to the claimed value$")


def test_segments_chain_gammas_moments(run):
    """Steps 0-1 and step 2 as two segments: the second starts from the first's committed state,
    gamma's and beta's moments included, and verifies; one restarting gamma's first moment at
    zero is rejected by the opening of bn1.MGamma.0 against the first segment's checkpoint."""
    c, d = run["c"], run
    seg, second, wit0, checkpoint, public0 = proven_first_segment(run, RECIPE)
    assert {"bn1.MGamma.0", "bn1.Vbeta.0", "MW1.0"} <= set(checkpoint)
    layers = range(1, c.layers + 1)
    w1, b1 = [wit0[f"W{l}.T"] for l in layers], [wit0[f"b{l}.T"] for l in layers]
    moments = [tuple((wit0[f"M{kind}{l}.T"], wit0[f"V{kind}{l}.T"]) for kind in ("W", "b")) for l in layers]
    state = [wit0[f"bn1.{v}.T"] for v in c.norm_state_values()]

    def second_proof(norm0, channel_type):
        wit1 = mlp_witness(seg, d["x"][2:], d["y"][2:], w1, b1, buf0=moments, first_step=2, norm0=[norm0])
        pub, proof = _prove(run, second, wit1, dict(checkpoint), channel_type, _RecklessWalk)
        return {**pub, **public0}, proof

    run["verify"](second, *second_proof(state, None))
    restarted = second_proof(state[:4] + [0 * state[4]] + state[5:], run["reckless"])
    opening = {"clear": r"^hyrax opening: <t, R> differs from the claimed value$",
               "zk": r"^inner-product argument: final check fails$"}[run["mode"]]
    _rejected(run, restarted, opening, statement=second)
