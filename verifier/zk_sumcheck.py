"""Zero-knowledge batched sumcheck: committed round polynomials (DESIGN sections 3 and 9).

The statement is the one of ``verifier/sumcheck.py`` (batched instances of degree <= 3,
shorter instances on the low-variable prefix and scaled by 2^(n - n_i)), except that every
claim is a Pedersen commitment C_i = claim_i g + r_i h: claims flow in and out as
(point, commitment) pairs. Following Hyrax (Wahby et al. S&P 2018) as Spartan
implements it, round j works on a commitment C to the running claim:

1. the prover commits to the coefficients of s_j: C_poly = <(c_0..c_d), G> + r_poly h;
   challenge r_j;
2. the prover commits to s_j(r_j): C_eval = s_j(r_j) g + r_eval h; challenge w;
3. one proof of dot product (``nizk.dot_product``, d + 1 entries) shows, for the public
   a = (2, 1, ..., 1) + w (1, r_j, ..., r_j^d), that C + w C_eval commits to <a, c>, i.e.
   s_j(0) + s_j(1) = claim and s_j(r_j) = the value in C_eval (w separates the two, being
   drawn after both commitments are fixed);
4. C := C_eval.

After the rounds, C commits to F(r) = sum_i rho_i P_i(r_prefix). The final step
(:func:`verify_final`) checks it against the tables' values without revealing them: tables
the verifier can evaluate itself (eq tables, step weights) are *public* and enter as scalars;
every other table's value is committed, every product of two committed values gets a proof
of product (a degree-3 term takes two), and a proof of equality ties C to the resulting linear
combination. The committed table values are returned as claims for the ledger.

Transcript order: domain, shape, claim commitments, batching coefficients; per round C_poly,
r_j, C_eval, w, the dot-product proof; then the table-value commitments, the product proofs
and the equality proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .curve import Point
from .encoding import Reader, encode_points
from .errors import VerifyError
from .field import MODULUS as R
from .hash_to_curve import PedersenGenerators
from .nizk import dot_product, equality, product
from .nizk.batch import Equations, equations_for
from .nizk.dot_product import DotProductProof
from .nizk.equality import EqualityProof
from .nizk.product import ProductProof
from .sumcheck import InstanceShape
from .transcript import Transcript

DOMAIN = b"zk-sumcheck"
DOMAIN_FINAL = b"zk-sumcheck/final"

#: Per instance: table index -> function of the instance's point giving that table's value.
PublicTables = Sequence[Mapping[int, Callable[[tuple[int, ...]], int]]]


@dataclass(frozen=True)
class ZkRound:
    poly: bytes  # commitment to the round polynomial's coefficients c_0..c_d
    eval: bytes  # commitment to s_j(r_j)
    proof: DotProductProof

    @staticmethod
    def size(degree: int) -> int:
        return 2 * 48 + DotProductProof.size(degree + 1)

    def to_bytes(self) -> bytes:
        return encode_points([self.poly, self.eval]) + self.proof.to_bytes()


@dataclass(frozen=True)
class ZkFinal:
    """Commitments to the committed tables' values, the product chain, the closing equality."""

    evaluations: tuple[tuple[bytes, ...], ...]
    products: tuple[tuple[bytes, ProductProof], ...]
    equality: EqualityProof

    def to_bytes(self) -> bytes:
        out = [encode_points([p for inst in self.evaluations for p in inst])]
        out += [encode_points([c]) + proof.to_bytes() for c, proof in self.products]
        return b"".join(out) + self.equality.to_bytes()


@dataclass(frozen=True)
class ZkSumcheckProof:
    rounds: tuple[ZkRound, ...]
    final: ZkFinal

    def to_bytes(self) -> bytes:
        return b"".join(r.to_bytes() for r in self.rounds) + self.final.to_bytes()

    @classmethod
    def from_bytes(
        cls, data: bytes, shapes: Sequence[InstanceShape], public_indices: Sequence[Sequence[int]]
    ) -> "ZkSumcheckProof":
        """Parse a proof whose layout the public shapes and public-table sets fix."""
        num_rounds, degree = _dimensions(shapes)
        committed = committed_tables(shapes, public_indices)
        plan = product_plan(shapes, public_indices)
        reader = Reader(data, "zk sumcheck proof")
        num_products = sum(max(0, len(f) - 1) for _, _, f in plan)
        reader.expect(
            num_rounds * ZkRound.size(degree)
            + 48 * sum(len(c) for c in committed)
            + num_products * (48 + ProductProof.SIZE)
            + EqualityProof.SIZE
        )
        rounds = []
        for _ in range(num_rounds):
            poly, ev = reader.points(2)
            rounds.append(ZkRound(poly, ev, _read_dot_product(reader, degree + 1)))
        evaluations = tuple(tuple(reader.points(len(c))) for c in committed)
        products = tuple((reader.point(), _read_product(reader)) for _ in range(num_products))
        eq_proof = EqualityProof(reader.point(), reader.scalar())
        reader.finish()
        return cls(tuple(rounds), ZkFinal(evaluations, products, eq_proof))


