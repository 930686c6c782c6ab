"""Sigma-protocols (opening, equality, product, square-root dot product): completeness and
soundness in pairs. Every tampered statement, message or transcript must be rejected."""

from __future__ import annotations

import dataclasses
import random

import pytest

from prover.commit import group
from prover.nizk import dot_product as p_dot
from prover.nizk import equality as p_eq
from prover.nizk import opening as p_open
from prover.nizk import product as p_prod
from verifier.curve import P, get_curve
from verifier.errors import VerifyError
from verifier.field import MODULUS as R, inner_product
from verifier.hash_to_curve import pedersen_generators
from verifier.nizk import batch
from verifier.nizk import dot_product as v_dot
from verifier.nizk import equality as v_eq
from verifier.nizk import opening as v_open
from verifier.nizk import product as v_prod
from verifier.nizk.batch import Equations
from verifier.nizk.equality import EqualityProof
from verifier.nizk.product import ProductProof
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/nizk"
OFF_SUBGROUP = bytes([0x80]) + bytes(47)  # (0, 2): on the curve, order 3


def _tr(domain=DOMAIN):
    return Transcript(domain)


def _non_canonical(point: bytes) -> bytes:
    """The same x with the compression flag cleared: rejected by every parser."""
    return bytes([point[0] & 0x7F]) + point[1:]


def _x_plus_p(point: bytes) -> bytes | None:
    """The same point with x replaced by x + p (None when x + p needs more than 381 bits)."""
    x = int.from_bytes(point, "big") & ((1 << 381) - 1)
    if x + P >= 1 << 381:
        return None
    return bytes([point[0] & 0xE0 | (x + P) >> 376]) + (x + P).to_bytes(48, "big")[1:]


# --- one "case" per protocol: honest proof, a verify closure over (statement, proof) ----------


class Case:
    """An honest proof and its statement; ``verify`` takes optional replacements."""

    def __init__(self, name, proof, statement, verify, parse, tamper_statement):
        self.name, self.proof, self.statement = name, proof, statement
        self._verify, self.parse, self.tamper_statement = verify, parse, tamper_statement

    def verify(self, proof=None, statement=None, transcript=None):
        self._verify(statement or self.statement, proof or self.proof, transcript or _tr())


def _opening_case(pg, vg, rng):
    v, r = rng.randrange(R), rng.randrange(R)
    proof = p_open.prove(pg, v, r, _tr(), rng)
    return Case(
        "opening",
        proof,
        {"C": vg.commit_value(v, r)},
        lambda st, pr, tr: v_open.verify(vg, st["C"], pr, tr),
        v_open.OpeningProof.from_bytes,
        {
            "wrong value": {"C": vg.commit_value(v + 1, r)},
            "wrong blinding": {"C": vg.commit_value(v, r + 1)},
            "swapped commitment": {"C": vg.commit_value(r, v)},
        },
    )


def _equality_case(pg, vg, rng):
    v, r1, r2 = rng.randrange(R), rng.randrange(R), rng.randrange(R)
    c1, c2 = pg.commit_value(v, r1), pg.commit_value(v, r2)
    proof = p_eq.prove(pg, c1, c2, r1, r2, _tr(), rng)
    good = {"C1": vg.commit_value(v, r1), "C2": vg.commit_value(v, r2)}
    return Case(
        "equality",
        proof,
        good,
        lambda st, pr, tr: v_eq.verify(vg, st["C1"], st["C2"], pr, tr),
        v_eq.EqualityProof.from_bytes,
        {
            "wrong value": {**good, "C2": vg.commit_value(v + 1, r2)},
            "wrong blinding": {**good, "C1": vg.commit_value(v, r1 + 1)},
            "swapped commitment": {"C1": good["C2"], "C2": good["C1"]},
        },
    )


def _product_case(pg, vg, rng):
    x, y = rng.randrange(R), rng.randrange(R)
    rx, ry, rz = (rng.randrange(R) for _ in range(3))
    proof = p_prod.prove(pg, x, rx, y, ry, rz, _tr(), rng)
    good = {"Cx": vg.commit_value(x, rx), "Cy": vg.commit_value(y, ry), "Cz": vg.commit_value(x * y, rz)}
    return Case(
        "product",
        proof,
        good,
        lambda st, pr, tr: v_prod.verify(vg, st["Cx"], st["Cy"], st["Cz"], pr, tr),
        v_prod.ProductProof.from_bytes,
        {
            "wrong value": {**good, "Cz": vg.commit_value(x * y + 1, rz)},
            "wrong blinding": {**good, "Cz": vg.commit_value(x * y, rz + 1)},
            "swapped commitment": {**good, "Cx": good["Cy"], "Cy": good["Cx"]},
        },
    )


