"""Several committed claims on one tensor reduced to one (DESIGN section 9, claims ledger), ZK mode.

Claims (u_j, C_j) with C_j = T~(u_j) g + r_j h, j < m, on one committed tensor T become one
claim at a random point by a zero-knowledge sumcheck of

    sum_x E(x) T(x) = sum_j rho^j T~(u_j),    E(x) = sum_j rho^j eq(u_j, x),

(a random rho drawn after every claim is absorbed), whose claim commitment the verifier forms
as sum_j rho^j C_j. At the sumcheck's point r the verifier evaluates E(r) itself (a public
table) and receives a commitment to T~(r): one Hyrax opening then settles all m claims. The
clear-mode counterpart is ``verifier.gadgets.multipoint_reduction`` on the plain sumcheck.
"""

from __future__ import annotations

from typing import Sequence

from .curve import Point
from .errors import VerifyError
from .field import MODULUS as R
from .hash_to_curve import PedersenGenerators
from .polynomial import eq_eval
from .sumcheck import InstanceShape, product_shape
from .transcript import Transcript
from .zk_sumcheck import ZkEvaluation, ZkSumcheckProof, verify_zk_sumcheck

DOMAIN = b"zk-multipoint"
PUBLIC_INDICES = ((0,),)  # table 0 (E) is public, table 1 (T) is committed


def begin(transcript: Transcript, points: Sequence[Sequence[int]], claims: Sequence[bytes]) -> list[int]:
    """Absorb the claims; return rho^0..rho^(m-1)."""
    if not points or len(points) != len(claims):
        raise ValueError(f"{len(points)} points for {len(claims)} claims")
    transcript.domain_separate(DOMAIN)
    for u in points:
        transcript.absorb_scalars(b"point", [x % R for x in u])
    transcript.absorb_points(b"claims", claims)
    rho = transcript.challenge_scalar(b"rho")
    return [pow(rho, j, R) for j in range(len(points))]


def shapes_for(num_vars: int) -> list[InstanceShape]:
    return [product_shape(num_vars, 2)]


def combined_eq(points: Sequence[Sequence[int]], powers: Sequence[int], x: Sequence[int]) -> int:
    """E(x) = sum_j rho^j eq(u_j, x)."""
    return sum(p * eq_eval(u, x) for p, u in zip(powers, points)) % R


def verify_zk_multipoint(
    gens: PedersenGenerators,
    transcript: Transcript,
    points: Sequence[Sequence[int]],
    claims: Sequence[Point],
    proof: ZkSumcheckProof,
) -> ZkEvaluation:
    """Reduce claims (points[j], claims[j]) on one tensor to one (point, commitment) claim."""
    num_vars = len(points[0]) if points else 0
    if any(len(u) != num_vars for u in points):
        raise VerifyError("multipoint: claims of different dimensions")
    powers = begin(transcript, points, [c.to_bytes() for c in claims])
    combined = gens.curve.msm(list(claims), powers)
    public = [{0: lambda x: combined_eq(points, powers, x)}]
    (evaluations,) = verify_zk_sumcheck(gens, transcript, shapes_for(num_vars), [combined], public, proof)
    return evaluations[1]
