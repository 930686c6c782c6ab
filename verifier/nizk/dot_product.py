"""Proof of dot product, square-root size (Hyrax, Wahby et al. S&P 2018, "proof of dot-product";
Spartan's ``DotProductProof``).

Statement: C_x = <x, G> + r_x h commits to a vector x of length n, C_y = y g + r_y h to a
value y, and y = <x, a> for the public vector a. Messages:

    delta = <d, G> + r_delta h,   beta = <a, d> g + r_beta h     (d random in F^n),
    challenge c,
    z = c x + d,   z_delta = c r_x + r_delta,   z_beta = c r_y + r_beta.

Checks: c C_x + delta = <z, G> + z_delta h  and  c C_y + beta = <z, a> g + z_beta h.
The proof holds n + 2 scalars and 2 points; z is x masked by the uniform d, so it reveals
nothing about x. Used for Hyrax openings of short rows and for the committed sumcheck's
round polynomials (n = degree + 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..curve import Point
from ..encoding import Reader, encode_points, encode_scalars
from ..errors import VerifyError
from ..field import inner_product
from ..hash_to_curve import PedersenGenerators
from ..transcript import Transcript
from .batch import Equations, equations_for

DOMAIN = b"nizk/dot-product"


@dataclass(frozen=True)
class DotProductProof:
    delta: bytes
    beta: bytes
    z: tuple[int, ...]
    z_delta: int
    z_beta: int

    @staticmethod
    def size(n: int) -> int:
        return 2 * 48 + (n + 2) * 32

    def to_bytes(self) -> bytes:
        return encode_points([self.delta, self.beta]) + encode_scalars([*self.z, self.z_delta, self.z_beta])

    @classmethod
    def from_bytes(cls, data: bytes, n: int) -> "DotProductProof":
        reader = Reader(data, "dot-product proof")
        reader.expect(cls.size(n))
        delta, beta = reader.points(2)
        z = tuple(reader.scalars(n))
        proof = cls(delta, beta, z, reader.scalar(), reader.scalar())
        reader.finish()
        return proof


def absorb_statement(transcript: Transcript, cx: bytes, cy: bytes, a: Sequence[int]) -> None:
    transcript.domain_separate(DOMAIN)
    transcript.absorb_points(b"C", [cx, cy])
    transcript.absorb_scalars(b"a", a)


def verify(
    gens: PedersenGenerators,
    cx: Point,
    cy: Point,
    a: Sequence[int],
    proof: DotProductProof,
    transcript: Transcript,
    equations: Equations | None = None,
) -> None:
    """Check the proof; its two group equations go to ``equations`` (checked at once if None)."""
    n = len(a)
    absorb_statement(transcript, cx.to_bytes(), cy.to_bytes(), a)
    transcript.absorb_points(b"messages", [proof.delta, proof.beta])
    c = transcript.challenge_scalar(b"c")
    if len(proof.z) != n:
        raise VerifyError(f"proof of dot product: expected {n} responses, got {len(proof.z)}")
    curve = gens.curve
    delta, beta = curve.decode(proof.delta), curve.decode(proof.beta)
    eqs = equations_for(curve, equations)
    # c C_x + delta - <z, G> - z_delta h = 0;  c C_y + beta - <z, a> g - z_beta h = 0
    eqs.add(
        [cx, delta, *gens.vector(n), gens.h],
        [c, 1, *(-z for z in proof.z), -proof.z_delta],
        "proof of dot product: c C_x + delta != <z, G> + z_delta h",
    )
    eqs.add(
        [cy, beta, gens.g, gens.h],
        [c, 1, -inner_product(proof.z, a), -proof.z_beta],
        "proof of dot product: c C_y + beta != <z, a> g + z_beta h",
    )
