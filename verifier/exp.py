"""exp(-d) for d >= 0, verifier side: the claim reductions of ``circuits/exp.py``.

Committed, per exp gadget ``name`` over 2^n values (every tensor flat, the limbs tensors with
their slot axis innermost, ``circuits/limbs.py``):

    name.z0, name.z1    the limbs of d = z0 + 2^16 z1      (looked up: indices of E0, E1)
    name.e0, name.e1    E0[z0], E1[z1]                     (looked up: outputs of E0, E1)
    name.y, name.rem    limbs of Y and of Rem               (range-checked)

The lookups and range checks are one logUp statement with the caller's (``lookups``,
``range_tensors``: ``verifier/logup.py``). The reductions here, each a claim in and claims
out for the caller's ledger:

  * ``ExpWalk.split_input``: d is virtual; a claim d~(u) = v is checked as v = z0~(u) + 2^16 z1~(u)
    with both values sent (linear: the limbs recompose d, nonlinear-gadgets.md section 3);
  * ``ExpWalk.product`` (``product_reduction``): P = e0 * e1 is virtual; claims P~(u_j) = v_j become
    sum_x (sum_j rho_j eq(u_j, x)) e0(x) e1(x) = sum_j rho_j v_j, one degree-3 sumcheck
    (the Hadamard product, as the zkReLU product of DESIGN section 4) ending in claims on
    e0, e1;
  * ``ExpWalk.rescale`` (``rescale_reduction``): the zero-check sum_x eq(w, x) (e0 e1 - 2^k Y - Rem)(x) = 0 at a
    random w (one rescale, P = 2^k Y + Rem), with Y and Rem read from their limbs,
    V = offset + sum_i c_i L_i (a table per slot: the limbs tensor with its slot axis bound at
    the slot's boolean point). It holds for a nonzero row with probability <= n / r (a
    multilinear zero-check, Thaler's survey section 4) and ends in claims on e0, e1 and on each
    limbs tensor at each of its real slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from circuits.exp import (
    TABLE_BITS,
    check_params,
    output_decomposition,
    remainder_decomposition,
)
from circuits.limbs import LIMB_BITS
from circuits.tables import exp_tables

from .claims import Claim
from .errors import VerifyError
from .field import MODULUS as R
from .gadgets import slot_point
from .logup import FunctionLookup, LogupChannel, RangeTensor
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval
from .sumcheck import InstanceShape, Term
from .values import canonical, linear_combination


@dataclass(frozen=True)
class ExpGadget:
    """Y = exp(-d) at scale 2^frac_bits for 2^value_vars inputs d (``circuits/exp.py``)."""

    name: str
    value_vars: int
    frac_bits: int = 16
    table_bits: int = TABLE_BITS

    def __post_init__(self) -> None:
        check_params(self.frac_bits, self.table_bits)

    def tensor(self, part: str) -> str:
        """``name.z0``, ``name.z1``, ``name.e0``, ``name.e1``, ``name.y``, ``name.rem``."""
        return f"{self.name}.{part}"

    @property
    def shift(self) -> int:
        return check_params(self.frac_bits, self.table_bits)

    def lookups(self) -> tuple[FunctionLookup, FunctionLookup]:
        e0, e1 = exp_tables(self.frac_bits, self.table_bits)
        return (
            FunctionLookup(self.tensor("z0"), self.tensor("e0"), e0, self.value_vars),
            FunctionLookup(self.tensor("z1"), self.tensor("e1"), e1, self.value_vars),
        )

    def range_tensors(self) -> tuple[RangeTensor, RangeTensor]:
        return (
            RangeTensor(self.tensor("y"), output_decomposition(self.frac_bits), self.value_vars),
            RangeTensor(self.tensor("rem"), remainder_decomposition(self.frac_bits, self.table_bits), self.value_vars),
        )


class ExpWalk:
    """The gadget's reductions over a walk's channel (``verifier.logup.LogupChannel``): each
    method takes claims and returns the claims the caller's ledger consumes."""

    def __init__(self, gadget: ExpGadget, channel: LogupChannel):
        self.g = gadget
        self.ch = channel

    @staticmethod
    def _require(ok: bool, reason: str) -> None:
        if not ok:
            raise VerifyError(reason)

    def split_input(self, claim: Claim) -> list[Claim]:
        """A claim on the virtual d becomes claims on its limbs z0, z1 (d = z0 + 2^16 z1)."""
        g = self.g
        z0, z1 = (self.ch.evaluation(g.tensor(p), claim.point) for p in ("z0", "z1"))
        d = linear_combination([1, 1 << LIMB_BITS], [z0, z1])
        self._require(self.ch.equal(claim.value, d), f"exp {g.name}: the limbs do not recompose d")
        return [Claim(g.tensor("z0"), claim.point, canonical(z0)), Claim(g.tensor("z1"), claim.point, canonical(z1))]

    def product(self, claims: Sequence[Claim]) -> list[Claim]:
        """Claims on the virtual P (scale 2^(2 R_T)) become claims on e0 and e1."""
        rho = self.ch.transcript.challenge_scalars(b"exp-rho", len(claims))
        return self.ch.phase(b"exp-product", [product_reduction(self.g, claims, rho)])

    def rescale(self) -> list[Claim]:
        """P = 2^k Y + Rem everywhere, by a zero-check at a fresh w."""
        w = self.ch.transcript.challenge_scalars(b"exp-w", self.g.value_vars)
        return self.ch.phase(b"exp-rescale", [rescale_reduction(self.g, w)])


