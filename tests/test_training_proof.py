"""Proofs of training, end to end, in both modes: the honest run verifies, deviations fail.

A tiny MLP (4 -> 8 -> 3, batch 4, 3 steps padded to 4, 3 outputs padded to 4) keeps every
case fast while still exercising padded steps, padded features, a hidden ReLU layer, biases
and the output gradient. Each case is one test body run over both modes and both range
gadgets (py_ecc style): the ``run`` fixture proves the honest run with the mode's prover
channel (``prover.training`` in the clear mode, ``prover.zk_training`` in the zero-knowledge
mode) over a circuit whose range-checked values are limbs (logUp-GKR; 8-bit limbs keep the
lookup tables small here, the bundle tests use the recipe's 16) or bits, and the helpers take
both from it, so every deviating witness must be rejected by ``verifier.training`` and by
``verifier.zk_training``, where the verifier sees commitments instead of values.

Soundness cases follow issue 4: each builds a deviating witness with the malicious-prover hook
of ``prover.training`` (or a channel that lies in its messages), proves it against the honest
run's published commitments, and the verifier must reject. Each case names the check that must
reject it (issue 12), per mode and gadget where they differ: a regression that rejects for
another reason, or a check removed so that some later one happens to reject, fails the case.
A cheating witness is otherwise consistent (its lookup multiplicities are recounted for the
slots it commits), so that only the check the case is about stands in the way. Only the
byte-level cases (flipped, truncated, trailing bytes) accept any rejection: where a random
byte lands decides which parser or check meets it first. The zero-knowledge check searches
the ZK proof bytes for the 32-byte encodings of the values a clear proof reveals (bit slices,
evaluations) and of the final weights; a positive control finds the clear prover's values in
the clear proof.
"""

from __future__ import annotations

import dataclasses
import random
import re

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from cheats import recounted
from tiny_run import tiny_run

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.commit import hyrax
from prover.training import ProverChannel, commit_tensor, mlp_witness, prove_training
from prover.zk_training import ZkProverChannel
from verifier import field
from verifier.bundle import MODE_CLEAR, parse_bundle, verify_bundle
from verifier.claims import Claim
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.training import (
    TrainingStatement, TrainingWalk, VerifierChannel, verify_training, verify_with,
)
from verifier.zk_training import ZkVerifierChannel, verify_training_zk
from zktrain.cli import main

LR = (3, 2, 1)


GADGETS = ("limbs", "bits")


def _circuit(lr=LR, gadget="limbs") -> MlpCircuit:
    return MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=lr, range_check=gadget, limb_bits=8)


# --- the prover channels the cases need, in each mode ------------------------------------


class _Recording:
    """Mixin: records the clear values behind every slice and evaluation message."""

    sent: list

    def evaluation(self, tensor, point):
        value = super().evaluation(tensor, point)
        self.sent.append(getattr(value, "value", value))
        return value

    def slices(self, tensor, decomposition, point):
        values = super().slices(tensor, decomposition, point)
        self.sent.extend(getattr(v, "value", v) for v in values[: decomposition.num_slots])
        return values


class _Lying:
    """Mixin: sends bit slices computed from ``sources`` instead of the committed tensors, and
    opens the commitments regardless of the claims, hoping the verifier looks only at messages."""

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


class _LyingClear(_Lying, ProverChannel):
    def _open(self, tensor, point, value):
        # The honest clear channel refuses to open a commitment that disagrees with its claim.
        return hyrax.open_clear(self._hyrax[tensor], point, self.transcript)[1]


class _LyingZk(_Lying, ZkProverChannel):
    """The ZK channel's openings never compare the commitment with the claim: nothing to skip."""


