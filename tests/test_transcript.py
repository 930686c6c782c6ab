"""Fiat-Shamir transcript: determinism, domain separation, framing, unbiased challenges."""

from __future__ import annotations

import pytest

from verifier.field import MODULUS as R
from verifier.transcript import Transcript


def _run(domain=b"test", items=((b"a", b"1"), (b"b", b"2")), label=b"c"):
    t = Transcript(domain)
    for lab, data in items:
        t.absorb_bytes(lab, data)
    return t.challenge_scalar(label)


def test_deterministic():
    assert _run() == _run()
    t1, t2 = Transcript(b"x"), Transcript(b"x")
    assert t1.challenge_scalars(b"c", 5) == t2.challenge_scalars(b"c", 5)


def test_domain_separation():
    assert _run(domain=b"test") != _run(domain=b"test2")
    t1, t2 = Transcript(b"x"), Transcript(b"x")
    t1.domain_separate(b"sumcheck")
    t2.domain_separate(b"hyrax")
    assert t1.challenge_scalar(b"c") != t2.challenge_scalar(b"c")


def test_every_input_matters():
    base = _run()
    assert _run(items=((b"a", b"1"), (b"b", b"3"))) != base  # data
    assert _run(items=((b"a", b"1"), (b"B", b"2"))) != base  # label
    assert _run(items=((b"b", b"2"), (b"a", b"1"))) != base  # order
    assert _run(label=b"d") != base  # challenge label


def test_length_framing_prevents_ambiguity():
    # Without length prefixes these two would hash the same bytes.
    assert _run(items=((b"ab", b"c"),)) != _run(items=((b"a", b"bc"),))
    assert _run(items=((b"a", b"xy"),)) != _run(items=((b"a", b"x"), (b"a", b"y")))


def test_challenges_ratchet_and_are_reduced():
    t = Transcript(b"x")
    values = t.challenge_scalars(b"c", 64)
    assert len(set(values)) == 64
    assert all(0 <= v < R for v in values)
    # 64 squeezed bytes, reduced: the values use the full 255-bit range.
    assert max(v.bit_length() for v in values) >= 250


def test_fork_is_independent():
    t = Transcript(b"x")
    t.absorb_scalar(b"v", 5)
    f = t.fork()
    assert f.challenge_scalar(b"c") == t.fork().challenge_scalar(b"c")
    f.absorb_scalar(b"w", 1)
    assert f.challenge_scalar(b"c") != t.challenge_scalar(b"c")


def test_rejects_bad_inputs():
    t = Transcript(b"x")
    with pytest.raises(TypeError):
        t.absorb_bytes("label", b"")  # str, not bytes
    with pytest.raises(TypeError):
        t.absorb_bytes(b"", b"")
    with pytest.raises(ValueError):
        t.absorb_point(b"p", b"\x00" * 47)
    with pytest.raises(ValueError):
        t.absorb_scalar(b"s", R)  # not reduced: ambiguous with 0


@pytest.mark.parametrize("label", [bytearray(b"l"), memoryview(b"l"), "l", b""])
def test_labels_are_non_empty_bytes_only(label):
    """Every label is framed as bytes: a str, a bytearray or a memoryview (whose contents may
    change after the call) and the empty label are refused, at absorbs and challenges alike."""
    t = Transcript(b"x")
    with pytest.raises(TypeError, match="^transcript labels are non-empty bytes$"):
        t.absorb_bytes(label, b"")
    with pytest.raises(TypeError, match="^transcript labels are non-empty bytes$"):
        t.challenge_scalar(label)


@pytest.mark.parametrize("absorb", [
    lambda t, v: t.absorb_scalar(b"s", v),
    lambda t, v: t.absorb_scalars(b"s", [1, v]),
    lambda t, v: t.absorb_point(b"p", v.to_bytes(48, "little")),
    lambda t, v: t.absorb_points(b"p", [bytes(48), v.to_bytes(48, "little")]),
], ids=["scalar", "scalars", "point", "points"])
def test_typed_absorbs_reach_the_sponge(absorb):
    """Each typed absorb changes the challenges, and by its value: a message absorbed by one of
    them is bound by Fiat-Shamir."""
    challenges = []
    for v in (None, 5, 6):
        t = Transcript(b"x")
        if v is not None:
            absorb(t, v)
        challenges.append(t.challenge_scalar(b"c"))
    assert len(set(challenges)) == 3


def test_point_lists_are_48_byte_encodings():
    with pytest.raises(ValueError, match="^a compressed G1 point is 48 bytes$"):
        Transcript(b"x").absorb_points(b"p", [bytes(48), bytes(47)])
    with pytest.raises(ValueError, match="^a compressed G1 point is 48 bytes$"):
        Transcript(b"x").absorb_point(b"p", bytes(49))


def test_challenge_degrees_and_soundness_bits_are_positive():
    """A challenge tests an identity of degree >= 1 (degree 1 is accepted and counted), and the
    soundness bits of no challenge at all are refused rather than reported as r's 255."""
    from verifier.transcript import soundness_bits

    t = Transcript(b"x")
    with pytest.raises(ValueError, match=r"^a challenge tests an identity of degree >= 1, got 0$"):
        t.challenge_scalar(b"c", 0)
    t.challenge_scalar(b"c", 1)
    assert t.degree_sum == 1
    with pytest.raises(ValueError, match="^a proof with no challenge has no soundness$"):
        soundness_bits(0)
    assert 254 < soundness_bits(1) < 255

