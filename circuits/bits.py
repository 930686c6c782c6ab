"""Range checks by bit decomposition (zkDL style), with exact widths (DESIGN sections 5, 9).

A range-checked value is *virtual*: only its bits are committed, as a tensor whose innermost
axis is the bit index, padded to a power of two. The value is defined as

    V = offset + sum_{i < width} c_i B_i,   B_i in {0, 1},

with c_i = 2^i, except c_{width-1} = -2^(width-1) for two's complement. The booleanity of every
bit slot and the zero padding of the slots i >= width are proven; then V lies in
[offset - 2^(width-1), offset + 2^(width-1)) (signed) or [offset, offset + 2^width) (unsigned)
by construction, and one bit too many is impossible because the width is part of the recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import log2_ceil


class RangeWidth:
    """What every range decomposition shares: the admitted interval of ``width`` bits (two's
    complement if ``signed``) around ``offset``, and the checked unsigned encoding its slots
    are cut from. Subclasses are dataclasses with the fields width, signed, offset."""

    width: int
    signed: bool
    offset: int

    @property
    def min_value(self) -> int:
        return self.offset - (1 << (self.width - 1)) if self.signed else self.offset

    @property
    def max_value(self) -> int:
        top = (1 << (self.width - 1)) if self.signed else (1 << self.width)
        return self.offset + top - 1

    def _unsigned(self, values: np.ndarray, what: str) -> np.ndarray:
        """(values - offset) mod 2^width as uint64, after checking the range.

        Raises ValueError naming ``what`` if a value is out of range: witness generation that
        would overflow a declared width is a hard error, never a silent saturation.
        """
        v = np.asarray(values, dtype=np.int64)
        lo, hi = self.min_value, self.max_value
        if v.size and (v.min() < lo or v.max() > hi):
            bad = v[(v < lo) | (v > hi)].flat[0]
            raise ValueError(f"{what} = {bad} lies outside [{lo}, {hi}] ({self.width} bits)")
        # Two's complement of width w equals the low w bits of (v - offset) as unsigned.
        return (v - self.offset).astype(np.uint64) & np.uint64((1 << self.width) - 1)


@dataclass(frozen=True)
class BitDecomposition(RangeWidth):
    width: int
    signed: bool
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.width <= 63:
            raise ValueError(f"bit width must lie in [1, 63], got {self.width}")

    @property
    def slot_widths(self) -> tuple[int, ...]:
        """Every slot is one bit (the interface ``circuits.limbs.LimbDecomposition`` shares)."""
        return (1,) * self.width

    @property
    def num_slots(self) -> int:
        return self.width

    @property
    def sign_slot(self) -> int:
        """The slot of the two's complement sign bit (signed decompositions only)."""
        if not self.signed:
            raise ValueError("an unsigned bit decomposition has no sign slot")
        return self.width - 1

    @property
    def slot_vars(self) -> int:
        return log2_ceil(self.width)

    @property
    def padded_width(self) -> int:
        return 1 << self.slot_vars

    def weights(self) -> list[int]:
        """c_i for i < padded_width (zero beyond the width), as signed integers."""
        c = [1 << i for i in range(self.width)] + [0] * (self.padded_width - self.width)
        if self.signed:
            c[self.width - 1] = -(1 << (self.width - 1))
        return c

    def decompose(self, values: np.ndarray, what: str = "value") -> np.ndarray:
        """Bits of int64 ``values`` as uint8 with a new innermost axis of padded_width
        (a ValueError naming ``what`` for a value out of range)."""
        u = self._unsigned(values, what)
        shifts = np.arange(self.padded_width, dtype=np.uint64)
        bits = (u[..., None] >> shifts) & np.uint64(1)
        bits[..., self.width :] = 0
        return bits.astype(np.uint8)

    def compose(self, bits: np.ndarray) -> np.ndarray:
        """Inverse of decompose (int64), for tests and witness checks."""
        b = np.asarray(bits, dtype=np.int64)[..., : self.width]
        c = np.array([1 << i for i in range(self.width)], dtype=np.int64)
        if self.signed:
            c[-1] = -(1 << (self.width - 1))
        return self.offset + (b * c).sum(axis=-1)