class _RecklessWalk(TrainingWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


MODES = {
    "clear": dict(mode="clear", channel=ProverChannel, lying=_LyingClear, verify=verify_training,
                  verifier_channel=VerifierChannel),
    "zk": dict(mode="zk", channel=ZkProverChannel, lying=_LyingZk, verify=verify_training_zk,
               verifier_channel=ZkVerifierChannel),
}


# --- the honest run, proven in each mode -------------------------------------------------


@pytest.fixture(scope="module", params=GADGETS)
def honest(request):
    """The tiny run's data, statement, witness and published commitments (mode-independent),
    for each range gadget."""
    c = _circuit(gadget=request.param)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(3, 4))] = 1 << 16
    w0 = (rng.integers(-(1 << 44), 1 << 44, size=(8, 4)), rng.integers(-(1 << 44), 1 << 44, size=(3, 8)))
    b0 = (rng.integers(-(1 << 40), 1 << 40, size=8), rng.integers(-(1 << 40), 1 << 40, size=3))
    statement = TrainingStatement(c, b'{"run":"tiny"}', w0, b0)
    witness = mlp_witness(c, x, y, w0, b0)
    # The published commitments (data before training, weights after), with their openings.
    blinding = random.Random(0)  # seeded blinding: tests only
    published = {n: commit_tensor(statement, n, witness[n], blinding) for n in statement.public_tensors()}
    return dict(c=c, x=x, y=y, w0=w0, b0=b0, statement=statement, witness=witness, published=published,
                backend=get_backend("reference"))


def _channel(run, witness, published=None, channel_type=None, walk=TrainingWalk, seed=1):
    """The prover channel of the run's mode (or ``channel_type``) after walking ``witness``."""
    channel_type = channel_type or run["channel"]
    channel = channel_type(run["statement"], witness, run["backend"], published, random.Random(seed))
    channel.sent = []
    walk(run["statement"], channel).run()
    return channel


def _prove(run, witness, published=None, channel_type=None, walk=TrainingWalk, seed=1):
    """Public commitments and proof bytes of ``witness`` in the run's mode; the tensors missing
    from ``published`` are committed by the prover."""
    channel = _channel(run, witness, published, channel_type, walk, seed)
    return channel.public, channel.proof_bytes()


@pytest.fixture(scope="module")
def runs(honest):
    """The honest run proven in each mode: mode -> dict with the mode's prover channel, verify
    function, public commitments, proof bytes and the clear values behind its messages."""
    out = {}
    for mode, spec in MODES.items():
        run = dict(honest, **spec)
        recording = type("Recording", (_Recording, spec["channel"]), {})
        channel = _channel(run, honest["witness"], honest["published"], recording)
        out[mode] = dict(run, public=channel.public, proof=channel.proof_bytes(), sent=channel.sent)
    return out


@pytest.fixture(scope="module", params=list(MODES))
def run(request, runs):
    return runs[request.param]


def _cheat(run, witness, channel_type=None, walk=TrainingWalk):
    """Prove a deviating witness in the run's mode: the data commitment is the one published
    before training, the final weights are whatever the cheating run ends with (the prover
    publishes those). Returns (public commitments, proof)."""
    wit = dict(witness)
    published = {}
    for name in run["statement"].public_tensors():
        if name in run["c"].data_tensors():
            wit[name] = run["witness"][name]
            published[name] = run["published"][name]
        else:
            published[name] = commit_tensor(run["statement"], name, wit[name])
    return _prove(run, wit, published, channel_type, walk)


def _rejected(run, public_and_proof, match, statement=None):
    """The run's verifier rejects, for the reason ``match`` (a regex searched in the reason):
    the check the case is about, never just any check."""
    assert isinstance(match, str) and match, "a soundness case names the check that rejects it"
    public, proof = public_and_proof
    with pytest.raises(VerifyError, match=match):
        run["verify"](statement or run["statement"], public, proof)


def _rejected_for_some_reason(run, public_and_proof):
    """The run's verifier rejects, whatever the reason: only for bytes tampered at random,
    where the position decides which parser or check meets the damage first."""
    public, proof = public_and_proof
    with pytest.raises(VerifyError):
        run["verify"](run["statement"], public, proof)


