"""The blinded log-size inner-product argument: completeness and soundness in pairs."""

from __future__ import annotations

import dataclasses
import random

import pytest

from prover.nizk import ipa as p_ipa
from verifier.errors import VerifyError
from verifier.field import MODULUS as R, inner_product
from verifier.nizk import ipa as v_ipa
from verifier.nizk.ipa import InnerProductProof, folding_weights
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/ipa"
OFF_SUBGROUP = bytes([0x80]) + bytes(47)


def _instance(pg, vg, n, seed):
    rng = random.Random(seed)
    x = [rng.randrange(R) for _ in range(n)]
    a = [rng.randrange(R) for _ in range(n)]
    rx, ry = rng.randrange(R), rng.randrange(R)
    proof = p_ipa.prove(pg, x, rx, a, ry, Transcript(DOMAIN), rng)
    cx = vg.curve.msm(vg.vector(n) + [vg.h], x + [rx])
    cy = vg.commit_value(inner_product(x, a), ry)
    return x, a, rx, ry, cx, cy, proof


def _verify(vg, cx, cy, a, proof, domain=DOMAIN):
    v_ipa.verify(vg, cx, cy, a, proof, Transcript(domain))


@pytest.mark.parametrize("n", [1, 2, 4, 16])
def test_completeness_size_and_roundtrip(pg, vg, n):
    x, a, rx, ry, cx, cy, proof = _instance(pg, vg, n, n)
    _verify(vg, cx, cy, a, proof)
    k = n.bit_length() - 1
    data = proof.to_bytes()
    assert len(data) == InnerProductProof.size(n) == (2 * k + 1) * 48 + 64
    parsed = InnerProductProof.from_bytes(data, n)
    assert parsed == proof
    _verify(vg, cx, cy, a, parsed)


def test_tampered_statements_are_rejected(pg, vg):
    x, a, rx, ry, cx, cy, proof = _instance(pg, vg, 8, 1)
    y = inner_product(x, a)
    bad = {
        "wrong value": (cx, vg.commit_value(y + 1, ry), a),
        "wrong blinding": (cx + vg.h, cy, a),
        "swapped commitment": (cy, cx, a),
        "wrong public vector": (cx, cy, [a[0] + 1] + a[1:]),
        "wrong vector": (cx + vg.vector(8)[3], cy, a),
    }
    for name, (c1, c2, vec) in bad.items():
        with pytest.raises(VerifyError):
            _verify(vg, c1, c2, vec, proof)


def test_value_hidden_in_the_vector_commitment_is_rejected(pg, vg):
    """A prover publishes C_x + g and C_y - g (C_y then claims y - 1) and runs the honest
    rounds. Gamma = C_x + C_y would be unchanged and the proof would pass; the fresh chi
    (Gamma = C_x + chi C_y) catches it."""
    rng = random.Random(12)
    n = 4
    x = [rng.randrange(R) for _ in range(n)]
    a = [rng.randrange(R) for _ in range(n)]
    rx, ry = rng.randrange(R), rng.randrange(R)
    cx = pg.commit_vector(x, rx) + pg.g
    cy = pg.commit_value(inner_product(x, a) - 1, ry)
    proof = p_ipa.prove(pg, x, rx, a, ry, Transcript(DOMAIN), rng, cx=cx, cy=cy)
    v_cx = vg.curve.msm(vg.vector(n) + [vg.h, vg.g], x + [rx, 1])
    v_cy = vg.commit_value(inner_product(x, a) - 1, ry)
    with pytest.raises(VerifyError):
        _verify(vg, v_cx, v_cy, a, proof)


def test_other_transcript_and_spliced_responses_are_rejected(pg, vg):
    x, a, rx, ry, cx, cy, proof = _instance(pg, vg, 8, 2)
    with pytest.raises(VerifyError):
        _verify(vg, cx, cy, a, proof, domain=b"zktrain/test/other")
    # Responses of a proof made under another transcript, spliced into this one.
    other = p_ipa.prove(pg, x, rx, a, ry, Transcript(b"zktrain/test/other"), random.Random(3))
    for field_name in ("z", "z_r", "A"):
        with pytest.raises(VerifyError):
            _verify(vg, cx, cy, a, dataclasses.replace(proof, **{field_name: getattr(other, field_name)}))
    with pytest.raises(VerifyError):
        _verify(vg, cx, cy, a, dataclasses.replace(proof, L=other.L))


def test_malformed_messages_are_rejected(pg, vg):
    x, a, rx, ry, cx, cy, proof = _instance(pg, vg, 4, 4)
    with pytest.raises(VerifyError, match="subgroup"):
        _verify(vg, cx, cy, a, dataclasses.replace(proof, R=(proof.R[0], OFF_SUBGROUP)))
    with pytest.raises(VerifyError, match="subgroup"):
        _verify(vg, cx, cy, a, dataclasses.replace(proof, A=OFF_SUBGROUP))
    with pytest.raises(VerifyError, match="rounds"):
        _verify(vg, cx, cy, a, dataclasses.replace(proof, L=proof.L[:1], R=proof.R[:1]))
    data = proof.to_bytes()
    with pytest.raises(VerifyError, match="compression"):
        InnerProductProof.from_bytes(bytes([data[0] & 0x7F]) + data[1:], 4)
    with pytest.raises(VerifyError, match="non-canonical"):
        InnerProductProof.from_bytes(data[:-32] + b"\xff" * 32, 4)
    with pytest.raises(VerifyError, match="truncated"):
        InnerProductProof.from_bytes(data[:-1], 4)
    with pytest.raises(VerifyError, match="trailing"):
        InnerProductProof.from_bytes(data + b"\x00", 4)
    with pytest.raises(VerifyError, match="truncated"):
        InnerProductProof.from_bytes(data, 8)  # a proof for n = 4 is too short for n = 8
    for i in range(0, len(data), 7):
        tampered = bytearray(data)
        tampered[i] ^= 0x04
        with pytest.raises(VerifyError):
            _verify(vg, cx, cy, a, InnerProductProof.from_bytes(bytes(tampered), 4))


