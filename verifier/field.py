"""The BLS12-381 scalar field Fr over plain Python ints (DESIGN section 3).

This is the reference arithmetic that every backend must agree with. Elements are ints in
[0, r); signed integers embed as ``v mod r``. Serialization is 32 bytes little-endian and
canonical: decoding rejects any encoding of a value >= r, so every element has exactly one
byte string (a proof cannot be malleated by adding r).
"""

from __future__ import annotations

from typing import Iterable, Sequence

#: r, the order of the BLS12-381 prime-order subgroup (255 bits).
MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
BYTES = 32
BITS = 255


class FieldError(ValueError):
    """A byte string or integer that is not a canonical field element."""


def from_int(v: int) -> int:
    """Embed any integer (signed, possibly >= r) as an element of Fr."""
    return v % MODULUS


def to_signed(x: int) -> int:
    """The representative of ``x`` in (-r/2, r/2]: the inverse of ``from_int`` on small values."""
    return x - MODULUS if x > MODULUS // 2 else x


def add(a: int, b: int) -> int:
    return (a + b) % MODULUS


def sub(a: int, b: int) -> int:
    return (a - b) % MODULUS


def neg(a: int) -> int:
    return (-a) % MODULUS


def mul(a: int, b: int) -> int:
    return (a * b) % MODULUS


def inv(a: int) -> int:
    """Multiplicative inverse; 0 has none and raises ``ZeroDivisionError``."""
    if a % MODULUS == 0:
        raise ZeroDivisionError("0 has no inverse in Fr")
    return pow(a, -1, MODULUS)


def batch_inv(xs: Sequence[int]) -> list[int]:
    """Montgomery's trick: n inverses for one inversion and 3(n-1) multiplications."""
    prefix = [1] * (len(xs) + 1)
    for i, x in enumerate(xs):
        prefix[i + 1] = prefix[i] * x % MODULUS
    acc = inv(prefix[-1])  # a zero entry zeroes the product: inv raises for it
    out = [0] * len(xs)
    for i in range(len(xs) - 1, -1, -1):
        out[i] = acc * prefix[i] % MODULUS
        acc = acc * xs[i] % MODULUS
    return out


def inner_product(a: Iterable[int], b: Iterable[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % MODULUS


def to_bytes(x: int) -> bytes:
    """Canonical 32-byte little-endian encoding of an element in [0, r)."""
    if not 0 <= x < MODULUS:
        raise FieldError(f"not a reduced field element: {x}")
    return x.to_bytes(BYTES, "little")


def from_bytes(data: bytes) -> int:
    """Decode a canonical 32-byte little-endian element; rejects length != 32 and values >= r."""
    if len(data) != BYTES:
        raise FieldError(f"field element must be {BYTES} bytes, got {len(data)}")
    x = int.from_bytes(data, "little")
    if x >= MODULUS:
        raise FieldError("non-canonical field element (value >= r)")
    return x
