"""Proof of knowledge of an opening: the prover knows (v, r) with C = v g + r h.

Okamoto's protocol (Hyrax, Wahby et al. S&P 2018, "proof of opening"; Spartan's ``KnowledgeProof``):
prover sends alpha = t_1 g + t_2 h; challenge c; responses z_1 = t_1 + c v,
z_2 = t_2 + c r; the verifier checks z_1 g + z_2 h = alpha + c C.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..curve import Point
from ..encoding import Reader, encode_points, encode_scalars
from ..hash_to_curve import PedersenGenerators
from ..transcript import Transcript
from .batch import Equations, equations_for

DOMAIN = b"nizk/opening"


@dataclass(frozen=True)
class OpeningProof:
    alpha: bytes
    z1: int
    z2: int

    SIZE = 48 + 2 * 32

    def to_bytes(self) -> bytes:
        return encode_points([self.alpha]) + encode_scalars([self.z1, self.z2])

    @classmethod
    def from_bytes(cls, data: bytes) -> "OpeningProof":
        reader = Reader(data, "opening proof")
        proof = cls(reader.point(), reader.scalar(), reader.scalar())
        reader.finish()
        return proof


def verify(
    gens: PedersenGenerators,
    commitment: Point,
    proof: OpeningProof,
    transcript: Transcript,
    equations: Equations | None = None,
) -> None:
    """Check the proof; its group equation goes to ``equations`` (checked at once if None)."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_point(b"C", commitment.to_bytes())
    transcript.absorb_point(b"alpha", proof.alpha)
    c = transcript.challenge_scalar(b"c")
    alpha = gens.curve.decode(proof.alpha)
    # z1 g + z2 h - alpha - c C = 0
    equations_for(gens.curve, equations).add(
        [gens.g, gens.h, alpha, commitment], [proof.z1, proof.z2, -1, -c], "proof of opening: z1 g + z2 h != alpha + c C"
    )
