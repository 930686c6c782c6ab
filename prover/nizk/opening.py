"""Proof of knowledge of an opening (see verifier/nizk/opening.py)."""

from __future__ import annotations

from verifier.field import MODULUS as R
from verifier.nizk.opening import DOMAIN, OpeningProof
from verifier.transcript import Transcript

from ..commit import group
from ..commit.generators import ProverGenerators
from .randomness import RandomSource, blinding


def prove(
    gens: ProverGenerators,
    value: int,
    blind: int,
    transcript: Transcript,
    rng: RandomSource | None = None,
) -> OpeningProof:
    """Prove knowledge of (value, blind) opening C = value g + blind h."""
    commitment = gens.commit_value(value, blind)
    t1, t2 = blinding(rng, 2)
    alpha = group.to_bytes(gens.commit_value(t1, t2))
    transcript.domain_separate(DOMAIN)
    transcript.absorb_point(b"C", group.to_bytes(commitment))
    transcript.absorb_point(b"alpha", alpha)
    c = transcript.challenge_scalar(b"c")
    return OpeningProof(alpha, (t1 + c * value) % R, (t2 + c * blind) % R)