# --- the checks that reject: patterns of the verifier's reasons --------------------------
#
# A deviating witness proven by the protocol's own prover makes some claim false. Where that
# claim enters a batched sumcheck, the first round polynomial, computed from the prover's
# tables, sums to the true value instead of the claim: in the clear mode p(0) + p(1) misses the
# claim, in the zero-knowledge mode the round's proof of dot product (which ties the committed
# round polynomial to the committed claim) fails. ``verifier.phase`` prefixes the phase's label.
_SUMCHECK_ROUND = {
    "clear": r"sumcheck round \d+: p\(0\) \+ p\(1\) does not match the claim",
    "zk": r"zk sumcheck round \d+: proof of dot product",
}
# The logUp sum: GKR down the top tree starts at its root, (P, Q) = (0, Q_top), a step with no
# variables whose only check is the final one (clear: the final evaluations; zero knowledge:
# the final proof of equality). A slot outside its table, or a lookup the multiplicities do not
# count, makes the root's numerator nonzero, so the top tree's first step is where it fails.
_LOGUP_TOP = {
    "clear": r"^logup-top: sumcheck: final evaluations do not match the last round polynomial",
    "zk": r"^logup-top: proof of equality",
}


def _phase_fails(run, label: str) -> str:
    """A false claim in the batched sumcheck of phase ``label`` (phase-1, phase-ledger, ...)."""
    return rf"^{label}: {_SUMCHECK_ROUND[run['mode']]}"


def _logup_sum_fails(run) -> str:
    return _LOGUP_TOP[run["mode"]]


def _range_check_fails(run) -> str:
    """A slot outside its range: the logUp sum (limbs), or the booleanity zero-check of the bits
    tensor, an instance of phase 1 (bits)."""
    return _logup_sum_fails(run) if run["c"].range_check == "limbs" else _phase_fails(run, "phase-1")


def _walk_check_fails(run, tensor: str, reason: str) -> str:
    """A check of the walk itself on a ranged tensor's slot values (``TrainingWalk.slice_value``):
    a comparison in the clear mode, a failing proof of equality in zero knowledge, one reason."""
    return rf"^{re.escape(run['c'].ranged(tensor))}: {reason}$"


def _recounted(run, witness):
    return recounted(run["c"], witness)


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


def _lying(run, sources):
    """The run's mode's lying channel, sending the slices of ``sources``."""
    return type("Lying", (run["lying"],), {"sources": sources})


# --- completeness ------------------------------------------------------------------------


def test_honest_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_honest_proof_verifies_with_the_numba_backend(runs):
    run = runs["clear"]
    _, proof = prove_training(run["statement"], run["witness"], get_backend("cpu"), run["published"])
    verify_training(run["statement"], run["public"], proof)


def test_witness_matches_float_free_reference(honest):
    # The final weights of the witness are W_0 minus the summed exact updates.
    c, wit = honest["c"], honest["witness"]
    w = [np.array(honest["w0"][0], dtype=object), np.array(honest["w0"][1], dtype=object)]
    for t in range(c.steps):
        gz2, a2 = wit["GZ2"][t][:, :3].astype(object), wit["IN2"][t].astype(object)
        w[1] = w[1] - LR[t] * gz2.T.dot(a2)
    assert (wit["W2.T"][:3].astype(object) == w[1]).all()


def test_layout_depends_on_the_recipe_only(runs):
    """Another witness (another batch) gives a ZK proof of exactly the same length."""
    run = runs["zk"]
    x = run["x"][::-1].copy()
    wit = mlp_witness(run["c"], x, run["y"], run["w0"], run["b0"])
    published = {n: commit_tensor(run["statement"], n, wit[n]) for n in run["statement"].public_tensors()}
    _, proof = _prove(run, wit, published, seed=5)
    assert len(proof) == len(run["proof"])


# --- zero knowledge ------------------------------------------------------------------------


def _encodings(values) -> set[bytes]:
    return {field.to_bytes(int(v) % R) for v in values if int(v) % R}


def _found(encodings: set[bytes], data: bytes) -> set[bytes]:
    return {e for e in encodings if e in data}


def test_zk_proof_reveals_no_witness_value(runs):
    run = runs["zk"]
    slices_and_evals = _encodings(run["sent"])
    final_weights = _encodings(np.concatenate([run["witness"][n].reshape(-1) for n in run["statement"].public_tensors()
                                               if n.endswith(".T")]))
    assert len(slices_and_evals) > 50 and len(final_weights) > 30  # not vacuous
    assert not _found(slices_and_evals, run["proof"])
    assert not _found(final_weights, run["proof"])


