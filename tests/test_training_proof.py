"""Proofs of training, end to end (non-ZK mode): the honest run verifies, deviations fail.

A tiny MLP (4 -> 8 -> 3, batch 4, 3 steps padded to 4, 3 outputs padded to 4) keeps every
case fast while still exercising padded steps, padded features, a hidden ReLU layer, biases
and the output gradient. Soundness cases follow issue 4: each builds a deviating witness with
the malicious-prover hook of ``prover.training`` (or a channel that lies in its messages),
proves it against the honest run's published commitments, and the verifier must reject.
"""

from __future__ import annotations

import numpy as np
import pytest

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import ProverChannel, commit_tensor, mlp_witness, prove_training
from verifier.claims import Claim
from verifier.errors import VerifyError
from verifier.hash_to_curve import pedersen_generators
from verifier.training import TrainingStatement, TrainingWalk, VerifierChannel, verify_training

LR = (3, 2, 1)


def _circuit(lr=LR) -> MlpCircuit:
    return MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=lr)


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
    # The published commitments (data before training, weights after), with their openings.
    published = {name: commit_tensor(statement, name, witness[name]) for name in statement.public_tensors()}
    public = {name: com for name, (com, _) in published.items()}
    backend = get_backend("reference")
    _, proof = prove_training(statement, witness, backend, published)
    return dict(c=c, x=x, y=y, w0=w0, b0=b0, statement=statement, witness=witness,
                published=published, public=public, proof=proof, backend=backend)


def _cheat(run, witness, channel_cls=ProverChannel, walk=TrainingWalk):
    """Prove a deviating witness: the data commitment is the one published before training,
    the final weights are whatever the cheating run ends with (the prover publishes those).
    Returns (public commitments, proof)."""
    wit = dict(witness)
    published = {}
    for name in run["statement"].public_tensors():
        if name in ("X.bits", "Y.bits"):
            wit[name] = run["witness"][name]
            published[name] = run["published"][name]
        else:
            published[name] = commit_tensor(run["statement"], name, wit[name])
    channel = channel_cls(run["statement"], wit, run["backend"], published)
    walk(run["statement"], channel).run()
    return {name: com for name, (com, _) in published.items()}, channel.proof_bytes()


def _rejected(run, proof, statement=None, public=None):
    if isinstance(proof, tuple):
        public, proof = proof
    with pytest.raises(VerifyError):
        verify_training(statement or run["statement"], public or run["public"], proof)


def _hooked(run, step, edit, x=None, circuit=None):
    """Witness whose step ``step`` passes every tensor through ``edit(name, value, seen)``."""

    def hook(t):
        if t != step:
            return None
        seen: dict = {}

        def h(name, value):
            seen[name] = value
            out = edit(name, value.copy(), seen)
            seen[name] = out
            return out

        return h

    return mlp_witness(circuit or run["c"], run["x"] if x is None else x, run["y"], run["w0"], run["b0"], hook)


# --- completeness ------------------------------------------------------------------------


def test_honest_proof_verifies(run):
    verify_training(run["statement"], run["public"], run["proof"])


def test_honest_proof_verifies_with_the_numba_backend(run):
    _, proof = prove_training(run["statement"], run["witness"], get_backend("cpu"), run["published"])
    verify_training(run["statement"], run["public"], proof)


def test_witness_matches_float_free_reference(run):
    # The final weights of the witness are W_0 minus the summed exact updates.
    c, wit = run["c"], run["witness"]
    w = [np.array(run["w0"][0], dtype=object), np.array(run["w0"][1], dtype=object)]
    for t in range(c.steps):
        gz2, a2 = wit["GZ2"][t][:, :3].astype(object), wit["IN2"][t].astype(object)
        w[1] = w[1] - LR[t] * gz2.T.dot(a2)
    assert (wit["W2.T"][:3].astype(object) == w[1]).all()


# --- soundness: deviating witnesses ------------------------------------------------------


def test_wrong_sign_bit_rejected(run):
    def edit(name, v, seen):
        if name == "S1":
            v[1, 2] = 1 - v[1, 2]
        return v

    _rejected(run, _cheat(run, _hooked(run, 1, edit)))


def test_relu_skipped_rejected(run):
    def edit(name, v, seen):
        return seen["ZP1"] if name == "IN2" else v

    _rejected(run, _cheat(run, _hooked(run, 0, edit)))


def test_other_learning_rate_rejected(run):
    wit = mlp_witness(_circuit((3, 3, 1)), run["x"], run["y"], run["w0"], run["b0"])
    _rejected(run, _cheat(run, wit))


def test_step_on_another_batch_rejected(run):
    x = run["x"].copy()
    x[1] = run["x"][2]
    wit = mlp_witness(run["c"], x, run["y"], run["w0"], run["b0"])
    # The published data stays what it was; the prover's messages follow the batch it used.
    channel = type("Lying", (_LyingChannel,), {"sources": {"X.bits": wit["X.bits"]}})
    wit["X.bits"] = run["witness"]["X.bits"]
    _rejected(run, _cheat(run, wit, channel))


def test_nonzero_witness_in_padded_step_rejected(run):
    def edit(name, v, seen):
        if name == "ZP1":
            v[0, 0] += 1
        return v

    _rejected(run, _cheat(run, _hooked(run, 3, edit)))


def test_nonzero_witness_in_padded_feature_rejected(run):
    def edit(name, v, seen):
        if name == "ZP2":
            v[0, 3] = 9  # output feature 3 is padding (3 real outputs)
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit)))


def test_sign_bit_outside_0_1_rejected(run):
    """Sign 0 with bit 30 equal to -2 recomposes to the same Z' but unmasks a negative
    pre-activation: only booleanity stands in the way (zkDL's AIVP)."""
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