def _dimensions(shapes: Sequence[InstanceShape]) -> tuple[int, int]:
    """(number of rounds, degree of the round polynomials) of a batch."""
    if not shapes:
        raise ValueError("a sumcheck needs at least one instance")
    return max(s.num_vars for s in shapes), max(s.degree for s in shapes)


def _read_dot_product(reader: Reader, n: int) -> DotProductProof:
    delta, beta = reader.points(2)
    z = tuple(reader.scalars(n))
    return DotProductProof(delta, beta, z, reader.scalar(), reader.scalar())


def _read_product(reader: Reader) -> ProductProof:
    alpha, beta, delta = reader.points(3)
    return ProductProof(alpha, beta, delta, tuple(reader.scalars(5)))


@dataclass(frozen=True)
class ZkReducedClaim:
    """After the rounds: ``commitment`` must commit to F(point); F's batching coefficients."""

    point: tuple[int, ...]
    commitment: Point
    coefficients: tuple[int, ...]


@dataclass(frozen=True)
class ZkEvaluation:
    """A claim that a table's multilinear extension at ``point`` is the value in ``commitment``."""

    point: tuple[int, ...]
    commitment: Point


def begin(transcript: Transcript, shapes: Sequence[InstanceShape], claims: Sequence[bytes]) -> tuple[int, ...]:
    """Absorb the shape and the claim commitments; draw the batching coefficients."""
    if len(claims) != len(shapes):
        raise ValueError(f"{len(shapes)} instances but {len(claims)} claims")
    _, degree = _dimensions(shapes)
    transcript.domain_separate(DOMAIN)
    header = [len(shapes), degree] + [s.num_vars for s in shapes]
    transcript.absorb_bytes(b"shape", b"".join(v.to_bytes(8, "little") for v in header))
    transcript.absorb_points(b"claims", claims)
    if len(shapes) == 1:
        return (1,)
    return tuple(transcript.challenge_scalars(b"batching", len(shapes)))


def batching_weights(shapes: Sequence[InstanceShape], coefficients: Sequence[int]) -> list[int]:
    """rho_i 2^(n - n_i): the weight of claim i in the sum over {0,1}^n."""
    n, _ = _dimensions(shapes)
    return [rho * pow(2, n - s.num_vars, R) % R for rho, s in zip(coefficients, shapes)]


def round_weights(r: int, w: int, degree: int) -> list[int]:
    """a = (2, 1, ..., 1) + w (1, r, ..., r^d): <a, c> = s(0) + s(1) + w s(r)."""
    out, power = [], 1
    for k in range(degree + 1):
        out.append(((2 if k == 0 else 1) + w * power) % R)
        power = power * r % R
    return out


def verify_rounds(
    gens: PedersenGenerators,
    transcript: Transcript,
    shapes: Sequence[InstanceShape],
    claims: Sequence[Point],
    rounds: Sequence[ZkRound],
    equations: Equations | None = None,
) -> ZkReducedClaim:
    """The rounds; their dot-product proofs' group equations go to ``equations`` (each checked
    at once if None), named ``zk sumcheck round j: ``."""
    eqs = equations_for(gens.curve, equations)
    num_rounds, degree = _dimensions(shapes)
    coefficients = begin(transcript, shapes, [c.to_bytes() for c in claims])
    if len(rounds) != num_rounds:
        raise VerifyError(f"zk sumcheck: expected {num_rounds} rounds, got {len(rounds)}")
    current = gens.curve.msm(list(claims), batching_weights(shapes, coefficients))
    point = []
    for j, rnd in enumerate(rounds):
        transcript.absorb_point(b"poly", rnd.poly)
        r = transcript.challenge_scalar(b"challenge", degree)
        transcript.absorb_point(b"eval", rnd.eval)
        w = transcript.challenge_scalar(b"w")
        poly, ev = gens.curve.decode(rnd.poly), gens.curve.decode(rnd.eval)
        with eqs.named(f"zk sumcheck round {j}: "):
            dot_product.verify(gens, poly, current + w * ev, round_weights(r, w, degree), rnd.proof, transcript, eqs)
        current = ev
        point.append(r)
    return ZkReducedClaim(tuple(point), current, coefficients)


