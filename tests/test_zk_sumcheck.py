"""Zero-knowledge sumcheck and the ZK multi-point claim reduction: completeness and soundness
in pairs, hiding, and the whole path from committed claims to one Hyrax opening."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from prover.backends import get_backend
from prover.commit import hyrax as ph
from prover.phase import prove_phase
from prover.sumcheck import Instance, instance_sum, product_instance, prove_sumcheck
from prover.zk_sumcheck import prove_zk_sumcheck
from verifier import hyrax as vh
from verifier.claims import Claim
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.gadgets import multipoint_reduction
from verifier.phase import verify_phase
from verifier.polynomial import eq_eval, eq_table, mle_evaluate
from verifier.sumcheck import Term
from verifier.transcript import Transcript
from verifier.zk_sumcheck import ZkSumcheckProof, verify_zk_sumcheck

DOMAIN = b"zktrain/test/zk-sumcheck"
OFF_SUBGROUP = bytes([0x80]) + bytes(47)


def _tr(domain=DOMAIN):
    return Transcript(domain)


class Scenario:
    """Three batched instances: a*b (5 vars, both committed), eq_u*c*d (3 vars, eq public,
    degree 3: two proofs of product), booleanity eq_w*(b^2 - b) (4 vars)."""

    def __init__(self, backend, seed=0, claim_shift=0):
        rng = random.Random(seed)
        self.rng = rng
        rand = lambda n: [rng.randrange(R) for _ in range(1 << n)]  # noqa: E731
        self.a, self.b, self.c, self.d = rand(5), rand(5), rand(3), rand(3)
        self.u = [rng.randrange(R) for _ in range(3)]
        self.w = [rng.randrange(R) for _ in range(4)]
        self.bits = [rng.randrange(2) for _ in range(16)]
        f = backend.from_ints
        self.instances = [
            product_instance(f(self.a), f(self.b)),
            product_instance(f(eq_table(self.u)), f(self.c), f(self.d)),
            Instance([f(eq_table(self.w)), f(self.bits)], (Term(1, (0, 1, 1)), Term(R - 1, (0, 1)))),
        ]
        self.shapes = [inst.shape(backend) for inst in self.instances]
        self.claims = [instance_sum(backend, inst) for inst in self.instances]
        self.claims[0] = (self.claims[0] + claim_shift) % R
        self.blinds = [rng.randrange(R) for _ in self.instances]
        self.public_indices = [[], [0], [0]]
        self.backend = backend

    def public(self, u=None):
        u = self.u if u is None else u
        return [{}, {0: lambda p: eq_eval(u, p)}, {0: lambda p: eq_eval(self.w, p)}]

    def prove(self, pg, transcript=None):
        return prove_zk_sumcheck(
            transcript or _tr(), self.backend, pg, self.instances, self.claims, self.blinds,
            self.public_indices, self.rng,
        )

    def claim_commitments(self, vg):
        return [vg.commit_value(c, b) for c, b in zip(self.claims, self.blinds)]


@pytest.fixture(scope="module")
def honest(pg):
    sc = Scenario(get_backend("reference"))
    proof, point, values = sc.prove(pg)
    return sc, proof, point, values


def _verify(vg, sc, proof, claims=None, public=None, transcript=None):
    return verify_zk_sumcheck(
        vg, transcript or _tr(), sc.shapes, claims or sc.claim_commitments(vg), public or sc.public(), proof
    )


def test_completeness_over_backends(pg, vg, backend):
    sc = Scenario(backend, seed=1)
    proof, point, values = sc.prove(pg)
    parsed = ZkSumcheckProof.from_bytes(proof.to_bytes(), sc.shapes, sc.public_indices)
    assert parsed == proof
    out = _verify(vg, sc, parsed)
    # The outgoing claims commit to the true evaluations of the committed tables.
    truth = {(0, 0): sc.a, (0, 1): sc.b, (1, 1): sc.c, (1, 2): sc.d, (2, 1): sc.bits}
    assert {(i, j) for i, inst in enumerate(out) for j in inst} == set(truth)
    for (i, j), table in truth.items():
        prefix = point[: sc.shapes[i].num_vars]
        assert out[i][j].point == prefix
        assert values[i][j].value == mle_evaluate(table, prefix)
        assert out[i][j].commitment == vg.commit_value(values[i][j].value, values[i][j].blind)


def test_layout_depends_only_on_the_shapes(pg, honest):
    sc, proof, *_ = honest
    other = Scenario(get_backend("reference"), seed=2)
    other_proof, *_ = other.prove(pg)
    assert len(other_proof.to_bytes()) == len(proof.to_bytes())


def test_false_claim_is_rejected(pg, vg):
    """A prover that claims sum + 1 (committed honestly) fails, whatever it sends."""
    sc = Scenario(get_backend("reference"), seed=3, claim_shift=1)
    proof, *_ = sc.prove(pg)
    with pytest.raises(VerifyError):
        _verify(vg, sc, proof)


def test_tampered_statements_are_rejected(vg, honest):
    sc, proof, *_ = honest
    good = sc.claim_commitments(vg)
    bad_claims = {
        "wrong value": [good[0] + vg.g] + good[1:],
        "wrong blinding": [good[0] + vg.h] + good[1:],
        "swapped commitments": [good[1], good[0], good[2]],
    }
    for claims in bad_claims.values():
        with pytest.raises(VerifyError):
            _verify(vg, sc, proof, claims=claims)
    # A public table the verifier evaluates differently (another eq point).
    with pytest.raises(VerifyError, match="equality"):
        _verify(vg, sc, proof, public=sc.public(u=[sc.u[0] + 1] + sc.u[1:]))
    with pytest.raises(VerifyError):
        _verify(vg, sc, proof, transcript=_tr(b"zktrain/test/other"))


def test_tampered_messages_are_rejected(vg, honest):
    sc, proof, *_ = honest
    r0, r1 = proof.rounds[0], proof.rounds[1]
    final = proof.final
    swapped_rounds = (r1, r0) + proof.rounds[2:]
    tampered = {
        "rounds swapped": dataclasses.replace(proof, rounds=swapped_rounds),
        "eval replaced": dataclasses.replace(proof, rounds=(dataclasses.replace(r0, eval=r1.eval),) + proof.rounds[1:]),
        "table values swapped": dataclasses.replace(
            proof, final=dataclasses.replace(final, evaluations=(final.evaluations[0][::-1],) + final.evaluations[1:])
        ),
        "product output replaced": dataclasses.replace(
            proof, final=dataclasses.replace(final, products=((final.products[1][0], final.products[0][1]),) + final.products[1:])
        ),
        "off-subgroup round message": dataclasses.replace(
            proof, rounds=(dataclasses.replace(r0, poly=OFF_SUBGROUP),) + proof.rounds[1:]
        ),
    }
    for name, bad in tampered.items():
        with pytest.raises(VerifyError):
            _verify(vg, sc, bad)


def test_malformed_bytes_are_rejected(vg, honest):
    sc, proof, *_ = honest
    data = proof.to_bytes()
    parse = lambda d: ZkSumcheckProof.from_bytes(d, sc.shapes, sc.public_indices)  # noqa: E731
    with pytest.raises(VerifyError, match="truncated"):
        parse(data[:-1])
    with pytest.raises(VerifyError, match="trailing"):
        parse(data + b"\x00")
    with pytest.raises(VerifyError, match="compression"):
        parse(bytes([data[0] & 0x7F]) + data[1:])
    with pytest.raises(VerifyError, match="non-canonical"):
        parse(data[:-32] + b"\xff" * 32)
    rng = random.Random(4)
    for i in rng.sample(range(len(data)), 20):
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        with pytest.raises(VerifyError):
            _verify(vg, sc, parse(bytes(flipped)))


def test_proof_reveals_no_round_polynomial_or_table_value(honest, pg):
    """The ZK transcript holds commitments and responses only; the plain sumcheck proof of the
    same statement carries its round coefficients in the clear (the search finds them)."""
    sc, proof, point, values = honest
    data = proof.to_bytes()
    plain, _ = prove_sumcheck(_tr(), sc.backend, sc.instances, sc.claims)
    secrets = {c for rnd in plain.rounds for c in rnd} | set(sc.claims) | set(sc.blinds)
    secrets |= {v.value for inst in values for v in inst.values()}
    assert not any(s.to_bytes(32, "little") in data for s in secrets)
    assert plain.rounds[0][1].to_bytes(32, "little") in plain.to_bytes()


# --- claims on one committed tensor at several points -----------------------------------------


def _tensor_and_claims(pg, seed, num_vars=6, m=3):
    rng = random.Random(seed)
    values = np.array([rng.randrange(-(1 << 15), 1 << 15) for _ in range(1 << num_vars)], dtype=np.int64)
    layout = vh.HyraxLayout.square(num_vars)
    commitment, witness = ph.commit(pg, values, layout, 16, rng)
    points = [[rng.randrange(R) for _ in range(num_vars)] for _ in range(m)]
    evals = [mle_evaluate([int(v) for v in values], u) for u in points]
    blinds = [rng.randrange(R) for _ in range(m)]
    return rng, values, layout, commitment, witness, points, evals, blinds


def test_clear_multipoint_then_one_opening(pg, vg):
    """Clear mode: the lead's multipoint reduction on the plain sumcheck, then one Hyrax opening."""
    rng, values, layout, commitment, witness, points, evals, _ = _tensor_and_claims(pg, 7)
    claims = [Claim("T", tuple(u), v) for u, v in zip(points, evals)]

    def run(prover_side: bool, claims):
        tr = _tr()
        for c in claims:
            tr.absorb_scalars(b"claim", [*c.point, c.value])
        rho = tr.challenge_scalars(b"rho", len(claims))
        reduction = multipoint_reduction("T", claims, rho)
        if prover_side:
            proof, (out,) = prove_phase(tr, b"ledger", get_backend("reference"), [reduction], {"T": values})
            _, opening = ph.open_clear(witness, out.point, tr)
            return proof, opening
        return tr, reduction

    proof, opening = run(True, claims)
    tr, reduction = run(False, claims)
    (out,) = verify_phase(tr, b"ledger", [reduction], proof)
    vh.verify_opening(vg, commitment.decode(vg, layout), layout, out.point, out.value, opening, tr)

    bad = [claims[0], Claim("T", claims[1].point, claims[1].value + 1), claims[2]]
    tr, reduction = run(False, bad)
    with pytest.raises(VerifyError):
        verify_phase(tr, b"ledger", [reduction], proof)


