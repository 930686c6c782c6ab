"""Integer square root, reciprocal square root at a scale, squared norms: the relations, their
widths and their bit accounting (issue 16 item 1; nonlinear-gadgets.md sections 0, 5, 6;
DESIGN sections 9 and 10).

**Integer square root** (``Sqrt``). For x in [0, 2^(w_x)) (the caller's tensor and bound),

    s = floor(sqrt(x))  <=>  s^2 <= x < (s + 1)^2  <=>  x = s^2 + e,  0 <= e <= 2s.

The circuit commits the slots of e and of u = 2s - e, both in w_s + 1 unsigned bits
(w_s = ceil(w_x / 2)), and keeps s *virtual*: s = (e + u) / 2. It proves

    x = s^2 + e,   RC_(w_s+1)(e),   RC_(w_s+1)(u),   u = 2s - e.                   (S)

RC(e) is x - s^2 >= 0, RC(u) is (s + 1)^2 - 1 - x = 2s - e >= 0 (strict x < (s + 1)^2,
rule 0.1). No RC(s) is needed, and none is made (every check must be needed, DESIGN section
10): RC(e) and RC(u) already force s to be a nonnegative integer below 2^(w_s + 1). Proof:
s = (e + u) / 2 in the field, so (S) times 4 reads 4x = (e + u)^2 + 4e mod r; both sides are
integers below 2^(bound_bits) (``Sqrt.bound_bits``: 4x < 2^(w_x + 2), (e + u)^2 < 2^(2 w_s + 4),
4e < 2^(w_s + 3)), far below r/2, so it holds over the integers; then (e + u)^2 = 4(x - e) is
divisible by 4, e + u is even and s = (e + u)/2 is an integer in [0, 2^(w_s + 1)). With it,
0 <= e <= 2s gives s = floor(sqrt(x)), the one integer solution. A negative s, or the
"fraction" s = sqrt(x - e) in the field (rule 0.3), makes u = 2s - e leave its range.

**Reciprocal square root** (``Rsqrt``). For x in [0, 2^(w_x)), a public eps >= 0 and a public
scale c = 2^a, with V = x + eps >= 1:

    y = round_half_up(c / sqrt(V)) = floor(c / sqrt(V) + 1/2)
      <=>  (2y - 1)^2 V <= 4c^2 < (2y + 1)^2 V,   y >= 1.                           (Y)

One rounding (error <= 1/2 ulp of y, section 5's recommendation). Ties (c / sqrt(V) = k + 1/2)
go up; with c a power of two the only tie is V = 4c^2, y = 1. (Y) needs y >= 1 (for y = 0
its squared form is empty), i.e. V <= 4c^2: the gadget refuses a shift too small for the
declared V (``v_max <= 2^(2a + 2)``); then 1 <= y <= c (y = c at V = 1). eps is added inside
the root (BN's rstd, round(c / sqrt(var + eps))); V = 0 (x = 0, eps = 0) has no solution.
y^2 V has degree 3 in the witness, beyond a degree-3 zero-check with its eq factor, so the
square t = y^2 is committed (a plain tensor: the caller commits it and opens its claims) and

    t = y^2,   lo = 4c^2 - (4t - 4y + 1) V,   hi = (4t + 4y + 1) V - 4c^2 - 1,
    RC_(a)(y - 1),   RC_(w_sl)(lo),   RC_(w_sl)(hi).                                   (R)

RC(lo) is the lower inequality of (Y), RC(hi) the strict upper one (rule 0.1), RC(y - 1)
bounds y (rule 0.3: without it the half-integer y = h/2, h the odd integer next to 2c/sqrt(V),
t = h^2/4, satisfies every identity with lo, hi in range). t needs no range check: t = y^2
with y an integer in [1, 2^a] pins it. Slack width: lo, hi < (2y + 1)^2 V - (2y - 1)^2 V = 8yV
and y sqrt(V) <= (2y - 1) sqrt(V) <= 2c, so lo, hi < 2^(a + 4) sqrt(V): w_sl = a + 4 +
ceil(b / 2) with V <= 2^b (tight: V = 4c^2 gives hi = 2^(2a + 5) - 1).

**Wide rsqrt** (``Rsqrt(..., wide=True)``; docs/ghost_bn.md section 3, relation 2: Ghost BN's
radicand V = D + v^2 eps_int reaches 2^72 and the slacks 85 bits). The same relation (R) on a
wider witness: V, y, t, lo, hi are Python ints, y - 1, lo, hi decomposed by the wide
decompositions past 63 bits, and t = y^2 (up to 2^(2a), beyond what Hyrax commits as a plain
integer) committed as range-checked slots of t - 1 in 2a bits (offset 1): a wide value is
committed as slots. RC(t) is not needed for soundness (t = y^2 with y in [1, 2^a] pins it): it
is the price of committing t. ``x_max`` (both modes; default 2^x_bits - 1) declares a tighter
bound on the radicand that the caller guarantees (BN's D <= v^2 (2^Q - 1)^2 / 4), from which
v_max and the slack width follow. The caps are the relation's: bound_bits <= MAX_RELATION_BITS
and the slacks within MAX_WIDE_BITS. The narrow mode (``wide`` False) is unchanged.

LAMB's sqrt(v) + eps (eps *outside* the root) is not an rsqrt: it is s = floor(sqrt(v)) by
``Sqrt``, then D = s + eps_int (linear, public eps_int >= 1 so that D >= 1), then a division
by the committed divisor D (``circuits/division.py``), whose claim on D at a point the caller
turns into one on s (``verifier.sqrt.root_at``).

**Squared norms** (``squared_norms``, ``norm_bits``). N_g = sum_i T(g, i)^2 exactly, no
rounding, one norm per group g (the outer variables) over the inner variables i. A claim
N~(rho) = sum_x eq(rho, x_g) T(x)^2 is one sumcheck (``verifier/norms.py``). For T in
[-2^(w-1), 2^(w-1)) and 2^n entries per group, N <= 2^(2w - 2 + n) < r: the field sum is the
integer one.

Integer lift (DESIGN section 9): every relation stays below 2^(bound_bits) for every witness
the range checks admit; the int64 witness caps the widths far below 2^250 (MAX_RELATION_BITS):
w_x <= 62 for both gadgets (so (s + 1)^2 is exact in int64), V = x + eps < 2^63, w_sl <= 63.
A width beyond the caps, or a relation beyond 2^250, is refused with a ValueError.

**Wide isqrt** (docs/lars.md section 4.3: LARS's squared norms reach 2^110 honest, 2^150 at
the declared widths). ``Sqrt`` with x_bits > 62 is the same relation (S) on a wider witness:
x, s, e, u are Python ints (object arrays), e and u decomposed by ``WideLimbDecomposition`` /
``WideBitDecomposition`` (``circuits.limbs`` / ``circuits.bits`` past 63 bits: the same slots,
weights and tables, the decomposition computed on Python ints, the slots themselves still small
integers). The cap is the relation bound: x_bits <= MAX_WIDE_X_BITS keeps 4x = (e + u)^2 + 4e
below 2^250 (bound_bits <= MAX_RELATION_BITS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bits import BitDecomposition
from .limbs import LimbDecomposition
from .poly import Poly
from .semantics import MAX_RELATION_BITS

Decomposition = BitDecomposition | LimbDecomposition
#: x in [0, 2^62): floor(sqrt(x)) < 2^31, so (s + 1)^2 <= 2^62 is exact in int64.
MAX_X_BITS = 62
#: Slots are decomposed from int64 values.
MAX_SLOT_BITS = 63
#: Wide isqrt (Python ints): 4x = (e + u)^2 + 4e stays below 2^MAX_RELATION_BITS up to here.
MAX_WIDE_X_BITS = 244
#: Wide decompositions: a value of at most this many bits (every relation is below 2^250).
MAX_WIDE_BITS = MAX_RELATION_BITS


def _wide_unsigned(d, values, what: str) -> np.ndarray:
    """(values - offset) mod 2^width as Python ints (object array), after the range check
    (``RangeWidth._unsigned`` past int64)."""
    v = np.vectorize(int, otypes=[object])(values) if np.size(values) else np.asarray(values, dtype=object)
    lo, hi = d.min_value, d.max_value
    if v.size and (v.min() < lo or v.max() > hi):
        x = next(int(x) for x in v.reshape(-1) if not lo <= x <= hi)
        raise ValueError(f"{what} = {x} lies outside [{lo}, {hi}] ({d.width} bits)")
    return (v - d.offset) & ((1 << d.width) - 1)


@dataclass(frozen=True)
class WideLimbDecomposition(LimbDecomposition):
    """``circuits.limbs.LimbDecomposition`` past 63 bits: the same slots (``limb_bits``-bit
    limbs, the top one of exact width, a sign slot when signed), weights and tables; only the
    witness side computes on Python ints. Used where a width exceeds 63 bits."""

    def __post_init__(self) -> None:
        if not 1 <= self.width <= MAX_WIDE_BITS:
            raise ValueError(f"wide limb decomposition width must lie in [1, {MAX_WIDE_BITS}], got {self.width}")
        if not 1 <= self.limb_bits <= 16:
            raise ValueError(f"limb_bits must lie in [1, 16], got {self.limb_bits}")

    def decompose(self, values: np.ndarray, what: str = "value") -> np.ndarray:
        """Slots (int32, a new innermost axis of padded_width) of Python-int ``values``."""
        u = _wide_unsigned(self, values, what)
        out = np.zeros(u.shape + (self.padded_width,), dtype=np.int32)
        for i, (shift, b) in enumerate(zip(self._shifts(), self.slot_widths)):  # entrywise on Python ints
            out[..., i] = ((u >> shift) & ((1 << b) - 1)).astype(np.int32)
        return out

    def compose(self, limbs: np.ndarray) -> np.ndarray:
        """offset + sum_i c_i L_i as Python ints (object array)."""
        slots = np.asarray(limbs, dtype=object)[..., : self.num_slots]
        return self.offset + (slots * np.array(self.weights()[: self.num_slots], dtype=object)).sum(axis=-1)


@dataclass(frozen=True)
class WideBitDecomposition(BitDecomposition):
    """``circuits.bits.BitDecomposition`` past 63 bits (see ``WideLimbDecomposition``)."""

    def __post_init__(self) -> None:
        if not 1 <= self.width <= MAX_WIDE_BITS:
            raise ValueError(f"wide bit width must lie in [1, {MAX_WIDE_BITS}], got {self.width}")

    def decompose(self, values: np.ndarray, what: str = "value") -> np.ndarray:
        """Bits (uint8, a new innermost axis of padded_width) of Python-int ``values``."""
        u = _wide_unsigned(self, values, what)
        out = np.zeros(u.shape + (self.padded_width,), dtype=np.uint8)
        for i in range(self.width):  # entrywise on Python ints
            out[..., i] = ((u >> i) & 1).astype(np.uint8)
        return out

    def compose(self, bits: np.ndarray) -> np.ndarray:
        """offset + sum_i c_i B_i as Python ints (object array)."""
        b = np.asarray(bits, dtype=object)[..., : self.width]
        return self.offset + (b * np.array(self.weights()[: self.width], dtype=object)).sum(axis=-1)


def decomposition(width: int, signed: bool, limb_bits: int | None, offset: int = 0) -> Decomposition:
    """The range decomposition of ``width`` bits: limbs of ``limb_bits`` (bits when None), the
    wide variant past 63 bits."""
    if width <= MAX_SLOT_BITS:
        if limb_bits is None:
            return BitDecomposition(width, signed, offset)
        return LimbDecomposition(width, signed, offset, limb_bits)
    if limb_bits is None:
        return WideBitDecomposition(width, signed, offset)
    return WideLimbDecomposition(width, signed, offset, limb_bits)


def _decomposition(width: int, limb_bits: int | None, offset: int = 0) -> Decomposition:
    return decomposition(width, False, limb_bits, offset)


# --- integer square root ---------------------------------------------------------------------


def isqrt_array(x: np.ndarray) -> np.ndarray:
    """floor(sqrt(x)) elementwise, exactly, for int64 x in [0, 2^62): a float64 estimate
    corrected in int64 (every square below 2^63)."""
    x = np.asarray(x, dtype=np.int64)
    if x.size and (x.min() < 0 or x.max() >= 1 << MAX_X_BITS):
        raise ValueError(f"isqrt: a value lies outside [0, 2^{MAX_X_BITS})")
    s = np.minimum(np.floor(np.sqrt(x.astype(np.float64))).astype(np.int64), (1 << 31) - 1)
    for _ in range(4):  # the estimate is off by at most one; each pass moves by one
        s = s - (s * s > x)
        s = s + ((s + 1) * (s + 1) <= x)
    if x.size and not ((s * s <= x) & (x < (s + 1) * (s + 1))).all():  # pragma: no cover
        raise AssertionError("isqrt: the float estimate was off by more than expected")
    return s


def isqrt_wide(x: np.ndarray) -> np.ndarray:
    """floor(sqrt(x)) elementwise on Python ints (object array), x >= 0."""
    x = np.asarray(x, dtype=object)
    out = np.empty(x.shape, dtype=object)
    for index, v in np.ndenumerate(x):
        if int(v) < 0:
            raise ValueError("isqrt: a value is negative")
        out[index] = math.isqrt(int(v))
    return out


@dataclass(frozen=True)
class Sqrt:
    """s = floor(sqrt(x)) elementwise over x [2^num_vars] (any layout, flattened), x in
    [0, 2^(x_bits)) by the caller; e = x - s^2 and u = 2s - e range-checked by limbs of
    ``limb_bits`` or by bits (``limb_bits`` None); s virtual. ``radicand`` names x.

    x_bits <= 62: int64 witness. 62 < x_bits <= MAX_WIDE_X_BITS: the wide mode (module
    docstring), Python ints (object arrays) and wide decompositions past 63 bits."""

    name: str
    num_vars: int
    x_bits: int
    limb_bits: int | None = 16
    radicand: str = ""

    def __post_init__(self) -> None:
        if not self.radicand:
            object.__setattr__(self, "radicand", f"{self.name}.x")
        if not 1 <= self.x_bits <= MAX_WIDE_X_BITS:
            raise ValueError(f"{self.name}: x_bits must lie in [1, {MAX_WIDE_X_BITS}] (the relation below "
                             f"2^{MAX_RELATION_BITS}), got {self.x_bits}")
        if self.bound_bits() > MAX_RELATION_BITS:  # pragma: no cover - unreachable under the caps
            raise ValueError(f"{self.name}: the relation needs {self.bound_bits()} bits > {MAX_RELATION_BITS}")

    @property
    def wide(self) -> bool:
        """Whether the witness is on Python ints (x_bits > 62)."""
        return self.x_bits > MAX_X_BITS

    @property
    def s_bits(self) -> int:
        """s = floor(sqrt(x)) < 2^(ceil(w_x / 2))."""
        return (self.x_bits + 1) // 2

    def bound_bits(self) -> int:
        """4 x (S) = 4x = (e + u)^2 + 4e below 2^bound_bits for every admitted witness:
        4x < 2^(w_x + 2), (e + u)^2 < 2^(2 w_s + 4), 4e < 2^(w_s + 3)."""
        terms = (1 << (self.x_bits + 2)) + (1 << (2 * self.s_bits + 4)) + (1 << (self.s_bits + 3))
        return terms.bit_length()

    # --- tensors ---------------------------------------------------------------------------
    @property
    def s(self) -> str:
        """The root: the identity's table (the prover's), never committed: s = (e + u) / 2."""
        return f"{self.name}.s"

    @property
    def e(self) -> str:
        """The remainder x - s^2."""
        return f"{self.name}.e"

    def slots(self, value: str) -> str:
        """The committed slots tensor of e or u = 2s - e."""
        return f"{self.name}.{value}.slots"

    def e_slots(self) -> Decomposition:
        """e = x - s^2 in [0, 2^(w_s + 1)) (with u's check, e <= 2s)."""
        return _decomposition(self.s_bits + 1, self.limb_bits)

    def u_slots(self) -> Decomposition:
        """u = 2s - e = (s + 1)^2 - 1 - x in [0, 2^(w_s + 1)): x < (s + 1)^2."""
        return _decomposition(self.s_bits + 1, self.limb_bits)

    def witness_values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(s, e, u) of (S) for int64 x, or Python ints (object arrays) in the wide mode
        (a ValueError for x outside [0, 2^(x_bits)))."""
        x = np.asarray(x, dtype=object if self.wide else np.int64)
        if x.size and not 0 <= x.min() <= x.max() < 1 << self.x_bits:
            raise ValueError(f"{self.name}: a radicand lies outside [0, 2^{self.x_bits})")
        s = isqrt_wide(x) if self.wide else isqrt_array(x)
        e = x - s * s
        return s, e, 2 * s - e


# --- reciprocal square root ------------------------------------------------------------------


def rsqrt_round(v: int, shift: int) -> int:
    """The reference semantics on Python ints: round_half_up(2^shift / sqrt(v)), v >= 1.

    With k = floor(2c / sqrt(v)) = isqrt(floor(4c^2 / v)), floor(c / sqrt(v) + 1/2) =
    floor((k + 1) / 2) (floor((z + 1) / 2) depends on floor(z) only)."""
    if v < 1:
        raise ValueError(f"rsqrt: V must be >= 1, got {v}")
    return (math.isqrt((4 << (2 * shift)) // v) + 1) // 2


@dataclass(frozen=True)
class Rsqrt:
    """y = round_half_up(2^shift / sqrt(x + eps)) elementwise over x [2^num_vars], x in
    [0, 2^(x_bits)) by the caller, eps a public integer >= 0 (x + eps >= 1 for the witness).
    y - 1, lo, hi range-checked by limbs of ``limb_bits`` or by bits; t = y^2 committed."""

    name: str
    num_vars: int
    x_bits: int
    shift: int
    eps: int = 0
    limb_bits: int | None = 16
    radicand: str = ""
    wide: bool = False
    x_max: int | None = None

    def __post_init__(self) -> None:
        if not self.radicand:
            object.__setattr__(self, "radicand", f"{self.name}.x")
        if self.x_max is not None and not 0 <= self.x_max < 1 << self.x_bits:
            raise ValueError(f"{self.name}: x_max must lie in [0, 2^x_bits), got {self.x_max}")
        if self.wide:
            self._check_wide()
            return
        if not 1 <= self.x_bits <= MAX_X_BITS:
            raise ValueError(f"{self.name}: x_bits must lie in [1, {MAX_X_BITS}] (int64 witness), got {self.x_bits}")
        if self.shift < 1 or self.eps < 0:
            raise ValueError(f"{self.name}: the shift must be >= 1 and eps >= 0")
        if self.v_max >= 1 << 63:
            raise ValueError(f"{self.name}: V = x + eps up to {self.v_max} does not fit int64")
        if self.v_max > 1 << (2 * self.shift + 2):
            raise ValueError(f"{self.name}: 2^{self.shift} is too small for V up to {self.v_max}: "
                             f"round(2^a / sqrt(V)) must be >= 1, i.e. V <= 2^(2a + 2)")
        if self.slack_bits > MAX_SLOT_BITS:
            raise ValueError(f"{self.name}: slack width {self.slack_bits} beyond the int64 witness "
                             f"({MAX_SLOT_BITS}): a + 4 + ceil(log2(V_max) / 2) too large")
        if self.bound_bits() > MAX_RELATION_BITS:  # pragma: no cover - unreachable under the caps
            raise ValueError(f"{self.name}: the relation needs {self.bound_bits()} bits > {MAX_RELATION_BITS}")

    def _check_wide(self) -> None:
        """The wide mode's caps: the relation below 2^MAX_RELATION_BITS, every slot value within
        the wide decompositions (module docstring, wide rsqrt)."""
        if not 1 <= self.x_bits <= MAX_WIDE_X_BITS:
            raise ValueError(f"{self.name}: x_bits must lie in [1, {MAX_WIDE_X_BITS}] (wide mode), got {self.x_bits}")
        if self.shift < 1 or self.eps < 0:
            raise ValueError(f"{self.name}: the shift must be >= 1 and eps >= 0")
        if self.v_max > 1 << (2 * self.shift + 2):
            raise ValueError(f"{self.name}: 2^{self.shift} is too small for V up to {self.v_max}: "
                             f"round(2^a / sqrt(V)) must be >= 1, i.e. V <= 2^(2a + 2)")
        if max(self.slack_bits, 2 * self.shift) > MAX_WIDE_BITS or self.bound_bits() > MAX_RELATION_BITS:
            raise ValueError(f"{self.name}: the relation needs {self.bound_bits()} bits (slacks "
                             f"{self.slack_bits}, t {2 * self.shift}): beyond {MAX_RELATION_BITS}")

    @property
    def v_max(self) -> int:
        """The largest V = x + eps (x up to ``x_max``, by default 2^x_bits - 1)."""
        x_max = (1 << self.x_bits) - 1 if self.x_max is None else self.x_max
        return x_max + self.eps

    @property
    def four_c2(self) -> int:
        """4 c^2 = 2^(2a + 2)."""
        return 1 << (2 * self.shift + 2)

    @property
    def y_bits(self) -> int:
        """y in [1, 2^a]: y - 1 in a unsigned bits."""
        return self.shift

    @property
    def slack_bits(self) -> int:
        """lo, hi < 8yV <= 2^(a + 4) sqrt(V), V <= 2^b: a + 4 + ceil(b / 2) bits."""
        b = (self.v_max - 1).bit_length()
        return self.shift + 4 + (b + 1) // 2

    def bound_bits(self) -> int:
        """Every term of (R) for every admitted witness: 4c^2 = 2^(2a+2), 4tV <= 2^(2a+2) V,
        4yV <= 2^(a+2) V, V, lo, hi < 2^(w_sl), 1; their sum below 2^bound_bits."""
        v = self.v_max
        terms = self.four_c2 + self.four_c2 * v + (v << (self.shift + 2)) + v + (2 << self.slack_bits) + 1
        return terms.bit_length()

    # --- tensors ---------------------------------------------------------------------------
    @property
    def y(self) -> str:
        """The result: virtual, y = 1 + its slots' recomposition."""
        return f"{self.name}.y"

    @property
    def t(self) -> str:
        """t = y^2, committed (a plain tensor, the caller's to commit and open)."""
        return f"{self.name}.t"

    @property
    def lo(self) -> str:
        return f"{self.name}.lo"

    @property
    def hi(self) -> str:
        return f"{self.name}.hi"

    def slots(self, value: str) -> str:
        """The committed slots tensor of y, lo or hi."""
        return f"{self.name}.{value}.slots"

    def y_slots(self) -> Decomposition:
        """y in [1, 2^a]: y - 1 in a unsigned bits (offset 1)."""
        return _decomposition(self.y_bits, self.limb_bits, 1)

    def lo_slots(self) -> Decomposition:
        """lo = 4c^2 - (2y - 1)^2 V in [0, 2^(w_sl))."""
        return _decomposition(self.slack_bits, self.limb_bits)

    def hi_slots(self) -> Decomposition:
        """hi = (2y + 1)^2 V - 4c^2 - 1 in [0, 2^(w_sl)): 4c^2 < (2y + 1)^2 V."""
        return _decomposition(self.slack_bits, self.limb_bits)

    def t_slots(self) -> Decomposition:
        """Wide mode: t = y^2 in [1, 2^(2a)]: t - 1 in 2a unsigned bits (offset 1), the price of
        committing a value past 2^63 (t = y^2 pins it; module docstring)."""
        return decomposition(2 * self.shift, False, self.limb_bits, 1)

    def identities(self) -> list[tuple[str, Poly]]:
        """Relation (R) as polynomials in the tables y, t, x (the radicand), lo, hi, V = x + eps:
        how a caller batches the rsqrt into its own zero-check (``circuits/ghost_bn_step.py``);
        ``verifier.sqrt.rsqrt_reduction`` is the same relation, expanded."""
        y, t, x, lo, hi = (Poly.var(n) for n in (self.y, self.t, self.radicand, self.lo, self.hi))
        v = x + self.eps
        return [
            ("(T) t = y^2", t - y * y),
            ("(LO) lower slack", lo - self.four_c2 + (4 * t - 4 * y + 1) * v),
            ("(HI) upper slack", hi - (4 * t + 4 * y + 1) * v + self.four_c2 + 1),
        ]

    def witness_values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(y, t, lo, hi) of (R) for int64 x, exactly (Python ints; y, lo, hi int64, t an
        object array when y^2 passes int64); in the wide mode x and all four are Python ints
        (object arrays). A ValueError for x outside [0, 2^(x_bits)) (or above ``x_max``) or
        V = 0."""
        x = np.asarray(x, dtype=object if self.wide else np.int64)
        if x.size and not 0 <= x.min() <= x.max() < 1 << self.x_bits:
            raise ValueError(f"{self.name}: a radicand lies outside [0, 2^{self.x_bits})")
        if x.size and self.x_max is not None and x.max() > self.x_max:
            raise ValueError(f"{self.name}: a radicand lies outside [0, x_max = {self.x_max}]")
        out = [np.empty(x.shape, dtype=object) for _ in range(4)]
        for index, xv in np.ndenumerate(x):
            v = int(xv) + self.eps
            y = rsqrt_round(v, self.shift)
            t = y * y
            lo = self.four_c2 - (4 * t - 4 * y + 1) * v
            hi = (4 * t + 4 * y + 1) * v - self.four_c2 - 1
            for arr, val in zip(out, (y, t, lo, hi)):
                arr[index] = val
        y, t, lo, hi = out
        if self.wide:
            return y, t, lo, hi
        t = t.astype(np.int64) if self.shift <= 31 else t
        return y.astype(np.int64), t, lo.astype(np.int64), hi.astype(np.int64)


# --- squared norms -----------------------------------------------------------------------------


def norm_bits(t_bits: int, inner_vars: int) -> int:
    """Bits of a squared norm of 2^inner_vars entries in [-2^(t_bits - 1), 2^(t_bits - 1)):
    N <= 2^(2 t_bits - 2 + inner_vars). A ValueError beyond MAX_RELATION_BITS."""
    if t_bits < 1 or inner_vars < 0:
        raise ValueError("norm: t_bits must be >= 1 and inner_vars >= 0")
    bits = 2 * t_bits - 2 + inner_vars + 1
    if bits > MAX_RELATION_BITS:
        raise ValueError(f"norm: {bits} bits > {MAX_RELATION_BITS} for {t_bits}-bit entries over 2^{inner_vars}")
    return bits


def squared_norms(values: np.ndarray, inner_vars: int) -> np.ndarray:
    """N_g = sum_i T(g, i)^2 exactly (Python ints, an object array of one norm per group) for
    T flattened in C order, the inner 2^inner_vars entries the low variables."""
    flat = np.asarray(values).reshape(-1, 1 << inner_vars)
    return np.array([sum(int(v) * int(v) for v in row) for row in flat], dtype=object)