def _combined_eq(points: Sequence[Sequence[int]], rho: Sequence[int]):
    return lambda x: sum(r * eq_eval(u, x) for r, u in zip(rho, points, strict=True)) % R


def product_reduction(gadget: ExpGadget, claims: Sequence[Claim], rho: Sequence[int]) -> Reduction:
    """Claims on the virtual P = e0 * e1 (scale 2^(2 R_T)) become claims on e0 and e1.
    Tables [E, e0, e1], E = sum_j rho_j eq(u_j, .) public."""
    n = gadget.value_vars
    points = tuple(tuple(c.point) for c in claims)
    total = linear_combination(rho, [c.value for c in claims])

    def finish(evals):
        ((e_e, a_e, b_e),) = evals
        return [Claim(gadget.tensor("e0"), e_e.point, a_e.value), Claim(gadget.tensor("e1"), e_e.point, b_e.value)]

    tables = [Table("combined_eq", (points, tuple(rho))), Table("flat", (gadget.tensor("e0"),)),
              Table("flat", (gadget.tensor("e1"),))]
    public = {0: PublicTable(f"exp {gadget.name}: combined eq", _combined_eq(points, rho))}
    shape = InstanceShape(n, 3, (Term(1, (0, 1, 2)),))
    return Reduction(f"exp-product:{gadget.name}", [shape], [total], finish, [tables], [public])


def rescale_reduction(gadget: ExpGadget, w: Sequence[int]) -> Reduction:
    """The zero-check of P = 2^k Y + Rem at w (module docstring): sum_x eq(w, x) (e0 e1
    - 2^k sum_i c_i Y_i - sum_i c'_i Rem_i)(x) = 2^k offset_Y + offset_Rem, over the tables
    [eq_w, e0, e1, Y's real slots, Rem's real slots]."""
    y_t, rem_t = gadget.range_tensors()
    slots = [(t, i, c << gadget.shift if t is y_t else c)
             for t in (y_t, rem_t) for i, c in enumerate(t.decomposition.weights()[: t.decomposition.num_slots])]
    terms = [Term(1, (0, 1, 2))] + [Term(-c % R, (0, 3 + j)) for j, (_, _, c) in enumerate(slots)]
    shape = InstanceShape(gadget.value_vars, 3 + len(slots), tuple(terms))
    claimed = ((y_t.decomposition.offset << gadget.shift) + rem_t.decomposition.offset) % R

    def finish(evals):
        ((eq_e, a_e, b_e, *slot_e),) = evals
        r = tuple(eq_e.point)
        out = [Claim(gadget.tensor("e0"), r, a_e.value), Claim(gadget.tensor("e1"), r, b_e.value)]
        return out + [Claim(t.name, slot_point(t.decomposition, i) + r, e.value) for (t, i, _), e in zip(slots, slot_e)]

    tables = [Table("eq", (tuple(w),)), Table("flat", (gadget.tensor("e0"),)), Table("flat", (gadget.tensor("e1"),))]
    tables += [Table("bind", (t.name, 1, slot_point(t.decomposition, i))) for t, i, _ in slots]
    public = {0: PublicTable(f"exp {gadget.name}: rescale eq", lambda p: eq_eval(w, p))}
    return Reduction(f"exp-rescale:{gadget.name}", [shape], [claimed], finish, [tables], [public])