def test_statement_and_messages_are_absorbed_in_order(vg, honest, monkeypatch):
    """The verifier's transcript, label by label: the domain, the shape and the claims before
    the batching challenge, each round's polynomial before its challenge and its evaluation
    before w, then the final domain and the table values before the final proofs. Each absorb
    is one Fiat-Shamir binding; a verifier that skipped one would draw challenges the prover's
    messages do not fix."""
    sc, proof, *_ = honest
    seen = []
    for name in ("domain_separate", "absorb_bytes", "challenge_bytes"):
        original = getattr(Transcript, name)
        monkeypatch.setattr(Transcript, name, lambda t, label, *a, _o=original, _n=name: (seen.append((_n, label)), _o(t, label, *a))[1])
    _verify(vg, sc, proof)
    head = [("domain_separate", b"zk-sumcheck"), ("absorb_bytes", b"shape"), ("absorb_bytes", b"claims")]
    assert seen[:3] == head and seen[3] == ("challenge_bytes", b"batching")
    first_round = [entry for entry in seen if entry[1] in (b"poly", b"challenge", b"eval", b"w")][:4]
    assert first_round == [("absorb_bytes", b"poly"), ("challenge_bytes", b"challenge"),
                           ("absorb_bytes", b"eval"), ("challenge_bytes", b"w")]
    assert sum(1 for entry in seen if entry == ("absorb_bytes", b"poly")) == len(proof.rounds)
    final = seen.index(("domain_separate", b"zk-sumcheck/final"))
    assert seen[final + 1] == ("absorb_bytes", b"evaluations")


