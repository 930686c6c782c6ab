"""Proof of product: C_x, C_y, C_z commit to x, y and z = x y.

Hyrax (Wahby et al. S&P 2018), "proof of product" (also Spartan's ``ProductProof``).
The prover shows it knows openings of C_x and C_y, and that C_z opens, with respect to the
bases (C_y, h), to the same x: C_z = x C_y + (r_z - x r_y) h. Messages:

    alpha = b_1 g + b_2 h,   beta = b_3 g + b_4 h,   delta = b_1 C_y + b_5 h,
    challenge c,
    z_1 = b_1 + c x,  z_2 = b_2 + c r_x,  z_3 = b_3 + c y,  z_4 = b_4 + c r_y,
    z_5 = b_5 + c (r_z - x r_y).

Checks: alpha + c C_x = z_1 g + z_2 h;  beta + c C_y = z_3 g + z_4 h;
        delta + c C_z = z_1 C_y + z_5 h.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..curve import Point
from ..encoding import Reader, encode_points, encode_scalars
from ..errors import VerifyError
from ..hash_to_curve import PedersenGenerators
from ..transcript import Transcript
from .batch import Equations, equations_for

DOMAIN = b"nizk/product"


@dataclass(frozen=True)
class ProductProof:
    alpha: bytes
    beta: bytes
    delta: bytes
    z: tuple[int, int, int, int, int]

    SIZE = 3 * 48 + 5 * 32

    def to_bytes(self) -> bytes:
        return encode_points([self.alpha, self.beta, self.delta]) + encode_scalars(self.z)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ProductProof":
        reader = Reader(data, "product proof")
        alpha, beta, delta = reader.points(3)
        proof = cls(alpha, beta, delta, tuple(reader.scalars(5)))
        reader.finish()
        return proof


def verify(
    gens: PedersenGenerators,
    cx: Point,
    cy: Point,
    cz: Point,
    proof: ProductProof,
    transcript: Transcript,
    equations: Equations | None = None,
) -> None:
    """Check the proof; its three group equations go to ``equations`` (checked at once if None)."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_points(b"C", [cx.to_bytes(), cy.to_bytes(), cz.to_bytes()])
    transcript.absorb_points(b"messages", [proof.alpha, proof.beta, proof.delta])
    c = transcript.challenge_scalar(b"c")
    if len(proof.z) != 5:
        raise VerifyError("proof of product: expected 5 responses")
    curve = gens.curve
    alpha, beta, delta = (curve.decode(p) for p in (proof.alpha, proof.beta, proof.delta))
    z1, z2, z3, z4, z5 = proof.z
    eqs = equations_for(curve, equations)
    # alpha + c C_x - z1 g - z2 h = 0;  beta + c C_y - z3 g - z4 h = 0;  delta + c C_z - z1 C_y - z5 h = 0
    eqs.add([alpha, cx, gens.g, gens.h], [1, c, -z1, -z2], "proof of product: knowledge of x fails")
    eqs.add([beta, cy, gens.g, gens.h], [1, c, -z3, -z4], "proof of product: knowledge of y fails")
    eqs.add([delta, cz, cy, gens.h], [1, c, -z1, -z5], "proof of product: C_z is not x C_y + s h")
