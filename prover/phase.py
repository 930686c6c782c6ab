"""Prover side of a phase: one batched sumcheck over the instances of several reductions.

The reductions are the verifier's own objects (``verifier/phase.py``): the prover
materializes the tables they describe from its witness, proves, and then runs their
``finish`` on its final evaluations to obtain exactly the claims the verifier will hold (a
wrong table of its own surfaces there as a VerifyError).
"""

from __future__ import annotations

from typing import Sequence

from prover.backends.base import FieldBackend
from prover.gadgets import Witness, materialize
from prover.sumcheck import Instance, prove_sumcheck
from verifier.claims import Claim
from verifier.phase import Reduction, split_and_finish
from verifier.sumcheck import Evaluation, SumcheckProof
from verifier.transcript import Transcript


def prove_phase(
    transcript: Transcript,
    label: bytes,
    backend: FieldBackend,
    reductions: Sequence[Reduction],
    witness: Witness,
) -> tuple[SumcheckProof, list[Claim]]:
    transcript.domain_separate(label)
    instances = [
        Instance([materialize(backend, t, witness) for t in tables], shape.terms)
        for red in reductions
        for shape, tables in zip(red.shapes, red.tables, strict=True)
    ]
    claims = [c for red in reductions for c in red.claims]
    proof, point = prove_sumcheck(transcript, backend, instances, claims)
    shapes = [s for red in reductions for s in red.shapes]
    evaluations = [
        [Evaluation(point[: shape.num_vars], v) for v in values]
        for shape, values in zip(shapes, proof.final_evals)
    ]
    return proof, split_and_finish(reductions, evaluations)
