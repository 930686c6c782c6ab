"""The layout of a proof of inference: y = f_W(x) for N inputs, W the trained model (issue 13,
item 3; DESIGN section 10, "Inference reuses the forward half of the training walk").

The semantics is the training forward pass of ``circuits.semantics`` on a batch of N rows,
with the final weights and biases W_l, b_l of a training run (master values at 2^(2R+k)),
layers l = 1..L, A_0 = X (the inputs at 2^R), S = 2R + k:

    Z_l = A_{l-1} W_l^T + 2^R [n < N] b_l = 2^S Z'_l + Rem_l,   Rem_l in [-2^(S-1), 2^(S-1))
    A_l = (1 - s_l) Z'_l,   s_l = [Z'_l <= 0]                  (hidden layers: zkReLU)
    Y = Z'_L                                                  (the logits, at 2^R)

On the N real rows this is exactly the engine's forward (``zktrain.fixedpoint.engine``); the
predicate [n < N] on the padded rows n in [N, N') makes their pre-activations, remainders
and activations zero, so the padding is forced by the relation itself (DESIGN section 9),
never masked: with X and Y public and zero there, the one witness the relations admit on the
padded rows is zero (s = 1).

Tensors, rows padded to N' = 2^ceil(log2 N) and widths to powers of two, the slot axis
innermost (``s`` the gadget's suffix, ``limbs`` or ``bits``):

  Z{l}.s   [N', d_l', slots]   Z'_l - 1 of a hidden layer, Q bits, two's complement: its sign
                               slot is the ReLU indicator s = [Z' <= 0] (committed)
  R{l}.s   [N', d_l', slots]   Rem_l + 2^(S-1), S bits, every layer (committed)
  logup.m{b}                   the limb gadget's multiplicities (committed)
  W{l}.T   [d_l', d_{l-1}']    the training bundle's final weights (public commitment, reused)
  b{l}.T   [d_l']              its final biases (public commitment, reused; with model.bias)

Y [N', d_L'] is public: the verifier checks its width (Q signed bits) and evaluates it itself,
so Z'_L needs no slots. The inputs X [N', d_0'] are public or committed (``committed_inputs``):

  public     the verifier checks their width (the recipe's input width) and evaluates them;
  committed  X.s [N', d_0', slots], X's range slots in the recipe's input width (the training
             data's decomposition, ``MlpCircuit.x_slots``): a public commitment the inference
             bundle carries in place of the values, range-checked by the proof's gadget, its
             padding (rows n >= N, features j >= d_0) zero-checked against the public
             predicate (no relation forces it: the padded columns of W_1 are zero, so a
             padded feature would change nothing), and the claims on A_0 = X reduce to it.

Every other tensor (A_l, Z'_l, s_l) is virtual. The range gadgets and their decompositions
are the training circuit's (``circuits.mlp.MlpCircuit``), so a value is range-checked to the
very width training checks it to.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .layout import Layout, log2_ceil
from .mlp import Decomposition, MlpCircuit, RangedTensor

if TYPE_CHECKING:
    from .recipe import Recipe

#: Inputs per proof (public rows), and public entries N (d_0 + d_L) in all: the verifier reads
#: and evaluates them, so they bound its work (issue 12).
MAX_ROWS = 1 << 16
MAX_PUBLIC_ENTRIES = 1 << 24


@dataclass(frozen=True)
class InferenceCircuit:
    """The training circuit of the recipe (its widths, quantization and range gadget) and N."""

    model: MlpCircuit
    rows: int
    #: The inputs are a commitment to their range slots X.s (module docstring), not public values.
    committed_inputs: bool = False

    def __post_init__(self) -> None:
        if type(self.committed_inputs) is not bool:
            raise ValueError(f"committed_inputs must be a bool, got {self.committed_inputs!r}")
        if type(self.rows) is not int or not 1 <= self.rows <= MAX_ROWS:
            raise ValueError(f"an inference proof covers 1 to {MAX_ROWS} inputs, got {self.rows!r}")
        entries = self.rows * (self.widths[0] + self.widths[-1])
        if entries > MAX_PUBLIC_ENTRIES:
            raise ValueError(f"{self.rows} inputs of {self.widths[0]} features and {self.widths[-1]} outputs: "
                             f"{entries} public entries exceed the limit of {MAX_PUBLIC_ENTRIES}")

    @classmethod
    def from_recipe(
        cls, recipe: "Recipe", rows: int, range_check: str = "limbs", committed_inputs: bool = False
    ) -> "InferenceCircuit":
        return cls(MlpCircuit.from_recipe(recipe, range_check), rows, committed_inputs)

    def encode(self) -> bytes:
        """Canonical bytes of every parameter, which the walk absorbs."""
        return json.dumps({"model": asdict(self.model), "rows": self.rows, "committed_inputs": self.committed_inputs},
                          sort_keys=True, separators=(",", ":")).encode()

    # --- sizes ----------------------------------------------------------------------------
    @property
    def widths(self) -> tuple[int, ...]:
        return self.model.widths

    @property
    def layers(self) -> int:
        return self.model.layers

    @property
    def bias(self) -> bool:
        return self.model.bias

    @property
    def range_check(self) -> str:
        return self.model.range_check

    @property
    def frac_bits(self) -> int:
        return self.model.frac_bits

    @property
    def rescale_bits(self) -> int:
        return self.model.rescale_bits

    @property
    def batch_vars(self) -> int:
        """Variables of the row axis: N' = 2^batch_vars."""
        return log2_ceil(self.rows)

    def width_vars(self, i: int) -> int:
        return self.model.width_vars(i)

    # --- decompositions and committed tensors ---------------------------------------------
    def z_slots(self, layer: int) -> Decomposition:
        """Z'_l - 1 of a hidden layer (the training circuit's decomposition)."""
        if not 1 <= layer < self.layers:
            raise ValueError(f"layer {layer} is not a hidden layer: the logits are public")
        return self.model.z_slots(layer)

    def rem_slots(self) -> Decomposition:
        return self.model.rem_slots()

    def relu_slots(self) -> Decomposition:
        return self.model.relu_slots()

    def relu_input(self, layer: int) -> tuple[str, str]:
        """(committed slots, virtual name) of hidden layer l's ReLU input: Z'_l, or with Ghost BN
        its eval-mode output (``MlpCircuit.relu_input``)."""
        return self.model.relu_input(layer)

    def ghost_bn_eval(self, layer: int):
        """Layer l's eval-mode Ghost BN (``circuits.ghost_bn_eval``), named ``bn{l}`` as training's,
        over the N' rows (the N real ones, the rest padding) and the layer's padded features."""
        return _ghost_bn_eval(self, layer)

    def x_slots(self) -> Decomposition:
        """The inputs in the recipe's input width (the training data's decomposition)."""
        return self.model.x_slots()

    def ranged(self, base: str) -> str:
        return self.model.ranged(base)

    def slots_layout(self, layer: int, decomposition: Decomposition) -> Layout:
        return Layout.of(n=self.batch_vars, j=self.width_vars(layer), slot=decomposition.slot_vars)

    def input_tensor(self) -> str:
        """The committed slots of the inputs (committed inputs only)."""
        return self.ranged("X")

    def committed_ranges(self) -> dict[str, RangedTensor]:
        """Name -> layout and decomposition of every committed slots tensor; committed inputs
        first, with the real extent of their rows and features (their padding is zero-checked),
        then the witness's (their padding is forced by the relations: the module docstring)."""
        out = {}
        if self.committed_inputs:
            x = self.x_slots()
            out[self.input_tensor()] = RangedTensor(self.slots_layout(0, x), x, {"n": self.rows, "j": self.widths[0]})
        for l in range(1, self.layers + 1):
            if l < self.layers:
                out[self.ranged(f"Z{l}")] = RangedTensor(self.slots_layout(l, self.z_slots(l)), self.z_slots(l))
            out[self.ranged(f"R{l}")] = RangedTensor(self.slots_layout(l, self.rem_slots()), self.rem_slots())
        for l in self.model.norm_layers():  # the ReLU's input Y, then the eval gadget's slots
            out[self.ranged(f"N{l}")] = RangedTensor(self.slots_layout(l, self.relu_slots()), self.relu_slots())
            gadget = self.ghost_bn_eval(l)
            for name, d, value_vars in gadget.ranged():
                rows = self.batch_vars if value_vars == gadget.element_vars else 0
                out[name] = RangedTensor(Layout.of(n=rows, j=self.width_vars(l), slot=d.slot_vars), d)
        return out

    def weight_tensors(self) -> list[str]:
        """The training bundle's final commitments the proof takes as its public W_l, b_l (and
        Ghost BN's gamma, beta and running statistics, ``bn{l}.*.T``)."""
        layers = range(1, self.layers + 1)
        params = [f"W{l}.T" for l in layers] + ([f"b{l}.T" for l in layers] if self.bias else [])
        return params + self.model.norm_state_tensors("T")


@lru_cache(maxsize=64)
def _ghost_bn_eval(c: InferenceCircuit, layer: int):
    from .ghost_bn_eval import GhostBnEval

    m = c.model
    return GhostBnEval(f"bn{layer}", m.norm_spec(), c.batch_vars, c.width_vars(layer),
                       m.limb_bits if m.range_check == "limbs" else None, real_rows=c.rows)