def test_positive_control_clear_proof_reveals_its_values(runs):
    clear_values = _encodings(runs["clear"]["sent"])
    assert clear_values and _found(clear_values, runs["clear"]["proof"]) == clear_values


# --- soundness: deviating witnesses ------------------------------------------------------


def test_wrong_sign_bit_rejected(run):
    """Step 1 masks one entry with the flipped sign; Z1's committed slots keep the true one."""

    def edit(name, v, seen):
        if name == "S1":
            v[1, 2] = 1 - v[1, 2]
        return v

    # The ledger: the zkReLU's claims on S1 become claims on Z1's sign slot (after phase 3), and
    # only their reduction against Z1's committed slots compares the mask with the sign.
    _rejected(run, _cheat(run, _hooked(run, 1, edit)), _phase_fails(run, "phase-ledger"))


def test_sign_slot_cleared_and_compensated_rejected(run):
    """Sign 0 with the top magnitude slot lowered by 2^(Q-1) / its weight recomposes to the
    same Z' but unmasks a negative pre-activation: only the range of every slot stands in the
    way (zkDL's AIVP). Bits: bit 30 lowered by 2 to -1, not boolean; limbs: the top magnitude
    limb lowered by 2^7 to -1, outside its table."""
    c, zp = run["c"], run["witness"]["ZP1"]
    t, b, j = (int(v) for v in np.argwhere(zp[: c.steps] <= 0)[0])
    d = c.z_slots(1)
    weights = d.weights()
    top = d.sign_slot - 1

    def edit(name, v, seen):
        if name == "S1":
            v[b, j] = 0
        return v

    wit = _hooked(run, t, edit)
    name = c.ranged("Z1")
    slots = wit[name].astype(np.int64)
    honest_value = d.compose(slots[t, b, j])
    slots[t, b, j, d.sign_slot] = 0
    slots[t, b, j, top] -= -weights[d.sign_slot] // weights[top]
    assert d.compose(slots[t, b, j]) == honest_value
    wit[name] = slots
    # The range check alone: every relation holds and the slots recompose; limbs: the negative
    # top limb is in no table (the logUp sum), bits: bit 30 fails booleanity (phase 1).
    _rejected(run, _cheat(run, _recounted(run, wit)), _range_check_fails(run))


def test_relu_skipped_rejected(run):
    def edit(name, v, seen):
        return seen["ZP1"] if name == "IN2" else v

    # Phase 3, the zkReLU's masked Hadamard sumcheck: the claims on IN2 must be (1 - S1) ZP1.
    _rejected(run, _cheat(run, _hooked(run, 0, edit)), _phase_fails(run, "phase-3"))


def test_other_learning_rate_rejected(run):
    wit = mlp_witness(_circuit((3, 3, 1), run["c"].range_check), run["x"], run["y"], run["w0"], run["b0"])
    # Phase 1, the final weights and biases: W_0 - W_T must be the updates summed with the
    # statement's learning rates (the step weights kappa).
    _rejected(run, _cheat(run, wit), _phase_fails(run, "phase-1"))


def test_step_on_another_batch_rejected(run):
    """The prover trains step 1 on batch 2; the published data stays what it was, and the
    prover's slices of the data follow the batch it used."""
    x = run["x"].copy()
    x[1] = run["x"][2]
    wit = mlp_witness(run["c"], x, run["y"], run["w0"], run["b0"])
    x_name = run["c"].ranged("X")
    channel = _lying(run, {x_name: wit[x_name]})
    wit[x_name] = run["witness"][x_name]
    # The ledger: the slot values sent for X fold into claims on the published X slots, which
    # only their reduction against that commitment compares with the data.
    _rejected(run, _cheat(run, _recounted(run, wit), channel), _phase_fails(run, "phase-ledger"))


