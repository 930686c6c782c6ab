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
from test_momentum_proof import MODES, _SUMCHECK_ROUND, _cheat, _phase_1_fails, _rejected, proven_run, transcript_labels

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


def test_norm_is_provable_with_every_optimizer():
    """gamma and beta are trained tensors of every optimizer (tests/test_ghost_bn_momentum.py,
    test_ghost_bn_lars.py, test_ghost_bn_lamb.py): the circuit refuses none."""
    c = _circuit(optimizer="lars", momentum=(9, 4), weight_decay=(0, 0), trust_coefficient=(1, 10), lars_eps=1, inv_c=1)
    assert c.trained_tensors()[-2:] == [("Gamma", 1), ("beta", 1)] and c.trust().group_vars == 3


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


# --- inference in evaluation mode (issue 17 item 2) -------------------------------------------

_BN_RUNS: dict = {}


def _bn_trained(zk: bool):
    """The tiny run with Ghost BN (ghost batches of 4), proven: (training bundle, model file)."""
    from tiny_run import tiny_run
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    if zk not in _BN_RUNS:
        cfg = tiny_run({"zk": zk})
        cfg["model"]["norm"] = {"name": "ghost_batchnorm", "virtual_batch_size": 4}
        bundle, summary = prove_run(parse_run(cfg))
        _BN_RUNS[zk] = bundle, summary.model
    return _BN_RUNS[zk]


def _inputs(rows: int) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, X=np.random.default_rng(5).normal(size=(rows, 4)))
    return buf.getvalue()


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
@pytest.mark.parametrize("rows", [3, 8])
def test_inference_of_a_ghost_bn_model_verifies(zk, rows):
    """Predictions of the trained model in evaluation mode (the running statistics), proven
    against the training bundle's final commitments, gamma, beta, RM and RV included: 3 inputs
    (5 padded rows, where the eval gadget's masked statistics keep every value zero) and 8.
    The proven logits are the engine's eval-mode forward."""
    from verifier.inference_bundle import verify_inference_bundle
    from zktrain.fixedpoint.engine import FixedPointMLP
    from zktrain.inference import load_inputs, prove_inference_run

    bundle, model = _bn_trained(zk)
    inference, summary = prove_inference_run(model.to_bytes(), bundle, _inputs(rows), zk=zk, backend="cpu")
    report = verify_inference_bundle(inference, bundle)
    assert report.accepted, report.reason
    from verifier.bundle import parse_bundle

    recipe = parse_bundle(bundle).recipe
    norms = [tuple(model.tensors[f"bn1.{v}"] for v in ("Gamma", "beta", "RM", "RV"))]
    engine = FixedPointMLP(recipe, [model.tensors["W1"], model.tensors["W2"]], [model.tensors["b1"], model.tensors["b2"]],
                           norms=norms)
    assert np.array_equal(summary.logits, engine.forward(load_inputs(_inputs(rows), recipe)))


class _Inference:
    """A prover of inference for the Ghost BN model, step by step, so that a test can deviate:
    ``records`` (``forward_records`` of the engine's eval forward with ``norms``), then
    ``prove`` with the training bundle's commitments opened with the witness's values."""

    def __init__(self, zk: bool, rows: int = 8):
        from verifier.bundle import parse_bundle
        from zktrain.inference import load_inputs

        self.zk = zk
        self.bundle, self.model = _bn_trained(zk)
        parsed = parse_bundle(self.bundle)
        self.recipe, self.final = parsed.recipe, parsed.final
        self.x = load_inputs(_inputs(rows), self.recipe)
        t = self.model.tensors
        self.weights, self.biases = [t["W1"], t["W2"]], [t["b1"], t["b2"]]
        self.norms = [tuple(t[f"bn1.{v}"] for v in ("Gamma", "beta", "RM", "RV"))]

    def records(self, norms=None):
        from circuits.inference import InferenceCircuit
        from prover.inference import forward_records
        from zktrain.fixedpoint.engine import FixedPointMLP

        norms = norms or self.norms
        layers = FixedPointMLP(self.recipe, self.weights, self.biases, norms=norms).forward_layers(self.x)
        self.circuit = InferenceCircuit.from_recipe(self.recipe, len(self.x))
        return forward_records(self.circuit, self.x, layers, norms)

    def rejected(self, records, match, channel_mixin=None):
        """Prove ``records`` (the logits their ZP2) with the walk's own checks skipped, and
        require the verifier's rejection ``match``."""
        from prover.inference import inference_witness, weight_openings
        from prover.zk_training import ZkProverChannel
        from verifier.errors import VerifyError
        from verifier.inference import InferenceStatement, InferenceWalk, verify_inference
        from verifier.inference_bundle import training_digest

        c = self.circuit
        witness = inference_witness(c, records, self.weights, self.biases)
        logits = np.asarray(records["ZP2"])[: len(self.x), : c.widths[-1]]
        statement = InferenceStatement(c, self.recipe.to_canonical_json(), training_digest(self.bundle), self.x, logits)
        pre = weight_openings(statement, self.final.public, witness, self.model.blinds)
        base = ZkProverChannel if self.zk else ProverChannel
        channel_type = type("Cheat", (channel_mixin, base), {}) if channel_mixin else base
        channel = channel_type(statement, witness, get_backend("cpu"), pre, random.Random(1))

        class Reckless(InferenceWalk):
            def _require(self, ok, reason):
                pass
        Reckless(statement, channel).run()
        with pytest.raises(VerifyError, match=match):
            verify_inference(statement, {n: self.final.public[n] for n in statement.weight_tensors()},
                             channel.proof_bytes(), self.zk)