def _dot_case(pg, vg, rng, n=4):
    x = [rng.randrange(R) for _ in range(n)]
    a = [rng.randrange(R) for _ in range(n)]
    rx, ry = rng.randrange(R), rng.randrange(R)
    proof = p_dot.prove(pg, x, rx, a, ry, _tr(), rng)
    y = inner_product(x, a)
    cx = vg.curve.msm(vg.vector(n) + [vg.h], x + [rx])
    good = {"Cx": cx, "Cy": vg.commit_value(y, ry), "a": a, "x": x}
    return Case(
        "dot product",
        proof,
        good,
        lambda st, pr, tr: v_dot.verify(vg, st["Cx"], st["Cy"], st["a"], pr, tr),
        lambda data: v_dot.DotProductProof.from_bytes(data, n),
        {
            "wrong value": {**good, "Cy": vg.commit_value(y + 1, ry)},
            "wrong blinding": {**good, "Cx": cx + vg.h},
            "swapped commitment": {**good, "Cx": good["Cy"], "Cy": good["Cx"]},
            "wrong public vector": {**good, "a": [a[0] + 1] + a[1:]},
        },
    )


CASES = {"opening": _opening_case, "equality": _equality_case, "product": _product_case, "dot": _dot_case}


@pytest.fixture(params=list(CASES))
def case(request, pg, vg):
    return CASES[request.param](pg, vg, random.Random(hash(request.param) & 0xFFFF))


def test_honest_proof_verifies_and_roundtrips(case):
    case.verify()
    data = case.proof.to_bytes()
    assert case.parse(data) == case.proof
    case.verify(proof=case.parse(data))


def test_tampered_statements_are_rejected(case):
    for statement in case.tamper_statement.values():
        with pytest.raises(VerifyError):
            case.verify(statement=statement)


def test_response_from_another_transcript_is_rejected(case):
    with pytest.raises(VerifyError):
        case.verify(transcript=_tr(b"zktrain/test/other"))
    # Also: the transcript must be in the same state (an extra absorb before the proof).
    tr = _tr()
    tr.absorb_bytes(b"extra", b"\x01")
    with pytest.raises(VerifyError):
        case.verify(transcript=tr)


def _first_point_field(proof):
    return next(f.name for f in dataclasses.fields(proof) if isinstance(getattr(proof, f.name), bytes))


def test_off_subgroup_message_is_rejected(case):
    name = _first_point_field(case.proof)
    with pytest.raises(VerifyError, match="group|subgroup"):
        case.verify(proof=dataclasses.replace(case.proof, **{name: OFF_SUBGROUP}))


def test_non_canonical_encodings_are_rejected(case):
    data = case.proof.to_bytes()
    # First point of every proof sits at offset 0.
    for bad in (_non_canonical(data[:48]), _x_plus_p(data[:48])):
        if bad is None:
            continue
        with pytest.raises(VerifyError):
            case.parse(bad + data[48:])
    # A scalar + r (the last 32 bytes hold a response < r; adding r keeps it in 32 bytes
    # whenever the response is below 2^256 - r, else the high byte is forced up).
    last = int.from_bytes(data[-32:], "little")
    bumped = last + R if last + R < 1 << 256 else (1 << 256) - 1
    with pytest.raises(VerifyError, match="non-canonical"):
        case.parse(data[:-32] + bumped.to_bytes(32, "little"))
    with pytest.raises(VerifyError):
        case.parse(data[:-1])
    with pytest.raises(VerifyError):
        case.parse(data + b"\x00")


def test_every_flipped_byte_is_rejected(case):
    data = bytearray(case.proof.to_bytes())
    for i in range(0, len(data), 5):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        with pytest.raises(VerifyError):
            case.verify(proof=case.parse(bytes(tampered)))


