"""Proof of equality of two committed values (see verifier/nizk/equality.py)."""

from __future__ import annotations

from verifier.field import MODULUS as R
from verifier.nizk.equality import DOMAIN, EqualityProof
from verifier.transcript import Transcript

from ..commit import group
from ..commit.generators import ProverGenerators
from .randomness import RandomSource, blinding


def prove(
    gens: ProverGenerators,
    c1: group.G1,
    c2: group.G1,
    blind1: int,
    blind2: int,
    transcript: Transcript,
    rng: RandomSource | None = None,
) -> EqualityProof:
    """Prove that C_1 = v g + blind1 h and C_2 = v g + blind2 h hold one value v."""
    t = blinding(rng)
    alpha = group.to_bytes(group.mul(gens.h, t))
    transcript.domain_separate(DOMAIN)
    transcript.absorb_points(b"C", [group.to_bytes(c1), group.to_bytes(c2)])
    transcript.absorb_point(b"alpha", alpha)
    c = transcript.challenge_scalar(b"c")
    return EqualityProof(alpha, (t + c * (blind1 - blind2)) % R)
