"""RFC 9380 hash-to-curve (BLS12381G1_XMD:SHA-256_SSWU_RO_) and the generators built on it.

The vectors are RFC 9380 appendix J.9.1 (DST QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_),
as affine (x, y). They decide: both verifier curve implementations and the prover's curve
library (py-arkworks-bls12381) must reproduce them.
"""

from __future__ import annotations

import pytest
import py_arkworks_bls12381 as ark

from verifier.curve import CURVE_NAMES, P, get_curve
from verifier.hash_to_curve import (
    GENERATOR_DST,
    MAX_GENERATORS,
    ROLE_BLIND,
    ROLE_VALUE,
    ROLE_VECTOR,
    PedersenGenerators,
    generator_message,
)

RFC_DST = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"

RFC_VECTORS = [
    (
        b"",
        0x052926ADD2207B76CA4FA57A8734416C8DC95E24501772C814278700EED6D1E4E8CF62D9C09DB0FAC349612B759E79A1,
        0x08BA738453BFED09CB546DBB0783DBB3A5F1F566ED67BB6BE0E8C67E2E81A4CC68EE29813BB7994998F3EAE0C9C6A265,
    ),
    (
        b"abc",
        0x03567BC5EF9C690C2AB2ECDF6A96EF1C139CC0B2F284DCA0A9A7943388A49A3AEE664BA5379A7655D3C68900BE2F6903,
        0x0B9C15F3FE6E5CF4211F346271D7B01C8F3B28BE689C8429C85B67AF215533311F0B8DFAAA154FA6B88176C229F2885D,
    ),
    (
        b"abcdef0123456789",
        0x11E0B079DEA29A68F0383EE94FED1B940995272407E3BB916BBF268C263DDD57A6A27200A784CBC248E84F357CE82D98,
        0x03A87AE2CAF14E8EE52E51FA2ED8EEFE80F02457004BA4D486D6AA1F517C0889501DC7413753F9599B099EBCBBD2D709,
    ),
    (
        b"q128_" + b"q" * 128,
        0x15F68EAA693B95CCB85215DC65FA81038D69629F70AEEE0D0F677CF22285E7BF58D7CB86EEFE8F2E9BC3F8CB84FAC488,
        0x1807A1D50C29F430B8CAFC4F8638DFEEADF51211E1602A5F184443076715F91BB90A48BA1E370EDCE6AE1062F5E6DD38,
    ),
    (
        b"a512_" + b"a" * 512,
        0x082AABAE8B7DEDB0E78AEB619AD3BFD9277A2F77BA7FAD20EF6AABDC6C31D19BA5A6D12283553294C1825C4B3CA2DCFE,
        0x05B84AE5A942248EEA39E1D91030458C40153F3B654AB7872D779AD1E942856A20C438E8D99BC8ABFBF74729CE1F7AC8,
    ),
]


def _compressed(x: int, y: int) -> bytes:
    assert (y * y - x**3 - 4) % P == 0, "vector transcribed wrongly: not on the curve"
    data = bytearray(x.to_bytes(48, "big"))
    data[0] |= 0x80 | (0x20 if y > (P - 1) // 2 else 0)
    return bytes(data)


@pytest.mark.parametrize("name", CURVE_NAMES)
@pytest.mark.parametrize("msg, x, y", RFC_VECTORS, ids=[v[0][:8].decode() or "empty" for v in RFC_VECTORS])
def test_rfc9380_vectors_verifier_curves(name, msg, x, y):
    point = get_curve(name).hash_to_curve(msg, RFC_DST)
    assert point.to_bytes() == _compressed(x, y)


@pytest.mark.parametrize("msg, x, y", RFC_VECTORS, ids=[v[0][:8].decode() or "empty" for v in RFC_VECTORS])
def test_rfc9380_vectors_prover_library(msg, x, y):
    point = ark.G1Point.hash_to_curve(msg, RFC_DST)
    assert point.to_xy_bytes_be() == x.to_bytes(48, "big") + y.to_bytes(48, "big")


def test_dst_matters():
    blst = get_curve("blst")
    assert blst.hash_to_curve(b"abc", RFC_DST) != blst.hash_to_curve(b"abc", RFC_DST + b"x")


def test_generator_messages_are_distinct_and_framed():
    names = [(b"L", ROLE_VECTOR, i) for i in range(3)]
    names += [(b"L", ROLE_VALUE, 0), (b"L", ROLE_BLIND, 0), (b"LG", ROLE_VECTOR, 0)]
    messages = {generator_message(*n) for n in names}
    assert len(messages) == len(names)
    assert generator_message(b"L", ROLE_VECTOR, 1) == b"\x01\x00LG" + (1).to_bytes(8, "little")


@pytest.mark.parametrize(
    "args",
    [(b"", ROLE_VECTOR, 0), (b"L", b"x", 0), (b"L", ROLE_VECTOR, -1), (b"L", ROLE_VECTOR, 1 << 24), ("L", ROLE_VECTOR, 0)],
)
def test_generator_message_validation(args):
    with pytest.raises(ValueError):
        generator_message(*args)


def test_generators_agree_across_implementations():
    blst = PedersenGenerators(get_curve("blst"), b"zktrain/test")
    pyecc = PedersenGenerators(get_curve("py_ecc"), b"zktrain/test")
    for a, b in zip(blst.vector(2) + [blst.g, blst.h], pyecc.vector(2) + [pyecc.g, pyecc.h]):
        assert a.to_bytes() == b.to_bytes()
    # Distinct roles and indices give distinct points; the family is a pure function of the label.
    encodings = {p.to_bytes() for p in blst.vector(4) + [blst.g, blst.h]}
    assert len(encodings) == 6
    assert blst.vector(3)[2] == get_curve("blst").hash_to_curve(
        generator_message(b"zktrain/test", ROLE_VECTOR, 2), GENERATOR_DST
    )


def test_generator_vector_is_bounded(monkeypatch):
    """A hostile layout cannot make the verifier derive more generators than a row can have:
    the bound is checked before any generator is derived (a derivation here fails the test at
    once, rather than running 2^k hash-to-curve calls without the check)."""
    gens = PedersenGenerators(get_curve("blst"), b"bounded-vector-test")

    def derive(role, index):
        raise AssertionError(f"derived generator {index} before checking the bound")

    monkeypatch.setattr(gens, "_derive", derive)
    with pytest.raises(ValueError, match=f"number of generators must lie in \\[0, {MAX_GENERATORS}\\]"):
        gens.vector(MAX_GENERATORS + 1)
    with pytest.raises(ValueError, match="number of generators"):
        gens.vector(-1)
