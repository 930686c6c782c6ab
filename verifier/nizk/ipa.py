"""Proof of dot product in log size: the blinded Bulletproofs inner-product argument.

Same statement as ``dot_product``: C_x = <x, G> + r_x h, C_y = y g + r_y h, y = <x, a> for a
public a of length n = 2^k. Following Hyrax appendix A (Wahby et al. S&P 2018) and
Bulletproofs (Bunz et al. S&P 2018, section 3, protocols 1-2):

1. After the statement is absorbed, a challenge chi gives Q = chi g and
   Gamma = C_x + chi C_y = <x, G> + <x, a> Q + (r_x + chi r_y) h. The fresh chi keeps a
   g-component hidden in C_x from shifting the claimed y (Bulletproofs protocol 1's x).
2. k halving rounds. With x = (x_L, x_R), a = (a_L, a_R), G = (G_L, G_R) (first and second
   halves), the prover sends
       L = <x_L, G_R> + <x_L, a_R> Q + r_L h,   R = <x_R, G_L> + <x_R, a_L> Q + r_R h
   (r_L, r_R uniform: this is the blinding that makes the argument zero-knowledge), gets u,
   and both fold  x' = u x_L + u^-1 x_R,  a' = u^-1 a_L + u a_R,  G' = u^-1 G_L + u G_R,
   Gamma' = u^2 L + Gamma + u^-2 R, which keeps Gamma' = <x', G'> + <x', a'> Q + r' h.
3. At length one: Gamma_hat = x_hat (G_hat + a_hat Q) + r_hat h. Instead of revealing
   x_hat, the prover proves knowledge of (x_hat, r_hat) for the base B = G_hat + a_hat Q
   and h by Okamoto's protocol: A = d B + s h, challenge c, z = d + c x_hat,
   z_r = s + c r_hat; check z B + z_r h = A + c Gamma_hat. (Hyrax and Spartan close with a
   two-point variant; this one is one point shorter and extracts the same relation.)

The verifier never folds G: G_hat = <s, G> with s_i = prod_j u_j^(+-1) (+1 when i lies in
the right half at round j), a_hat = <s, a>, and the last check is one MSM of n + 2k + 5
points. Proof: 2k + 1 points and 2 scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..curve import Point
from ..encoding import Reader, encode_points, encode_scalars
from ..errors import VerifyError
from ..field import MODULUS as R, batch_inv, inner_product
from ..hash_to_curve import PedersenGenerators
from ..transcript import Transcript
from .batch import Equations, equations_for

DOMAIN = b"nizk/ipa"
MAX_ROUNDS = 32


@dataclass(frozen=True)
class InnerProductProof:
    L: tuple[bytes, ...]
    R: tuple[bytes, ...]
    A: bytes
    z: int
    z_r: int

    @staticmethod
    def size(n: int) -> int:
        return (2 * rounds_for(n) + 1) * 48 + 2 * 32

    def to_bytes(self) -> bytes:
        return encode_points([*self.L, *self.R, self.A]) + encode_scalars([self.z, self.z_r])

    @classmethod
    def from_bytes(cls, data: bytes, n: int) -> "InnerProductProof":
        k = rounds_for(n)
        reader = Reader(data, "inner-product proof")
        reader.expect(cls.size(n))
        left, right = tuple(reader.points(k)), tuple(reader.points(k))
        proof = cls(left, right, reader.point(), reader.scalar(), reader.scalar())
        reader.finish()
        return proof


def rounds_for(n: int) -> int:
    """k = log2(n); n must be a power of two with k <= MAX_ROUNDS."""
    if n < 1 or n & (n - 1) or n.bit_length() - 1 > MAX_ROUNDS:
        raise ValueError(f"inner-product argument needs a power-of-two length <= 2^{MAX_ROUNDS}, got {n}")
    return n.bit_length() - 1


def begin(transcript: Transcript, cx: bytes, cy: bytes, a: Sequence[int]) -> int:
    """Absorb the statement and draw chi (Q = chi g); shared with the prover."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_points(b"C", [cx, cy])
    transcript.absorb_scalars(b"a", a)
    return transcript.challenge_scalar(b"chi")


def round_challenge(transcript: Transcript, left: bytes, right: bytes) -> int:
    transcript.absorb_points(b"LR", [left, right])
    # A folding round is 4-special sound (the folded relation is a Laurent polynomial in u of
    # degree -2..2; Attema, Cramer and Kohl, CRYPTO 2021): knowledge error 3 / r per round.
    u = transcript.challenge_scalar(b"u", 3)
    if u == 0:  # probability 2^-255; u must be invertible
        raise VerifyError("inner-product argument: zero round challenge")
    return u


def folding_weights(challenges: Sequence[int]) -> list[int]:
    """s_i = prod_j u_j^(b_j(i)) with b_j(i) = +1 if bit (k-1-j) of i is set, else -1."""
    inverses = batch_inv(challenges)
    s = [1]
    # Round j splits on bit k-1-j: process rounds from the last (bit 0) to the first, each
    # doubling the table; the new high bit belongs to the earlier round.
    for u, u_inv in zip(reversed(challenges), reversed(inverses)):
        s = [x * u_inv % R for x in s] + [x * u % R for x in s]
    return s


def verify(
    gens: PedersenGenerators,
    cx: Point,
    cy: Point,
    a: Sequence[int],
    proof: InnerProductProof,
    transcript: Transcript,
    equations: Equations | None = None,
) -> None:
    """Check the proof; its group equation goes to ``equations`` (checked at once if None)."""
    n = len(a)
    k = rounds_for(n)
    chi = begin(transcript, cx.to_bytes(), cy.to_bytes(), a)
    if len(proof.L) != k or len(proof.R) != k:
        raise VerifyError(f"inner-product argument: expected {k} rounds")
    challenges = [round_challenge(transcript, left, right) for left, right in zip(proof.L, proof.R)]
    transcript.absorb_point(b"A", proof.A)
    c = transcript.challenge_scalar(b"c")

    curve = gens.curve
    left = [curve.decode(p) for p in proof.L]
    right = [curve.decode(p) for p in proof.R]
    big_a = curve.decode(proof.A)
    s = folding_weights(challenges)
    a_hat = inner_product(s, a)
    inv_sq = batch_inv([u * u % R for u in challenges])
    # z (G_hat + a_hat Q) + z_r h - A - c Gamma_hat = 0 with
    # G_hat = <s, G>, Q = chi g, Gamma_hat = C_x + chi C_y + sum_j (u_j^2 L_j + u_j^-2 R_j).
    points = gens.vector(n) + [gens.g, gens.h, big_a, cx, cy] + left + right
    scalars = [proof.z * si % R for si in s]
    scalars += [proof.z * a_hat * chi, proof.z_r, -1, -c, -c * chi]
    scalars += [-c * u * u for u in challenges] + [-c * w for w in inv_sq]
    equations_for(curve, equations).add(points, scalars, "inner-product argument: final check fails")