@pytest.mark.parametrize(
    "step,name,index", [(3, "ZP1", (0, 0)), (0, "ZP2", (0, 3))], ids=["padded step", "padded feature"]
)
def test_nonzero_witness_in_padded_step_or_feature_rejected(run, step, name, index):
    """Step 3 is a padded step; output feature 3 is padding (3 real outputs)."""

    def edit(n, v, seen):
        if n == name:
            v[index] += 9
        return v

    # Phase 1, the forward matmul of the layer: its sum covers the padded steps and features,
    # where Z = IN W^T + b holds as anywhere (zero data, zero padded rows of W and b).
    _rejected(run, _cheat(run, _hooked(run, step, edit)), _phase_fails(run, "phase-1"))


@pytest.mark.parametrize("where", ["padded step", "padded label feature"])
def test_nonzero_padding_in_published_data_rejected(run, where):
    def edit(name, v, seen):
        if where == "padded step" and name == "IN1":
            v[0, 0] = 5
        if where == "padded label feature" and name == "Y":
            v[0, 3] = 7
        return v

    wit = _hooked(run, 3 if where == "padded step" else 0, edit)
    # Phase 1, the padding zero-check of the data tensor: no relation forces the data's padding.
    _rejected(run, _prove(run, wit), _phase_fails(run, "phase-1"))


def test_output_gradient_not_prediction_minus_label_rejected(run):
    def edit(name, v, seen):
        if name == "GZ2":
            v[1, 1] += 1
        return v

    # The walk's check of the output layer (phase 3): G_Z,L = Z'_L - Y on the recomposed slots.
    _rejected(run, _cheat(run, _hooked(run, 0, edit), walk=_RecklessWalk), r"^output gradient is not Y_hat - Y$")


def test_virtual_table_disagreeing_with_its_bits_rejected(run):
    """The ReLU works on Z' + 1 while the committed bits hold Z': the claim on Z' from the
    Hadamard sumcheck reaches bits that do not recompose to it (in the ZK mode, a proof of
    equality that fails)."""
    t, b, j = 0, 1, 2

    def edit(name, v, seen):
        if name == "IN2":
            v[b, j] = (1 - seen["S1"][b, j]) * (seen["ZP1"][b, j] + 1)
        return v

    wit = _hooked(run, t, edit)
    zp = wit["ZP1"].copy()
    zp[t, b, j] += 1  # the virtual table the prover uses; Z1's slots keep the true value
    wit["ZP1"] = zp
    # The walk's check after phase 3: the claim on ZP1 must be what Z1's slot values recompose to.
    check = _walk_check_fails(run, "Z1", "slots do not recompose to the claimed value")
    _rejected(run, _cheat(run, wit, walk=_RecklessWalk), check)


def test_virtual_gradient_disagreeing_with_its_slots_rejected(run):
    """The ReLU's backward pass masks G'_1 + 1 at an unmasked entry while G1's committed slots
    keep the true G'_1 (what the backward matmul rescales to, so that relation holds): layer 1
    trains on a gradient off by one, and the run goes on with it. The claim on G'_1 that the
    masked Hadamard sumcheck of G_Z,1 = (1 - S1) G'_1 leaves reaches slots that do not recompose
    to it (in the ZK mode, a proof of equality that fails)."""
    c = run["c"]
    t, b, j = (int(v) for v in np.argwhere(run["witness"]["S1"][: c.steps] == 0)[0])

    def edit(name, v, seen):
        if name == "GP1":
            v[b, j] += 1  # unmasked (S1 = 0): G_Z,1 moves with it
        return v

    wit = _hooked(run, t, edit)
    assert (wit["GZ1"][t] != run["witness"]["GZ1"][t]).any()
    true = wit["GP1"].copy()
    true[t, b, j] -= 1
    wit[c.ranged("G1")] = c.g_slots().decompose(true, "G'1")
    # The walk's check after phase 3: the claim on GP1 must be what G1's slot values recompose to.
    check = _walk_check_fails(run, "G1", "slots do not recompose to the claimed value")
    _rejected(run, _cheat(run, _recounted(run, wit), walk=_RecklessWalk), check)


