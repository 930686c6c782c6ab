"""The blinded Bulletproofs inner-product argument (see verifier/nizk/ipa.py, Hyrax appendix A).

Cost: the rounds fold the generators, the only step linear in n with group operations.
Folding G' = u^-1 G_L + u G_R takes two scalar multiplications per pair; keeping G as
sigma * G~ with a running scalar sigma needs only one: G~' = G~_L + u^2 G~_R and
sigma' = sigma u^-1, and sigma is applied to the (few) scalars that meet G~ instead.
"""

from __future__ import annotations

from typing import Sequence

from verifier.field import MODULUS as R, inner_product, inv
from verifier.nizk.ipa import InnerProductProof, begin, round_challenge, rounds_for
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
) -> InnerProductProof:
    """Prove C_y = <x, a> g + ry h for C_x = <x, G> + rx h, in 2 log2(n) + 1 points.

    ``cx`` and ``cy`` may be passed when the caller holds them already (they are not checked:
    a wrong one only makes the proof fail).
    """
    n = len(x)
    k = rounds_for(n)
    if len(a) != n:
        raise ValueError(f"inner product: vector of length {n} but public vector of length {len(a)}")
    if cx is None:
        cx = gens.commit_vector(list(x), rx)
    if cy is None:
        cy = gens.commit_value(inner_product(x, a), ry)
    chi = begin(transcript, group.to_bytes(cx), group.to_bytes(cy), a)
    q = group.mul(gens.g, chi)

    x, a = [v % R for v in x], [v % R for v in a]
    g_tilde, sigma = gens.vector(n), 1  # the current generators are sigma * g_tilde
    blind = (rx + chi * ry) % R
    lefts, rights = [], []
    for _ in range(k):
        m = len(x) // 2
        x_l, x_r, a_l, a_r = x[:m], x[m:], a[:m], a[m:]
        r_l, r_r = blinding(rng, 2)
        left = group.msm(
            g_tilde[m:] + [q, gens.h], [sigma * v for v in x_l] + [inner_product(x_l, a_r), r_l]
        )
        right = group.msm(
            g_tilde[:m] + [q, gens.h], [sigma * v for v in x_r] + [inner_product(x_r, a_l), r_r]
        )
        lefts.append(group.to_bytes(left))
        rights.append(group.to_bytes(right))
        u = round_challenge(transcript, lefts[-1], rights[-1])
        u_inv = inv(u)
        u_sq = u * u % R
        x = [(u * lo + u_inv * hi) % R for lo, hi in zip(x_l, x_r)]
        a = [(u_inv * lo + u * hi) % R for lo, hi in zip(a_l, a_r)]
        scale = group.scalar(u_sq)
        g_tilde = [lo + hi * scale for lo, hi in zip(g_tilde[:m], g_tilde[m:])]
        sigma = sigma * u_inv % R
        blind = (blind + u_sq * r_l + inv(u_sq) * r_r) % R

    # Okamoto proof of knowledge of (x_hat, r_hat) with Gamma_hat = x_hat B + r_hat h.
    base = group.msm([g_tilde[0], q], [sigma, a[0]])
    d, s = blinding(rng, 2)
    commitment = group.to_bytes(group.msm([base, gens.h], [d, s]))
    transcript.absorb_point(b"A", commitment)
    c = transcript.challenge_scalar(b"c")
    return InnerProductProof(
        tuple(lefts), tuple(rights), commitment, (d + c * x[0]) % R, (s + c * blind) % R
    )
