"""Prover side of a phase: one batched sumcheck over the instances of several reductions.

The reductions are the verifier's own objects (``verifier/phase.py``): after proving, the
prover runs their ``finish`` on its final evaluations to obtain exactly the claims the
verifier will hold, and a wrong table of its own surfaces there as a VerifyError.
"""

from __future__ import annotations

from typing import Sequence

from prover.backends.base import FieldBackend
from prover.sumcheck import Instance, prove_sumcheck
from verifier.claims import Claim
from verifier.phase import Reduction, split_and_finish
from verifier.sumcheck import Evaluation, SumcheckProof
from verifier.transcript import Transcript


def prove_phase(
    transcript: Transcript,
    label: bytes,
    backend: FieldBackend,
    items: Sequence[tuple[Reduction, Sequence[Instance]]],
) -> tuple[SumcheckProof, list[Claim]]:
    transcript.domain_separate(label)
    instances = [inst for _, insts in items for inst in insts]
    claims = [c for red, _ in items for c in red.claims]
    proof, point = prove_sumcheck(transcript, backend, instances, claims)
    evaluations = [
        [Evaluation(point[: inst.shape(backend).num_vars], v) for v in values]
        for inst, values in zip(instances, proof.final_evals)
    ]
    return proof, split_and_finish([red for red, _ in items], evaluations)