def test_nonzero_padding_slot_rejected(run):
    """A remainder decomposed one slot too wide. In the clear mode the prover sends the padding
    slot and the walk requires it to be zero. In the ZK mode the padding slot is not sent, the
    verifier takes it as 0: with limbs the lookup of the padding slot in the table {0} fails
    first (logUp runs before the ledger), with bits the slots' folded claim disagrees with their
    commitment in the ledger."""
    c = run["c"]
    name = c.ranged("R1")
    wit = dict(run["witness"])
    slots = wit[name].copy()
    slots[:, :, :, c.rem_slots().num_slots] = 1
    wit[name] = slots
    check = {
        # The walk's check of the padding slot values sent (``slice_value``).
        ("clear", "limbs"): _walk_check_fails(run, "R1", "a padding slot is not zero"),
        ("clear", "bits"): _walk_check_fails(run, "R1", "a padding slot is not zero"),
        # The range check of a padding slot: its table is {0}.
        ("zk", "limbs"): _logup_sum_fails(run),
        # The ledger: the folded claim (padding slot 0) against the committed slots.
        ("zk", "bits"): _phase_fails(run, "phase-ledger"),
    }[run["mode"], c.range_check]
    _rejected(run, _prove(run, _recounted(run, wit), run["published"], walk=_RecklessWalk), check)


def test_final_weights_not_the_trained_ones_rejected(run):
    wit = dict(run["witness"])
    wit["W1.T"] = wit["W1.T"].copy()
    wit["W1.T"][0, 0] += 1
    published = dict(run["published"])
    published["W1.T"] = commit_tensor(run["statement"], "W1.T", wit["W1.T"])
    # Phase 1, the final weights: W_0 - W_T must be the summed updates.
    _rejected(run, _prove(run, wit, published), _phase_fails(run, "phase-1"))


_OPENING_FAILS = {"clear": r"^hyrax opening: <t, R> differs from the claimed value$",
                  "zk": r"^inner-product argument: final check fails$"}


def test_published_final_weights_other_than_the_claimed_ones_rejected(run):
    """W_T has one claim (phase 1's update), so the ledger opens it at that claim with no
    reduction (``TrainingWalk._ledger_and_openings``). The attack: every message is the
    honest run's, so phase 1 holds, but the published W1.T commits to other final weights
    (one entry + 1). Only that opening stands in the way."""
    forged = run["witness"]["W1.T"].copy()
    forged[0, 0] += 1
    published = dict(run["published"])
    published["W1.T"] = commit_tensor(run["statement"], "W1.T", forged)
    proof = _prove(run, run["witness"], published, run["lying"])
    _rejected(run, proof, _OPENING_FAILS[run["mode"]])


@pytest.mark.parametrize("tensor", ["R1", "Z1", "G1"])
def test_committed_slots_differing_from_messages_rejected(run, tensor):
    """R1: its first padding slot set (a remainder one slot too wide, one past its range);
    Z1: the sign slot flipped; G1: the lowest slot flipped. The messages are the honest slots'."""
    c = run["c"]
    d = {"R1": c.rem_slots(), "Z1": c.z_slots(1), "G1": c.g_slots()}[tensor]
    slot = d.num_slots if tensor == "R1" else d.sign_slot if tensor == "Z1" else 0
    name = c.ranged(tensor)
    wit = dict(run["witness"])
    slots = wit[name].copy()
    slots[0, 1, 2, slot] ^= 1
    wit[name] = slots
    # The ledger: the folded claims of the messages against the committed slots; but a set
    # padding slot of a limbs tensor is a lookup outside the table {0}, and logUp comes first.
    check = _logup_sum_fails(run) if (tensor, c.range_check) == ("R1", "limbs") else _phase_fails(run, "phase-ledger")
    _rejected(run, _cheat(run, _recounted(run, wit), _lying(run, {name: run["witness"][name]})), check)


def test_out_of_range_input_rejected(run):
    """An input of 2^17, one past the declared 17 input bits, in published data: its top slot
    (bit 16, or the 1-bit top limb) holds 2. The run trains on it, so every relation holds and
    the slots recompose to the input: only the range check stands in the way."""
    c = run["c"]
    name, d = c.ranged("X"), c.x_slots()
    x = run["x"].copy()
    x[0, 0, 0] = 1 << 17
    wit = mlp_witness(dataclasses.replace(c, input_bits=18), x, run["y"], run["w0"], run["b0"])
    slots = run["witness"][name].astype(np.int64)
    slots[0, 0, 0] = 0
    slots[0, 0, 0, d.num_slots - 1] = 2
    assert d.compose(slots[0, 0, 0]) == 1 << 17 and (d.compose(slots) == wit["IN1"]).all()
    wit[name] = slots
    # The range check of the input's top slot: the logUp sum (limbs), booleanity (bits).
    _rejected(run, _prove(run, _recounted(run, wit)), _range_check_fails(run))


