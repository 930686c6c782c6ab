"""Proof of dot product, square-root size (see verifier/nizk/dot_product.py)."""

from __future__ import annotations

from typing import Sequence

from verifier.field import MODULUS as R, inner_product
from verifier.nizk.dot_product import DotProductProof, absorb_statement
from verifier.transcript import Transcript

from ..commit import group
from ..commit.generators import ProverGenerators
from .randomness import RandomSource, blinding


def prove(
    gens: ProverGenerators,
    x: Sequence[int],
    rx: int,
    a: Sequence[int],
    ry: int,
    transcript: Transcript,
    rng: RandomSource | None = None,
    cx: group.G1 | None = None,
    cy: group.G1 | None = None,
) -> DotProductProof:
    """Prove C_y = <x, a> g + ry h for C_x = <x, G> + rx h (cx, cy may be passed if known)."""
    n = len(x)
    if len(a) != n:
        raise ValueError(f"dot product: vector of length {n} but public vector of length {len(a)}")
    if cx is None:
        cx = gens.commit_vector(list(x), rx)
    if cy is None:
        cy = gens.commit_value(inner_product(x, a), ry)
    d = blinding(rng, n)
    r_delta, r_beta = blinding(rng, 2)
    delta = group.to_bytes(gens.commit_vector(d, r_delta))
    beta = group.to_bytes(gens.commit_value(inner_product(a, d), r_beta))
    absorb_statement(transcript, group.to_bytes(cx), group.to_bytes(cy), a)
    transcript.absorb_points(b"messages", [delta, beta])
    c = transcript.challenge_scalar(b"c")
    z = tuple((c * xi + di) % R for xi, di in zip(x, d))
    return DotProductProof(delta, beta, z, (c * rx + r_delta) % R, (c * ry + r_beta) % R)
