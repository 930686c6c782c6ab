"""Range checks by 16-bit limbs, checked with a logUp lookup (DESIGN sections 5, 9).

The interface is :class:`circuits.bits.BitDecomposition`'s: a range-checked value is virtual,
only its *slots* are committed, as a tensor whose innermost axis is the slot index, padded
to a power of two, and

    V = offset + sum_{i < num_slots} c_i L_i.

Slots (low to high): ``limb_bits``-bit limbs of the magnitude bits, the top one of exact
width, and for a signed value a final one-bit sign slot of weight -2^(width-1) (two's
complement, as the bit gadget's top bit). Each slot i is looked up in the table
[0, 2^(b_i)) of its own width b_i; the padding slots (weight 0) must be zero. Then V lies in
[offset - 2^(width-1), offset + 2^(width-1)) (signed) or [offset, offset + 2^width)
(unsigned), and one bit too many is impossible: the widths are fixed by the recipe.

Why the top limb is checked against a smaller table [0, 2^b) rather than scaled into the
full one: scaling alone is unsound over a field. ``2^(16-b) t`` in [0, 2^16) does not make t
small, since t = y / 2^(16-b) mod r is a 255-bit element for any y that 2^(16-b) does not
divide; it must be paired with a second lookup of t itself, one more lookup per value. A
small table costs instead one commitment of 2^b <= 2^15 multiplicities per distinct top
width, shared by every tensor that has that width, and its lookups are tagged apart from
the full table's (see verifier/logup.py).

Why the sign is a slot of its own rather than a signed top limb: the training circuit
reads the ReLU indicator [Z' <= 0] as the sign slot of Z' - 1 (DESIGN section 4), exactly as
it reads the bit gadget's top bit. It costs one lookup in the two-entry table per signed
value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bits import RangeWidth
from .layout import log2_ceil

LIMB_BITS = 16
#: Decompositions compute in int64, as the bit gadget's.
MAX_WIDTH = 63


@dataclass(frozen=True)
class LimbDecomposition(RangeWidth):
    """``width``-bit values (two's complement if ``signed``) around ``offset``, in limbs.

    ``limb_bits`` is 16 in the circuit (tables of 2^16 entries); smaller limbs serve tests
    that exercise several limbs with tiny tables.
    """

    width: int
    signed: bool
    offset: int = 0
    limb_bits: int = LIMB_BITS

    def __post_init__(self) -> None:
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"limb decomposition width must lie in [1, {MAX_WIDTH}], got {self.width}")
        if not 1 <= self.limb_bits <= LIMB_BITS:
            raise ValueError(f"limb_bits must lie in [1, {LIMB_BITS}], got {self.limb_bits}")

    # --- slots ------------------------------------------------------------------------
    @property
    def slot_widths(self) -> tuple[int, ...]:
        """The table width b_i of every real slot, low to high (the sign slot last)."""
        magnitude = self.width - 1 if self.signed else self.width
        full, top = divmod(magnitude, self.limb_bits)
        widths = [self.limb_bits] * full + ([top] if top else [])
        return tuple(widths + [1] if self.signed else widths)

    @property
    def num_slots(self) -> int:
        return len(self.slot_widths)

    @property
    def slot_vars(self) -> int:
        return log2_ceil(self.num_slots)

    @property
    def padded_width(self) -> int:
        return 1 << self.slot_vars

    @property
    def sign_slot(self) -> int:
        """The slot holding the sign bit (signed decompositions only)."""
        if not self.signed:
            raise ValueError("an unsigned limb decomposition has no sign slot")
        return self.num_slots - 1

    def _shifts(self) -> list[int]:
        """Bit position of every real slot in the width-bit two's complement word."""
        shifts, pos = [], 0
        for b in self.slot_widths:
            shifts.append(pos)
            pos += b
        return shifts

    # --- range --------------------------------------------------------------------------
    def weights(self) -> list[int]:
        """c_i for i < padded_width (zero on padding slots), as signed integers."""
        c = [1 << s for s in self._shifts()]
        if self.signed:
            c[-1] = -(1 << (self.width - 1))
        return c + [0] * (self.padded_width - self.num_slots)

    # --- witness ------------------------------------------------------------------------
    def decompose(self, values: np.ndarray, what: str = "value") -> np.ndarray:
        """Slots of int64 ``values`` as int32 with a new innermost axis of padded_width
        (a ValueError naming ``what`` for a value out of range)."""
        u = self._unsigned(values, what)
        out = np.zeros(u.shape + (self.padded_width,), dtype=np.int32)
        for i, (shift, b) in enumerate(zip(self._shifts(), self.slot_widths)):
            out[..., i] = (u >> np.uint64(shift)) & np.uint64((1 << b) - 1)
        return out

    def compose(self, limbs: np.ndarray) -> np.ndarray:
        """offset + sum_i c_i L_i (int64), the inverse of decompose, for tests and checks."""
        slots = np.asarray(limbs, dtype=np.int64)[..., : self.num_slots]
        c = np.array(self.weights()[: self.num_slots], dtype=np.int64)
        return self.offset + (slots * c).sum(axis=-1)
