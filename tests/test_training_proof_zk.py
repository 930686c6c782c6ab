"""Proofs of training in the zero-knowledge mode: completeness, soundness, zero knowledge.

The circuit and the deviations are those of ``tests/test_training_proof.py`` (4 -> 8 -> 3,
batch 4, 3 steps padded to 4), proven through ``prover.zk_training`` and checked by
``verifier.zk_training``: every deviating witness must be rejected in this mode too, where the
verifier sees commitments instead of values. The zero-knowledge check searches the proof bytes
for the 32-byte encodings of the values a clear proof reveals (bit slices, evaluations) and of
the final weights; a positive control finds the clear prover's values in the clear proof.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import ProverChannel, commit_tensor, mlp_witness, prove_training
from prover.zk_training import ZkProverChannel, prove_training_zk
from verifier import field
from verifier.bundle import MODE_CLEAR, parse_bundle, verify_bundle
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.training import TrainingStatement, TrainingWalk
from verifier.zk_training import verify_training_zk
from zktrain.cli import main

LR = (3, 2, 1)


def _circuit(lr=LR) -> MlpCircuit:
    return MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=lr)


class _Recording:
    """Mixin: records the clear values behind every slice and evaluation message."""

    def evaluation(self, tensor, point):
        value = super().evaluation(tensor, point)
        self.sent.append(getattr(value, "value", value))
        return value

    def slices(self, tensor, decomposition, point):
        values = super().slices(tensor, decomposition, point)
        self.sent.extend(getattr(v, "value", v) for v in values[: decomposition.width])
        return values


class _RecordingZk(_Recording, ZkProverChannel):
    sent: list


class _RecordingClear(_Recording, ProverChannel):
    sent: list


def _prove(statement, witness, published, channel_type, walk=TrainingWalk, seed=1):
    """Public commitments and proof bytes of ``witness`` through a prover channel."""
    channel = channel_type(statement, witness, get_backend("reference"), published, random.Random(seed))
    channel.sent = []
    walk(statement, channel).run()
    return {name: com for name, (com, _) in published.items()}, channel.proof_bytes(), channel.sent


@pytest.fixture(scope="module")
def run():
    c = _circuit()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(3, 4))] = 1 << 16
    w0 = (rng.integers(-(1 << 44), 1 << 44, size=(8, 4)), rng.integers(-(1 << 44), 1 << 44, size=(3, 8)))
    b0 = (rng.integers(-(1 << 40), 1 << 40, size=8), rng.integers(-(1 << 40), 1 << 40, size=3))
    statement = TrainingStatement(c, b'{"run":"tiny"}', w0, b0)
    witness = mlp_witness(c, x, y, w0, b0)
    blinding = random.Random(0)  # seeded blinding: tests only
    published = {n: commit_tensor(statement, n, witness[n], blinding) for n in statement.public_tensors()}
    public, proof, sent = _prove(statement, witness, published, _RecordingZk)
    _, clear_proof, clear_sent = _prove(statement, witness, published, _RecordingClear)
    return dict(c=c, x=x, y=y, w0=w0, b0=b0, statement=statement, witness=witness, published=published,
                public=public, proof=proof, sent=sent, clear_proof=clear_proof, clear_sent=clear_sent)


def _cheat(run, witness, channel_type=ZkProverChannel, walk=TrainingWalk):
    """Prove a deviating witness in ZK mode against the data published before training; the
    prover publishes whatever final weights its run ends with."""
    wit = dict(witness)
    published = {}
    for name in run["statement"].public_tensors():
        if name in ("X.bits", "Y.bits"):
            wit[name] = run["witness"][name]
            published[name] = run["published"][name]
        else:
            published[name] = commit_tensor(run["statement"], name, wit[name])
    public, proof, _ = _prove(run["statement"], wit, published, channel_type, walk)
    return public, proof


def _rejected(run, public_and_proof, statement=None):
    public, proof = public_and_proof
    with pytest.raises(VerifyError):
        verify_training_zk(statement or run["statement"], public, proof)


def _hooked(run, step, edit, x=None):
    """Witness whose step ``step`` passes every tensor through ``edit(name, value, seen)``."""

    def hook(t):
        if t != step:
            return None
        seen: dict = {}

        def h(name, value):
            seen[name] = edit(name, value.copy(), seen)
            return seen[name]

        return h

    return mlp_witness(run["c"], run["x"] if x is None else x, run["y"], run["w0"], run["b0"], hook)


class _RecklessWalk(TrainingWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


# --- completeness ------------------------------------------------------------------------


def test_honest_zk_proof_verifies(run):
    verify_training_zk(run["statement"], run["public"], run["proof"])


def test_layout_depends_on_the_recipe_only(run):
    """Another witness (another batch) gives a ZK proof of exactly the same length."""
    x = run["x"][::-1].copy()
    wit = mlp_witness(run["c"], x, run["y"], run["w0"], run["b0"])
    published = {n: commit_tensor(run["statement"], n, wit[n]) for n in run["statement"].public_tensors()}
    _, proof, _ = _prove(run["statement"], wit, published, ZkProverChannel, seed=5)
    assert len(proof) == len(run["proof"])


# --- zero knowledge ------------------------------------------------------------------------


def _encodings(values) -> set[bytes]:
    return {field.to_bytes(int(v) % R) for v in values if int(v) % R}


def _found(encodings: set[bytes], data: bytes) -> set[bytes]:
    return {e for e in encodings if e in data}


def test_zk_proof_reveals_no_witness_value(run):
    slices_and_evals = _encodings(run["sent"])
    final_weights = _encodings(np.concatenate([run["witness"][n].reshape(-1) for n in run["statement"].public_tensors()
                                               if n.endswith(".T")]))
    assert len(slices_and_evals) > 100 and len(final_weights) > 30
    assert not _found(slices_and_evals, run["proof"])
    assert not _found(final_weights, run["proof"])


def test_positive_control_clear_proof_reveals_its_values(run):
    clear_values = _encodings(run["clear_sent"])
    assert clear_values and _found(clear_values, run["clear_proof"]) == clear_values


# --- soundness: deviating witnesses ------------------------------------------------------


def test_wrong_sign_bit_rejected(run):
    def edit(name, v, seen):
        if name == "S1":
            v[1, 2] = 1 - v[1, 2]
        return v

    _rejected(run, _cheat(run, _hooked(run, 1, edit)))


def test_sign_bit_outside_0_1_rejected(run):
    zp = run["witness"]["ZP1"]
    t, b, j = (int(v) for v in np.argwhere(zp[: run["c"].steps] <= 0)[0])

    def edit(name, v, seen):
        if name == "S1":
            v[b, j] = 0
        return v

    wit = _hooked(run, t, edit)
    bits = wit["Z1.bits"].astype(np.int64)
    bits[t, b, j, 31], bits[t, b, j, 30] = 0, bits[t, b, j, 30] - 2
    wit["Z1.bits"] = bits
    _rejected(run, _cheat(run, wit))


def test_relu_skipped_rejected(run):
    def edit(name, v, seen):
        return seen["ZP1"] if name == "IN2" else v

    _rejected(run, _cheat(run, _hooked(run, 0, edit)))


def test_other_learning_rate_rejected(run):
    wit = mlp_witness(_circuit((3, 3, 1)), run["x"], run["y"], run["w0"], run["b0"])
    _rejected(run, _cheat(run, wit))


class _OtherBatch(ZkProverChannel):
    """Sends the slices of X.bits from the batch it trained on, not from the published data."""

    other_x_bits: np.ndarray

    def slices(self, tensor, decomposition, point):
        if tensor != "X.bits":
            return super().slices(tensor, decomposition, point)
        saved, self.witness[tensor] = self.witness[tensor], self.other_x_bits
        try:
            return super().slices(tensor, decomposition, point)
        finally:
            self.witness[tensor] = saved


def test_step_on_another_batch_rejected(run):
    x = run["x"].copy()
    x[1] = run["x"][2]
    wit = mlp_witness(run["c"], x, run["y"], run["w0"], run["b0"])
    channel = type("Lying", (_OtherBatch,), {"other_x_bits": wit["X.bits"]})
    _rejected(run, _cheat(run, wit, channel))


@pytest.mark.parametrize("step,name,index", [(3, "ZP1", (0, 0)), (0, "ZP2", (0, 3))])
def test_nonzero_witness_in_padded_step_or_feature_rejected(run, step, name, index):
    """Step 3 is a padded step; output feature 3 is padding (3 real outputs)."""

    def edit(n, v, seen):
        if n == name:
            v[index] += 9
        return v

    _rejected(run, _cheat(run, _hooked(run, step, edit)))


def test_nonzero_padding_in_published_data_rejected(run):
    def edit(name, v, seen):
        if name == "IN1":
            v[0, 0] = 5
        return v

    _rejected(run, prove_training_zk(run["statement"], _hooked(run, 3, edit), get_backend("reference")))


def test_output_gradient_not_prediction_minus_label_rejected(run):
    def edit(name, v, seen):
        if name == "GZ2":
            v[1, 1] += 1
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit), walk=_RecklessWalk))


def test_virtual_table_disagreeing_with_its_bits_rejected(run):
    """The ReLU works on Z' + 1 while the committed bits hold Z': the claim on Z' from the
    Hadamard sumcheck meets bits that do not recompose to it (a proof of equality that fails)."""
    t, b, j = 0, 1, 2

    def edit(name, v, seen):
        if name == "IN2":
            v[b, j] = (1 - seen["S1"][b, j]) * (seen["ZP1"][b, j] + 1)
        return v

    wit = _hooked(run, t, edit)
    zp = wit["ZP1"].copy()
    zp[t, b, j] += 1  # the virtual table the prover uses; Z1.bits keep the true value
    wit["ZP1"] = zp
    _rejected(run, _cheat(run, wit, walk=_RecklessWalk))


def test_nonzero_bit_padding_slot_rejected(run):
    """A remainder decomposed one bit too wide: the padding slot is not sent in ZK mode, the
    verifier takes it as 0, and the opening of R1.bits disagrees."""
    wit = dict(run["witness"])
    bits = wit["R1.bits"].copy()
    bits[:, :, :, 48] = 1
    wit["R1.bits"] = bits
    _rejected(run, _prove(run["statement"], wit, run["published"], ZkProverChannel, _RecklessWalk)[:2])


def test_final_weights_not_the_trained_ones_rejected(run):
    wit = dict(run["witness"])
    wit["W1.T"] = wit["W1.T"].copy()
    wit["W1.T"][0, 0] += 1
    published = dict(run["published"])
    published["W1.T"] = commit_tensor(run["statement"], "W1.T", wit["W1.T"])
    _rejected(run, _prove(run["statement"], wit, published, ZkProverChannel)[:2])


# --- soundness: the bytes ----------------------------------------------------------------


def test_flipped_bytes_rejected(run):
    proof = run["proof"]
    for pos in np.random.default_rng(1).integers(0, len(proof), size=8):
        tampered = bytearray(proof)
        tampered[pos] ^= 1 << int(pos % 8)
        _rejected(run, (run["public"], bytes(tampered)))


def test_truncated_and_trailing_bytes_rejected(run):
    for proof in (run["proof"][:-1], run["proof"][: len(run["proof"]) // 2], run["proof"] + b"\x00", b""):
        _rejected(run, (run["public"], proof))


def test_clear_proof_is_not_a_zk_proof(run):
    _rejected(run, (run["public"], run["clear_proof"]))


def test_another_runs_statement_rejected(run):
    s, proof = run["statement"], (run["public"], run["proof"])
    _rejected(run, proof, TrainingStatement(s.circuit, b'{"run":"other"}', s.init_weights, s.init_biases))
    w0 = (s.init_weights[0] + 1, s.init_weights[1])
    _rejected(run, proof, TrainingStatement(s.circuit, s.recipe, w0, s.init_biases))
    _rejected(run, proof, TrainingStatement(_circuit((3, 2, 2)), s.recipe, s.init_weights, s.init_biases))


# --- the bundle and the CLI --------------------------------------------------------------

TINY_ZK = {
    "name": "tiny-zk",
    "seed": 3,
    "data": {"source": "synthetic", "n": 64, "d": 4, "classes": 3, "seed": 1},
    "model": {"kind": "mlp", "widths": [4, 8, 3], "bias": True},
    "train": {"batch_size": 8, "steps": 3, "optimizer": "sgd", "loss": "mse", "lr": 0.5},
    "quant": {"frac_bits": 16, "lr_shift": 16, "value_bits": 32},
    "prove": {"zk": True, "backend": "cpu"},
}


def test_zk_bundle_prove_verify_inspect(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_ZK))
    out = tmp_path / "tiny.zkp"
    runner = CliRunner()
    result = runner.invoke(main, ["prove", "--run", str(tmp_path / "tiny.yaml"), "--out", str(out)])
    assert result.exit_code == 0 and "mode zk" in result.output, result.output
    result = runner.invoke(main, ["verify", str(out)])
    assert result.exit_code == 0 and result.output.startswith("ACCEPT") and "zero-knowledge" in result.output
    result = runner.invoke(main, ["inspect", str(out)])
    assert result.exit_code == 0 and "mode        zero-knowledge" in result.output

    data = out.read_bytes()
    assert parse_bundle(data).zk and verify_bundle(data).mode == "zk"
    as_clear = data[:12] + bytes([MODE_CLEAR]) + data[13:]  # the mode byte is bound to the body
    assert not verify_bundle(as_clear).accepted
    assert not verify_bundle(data[:12] + b"\x02" + data[13:]).accepted  # an unknown mode
