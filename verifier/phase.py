"""A phase of the FAC4DNN walk: several claim reductions proven by one batched sumcheck.

Each reduction contributes sumcheck instances (shapes and claimed sums), declares which of
their tables are *public* (eq tables, step weights, padding predicates: the verifier evaluates
them itself at the sumcheck's point), and supplies a ``finish`` function that turns the other
tables' final evaluations into claims on tensors. The prover builds the very same reductions
and calls the same ``finish`` on its own final evaluations, so both sides derive identical
claims by construction.

Both modes run the same reductions. Clear mode (``verify_phase``): the proof carries every
final evaluation in the clear and the public ones are compared with the verifier's values.
Zero-knowledge mode (``verify_zk_phase``, ``verifier/zk_sumcheck.py``): claims are
commitments, the public tables enter the final check as the verifier's own values, every other
evaluation comes back as a commitment (a :class:`~verifier.values.Committed` claim value).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Sequence

from .claims import Claim
from .encoding import Reader
from .errors import VerifyError
from .field import MODULUS as R
from .hash_to_curve import PedersenGenerators
from .nizk.batch import Equations, equations_for
from .nizk.equality import EqualityProof
from .nizk.product import ProductProof
from .polynomial import eq_eval
from .sumcheck import Evaluation, InstanceShape, SumcheckProof, verify_sumcheck
from .transcript import Transcript
from .values import Committed, Value
from .zk_sumcheck import ZkRound, ZkSumcheckProof, committed_tables, product_plan, verify_final, verify_rounds

Finish = Callable[[list[list[Evaluation]]], list[Claim]]


@dataclass(frozen=True)
class PublicTable:
    """A table the verifier evaluates itself: ``at(point)`` is its MLE at the instance's point;
    ``what`` names it in the rejection when a clear-mode proof claims another value."""

    what: str
    at: Callable[[tuple[int, ...]], int]


@dataclass(frozen=True)
class Table:
    """A symbolic description of one sumcheck table, which only the prover materializes.

    kinds: ``eq`` (point): eq(point, x); ``eq_low`` (point, low_vars): eq(point, high part),
    constant over the low variables; ``combined_eq`` (points, rho): sum_j rho_j eq(u_j, x);
    ``steps`` (kappa, low_vars): kappa[high part]; ``bind`` (tensor, axis, point): a witness
    tensor with one axis bound to point (other axes in C order); ``bind_broadcast`` (tensor,
    axis, point, low_vars): ``bind`` on the tensor with its axes from ``axis`` on flattened into
    one, constant over low_vars new low variables; ``broadcast`` (tensor, low_vars): a witness
    vector, constant over low_vars low variables; ``weighted`` (tensor, weights, low_vars): a
    witness vector times public weights entrywise, constant over low_vars low variables;
    ``flat`` (tensor): a witness tensor as it is.
    """

    kind: str
    args: tuple


@dataclass
class Reduction:
    """Instances one gadget adds to a phase, and how their final evaluations become claims.

    ``claims[i]`` is instance i's claimed sum (a walk value: an int, or a commitment in ZK
    mode); ``tables[i]`` describes its tables for the prover (the verifier ignores it);
    ``public[i]`` maps the indices of its public tables to their evaluations. ``finish``
    receives every table's evaluation (the public ones at the verifier's value) and reads only
    the others.
    """

    name: str
    shapes: list[InstanceShape]
    claims: list[Value]
    finish: Finish
    tables: list[list[Table]]
    public: list[dict[int, PublicTable]]


def verify_phase(
    transcript: Transcript, label: bytes, reductions: Sequence[Reduction], proof: SumcheckProof
) -> list[Claim]:
    """Verify one batched sumcheck over all reductions; return the claims they produce."""
    transcript.domain_separate(label)
    shapes = [s for red in reductions for s in red.shapes]
    claims = [c for red in reductions for c in red.claims]
    with _named(label):
        return split_and_finish(reductions, verify_sumcheck(transcript, shapes, claims, proof))


@contextmanager
def _named(label: bytes):
    """Rejections inside a phase name the phase (e.g. ``phase-1: sumcheck: ...``)."""
    try:
        yield
    except VerifyError as err:
        raise VerifyError(f"{label.decode()}: {err}") from None


def split_and_finish(reductions: Sequence[Reduction], evaluations: list[list[Evaluation]]) -> list[Claim]:
    """Clear mode: check every public table's evaluation, then finish every reduction."""
    pos = 0
    for red in reductions:
        for inst, public in zip(evaluations[pos : pos + len(red.shapes)], red.public, strict=True):
            for j, table in public.items():
                check_public(inst[j], table.at(inst[j].point), table.what)
        pos += len(red.shapes)
    return finish_reductions(reductions, evaluations)


