"""Proofs of SGD with momentum and weight decay (issue 15 item 3, design (A) of docs/momentum.md,
``verifier/optimizers.py``), end to end in both modes: the honest run verifies, and deviating
provers are rejected by the check meant for them.

The run is the tiny MLP of tests/test_training_proof.py (4 -> 8 -> 3, batch 4, 3 steps padded
to 4, biases) trained with mu = 0.9 (29491/2^15) and a folded weight decay of 525/2^14, so the
buffer relation rounds by K = 30 bits and every term of it is live. Each soundness case is a
prover that runs another optimizer (the state of another step, no decay, another mu), proves it
with the protocol's own prover against the statement, and publishes what its run ends on; the
case names the check that rejects it (issue 12), per mode.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.commit import hyrax
from prover.training import ProverChannel, commit_tensor, mlp_witness
from prover.zk_training import ZkProverChannel
from verifier.errors import VerifyError
from verifier.optimizers import momentum_coefficients
from verifier.training import TrainingStatement, TrainingWalk, verify_training
from verifier.zk_training import verify_training_zk

MU, LAM = (29491, 15), (525, 14)
RECIPE = b'{"run":"tiny-momentum"}'


def _circuit(gadget: str = "limbs", **changes) -> MlpCircuit:
    c = MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(3, 2, 1), range_check=gadget, limb_bits=8,
                   optimizer="sgd_momentum", momentum=MU, weight_decay=LAM)
    return dataclasses.replace(c, **changes)


class _RecklessClear(ProverChannel):
    """Opens its commitments whatever it claimed (the honest clear channel refuses to)."""

    def _open(self, tensor, point, value):
        return hyrax.open_clear(self._hyrax[tensor], point, self.transcript)[1]


class _RecklessWalk(TrainingWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


MODES = {
    "clear": dict(mode="clear", channel=ProverChannel, reckless=_RecklessClear, verify=verify_training),
    "zk": dict(mode="zk", channel=ZkProverChannel, reckless=ZkProverChannel, verify=verify_training_zk),
}
# The check that rejects a false claim in a batched sumcheck (tests/test_training_proof.py).
_SUMCHECK_ROUND = {
    "clear": r"sumcheck round \d+: p\(0\) \+ p\(1\) does not match the claim",
    "zk": r"zk sumcheck round \d+: proof of dot product",
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(3, 4))] = 1 << 16
    w0 = (rng.integers(-(1 << 44), 1 << 44, size=(8, 4)), rng.integers(-(1 << 44), 1 << 44, size=(3, 8)))
    b0 = (rng.integers(-(1 << 40), 1 << 40, size=8), rng.integers(-(1 << 40), 1 << 40, size=3))
    return dict(x=x, y=y, w0=w0, b0=b0)


def proven_run(mode: str, data: dict, c: MlpCircuit, recipe: bytes) -> dict:
    """The honest run of circuit ``c`` on ``data`` in ``mode``: its statement, witness, published
    commitments and proof, with the mode's channels and verifier (``MODES``): what every
    optimizer's proof tests start from."""
    statement = TrainingStatement(c, recipe, data["w0"], data["b0"])
    witness = mlp_witness(c, data["x"], data["y"], data["w0"], data["b0"])
    published = {n: commit_tensor(statement, n, witness[n], random.Random(0)) for n in statement.public_tensors()}
    run = dict(data, **MODES[mode], c=c, statement=statement, witness=witness, published=published,
               backend=get_backend("reference"))
    run["public"], run["proof"] = _prove(run, statement, witness, published)
    return run


@pytest.fixture(scope="module", params=list(MODES))
def run(request, data):
    return proven_run(request.param, data, _circuit(), RECIPE)


def _prove(run, statement, witness, published, channel_type=None, walk=TrainingWalk):
    channel = (channel_type or run["channel"])(statement, witness, run["backend"], published, random.Random(1))
    walk(statement, channel).run()
    return channel.public, channel.proof_bytes()


def stale(source: tuple[int, str], target: tuple[int, str]):
    """A per-step hook (``mlp_witness``'s ``hook``) that replaces the tensor ``target`` = (step,
    name) by the one emitted as ``source``: a prover using another step's value there, and
    running on with it."""
    kept: dict = {}

    def hook(t):
        def h(name, value):
            kept[t, name] = value
            return kept[source] if (t, name) == target else value
        return h

    return hook