def test_unconsumed_claim_rejected(run):
    class Forgetful(TrainingWalk):
        def _after_phase_3(self):
            super()._after_phase_3()
            self.ledger.add(Claim("IN1", (0,) * 6, 0))  # a claim nobody reduces

    ch = run["verifier_channel"](run["statement"], run["public"], run["proof"], pedersen_generators())
    with pytest.raises(VerifyError, match=r"^unconsumed claims remain on: IN1 "):
        Forgetful(run["statement"], ch).run()


def test_committed_tensor_without_a_claim_rejected(run):
    """A walk in which a gadget forgets to hand its claims on a committed tensor to the ledger:
    that tensor would never be opened, so whatever its commitment holds would go unchecked. The
    ledger refuses to open anything unless every committed tensor has a claim."""
    remainder = run["c"].ranged("RG1")

    class Forgetting(TrainingWalk):
        def _ledger_and_openings(self):
            self.ledger.take(remainder)
            super()._ledger_and_openings()

    ch = run["verifier_channel"](run["statement"], run["public"], run["proof"], pedersen_generators())
    with pytest.raises(VerifyError, match=rf"^no claim reaches committed tensor {re.escape(remainder)}$"):
        Forgetting(run["statement"], ch).run()


# --- soundness: the bytes ----------------------------------------------------------------


def test_flipped_bytes_rejected(run):
    proof = run["proof"]
    for pos in np.random.default_rng(1).integers(0, len(proof), size=12):
        tampered = bytearray(proof)
        tampered[pos] ^= 1 << int(pos % 8)
        _rejected_for_some_reason(run, (run["public"], bytes(tampered)))