def test_dot_product_proof_hides_the_vector(pg, vg):
    case = _dot_case(pg, vg, random.Random(5), n=8)
    data = case.proof.to_bytes()
    for entry in case.statement["x"]:
        assert entry.to_bytes(32, "little") not in data
    # Positive control: the encoding of z (a public response) is found the same way.
    assert case.proof.z[0].to_bytes(32, "little") in data


def test_product_proof_cheating_prover_is_rejected(pg, vg):
    """A prover that commits to z != x y (honest protocol messages otherwise) fails."""
    rng = random.Random(9)
    x, y, rx, ry, rz = (rng.randrange(R) for _ in range(5))
    proof = p_prod.prove(pg, x, rx, y, ry, rz, _tr(), rng)
    with pytest.raises(VerifyError):
        v_prod.verify(
            vg, vg.commit_value(x, rx), vg.commit_value(y, ry), vg.commit_value(x * y + 1, rz), proof, _tr()
        )


def test_verifies_with_the_pure_python_curve(pg):
    """The prover's proof checks under py_ecc as well (byte-identical generators and transcript)."""
    vg = pedersen_generators("py_ecc")
    rng = random.Random(11)
    x, y, rx, ry, rz = (rng.randrange(R) for _ in range(5))
    proof = p_prod.prove(pg, x, rx, y, ry, rz, _tr(), rng)
    v_prod.verify(vg, vg.commit_value(x, rx), vg.commit_value(y, ry), vg.commit_value(x * y, rz), proof, _tr())
    with pytest.raises(VerifyError):
        v_prod.verify(vg, vg.commit_value(x, rx), vg.commit_value(y, ry), vg.commit_value(x, rz), proof, _tr())


def test_prover_and_verifier_commitments_agree(pg, vg):
    rng = random.Random(13)
    v, r = rng.randrange(R), rng.randrange(R)
    assert group.to_bytes(pg.commit_value(v, r)) == vg.commit_value(v, r).to_bytes()
    xs = [rng.randrange(R) for _ in range(3)]
    assert group.to_bytes(pg.commit_vector(xs, r)) == vg.curve.msm(vg.vector(3) + [vg.h], xs + [r]).to_bytes()
    assert get_curve("blst").decode(group.to_bytes(pg.g)) == vg.g


@pytest.mark.parametrize("value, blind", [(0, 0), (1, 0), (0, 1), (R - 1, R - 1), (2**200 + 7, 3), (-5, 9)])
def test_commit_value_tables_match_the_msm_and_the_verifier(pg, vg, value, blind):
    """The prover's fixed-base v g + r h is the two-point MSM and the verifier's commitment."""
    got = pg.commit_value(value, blind)
    assert got == group.msm([pg.g, pg.h], [value % R, blind % R])
    assert group.to_bytes(got) == vg.commit_value(value % R, blind % R).to_bytes()


# --- the dot-product proof's statement absorb: weak Fiat-Shamir forgers ------------------------


def _weak_fs_dot_forgery(vg, rng, n, forge_cy: bool):
    """A prover who computes the challenge c over a placeholder for part of the statement (Cy, or
    the public vector a), then fits that part to c: the attack that works whenever the
    statement is not absorbed before c (Bernhard, Pereira, Warinschi, ASIACRYPT 2012). Returns
    (Cx, Cy, a, proof) where Cy does not commit to <x, a>."""
    x = [rng.randrange(R) for _ in range(n)]
    rx, r_delta, r_beta, b = (rng.randrange(R) for _ in range(4))
    a = [rng.randrange(R) for _ in range(n)]
    cx = vg.curve.msm(vg.vector(n) + [vg.h], x + [rx])
    d = [rng.randrange(R) for _ in range(n)]
    delta = vg.curve.msm(vg.vector(n) + [vg.h], d + [r_delta])
    beta = vg.commit_value(b, r_beta)
    y_false, ry = (inner_product(x, a) + 1) % R, rng.randrange(R)
    placeholder_cy = vg.commit_value(0, 0) if forge_cy else vg.commit_value(y_false, ry)
    placeholder_a = a if forge_cy else [0] * n
    t = _tr()
    v_dot.absorb_statement(t, cx.to_bytes(), placeholder_cy.to_bytes(), placeholder_a)
    t.absorb_points(b"messages", [delta.to_bytes(), beta.to_bytes()])
    c = t.challenge_scalar(b"c")
    z = [(c * xi + di) % R for xi, di in zip(x, d)]
    z_delta = (c * rx + r_delta) % R
    z_beta = rng.randrange(R)
    if forge_cy:  # Cy := c^-1 (<z, a> g + z_beta h - beta): commits to <x, a> + (<d, a> - b) / c
        cy = pow(c, -1, R) * (vg.commit_value(inner_product(z, a), z_beta) + (R - 1) * beta)
    else:  # a fitted to c: <z, a> = c y_false + b, so <x, a> != y_false (w.h.p.)
        cy, z_beta = vg.commit_value(y_false, ry), (c * ry + r_beta) % R
        rest = sum(zi * ai for zi, ai in zip(z[1:], a[1:])) % R
        a = [((c * y_false + b - rest) * pow(z[0], -1, R)) % R] + a[1:]
        assert inner_product(x, a) != y_false
    proof = v_dot.DotProductProof(delta.to_bytes(), beta.to_bytes(), tuple(z), z_delta, z_beta)
    return cx, cy, a, proof


