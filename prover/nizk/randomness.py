"""Blinding randomness: the OS RNG unless a test passes its own seeded generator."""

from __future__ import annotations

import secrets
from typing import Protocol

from verifier.field import MODULUS as R


class RandomSource(Protocol):
    def randrange(self, stop: int) -> int: ...


_OS_RNG = secrets.SystemRandom()


def blinding(rng: RandomSource | None, n: int | None = None):
    """One uniform element of Fr (n is None) or a list of n of them."""
    source = _OS_RNG if rng is None else rng
    if n is None:
        return source.randrange(R)
    return [source.randrange(R) for _ in range(n)]
