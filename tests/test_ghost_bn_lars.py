"""Ghost BN's gamma and beta trained by LARS and LARC (issue 17, "affine gamma/beta trained by the
run's optimizer"; docs/ghost_bn.md section 4.1, docs/lars.md): the engine against the float LARS,
the proof in both modes, and the attacks on gamma's and beta's trust ratios and buffers, each
rejected by the check it names.

gamma and beta are trained as a bias is (``MlpCircuit.trained_tensors``): two more groups of the
trust-ratio gadget (their squared norms N_P over the stacked gamma, N_G over dgamma), a buffer
each whose relation's right side, sum_s K(s) lambda_g(s) [2^(k+k_b) dgamma~(s, p) + b gamma~(s, p)],
is one sumcheck over (b, c, s) with the table M = eq(p, c) K lambda_g (``LarsStep._norm_driving``).

The proven run is tests/test_ghost_bn_proof.py's tiny MLP (4 -> 8(BN) -> 3, batch 4, ghost
batch 2, 3 steps padded to 4) under tests/test_lars_proof.py's LARS.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import circuits.ghost_bn as semantics
import prover.training as pt
from prover.training import mlp_witness
from test_ghost_bn_proof import RECIPE
from test_ghost_bn_proof import _circuit as _bn_circuit
from test_ghost_bn_training import bn_model, encoded
from test_lars_proof import LARS, _data
from test_lars_training import lars_recipe
from test_momentum_proof import MODES, _cheat, _phase_1_fails, _rejected, proven_run, stale
from zktrain.data import load_dataset
from zktrain.fixedpoint.lars import lars_step
from zktrain.fixedpoint.reference import compare


def _circuit(gadget: str = "limbs", **changes):
    return _bn_circuit(gadget, **{**LARS, **changes})


# --- the engine ------------------------------------------------------------------------------


@pytest.mark.parametrize("clip", [False, True], ids=["lars", "larc"])
def test_fixed_point_follows_float64_lars_with_ghost_bn(single_threaded, clip):
    """30 steps of digits 64-128(BN)-128(BN)-10 under LARS (cross-entropy, lr 0.2, trust 0.02,
    decay 1e-4 on every tensor, gamma and beta included; LARC too) against ``zktrain.optim.LARS``
    over every parameter: equal test accuracy within two points, weights within 0.5% (LARS) and 5%
    (LARC, whose clip switches on a rounded ratio). Measured 2026-12-07: largest relative weight
    distance 2.5e-4 (LARS) and 2.1e-2 (LARC); 95.26% and 96.38% on both sides."""
    recipe = dataclasses.replace(lars_recipe(steps=30, clip=clip), model=bn_model())
    result = compare(recipe, encoded(load_dataset({"source": "digits"}), recipe))
    assert result.fixed_accuracy > 0.8 and abs(result.fixed_accuracy - result.float_accuracy) <= 0.02
    assert max(result.distances) < (5e-2 if clip else 5e-3)
    assert [len(state) for state in result.trace.final_norms] == [6, 6]  # gamma, beta, RM, RV, their buffers


# --- the proof ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module", params=[(mode, clip) for mode in MODES for clip in (False, True)],
                ids=lambda p: f"{p[0]}-{'larc' if p[1] else 'lars'}")
def run(request, data):
    mode, clip = request.param
    return proven_run(mode, data, _circuit(lars_clip=clip), RECIPE)


def _witness(run, hook=None):
    return mlp_witness(run["c"], run["x"], run["y"], run["w0"], run["b0"], hook)


def test_honest_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_witness_is_lars_on_gamma_and_beta(run):
    """The witness's stacked gamma (beta) is the engine's LARS kernel (``lars_step``: the squared
    norms, the trust ratio or LARC's multiplier, the rounded buffer, gamma - v) run on the
    kernel's dgamma (dbeta) of each step; its committed multipliers are the gadget's groups 4, 5."""
    c, wit = run["c"], run["witness"]
    spec = c.ghost_bn(1).spec
    gamma, beta = (np.asarray(wit[f"bn1.{v}"], dtype=object) for v in ("Gamma", "beta"))
    bufs = {"Gamma": np.zeros(8, dtype=np.int64), "beta": np.zeros(8, dtype=np.int64)}
    for t in range(c.steps):
        fw = semantics.forward_train(spec, np.asarray(wit["ZP1"][t], dtype=object), gamma[t], beta[t])
        bw = semantics.backward(spec, fw.xhat, fw.rstd, gamma[t], np.asarray(wit["bn1.dy"][t], dtype=object))
        for kind, grad, stacked in (("Gamma", bw.g_gamma, gamma), ("beta", bw.g_beta, beta)):
            new, bufs[kind], _, scalars = lars_step(stacked[t].astype(np.int64), bufs[kind],
                                                    np.asarray(grad, dtype=np.int64), c.lr[t], c.lars_spec(),
                                                    c.lr_shift, c.norm_param_bits, c.buf_bits, t)
            assert (np.asarray(new, dtype=object) == stacked[t + 1]).all()
            assert int(wit[f"bn1.LAM{kind}"][t]) == scalars.multiplier
    assert [kind for kind, _ in c.trained_tensors()] == ["W", "W", "b", "b", "Gamma", "beta"]


def test_run_file_in_segments_verifies():
    """``zktrain prove`` on the tiny run with Ghost BN under LARS (``decay_bias_and_norm: true``),
    zero knowledge, two segments chained by the committed state (the buffers of W, b, gamma and
    beta): the bundle verifies against its model file."""
    from test_lars_run import lars_run
    from verifier.bundle import verify_bundle
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    cfg = lars_run()
    cfg.setdefault("prove", {}).update({"zk": True, "segment_steps": 2})
    cfg["model"]["norm"] = {"name": "ghost_batchnorm", "virtual_batch_size": 4}
    bundle, summary = prove_run(parse_run(cfg))
    assert summary.segments == 2
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason


def test_recorder_proves_ghost_bn_with_larc(tmp_path):
    """``zktrain.Recorder`` over a torch model with GhostBatchNorm1d trained by
    ``zktrain.optim.LARS(clip=True)`` over every parameter: its proof verifies against its model file."""
    from torch import nn

    import zktrain
    from test_ghost_bn_run import batch, bn_mlp
    from verifier.bundle import verify_bundle
    from zktrain.optim import LARS as FloatLARS

    model = bn_mlp()
    optimizer = FloatLARS(model.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-4, trust_coefficient=0.02,
                          clip=True, lr_in_momentum=True)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss())
    for t in range(3):
        rec.step(*batch(t))
    assert (rec.recipe().train.optimizer, rec.recipe().train.clip) == ("lars", True)
    rec.prove(tmp_path / "bn.zkp", zk=False)
    report = verify_bundle((tmp_path / "bn.zkp").read_bytes(), weights=tmp_path / "bn.model.npz")
    assert report.accepted, report.reason


# --- soundness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Gamma", "beta"])
def test_norm_of_another_step_is_rejected(run, value):
    """Step 2's trust ratio of gamma (beta) comes from its norm at step 1 (a stale norm): the norm
    sumcheck of phase 1 over the stacked gamma fails. (Under LARC this run clips both multipliers
    at the global rate at step 2, so a stale norm changes nothing there: LARS only.)"""
    if run["c"].lars_clip:
        pytest.skip("LARC's multiplier is clipped at step 2 whatever the norm")
    witness = _witness(run, stale((1, f"bn1.NP{value}"), (2, f"bn1.NP{value}")))
    assert witness[f"bn1.LAM{value}"][2] != run["witness"][f"bn1.LAM{value}"][2]
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


@pytest.mark.parametrize("value", ["Gamma", "beta"])
def test_buffer_driven_by_another_gradient_is_rejected(run, monkeypatch, value):
    """gamma's (beta's) LARS step runs on a doubled dgamma (its norm and trust ratio follow, so the
    gadget is honest): the norm sumcheck's claims on the stacked dgamma and the buffer relation's
    functional are Hadamard functionals over dy and X, which phase 1 and 2 check; phase 1 fails
    first."""
    honest = semantics.backward
    which = "g_gamma" if value == "Gamma" else "g_beta"

    def altered(*args, **kwargs):
        bw = honest(*args, **kwargs)
        return dataclasses.replace(bw, **{which: 2 * np.asarray(getattr(bw, which), dtype=object)})

    monkeypatch.setattr(semantics, "backward", altered)
    _rejected(run, _cheat(run, _witness(run)), _phase_1_fails(run))


def test_update_by_another_trust_ratio_than_the_gadgets_is_rejected(run, monkeypatch):
    """gamma's and beta's updates (only theirs) run with lambda + 1 while the trust-ratio gadget
    proves the honest lambda: their buffer relations' claims on lambda, through the table
    M = eq(p, c) K lambda, are read off the gadget's committed lambda slots."""
    honest = pt.update_multiplier
    bn_groups = {"bn1.NPGamma", "bn1.NPbeta"}
    seen: list = []

    def hook(t):
        def h(name, value):
            seen.append(name)
            return value
        return h

    def multiplier(n, m, lr, spec, k):  # the call that follows emitting a BN tensor's norms
        return honest(n, m, lr, spec, k) + (1 if seen and seen[-1].startswith("bn1.NG") else 0)

    monkeypatch.setattr(pt, "update_multiplier", multiplier)
    monkeypatch.setattr(pt, "check_lars_multipliers", lambda *a: None)
    witness = _witness(run, hook)
    assert bn_groups <= set(seen)
    honest_lam = run["witness"]["bn1.LAMGamma"]
    assert (np.asarray(witness["bn1.LAMGamma"]) != np.asarray(honest_lam)).any()
    lam = re.escape(run["c"].trust().slots("lam"))
    _rejected(run, _cheat(run, witness), rf"^{lam}: slots do not recompose to the claimed value$")


@pytest.mark.parametrize("value", ["VGamma", "Vbeta"])
def test_checkpoint_of_a_padded_step_is_rejected(run, value):
    """The published bn1.VGamma.T (Vbeta) is the buffer after the last padded step, decayed by mu:
    the walk reads the stacked buffer's slots at the last real step."""
    witness = dict(run["witness"])
    witness[f"bn1.{value}.T"] = np.asarray(witness[f"bn1.{value}"][-1]).reshape(witness[f"bn1.{value}.T"].shape)
    assert not np.array_equal(witness[f"bn1.{value}.T"], run["witness"][f"bn1.{value}.T"])
    _rejected(run, _cheat(run, witness), rf"^bn1\.{value}\.limbs: slots do not recompose to the claimed value$")

