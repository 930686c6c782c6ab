"""Zero-knowledge batched sumcheck, prover side (specification: verifier/zk_sumcheck.py).

The round polynomials come from the plain sumcheck's :class:`prover.sumcheck.SumcheckState`
(the same tables, folds and interpolation); this module only changes what is sent: a
commitment to each round polynomial, a commitment to its value at the challenge, and a proof
of dot product tying them to the running claim's commitment. The final step commits to the
tables' values and proves the products and the closing equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from prover.backends.base import FieldBackend
from prover.commit import group
from prover.commit.generators import ProverGenerators
from prover.nizk import dot_product, equality, product
from prover.nizk.randomness import RandomSource, blinding
from prover.sumcheck import Instance, SumcheckState
from verifier.field import MODULUS as R, inner_product
from verifier.polynomial import univariate_evaluate
from verifier.transcript import Transcript
from verifier.zk_sumcheck import (
    DOMAIN_FINAL,
    ZkFinal,
    ZkRound,
    ZkSumcheckProof,
    batching_weights,
    begin,
    committed_tables,
    product_plan,
    round_weights,
)


@dataclass(frozen=True)
class ZkTableValue:
    """The prover's side of a ZkEvaluation: the value and the blinding of its commitment."""

    point: tuple[int, ...]
    value: int
    blind: int


def prove_zk_sumcheck(
    transcript: Transcript,
    backend: FieldBackend,
    gens: ProverGenerators,
    instances: Sequence[Instance],
    claims: Sequence[int],
    claim_blinds: Sequence[int],
    public_indices: Sequence[Sequence[int]],
    rng: RandomSource | None = None,
) -> tuple[ZkSumcheckProof, tuple[int, ...], list[dict[int, ZkTableValue]]]:
    """Prove sum_x P_i(x) = claims[i], each claim given as claims[i] g + claim_blinds[i] h.

    ``public_indices[i]`` lists the tables of instance i that the verifier evaluates itself.
    Returns the proof, the point, and per instance the committed tables' values with their
    blindings (the prover's half of the claims the verifier receives).
    """
    shapes = [inst.shape(backend) for inst in instances]
    if len(claim_blinds) != len(claims):
        raise ValueError(f"{len(claims)} claims but {len(claim_blinds)} blindings")
    commitments = [group.to_bytes(gens.commit_value(c, b)) for c, b in zip(claims, claim_blinds)]
    coefficients = begin(transcript, shapes, commitments)
    state = SumcheckState(backend, instances, coefficients)
    blind = inner_product(batching_weights(shapes, coefficients), claim_blinds)
    rounds, point = [], []
    for _ in range(state.num_rounds):
        coeffs = state.round_polynomial()
        poly_blind, eval_blind = blinding(rng, 2)
        poly = gens.commit_vector(coeffs, poly_blind)
        transcript.absorb_point(b"poly", group.to_bytes(poly))
        r = transcript.challenge_scalar(b"challenge")
        value = univariate_evaluate(coeffs, r)
        ev = gens.commit_value(value, eval_blind)
        transcript.absorb_point(b"eval", group.to_bytes(ev))
        w = transcript.challenge_scalar(b"w")
        a = round_weights(r, w, state.degree)
        proof = dot_product.prove(
            gens, coeffs, poly_blind, a, (blind + w * eval_blind) % R, transcript, rng, cx=poly
        )
        rounds.append(ZkRound(group.to_bytes(poly), group.to_bytes(ev), proof))
        state.bind(r)
        point.append(r)
        blind = eval_blind
    final, values = _prove_final(
        transcript, gens, shapes, coefficients, tuple(point), state.final_evals(), public_indices, blind, rng
    )
    return ZkSumcheckProof(tuple(rounds), final), tuple(point), values


def _prove_final(transcript, gens, shapes, coefficients, point, final_evals, public_indices, blind, rng):
    committed = committed_tables(shapes, public_indices)
    values = []
    for shape, idx, evals in zip(shapes, committed, final_evals):
        prefix = point[: shape.num_vars]
        values.append({j: ZkTableValue(prefix, evals[j], blinding(rng)) for j in idx})
    commitments = [
        [gens.commit_value(v.value, v.blind) for v in inst.values()] for inst in values
    ]
    transcript.domain_separate(DOMAIN_FINAL)
    transcript.absorb_points(b"evaluations", [group.to_bytes(c) for inst in commitments for c in inst])

    products = []
    expected_blind = 0  # blinding of the linear combination the verifier forms
    for i, t, factors in product_plan(shapes, public_indices):
        term = shapes[i].terms[t]
        weight = coefficients[i] * term.coeff
        for j in term.factors:
            if j not in values[i]:
                weight = weight * final_evals[i][j] % R
        if not factors:
            continue
        acc_value, acc_blind = values[i][factors[0]].value, values[i][factors[0]].blind
        for j in factors[1:]:
            y, y_blind = values[i][j].value, values[i][j].blind
            out_blind = blinding(rng)
            proof = product.prove(gens, acc_value, acc_blind, y, y_blind, out_blind, transcript, rng)
            acc_value, acc_blind = acc_value * y % R, out_blind
            products.append((group.to_bytes(gens.commit_value(acc_value, acc_blind)), proof))
        expected_blind = (expected_blind + weight * acc_blind) % R
    # The reduced claim's value F(r) and the combination's value agree; only blindings differ.
    claim_value = sum(
        rho * shape.evaluate(evals) for rho, shape, evals in zip(coefficients, shapes, final_evals)
    ) % R
    reduced = gens.commit_value(claim_value, blind)
    expected = gens.commit_value(claim_value, expected_blind)
    eq_proof = equality.prove(gens, reduced, expected, blind, expected_blind, transcript, rng)
    evaluations = tuple(tuple(group.to_bytes(c) for c in inst) for inst in commitments)
    return ZkFinal(evaluations, tuple(products), eq_proof), values
