"""The claims ledger (DESIGN section 9).

A proof is a walk from public statements to claims on committed tensors: every reduction
consumes claims (tensor, point, value) and produces new ones. The ledger holds the claims not
yet consumed; the verifier rejects a proof that leaves any of them behind, because an
unconsumed claim is an unchecked statement.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable

from .errors import VerifyError


@dataclass(frozen=True)
class Claim:
    """``tensor``'s multilinear extension takes ``value`` at ``point`` (little-endian coords)."""

    tensor: str
    point: tuple[int, ...]
    value: int


class ClaimLedger:
    """Claims grouped by tensor, in the order they were made (the transcript order)."""

    def __init__(self) -> None:
        self._claims: OrderedDict[str, list[Claim]] = OrderedDict()

    def add(self, claim: Claim) -> None:
        self._claims.setdefault(claim.tensor, []).append(claim)

    def extend(self, claims: Iterable[Claim]) -> None:
        for claim in claims:
            self.add(claim)

    def take(self, tensor: str) -> list[Claim]:
        """Remove and return every claim on ``tensor`` (the caller now owns checking them)."""
        return self._claims.pop(tensor, [])

    def __len__(self) -> int:
        return sum(len(v) for v in self._claims.values())

    def assert_consumed(self) -> None:
        if self._claims:
            left = ", ".join(f"{name} ({len(c)})" for name, c in self._claims.items())
            raise VerifyError(f"unconsumed claims remain on: {left}")
