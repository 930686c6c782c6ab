"""Polynomials with integer coefficients in named tables: how a gadget writes its identities
once (``circuits/trust.py``, ``circuits/lamb_step.py``). The verifier turns each monomial into a
sumcheck term over the tables it names (``verifier/trust.py``, ``verifier/lamb_step.py``); the
prover's witness builders and the tests evaluate the same polynomials entry by entry, so the
relation proven and the relation checked are one object."""

from __future__ import annotations


class Poly:
    """A polynomial with integer coefficients in named tables: {sorted names: coefficient}.
    The identities of (T) are written with it once; the verifier turns them into sumcheck
    terms, the tests evaluate them on witnesses entry by entry."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[tuple[str, ...], int] | None = None):
        self.terms = {m: c for m, c in (terms or {}).items() if c}

    @staticmethod
    def var(name: str) -> "Poly":
        return Poly({(name,): 1})

    @staticmethod
    def const(value: int) -> "Poly":
        return Poly({(): value})

    @staticmethod
    def _lift(other) -> "Poly":
        return other if isinstance(other, Poly) else Poly.const(int(other))

    def __add__(self, other) -> "Poly":
        out = dict(self.terms)
        for m, c in Poly._lift(other).terms.items():
            out[m] = out.get(m, 0) + c
        return Poly(out)

    __radd__ = __add__

    def __neg__(self) -> "Poly":
        return Poly({m: -c for m, c in self.terms.items()})

    def __sub__(self, other) -> "Poly":
        return self + (-Poly._lift(other))

    def __rsub__(self, other) -> "Poly":
        return Poly._lift(other) - self

    def __mul__(self, other) -> "Poly":
        other = Poly._lift(other)
        out: dict[tuple[str, ...], int] = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                m = tuple(sorted(m1 + m2))
                out[m] = out.get(m, 0) + c1 * c2
        return Poly(out)

    __rmul__ = __mul__

    @property
    def degree(self) -> int:
        return max((len(m) for m in self.terms), default=0)

    def names(self) -> set[str]:
        return {n for m in self.terms for n in m}

    def evaluate(self, values: dict[str, int]) -> int:
        """The polynomial at integer (or field) values of its tables, or entrywise at object
        arrays of them (broadcast; never written in place)."""
        total = 0
        for m, c in self.terms.items():
            prod = c
            for n in m:
                prod = prod * values[n]
            total = total + prod
        return total
