"""The prover's side of the walk's committed values (specification: ``verifier/values.py``).

Where the verifier holds a commitment C = v g + r h, the prover holds its opening (v, r); the
homomorphic operations act on openings the way they act on commitments (values and
blindings add, a public constant k adds k to v and nothing to r), so both sides evaluate the
walk's expressions to matching (commitment, opening) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from verifier.field import MODULUS as R, inner_product

from .commit import group
from .commit.generators import ProverGenerators


@dataclass(frozen=True)
class Opened:
    """The opening (value, blind) of the commitment value g + blind h."""

    value: int
    blind: int

    @staticmethod
    def public(k: int) -> "Opened":
        """A public constant: the commitment k g, blinding 0."""
        return Opened(k % R, 0)

    def _lift(self, other) -> "Opened":
        if isinstance(other, Opened):
            return other
        if isinstance(other, int):
            return Opened.public(other)
        return NotImplemented

    def __add__(self, other) -> "Opened":
        o = self._lift(other)
        return NotImplemented if o is NotImplemented else Opened((self.value + o.value) % R, (self.blind + o.blind) % R)

    __radd__ = __add__

    def __neg__(self) -> "Opened":
        return Opened(-self.value % R, -self.blind % R)

    def __sub__(self, other) -> "Opened":
        o = self._lift(other)
        return NotImplemented if o is NotImplemented else self + (-o)

    def __rsub__(self, other) -> "Opened":
        return -self + other

    def __mul__(self, k) -> "Opened":
        if not isinstance(k, int):
            return NotImplemented
        return Opened(k * self.value % R, k * self.blind % R)

    __rmul__ = __mul__

    @staticmethod
    def combine(coeffs: Sequence[int], values: Sequence["Opened"]) -> "Opened":
        """sum_i coeffs_i (v_i, r_i)."""
        return Opened(inner_product(coeffs, [v.value for v in values]), inner_product(coeffs, [v.blind for v in values]))

    def commitment(self, gens: ProverGenerators) -> group.G1:
        return gens.commit_value(self.value, self.blind)


def opened(value) -> Opened:
    """A walk value as an opening (public ints become constants with blinding 0)."""
    return value if isinstance(value, Opened) else Opened.public(value)
