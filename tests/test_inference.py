"""Proofs of inference (issue 13, item 3; ``verifier/inference.py``, ``verifier/inference_bundle.py``).

A tiny run (4 -> 8 -> 3, ``tests/tiny_run.py``) is proven in each mode; its model then
proves the logits of N = 5 inputs (rows padded to 8, outputs to 4), so padded rows, padded
features, a hidden ReLU layer and the bias predicate [n < N] are all exercised. Each case runs
over both modes and, where the range gadget matters, both gadgets (limbs with logUp-GKR, bits
with booleanity): the ``case`` fixture proves the honest inference with the mode's prover
channel, and the helpers take everything from it.

Completeness: the honest bundle verifies, through the API, ``zktrain verify --training`` and
``python -m verifier --training``; its predictions are the engine's; a digits model's proven
predictions keep the float model's accuracy within one point. Soundness: each case names the
check that must reject it (issue 12), as ``tests/test_training_proof.py`` does: another
model's commitments, an output or an input altered (in the bytes, and by a prover that proves
the altered statement), a wrong ReLU sign, a skipped ReLU, a flipped ReLU paid for with an
out-of-range slot, an out-of-range remainder, a training bundle that does not verify, another
recorded digest, truncated and trailing bytes, every malformed header field, and a tiny bundle
declaring a huge N (rejected with little memory).

Committed inputs (the ``committed_case`` fixtures: the bundle holds a commitment to X.s): they
verify in both modes with both gadgets and can be disclosed; rejected, each by the check named:
an input outside its width committed with slots that recompose to it (the range check), a
nonzero padded row or feature (the padding zero-check), a proof on other inputs than those
committed (the slots' recomposition, or the opening of X.s), a disclosed file differing in one
entry and every kind of wrong opening (the disclosure check), the inputs byte relabelled (the
parser, and the transcript); the zero-knowledge proof reveals none of the input values.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from cheats import recounted
from click.testing import CliRunner
from tiny_run import tiny_run

import verifier.inference as inference
import verifier.training as training
from circuits.data import encode_inputs
from circuits.inference import MAX_ROWS, InferenceCircuit
from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.commit.hyrax import HyraxWitness
from prover.inference import commit_inputs, forward_records, inference_witness, input_opening, weight_openings
from prover.training import ProverChannel, commit_width, rescale
from prover.zk_training import ZkProverChannel
from verifier import field
from verifier.bundle import parse_bundle
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.inference import InferenceStatement, InferenceWalk, verify_inference
from verifier.inference_bundle import (
    encode_inference_bundle,
    parse_inference_bundle,
    training_digest,
    verify_inference_bundle,
)
from verifier.inference_inputs import InputsOpening, bind_inputs, commitment_digest, read_inputs
from verifier.model import DisclosedModel
from verifier.training import VerifierChannel
from verifier.transcript import Transcript
from verifier.zk_training import ZkVerifierChannel
from zktrain.cli import main
from zktrain.fixedpoint.engine import FixedPointMLP
from zktrain.inference import load_inputs, prove_inference_run
from zktrain.prove import prove_run
from zktrain.run_config import parse_run

N = 5
HEADER = 15  # magic, version, curve, hash, mode, kind, range (verifier.bundle.read_header)
INPUTS_AT = HEADER + 32 + 4  # the inputs byte: after the training digest and N
CASES = ["clear-limbs", "zk-limbs", "clear-bits", "zk-bits"]
_TRAINED: dict = {}


def trained(mode: str, seed: int = 3, features: int = 4) -> tuple[bytes, DisclosedModel]:
    """The tiny run proven in ``mode`` (``seed``: another run, another model; ``features``:
    the input width, 4 or a width with padding): the training bundle and the model file's
    content, proven once per configuration."""
    if (mode, seed, features) not in _TRAINED:
        shape = {} if features == 4 else {
            "model": {"kind": "mlp", "widths": [features, 8, 3], "bias": True},
            "data": {"source": "synthetic", "n": 64, "d": features, "classes": 3, "seed": 1},
        }
        run = tiny_run({"zk": mode == "zk"}, name="tiny-infer", seed=seed, **shape)
        bundle, summary = prove_run(parse_run(run))
        _TRAINED[mode, seed, features] = (bundle, summary.model)
    return _TRAINED[mode, seed, features]


def raw_inputs(seed: int = 0, features: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).random((N, features))


def _npy(array) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


class _Recording:
    """Mixin: records the values behind every evaluation and slot message (ZK: the openings')."""

    sent: list

    def evaluation(self, tensor, point):
        value = super().evaluation(tensor, point)
        self.sent.append(getattr(value, "value", value))
        return value

    def slices(self, tensor, decomposition, point):
        values = super().slices(tensor, decomposition, point)
        self.sent.extend(getattr(v, "value", v) for v in values[: decomposition.num_slots])
        return values


class _RecklessWalk(InferenceWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


class Case:
    """One honest inference (a mode, a range gadget, public or committed inputs) and the means
    to prove deviations."""

    def __init__(self, name: str, x_raw: np.ndarray | None = None, committed: bool = False, features: int = 4):
        self.mode, self.gadget = name.split("-")
        self.zk, self.committed = self.mode == "zk", committed
        self.training, self.model = trained(self.mode, features=features)
        parsed = parse_bundle(self.training)
        self.recipe, self.final = parsed.recipe, parsed.final
        self.weights = [self.model.tensors[f"W{l}"] for l in (1, 2)]
        self.biases = [self.model.tensors[f"b{l}"] for l in (1, 2)]
        self.x_raw = raw_inputs(features=features) if x_raw is None else x_raw
        self.x = encode_inputs(self.x_raw, self.recipe.quant.frac_bits)
        self.layers = FixedPointMLP(self.recipe, self.weights, self.biases).forward_layers(self.x)
        self.circuit = InferenceCircuit.from_recipe(self.recipe, N, self.gadget, committed)
        self.records = forward_records(self.circuit, self.x, self.layers)
        self.backend = get_backend("cpu")
        #: committed inputs: the commitment to the honest X.s and its opening witness
        self.opened = commit_inputs(self.circuit, self.witness(), random.Random(7)) if committed else None
        self.statement = self.statement_for(self.layers[-1][0])
        self.bundle = self.prove()

    @property
    def channel_type(self):
        return ZkProverChannel if self.zk else ProverChannel

    def statement_for(self, outputs, inputs=None, **changes) -> InferenceStatement:
        """The statement of ``outputs`` (and, public inputs, ``inputs``; committed, the case's
        commitment unless ``changes`` names another ``input_commitment``)."""
        if self.committed:
            st = InferenceStatement(self.circuit, self.recipe.to_canonical_json(), training_digest(self.training),
                                    None, np.asarray(outputs, dtype=np.int64), self.opened[0])
        else:
            st = InferenceStatement(self.circuit, self.recipe.to_canonical_json(), training_digest(self.training),
                                    self.x if inputs is None else inputs, np.asarray(outputs, dtype=np.int64))
        return dataclasses.replace(st, **changes) if changes else st

    def witness(self, records=None) -> dict:
        return inference_witness(self.circuit, self.records if records is None else records, self.weights, self.biases)

    def channel(self, statement=None, witness=None, walk=InferenceWalk, channel_type=None, commitments=None,
                blinds=None, opened=None, seed=1):
        """The prover channel after walking ``witness`` for ``statement`` (default: honest);
        ``opened``: the committed inputs' (commitment, opening witness), default the case's."""
        statement = statement or self.statement
        witness = self.witness() if witness is None else witness
        pre = weight_openings(statement, commitments or self.final.public, witness, blinds or self.model.blinds)
        pre.update(input_opening(statement, opened or self.opened))
        channel = (channel_type or self.channel_type)(statement, witness, self.backend, pre, random.Random(seed))
        channel.sent = []
        walk(statement, channel).run()
        return channel

    def prove(self, statement=None, **kwargs) -> bytes:
        statement = statement or self.statement
        return encode_inference_bundle(statement, self.channel(statement, **kwargs).proof_bytes(), self.zk)

    def verify_proof(self, bundle: bytes) -> int:
        """The inference bundle's own proof against the training bundle's final commitments
        (the training bundle's verification is its own case)."""
        parsed = parse_inference_bundle(bundle, self.recipe)
        weights = {name: self.final.public[name] for name in parsed.statement.weight_tensors()}
        return verify_inference(parsed.statement, weights, parsed.proof, parsed.zk)

    def opening(self) -> bytes:
        """Committed inputs: the opening file of the case's commitment."""
        commitment, opened = self.opened
        return InputsOpening(commitment_digest(commitment), list(opened.blinds)).to_bytes()


_CASES: dict = {}


@pytest.fixture(scope="module", params=CASES)
def case(request) -> Case:
    if request.param not in _CASES:
        _CASES[request.param] = Case(request.param)
    return _CASES[request.param]


@pytest.fixture(scope="module", params=["clear-limbs", "zk-limbs"])
def mode_case(request) -> Case:
    """The cases where only the mode matters (the range gadget is not involved)."""
    if request.param not in _CASES:
        _CASES[request.param] = Case(request.param)
    return _CASES[request.param]


def _committed(name: str) -> Case:
    if (name, "committed") not in _CASES:
        _CASES[name, "committed"] = Case(name, committed=True)
    return _CASES[name, "committed"]


@pytest.fixture(scope="module", params=CASES)
def committed_case(request) -> Case:
    """Committed inputs, in each mode and with each range gadget."""
    return _committed(request.param)


@pytest.fixture(scope="module", params=["clear-limbs", "zk-limbs"])
def committed_mode_case(request) -> Case:
    """Committed inputs where only the mode matters."""
    return _committed(request.param)


@pytest.fixture(scope="module")
def zk_case() -> Case:
    """The zero-knowledge case with limbs, for the properties of that mode alone."""
    if "zk-limbs" not in _CASES:
        _CASES["zk-limbs"] = Case("zk-limbs")
    return _CASES["zk-limbs"]


# --- the checks that reject: patterns of the verifier's reasons (as test_training_proof.py) ---

_SUMCHECK_ROUND = {
    "clear": r"sumcheck round \d+: p\(0\) \+ p\(1\) does not match the claim",
    "zk": r"zk sumcheck round \d+: proof of dot product",
}
_LOGUP_TOP = {
    "clear": r"^logup-top: sumcheck: final evaluations do not match the last round polynomial",
    "zk": r"^logup-top: proof of equality",
}
#: An opening of a committed tensor against a claim it does not satisfy: the clear mode's batched
#: group equation, the zero-knowledge mode's inner-product argument.
_OPENING = {
    "clear": r"^hyrax opening: a combined row does not match its row commitments$",
    "zk": r"^inner-product argument: final check fails$",
}


def _phase_fails(case: Case, label: str) -> str:
    return rf"^{label}: {_SUMCHECK_ROUND[case.mode]}"


def _range_check_fails(case: Case) -> str:
    """A slot outside its range: the logUp sum (limbs), or booleanity in phase-forward (bits)."""
    return _LOGUP_TOP[case.mode] if case.gadget == "limbs" else _phase_fails(case, "phase-forward")


def _rejected(case: Case, bundle: bytes, match: str) -> None:
    assert isinstance(match, str) and match, "a soundness case names the check that rejects it"
    with pytest.raises(VerifyError, match=match):
        case.verify_proof(bundle)


def _recompute(case: Case, records: dict, after: int) -> tuple[dict, np.ndarray]:
    """The forward pass from A_after on (``records["IN{after + 1}"]`` as the cheat left it),
    by the relation written plainly on Python ints: a cheating prover's consistent witness.
    Returns the records and the logits [N, d_L] they end on."""
    c, S, out = case.circuit, case.circuit.rescale_bits, dict(records)
    rows = 1 << c.batch_vars
    real = (np.arange(rows) < c.rows).astype(object)[:, None]
    for l in range(after + 1, c.layers + 1):
        w = np.zeros((1 << c.width_vars(l), 1 << c.width_vars(l - 1)), dtype=object)
        b = np.zeros(1 << c.width_vars(l), dtype=object)
        w[: c.widths[l], : c.widths[l - 1]], b[: c.widths[l]] = case.weights[l - 1], case.biases[l - 1]
        z = out[f"IN{l}"].astype(object).dot(w.T) + real * (b[None, :] << c.frac_bits)
        zp, rem = rescale(z, S)
        out[f"ZP{l}"], out[f"REM{l}"] = zp.astype(np.int64), rem.astype(np.int64)
        if l < c.layers:
            out[f"S{l}"] = (out[f"ZP{l}"] <= 0).astype(np.int64)
            out[f"IN{l + 1}"] = np.where(out[f"S{l}"] == 1, 0, out[f"ZP{l}"])
    return out, out[f"ZP{c.layers}"][: c.rows, : c.widths[-1]]


# --- completeness ----------------------------------------------------------------------------


def test_honest_inference_verifies(case):
    report = verify_inference_bundle(case.bundle, case.training)
    assert report.accepted, report.reason
    engine = FixedPointMLP(case.recipe, case.weights, case.biases)
    assert report.predictions == engine.predict(case.x).tolist()
    assert report.logits == engine.forward(case.x).tolist()
    assert (report.mode, report.range_check, report.rows) == (case.mode, case.gadget, N)
    assert report.soundness_bits > 200 and report.training_soundness_bits > 200
    assert report.training_digest == training_digest(case.training).hex()
    assert "training bundle of SHA-256" in report.artifacts["model"]


def test_product_path_gives_the_same_statement(mode_case):
    """``zktrain.inference.prove_inference_run`` (model file, training bundle, inputs file)
    proves the very statement the test harness builds, and its bundle verifies."""
    case = mode_case
    bundle, summary = prove_inference_run(case.model.to_bytes(), case.training, npz(X=raw_inputs()), backend="cpu")
    parsed = parse_inference_bundle(bundle, case.recipe)
    assert parsed.zk == case.zk and parsed.statement.public_values() == case.statement.public_values()
    assert summary.predictions == case.statement.predictions
    assert verify_inference_bundle(bundle, case.training).accepted


def test_clear_inference_of_a_zk_trained_model(zk_case):
    """The inference mode is the prover's choice: a clear proof of a ZK-trained model verifies
    (and reveals evaluations of the weights: SECURITY.md)."""
    bundle, _ = prove_inference_run(zk_case.model.to_bytes(), zk_case.training, npz(X=raw_inputs()), zk=False,
                                    backend="cpu")
    report = verify_inference_bundle(bundle, zk_case.training)
    assert report.accepted and (report.mode, report.training_mode) == ("clear", "zk"), report.reason


def test_one_input(mode_case):
    """N = 1: no row variables at all."""
    bundle, summary = prove_inference_run(mode_case.model.to_bytes(), mode_case.training, npz(X=raw_inputs()[:1]),
                                          backend="cpu")
    report = verify_inference_bundle(bundle, mode_case.training)
    assert report.accepted and report.rows == 1 and report.predictions == summary.predictions, report.reason


def test_zk_proof_reveals_no_witness_value(mode_case):
    """The ZK proof holds commitments only: none of the values the ZK prover committed to (slot
    values, bias evaluations) nor the weights appears in it; the clear proof shows its values."""
    case = mode_case
    recording = type("Recording", (_Recording, case.channel_type), {})
    channel = case.channel(channel_type=recording)
    proof, values = channel.proof_bytes(), {field.to_bytes(int(v) % R) for v in channel.sent if int(v) % R}
    weights = {field.to_bytes(int(v) % R) for w in case.weights for v in w.reshape(-1) if int(v) % R}
    assert len(values) > 10 and len(weights) > 30  # not vacuous
    if case.zk:
        assert not {v for v in values | weights if v in proof}
    else:
        assert {v for v in values if v in proof} == values


def test_zk_inference_batches_its_equations_and_keeps_each_rejection(zk_case, monkeypatch):
    """The ZK inference verifier defers its group equations to one batch (issue 18 item 2, as
    the training proof's, ``verifier.zk_training.with_deferred_equations``): the honest proof
    gives the per-equation verifier's degree sum, and flipped responses across the proof (round
    proofs of dot product, proofs of equality, the openings' inner-product arguments) are
    refused with exactly the per-equation verifier's message."""
    parsed = parse_inference_bundle(zk_case.bundle, zk_case.recipe)
    st, proof = parsed.statement, parsed.proof
    weights = {name: zk_case.final.public[name] for name in st.weight_tensors()}
    public = {**weights, **st.input_tensors()}

    def per_equation(p):
        return inference.inference_with(ZkVerifierChannel, st, public, p)

    def reason(verify, p):
        try:
            verify(p)
        except VerifyError as err:
            return str(err)
        return None

    deferred = []
    real = inference.with_deferred_equations
    monkeypatch.setattr(inference, "with_deferred_equations", lambda verify: deferred.append(1) or real(verify))
    assert verify_inference(st, weights, proof, True) == per_equation(proof) and deferred
    rng, kinds = random.Random(5), set()
    for _ in range(80):
        pos = rng.randrange(len(proof))
        tampered = proof[:pos] + bytes([proof[pos] ^ 0x10]) + proof[pos + 1:]
        expected = reason(per_equation, tampered)
        if expected and any(s in expected for s in ("proof of", "inner-product argument: final")):
            assert reason(lambda p: verify_inference(st, weights, p, True), tampered) == expected, pos
            kinds.add(expected.split(": ")[0])
    assert len(kinds) >= 2, kinds  # several phases (or the openings): the batch covers them all


def test_layout_depends_on_the_statement_shape_only(zk_case):
    """Other inputs (hence other logits, slots and multiplicities) give a proof of exactly the
    same length in the zero-knowledge mode."""
    other = Case("zk-limbs", raw_inputs(seed=9) * 0.5)
    assert len(other.bundle) == len(zk_case.bundle)


def test_proven_predictions_keep_the_float_models_accuracy_on_digits():
    """A digits model (64 -> 32 -> 10, 64 steps of batch 64) proven in the clear mode, then the
    proof of inference of the whole test set (359 digits): its predictions are the engine's,
    and their accuracy is within one point of the float model's (the model file's float32
    weights, evaluated in float64 on the raw features)."""
    from zktrain.data import load_dataset

    cfg = {"name": "digits-infer", "seed": 0, "data": {"source": "digits"},
           "model": {"kind": "mlp", "widths": [64, 32, 10], "bias": True},
           "train": {"batch_size": 64, "steps": 64, "optimizer": "sgd", "loss": "mse", "lr": 4.0},
           "quant": {"frac_bits": 16, "lr_shift": 16, "value_bits": 32}, "prove": {"zk": False, "backend": "cpu"}}
    bundle, summary = prove_run(parse_run(cfg))
    x, labels = load_dataset({"source": "digits"}).x_test, load_dataset({"source": "digits"}).y_test
    inference_bundle, _ = prove_inference_run(summary.model.to_bytes(), bundle, npz(X=x), backend="cpu")
    report = verify_inference_bundle(inference_bundle, bundle)
    assert report.accepted and report.rows == len(labels) == 359, report.reason
    recipe = parse_bundle(bundle).recipe
    weights = [summary.model.tensors[f"W{l}"] for l in (1, 2)]
    biases = [summary.model.tensors[f"b{l}"] for l in (1, 2)]
    engine = FixedPointMLP(recipe, weights, biases).predict(encode_inputs(x, recipe.quant.frac_bits))
    assert report.predictions == engine.tolist()
    floats = summary.model.floats()
    a = np.asarray(x, dtype=np.float64)
    for l in (1, 2):
        a = a @ floats[f"W{l}"].astype(np.float64).T + floats[f"b{l}"].astype(np.float64)
        a = np.maximum(a, 0) if l == 1 else a
    proven = float((np.array(report.predictions) == labels).mean())
    reference = float((a.argmax(axis=1) == labels).mean())
    assert proven > 0.85 and abs(proven - reference) <= 0.01, (proven, reference)


# --- soundness: the model -------------------------------------------------------------------


def test_inference_bundle_checked_against_another_training_bundle_rejected(mode_case):
    """The inference bundle names its training bundle's SHA-256; another bundle (another run's
    model) is refused by that name before any proof is checked."""
    other, _ = trained(mode_case.mode, seed=4)
    report = verify_inference_bundle(mode_case.bundle, other)
    assert not report.accepted
    assert re.match(r"^the inference bundle names the training bundle of SHA-256 [0-9a-f]{64}, but training bundle "
                    r"has [0-9a-f]{64}$", report.reason), report.reason


def test_inference_proved_with_another_models_commitments_rejected(mode_case):
    """The prover names training bundle B (its digest, its W_T commitments) but computes with
    the model of run A, opening B's commitments with A's values and blinds: every relation holds
    for A, so only the openings of the weights against B's commitments stand in the way."""
    case = mode_case
    other_bundle, _ = trained(case.mode, seed=4)
    parsed = parse_bundle(other_bundle)
    other = parsed.final.public
    statement = dataclasses.replace(case.statement, training_digest=training_digest(other_bundle),
                                    recipe=parsed.recipe.to_canonical_json())
    bundle = case.prove(statement, commitments=other)
    with pytest.raises(VerifyError, match=_OPENING[case.mode]):
        parsed = parse_inference_bundle(bundle, parsed.recipe)
        verify_inference(parsed.statement, {n: other[n] for n in statement.public_tensors()}, parsed.proof, case.zk)
    # Through the bundle API, with B as the training bundle it names: B verifies, the proof does not.
    report = verify_inference_bundle(bundle, other_bundle)
    assert not report.accepted and re.search(_OPENING[case.mode], report.reason), report.reason


def test_missing_weight_commitments_rejected(mode_case):
    case = mode_case
    parsed = parse_inference_bundle(case.bundle, case.recipe)
    weights = {name: case.final.public[name] for name in case.statement.public_tensors() if name != "b2.T"}
    with pytest.raises(VerifyError, match=r"^weight commitments missing: \['b2.T'\]$"):
        verify_inference(parsed.statement, weights, parsed.proof, case.zk)


# --- soundness: the public values ----------------------------------------------------------


def _edit_public(bundle: bytes, case: Case, which: str, delta: int) -> bytes:
    """The bundle with entry [0, 0] of the inputs or the logits changed by ``delta``."""
    start = INPUTS_AT + 1 + (0 if which == "inputs" else 8 * N * case.circuit.widths[0])
    value = int.from_bytes(bundle[start : start + 8], "little", signed=True) + delta
    return bundle[:start] + value.to_bytes(8, "little", signed=True) + bundle[start + 8 :]


@pytest.mark.parametrize("which", ["inputs", "outputs"])
def test_public_value_altered_in_the_bundle_rejected(mode_case, which):
    """The transcript absorbs the public values before the first challenge, so every challenge
    differs: the first check they reach, phase-forward's first round, fails."""
    _rejected(mode_case, _edit_public(mode_case.bundle, mode_case, which, 1), _phase_fails(mode_case, "phase-forward"))


def test_altered_output_proven_by_the_prover_rejected(mode_case):
    """The prover publishes logits off by one in one entry and proves that statement with the
    true witness: the output layer's forward claim (2^S Y + Rem = A W^T + 2^R b) is false."""
    case = mode_case
    outputs = case.statement.outputs.copy()
    outputs[1, 2] += 1
    _rejected(case, case.prove(case.statement_for(outputs)), _phase_fails(case, "phase-forward"))


def test_altered_input_proven_by_the_prover_rejected(mode_case):
    """The prover publishes other inputs (and the logits of the true ones), proving with the
    true witness: the claims on A_0 reach the verifier's own evaluation of the public inputs."""
    case = mode_case
    inputs = case.x.copy()
    inputs[0, 0] += 1
    bundle = case.prove(case.statement_for(case.statement.outputs, inputs=inputs), walk=_RecklessWalk)
    _rejected(case, bundle, r"^input claim is not the public inputs'$")


@pytest.mark.parametrize("which, value, reason", [
    ("outputs", 1 << 31, r"outputs\[0, 0\] = 2147483648 lies outside the recipe's value width Q \(32 signed bits\)"),
    ("outputs", -(1 << 31) - 1, r"outputs\[0, 0\] = -2147483649 lies outside the recipe's value width Q"),
    ("inputs", -(1 << 18) - 1, r"inputs\[0, 0\] = -262145 lies outside the recipe's input width \(19 signed bits\)"),
    ("inputs", 1 << 18, r"inputs\[0, 0\] = 262144 lies outside the recipe's input width \(19 signed bits\)"),
])
def test_public_value_outside_its_width_rejected(mode_case, which, value, reason):
    """The verifier checks the widths of the public values itself (the statement): logits one
    past Q = 32 signed bits either way, inputs one past the tiny recipe's 19 signed bits either
    way."""
    case = mode_case
    inputs, outputs = case.x.copy(), case.statement.outputs.copy()
    (inputs if which == "inputs" else outputs)[0, 0] = value
    with pytest.raises(ValueError, match=reason):
        case.statement_for(outputs, inputs=inputs)
    delta = value - int((case.x if which == "inputs" else case.statement.outputs)[0, 0])
    report = verify_inference_bundle(_edit_public(case.bundle, case, which, delta), case.training)
    assert not report.accepted and re.search(rf"^inference bundle: {reason}", report.reason), report.reason


def test_statement_refuses_malformed_public_values(mode_case):
    """A statement built by hand (the API, not the parser, which reads exactly these shapes):
    a digest of another length, inputs of another dtype or shape, logits of another shape."""
    case, st = mode_case, mode_case.statement
    with pytest.raises(ValueError, match=r"^training_digest: 31 bytes, a SHA-256 digest is 32$"):
        dataclasses.replace(st, training_digest=bytes(31))
    with pytest.raises(ValueError, match=r"^inputs: int64 of shape \(5, 4\) expected, got float64 \(5, 4\)$"):
        dataclasses.replace(st, inputs=case.x.astype(np.float64))
    with pytest.raises(ValueError, match=r"^inputs: int64 of shape \(5, 4\) expected, got int64 \(4, 4\)$"):
        dataclasses.replace(st, inputs=case.x[:4])
    with pytest.raises(ValueError, match=r"^outputs: int64 of shape \(5, 3\) expected, got int64 \(5, 2\)$"):
        dataclasses.replace(st, outputs=st.outputs[:, :2])


def test_proof_length_one_below_the_least_rejected(mode_case):
    """The least proof body the statement implies is an exact bound: one byte below it is
    refused by that bound (with the bytes to make up the total behind it)."""
    case = mode_case
    at = _proof_length_at(case)
    least = case.statement.min_proof_bytes(case.zk)
    bundle = case.bundle[:at] + (least - 1).to_bytes(8, "little") + case.bundle[at + 8 :]
    report = verify_inference_bundle(bundle, case.training)
    assert report.reason == f"inference bundle: proof body of {least - 1} bytes is shorter than the {least} its statement implies"


# --- soundness: the witness (a malicious prover) ---------------------------------------------


def _first(mask: np.ndarray) -> tuple[int, int]:
    n, j = np.argwhere(mask)[0]
    return int(n), int(j)


def _real(case: Case, layer: int) -> np.ndarray:
    """A mask of the real rows and features of a layer's [N', d_l'] tensors."""
    c = case.circuit
    mask = np.zeros((1 << c.batch_vars, 1 << c.width_vars(layer)), dtype=bool)
    mask[: c.rows, : c.widths[layer]] = True
    return mask


def test_wrong_relu_sign_rejected(mode_case):
    """The ReLU mask of one entry flipped (the next layer and the logits follow the flipped
    mask); Z1's committed slots keep the true sign. The zkReLU's claims on S1 become claims on
    Z1's sign slot, which only the ledger's reduction against Z1's commitment compares."""
    case = mode_case
    records = dict(case.records)
    n, j = _first(_real(case, 1) & (records["ZP1"] != 0))
    records["S1"] = records["S1"].copy()
    records["S1"][n, j] ^= 1
    records["IN2"] = np.where(records["S1"] == 1, 0, records["ZP1"])
    records, logits = _recompute(case, records, 1)
    assert (logits != case.statement.outputs).any()  # the flip changes the prediction's logits
    bundle = case.prove(case.statement_for(logits), witness=case.witness(records))
    _rejected(case, bundle, _phase_fails(case, "phase-ledger"))


def test_skipped_relu_rejected(mode_case):
    """A_1 = Z'_1, negative entries included: the masked Hadamard sumcheck of phase-relu."""
    case = mode_case
    records = dict(case.records, IN2=case.records["ZP1"].copy())
    assert (records["IN2"][_real(case, 1)] < 0).any()
    records, logits = _recompute(case, records, 1)
    bundle = case.prove(case.statement_for(logits), witness=case.witness(records))
    _rejected(case, bundle, _phase_fails(case, "phase-relu"))


def test_relu_flipped_by_an_out_of_range_slot_rejected(case):
    """A negative pre-activation let through the ReLU, its sign slot cleared and the top
    magnitude slot lowered by 2^(Q-1) over its weight, so the slots still recompose to Z' - 1:
    every relation holds, only the range of that slot stands in the way (the logUp sum for
    limbs, booleanity in phase-forward for bits)."""
    c = case.circuit
    d = c.z_slots(1)
    records = {k: v.copy() for k, v in case.records.items()}
    n, j = _first(_real(case, 1) & (records["ZP1"] < 0))
    records["S1"][n, j] = 0
    records["IN2"][n, j] = records["ZP1"][n, j]
    records, logits = _recompute(case, records, 1)
    witness = case.witness(records)
    name = c.ranged("Z1")
    slots = witness[name].astype(np.int64)
    honest = d.compose(slots[n, j])
    weights, top = d.weights(), d.sign_slot - 1
    slots[n, j, d.sign_slot] = 0
    slots[n, j, top] -= -weights[d.sign_slot] // weights[top]
    assert d.compose(slots[n, j]) == honest
    witness[name] = slots
    bundle = case.prove(case.statement_for(logits), witness=recounted(c, witness))
    _rejected(case, bundle, _range_check_fails(case))


def test_out_of_range_remainder_rejected(case):
    """Logits one lower in an entry, paid for by an output remainder 2^S higher (outside
    [-2^(S-1), 2^(S-1))): 2^S Z' + Rem is unchanged, so only the remainder's range check stands
    in the way. The slots recompose to it with the top slot 2^S over its weight higher."""
    c, S = case.circuit, case.circuit.rescale_bits
    d = c.rem_slots()
    outputs = case.statement.outputs.copy()
    outputs[0, 0] -= 1
    witness = case.witness()
    name = c.ranged("R2")
    slots = witness[name].astype(np.int64)
    top = d.num_slots - 1
    slots[0, 0, top] += (1 << S) // d.weights()[top]
    assert d.compose(slots[0, 0]) == case.records["REM2"][0, 0] + (1 << S)
    witness[name] = slots
    bundle = case.prove(case.statement_for(outputs), witness=recounted(c, witness))
    _rejected(case, bundle, _range_check_fails(case))


def test_slots_disagreeing_with_the_claimed_pre_activation_rejected(mode_case):
    """The ReLU computed on Z' + 1 while Z1's slots hold Z': the claim on Z'_1 from phase-relu
    reaches slots that do not recompose to it (a failing proof of equality in ZK)."""
    case = mode_case
    records = {k: v.copy() for k, v in case.records.items()}
    n, j = _first(_real(case, 1) & (records["ZP1"] > 0))
    records["ZP1"][n, j] += 1
    records["IN2"][n, j] += 1
    records, logits = _recompute(case, records, 1)
    witness = case.witness(records)
    witness[case.circuit.ranged("Z1")] = case.witness()[case.circuit.ranged("Z1")]
    bundle = case.prove(case.statement_for(logits), witness=recounted(case.circuit, witness), walk=_RecklessWalk)
    _rejected(case, bundle, rf"^{re.escape(case.circuit.ranged('Z1'))}: slots do not recompose to the claimed value$")


# --- soundness: the statement's binding ----------------------------------------------------


def test_proof_bound_to_its_statement(mode_case):
    """The transcript absorbs the statement: the recipe bytes, the training digest, the circuit
    (here other learning rates under the same recipe bytes) and the mode each change every
    challenge, so a proof of one statement fails phase-forward's first round under another."""
    case = mode_case
    parsed = parse_inference_bundle(case.bundle, case.recipe)
    weights = {name: case.final.public[name] for name in case.statement.public_tensors()}
    model = case.circuit.model
    others = [
        dataclasses.replace(parsed.statement, recipe=parsed.statement.recipe + b" "),
        dataclasses.replace(parsed.statement, training_digest=bytes(32)),
        dataclasses.replace(parsed.statement, circuit=dataclasses.replace(
            case.circuit, model=dataclasses.replace(model, lr=tuple(v + 1 for v in model.lr)))),
    ]
    for statement in others:
        with pytest.raises(VerifyError, match=_phase_fails(case, "phase-forward")):
            verify_inference(statement, weights, parsed.proof, case.zk)
    verifier_channel = ZkVerifierChannel if case.zk else VerifierChannel
    other_mode = (VerifierChannel if case.zk else ZkVerifierChannel).mode
    relabeled = type("Relabeled", (verifier_channel,), {"mode": other_mode})
    channel = relabeled(parsed.statement, weights, parsed.proof, pedersen_generators())
    with pytest.raises(VerifyError, match=_phase_fails(case, "phase-forward")):
        InferenceWalk(parsed.statement, channel).run()


def test_proof_of_another_format_version_rejected(mode_case, monkeypatch):
    """The format version is absorbed first: a proof made under another one fails."""
    case = mode_case
    monkeypatch.setattr(inference, "FORMAT_VERSION", inference.FORMAT_VERSION + 1)
    bundle = case.prove()
    monkeypatch.undo()
    _rejected(case, bundle, _phase_fails(case, "phase-forward"))


class _RecordingTranscript(Transcript):
    """Records (operation, label) of every absorb, separator and challenge."""

    def __init__(self, domain):
        super().__init__(domain)
        self.log = [("domain", domain)]

    def domain_separate(self, label):
        self.log.append(("separate", label))
        super().domain_separate(label)

    def absorb_bytes(self, label, data):
        self.log.append(("absorb", label))
        super().absorb_bytes(label, data)

    def challenge_bytes(self, label, n=64):
        self.log.append(("challenge", label))
        return super().challenge_bytes(label, n)


def _transcript_log(case: Case, monkeypatch) -> list:
    monkeypatch.setattr(training, "Transcript", _RecordingTranscript)
    parsed = parse_inference_bundle(case.bundle, case.recipe)
    public = {**{name: case.final.public[name] for name in case.statement.weight_tensors()},
              **parsed.statement.input_tensors()}
    channel = (ZkVerifierChannel if case.zk else VerifierChannel)(
        parsed.statement, public, parsed.proof, pedersen_generators())
    InferenceWalk(parsed.statement, channel).run()
    return channel.transcript.log


@pytest.mark.parametrize("committed", [False, True], ids=["public inputs", "committed inputs"])
def test_statement_absorbed_before_the_first_challenge(mode_case, committed, monkeypatch):
    """DESIGN section 9, Fiat-Shamir order: the domain, format version, mode, recipe, training
    digest, circuit, the inputs' binding, public values, the public commitments (the committed
    inputs' X.s, then the weights'), then every witness commitment, all before the first
    challenge (checked on the verifier's transcript)."""
    case = _committed(f"{mode_case.mode}-{mode_case.gadget}") if committed else mode_case
    log = _transcript_log(case, monkeypatch)
    first = next(i for i, (op, _) in enumerate(log) if op == "challenge")
    commitments = [f"commitment:{name}".encode() for name in case.statement.committed_tensors()]
    assert (commitments[0] == f"commitment:{case.circuit.input_tensor()}".encode()) == committed
    assert log[:first] == [("domain", b"zktrain/infer")] + [("absorb", label) for label in [
        b"format-version", b"mode", b"recipe", b"training-bundle", b"circuit", b"inputs", b"public-values",
        *commitments]]
    # The claims ledger is a sub-protocol of its own: separated before its batching coefficients.
    ledger = log.index(("separate", b"ledger"))
    assert log[ledger + 1] == ("challenge", b"combine") and ("separate", b"phase-ledger") in log[ledger:]


class _ShortChannel:
    """A channel whose slot values come one short (no verifier channel does: both read or pad
    exactly padded_width values)."""

    transcript = Transcript(b"test")

    def slices(self, tensor, decomposition, point):
        return [0] * (decomposition.padded_width - 1)


def test_walk_refuses_a_channel_with_the_wrong_number_of_slot_values(mode_case):
    c = mode_case.circuit
    walk = InferenceWalk(mode_case.statement, _ShortChannel())
    with pytest.raises(VerifyError, match=rf"^{re.escape(c.ranged('R1'))}: wrong number of slot values$"):
        walk.slice_value(c.ranged("R1"), c.rem_slots(), (0,) * 8)


# --- soundness: the training bundle and the bytes ------------------------------------------


def test_training_bundle_that_does_not_verify_rejected(mode_case):
    """One byte of the training bundle's last opening flipped: it still parses, its final
    commitments are intact, and an honest inference proof against it (naming its digest)
    verifies on its own; the training bundle's own verification rejects it."""
    case = mode_case
    bad = bytearray(case.training)
    bad[-5] ^= 0x01
    bad = bytes(bad)
    assert parse_bundle(bad).final.public == case.final.public
    statement = dataclasses.replace(case.statement, training_digest=training_digest(bad))
    bundle = case.prove(statement)
    case.verify_proof(bundle)  # the inference proof itself is fine
    report = verify_inference_bundle(bundle, bad)
    assert not report.accepted and report.reason.startswith("training bundle: "), report.reason


def test_recorded_training_digest_differs_rejected(mode_case):
    bundle = bytearray(mode_case.bundle)
    bundle[HEADER] ^= 0x01  # the first byte of the recorded digest
    report = verify_inference_bundle(bytes(bundle), mode_case.training)
    assert not report.accepted and report.reason.startswith("the inference bundle names the training bundle"), report.reason


def test_unparsable_training_bundle_rejected_by_name(mode_case):
    bad = mode_case.training[:-1]
    bundle = mode_case.prove(dataclasses.replace(mode_case.statement, training_digest=training_digest(bad)))
    report = verify_inference_bundle(bundle, bad)
    assert not report.accepted and report.reason.startswith("training bundle: segment 0: proof body declares"), report.reason


def _proof_length_at(case: Case) -> int:
    return INPUTS_AT + 1 + 8 * N * (case.circuit.widths[0] + case.circuit.widths[-1])


@pytest.mark.parametrize("mutate, reason", [
    pytest.param(lambda b, at: b[:-1], r"truncated", id="truncated by one"),
    pytest.param(lambda b, at: b + b"\x00", r"^inference bundle: 1 trailing bytes after the proof$", id="trailing byte"),
    pytest.param(lambda b, at: b[: len(b) // 3], r"truncated", id="a third"),
    pytest.param(lambda b, at: b"", r"truncated", id="empty"),
    pytest.param(lambda b, at: b"NOTZKTRN" + b[8:], r"^not a zktrain proof bundle \(bad magic\)$", id="bad magic"),
    pytest.param(lambda b, at: b[:8] + b"\x01\x00" + b[10:], r"^unsupported bundle format version 1", id="version 1"),
    pytest.param(lambda b, at: b[:10] + b"\x02" + b[11:], r"^unsupported curve/hash ids 2/1$", id="curve 2"),
    pytest.param(lambda b, at: b[:11] + b"\x02" + b[12:], r"^unsupported curve/hash ids 1/2$", id="hash 2"),
    pytest.param(lambda b, at: b[:12] + b"\x02" + b[13:], r"^unknown proof mode 2$", id="mode 2"),
    pytest.param(lambda b, at: b[:13] + b"\x01" + b[14:],
                 r"^a training bundle, not an inference bundle: verify it without --training$", id="kind 1"),
    pytest.param(lambda b, at: b[:13] + b"\x03" + b[14:], r"^unknown proof kind 3$", id="kind 3"),
    pytest.param(lambda b, at: b[:14] + b"\x00" + b[15:], r"^unknown range-check gadget 0$", id="range 0"),
    pytest.param(lambda b, at: b[:47] + (0).to_bytes(4, "little") + b[51:],
                 r"^inference bundle: an inference proof covers 1 to 65536 inputs, got 0$", id="N 0"),
    pytest.param(lambda b, at: b[:INPUTS_AT] + b"\x02" + b[INPUTS_AT + 1 :],
                 r"^inference bundle: unknown inputs byte 2 \(0 public, 1 committed\)$", id="inputs 2"),
    pytest.param(lambda b, at: b[:at] + (len(b) - at - 7).to_bytes(8, "little") + b[at + 8 :],
                 r"^inference bundle: proof body declares \d+ bytes but \d+ follow \(truncated\)$", id="length one past"),
    pytest.param(lambda b, at: b[:at] + (100).to_bytes(8, "little") + b[at + 8 :],
                 r"^inference bundle: proof body of 100 bytes is shorter than the \d+ its statement implies$",
                 id="length below the least"),
])
def test_malformed_inference_bundles_rejected(mode_case, mutate, reason):
    report = verify_inference_bundle(mutate(mode_case.bundle, _proof_length_at(mode_case)), mode_case.training)
    assert not report.accepted and re.search(reason, report.reason), report.reason


def test_mode_byte_of_the_other_mode_rejected(mode_case):
    """A clear body read as zero-knowledge (scalars read as points), a ZK body read as clear
    (points read as scalars): which misread meets a check first depends on the bytes (a random
    32-byte chunk is a canonical scalar about half the time), so any rejection will do; the
    mode itself is bound by the transcript (``test_proof_bound_to_its_statement``)."""
    bundle = mode_case.bundle
    other = bytes([0 if mode_case.zk else 1])
    report = verify_inference_bundle(bundle[:12] + other + bundle[13:], mode_case.training)
    assert not report.accepted and report.reason, report.reason


def test_flipped_bytes_rejected(mode_case):
    bundle = mode_case.bundle
    for pos in np.random.default_rng(1).integers(HEADER, len(bundle), size=6):
        tampered = bytearray(bundle)
        tampered[pos] ^= 1 << int(pos % 8)
        assert not verify_inference_bundle(bytes(tampered), mode_case.training).accepted, pos


def test_verifier_never_raises():
    assert not verify_inference_bundle(b"\x00" * 3, b"").accepted
    assert not verify_inference_bundle("not bytes", b"").accepted


def _peak(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("rows, inputs, reason", [
    (MAX_ROWS, 0, r"^inference bundle: truncated \(needs \d+ bytes, has 7\)$"),
    (MAX_ROWS, 1, r"^inference bundle: truncated \(needs \d+ bytes, has 7\)$"),
    (MAX_ROWS + 1, 1, r"^inference bundle: an inference proof covers 1 to 65536 inputs, got 65537$"),
    ((1 << 32) - 1, 0, r"^inference bundle: an inference proof covers 1 to 65536 inputs, got 4294967295$"),
])
def test_tiny_bundle_declaring_a_huge_n_rejected_with_small_memory(mode_case, rows, inputs, reason):
    """A header, the digest, N, the inputs byte (public or committed) and seven bytes:
    refused by the bound on N or by the byte count its inputs (values or commitment) and
    logits need, before anything is allocated for them."""
    case = mode_case
    head = case.bundle[:HEADER] + training_digest(case.training)
    bundle = head + rows.to_bytes(4, "little") + bytes([inputs]) + bytes(7)
    parse_bundle(case.training)  # warm the parser's imports outside the measurement
    report, peak = _peak(lambda: verify_inference_bundle(bundle, case.training))
    assert not report.accepted and re.search(reason, report.reason), report.reason
    assert peak < 4 * len(case.training) + (4 << 20)


def test_public_entries_bounded_in_the_circuit():
    """N (d_0 + d_L) public entries are bounded whatever the widths (the verifier reads and
    evaluates them all)."""
    model = MlpCircuit(widths=(1 << 12, 8, 1 << 12), batch=1, steps=1, lr=(1,))
    assert InferenceCircuit(model, (1 << 24) // (1 << 13)).rows == 2048
    with pytest.raises(ValueError, match=r"public entries exceed the limit of 16777216"):
        InferenceCircuit(model, 2049)


# --- committed inputs -------------------------------------------------------------------------


def test_committed_inputs_verify(committed_case):
    """The bundle holds the row commitments of X.s in place of the inputs; the proof verifies
    against them, and the logits are the engine's on the inputs behind them. Given the inputs
    file and the opening, the verifier checks them against the commitment."""
    case = committed_case
    report = verify_inference_bundle(case.bundle, case.training)
    assert report.accepted, report.reason
    engine = FixedPointMLP(case.recipe, case.weights, case.biases)
    assert report.predictions == engine.predict(case.x).tolist() and report.logits == engine.forward(case.x).tolist()
    assert (report.mode, report.range_check, report.rows, report.inputs) == (case.mode, case.gadget, N, "committed")
    assert report.artifacts["inputs"].startswith("committed, not disclosed: the logits are those of the 5 inputs "
                                                 f"behind the commitment {case.circuit.input_tensor()} in the bundle")
    assert report.soundness_bits > 200
    parsed = parse_inference_bundle(case.bundle, case.recipe)
    assert parsed.statement.inputs is None and parsed.statement.input_commitment == case.opened[0]
    assert not any(np.ascontiguousarray(row, "<i8").tobytes() in case.bundle for row in case.x)
    report = verify_inference_bundle(case.bundle, case.training, inputs=npz(X=case.x_raw), inputs_opening=case.opening())
    assert report.accepted and report.inputs == "disclosed", report.reason
    assert report.artifacts["inputs"] == (f"committed and disclosed: inputs, with inputs opening, opens the commitment "
                                          f"{case.circuit.input_tensor()} in the bundle (checked): the logits are "
                                          f"those of these 5 inputs")


def test_committed_inputs_product_path(mode_case):
    """``prove_inference_run(..., committed_inputs=True)``: the bundle holds the logits and a
    commitment, verifies, and the summary's opening discloses the inputs."""
    case = mode_case
    bundle, summary = prove_inference_run(case.model.to_bytes(), case.training, npz(X=raw_inputs()), backend="cpu",
                                          committed_inputs=True)
    parsed = parse_inference_bundle(bundle, case.recipe)
    assert parsed.statement.circuit.committed_inputs and summary.committed_inputs
    assert parsed.statement.public_values() == np.ascontiguousarray(case.statement.outputs, "<i8").tobytes()
    assert summary.predictions == case.statement.predictions
    report = verify_inference_bundle(bundle, case.training, inputs=npz(X=raw_inputs()),
                                     inputs_opening=summary.inputs_opening.to_bytes())
    assert report.accepted and report.inputs == "disclosed", report.reason


def test_committed_inputs_layout_depends_on_the_statement_shape_only(zk_case):
    """Other committed inputs: a zero-knowledge bundle of exactly the same length."""
    other = Case("zk-limbs", raw_inputs(seed=9) * 0.5, committed=True)
    assert len(other.bundle) == len(_committed("zk-limbs").bundle)


def test_zk_proof_with_committed_inputs_reveals_no_input_value(committed_mode_case):
    """Neither bundle holds the inputs (int64 rows); the zero-knowledge proof holds none of the
    input values, their slots, nor the values the prover committed to (slot values, the
    bias's evaluations), while the clear proof shows the values it sends."""
    case = committed_mode_case
    recording = type("Recording", (_Recording, case.channel_type), {})
    channel = case.channel(channel_type=recording)
    proof = channel.proof_bytes()
    bundle = encode_inference_bundle(case.statement, proof, case.zk)
    encodings = lambda values: {field.to_bytes(int(v) % R) for v in values if int(v) % R}  # noqa: E731
    sent, inputs = encodings(channel.sent), encodings(case.x.reshape(-1))
    slots = encodings(case.witness()[case.circuit.input_tensor()].reshape(-1))
    assert len(sent) > 10 and len(inputs) > 10 and slots  # not vacuous
    assert not any(np.ascontiguousarray(row, "<i8").tobytes() in bundle for row in case.x)
    if case.zk:
        assert not {v for v in sent | inputs | slots if v in proof}
    else:
        assert {v for v in sent if v in proof} == sent


def test_statement_refuses_the_other_inputs_binding(committed_mode_case, mode_case):
    """A statement built by hand: committed inputs hold a commitment and no values, public
    inputs values and no commitment."""
    committed = committed_mode_case.statement
    with pytest.raises(ValueError, match=r"^committed inputs: the statement holds the commitment to their slots, "
                                         r"not their values$"):
        dataclasses.replace(committed, inputs=committed_mode_case.x)
    with pytest.raises(ValueError, match=r"^committed inputs: the statement holds the commitment"):
        dataclasses.replace(committed, input_commitment=None)
    with pytest.raises(ValueError, match=r"^public inputs: the statement holds their values, not a commitment$"):
        dataclasses.replace(mode_case.statement, input_commitment=committed.input_commitment)


def test_committed_input_outside_its_width_rejected(committed_case):
    """An input 2^(width-1) higher (outside the recipe's 19 signed bits), committed with slots
    that recompose to it (the top magnitude slot 2^(width-1) over its weight higher), and the
    logits of that input: every relation holds, only the range of that slot stands in the way
    (the logUp sum for limbs, booleanity in phase-forward for bits)."""
    case, c = committed_case, committed_case.circuit
    d, name = c.x_slots(), c.input_tensor()
    shift = 1 << (d.width - 1)
    records = {k: v.copy() for k, v in case.records.items()}
    records["IN1"][0, 0] += shift
    records, logits = _recompute(case, records, 0)
    witness = case.witness(dict(records, IN1=case.records["IN1"]))  # the honest slots, then the cheat
    witness["IN1"] = records["IN1"]
    slots = witness[name].astype(np.int64)
    top = d.sign_slot - 1 if d.signed else d.num_slots - 1
    slots[0, 0, top] += shift // d.weights()[top]
    assert d.compose(slots[0, 0]) == records["IN1"][0, 0] > d.max_value
    witness[name] = slots
    opened = commit_inputs(c, witness, random.Random(2))
    statement = case.statement_for(logits, input_commitment=opened[0])
    bundle = case.prove(statement, witness=recounted(c, witness), opened=opened)
    _rejected(case, bundle, _range_check_fails(case))


@pytest.mark.parametrize("where", ["row", "feature"])
def test_nonzero_padded_input_rejected(committed_mode_case, where):
    """A nonzero entry in the committed inputs' padding, with the forward pass it implies:
    a padded feature (a model of 3 features, padded to 4: W_1's padded column is zero, so it
    changes nothing downstream) or a padded row n = N (a unit at the feature whose weights are
    smallest: its pre-activations round to Z' = 0, so the logits' padded rows stay zero). Every
    relation holds; only the padding zero-check of X.s (in phase-forward) stands in the way."""
    case = committed_mode_case
    if where == "feature":
        case = _CASES.setdefault((case.mode, "features3"), Case(f"{case.mode}-limbs", committed=True, features=3))
    c = case.circuit
    records = {k: v.copy() for k, v in case.records.items()}
    if where == "feature":
        assert c.widths[0] == 3 and records["IN1"].shape[1] == 4
        records["IN1"][0, 3] = 1
    else:
        k = int(np.argmin(np.abs(case.weights[0]).max(axis=0)))
        records["IN1"][N, k] = 1
    records, logits = _recompute(case, records, 0)
    assert (logits == case.statement.outputs).all() and not records[f"ZP{c.layers}"][N:].any()
    assert where == "feature" or records["REM1"][N].any()  # the padded row reached the first layer
    witness = case.witness(records)
    opened = commit_inputs(c, witness, random.Random(2))
    bundle = case.prove(case.statement_for(logits, input_commitment=opened[0]), witness=witness, opened=opened)
    _rejected(case, bundle, _phase_fails(case, "phase-forward"))


@pytest.mark.parametrize("slots", ["committed", "other"])
def test_proof_on_other_inputs_than_committed_rejected(committed_mode_case, slots):
    """The prover commits to the inputs X but proves on X' (one entry one higher): its claims
    on the first layer's input and its logits are X''s. Either it answers them with X's slot
    values (the committed ones): they do not recompose to the claims on X' (``slice_value``'s
    check, in ZK a failing proof of equality); or with X''s, opening the claims on X.s with X''s
    slots under X's blinds: every relation holds for X', and only the opening of X.s against
    the commitment stands in the way (the ledger's last step)."""
    case, c = committed_mode_case, committed_mode_case.circuit
    other = case.x.copy()
    other[0, 0] += 1
    layers = FixedPointMLP(case.recipe, case.weights, case.biases).forward_layers(other)
    witness = case.witness(forward_records(c, other, layers))
    statement = case.statement_for(layers[-1][0])
    if slots == "committed":
        witness[c.input_tensor()] = case.witness()[c.input_tensor()]
        bundle = case.prove(statement, witness=recounted(c, witness), walk=_RecklessWalk)
        _rejected(case, bundle, rf"^{re.escape(c.input_tensor())}: slots do not recompose to the claimed value$")
        return
    commitment, honest = case.opened
    layout = honest.layout
    values = witness[c.input_tensor()].astype(np.int64).reshape(layout.num_rows, layout.num_cols)
    assert (values != honest.matrix).sum() >= 1
    cheat = (commitment, HyraxWitness(layout, values, commit_width(values), list(honest.blinds)))
    bundle = case.prove(statement, witness=witness, opened=cheat)
    _rejected(case, bundle, _OPENING[case.mode])


def test_inputs_byte_relabelled_rejected(committed_mode_case, mode_case, monkeypatch):
    """The inputs byte of the bundle flipped: a committed bundle read as public reads the
    commitment's bytes as inputs (refused by their width), a public one read as committed
    reads the inputs as points (refused by the point decoding). And the transcript binds the
    binding: a verifier that absorbs the other byte fails phase-forward's first round."""
    committed, public = committed_mode_case, mode_case
    bundle = committed.bundle[:INPUTS_AT] + b"\x00" + committed.bundle[INPUTS_AT + 1 :]
    report = verify_inference_bundle(bundle, committed.training)
    assert not report.accepted and re.match(r"^inference bundle: inputs\[0, 0\] = -?\d+ lies outside the recipe's "
                                            r"input width \(19 signed bits\)$", report.reason), report.reason
    bundle = public.bundle[:INPUTS_AT] + b"\x01" + public.bundle[INPUTS_AT + 1 :]
    report = verify_inference_bundle(bundle, public.training)
    assert not report.accepted and report.reason.startswith("inference bundle: G1 point: "), report.reason
    for case in (committed, public):
        monkeypatch.setattr(InferenceStatement, "inputs_byte", lambda self, b=case.statement.inputs_byte(): 1 - b)
        _rejected(case, case.bundle, _phase_fails(case, "phase-forward"))
        monkeypatch.undo()


# --- disclosing committed inputs ----------------------------------------------------------------


def test_disclosed_inputs_differing_in_one_entry_rejected(committed_case):
    """The inputs file with one entry one unit (2^-R) higher: its slots do not open X.s (the
    random linear combination of its rows, ``verifier.disclosure``)."""
    case = committed_case
    x = case.x_raw.copy()
    x[2, 1] += 2.0 ** -case.recipe.quant.frac_bits
    assert (encode_inputs(x, case.recipe.quant.frac_bits) != case.x).sum() == 1
    report = verify_inference_bundle(case.bundle, case.training, inputs=npz(X=x), inputs_opening=case.opening())
    assert not report.accepted
    assert report.reason == f"inputs: X does not match the bundle's commitment {case.circuit.input_tensor()}"


def _opening_with(case: Case, **arrays) -> bytes:
    """The case's opening file with arrays replaced (None: dropped) or added."""
    with np.load(io.BytesIO(case.opening())) as archive:
        out = {name: archive[name] for name in archive.files}
    out.update(arrays)
    return npz(**{k: v for k, v in out.items() if v is not None})


def _bind(case: Case, inputs=None, opening=None):
    return bind_inputs(case.statement, case.recipe, inputs, opening)


def test_wrong_inputs_opening_rejected(committed_mode_case):
    """Each way an opening file can be wrong, by name: another commitment's opening, the
    right commitment's name with other blinds (another commitment to the same inputs), one
    blind changed, a non-canonical blind, another version, a wrong shape, an extra array, not
    an archive."""
    case = committed_mode_case
    x, name = npz(X=case.x_raw), case.circuit.input_tensor()
    assert _bind(case, x, case.opening())[0] == "disclosed"
    other_commitment, other = commit_inputs(case.circuit, case.witness(), random.Random(8))
    blinds = _opening_with(case)  # the honest file, for its arrays
    with np.load(io.BytesIO(blinds)) as archive:
        honest = archive["X.blinds"].copy()
    one_off = honest.copy()
    one_off[0, 0] ^= 1
    non_canonical = honest.copy()
    non_canonical[0] = np.frombuffer(R.to_bytes(32, "little"), np.uint8)
    cases = [
        (InputsOpening(commitment_digest(other_commitment), list(other.blinds)).to_bytes(),
         r"^inputs opening: opens the commitment of SHA-256 [0-9a-f]{16}\.\.\., not the bundle's [0-9a-f]{16}\.\.\. "
         r"\(the opening of another proof's inputs\)$"),
        (InputsOpening(commitment_digest(case.opened[0]), list(other.blinds)).to_bytes(),
         rf"^inputs: X does not match the bundle's commitment {re.escape(name)}$"),
        (_opening_with(case, **{"X.blinds": one_off}), rf"^inputs: X does not match the bundle's commitment {re.escape(name)}$"),
        (_opening_with(case, **{"X.blinds": non_canonical}),
         r"^inputs opening: X.blinds holds a non-canonical field element \(>= r\)$"),
        (_opening_with(case, version=np.array(2, dtype=np.int64)),
         r"^inputs opening: inputs opening version 2, this verifier reads 1$"),
        (_opening_with(case, **{"X.blinds": honest[1:]}),
         rf"^inputs opening: array 'X.blinds' has shape \({len(honest) - 1}, 32\), expected \({len(honest)}, 32\) "
         r"\(the bundle's\)$"),
        (_opening_with(case, X=case.x), r"^inputs opening: unexpected array 'X'$"),
        (_opening_with(case, **{"X.blinds": None}), r"^inputs opening: missing array 'X.blinds'$"),
        (b"garbage", r"^inputs opening: not an inputs opening \(.npz archive\)"),
    ]
    for opening, reason in cases:
        with pytest.raises(VerifyError, match=reason):
            _bind(case, x, opening)


def test_inputs_and_their_opening_checked_as_the_binding_says(committed_mode_case, mode_case):
    """Committed inputs are disclosed by the inputs file and its opening together; public
    inputs have no opening to check, and a given inputs file must be theirs; a file of another
    number of rows is refused by name. Through the bundle API: a rejection."""
    committed, public = committed_mode_case, mode_case
    x = npz(X=raw_inputs())
    together = r"^committed inputs are disclosed by the inputs file and its opening together"
    with pytest.raises(VerifyError, match=together):
        _bind(committed, inputs=x)
    with pytest.raises(VerifyError, match=together):
        _bind(committed, opening=committed.opening())
    with pytest.raises(VerifyError, match=r"^inputs: X has 4 rows, the bundle proves 5 inputs$"):
        _bind(committed, npz(X=raw_inputs()[:4]), committed.opening())
    with pytest.raises(VerifyError, match=r"^an inputs opening was given, but the bundle's inputs are public"):
        _bind(public, x, committed.opening())
    assert _bind(public) == ("public", "public: the 5 rows in the bundle, at 2^16")
    assert _bind(public, x) == ("public", "public: the 5 rows in the bundle, at 2^16, which inputs encodes to (checked)")
    other = raw_inputs()
    other[1, 2] += 2.0 ** -16
    with pytest.raises(VerifyError, match=rf"^inputs: X\[1, 2\] encodes to {public.x[1, 2] + 1}, the bundle's input "
                                          rf"is {public.x[1, 2]}$"):
        _bind(public, npz(X=other))
    with pytest.raises(VerifyError, match=r"^inputs: X has 4 rows, the bundle proves 5 inputs$"):
        _bind(public, npz(X=raw_inputs()[:4]))
    report = verify_inference_bundle(committed.bundle, committed.training, inputs=x)
    assert not report.accepted and re.match(together, report.reason), report.reason


def test_inputs_file_refused_by_name(mode_case):
    """The inputs reader the prover and the verifier share: each malformed file by name."""
    recipe = mode_case.recipe
    shape = r"^inputs: X has shape {} and dtype {}; the model takes rows of 4 numbers \(shape \(N, 4\)\)$"
    cases = [
        (npz(X=np.zeros(4)), shape.format(r"\(4,\)", "float64")),
        (npz(X=np.zeros((0, 4))), shape.format(r"\(0, 4\)", "float64")),
        (npz(X=np.zeros((2, 4), dtype=bool)), shape.format(r"\(2, 4\)", "bool")),
        (npz(X=np.zeros((2, 3))), shape.format(r"\(2, 3\)", "float64")),
        (npz(Y=np.zeros((2, 4))), r"^inputs: no array 'X' \(found \['Y'\]\)$"),
        (npz(X=np.full((2, 4), np.inf)), r"^inputs: X: inputs: non-finite values"),
        (npz(X=np.full((2, 4), -5.0)), r"^inputs: X\[0, 0\] = -5.0 encodes to -327680 at 2\^16, outside the recipe's "
                                       r"19-bit signed input width$"),
        (_npy(np.zeros((2, 4))), r"^inputs: not a readable .npz file \(ValueError: a single array, not an archive\)$"),
        (b"garbage", r"^inputs: not a readable .npz file"),
    ]
    for data, reason in cases:
        with pytest.raises(VerifyError, match=reason):
            read_inputs(data, recipe)
    assert (read_inputs(npz(X=np.full((1, 4), -4.0)), recipe) == -(1 << 18)).all()  # the width's least value


# --- the prover's errors and the command line ------------------------------------------------


def test_prover_refuses_bad_inputs_and_models_by_name(mode_case):
    case = mode_case
    model, training = case.model.to_bytes(), case.training
    with pytest.raises(ValueError, match=r"^inputs: X has shape \(5, 3\) and dtype float64; the model takes rows of 4 numbers"):
        prove_inference_run(model, training, npz(X=raw_inputs()[:, :3]))
    with pytest.raises(ValueError, match=r"^inputs: no array 'X' \(found \['Y'\]\)$"):
        prove_inference_run(model, training, npz(Y=raw_inputs()))
    with pytest.raises(ValueError, match=r"^inputs: X\[0, 0\] = 4.0 encodes to 262144 at 2\^16, outside the recipe's "
                                         r"19-bit signed input width$"):
        load_inputs(npz(X=np.full((2, 4), 4.0)), case.recipe)
    with pytest.raises(ValueError, match=r"^inputs: X: inputs: non-finite values"):
        load_inputs(npz(X=np.full((2, 4), np.nan)), case.recipe)
    with pytest.raises(ValueError, match=r"^inputs: not a readable .npz file \(ValueError: a single array"):
        load_inputs(_npy(raw_inputs()), case.recipe)
    with pytest.raises(ValueError, match=r"^inputs: not a readable .npz file"):
        prove_inference_run(model, training, b"garbage")
    _, other_model = trained(case.mode, seed=4)
    with pytest.raises(ValueError, match=r"a model of another run"):
        prove_inference_run(other_model.to_bytes(), training, npz(X=raw_inputs()))
    # The same run proven again: the same recipe, other blinds, so it opens other commitments.
    again, _ = prove_run(parse_run(tiny_run({"zk": case.zk}, name="tiny-infer", seed=3)))
    with pytest.raises(ValueError, match=r"^model: W1 does not match the bundle's commitment W1.T$"):
        prove_inference_run(model, again, npz(X=raw_inputs()))
    with pytest.raises(ValueError, match=r"^training bundle: bundle: truncated"):
        prove_inference_run(model, training[:100], npz(X=raw_inputs()))


def test_cli_prove_and_verify_inference(tmp_path):
    case = _CASES.get("clear-limbs") or Case("clear-limbs")
    (tmp_path / "B.zkp").write_bytes(case.training)
    (tmp_path / "M.npz").write_bytes(case.model.to_bytes())
    (tmp_path / "X.npz").write_bytes(npz(X=raw_inputs()))
    runner = CliRunner()
    paths = {name: str(tmp_path / name) for name in ("B.zkp", "M.npz", "X.npz", "I.zkp")}
    result = runner.invoke(main, ["prove-inference", "--model", paths["M.npz"], "--training", paths["B.zkp"],
                                  "--inputs", paths["X.npz"], "--out", paths["I.zkp"], "--clear"])
    assert result.exit_code == 0 and "wrote" in result.output, result.output
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary left
    result = runner.invoke(main, ["verify", paths["I.zkp"], "--training", paths["B.zkp"]])
    predictions = case.statement.predictions
    assert result.exit_code == 0 and result.output.startswith("ACCEPT: the proof of inference"), result.output
    assert f"predictions: {predictions}" in result.output
    result = runner.invoke(main, ["verify", paths["I.zkp"], "--training", paths["B.zkp"], "--json"])
    report = json.loads(result.output)
    assert report["accepted"] and report["predictions"] == predictions
    assert report["logits"] == case.statement.outputs.tolist() and report["frac_bits"] == 16
    # The light install's CLI: the same verdict.
    out = subprocess.run([sys.executable, "-m", "verifier", paths["I.zkp"], "--training", paths["B.zkp"]],
                         capture_output=True, text=True)
    assert out.returncode == 0 and f"predictions: {predictions}" in out.stdout, out.stdout + out.stderr
    # The kinds told apart: an inference bundle without --training, a training bundle with it.
    result = runner.invoke(main, ["verify", paths["I.zkp"]])
    assert result.exit_code == 1 and "an inference bundle: verify it with --training" in result.output
    result = runner.invoke(main, ["verify", paths["B.zkp"], "--training", paths["B.zkp"]])
    assert result.exit_code == 1 and "a training bundle, not an inference bundle" in result.output
    result = runner.invoke(main, ["verify", paths["I.zkp"], "--training", paths["B.zkp"], "--weights", paths["M.npz"]])
    assert result.exit_code == 1 and "--weights checks a model file against a training bundle" in result.output
    result = runner.invoke(main, ["verify", paths["I.zkp"], "--training", str(tmp_path / "missing.zkp")])
    assert result.exit_code == 1 and "training bundle" in result.output and "cannot read" in result.output
    # Bad input to prove-inference: one line naming the file and the field, nothing written.
    (tmp_path / "wide.npz").write_bytes(npz(X=np.zeros((2, 5))))
    result = runner.invoke(main, ["prove-inference", "--model", paths["M.npz"], "--training", paths["B.zkp"],
                                  "--inputs", str(tmp_path / "wide.npz"), "--out", str(tmp_path / "J.zkp")])
    assert result.exit_code == 1 and f"inputs {tmp_path / 'wide.npz'}: X has shape (2, 5)" in result.output
    assert not (tmp_path / "J.zkp").exists()


def test_cli_committed_inputs(tmp_path):
    """``prove-inference --committed-inputs`` writes the bundle and, beside it, the inputs'
    opening (atomically, readable by its owner only); ``verify --training`` says the inputs are
    committed, and with ``--inputs`` and ``--inputs-opening`` checks them against the
    commitment (``python -m verifier`` too); the options are refused where they have no use."""
    case = _CASES.get("clear-limbs") or Case("clear-limbs")
    (tmp_path / "B.zkp").write_bytes(case.training)
    (tmp_path / "M.npz").write_bytes(case.model.to_bytes())
    (tmp_path / "X.npz").write_bytes(npz(X=raw_inputs()))
    other = raw_inputs()
    other[0, 0] += 2.0 ** -16
    (tmp_path / "Y.npz").write_bytes(npz(X=other))
    runner = CliRunner()
    paths = {name: str(tmp_path / name) for name in ("B.zkp", "M.npz", "X.npz", "Y.npz", "I.zkp", "I.inputs-opening.npz")}
    prove = ["prove-inference", "--model", paths["M.npz"], "--training", paths["B.zkp"], "--inputs", paths["X.npz"]]
    result = runner.invoke(main, [*prove, "--out", paths["I.zkp"], "--committed-inputs"])
    assert result.exit_code == 0 and "5 inputs (committed)" in result.output, result.output
    assert f"wrote {paths['I.inputs-opening.npz']}: the opening of the inputs' commitment" in result.output
    assert "SECRET" in result.output
    assert (tmp_path / "I.inputs-opening.npz").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary left
    verify = ["verify", paths["I.zkp"], "--training", paths["B.zkp"]]
    result = runner.invoke(main, verify)
    assert result.exit_code == 0 and "inputs: committed, not disclosed" in result.output, result.output
    disclose = ["--inputs", paths["X.npz"], "--inputs-opening", paths["I.inputs-opening.npz"]]
    result = runner.invoke(main, [*verify, *disclose, "--json"])
    report = json.loads(result.output)
    assert report["accepted"] and report["inputs"] == "disclosed", report["reason"]
    assert report["artifacts"]["inputs"].startswith(f"committed and disclosed: inputs {paths['X.npz']}, with inputs "
                                                    f"opening {paths['I.inputs-opening.npz']}, opens the commitment")
    out = subprocess.run([sys.executable, "-m", "verifier", paths["I.zkp"], "--training", paths["B.zkp"], *disclose],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "inputs: committed and disclosed" in out.stdout, out.stdout + out.stderr
    result = runner.invoke(main, [*verify, "--inputs", paths["Y.npz"], "--inputs-opening", paths["I.inputs-opening.npz"]])
    assert result.exit_code == 1
    assert result.output.strip() == f"REJECT: inputs {paths['Y.npz']}: X does not match the bundle's commitment X.limbs"
    result = runner.invoke(main, ["verify", paths["B.zkp"], *disclose])
    assert result.exit_code == 1 and "--inputs and --inputs-opening check the inputs of an inference bundle" in result.output
    # Another opening path; an opening path for public inputs is refused before proving.
    result = runner.invoke(main, [*prove, "--out", str(tmp_path / "J.zkp"), "--committed-inputs",
                                  "--inputs-opening-out", str(tmp_path / "J.secret")])
    assert result.exit_code == 0 and (tmp_path / "J.secret").exists(), result.output
    result = runner.invoke(main, [*prove, "--out", str(tmp_path / "K.zkp"), "--inputs-opening-out", str(tmp_path / "K.o")])
    assert result.exit_code == 1 and "public inputs have no opening (add --committed-inputs)" in result.output
    assert not (tmp_path / "K.zkp").exists()