def test_truncated_and_trailing_bytes_rejected(run):
    for proof in (run["proof"][:-1], run["proof"][: len(run["proof"]) // 2], run["proof"] + b"\x00", b""):
        _rejected_for_some_reason(run, (run["public"], proof))


def test_proof_of_the_other_mode_rejected(run, runs):
    """A clear proof is not a ZK proof, and a ZK proof is not a clear one: the layouts part
    after the witness commitments, where the clear verifier reads 32-byte field elements and
    the ZK verifier 48-byte points. And the mode is bound besides: a proof read in its own
    layout under the other mode's label fails the first check the challenges reach."""
    (other,) = (r for mode, r in runs.items() if mode != run["mode"])
    # The parser: the bytes of a ZK proof's points are no canonical field elements; a clear
    # proof's field elements are no compressed points.
    parse = {"clear": r"^training proof: non-canonical field element", "zk": r"^training proof: G1 point: "}
    _rejected(run, (run["public"], other["proof"]), parse[run["mode"]])
    # The transcript absorbs the mode first: every challenge differs, so phase 1's first round.
    relabeled = type("Relabeled", (run["verifier_channel"],), {"mode": other["verifier_channel"].mode})
    with pytest.raises(VerifyError, match=_phase_fails(run, "phase-1")):
        verify_with(relabeled, run["statement"], run["public"], run["proof"])


def test_another_runs_statement_rejected(run):
    s, proof = run["statement"], (run["public"], run["proof"])
    # Another recipe: the transcript absorbs it before anything, so every challenge differs and
    # the first check they reach, phase 1's first round, fails.
    other_recipe = TrainingStatement(s.circuit, b'{"run":"other"}', s.init_weights, s.init_biases)
    _rejected(run, proof, _phase_fails(run, "phase-1"), other_recipe)
    # Another W_0 (the recipe's seed derives it; the statement's values are not absorbed): the
    # verifier's own W~_0 enters the final-weights claims of phase 1, W_0 - W_T.
    w0 = (s.init_weights[0] + 1, s.init_weights[1])
    _rejected(run, proof, _phase_fails(run, "phase-1"), TrainingStatement(s.circuit, s.recipe, w0, s.init_biases))
    # Other learning rates under the same recipe bytes (a caller building statements by hand):
    # the transcript absorbs the circuit, learning rates included, so the challenges differ.
    other_lr = TrainingStatement(_circuit((3, 2, 2), s.circuit.range_check), s.recipe, s.init_weights, s.init_biases)
    _rejected(run, proof, _phase_fails(run, "phase-1"), other_lr)


# --- the bundle and the CLI (zero-knowledge mode) ----------------------------------------

TINY_ZK = tiny_run({"zk": True}, name="tiny-zk")


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


def test_statement_and_phases_open_the_transcript_in_order(run, monkeypatch):
    """The walk's transcript, label by label, as the verifier replays an accepted proof: the
    format version, the mode, the range gadget, the recipe, the circuit and the segment's place
    before any commitment, then the phases' domains in the walk's order. The prover runs the
    same walk, so a label dropped from it would drop on both sides and the honest proof would
    still verify: this pins the statement's binding (DESIGN section 9) and the phases'
    separation, each by name."""
    from verifier.transcript import Transcript

    seen = []
    for name in ("domain_separate", "absorb_bytes"):
        original = getattr(Transcript, name)
        monkeypatch.setattr(Transcript, name, lambda t, label, *a, _o=original: (seen.append(label), _o(t, label, *a))[1])
    run["verify"](run["statement"], run["public"], run["proof"])
    assert seen[:6] == [b"format-version", b"mode", b"range-check", b"recipe", b"circuit", b"segment"]
    assert seen[6].startswith(b"commitment:")
    domains = [label for label in seen if label in (b"phase-a", b"phase-1", b"phase-2", b"phase-3-claims", b"phase-3", b"ledger")]
    assert domains == [b"phase-a", b"phase-1", b"phase-2", b"phase-3-claims", b"phase-3", b"ledger"]


@pytest.mark.parametrize("changes, message", [
    (dict(segment=2, segments=2), r"^segment 2 of 2$"),
    (dict(segment=-1, segments=2), r"^segment -1 of 2$"),
    (dict(segment_steps=2), r"^a segment of 3 steps, 2 per segment$"),
    (dict(init_biases=None), r"^initial weights and biases are both public values or both committed$"),
])
def test_statement_refuses_an_inconsistent_place_or_init(honest, changes, message):
    """A statement's own consistency, checked where it is built (the bundle parser builds them
    from the recipe; a caller embedding the verifier builds its own): a segment outside the
    run, a segment longer than the run's segment length (the learning-rate slice and the
    transcript's step would disagree), W_0 public but b_0 committed."""
    st = honest["statement"]
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(st, **changes)


def test_statement_refuses_data_or_init_of_another_kind(honest):
    from verifier.data import PublicData

    st = honest["statement"]
    with pytest.raises(ValueError, match=r"^public data for a circuit of private data$"):
        dataclasses.replace(st, data=PublicData(None, None))
    committed_init = dataclasses.replace(st.circuit, init_committed=True)
    with pytest.raises(ValueError, match=r"^init: committed takes W_0 from its commitment, not public values$"):
        dataclasses.replace(st, circuit=committed_init)


def test_public_commitments_are_the_callers(run):
    """The public commitments come from the caller (the bundle's published W_T, the data
    owner's data commitment), never from the proof: one missing is refused before the walk
    reads anything (the proof would otherwise be read as carrying it), and one of another
    shape is refused by name before it is absorbed."""
    st, public = run["statement"], dict(run["public"])
    missing = dict(public)
    del missing["W1.T"]
    with pytest.raises(VerifyError, match=r"^public commitments missing: \['W1\.T'\]$"):
        run["verify"](st, missing, run["proof"])
    short = dict(public, **{"W1.T": dataclasses.replace(public["W1.T"], rows=public["W1.T"].rows[:-1])})
    with pytest.raises(VerifyError, match=r"^public commitment W1\.T: wrong number of rows$"):
        run["verify"](st, short, run["proof"])