@pytest.mark.parametrize("forge_cy", [True, False], ids=["commitment fitted to c", "public vector fitted to c"])
def test_dot_product_statement_chosen_after_the_challenge_is_rejected(vg, forge_cy):
    """The statement (both commitments and a) is absorbed before c: a forger who fits Cy or a to
    c (which succeeds against a transcript that omits them: the forgery satisfies both
    equations for its own c) is rejected by the first equation the changed c breaks."""
    cx, cy, a, proof = _weak_fs_dot_forgery(vg, random.Random(11), 4, forge_cy)
    with pytest.raises(VerifyError, match=r"^proof of dot product: c C_[xy] \+ (delta|beta) !="):
        v_dot.verify(vg, cx, cy, a, proof, _tr())


def test_dot_product_transcript_opens_with_its_domain(vg):
    """The statement absorb starts with the protocol's own domain label (no two Sigma-protocols
    of one transcript can share challenges)."""
    calls = []

    class Recording(Transcript):
        def domain_separate(self, label):
            calls.append(label)
            super().domain_separate(label)

    v_dot.absorb_statement(Recording(DOMAIN), vg.g.to_bytes(), vg.h.to_bytes(), [1, 2])
    assert calls == [v_dot.DOMAIN]


@pytest.mark.parametrize("extra", [-1, 1], ids=["one response short", "one response more"])
def test_dot_product_response_count_is_the_statements(pg, vg, extra):
    """A proof object (not parsed: from_bytes already fixes the count) with another number of
    responses than the public vector's length is refused by the count check, before any MSM."""
    case = _dot_case(pg, vg, random.Random(5))
    z = case.proof.z[:-1] if extra < 0 else case.proof.z + (1,)
    forged = dataclasses.replace(case.proof, z=z)
    with pytest.raises(VerifyError, match=r"^proof of dot product: expected 4 responses, got [35]$"):
        case.verify(proof=forged)


@pytest.mark.parametrize("count", [4, 6])
def test_product_response_count_is_five(pg, vg, count):
    """An unparsed product proof with another number of responses is refused by name, not by
    an unpacking error."""
    case = _product_case(pg, vg, random.Random(6))
    z = (case.proof.z + (1,))[:count] if count > 5 else case.proof.z[:count]
    with pytest.raises(VerifyError, match=r"^proof of product: expected 5 responses$"):
        case.verify(proof=dataclasses.replace(case.proof, z=z))


BCURVE = get_curve("blst")
BGENS = pedersen_generators("blst")
BP = BCURVE.hash_to_curve(b"P", b"zktrain/test/batch")
BQ = BCURVE.hash_to_curve(b"Q", b"zktrain/test/batch")


# --- Equations (verifier/nizk/batch.py): the group equations, at once or deferred ------------------------------------------------------------------------------


def test_immediate_equation_rejects_at_once_with_its_message():
    eqs = Equations(BCURVE)
    eqs.add([BP, BP], [3, -3], "never")
    with pytest.raises(VerifyError, match="^the false one$"):
        eqs.add([BP, BQ], [1, -1], "the false one")
    assert len(eqs) == 0