def transcript_labels(monkeypatch) -> list:
    """The transcript's domain and challenge labels, in order, as they are drawn from now on:
    where a module's transcript domain sits (a domain dropped on both sides still verifies)."""
    from verifier.transcript import Transcript

    seen = []
    separate, challenge = Transcript.domain_separate, Transcript.challenge_scalars
    monkeypatch.setattr(Transcript, "domain_separate", lambda t, label: (seen.append(label), separate(t, label))[1])
    monkeypatch.setattr(Transcript, "challenge_scalars", lambda t, label, n: (seen.append(label), challenge(t, label, n))[1])
    return seen


def lying(channel_type, tensor: str, shown):
    """``channel_type`` whose every evaluation of ``tensor`` is of the table ``shown`` instead of
    the witness's: a prover sending another table's value where the walk asks for one."""

    class Lying(channel_type):
        def evaluation(self, name, point):
            if name != tensor:
                return super().evaluation(name, point)
            saved, self.witness[name] = self.witness[name], shown
            try:
                return super().evaluation(name, point)
            finally:
                self.witness[name] = saved

    return Lying


def _cheat(run, witness):
    """Prove a deviating witness: the data as published before training, every other public
    tensor (W_T, b_T and the buffers' checkpoint) whatever the cheating run ends on."""
    st, c = run["statement"], run["c"]
    published = {n: run["published"][n] if n in c.data_tensors() else commit_tensor(st, n, witness[n])
                 for n in st.public_tensors()}
    witness = {**witness, **{n: run["witness"][n] for n in c.data_tensors()}}
    return _prove(run, st, witness, published, walk=_RecklessWalk)


def _rejected(run, public_and_proof, match, statement=None):
    public, proof = public_and_proof
    with pytest.raises(VerifyError, match=match):
        run["verify"](statement or run["statement"], public, proof)


def _phase_1_fails(run) -> str:
    """A false claim among phase 1's instances: here the buffer relation or its shift."""
    return rf"^phase-1: {_SUMCHECK_ROUND[run['mode']]}"


# --- completeness ---------------------------------------------------------------------------


def test_honest_momentum_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_witness_follows_torch_sgd_with_momentum_and_decay(run):
    """The witness's W_T is design (A)'s update, recomputed here from its own gradients: buf_t
    rounded half up from mu buf_{t-1} + G_t + lam_f W_t at 2^-K, W_{t+1} = W_t - lr buf_t."""
    c, wit = run["c"], run["witness"]
    mu, lam = momentum_coefficients(c)
    K = c.momentum_shift
    w = np.array(run["w0"][1], dtype=object)
    buf = np.zeros_like(w)
    for t in range(c.steps):
        g = wit["GZ2"][t][:, :3].astype(object).T.dot(wit["IN2"][t].astype(object))
        buf = ((1 << K) * g + mu * buf + lam * w + (1 << (K - 1))) >> K
        w = w - c.lr[t] * buf
    assert (wit["W2.T"][:3].astype(object) == w).all()
    assert (wit["VW2.T"][:3].astype(object) == buf).all()  # the checkpoint: the last real step's buffer


def test_bits_gadget_proves_momentum():
    """The same walk over the bit gadget (booleanity instead of logUp), clear mode."""
    c = _circuit("bits")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    w0 = (rng.integers(-(1 << 40), 1 << 40, size=(8, 4)), rng.integers(-(1 << 40), 1 << 40, size=(3, 8)))
    b0 = (np.zeros(8, dtype=np.int64), np.zeros(3, dtype=np.int64))
    st = TrainingStatement(c, RECIPE, w0, b0)
    channel = ProverChannel(st, mlp_witness(c, x, y, w0, b0), get_backend("reference"), None, random.Random(2))
    TrainingWalk(st, channel).run()
    verify_training(st, channel.public, channel.proof_bytes())


# --- soundness: another optimizer than the recipe's ---------------------------------------------


def test_momentum_state_of_another_step_is_rejected(run):
    """Step 2 takes buf_0 (the state of step 0) for its buf_{t-1}: the buffer relation holds for
    what the prover commits, but its buf_{t-1} is not the buffer shifted by one step, so the
    shift instance of phase 1 fails."""
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"], stale((0, "VW1"), (2, "VW1.prev")))
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


@pytest.mark.parametrize("case", ["weight decay skipped", "another mu"])
def test_another_momentum_update_is_rejected(run, case):
    """The prover runs SGD without the recipe's weight decay (lam' = 0), or with mu = 7/8
    instead of 0.9, at the same rounding shift: the buffer relation of phase 1 fails."""
    mu, lam = momentum_coefficients(run["c"])
    other = (mu, 0) if case == "weight decay skipped" else (7 << (run["c"].momentum_shift - 3), lam)
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"], coefficients=other)
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


