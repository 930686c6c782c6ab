"""The values of the training walk: public field elements or Pedersen commitments to them.

The walk (``verifier.training``) does linear arithmetic on claimed values, e.g. the forward
claim 2^S Z' + Rem - 2^R b. In the clear mode every value is an ``int`` (a field element, not
necessarily reduced). In the zero-knowledge mode (DESIGN section 9, "zero knowledge all the
way") a value the prover knows and the verifier must not is a Pedersen commitment
C = v g + r h, and the same expressions are evaluated homomorphically (Hyrax, Wahby et al.
S&P 2018, section 3):

    C_1 + C_2 commits to v_1 + v_2 (blindings add),   k C to k v,   C + k g to v + k.

So an expression mixes ints (public: W_0's MLE, step weights, bit weights, the constant zero
of a padding slot) and commitments; the result is a commitment as soon as one operand is.
:class:`Committed` is the verifier's commitment; the prover's counterpart, which knows v and r,
is ``prover.values.Opened`` and supports the same operations, so one walk serves both sides
and both modes.
"""

from __future__ import annotations

from typing import Any, Sequence

from .curve import Point
from .field import MODULUS as R
from .hash_to_curve import PedersenGenerators


class Committed:
    """A commitment C = v g + r h to a field element v, as the verifier sees it (v, r unknown)."""

    __slots__ = ("point", "gens")

    def __init__(self, point: Point, gens: PedersenGenerators):
        self.point = point
        self.gens = gens

    def _lift(self, other) -> Point:
        """The commitment of an operand: an int k is the commitment k g with blinding 0."""
        if isinstance(other, Committed):
            return other.point
        if isinstance(other, int):
            return (other % R) * self.gens.g
        return NotImplemented

    def __add__(self, other) -> "Committed":
        point = self._lift(other)
        return NotImplemented if point is NotImplemented else Committed(self.point + point, self.gens)

    __radd__ = __add__

    def __neg__(self) -> "Committed":
        return Committed(-self.point, self.gens)

    def __sub__(self, other) -> "Committed":
        point = self._lift(other)
        return NotImplemented if point is NotImplemented else Committed(self.point - point, self.gens)

    def __rsub__(self, other) -> "Committed":
        return -self + other

    def __mul__(self, k) -> "Committed":
        if not isinstance(k, int):
            return NotImplemented
        return Committed((k % R) * self.point, self.gens)

    __rmul__ = __mul__

    @staticmethod
    def combine(coeffs: Sequence[int], values: Sequence["Committed"]) -> "Committed":
        """sum_i coeffs_i C_i by one multi-scalar multiplication."""
        gens = values[0].gens
        return Committed(gens.curve.msm([v.point for v in values], list(coeffs)), gens)

    def to_bytes(self) -> bytes:
        return self.point.to_bytes()

    def __repr__(self) -> str:
        return f"Committed({self.point.to_bytes().hex()[:16]}...)"


#: A value of the walk: an int, a Committed (verifier) or a ``prover.values.Opened`` (prover).
Value = Any


def is_public(value: Value) -> bool:
    """Whether both sides know the value itself (an int), not only a commitment to it."""
    return isinstance(value, int)


def canonical(value: Value) -> Value:
    """A public value reduced into [0, r); a commitment is already a field element's."""
    return value % R if is_public(value) else value


def linear_combination(coeffs: Sequence[int], values: Sequence[Value], constant: int = 0) -> Value:
    """constant + sum_i coeffs_i values_i, public where every value is, one MSM otherwise.

    Committed kinds provide ``combine(coeffs, values)``; the public terms fold into the
    constant, which a commitment absorbs as constant * g.
    """
    if len(coeffs) != len(values):
        raise ValueError(f"{len(coeffs)} coefficients for {len(values)} values")
    public = constant + sum(c * v for c, v in zip(coeffs, values) if is_public(v))
    hidden = [(c, v) for c, v in zip(coeffs, values) if not is_public(v)]
    if not hidden:
        return public % R
    kind = type(hidden[0][1])
    return kind.combine([c for c, _ in hidden], [v for _, v in hidden]) + public % R
