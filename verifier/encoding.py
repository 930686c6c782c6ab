"""Compact byte encodings of proof objects: 32-byte scalars, 48-byte points (DESIGN section 7).

A proof object's layout is fixed by public parameters (vector lengths, round counts), never
by the prover, so encodings carry no length prefixes for such lists: the parser is told how
many items to expect and checks the exact byte count before it allocates anything. Where a
count does come from the bytes, :meth:`Reader.count` bounds it first.

Parsing rejects with ``VerifyError``: truncated or trailing bytes, a scalar >= r, and a point
whose encoding is not canonical (flags, x >= p). Curve membership and the subgroup check
need a curve implementation and happen where the verifier decodes the point
(:meth:`verifier.curve.Curve.decode`); a point stays in its 48-byte form until then, which
is also the form the transcript absorbs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from . import field
from .curve import POINT_BYTES, parse_compressed
from .errors import VerifyError

SCALAR_BYTES = field.BYTES


def encode_scalars(xs: Iterable[int]) -> bytes:
    return b"".join(field.to_bytes(x) for x in xs)


def encode_points(points: Iterable[bytes]) -> bytes:
    out = []
    for p in points:
        if len(p) != POINT_BYTES:
            raise ValueError(f"a compressed G1 point is {POINT_BYTES} bytes, got {len(p)}")
        out.append(bytes(p))
    return b"".join(out)


class Reader:
    """A bounds-checked cursor over untrusted bytes; every failure is a ``VerifyError``."""

    def __init__(self, data: bytes, what: str):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise VerifyError(f"{what}: expected bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int) -> bytes:
        """The next n raw bytes (bounds-checked)."""
        if n < 0 or n > self.remaining:
            raise VerifyError(f"{self._what}: truncated (needs {n} more bytes, has {self.remaining})")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def expect(self, n: int) -> None:
        """Require at least n more bytes before a parser allocates for them."""
        if n > self.remaining:
            raise VerifyError(f"{self._what}: truncated (needs {n} bytes, has {self.remaining})")

    def count(self, maximum: int) -> int:
        """A u32 count from the bytes, bounded by ``maximum``."""
        value = int.from_bytes(self.take(4), "little")
        if value > maximum:
            raise VerifyError(f"{self._what}: count {value} exceeds the bound {maximum}")
        return value

    def scalar(self) -> int:
        try:
            return field.from_bytes(self.take(SCALAR_BYTES))
        except field.FieldError as exc:
            raise VerifyError(f"{self._what}: {exc}") from None

    def scalars(self, n: int) -> list[int]:
        self.expect(n * SCALAR_BYTES)
        return [self.scalar() for _ in range(n)]

    def point(self) -> bytes:
        chunk = self.take(POINT_BYTES)
        try:
            parse_compressed(chunk)
        except VerifyError as exc:
            raise VerifyError(f"{self._what}: {exc}") from None
        return chunk

    def points(self, n: int) -> list[bytes]:
        self.expect(n * POINT_BYTES)
        return [self.point() for _ in range(n)]

    def finish(self) -> None:
        if self.remaining:
            raise VerifyError(f"{self._what}: {self.remaining} trailing bytes")



def read_artifact(source, what: str) -> tuple[bytes, str]:
    """An artifact handed to the verifier (a data set, a data commitment, a model file) as its
    bytes, or as a path to read: (bytes, how rejections name it)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), what
    path = Path(os.fspath(source))
    try:
        return path.read_bytes(), f"{what} {path}"
    except OSError as err:
        raise VerifyError(f"{what} {path}: cannot read ({err.strerror})") from None
