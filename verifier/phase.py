"""A phase of the FAC4DNN walk: several claim reductions proven by one batched sumcheck.

Each reduction contributes sumcheck instances (shapes and claimed sums) and a ``finish``
function that receives the instances' final table evaluations, checks the ones the verifier
can compute itself (eq tables, step weights), and returns the remaining ones as claims on
tensors. The prover builds the very same reductions and calls the same ``finish`` on its own
final evaluations, so both sides derive identical claims by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .claims import Claim
from .errors import VerifyError
from .polynomial import eq_eval
from .sumcheck import Evaluation, InstanceShape, SumcheckProof, verify_sumcheck
from .transcript import Transcript

Finish = Callable[[list[list[Evaluation]]], list[Claim]]


@dataclass(frozen=True)
class Table:
    """A symbolic description of one sumcheck table, which only the prover materializes.

    kinds: ``eq`` (point): eq(point, x); ``eq_low`` (point, low_vars): eq(point, high part),
    constant over the low variables; ``combined_eq`` (points, rho): sum_j rho_j eq(u_j, x);
    ``steps`` (kappa, low_vars): kappa[high part]; ``bind`` (tensor, axis, point): a witness
    tensor with one axis bound to point (other axes in C order); ``flat`` (tensor): a witness
    tensor as it is.
    """

    kind: str
    args: tuple


@dataclass
class Reduction:
    """Instances one gadget adds to a phase, and how their final evaluations become claims.

    ``tables[i]`` describes the tables of instance i for the prover; the verifier ignores it.
    """

    name: str
    shapes: list[InstanceShape]
    claims: list[int]
    finish: Finish
    tables: list[list[Table]]


def verify_phase(
    transcript: Transcript, label: bytes, reductions: Sequence[Reduction], proof: SumcheckProof
) -> list[Claim]:
    """Verify one batched sumcheck over all reductions; return the claims they produce."""
    transcript.domain_separate(label)
    shapes = [s for red in reductions for s in red.shapes]
    claims = [c for red in reductions for c in red.claims]
    evaluations = verify_sumcheck(transcript, shapes, claims, proof)
    return split_and_finish(reductions, evaluations)


def split_and_finish(reductions: Sequence[Reduction], evaluations: list[list[Evaluation]]) -> list[Claim]:
    out: list[Claim] = []
    pos = 0
    for red in reductions:
        out.extend(red.finish(evaluations[pos : pos + len(red.shapes)]))
        pos += len(red.shapes)
    return out


def check_public(evaluation: Evaluation, expected: int, what: str) -> None:
    """A table the verifier computes itself must evaluate to what the prover claimed."""
    if evaluation.value != expected:
        raise VerifyError(f"{what}: the prover's evaluation of a public table is wrong")


def check_eq(evaluation: Evaluation, u: Sequence[int], what: str) -> None:
    check_public(evaluation, eq_eval(u, evaluation.point), what)