def test_deferred_equations_hold_together():
    eqs = Equations(BCURVE, defer=True)
    eqs.add([BP, BQ, BP], [2, 5, -2], "a")  # 5 BQ is not 0: false
    eqs.add([BQ], [-5], "b")  # false too
    assert len(eqs) == 2
    with pytest.raises(VerifyError, match="^a$"):
        eqs.check()
    eqs = Equations(BCURVE, defer=True)
    eqs.add([BP, BQ, BP, BQ], [7, 1, -7, -1], "a")  # shares the points BP, BQ with the others
    eqs.add([BQ, BQ], [-1, 1], "b")
    eqs.add([BP, BP], [R + 1, -1], "c")  # scalars are taken mod r
    eqs.check()
    assert len(eqs) == 0


def test_two_false_equations_that_cancel_do_not_pass():
    """The attack a fixed or predictable weighting allows: E_1 = BP and E_2 = -BP are both false
    and sum to zero. With the OS RNG's independent weights the batch fails except with
    probability 2^-128, and the rejection names the first."""
    for _ in range(5):
        eqs = Equations(BCURVE, defer=True)
        eqs.add([BP], [1], "first")
        eqs.add([BP], [-1], "second")
        assert not eqs.batch_holds()
        with pytest.raises(VerifyError, match="^first$"):
            eqs.check()


def test_predictable_weights_would_let_the_cancelling_pair_through(monkeypatch):
    """Positive control of the attack above: weights the prover knows (here all 1) accept it."""
    monkeypatch.setattr(batch.secrets, "randbits", lambda bits: 1)
    eqs = Equations(BCURVE, defer=True)
    eqs.add([BP], [1], "first")
    eqs.add([BP], [-1], "second")
    assert eqs.batch_holds()


def test_weights_are_fresh_128_bit_draws(monkeypatch):
    drawn = []

    def randbits(bits):
        drawn.append(bits)
        return 12345 + len(drawn)

    monkeypatch.setattr(batch.secrets, "randbits", randbits)
    eqs = Equations(BCURVE, defer=True)
    for _ in range(3):
        eqs.add([BP, BP], [1, -1], "x")
    eqs.check()
    assert drawn == [batch.WEIGHT_BITS] * 3 and batch.WEIGHT_BITS == 128


def test_only_one_false_equation_among_many_rejects_and_is_named():
    eqs = Equations(BCURVE, defer=True)
    with eqs.named("phase-9: "):
        for j in range(20):
            with eqs.named(f"round {j}: "):
                eqs.add([BP, BQ, BP], [j, 1, -j] if j == 13 else [j, 0, -j], f"equation {j}")
    eqs.add([BQ, BQ], [1, -1], "after")
    with pytest.raises(VerifyError, match="^phase-9: round 13: equation 13$"):
        eqs.check()


def test_named_prefixes_a_refusal_raised_inside():
    eqs = Equations(BCURVE, defer=True)
    with pytest.raises(VerifyError, match="^outer: inner: boom$"):
        with eqs.named("outer: "):
            with eqs.named("inner: "):
                raise VerifyError("boom")
    eqs.add([BP], [1], "no prefix left")
    with pytest.raises(VerifyError, match="^no prefix left$"):
        eqs.check()


def test_equation_needs_one_scalar_per_point():
    for defer in (False, True):
        with pytest.raises(ValueError, match="2 points but 1 scalars"):
            Equations(BCURVE, defer).add([BP, BQ], [1], "x")


def test_deferred_sigma_proofs_reject_only_at_check():
    """A proof of product with a wrong z_5 and a proof of equality with a wrong z: recorded
    without complaint, refused by ``check`` under the first one's name."""
    t = Transcript(b"zktrain/test/batch")
    alpha = (5 * BGENS.h).to_bytes()
    eqs = Equations(BCURVE, defer=True)
    v_eq.verify(BGENS, 3 * BGENS.g + 2 * BGENS.h, 3 * BGENS.g, EqualityProof(alpha, 7), t, eqs)
    cx, cy = 2 * BGENS.g + BGENS.h, 3 * BGENS.g + BGENS.h
    enc = (BGENS.g + BGENS.h).to_bytes()
    v_prod.verify(BGENS, cx, cy, 6 * BGENS.g, ProductProof(enc, enc, enc, (1, 2, 3, 4, 5)), t, eqs)
    assert len(eqs) == 4
    with pytest.raises(VerifyError, match=r"^proof of equality: z h != alpha \+ c \(C1 - C2\)$"):
        eqs.check()