def _output_layer(inf: _Inference, records: dict) -> dict:
    """The output layer recomputed from ``records["IN2"]`` on Python ints (a cheat's consistent
    logits): Z_2 = A_1 W_2^T + 2^R [n < N] b_2 = 2^S Z'_2 + Rem_2."""
    from circuits.semantics import rescale

    c, out = inf.circuit, dict(records)
    rows, (d1, d2) = 1 << c.batch_vars, (1 << c.width_vars(1), 1 << c.width_vars(2))
    w, b = np.zeros((d2, d1), dtype=object), np.zeros(d2, dtype=object)
    w[: c.widths[2], : c.widths[1]], b[: c.widths[2]] = inf.weights[1], inf.biases[1]
    real = (np.arange(rows) < c.rows).astype(object)[:, None]
    z = np.asarray(out["IN2"], dtype=object).dot(w.T) + real * (b[None, :] << c.frac_bits)
    pairs = np.vectorize(lambda v: rescale(int(v), c.rescale_bits), otypes=[object])(z)
    out["ZP2"] = np.vectorize(lambda p: p[0], otypes=[object])(pairs).astype(np.int64)
    out["REM2"] = np.vectorize(lambda p: p[1], otypes=[object])(pairs).astype(np.int64)
    return out


_OPENS = {False: r"^hyrax opening: a combined row does not match", True: r"^inner-product argument: final check fails$"}


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_inference_with_the_batchs_own_statistics_is_rejected(zk):
    """Train-mode BN at inference: the prover normalizes with this batch's mean and variance
    (every relation holds for them) and opens the training bundle's bn1.RM.T, bn1.RV.T with
    them: the eval gadget's claims on the statistics are opened against the commitments."""
    inf = _Inference(zk)
    z = np.asarray(inf.records()["ZP1"])[: len(inf.x), :8]
    mean = z.sum(axis=0) // len(z)  # at 2^R
    rm, rv = mean << 16, ((z - mean[None, :]) ** 2).sum(axis=0) // len(z)  # at 2^(2R)
    assert not np.array_equal(rm, inf.norms[0][2])
    gamma, beta = inf.norms[0][:2]
    inf.rejected(inf.records([(gamma, beta, rm, rv)]), _OPENS[zk])


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_inference_normalizing_another_tensor_is_rejected(zk, monkeypatch):
    """The eval gadget normalizes 2 Z'_1 (the ReLU, the next layer and the logits follow from
    it) while the matmul produced Z'_1: the gadget's claim on x is read off Z1's slots."""
    import prover.inference as pi

    witness = pi.ghost_bn_eval_witness
    monkeypatch.setattr(pi, "ghost_bn_eval_witness", lambda g, x, *rest: witness(g, 2 * np.asarray(x), *rest))
    inf = _Inference(zk)
    inf.rejected(_output_layer(inf, inf.records()), r"^Z1\.limbs: slots do not recompose to the claimed value")


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_inference_relu_on_another_output_is_rejected(zk):
    """The gadget proves the honest Y while the ReLU's phase reads Y + 1 (its slots N1 and
    everything after follow Y + 1): the gadget's claim on Y is read off the ReLU's slots."""
    inf = _Inference(zk)
    honest = inf.records()
    cheat = dict(honest)
    y = np.asarray(honest["NP1"]) + (np.arange(len(honest["NP1"])) < len(inf.x))[:, None]
    cheat["NP1"] = y
    cheat["S1"] = (y <= 0).astype(np.int64)
    cheat["IN2"] = np.where(cheat["S1"] == 1, 0, y)
    cheat = _output_layer(inf, cheat)

    class SwapBeforeRelu:
        """The witness's Y is the gadget's honest one until the ReLU's phase, then Y + 1."""

        def phase(self, label, reductions):
            if label == b"phase-relu":
                self.witness["bn1.Y"] = y.astype(object)
            return super().phase(label, reductions)

    inf.rejected(cheat, r"^N1\.limbs: slots do not recompose to the claimed value", SwapBeforeRelu)


def test_ghost_bn_relations_open_their_transcript_domain(run, monkeypatch):
    """The normalization module's gadgets open with their own domain label, after phase 1 and
    before the first gadget's first challenge: an accepted proof passed it, so a proof made
    without it is not this one."""
    seen = transcript_labels(monkeypatch)
    run["verify"](run["statement"], run["public"], run["proof"])
    i = seen.index(b"ghost-bn")
    assert b"phase-1" in seen[:i] and seen[i + 1] == b"ghost-bn-w"


def test_ghost_bn_eval_opens_its_transcript_domain(monkeypatch):
    """Likewise the inference walk's eval gadgets: after the forward phase, before their first
    challenge."""
    from verifier.inference_bundle import verify_inference_bundle
    from zktrain.inference import prove_inference_run

    bundle, model = _bn_trained(False)
    inference, _ = prove_inference_run(model.to_bytes(), bundle, _inputs(3), zk=False, backend="cpu")
    seen = transcript_labels(monkeypatch)
    assert verify_inference_bundle(inference, bundle).accepted
    i = seen.index(b"ghost-bn-eval")
    assert b"phase-forward" in seen[:i] and seen[i + 1] == b"ghost-bn-eval-w"
