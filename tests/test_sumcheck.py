"""Batched sumcheck: completeness and soundness in pairs, over every prover backend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prover.sumcheck import Instance, instance_sum, product_instance, prove_sumcheck
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.polynomial import eq_table, mle_evaluate
from verifier.sumcheck import SumcheckProof, Term, verify_sumcheck
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/sumcheck"


def _rand(rng, n):
    return [rng.randrange(R) for _ in range(1 << n)]


def _booleanity(backend, u, bits):
    """sum_x eq(u, x) (b(x)^2 - b(x)): zero exactly when every entry of b is a bit."""
    return Instance(
        [backend.from_ints(eq_table(u)), backend.from_ints(bits)],
        (Term(1, (0, 1, 1)), Term(R - 1, (0, 1))),
    )


def _scenario(backend, rng):
    """Three instances of different sizes and degrees, batched: a*b, eq*a*b, booleanity."""
    a, b = _rand(rng, 5), _rand(rng, 5)
    c, d = _rand(rng, 3), _rand(rng, 3)
    u = [rng.randrange(R) for _ in range(4)]
    bits = [rng.randrange(2) for _ in range(16)]
    tables = {"a": a, "b": b, "c": c, "d": d, "eq": eq_table([rng.randrange(R) for _ in range(3)])}
    instances = [
        product_instance(backend.from_ints(a), backend.from_ints(b)),
        product_instance(backend.from_ints(tables["eq"]), backend.from_ints(c), backend.from_ints(d)),
        _booleanity(backend, u, bits),
    ]
    return instances, tables


def _prove(backend, instances, claims=None, transcript=None):
    shapes = [inst.shape(backend) for inst in instances]
    if claims is None:
        claims = [instance_sum(backend, inst) for inst in instances]
    proof, point = prove_sumcheck(transcript or Transcript(DOMAIN), backend, instances, claims)
    return shapes, claims, proof, point


def test_honest_batched_proof_verifies(backend, rng):
    instances, tables = _scenario(backend, rng)
    shapes, claims, proof, point = _prove(backend, instances)
    assert claims[2] == 0  # the bits really are bits
    evals = verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)
    assert len(point) == 5
    # Every returned claim is a true evaluation of the original table at its prefix point.
    for name, claim in [("a", evals[0][0]), ("b", evals[0][1]), ("c", evals[1][1]), ("d", evals[1][2])]:
        assert claim.value == mle_evaluate(tables[name], claim.point)
    assert evals[1][0].point == point[:3] and evals[2][0].point == point[:4]


def test_claims_match_direct_sums(backend, rng):
    instances, tables = _scenario(backend, rng)
    assert instance_sum(backend, instances[0]) == sum(x * y for x, y in zip(tables["a"], tables["b"])) % R
    expected = sum(e * x * y for e, x, y in zip(tables["eq"], tables["c"], tables["d"])) % R
    assert instance_sum(backend, instances[1]) == expected


def test_single_instance_and_zero_variables(backend, rng):
    a = _rand(rng, 0)
    shapes, claims, proof, _ = _prove(backend, [product_instance(backend.from_ints(a))])
    assert proof.rounds == () and verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)
    shapes, claims, proof, _ = _prove(backend, [product_instance(backend.from_ints(_rand(rng, 4)))])
    verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)


def test_proof_bytes_roundtrip(backend, rng):
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    data = proof.to_bytes()
    assert SumcheckProof.from_bytes(data, shapes) == proof
    with pytest.raises(VerifyError):
        SumcheckProof.from_bytes(data[:-1], shapes)  # truncated
    with pytest.raises(VerifyError):
        SumcheckProof.from_bytes(data + b"\x00" * 32, shapes)  # trailing element
    non_canonical = data[:32] + (R + 1).to_bytes(32, "little")[:32] + data[64:]
    with pytest.raises(VerifyError):
        SumcheckProof.from_bytes(non_canonical, shapes)


# --- soundness ---------------------------------------------------------------------------


def test_wrong_claimed_sum_is_rejected(backend, rng):
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    for i in range(len(claims)):
        wrong = list(claims)
        wrong[i] = (wrong[i] + 1) % R
        with pytest.raises(VerifyError):
            verify_sumcheck(Transcript(DOMAIN), shapes, wrong, proof)


def test_prover_asserting_a_false_sum_is_rejected(backend, rng):
    # The prover itself claims a false sum; every round it sends is its honest best effort.
    instances, _ = _scenario(backend, rng)
    claims = [instance_sum(backend, inst) for inst in instances]
    claims[2] = 1  # "the bits are bits" is false: one entry is 2
    shapes, _, proof, _ = _prove(backend, instances, claims=claims)
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)


def test_non_boolean_witness_fails_booleanity(backend, rng):
    u = [rng.randrange(R) for _ in range(3)]
    bits = [1, 0, 1, 1, 0, 0, 1, 0]
    bits[5] = (R + 1) // 2  # a "bit" equal to 1/2 mod r
    inst = _booleanity(backend, u, bits)
    assert instance_sum(backend, inst) != 0
    shapes, _, proof, _ = _prove(backend, [inst], claims=[0])
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(DOMAIN), shapes, [0], proof)


@pytest.mark.parametrize("round_index", [0, 2, 4])
def test_tampered_round_polynomial_is_rejected(backend, rng, round_index):
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    rounds = [list(r) for r in proof.rounds]
    # Keep p(0) + p(1) intact (c_0 + 1, c_1 - 2) so only the consistency with later rounds
    # and the final evaluations can catch it.
    rounds[round_index][0] = (rounds[round_index][0] + 1) % R
    rounds[round_index][1] = (rounds[round_index][1] - 2) % R
    tampered = dataclasses.replace(proof, rounds=tuple(tuple(r) for r in rounds))
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, tampered)


def test_wrong_final_evaluation_is_rejected(backend, rng):
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    for i, evals in enumerate(proof.final_evals):
        for j in range(len(evals)):
            final = [list(e) for e in proof.final_evals]
            final[i][j] = (final[i][j] + 1) % R
            tampered = dataclasses.replace(proof, final_evals=tuple(tuple(e) for e in final))
            with pytest.raises(VerifyError):
                verify_sumcheck(Transcript(DOMAIN), shapes, claims, tampered)


def test_wrong_shape_is_rejected(backend, rng):
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, dataclasses.replace(proof, rounds=proof.rounds[:-1]))
    short = tuple(r[:-1] for r in proof.rounds)
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, dataclasses.replace(proof, rounds=short))


@pytest.mark.parametrize("change", ["one degree higher", "one degree lower"])
def test_round_polynomial_of_another_degree_is_rejected(backend, rng, change):
    """The round polynomials' degree bound is what makes a round sound (a false claim survives
    a round polynomial of degree d with probability d / r); without it a prover may send
    p + delta (1 - x^(r - 1)), which adds delta to p(0) + p(1) and agrees with p everywhere
    else. Parsing bytes always yields d + 1 coefficients (``SumcheckProof.read``), so only
    the API can pass another length: here a degree-4 round whose sum is kept (the x^4
    coefficient e is taken off c_1), or a round cut to degree 2."""
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    rounds = [list(r) for r in proof.rounds]
    if change == "one degree higher":
        e = rng.randrange(1, R)
        rounds[0] = [rounds[0][0], (rounds[0][1] - e) % R, *rounds[0][2:], e]
        assert (rounds[0][0] + sum(rounds[0])) % R == (proof.rounds[0][0] + sum(proof.rounds[0])) % R
    else:
        rounds[0] = rounds[0][:-1]
    tampered = dataclasses.replace(proof, rounds=tuple(tuple(r) for r in rounds))
    with pytest.raises(VerifyError, match="sumcheck round 0: expected degree 3, got"):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, tampered)


class _RelabelingTranscript(Transcript):
    """A prover transcript that absorbs one label under another name."""

    def __init__(self, domain, old, new):
        super().__init__(domain)
        self._old, self._new = old, new

    def absorb_bytes(self, label, data):
        super().absorb_bytes(self._new if label == self._old else label, data)


@pytest.mark.parametrize("label", [b"round", b"claims", b"final-evals"])
def test_transcript_with_a_swapped_label_is_rejected(backend, rng, label):
    instances, _ = _scenario(backend, rng)
    transcript = _RelabelingTranscript(DOMAIN, label, b"swapped")
    shapes, claims, proof, _ = _prove(backend, instances, transcript=transcript)
    if label == b"final-evals":
        # The final absorb feeds only later protocols: the next challenge must differ.
        honest = Transcript(DOMAIN)
        verify_sumcheck(honest, shapes, claims, proof)
        assert honest.challenge_scalar(b"next") != transcript.challenge_scalar(b"next")
        return
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)


def test_proof_from_another_domain_is_rejected(backend, rng):
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    with pytest.raises(VerifyError):
        verify_sumcheck(Transcript(b"zktrain/test/other"), shapes, claims, proof)


def test_polynomial_helpers_refuse_mismatched_shapes():
    """eq and MLE evaluation refuse a point of the wrong dimension (zip() would silently
    evaluate a smaller polynomial)."""
    from verifier.polynomial import eq_eval, mle_evaluate

    with pytest.raises(ValueError, match="^eq_eval: points of different dimensions$"):
        eq_eval([1, 2], [1])
    with pytest.raises(ValueError, match=r"^mle_evaluate: 3 values for 2 variables$"):
        mle_evaluate([1, 2, 3], [5, 6])


@pytest.mark.parametrize("values", [np.array([2**63, 0], dtype=np.uint64), np.array([0.5, 1.0])],
                         ids=["uint64 beyond int64", "float"])
def test_int64_mle_refuses_what_int64_cannot_hold_exactly(values):
    """The seeded W_0's fast MLE computes in int64: a uint64 value past 2^63 would wrap to a
    negative one and a float would be truncated, each a wrong evaluation of the public
    tensor. Both are refused."""
    from verifier.polynomial import mle_evaluate_int64

    with pytest.raises(ValueError, match=r"^mle_evaluate_int64: needs an integer array that fits int64"):
        mle_evaluate_int64(values, [5])


def test_int64_mle_refuses_a_point_of_the_wrong_dimension():
    """As ``mle_evaluate``: 3 values are no multilinear polynomial in 2 variables (the row split
    would silently evaluate another table)."""
    from verifier.polynomial import mle_evaluate_int64

    with pytest.raises(ValueError, match=r"^mle_evaluate_int64: 3 values for 2 variables$"):
        mle_evaluate_int64(np.array([1, 2, 3]), [5, 6])
    with pytest.raises(ValueError, match=r"^mle_evaluate_int64: 8 values for 2 variables$"):
        mle_evaluate_int64(np.arange(8), [5, 6])


@pytest.mark.parametrize("num_vars, terms, message", [
    (-1, ((1, (0,)),), r"^num_vars must lie in \[0, 40\], got -1$"),
    (41, ((1, (0,)),), r"^num_vars must lie in \[0, 40\], got 41$"),
    (3, (), r"^an instance needs at least one term$"),
    (3, ((1, ()),), r"^a term has 1\.\.3 factors, got 0$"),
    (3, ((1, (0, 0, 0, 0)),), r"^a term has 1\.\.3 factors, got 4$"),
    (3, ((1, (0, 2)),), r"^term factor index out of range: \(0, 2\)$"),
    (3, ((1, (-1,)),), r"^term factor index out of range: \(-1,\)$"),
])
def test_instance_shapes_are_validated_where_built(num_vars, terms, message):
    """An instance's shape comes from the verifier's own reductions, never from the proof: its
    checks guard the statement's construction (a shape past MAX_VARS would let a recipe ask for
    2^41-entry loops; a degree past 3 a round polynomial longer than the proof's parser reads;
    a factor past the tables an index error mid-verification). Each is pinned at its bound."""
    from verifier.sumcheck import InstanceShape, Term

    with pytest.raises(ValueError, match=message):
        InstanceShape(num_vars, 2, tuple(Term(c, f) for c, f in terms))
    InstanceShape(40, 2, (Term(1, (0, 1, 1)),))  # the bounds themselves are accepted
    InstanceShape(0, 2, (Term(1, (1,)),))


def test_a_sumcheck_of_no_instance_is_refused():
    """A batched sumcheck over no instance has no round count or degree: the walk's phases skip
    an empty phase before reading any proof (``VerifierChannel.phase``), so only a caller's bug
    reaches this, and it is refused rather than read as a zero-round proof."""
    from verifier.encoding import Reader
    from verifier.sumcheck import SumcheckProof

    with pytest.raises(ValueError, match=r"^a sumcheck needs at least one instance$"):
        SumcheckProof.read(Reader(b"", "sumcheck proof"), [])


@pytest.mark.parametrize("defect, message", [
    ("a round missing", r"^sumcheck: expected 5 rounds, got 4$"),
    ("round coefficient + r", r"^sumcheck round 0: coefficient is not a field element$"),
    ("final evaluation + r", r"^sumcheck: final evaluation is not a field element$"),
    ("an instance's evaluations missing", r"^sumcheck: final evaluations for the wrong number of instances$"),
    ("a table's evaluation missing", r"^sumcheck: wrong number of final table evaluations$"),
])
def test_proof_objects_out_of_form_are_rejected(backend, rng, defect, message):
    """Parsing bytes yields canonical scalars in exactly the shapes' counts
    (``SumcheckProof.read``); a proof built through the API may not, and each form check
    rejects it by name: a coefficient or value written as v + r is the same field element but
    another encoding (the transcript would absorb bytes that are no scalar), and a missing
    evaluation would let zip() drop an instance or a table from the final check."""
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    rounds = [list(r) for r in proof.rounds]
    final = [list(e) for e in proof.final_evals]
    if defect == "a round missing":
        rounds = rounds[:-1]
    elif defect == "round coefficient + r":
        rounds[0][1] += R
    elif defect == "final evaluation + r":
        final[1][0] += R
    elif defect == "an instance's evaluations missing":
        final = final[:-1]
    else:
        final[0] = final[0][:-1]
    tampered = SumcheckProof(tuple(map(tuple, rounds)), tuple(map(tuple, final)))
    with pytest.raises(VerifyError, match=message):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims, tampered)


def test_claims_must_match_the_instances(backend, rng):
    """One claim per instance: a caller's mismatch is refused before any absorb (zip() would
    batch fewer instances than the proof covers)."""
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    with pytest.raises(ValueError, match=r"^3 instances but 2 claims$"):
        verify_sumcheck(Transcript(DOMAIN), shapes, claims[:2], proof)


def test_statement_is_absorbed_before_the_batching_challenge(backend, rng, monkeypatch):
    """The transcript's opening, label by label: the sumcheck's domain, the public shape (the
    instance count, the degree and each instance's variables) and the claims, then the
    batching challenge. The prover shares ``begin``, so a label dropped from it would drop on
    both sides and every honest proof would still verify: only this pins the statement's
    binding (without the shape, a proof for 3 instances of 5, 3, 4 variables is a proof for
    another batch with the same claims)."""
    instances, _ = _scenario(backend, rng)
    shapes, claims, proof, _ = _prove(backend, instances)
    seen = []
    for name in ("domain_separate", "absorb_bytes", "challenge_bytes"):
        original = getattr(Transcript, name)
        monkeypatch.setattr(Transcript, name, lambda t, label, *a, _o=original, _n=name: (seen.append((_n, label)), _o(t, label, *a))[1])
    verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)
    assert seen[:4] == [("domain_separate", b"sumcheck"), ("absorb_bytes", b"shape"), ("absorb_bytes", b"claims"),
                        ("challenge_bytes", b"batching")]


@pytest.mark.parametrize("leaf", [False, True], ids=["layer", "leaf"])
def test_gkr_instances_naming_their_eq_point_prove_the_same_bytes(backend, rng, leaf):
    """An instance that names the point of its eq table (``Instance.eq_point``) lets the
    logUp-GKR round kernels split eq's factor in the bound variable off, round after round of
    folding; the proof is the same bytes as without it, and verifies. Batched with an instance
    of fewer variables, so that it runs on alone after the other is bound."""
    from verifier.logup import layer_shape, leaf_layer_shape

    gamma = rng.randrange(R)
    shape = (leaf_layer_shape if leaf else layer_shape)(5, gamma)
    u = tuple(rng.randrange(R) for _ in range(5))
    others = [_rand(rng, 5) for _ in range(shape.num_tables - 1)]
    a, b = _rand(rng, 3), _rand(rng, 3)

    def instances(eq_point):
        tables = [backend.from_ints(eq_table(list(u)))] + [backend.from_ints(t) for t in others]
        return [Instance(tables, shape.terms, eq_point), product_instance(backend.from_ints(a), backend.from_ints(b))]

    plain, split = _prove(backend, instances(None)), _prove(backend, instances(u))
    assert split[1] == plain[1] and split[2].to_bytes() == plain[2].to_bytes() and split[3] == plain[3]
    verify_sumcheck(Transcript(DOMAIN), split[0], split[1], split[2])
