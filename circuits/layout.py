"""Tensor layouts: named axes, power-of-two padding, and points in little-endian order.

A tensor of shape [.., a2, a1, a0] (C order, a0 innermost) padded to powers of two is the
table of a multilinear polynomial whose lowest variables index the innermost axis (DESIGN
section 9). A :class:`Layout` lists the axes innermost first with their variable counts, and
splits a flat point into per-axis coordinates, so that every claim on a tensor names
its point in one unambiguous order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


def log2_ceil(n: int) -> int:
    """Variables needed to index n entries (n >= 1)."""
    if n < 1:
        raise ValueError(f"a dimension must be positive, got {n}")
    return (n - 1).bit_length()


def padded(n: int) -> int:
    return 1 << log2_ceil(n)


@dataclass(frozen=True)
class Layout:
    """Axes innermost first, each as (name, number of variables)."""

    axes: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, **axes_outermost_first: int) -> "Layout":
        """``Layout.of(t=4, b=6, j=7)``: keyword order is C order (outermost first), sizes are
        variable counts."""
        return cls(tuple(reversed(list(axes_outermost_first.items()))))

    @property
    def num_vars(self) -> int:
        return sum(v for _, v in self.axes)

    def vars(self, name: str) -> int:
        for axis, v in self.axes:
            if axis == name:
                return v
        raise KeyError(f"no axis {name!r} in {self}")

    def split(self, point: Sequence[int]) -> dict[str, tuple[int, ...]]:
        if len(point) != self.num_vars:
            raise ValueError(f"point of {len(point)} coordinates for {self.num_vars} variables")
        out, pos = {}, 0
        for name, v in self.axes:
            out[name] = tuple(point[pos : pos + v])
            pos += v
        return out
