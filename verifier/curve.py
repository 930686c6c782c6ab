"""BLS12-381 G1 for the verifier, behind one small API with two implementations.

``get_curve("blst")`` (default, through pyblst) and ``get_curve("py_ecc")`` (pure Python, the
fallback and cross-check) expose the same :class:`Curve`: decode/encode in the 48-byte
compressed ZCash format, hash-to-curve (RFC 9380, suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_``),
the identity and a Pippenger MSM. Points support ``+``, ``-``, ``k * P`` (k an integer, taken
mod r) and ``==``; points of different implementations never mix.

Every point read from a proof goes through :meth:`Curve.decode`, which rejects, with a
``VerifyError``: a wrong length, a missing compression flag, a non-canonical identity (any
bit besides the two flags), x >= p, an x with no point on y^2 = x^3 + 4, and a point outside
the prime-order subgroup (DESIGN section 3). The flag and range checks are done here, once,
for both implementations, so the two accept exactly the same byte strings.
"""

from __future__ import annotations

import hashlib
import operator
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Any, Sequence

from . import msm
from .errors import VerifyError
from .field import MODULUS as R

#: p, the base field modulus of BLS12-381 (381 bits).
P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
B = 4  # E: y^2 = x^3 + 4
POINT_BYTES = 48

# The three most significant bits of the first byte (ZCash serialization format).
_FLAG_COMPRESSED = 0x80
_FLAG_INFINITY = 0x40
_FLAG_SIGN = 0x20  # set when y is the lexicographically larger root, y > (p - 1) / 2
_X_MASK = (1 << 381) - 1

IDENTITY_BYTES = bytes([_FLAG_COMPRESSED | _FLAG_INFINITY]) + bytes(POINT_BYTES - 1)


def parse_compressed(data: bytes) -> tuple[int, bool] | None:
    """Check the encoding's canonical form; return (x, sign) or None for the identity.

    Curve equation and subgroup are left to the implementation; everything that depends on
    the bytes alone is decided here.
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) != POINT_BYTES:
        raise VerifyError(f"a G1 point is {POINT_BYTES} bytes")
    flags = data[0]
    if not flags & _FLAG_COMPRESSED:
        raise VerifyError("G1 point: compression flag not set")
    x = int.from_bytes(data, "big") & _X_MASK
    if flags & _FLAG_INFINITY:
        if flags & _FLAG_SIGN or x:
            raise VerifyError("G1 point: non-canonical encoding of the identity")
        return None
    if x >= P:
        raise VerifyError("G1 point: x coordinate is not reduced mod p")
    return x, bool(flags & _FLAG_SIGN)


class Point(ABC):
    """An element of the order-r subgroup of G1, tied to one implementation."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any):
        self.raw = raw

    @abstractmethod
    def __add__(self, other: "Point") -> "Point": ...

    @abstractmethod
    def __neg__(self) -> "Point": ...

    @abstractmethod
    def __mul__(self, k: int) -> "Point": ...

    @abstractmethod
    def __eq__(self, other: object) -> bool: ...

    @abstractmethod
    def to_bytes(self) -> bytes:
        """The 48-byte compressed encoding."""

    def __sub__(self, other: "Point") -> "Point":
        return self + (-other)

    def __rmul__(self, k: int) -> "Point":
        return self * k

    # Equality is projective (implementation-defined coordinates): hash ``to_bytes()`` instead.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_bytes().hex()})"


class Curve(ABC):
    """One implementation of G1: constructors, MSM and hash-to-curve."""

    name: str

    @abstractmethod
    def identity(self) -> Point: ...

    @abstractmethod
    def decode(self, data: bytes) -> Point:
        """A point from its compressed encoding, fully checked (raises ``VerifyError``)."""

    @abstractmethod
    def hash_to_curve(self, msg: bytes, dst: bytes) -> Point:
        """RFC 9380 hash_to_curve with suite BLS12381G1_XMD:SHA-256_SSWU_RO_."""

    @abstractmethod
    def msm(self, points: Sequence[Point], scalars: Sequence[int]) -> Point:
        """sum_i scalars[i] * points[i]."""

    def decode_many(self, encodings: Sequence[bytes]) -> list[Point]:
        return [self.decode(e) for e in encodings]


# --- blst (pyblst) ------------------------------------------------------------------------


class _BlstPoint(Point):
    __slots__ = ()

    def __add__(self, other: Point) -> Point:
        return _BlstPoint(self.raw + _same(self, other).raw)

    def __neg__(self) -> Point:
        return _BlstPoint(-self.raw)

    def __mul__(self, k: int) -> Point:
        if not isinstance(k, int):
            return NotImplemented
        return _BlstPoint(self.raw.scalar_mul(k % R))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BlstPoint) and self.raw == other.raw

    def to_bytes(self) -> bytes:
        return bytes(self.raw.compress())


