"""Proof of product of committed values (see verifier/nizk/product.py)."""

from __future__ import annotations

from verifier.field import MODULUS as R
from verifier.nizk.product import DOMAIN, ProductProof
from verifier.transcript import Transcript

from ..commit import group
from ..commit.generators import ProverGenerators
from .randomness import RandomSource, blinding


def prove(
    gens: ProverGenerators,
    x: int,
    rx: int,
    y: int,
    ry: int,
    rz: int,
    transcript: Transcript,
    rng: RandomSource | None = None,
) -> ProductProof:
    """Prove that C_z = (x y) g + rz h is the product of C_x = x g + rx h and C_y = y g + ry h."""
    cx, cy = gens.commit_value(x, rx), gens.commit_value(y, ry)
    cz = gens.commit_value(x * y, rz)
    b1, b2, b3, b4, b5 = blinding(rng, 5)
    alpha = group.to_bytes(gens.commit_value(b1, b2))
    beta = group.to_bytes(gens.commit_value(b3, b4))
    delta = group.to_bytes(group.msm([cy, gens.h], [b1, b5]))
    transcript.domain_separate(DOMAIN)
    transcript.absorb_points(b"C", [group.to_bytes(p) for p in (cx, cy, cz)])
    transcript.absorb_points(b"messages", [alpha, beta, delta])
    c = transcript.challenge_scalar(b"c")
    z = (
        (b1 + c * x) % R,
        (b2 + c * rx) % R,
        (b3 + c * y) % R,
        (b4 + c * ry) % R,
        (b5 + c * (rz - x * ry)) % R,
    )
    return ProductProof(alpha, beta, delta, z)
