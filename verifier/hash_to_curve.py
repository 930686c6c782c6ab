"""Transparent Pedersen generators by RFC 9380 hash-to-curve (DESIGN section 3).

Every generator is ``hash_to_curve(message, GENERATOR_DST)`` with the suite
``BLS12381G1_XMD:SHA-256_SSWU_RO_`` (RFC 9380 section 8.8.1): a random-oracle encoding, so
nobody knows a discrete-log relation between any two generators and there is no setup.
The message names the generator: a domain label (e.g. ``b"zktrain/pedersen/v1"``), a role
and an index, each length-framed so that no two names share a message:

    message = u16_le(len(label)) || label || role (1 byte) || u64_le(index)

Roles: ``G`` the vector generators G_0, G_1, ... (Hyrax columns, coefficient vectors), ``g``
the generator that carries a committed scalar value, ``h`` the blinding generator. A vector
commitment is <v, G> + r h, a value commitment v g + r h (Hyrax, Wahby et al. S&P 2018,
section 3; Spartan's ``MultiCommitGens``).

The prover derives the same points with its own curve library; both sides go through these
messages, and the RFC's test vectors pin the map itself (tests/test_hash_to_curve.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from functools import lru_cache

from .curve import DEFAULT_CURVE, Curve, Point, get_curve

#: The RFC 9380 suite, under a project-specific domain separation tag (RFC 9380 section 3.1).
SUITE = b"BLS12381G1_XMD:SHA-256_SSWU_RO_"
GENERATOR_DST = b"zktrain-v1-generators-" + SUITE
DEFAULT_LABEL = b"zktrain/pedersen/v1"

ROLE_VECTOR = b"G"
ROLE_VALUE = b"g"
ROLE_BLIND = b"h"

MAX_GENERATORS = 1 << 24  # far above any Hyrax row (2^12) we use; bounds a hostile request


def generator_message(label: bytes, role: bytes, index: int) -> bytes:
    """The hash-to-curve input naming generator ``(label, role, index)``."""
    if not isinstance(label, bytes) or not 0 < len(label) < 1 << 16:
        raise ValueError(f"generator label must be 1..65535 bytes, got {label!r}")
    if role not in (ROLE_VECTOR, ROLE_VALUE, ROLE_BLIND):
        raise ValueError(f"unknown generator role {role!r}")
    if not 0 <= index < MAX_GENERATORS:
        raise ValueError(f"generator index must lie in [0, {MAX_GENERATORS}), got {index}")
    return len(label).to_bytes(2, "little") + label + role + index.to_bytes(8, "little")


@dataclass
class PedersenGenerators:
    """The verifier's view of one generator family: G_0..G_{n-1} (grown on demand), g, h."""

    curve: Curve
    label: bytes = DEFAULT_LABEL
    _vector: list[Point] = dataclass_field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.g = self._derive(ROLE_VALUE, 0)
        self.h = self._derive(ROLE_BLIND, 0)

    def _derive(self, role: bytes, index: int) -> Point:
        return self.curve.hash_to_curve(generator_message(self.label, role, index), GENERATOR_DST)

    def vector(self, n: int) -> list[Point]:
        """G_0..G_{n-1}; derived once and cached."""
        if not 0 <= n <= MAX_GENERATORS:
            raise ValueError(f"number of generators must lie in [0, {MAX_GENERATORS}], got {n}")
        while len(self._vector) < n:
            self._vector.append(self._derive(ROLE_VECTOR, len(self._vector)))
        return self._vector[:n]

    def commit_value(self, value: int, blind: int) -> Point:
        """v g + r h."""
        return self.curve.msm([self.g, self.h], [value, blind])


@lru_cache(maxsize=None)
def pedersen_generators(curve: str = DEFAULT_CURVE, label: bytes = DEFAULT_LABEL) -> PedersenGenerators:
    """The shared generator family for ``label`` on the named curve implementation."""
    return PedersenGenerators(get_curve(curve), label)