class BlstCurve(Curve):
    """G1 through blst (pyblst): about 1 us per addition, 80 us per checked decode."""

    name = "blst"

    def __init__(self) -> None:
        from pyblst import BlstP1Element

        self._element = BlstP1Element

    def identity(self) -> Point:
        return _BlstPoint(self._element())

    def decode(self, data: bytes) -> Point:
        if parse_compressed(data) is None:
            return self.identity()
        try:
            # blst's uncompress checks the curve equation and subgroup membership
            # (BLST_POINT_NOT_ON_CURVE, BLST_POINT_NOT_IN_GROUP); tests pin both.
            return _BlstPoint(self._element.uncompress(bytes(data)))
        except ValueError as exc:
            raise VerifyError(f"G1 point: {_BLST_REASONS.get(_blst_code(exc), str(exc))}") from None

    def hash_to_curve(self, msg: bytes, dst: bytes) -> Point:
        return _BlstPoint(self._element.hash_to_group(bytes(msg), bytes(dst)))

    def msm(self, points: Sequence[Point], scalars: Sequence[int]) -> Point:
        raw = [_same_type(p, _BlstPoint).raw for p in points]
        if len(raw) != len(scalars):
            raise ValueError(f"msm: {len(raw)} points but {len(scalars)} scalars")
        if len(raw) <= NAIVE_MSM_MAX:
            # blst's constant-time scalar multiplication in C beats Pippenger's Python loop
            # for few points (measured: 0.2 vs 0.7 ms at 2 points, 3.4 vs 6.2 ms at 32).
            total = self._element()
            for point, k in zip(raw, scalars):
                k %= R
                if k == 1:  # the Sigma-protocols' equations carry many +-1 coefficients
                    total = total + point
                elif k == R - 1:
                    total = total + (-point)
                elif k:
                    total = total + point.scalar_mul(k)
            return _BlstPoint(total)
        # operator.add / operator.neg call blst's C methods without a Python frame per addition.
        total = msm.pippenger(raw, scalars, operator.add, operator.neg, self._element())
        return _BlstPoint(total)


#: Up to this many points the blst curve multiplies each point instead of running Pippenger.
NAIVE_MSM_MAX = 32

_BLST_REASONS = {
    "BLST_POINT_NOT_ON_CURVE": "not on the curve y^2 = x^3 + 4",
    "BLST_POINT_NOT_IN_GROUP": "not in the prime-order subgroup",
    "BLST_BAD_ENCODING": "bad encoding",
}


def _blst_code(exc: ValueError) -> str:
    """pyblst reports e.g. 'blst error Blst(BLST_POINT_NOT_IN_GROUP)'."""
    text = str(exc)
    return text[text.find("(") + 1 : text.rfind(")")] if "(" in text else text


# --- py_ecc (pure Python) ------------------------------------------------------------------


class _PyEccPoint(Point):
    __slots__ = ()

    def __add__(self, other: Point) -> Point:
        return _PyEccPoint(_py_ecc().add(self.raw, _same(self, other).raw))

    def __neg__(self) -> Point:
        return _PyEccPoint(_py_ecc().neg(self.raw))

    def __mul__(self, k: int) -> Point:
        if not isinstance(k, int):
            return NotImplemented
        return _PyEccPoint(_py_ecc().multiply(self.raw, k % R))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PyEccPoint) and _py_ecc().eq(self.raw, other.raw)

    def to_bytes(self) -> bytes:
        from py_ecc.bls.point_compression import compress_G1

        return compress_G1(self.raw).to_bytes(POINT_BYTES, "big")


@lru_cache(maxsize=1)
def _py_ecc():
    import py_ecc.optimized_bls12_381 as curve

    return curve


class PyEccCurve(Curve):
    """G1 through py_ecc's optimized (projective) pure-Python arithmetic: slow, dependency-light."""

    name = "py_ecc"

    def identity(self) -> Point:
        return _PyEccPoint(_py_ecc().Z1)

    def decode(self, data: bytes) -> Point:
        parsed = parse_compressed(data)
        if parsed is None:
            return self.identity()
        x, sign = parsed
        rhs = (x * x * x + B) % P
        # p = 3 mod 4, so a square root of a square a is a^((p + 1) / 4).
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P != rhs:
            raise VerifyError("G1 point: not on the curve y^2 = x^3 + 4")
        if (y > (P - 1) // 2) != sign:
            y = P - y
        curve = _py_ecc()
        point = (curve.FQ(x), curve.FQ(y), curve.FQ.one())
        if not curve.is_inf(curve.multiply(point, R)):
            raise VerifyError("G1 point: not in the prime-order subgroup")
        return _PyEccPoint(point)

    def hash_to_curve(self, msg: bytes, dst: bytes) -> Point:
        from py_ecc.bls.hash_to_curve import hash_to_G1

        return _PyEccPoint(hash_to_G1(bytes(msg), bytes(dst), hashlib.sha256))

    def msm(self, points: Sequence[Point], scalars: Sequence[int]) -> Point:
        curve = _py_ecc()
        raw = [_same_type(p, _PyEccPoint).raw for p in points]
        return _PyEccPoint(msm.pippenger(raw, scalars, curve.add, curve.neg, curve.Z1))


# --- selection ---------------------------------------------------------------------------

_IMPLEMENTATIONS = {"blst": BlstCurve, "py_ecc": PyEccCurve}
CURVE_NAMES = tuple(_IMPLEMENTATIONS)
DEFAULT_CURVE = "blst"


@lru_cache(maxsize=None)
def get_curve(name: str = DEFAULT_CURVE) -> Curve:
    """The G1 implementation called ``name`` ("blst" or "py_ecc")."""
    try:
        return _IMPLEMENTATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown curve implementation {name!r}; choose from {CURVE_NAMES}") from None


def _same(a: Point, b: Point) -> Point:
    if type(a) is not type(b):
        raise TypeError(f"cannot combine {type(a).__name__} with {type(b).__name__}")
    return b


def _same_type(p: Point, cls: type) -> Point:
    if type(p) is not cls:
        raise TypeError(f"expected a {cls.__name__}, got {type(p).__name__}")
    return p