def committed_tables(shapes: Sequence[InstanceShape], public_indices: Sequence[Sequence[int]]) -> list[list[int]]:
    """Per instance, the indices of the tables whose values are committed (not public)."""
    if len(public_indices) != len(shapes):
        raise ValueError(f"{len(shapes)} instances but {len(public_indices)} public-table sets")
    return [
        [j for j in range(s.num_tables) if j not in set(pub)] for s, pub in zip(shapes, public_indices)
    ]


def product_plan(
    shapes: Sequence[InstanceShape], public_indices: Sequence[Sequence[int]]
) -> list[tuple[int, int, list[int]]]:
    """(instance, term, committed factors) for every term: a term with k committed factors
    needs k - 1 proofs of product, chained left to right."""
    plan = []
    for i, (shape, pub) in enumerate(zip(shapes, public_indices)):
        for t, term in enumerate(shape.terms):
            plan.append((i, t, [j for j in term.factors if j not in set(pub)]))
    return plan


def verify_final(
    gens: PedersenGenerators,
    transcript: Transcript,
    shapes: Sequence[InstanceShape],
    reduced: ZkReducedClaim,
    public: PublicTables,
    final: ZkFinal,
    equations: Equations | None = None,
) -> list[dict[int, ZkEvaluation]]:
    """Check the reduced claim against committed table values; return them as claims.

    The result maps, per instance, each committed table's index to its evaluation claim; the
    caller must consume every one (open it, or reduce it further). The group equations of the
    proofs of product and of equality go to ``equations`` (each checked at once if None).
    """
    eqs = equations_for(gens.curve, equations)
    public_indices = [sorted(p) for p in public]
    committed = committed_tables(shapes, public_indices)
    if [len(e) for e in final.evaluations] != [len(c) for c in committed]:
        raise VerifyError("zk sumcheck: wrong number of table-value commitments")
    transcript.domain_separate(DOMAIN_FINAL)
    transcript.absorb_points(b"evaluations", [p for inst in final.evaluations for p in inst])
    curve = gens.curve
    values: list[dict[int, Point]] = [
        {j: curve.decode(p) for j, p in zip(idx, inst)} for idx, inst in zip(committed, final.evaluations)
    ]
    points: list[Point] = [gens.g]
    scalars: list[int] = [0]
    products = iter(final.products)
    for i, t, factors in product_plan(shapes, public_indices):
        prefix = reduced.point[: shapes[i].num_vars]
        term = shapes[i].terms[t]
        weight = reduced.coefficients[i] * term.coeff
        for j in term.factors:
            if j in public[i]:
                weight = weight * public[i][j](prefix) % R
        if not factors:
            scalars[0] += weight  # a constant: weight * g
            continue
        acc = values[i][factors[0]]
        for j in factors[1:]:
            try:
                out_bytes, proof = next(products)
            except StopIteration:
                raise VerifyError("zk sumcheck: too few proofs of product") from None
            out = curve.decode(out_bytes)
            product.verify(gens, acc, values[i][j], out, proof, transcript, eqs)
            acc = out
        points.append(acc)
        scalars.append(weight)
    if next(products, None) is not None:
        raise VerifyError("zk sumcheck: too many proofs of product")
    expected = curve.msm(points, scalars)
    equality.verify(gens, reduced.commitment, expected, final.equality, transcript, eqs)
    return [
        {j: ZkEvaluation(reduced.point[: shape.num_vars], c) for j, c in inst.items()}
        for shape, inst in zip(shapes, values)
    ]


def verify_zk_sumcheck(
    gens: PedersenGenerators,
    transcript: Transcript,
    shapes: Sequence[InstanceShape],
    claims: Sequence[Point],
    public: PublicTables,
    proof: ZkSumcheckProof,
    equations: Equations | None = None,
) -> list[dict[int, ZkEvaluation]]:
    """Rounds and final step; returns the committed table values as (point, commitment) claims.
    The group equations go to ``equations`` (each checked at once if None)."""
    reduced = verify_rounds(gens, transcript, shapes, claims, proof.rounds, equations)
    return verify_final(gens, transcript, shapes, reduced, public, proof.final, equations)