def finish_reductions(reductions: Sequence[Reduction], evaluations: list[list[Evaluation]]) -> list[Claim]:
    out: list[Claim] = []
    pos = 0
    for red in reductions:
        out.extend(red.finish(evaluations[pos : pos + len(red.shapes)]))
        pos += len(red.shapes)
    return out


# --- zero-knowledge mode ---------------------------------------------------------------------


def public_indices(reductions: Sequence[Reduction]) -> list[list[int]]:
    """Per instance of the phase, the indices of its public tables."""
    return [sorted(public) for red in reductions for public in red.public]


def zk_proof_size(reductions: Sequence[Reduction]) -> int:
    """Bytes of the phase's ZK sumcheck proof: fixed by the shapes and the public tables, so
    the proof's layout depends on the recipe only (the layout ``ZkSumcheckProof.from_bytes``
    parses)."""
    shapes = [s for red in reductions for s in red.shapes]
    indices = public_indices(reductions)
    num_rounds, degree = max(s.num_vars for s in shapes), max(s.degree for s in shapes)
    committed = sum(len(c) for c in committed_tables(shapes, indices))
    products = sum(max(0, len(f) - 1) for _, _, f in product_plan(shapes, indices))
    return (
        num_rounds * ZkRound.size(degree)
        + 48 * committed
        + products * (48 + ProductProof.SIZE)
        + EqualityProof.SIZE
    )


def read_zk_proof(reader: Reader, reductions: Sequence[Reduction]) -> ZkSumcheckProof:
    shapes = [s for red in reductions for s in red.shapes]
    # Reader has no public slicing method; the bundle parser takes chunks the same way.
    chunk = reader.take(zk_proof_size(reductions))
    return ZkSumcheckProof.from_bytes(chunk, shapes, public_indices(reductions))


def claim_commitment(gens: PedersenGenerators, value: Value):
    """The commitment a claimed sum stands for: itself, or k g for a public k."""
    return value.point if isinstance(value, Committed) else (value % R) * gens.g


def verify_zk_phase(
    gens: PedersenGenerators,
    transcript: Transcript,
    label: bytes,
    reductions: Sequence[Reduction],
    proof: ZkSumcheckProof,
    equations: Equations | None = None,
) -> list[Claim]:
    """Verify one batched ZK sumcheck over all reductions; return the claims they produce,
    with committed values. The group equations go to ``equations`` (each checked at once if
    None), their rejections named by the phase (``phase-1: zk sumcheck round 0: ...``)."""
    eqs = equations_for(gens.curve, equations)
    transcript.domain_separate(label)
    shapes = [s for red in reductions for s in red.shapes]
    claims = [claim_commitment(gens, c) for red in reductions for c in red.claims]
    public = [{j: table.at for j, table in pub.items()} for red in reductions for pub in red.public]
    with eqs.named(f"{label.decode()}: "):
        reduced = verify_rounds(gens, transcript, shapes, claims, proof.rounds, eqs)
        values = verify_final(gens, transcript, shapes, reduced, public, proof.final, eqs)
    evaluations = []
    for shape, pub, committed in zip(shapes, public, values):
        point = reduced.point[: shape.num_vars]
        evaluations.append([
            Evaluation(point, Committed(committed[j].commitment, gens) if j in committed else pub[j](point))
            for j in range(shape.num_tables)
        ])
    return finish_reductions(reductions, evaluations)


def check_public(evaluation: Evaluation, expected: int, what: str) -> None:
    """A table the verifier computes itself must evaluate to what the prover claimed."""
    if evaluation.value != expected:
        raise VerifyError(f"{what}: the prover's evaluation of a public table is wrong")


def check_eq(evaluation: Evaluation, u: Sequence[int], what: str) -> None:
    check_public(evaluation, eq_eval(u, evaluation.point), what)
