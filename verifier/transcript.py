"""Fiat-Shamir transcript (DESIGN section 3 and section 9, "Fiat-Shamir order").

One SHAKE256 sponge absorbs every public item with a label and a length prefix, so no two
different sequences of absorbs produce the same hash input. A challenge squeezes 64 bytes from
a copy of the sponge (the 512-bit value reduced mod the 255-bit r has statistical bias below
2^-256) and then absorbs those bytes back, so every later challenge depends on every earlier
one. Protocols mark their start with ``domain_separate`` so that a message of one protocol can
never be replayed as a message of another.

The prover imports this class from here: prover and verifier derive challenges by the same
code, byte for byte. Blinding randomness never comes from the transcript.

Soundness accounting. Every challenge guards a polynomial identity: a false statement
survives only if the challenge hits a root of a nonzero polynomial of some degree d, which a
uniform challenge does with probability at most d / r (Schwartz-Zippel), or it is a Sigma
protocol's challenge, k-special sound with error (k - 1) / r. The caller declares that d (1 by
default: a coordinate of a random point, a linear combination, a 2-special-sound protocol)
when it draws the challenge, so no challenge goes unaccounted; ``degree_sum`` sums them and
the union bound ``degree_sum / r`` bounds the verifier's soundness error for the interactive
protocol (``soundness_bits``; SECURITY.md says what Fiat-Shamir costs on top).
"""

from __future__ import annotations

import hashlib
import math
from typing import Iterable

from . import field

PROTOCOL_NAME = b"zktrain/transcript/v1"
CHALLENGE_BYTES = 64

# One-byte operation tags keep absorbs, separators and squeezes apart in the hash input.
_OP_INIT = b"\x00"
_OP_ABSORB = b"\x01"
_OP_DOMAIN = b"\x02"
_OP_CHALLENGE = b"\x03"
_OP_RATCHET = b"\x04"


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(8, "little") + data


def _check_label(label: bytes) -> bytes:
    if not isinstance(label, bytes) or not label:
        raise TypeError("transcript labels are non-empty bytes")
    return label


class Transcript:
    """A labelled Fiat-Shamir transcript bound to a top-level domain (e.g. b"zktrain/train")."""

    def __init__(self, domain: bytes):
        self._sponge = hashlib.shake_256()
        self._sponge.update(_OP_INIT + _frame(PROTOCOL_NAME) + _frame(_check_label(domain)))
        #: Sum of the declared degrees of every challenge drawn (see the module docstring).
        self.degree_sum = 0

    def domain_separate(self, label: bytes) -> None:
        """Mark the start of a sub-protocol (e.g. b"sumcheck", b"hyrax-open")."""
        self._sponge.update(_OP_DOMAIN + _frame(_check_label(label)))

    def absorb_bytes(self, label: bytes, data: bytes) -> None:
        self._sponge.update(_OP_ABSORB + _frame(_check_label(label)) + _frame(bytes(data)))

    def absorb_scalar(self, label: bytes, x: int) -> None:
        self.absorb_bytes(label, field.to_bytes(x))

    def absorb_scalars(self, label: bytes, xs: Iterable[int]) -> None:
        self.absorb_bytes(label, b"".join(field.to_bytes(x) for x in xs))

    def absorb_point(self, label: bytes, compressed: bytes) -> None:
        """Absorb a G1 point by its 48-byte compressed encoding."""
        if len(compressed) != 48:
            raise ValueError("a compressed G1 point is 48 bytes")
        self.absorb_bytes(label, compressed)

    def absorb_points(self, label: bytes, points: Iterable[bytes]) -> None:
        encoded = list(points)
        if any(len(p) != 48 for p in encoded):
            raise ValueError("a compressed G1 point is 48 bytes")
        self.absorb_bytes(label, b"".join(encoded))

    def challenge_bytes(self, label: bytes, n: int = CHALLENGE_BYTES) -> bytes:
        squeeze = self._sponge.copy()
        squeeze.update(_OP_CHALLENGE + _frame(_check_label(label)))
        out = squeeze.digest(n)
        self._sponge.update(_OP_RATCHET + _frame(label) + _frame(out))
        return out

    def challenge_scalar(self, label: bytes, degree: int = 1) -> int:
        """A uniform element of Fr: 64 squeezed bytes reduced mod r. ``degree`` is the degree of
        the identity it tests (a sumcheck round polynomial's, say), its share of the
        soundness error being degree / r."""
        if degree < 1:
            raise ValueError(f"a challenge tests an identity of degree >= 1, got {degree}")
        self.degree_sum += degree
        return int.from_bytes(self.challenge_bytes(label), "little") % field.MODULUS

    def challenge_scalars(self, label: bytes, n: int, degree: int = 1) -> list[int]:
        return [self.challenge_scalar(label, degree) for _ in range(n)]

    def fork(self) -> "Transcript":
        """An independent copy (for tests and for trying a message without committing to it)."""
        other = Transcript.__new__(Transcript)
        other._sponge = self._sponge.copy()
        other.degree_sum = self.degree_sum
        return other


def soundness_bits(degree_sum: int) -> float:
    """-log2 of the union bound degree_sum / r on the soundness error (module docstring),
    rounded down to a tenth of a bit."""
    if degree_sum <= 0:
        raise ValueError("a proof with no challenge has no soundness")
    bits = math.log2(field.MODULUS) - math.log2(degree_sum)
    return math.floor(bits * 10) / 10
