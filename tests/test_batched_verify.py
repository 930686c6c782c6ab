"""The ZK verifier's group equations in one batch (issue 18 item 2, ``verifier/nizk/batch.py``),
end to end on a proof of training (the batch's own cases are in tests/test_nizk.py).

What the batch must keep: every false equation still rejects (a random linear combination
with weights the prover cannot know, so two false equations cannot cancel), and every
rejection keeps its name: a deferred proof of training is refused with exactly the message,
phase and round of the per-equation verifier, including when the walk meets another refusal
after the false equation was recorded.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import commit_tensor, mlp_witness
from prover.zk_training import ZkProverChannel
from verifier.errors import VerifyError
from verifier.hash_to_curve import pedersen_generators
from verifier.training import TrainingStatement, TrainingWalk, verify_with
from verifier.zk_training import ZkVerifierChannel, verify_training_zk

GENS = pedersen_generators("blst")


# --- the deferred verifier of a proof of training ---------------------------------------------


@pytest.fixture(scope="module")
def zk_run():
    """A tiny ZK proof of training (the shape of tests/test_training_proof.py's)."""
    c = MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(3, 2, 1), range_check="limbs", limb_bits=8)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(3, 4))] = 1 << 16
    w0 = (rng.integers(-(1 << 44), 1 << 44, size=(8, 4)), rng.integers(-(1 << 44), 1 << 44, size=(3, 8)))
    b0 = (rng.integers(-(1 << 40), 1 << 40, size=8), rng.integers(-(1 << 40), 1 << 40, size=3))
    statement = TrainingStatement(c, b'{"run":"tiny-batch"}', w0, b0)
    witness = mlp_witness(c, x, y, w0, b0)
    blinding = random.Random(0)
    published = {n: commit_tensor(statement, n, witness[n], blinding) for n in statement.public_tensors()}
    channel = ZkProverChannel(statement, witness, get_backend("reference"), published, random.Random(1))
    TrainingWalk(statement, channel).run()
    return statement, channel.public, channel.proof_bytes()


def _reason(verify, statement, public, proof) -> str | None:
    try:
        verify(statement, public, proof)
    except VerifyError as err:
        return str(err)
    return None


def _per_equation(statement, public, proof) -> int:
    """The verifier before the batch: every equation checked where it is met."""
    return verify_with(ZkVerifierChannel, statement, public, proof)


def _flip(proof: bytes, pos: int, mask: int = 1) -> bytes:
    return proof[:pos] + bytes([proof[pos] ^ mask]) + proof[pos + 1 :]


def test_direct_channel_checks_each_equation_at_once(zk_run):
    statement, public, proof = zk_run
    channel = ZkVerifierChannel(statement, public, proof, GENS)
    assert not channel.equations.defer
    assert verify_training_zk(statement, public, proof) == _per_equation(statement, public, proof)


def _equation_tampers(statement, public, proof, count: int, lo: int, hi: int):
    """Positions in [lo, hi) whose flipped byte makes a group equation false (the
    per-equation verifier names a Sigma-protocol), with that rejection."""
    found = []
    rng = random.Random(lo)
    for _ in range(60):
        pos = rng.randrange(lo, hi)
        reason = _reason(_per_equation, statement, public, _flip(proof, pos, 0x10))
        if reason and any(s in reason for s in ("proof of", "inner-product argument: final")):
            found.append((pos, reason))
            if len(found) == count:
                break
    return found


def test_deferred_rejection_is_the_per_equation_one(zk_run):
    """Flipped responses across the proof (round proofs of dot product, proofs of product and
    equality, the openings' inner-product arguments): the batched verifier refuses each with
    the per-equation verifier's message, phase and round included."""
    statement, public, proof = zk_run
    n = len(proof)
    cases = [case for k in range(8) for case in _equation_tampers(statement, public, proof, 1, k * n // 8, (k + 1) * n // 8)]
    assert len(cases) >= 6
    kinds = set()
    for pos, reason in cases:
        assert _reason(verify_training_zk, statement, public, _flip(proof, pos, 0x10)) == reason, pos
        kinds.add(reason.split(": ")[0])
    assert len(kinds) >= 3, kinds  # several phases, and the openings at the end


def test_deferred_false_equation_comes_before_a_later_refusal(zk_run):
    """A false equation early, then damage the walk meets later (trailing bytes, a point that is
    not on the curve): the per-equation verifier stops at the equation; so must the batch."""
    statement, public, proof = zk_run
    (pos, reason), = _equation_tampers(statement, public, proof, 1, 0, len(proof) // 4)
    early = _flip(proof, pos, 0x10)
    assert _reason(verify_training_zk, statement, public, early + b"\0") == reason
    later = None
    for cand in range(len(proof) - 2000, len(proof) - 100):
        damaged = _flip(early, cand, 0x01)
        if "G1 point" in (_reason(verify_training_zk, statement, public, _flip(proof, cand, 0x01)) or ""):
            later = damaged
            break
    assert later is not None
    assert _reason(_per_equation, statement, public, later) == reason
    assert _reason(verify_training_zk, statement, public, later) == reason


def test_last_opening_deferred_and_named(zk_run):
    """The proof ends with the last tensor's opening: its inner-product argument's z_r. A flipped
    bit there is an opening's false equation, found only by the batch at the end of the walk."""
    statement, public, proof = zk_run
    tampered = _flip(proof, len(proof) - 32, 0x01)  # the lowest byte of the last scalar
    reason = "inner-product argument: final check fails"
    assert _reason(_per_equation, statement, public, tampered) == reason
    assert _reason(verify_training_zk, statement, public, tampered) == reason