def test_proof_hides_the_vector_and_the_value(pg, vg):
    x, a, rx, ry, cx, cy, proof = _instance(pg, vg, 16, 6)
    data = proof.to_bytes()
    secrets = x + [inner_product(x, a), rx, ry]
    assert not any(s.to_bytes(32, "little") in data for s in secrets)
    assert proof.z.to_bytes(32, "little") in data  # positive control for the search


def test_folding_weights_match_explicit_folding():
    """s_i = prod_j u_j^(+-1) reproduces G' = u^-1 G_L + u G_R folded round by round."""
    rng = random.Random(8)
    n, us = 8, [rng.randrange(1, R) for _ in range(3)]
    vec = [rng.randrange(R) for _ in range(n)]
    folded = list(vec)
    for u in us:
        m = len(folded) // 2
        u_inv = pow(u, -1, R)
        folded = [(u_inv * lo + u * hi) % R for lo, hi in zip(folded[:m], folded[m:])]
    assert folded[0] == inner_product(folding_weights(us), vec)


@pytest.mark.parametrize("n", [0, 3, 6])
def test_non_power_of_two_lengths_are_refused(n):
    with pytest.raises(ValueError, match=str(n)):
        v_ipa.rounds_for(n)


def test_lengths_past_the_largest_argument_are_refused():
    """The exact boundary: 2^MAX_ROUNDS is an argument of MAX_ROUNDS rounds, twice that is
    refused (a hostile layout cannot ask for more folding rounds than the bound)."""
    assert v_ipa.rounds_for(1 << v_ipa.MAX_ROUNDS) == v_ipa.MAX_ROUNDS
    with pytest.raises(ValueError, match=f"power-of-two length <= 2\\^{v_ipa.MAX_ROUNDS}, got {1 << (v_ipa.MAX_ROUNDS + 1)}"):
        v_ipa.rounds_for(1 << (v_ipa.MAX_ROUNDS + 1))


class _RecordingTranscript(Transcript):
    def __init__(self):
        super().__init__(b"zktrain/test/ipa-record")
        self.calls = []

    def domain_separate(self, label):
        self.calls.append(("domain", label))
        super().domain_separate(label)

    def absorb_points(self, label, points):
        points = list(points)
        self.calls.append(("points", label, tuple(points)))
        super().absorb_points(label, points)

    def absorb_scalars(self, label, xs):
        xs = list(xs)
        self.calls.append(("scalars", label, tuple(xs)))
        super().absorb_scalars(label, xs)


def test_statement_and_round_messages_are_absorbed_before_their_challenges(vg):
    """chi follows the domain label, both commitments and the public vector; each round's u
    follows that round's L and R. Without these absorbs a prover could pick C_y, a or L, R after
    seeing the challenge that should bind them (a weak Fiat-Shamir forgery, Bernhard, Pereira
    and Warinschi, ASIACRYPT 2012); the dot-product proof's forgers (tests/test_nizk.py) show
    the attack on the same statement shape. This pins the order the prover shares (``begin``,
    ``round_challenge`` are the prover's too)."""
    t = _RecordingTranscript()
    cx, cy, left, right = vg.g.to_bytes(), vg.h.to_bytes(), vg.vector(2)[0].to_bytes(), vg.vector(2)[1].to_bytes()
    v_ipa.begin(t, cx, cy, [3, 4])
    v_ipa.round_challenge(t, left, right)
    assert t.calls == [("domain", v_ipa.DOMAIN), ("points", b"C", (cx, cy)), ("scalars", b"a", (3, 4)),
                       ("points", b"LR", (left, right))]


@pytest.mark.parametrize("short", ["L", "R"])
def test_either_round_message_list_of_the_wrong_length_is_rejected(pg, vg, short):
    """L and R are counted apart: a proof with one list short (the other whole) is refused by
    the round count, before zip() could silently drop a round."""
    x, a, rx, ry, cx, cy, proof = _instance(pg, vg, 4, 4)
    with pytest.raises(VerifyError, match=r"^inner-product argument: expected 2 rounds$"):
        _verify(vg, cx, cy, a, dataclasses.replace(proof, **{short: getattr(proof, short)[:1]}))


def test_a_zero_round_challenge_is_refused():
    """u = 0 (probability 2^-255 per round) has no inverse for the folding weights: refused by
    name rather than divided by. A transcript forced to draw 0 pins the check."""

    class Zero(Transcript):
        def challenge_scalar(self, label, degree=1):
            return 0

    with pytest.raises(VerifyError, match="^inner-product argument: zero round challenge$"):
        v_ipa.round_challenge(Zero(b"zktrain/test/ipa-zero"), b"\x00" * 48, b"\x00" * 48)