def test_decay_on_other_weights_is_rejected(run, monkeypatch):
    """The prover decays the buffer of W2 by lam' (W2 + delta) on the real entries (its
    buffers and remainders follow), and sends the relation's W~_t(p, tau) as that table's: the
    buffer relation holds, but the sent value is a claim on the stacked W2, which phase 2
    reduces to W_0 minus the updates."""
    import prover.training as pt

    delta = 1 << 44
    mask = np.zeros((4, 8), dtype=object)  # W2 is [3, 8] in a [4, 8] padded layout
    mask[:3, :] = delta
    honest = pt.momentum_update

    def decayed(c, w, b, grads, bufs, lr, emit, coefficients=None):
        shifted = [w[0], w[1] + mask]
        new_w, new_b, new_bufs = honest(c, shifted, b, grads, bufs, lr, emit, coefficients)
        return [new_w[0], new_w[1] - mask], new_b, new_bufs

    monkeypatch.setattr(pt, "momentum_update", decayed)
    d = run
    witness = dict(mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"]))
    shown = np.asarray(witness["W2"], dtype=object) + mask[None]

    Lying = lying(run["channel"], "W2", shown)  # the relation's own term: the only W2 value the walk asks for

    st, c = run["statement"], run["c"]
    published = {n: run["published"][n] if n in c.data_tensors() else commit_tensor(st, n, witness[n])
                 for n in st.public_tensors()}
    witness.update({n: run["witness"][n] for n in c.data_tensors()})
    proof = _prove(run, st, witness, published, channel_type=Lying, walk=_RecklessWalk)
    _rejected(run, proof, rf"^phase-2: {_SUMCHECK_ROUND[run['mode']]}")


def test_weights_moved_by_other_buffers_than_the_committed_are_rejected(run, monkeypatch):
    """The weights move by buf + delta at step 1 (the next step's buffer recurs from it too, so
    every buffer relation holds), while the committed slots hold buf: the updates' and shifts'
    claims on the stacked buffer are read off its slots."""
    import prover.training as pt

    mask = np.zeros((4, 8), dtype=object)
    mask[:3, :] = 1 << 20
    honest, calls = pt.momentum_update, []

    def moved(c, w, b, grads, bufs, lr, emit, coefficients=None):
        new_w, new_b, new_bufs = honest(c, w, b, grads, bufs, lr, emit, coefficients)
        calls.append(None)
        if len(calls) == 2:  # step 1
            new_bufs[1] = (new_bufs[1][0] + mask, new_bufs[1][1])
            new_w[1] = new_w[1] - lr * mask
        return new_w, new_b, new_bufs

    monkeypatch.setattr(pt, "momentum_update", moved)
    d = run
    witness = dict(mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"]))
    stacked = np.array(witness["VW2"], dtype=object)
    stacked[1] += mask.reshape(-1)
    witness["VW2"] = stacked
    _rejected(run, _cheat(run, witness), r"^VW2\.limbs: slots do not recompose to the claimed value$")


@pytest.mark.parametrize("mode", list(MODES))
def test_forward_with_another_bias_is_rejected(mode, data):
    """Plain SGD: step 1's output layer adds b_2 + 1 (at Z''s scale) in its forward pass (the
    loss and the backward pass follow), the stacked bias and its updates honest, and the
    forward relation's b~(u) is sent as that biased table's: it is a claim on the stacked bias,
    which phase 2 reduces to b_0 minus the updates."""
    c = _circuit(optimizer="sgd", momentum=(0, 0), weight_decay=(0, 0))
    run = proven_run(mode, data, c, RECIPE)
    one = np.zeros((4, 4), dtype=object)  # [B, d_2'] at 2^R: Z'_2 + 1 on the 3 real outputs
    one[:, :3] = 1

    def hook(t):
        return None if t != 1 else (lambda name, value: value + one if name == "ZP2" else value)

    witness = dict(mlp_witness(c, data["x"], data["y"], data["w0"], data["b0"], hook))
    shown = np.asarray(witness["b2"], dtype=object).copy()
    shown[1, :3] += 1 << (c.frac_bits + c.lr_shift)  # b at 2^(2R+k): 2^R b / 2^S moves Z' by 1

    Lying = lying(run["channel"], "b2", shown)  # the forward relation's: the only b2 value plain SGD asks for

    st = run["statement"]
    published = {n: run["published"][n] if n in c.data_tensors() else commit_tensor(st, n, witness[n])
                 for n in st.public_tensors()}
    witness.update({n: run["witness"][n] for n in c.data_tensors()})
    proof = _prove(run, st, witness, published, channel_type=Lying, walk=_RecklessWalk)
    _rejected(run, proof, rf"^phase-2: {_SUMCHECK_ROUND[mode]}")


def test_proof_of_another_recipes_momentum_is_rejected(run):
    """The honest proof checked against a statement whose recipe says mu = 7/8 (the same
    rounding shift, so the same proof layout): the circuit is in the transcript, and the
    buffer relation the verifier then checks is not the one proven. The clear mode compares
    values, so the relation's instance of phase 1 fails first; in zero knowledge, every proof
    of equality is bound to the transcript, and the first (the buffer checkpoint's) fails."""
    other = dataclasses.replace(run["statement"], circuit=_circuit(momentum=(7, 3)))
    match = {"clear": _phase_1_fails(run), "zk": r"^VW1\.limbs: slots do not recompose to the claimed value$"}
    _rejected(run, (run["public"], run["proof"]), match[run["mode"]], statement=other)


def test_checkpoint_of_a_padded_step_is_rejected(run):
    """The published buffer checkpoint VW1.T is the buffer after the last *padded* step (the
    recurrence runs on through them), not after the last real one: the walk reads the stacked
    buffer's slots at the last real step and they do not recompose to the claimed V~_T."""
    witness = dict(run["witness"])
    witness["VW1.T"] = witness["VW1"][-1].reshape(witness["VW1.T"].shape)
    assert not np.array_equal(witness["VW1.T"], run["witness"]["VW1.T"])
    _rejected(run, _cheat(run, witness), r"^VW1\.limbs: slots do not recompose to the claimed value$")


# --- segments: the buffer checkpoint chains them ----------------------------------------------------


def proven_first_segment(run, recipe: bytes):
    """Steps 0-1 and step 2 of ``run`` as two segments: the first proven and verified. Returns
    the second segment's circuit and statement, the first's witness, its checkpoint (the second's
    precommitted W_0 and state) and its public end commitments renamed as the second's ``*.0``."""
    c, d = run["c"], run
    seg = [dataclasses.replace(c, steps=2, lr=c.lr[:2]), dataclasses.replace(c, steps=1, lr=c.lr[2:])]
    first = TrainingStatement(seg[0], recipe, d["w0"], d["b0"], segment=0, segments=2, segment_steps=2)
    second = TrainingStatement(seg[1], recipe, None, None, segment=1, segments=2, segment_steps=2)
    wit0 = mlp_witness(seg[0], d["x"][:2], d["y"][:2], d["w0"], d["b0"])
    channel = run["channel"](first, wit0, run["backend"], None, random.Random(3))
    TrainingWalk(first, channel).run()
    run["verify"](first, channel.public, channel.proof_bytes())
    public0 = {name.replace(".T", ".0"): channel.public[name] for name in first.checkpoint_tensors("T")}
    return seg[1], second, wit0, channel.checkpoint(), public0


def test_segments_chain_the_momentum_buffers(run):
    """Steps 0-1 and step 2 as two segments: the second starts from the first's committed
    W_T, b_T and buffers (its public VW*.0, Vb*.0). Honest: both verify. A second segment that
    restarts its buffers at zero (as if the run began there) is rejected: its claims on VW.0
    do not open against the checkpoint the first segment committed to."""
    c, d = run["c"], run
    seg, second, wit0, checkpoint, public0 = proven_first_segment(run, RECIPE)
    assert {"VW1.0", "Vb2.0"} <= set(checkpoint)
    layers = range(1, c.layers + 1)
    w1 = [wit0[f"W{l}.T"] for l in layers]
    b1 = [wit0[f"b{l}.T"] for l in layers]
    bufs = [(wit0[f"VW{l}.T"], wit0[f"Vb{l}.T"]) for l in layers]

    def second_proof(buf0, channel_type):
        wit1 = mlp_witness(seg, d["x"][2:], d["y"][2:], w1, b1, buf0=buf0)
        pub, proof = _prove(run, second, wit1, dict(checkpoint), channel_type, _RecklessWalk)
        return {**pub, **public0}, proof

    run["verify"](second, *second_proof(bufs, None))
    restarted = second_proof(None, run["reckless"])
    opening = {"clear": r"^hyrax opening: <t, R> differs from the claimed value$",
               "zk": r"^inner-product argument: final check fails$"}[run["mode"]]
    _rejected(run, restarted, opening, statement=second)


def test_momentum_relations_open_their_transcript_domain(run, monkeypatch):
    """The optimizer module's part of phase A opens with its own domain label, after the walk's
    final-weights points and before its first challenge (the momentum point): an accepted proof
    passed it, so a proof made without it (or with another module's) is not this one."""
    seen = transcript_labels(monkeypatch)
    run["verify"](run["statement"], run["public"], run["proof"])
    i = seen.index(b"momentum")
    assert b"final-weights-point" in seen[:i] and seen[i + 1] == b"momentum-point"
