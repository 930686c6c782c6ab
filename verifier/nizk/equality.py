"""Proof of equality: C_1 = v g + r_1 h and C_2 = v g + r_2 h commit to the same v.

Then C_1 - C_2 = (r_1 - r_2) h, and a Schnorr proof of knowledge of log_h(C_1 - C_2)
shows it (Hyrax, Wahby et al. S&P 2018, "proof of equality"): alpha = t h,
challenge c, z = t + c (r_1 - r_2); the verifier checks z h = alpha + c (C_1 - C_2).
Since nobody knows log_h(g), a g-component in C_1 - C_2 would make this impossible.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..curve import Point
from ..encoding import Reader, encode_points, encode_scalars
from ..hash_to_curve import PedersenGenerators
from ..transcript import Transcript
from .batch import Equations, equations_for

DOMAIN = b"nizk/equality"


@dataclass(frozen=True)
class EqualityProof:
    alpha: bytes
    z: int

    SIZE = 48 + 32

    def to_bytes(self) -> bytes:
        return encode_points([self.alpha]) + encode_scalars([self.z])

    @classmethod
    def from_bytes(cls, data: bytes) -> "EqualityProof":
        reader = Reader(data, "equality proof")
        proof = cls(reader.point(), reader.scalar())
        reader.finish()
        return proof


def verify(
    gens: PedersenGenerators,
    c1: Point,
    c2: Point,
    proof: EqualityProof,
    transcript: Transcript,
    equations: Equations | None = None,
) -> None:
    """Check the proof; its group equation goes to ``equations`` (checked at once if None)."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_points(b"C", [c1.to_bytes(), c2.to_bytes()])
    transcript.absorb_point(b"alpha", proof.alpha)
    c = transcript.challenge_scalar(b"c")
    alpha = gens.curve.decode(proof.alpha)
    # z h - alpha - c C1 + c C2 = 0
    equations_for(gens.curve, equations).add(
        [gens.h, alpha, c1, c2], [proof.z, -1, -c, c], "proof of equality: z h != alpha + c (C1 - C2)"
    )
