"""The loss of an MLP training circuit, one description per loss (DESIGN section 10: "the walk
composes operations; it does not branch on them"; ``docs/cross_entropy_proof.md`` section 1).

A loss description says what the loss adds to the circuit's statement: its committed tensors
(with their layouts), its range-checked slots tensors (joined to ``MlpCircuit.committed_ranges``,
so that the walk's range gadget, logUp limbs or bits' booleanity, checks them with the rest),
and the gadget instances its relations use. The relations themselves are checked by the
verifier's loss modules (``verifier/losses.py``) and witnessed by the prover's
(``prover/losses.py``); ``LOSS_CIRCUITS`` maps a recipe's ``train.loss`` to its description.

  mse            G_out = Z'_L - Y (DESIGN section 4): nothing committed beyond the walk's.
  cross_entropy  G_out = p - Y, p the exact fixed-point softmax of the logits Z'_L
                 (``circuits/softmax.py``, (CE1)-(CE6)), over the rows (batch, step) of the
                 stacked logits [T', B, C'] (classes innermost; C' = 2^ceil(log2 C)):

  ce.max.e                [T', B, C']       one-hot argmax (``circuits/rowmax.py`` (a), (p), (b))
  ce.z0, ce.z1            [T', B, C']       the gap D = M (m - z) = z0 + 2^16 z1 (CE2): the exp
                                            tables' indices, range-checked by their lookups
  ce.e0, ce.e1            [T', B, C']       E0[z0], E1[z1] (function lookups, ``circuits/exp.py``)
  ce.div.{q,r,u}.slots    [T', B, C', slots] the division's p, r', 2S - 1 - r' (``circuits/division.py``)
  ce.div.d.slots          [T', B, slots]    its divisor S - 1 (S = sum_j M_j e0 e1, (CE4))

(limbs or bits, the circuit's range gadget). Virtual: the row max m (its
evaluations are sent), P = e0 e1, the numerator n = M P (CE3), S, and G.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .division import Division
from .layout import Layout
from .rowmax import RowMax
from .softmax import LOSSES, SoftmaxSizing

if TYPE_CHECKING:
    from .mlp import MlpCircuit, RangedTensor


@dataclass(frozen=True)
class MseLossCircuit:
    """MSE: G_out = Z'_L - Y, checked by the walk's phase 3; nothing of its own."""

    circuit: MlpCircuit

    def committed(self) -> dict[str, Layout]:
        return {}

    def ranges(self) -> dict[str, RangedTensor]:
        return {}


@dataclass(frozen=True)
class SoftmaxCELossCircuit:
    """Softmax cross-entropy (module docstring): the tensors and gadget instances of (CE1)-(CE6)
    over the circuit's stacked logits."""

    circuit: MlpCircuit

    # --- shape ------------------------------------------------------------------------------
    @property
    def classes(self) -> int:
        return self.circuit.widths[-1]

    @property
    def cols_vars(self) -> int:
        return self.circuit.width_vars(self.circuit.layers)

    @property
    def rows_vars(self) -> int:
        """Rows are (batch, step), batch the low variables (the walk's stacking order)."""
        return self.circuit.batch_vars + self.circuit.step_vars

    @property
    def num_vars(self) -> int:
        return self.rows_vars + self.cols_vars

    @property
    def sizing(self) -> SoftmaxSizing:
        """The widths of ``circuits.softmax`` at the padded C' columns (validates R, Q)."""
        c = self.circuit
        return SoftmaxSizing(self.classes, 1 << self.cols_vars, c.frac_bits, c.value_bits,
                             rows=c.batch * c.padded_steps)

    @property
    def limb_bits(self) -> int | None:
        return self.circuit.limb_bits if self.circuit.range_check == "limbs" else None

    # --- the gadget instances ---------------------------------------------------------------
    #: The softmax's input, Z'_L stacked [T', B, C'] (virtual: the verifier takes its claims to
    #: the committed Z{L} slots; the prover's table of the logits the softmax consumed).
    logits = "ce.logits"

    @property
    def rowmax(self) -> RowMax:
        """(CE1), (CE2): m = max over the real classes; D is read from z0, z1, not slots."""
        return RowMax("ce.max", self.rows_vars, self.cols_vars, self.classes, self.circuit.value_bits,
                      self.limb_bits, logits=self.logits)

    @property
    def division(self) -> Division:
        """(CE5): p = round_half_up(2^R n / S), committed divisor S, ``SoftmaxSizing.division``'s
        widths (w_n = 2 R_T + 2, w_d = 2 R_T + log2 C', w_q = R + 2)."""
        return dataclasses.replace(self.sizing.division, name="ce.div", rows_vars=self.rows_vars,
                                   limb_bits=self.limb_bits, numerator=self.numerator)

    numerator = "ce.n"
    onehot = "ce.max.e"
    z0, z1, e0, e1 = "ce.z0", "ce.z1", "ce.e0", "ce.e1"

    def committed(self) -> dict[str, Layout]:
        """The committed tensors that are not slots: the one-hot, the exp indices and outputs."""
        c = self.circuit
        layout = Layout.of(t=c.step_vars, b=c.batch_vars, j=self.cols_vars)
        return {name: layout for name in (self.onehot, self.z0, self.z1, self.e0, self.e1)}

    def ranges(self) -> dict[str, RangedTensor]:
        """The division's slots tensors (``circuits.division.Division.slots``): S - 1, p, r', u.
        Their padding needs no zero-check: every relation holds on padded steps and classes,
        whose honest values the relations force (n = 0 gives p = 0 for every admitted S)."""
        from .mlp import RangedTensor

        c, div = self.circuit, self.division
        out = {}
        for value, dec, per_row in (("d", div.d_slots(), True), ("q", div.q_slots(), False),
                                    ("r", div.r_slots(), False), ("u", div.u_slots(), False)):
            axes = {"t": c.step_vars, "b": c.batch_vars} if per_row else {"t": c.step_vars, "b": c.batch_vars, "j": self.cols_vars}
            out[div.slots(value)] = RangedTensor(Layout.of(**axes, slot=dec.slot_vars), dec)
        return out


LOSS_CIRCUITS = {"mse": MseLossCircuit, "cross_entropy": SoftmaxCELossCircuit}
assert tuple(LOSS_CIRCUITS) == LOSSES


def loss_circuit(circuit: MlpCircuit) -> MseLossCircuit | SoftmaxCELossCircuit:
    return LOSS_CIRCUITS[circuit.loss](circuit)