def test_output_gradient_not_prediction_minus_label_rejected(run):
    def edit(name, v, seen):
        if name == "GZ2":
            v[1, 1] += 1
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit), walk=_RecklessWalk))


@pytest.mark.parametrize("where", ["padded step", "padded label feature"])
def test_nonzero_padding_in_published_data_rejected(run, where):
    def edit(name, v, seen):
        if where == "padded step" and name == "IN1":
            v[0, 0] = 5
        if where == "padded label feature" and name == "Y":
            v[0, 3] = 7
        return v

    wit = _hooked(run, 3 if where == "padded step" else 0, edit)
    public, proof = prove_training(run["statement"], wit, run["backend"])
    _rejected(run, proof, public=public)


class _RecklessWalk(TrainingWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


def test_virtual_table_disagreeing_with_its_bits_rejected(run):
    """The ReLU works on Z' + 1 while the committed bits hold Z': the Hadamard's claim on Z'
    reaches bits that do not recompose to it."""
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
    wit = dict(run["witness"])
    bits = wit["R1.bits"].copy()
    bits[:, :, :, 48] = 1  # a remainder decomposition one bit too wide
    wit["R1.bits"] = bits
    channel = ProverChannel(run["statement"], wit, run["backend"], run["published"])
    _RecklessWalk(run["statement"], channel).run()
    _rejected(run, channel.proof_bytes())


def test_final_weights_not_the_trained_ones_rejected(run):
    statement = run["statement"]
    wit = dict(run["witness"])
    wit["W1.T"] = wit["W1.T"].copy()
    wit["W1.T"][0, 0] += 1
    published = dict(run["published"])
    published["W1.T"] = commit_tensor(statement, "W1.T", wit["W1.T"])
    public = {name: com for name, (com, _) in published.items()}
    _, proof = prove_training(statement, wit, run["backend"], published)
    _rejected(run, proof, public=public)


class _LyingChannel(ProverChannel):
    """Sends bit slices computed from ``sources`` instead of the committed tensors, and opens
    the commitments regardless of the claims, hoping the verifier looks only at messages."""

    sources: dict = {}

    def slices(self, tensor, decomposition, point):
        if tensor not in self.sources:
            return super().slices(tensor, decomposition, point)
        saved = self.witness[tensor]
        self.witness[tensor] = self.sources[tensor]
        try:
            return super().slices(tensor, decomposition, point)
        finally:
            self.witness[tensor] = saved

    def open(self, tensor, point, value):
        from prover.commit import hyrax

        _, opening = hyrax.open_clear(self._hyrax[tensor], point, self.transcript)
        self._chunks.append(opening.to_bytes())


@pytest.mark.parametrize("tensor,slot", [("R1.bits", 48), ("Z1.bits", 31), ("G1.bits", 0)])
def test_committed_bits_differing_from_messages_rejected(run, tensor, slot):
    # R1.bits slot 48: a remainder decomposition one bit too wide (one past its range).
    wit = dict(run["witness"])
    bits = wit[tensor].copy()
    bits[0, 1, 2, slot] ^= 1
    wit[tensor] = bits
    channel = type("Lying", (_LyingChannel,), {"sources": {tensor: run["witness"][tensor]}})
    _rejected(run, _cheat(run, wit, channel))


def test_out_of_range_input_rejected(run):
    # An input bit beyond the declared 17 input bits, in published data.
    statement = run["statement"]
    wit = dict(run["witness"])
    bits = wit["X.bits"].copy()
    bits[0, 0, 0, 20] = 1
    wit["X.bits"] = bits
    published = dict(run["published"])
    published["X.bits"] = commit_tensor(statement, "X.bits", bits)
    public = {name: com for name, (com, _) in published.items()}
    channel = type("Lying", (_LyingChannel,), {"sources": {"X.bits": run["witness"]["X.bits"]}})
    ch = channel(statement, wit, run["backend"], published)
    TrainingWalk(statement, ch).run()
    _rejected(run, ch.proof_bytes(), public=public)


def test_unconsumed_claim_rejected(run):
    class Forgetful(TrainingWalk):
        def _after_phase_3(self):
            super()._after_phase_3()
            self.ledger.add(Claim("IN1", (0,) * 6, 0))  # a claim nobody reduces

    ch = VerifierChannel(run["statement"], run["public"], run["proof"], pedersen_generators())
    with pytest.raises(VerifyError, match="unconsumed"):
        Forgetful(run["statement"], ch).run()


# --- soundness: the bytes ----------------------------------------------------------------


def test_flipped_bytes_rejected(run):
    proof = run["proof"]
    for pos in np.random.default_rng(1).integers(0, len(proof), size=12):
        tampered = bytearray(proof)
        tampered[pos] ^= 1 << int(pos % 8)
        _rejected(run, bytes(tampered))


def test_truncated_and_trailing_bytes_rejected(run):
    _rejected(run, run["proof"][:-1])
    _rejected(run, run["proof"][: len(run["proof"]) // 2])
    _rejected(run, run["proof"] + b"\x00")
    _rejected(run, b"")


def test_another_runs_statement_rejected(run):
    s = run["statement"]
    other = TrainingStatement(s.circuit, b'{"run":"other"}', s.init_weights, s.init_biases)
    _rejected(run, run["proof"], statement=other)
    w0 = (s.init_weights[0] + 1, s.init_weights[1])
    _rejected(run, run["proof"], statement=TrainingStatement(s.circuit, s.recipe, w0, s.init_biases))
    _rejected(run, run["proof"], statement=TrainingStatement(_circuit((3, 2, 2)), s.recipe, s.init_weights, s.init_biases))
