"""Batched sumcheck verification for polynomials of degree <= 3 in multilinear tables.

One *instance* claims ``sum_{x in {0,1}^n} P(x) = claim`` where P is a fixed public combination
of products of multilinear tables, ``P = sum_k c_k prod_{j in term k} f_j`` (a product
``eq * a * b``, a booleanity check ``eq * a * a - eq * a``, ...). Several instances are proven
together (Lund-Fortnow-Karloff-Nisan sumcheck, batched by a random linear combination):

    F(x_0..x_{n-1}) = sum_i rho_i P_i(x_0..x_{n_i - 1}),   n = max_i n_i,
    sum_x F(x)      = sum_i rho_i 2^(n - n_i) claim_i,

so an instance with fewer variables uses the low-variable prefix of the point and its claim
is scaled by 2^(n - n_i) (DESIGN section 9). Variable 0 is bound first.

In the spirit of arkworks' ``IPForMLSumcheck``, ``verify_rounds`` does not return a boolean: it
returns the reduced claim (the random point and the value F must take there), which the caller
reduces further. ``verify_sumcheck`` adds the final step for proofs that carry the tables'
evaluations: it checks ``F(r)`` against them and hands every table evaluation back as a claim
(:class:`Evaluation`) that the caller must consume (claims ledger, DESIGN section 9).

Transcript order: domain separator, the public shape (variable counts, degree), the claims,
the batching coefficients; per round the coefficients c_0..c_d of the round polynomial, then
its challenge; finally the tables' evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from . import field
from .errors import VerifyError
from .field import MODULUS as R
from .polynomial import univariate_evaluate
from .transcript import Transcript

if TYPE_CHECKING:
    from .encoding import Reader

MAX_DEGREE = 3
MAX_VARS = 40  # 2^40 entries is far beyond any tensor we prove; bounds parsing and loops.


@dataclass(frozen=True)
class Term:
    """``coeff * prod_{j in factors} f_j`` (factors index the instance's tables, repeats allowed)."""

    coeff: int
    factors: tuple[int, ...]


@dataclass(frozen=True)
class InstanceShape:
    """The public form of one instance: its variable count, tables and terms."""

    num_vars: int
    num_tables: int
    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.num_vars <= MAX_VARS:
            raise ValueError(f"num_vars must lie in [0, {MAX_VARS}], got {self.num_vars}")
        if not self.terms:
            raise ValueError("an instance needs at least one term")
        for term in self.terms:
            if not 1 <= len(term.factors) <= MAX_DEGREE:
                raise ValueError(f"a term has 1..{MAX_DEGREE} factors, got {len(term.factors)}")
            if any(not 0 <= j < self.num_tables for j in term.factors):
                raise ValueError(f"term factor index out of range: {term.factors}")

    @property
    def degree(self) -> int:
        return max(len(t.factors) for t in self.terms)

    def evaluate(self, table_values: Sequence[int]) -> int:
        """P at a point, given every table's value there."""
        acc = 0
        for term in self.terms:
            prod = term.coeff
            for j in term.factors:
                prod = prod * table_values[j] % R
            acc += prod
        return acc % R


def product_shape(num_vars: int, num_factors: int) -> InstanceShape:
    """The shape of ``sum_x prod_j f_j(x)`` over ``num_factors`` distinct tables."""
    return InstanceShape(num_vars, num_factors, (Term(1, tuple(range(num_factors))),))


@dataclass(frozen=True)
class SumcheckProof:
    """Round polynomials (coefficients c_0..c_d each) and, per instance, its tables' final values."""

    rounds: tuple[tuple[int, ...], ...]
    final_evals: tuple[tuple[int, ...], ...]

    def to_bytes(self) -> bytes:
        scalars = [c for rnd in self.rounds for c in rnd]
        scalars += [v for inst in self.final_evals for v in inst]
        return b"".join(field.to_bytes(x) for x in scalars)

    @classmethod
    def read(cls, reader: "Reader", shapes: Sequence[InstanceShape]) -> "SumcheckProof":
        """Read a proof from a stream; the layout comes from the public shapes."""
        num_rounds, degree = _dimensions(shapes)
        reader.expect(field.BYTES * (num_rounds * (degree + 1) + sum(s.num_tables for s in shapes)))
        rounds = tuple(tuple(reader.scalars(degree + 1)) for _ in range(num_rounds))
        final = tuple(tuple(reader.scalars(s.num_tables)) for s in shapes)
        return cls(rounds, final)

    @classmethod
    def from_bytes(cls, data: bytes, shapes: Sequence[InstanceShape]) -> "SumcheckProof":
        """Parse a proof whose layout is fixed by the public shapes (never by the prover)."""
        num_rounds, degree = _dimensions(shapes)
        sizes = [degree + 1] * num_rounds + [s.num_tables for s in shapes]
        if len(data) != field.BYTES * sum(sizes):
            raise VerifyError(
                f"sumcheck proof: expected {field.BYTES * sum(sizes)} bytes, got {len(data)}"
            )
        values = [
            _decode_scalar(data[i : i + field.BYTES]) for i in range(0, len(data), field.BYTES)
        ]
        groups, pos = [], 0
        for size in sizes:
            groups.append(tuple(values[pos : pos + size]))
            pos += size
        return cls(tuple(groups[:num_rounds]), tuple(groups[num_rounds:]))


@dataclass(frozen=True)
class ReducedClaim:
    """What remains after the rounds: F(point) must equal value; F's batching coefficients."""

    point: tuple[int, ...]
    value: int
    coefficients: tuple[int, ...]


@dataclass(frozen=True)
class Evaluation:
    """A claim that a table's multilinear extension takes ``value`` at ``point``."""

    point: tuple[int, ...]
    value: int


def _decode_scalar(chunk: bytes) -> int:
    try:
        return field.from_bytes(chunk)
    except field.FieldError as exc:
        raise VerifyError(f"sumcheck proof: {exc}") from None


def _dimensions(shapes: Sequence[InstanceShape]) -> tuple[int, int]:
    if not shapes:
        raise ValueError("a sumcheck needs at least one instance")
    return max(s.num_vars for s in shapes), max(s.degree for s in shapes)


def batched_claim(claims: Sequence[int], num_vars: Sequence[int], coefficients: Sequence[int]) -> int:
    """sum_i rho_i 2^(n - n_i) claim_i: the sum over {0,1}^n of the batched polynomial F."""
    n = max(num_vars)
    return sum(rho * c * pow(2, n - ni, R) for rho, c, ni in zip(coefficients, claims, num_vars)) % R


def begin(
    transcript: Transcript, shapes: Sequence[InstanceShape], claims: Sequence[int]
) -> tuple[int, ...]:
    """Absorb the public shape and the claims, and draw the batching coefficients.

    Shared by prover and verifier (and by the zero-knowledge variant), so the order is one.
    """
    if len(claims) != len(shapes):
        raise ValueError(f"{len(shapes)} instances but {len(claims)} claims")
    _, degree = _dimensions(shapes)
    transcript.domain_separate(b"sumcheck")
    header = [len(shapes), degree] + [s.num_vars for s in shapes]
    transcript.absorb_bytes(b"shape", b"".join(v.to_bytes(8, "little") for v in header))
    transcript.absorb_scalars(b"claims", claims)
    if len(shapes) == 1:
        return (1,)
    return tuple(transcript.challenge_scalars(b"batching", len(shapes)))


def verify_rounds(
    transcript: Transcript,
    shapes: Sequence[InstanceShape],
    claims: Sequence[int],
    rounds: Sequence[Sequence[int]],
) -> ReducedClaim:
    """Check every round polynomial against the running claim; return the reduced claim."""
    num_rounds, degree = _dimensions(shapes)
    claims = [c % R for c in claims]
    coefficients = begin(transcript, shapes, claims)
    if len(rounds) != num_rounds:
        raise VerifyError(f"sumcheck: expected {num_rounds} rounds, got {len(rounds)}")
    current = batched_claim(claims, [s.num_vars for s in shapes], coefficients)
    point = []
    for j, coeffs in enumerate(rounds):
        if len(coeffs) != degree + 1:
            raise VerifyError(f"sumcheck round {j}: expected degree {degree}, got {len(coeffs) - 1}")
        if any(not 0 <= c < R for c in coeffs):
            raise VerifyError(f"sumcheck round {j}: coefficient is not a field element")
        # p(0) + p(1) = 2 c_0 + c_1 + ... + c_d must equal the running claim.
        if (coeffs[0] + sum(coeffs)) % R != current:
            raise VerifyError(f"sumcheck round {j}: p(0) + p(1) does not match the claim")
        transcript.absorb_scalars(b"round", coeffs)
        r = transcript.challenge_scalar(b"challenge", degree)
        current = univariate_evaluate(coeffs, r)
        point.append(r)
    return ReducedClaim(tuple(point), current, coefficients)


def verify_sumcheck(
    transcript: Transcript,
    shapes: Sequence[InstanceShape],
    claims: Sequence[int],
    proof: SumcheckProof,
) -> list[list[Evaluation]]:
    """Verify a batched sumcheck with final table evaluations.

    Returns, per instance and per table, the evaluation claim the proof makes; every one of
    them must be consumed by the caller (checked against a public table such as eq, or
    reduced further / opened against a commitment).
    """
    reduced = verify_rounds(transcript, shapes, claims, proof.rounds)
    if len(proof.final_evals) != len(shapes):
        raise VerifyError("sumcheck: final evaluations for the wrong number of instances")
    for shape, evals in zip(shapes, proof.final_evals):
        if len(evals) != shape.num_tables:
            raise VerifyError("sumcheck: wrong number of final table evaluations")
        if any(not 0 <= v < R for v in evals):
            raise VerifyError("sumcheck: final evaluation is not a field element")
    transcript.absorb_scalars(b"final-evals", [v for ev in proof.final_evals for v in ev])
    expected = 0
    for rho, shape, evals in zip(reduced.coefficients, shapes, proof.final_evals):
        expected += rho * shape.evaluate(evals)
    if expected % R != reduced.value:
        raise VerifyError("sumcheck: final evaluations do not match the last round polynomial")
    return [
        [Evaluation(reduced.point[: shape.num_vars], v) for v in evals]
        for shape, evals in zip(shapes, proof.final_evals)
    ]