@pytest.mark.parametrize("defect, message", [
    ("a round missing", r"^zk sumcheck: expected 5 rounds, got 4$"),
    ("a table value missing", r"^zk sumcheck: wrong number of table-value commitments$"),
    ("a proof of product missing", r"^zk sumcheck: too few proofs of product$"),
    ("a proof of product too many", r"^zk sumcheck: too many proofs of product$"),
    ("round 0's proof of another round", r"^zk sumcheck round 0: "),
])
def test_proof_objects_out_of_form_are_rejected_by_name(vg, honest, defect, message):
    """Parsing fixes every count from the shapes (``ZkSumcheckProof.from_bytes``); a proof built
    through the API may not match them, and each count check names it. A round's failing proof
    of dot product names its round."""
    sc, proof, *_ = honest
    final = proof.final
    if defect == "a round missing":
        bad = dataclasses.replace(proof, rounds=proof.rounds[:-1])
    elif defect == "a table value missing":
        bad = dataclasses.replace(proof, final=dataclasses.replace(final, evaluations=(final.evaluations[0][:-1],) + final.evaluations[1:]))
    elif defect == "a proof of product missing":
        bad = dataclasses.replace(proof, final=dataclasses.replace(final, products=final.products[:-1]))
    elif defect == "a proof of product too many":
        bad = dataclasses.replace(proof, final=dataclasses.replace(final, products=final.products + final.products[-1:]))
    else:
        bad = dataclasses.replace(proof, rounds=(dataclasses.replace(proof.rounds[0], proof=proof.rounds[1].proof),) + proof.rounds[1:])
    with pytest.raises(VerifyError, match=message):
        _verify(vg, sc, bad)


def test_callers_counts_are_checked(vg, honest):
    """A batch of no instance, one claim short, or public-table sets for another number of
    instances: callers' bugs, refused before any absorb (zip() would drop instances)."""
    from verifier.zk_sumcheck import committed_tables

    sc, proof, *_ = honest
    with pytest.raises(ValueError, match=r"^a sumcheck needs at least one instance$"):
        ZkSumcheckProof.from_bytes(b"", [], [])
    with pytest.raises(ValueError, match=r"^3 instances but 2 claims$"):
        _verify(vg, sc, proof, claims=sc.claim_commitments(vg)[:2])
    with pytest.raises(ValueError, match=r"^3 instances but 2 public-table sets$"):
        committed_tables(sc.shapes, sc.public_indices[:2])
