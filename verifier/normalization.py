"""The training walk's normalization module: Ghost BN between every hidden Linear and its ReLU
(``model.norm: ghost_bn``; docs/ghost_bn.md section 4, DESIGN section 10), one step gadget per
layer (``verifier/ghost_bn_step.py``) whose inputs and outputs are the walk's tensors:

* its input x is the layer's Z' (the matmul's rescaled output, ``Z{l}``'s slots, now a plain
  Q-bit value: the ReLU reads Y), its output Y the ReLU's input (``N{l}``'s slots, Y - 1 with
  the sign slot s = [Y <= 0]), its dy the ReLU's masked gradient (1 - s) G'_A (phase 3), and
  its dx, committed as slots, the layer's G_Z: the claims the matmuls and the weight gradients
  leave on G_Z{l} are read off dx's slots;
* Gamma and beta are stacked over the steps like the weights and trained by the run's optimizer
  like a bias (``MlpCircuit.trained_tensors``): Gamma_t = Gamma_0 - sum_{s<t} lr_s U_s with U
  the gradient dgamma = sum_b dy X (dbeta = 2^R sum_b dy) under SGD, or the committed momentum
  buffer, whose relation reads that gradient (``verifier/optimizers.py``). So every claim on
  them, the gadget's and the final checkpoint's, is a step functional of the optimizer's update,
  and every gradient claim one of dgamma over dy and X (``gradient_functional``: relation 6,
  proven here rather than by the gadget: the gadget runs with ``gradients=False``);
* the running statistics start from torch's (RM = 0, RV = 1 at 2^(2R) on the real features,
  gamma = 1 at 2^S, beta = 0; zero on padded features, where every relation keeps them zero)
  in a run's first segment, and from the previous segment's checkpoint after; the
  checkpoints ``bn{l}.RM.T``, ``bn{l}.RV.T`` are read off the states' slots at the last real
  step's last ghost batch (padded steps run the recurrence on; their states are never used).

Every check is the gadget's, the walk's step functionals' and slot ties', plus the first
segment's starting statistics (``require_equal``, named).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from circuits.mlp import MlpCircuit

from .claims import Claim
from .gadgets import step_functional_reduction
from .field import MODULUS as R
from .ghost_bn_step import bound_name, verify_ghost_bn_step
from .phase import Reduction, Table
from .polynomial import eq_table, mle_evaluate_int64
from .values import Value


class GhostBnLayers:
    """Ghost BN in every hidden layer (module docstring); the walk calls its hooks in order:
    ``final_points`` (phase A), ``relations`` (after phase 1), ``parameter_claims`` (phase 2),
    ``settle`` (after phase 2), ``dx_claims`` and ``dy_claims`` (phase 3)."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        return c.norm_state_tensors(end)

    # --- the starting state ---------------------------------------------------------------
    @staticmethod
    def seeded(c: MlpCircuit, layer: int, value: str) -> np.ndarray:
        """torch's initial gamma (2^S), beta (0), running mean (0) and variance (2^(2R)) on the
        layer's real features, zero on the padded ones; momentum buffers (if any) zero."""
        fill = {"Gamma": 1 << c.rescale_bits, "RV": 1 << (2 * c.frac_bits)}.get(value, 0)  # beta, RM, the optimizer's
        out = np.zeros(1 << c.width_vars(layer), dtype=np.int64)
        out[: c.widths[layer]] = fill
        return out

    def initial(self, walk, layer: int, value: str, point: Sequence[int]) -> Value:
        """gamma_0, beta_0, RM_0 or RV_0 at a point: the verifier's own seeded value, or a
        checkpoint's (a segment after the first), claimed by the prover and ledgered."""
        if not walk.st.committed_init:
            return mle_evaluate_int64(self.seeded(walk.c, layer, value), point)
        name = f"bn{layer}.{value}.0"
        v = walk.ch.evaluation(name, point)
        walk.ledger.add(Claim(name, tuple(point), v))
        return v

    # --- the hooks ------------------------------------------------------------------------
    def final_points(self, walk) -> list[Reduction]:
        """Phase A: gamma_T and beta_T at a drawn point are gamma_0, beta_0 minus the summed
        updates; RM_T and RV_T there are the running statistics after the last real step."""
        c, t, ch, out = walk.c, walk.t, walk.ch, []
        for l in c.norm_layers():
            g = c.ghost_bn(l)
            u = tuple(t.challenge_scalars(b"final-norm-point", g.feature_vars))
            for value in ("Gamma", "beta"):
                end = ch.evaluation(f"bn{l}.{value}.T", u)
                walk.ledger.add(Claim(f"bn{l}.{value}.T", u, end))
                start = self.initial(walk, l, value, u)
                out.append(walk.optimizer.update(walk, value, l, f"final-bn-{value}{l}", start - end,
                                                 walk.optimizer.rates(c), u))
            last = g.states - g.spec.ghosts * (g.steps - c.steps) - 1  # j = t G + g at the last real step
            bits = tuple(last >> j & 1 for j in range(g.group_vars + g.step_vars))
            for value in ("RM", "RV"):
                end = ch.evaluation(f"bn{l}.{value}.T", u)
                walk.ledger.add(Claim(f"bn{l}.{value}.T", u, end))
                walk.slice_value(g.slots(value), g.slot_decomposition(value), u + bits, end)
        return out

    def relations(self, walk) -> None:
        """After phase 1: each layer's gadget, its claims handed on: x to Z'{l}'s slots, Y to
        the ReLU (``relu_operands``), dy to the ReLU's gradient (phase 3), Gamma and beta to
        phase 2, RM0 and RV0 to the starting state."""
        c = walk.c
        walk.t.domain_separate(b"ghost-bn")
        for l in c.norm_layers():
            g = c.ghost_bn(l)
            x, dy, y, gamma_e, beta_e, gamma_s, rm0, rv0, x_i, dy_i = verify_ghost_bn_step(walk, g, gradients=False)
            for claim in (x, x_i):
                walk.slice_value(c.ranged(f"Z{l}"), c.z_slots(l), claim.point, claim.value)
            for claim in (y, dy, dy_i, gamma_e, beta_e, gamma_s):
                walk.ledger.add(claim)
            for claim, value in ((rm0, "RM"), (rv0, "RV")):
                start = self.initial(walk, l, value, claim.point)
                walk.require_equal(claim.value, start, f"ghost bn{l}: the running statistic {value} does not "
                                                       f"start from the {'checkpoint' if walk.st.committed_init else 'initial state'}")

    def parameter_claims(self, walk) -> list[Reduction]:
        """Phase 2: every claim Gamma~(p, r_t) (beta alike) is gamma_0~(p) minus the step
        functional sum_s kappa_s U~(s, p) of the optimizer's updates before r_t."""
        c, out = walk.c, []
        for l in c.norm_layers():
            fv = c.width_vars(l)
            for value in ("Gamma", "beta"):
                for claim in walk.ledger.take(c.ghost_bn(l).t(value)):
                    p, r_t = claim.point[:fv], claim.point[fv:]
                    start = self.initial(walk, l, value, p)
                    out.append(walk.optimizer.update(walk, value, l, f"bn-{value}{l}", start - claim.value,
                                                     walk._kappa_stacked(r_t), p))
        return out

    def gradient_functional(self, walk, value: str, layer: int, name: str, claimed, kappa: Sequence[int], p,
                            coeff: int = 1) -> Reduction:
        """coeff sum_s kappa_s dgamma~(s, p) = claimed with dgamma = sum_b dy X, or coeff 2^R
        sum_s kappa_s dbeta~(s, p) with dbeta = sum_b dy (relation 6). dgamma is a Hadamard product over the
        features, so its MLE at p is not dy~(p) X~(p) summed over b: one sumcheck over (b, c, s)
        with the public weights eq(p, c) kappa_s (constant over b), on the prover's copies of dy
        and X with the b bits innermost (``bound_name``); its claims are mapped back to dy and X."""
        g, fv = walk.c.ghost_bn(layer), walk.c.width_vars(layer)
        eq_p = eq_table(tuple(p))
        weights = [k * e % R for k in kappa for e in eq_p]  # (c, s), c low
        operands = [g.t("dy")] + ([g.t("X")] if value == "Gamma" else [])
        coeff = coeff if value == "Gamma" else coeff << walk.c.frac_bits
        return step_functional_reduction(
            name, claimed, weights, g.batch_vars, [Table("flat", (bound_name(n, "b"),)) for n in operands],
            [lambda r_b, r_cs, n=n: (n, tuple(r_cs[:fv]) + tuple(r_b) + tuple(r_cs[fv:])) for n in operands], coeff)

    def settle(self, walk) -> None:
        """After phase 2: the step functionals' claims on X are what X's slots recompose to."""
        for l in walk.c.norm_layers():
            g = walk.c.ghost_bn(l)
            for claim in walk.ledger.take(g.t("X")):
                walk.slice_value(g.slots("X"), g.slot_decomposition("X"), claim.point, claim.value)

    def dx_claims(self, walk, layer: int, claims: Sequence[Claim]) -> None:
        """Phase 3: the claims on G_Z{l} are claims on the gadget's dx, read off its slots."""
        g = walk.c.ghost_bn(layer)
        for claim in claims:
            walk.slice_value(g.slots("dx"), g.slot_decomposition("dx"), claim.point, claim.value)

    def dy_claims(self, walk, layer: int) -> list[Claim]:
        """Phase 3: the claims on the gadget's dy, the ReLU's masked gradient (1 - s) G'_A."""
        return walk.ledger.take(walk.c.ghost_bn(layer).t("dy"))


class NoNorm:
    """No normalization: every hook does nothing."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        return []

    def final_points(self, walk) -> list[Reduction]:
        return []

    def relations(self, walk) -> None:
        pass

    def parameter_claims(self, walk) -> list[Reduction]:
        return []

    def settle(self, walk) -> None:
        pass


def norm_module(c: MlpCircuit) -> GhostBnLayers | NoNorm:
    """The walk's normalization for the circuit's ``norm``."""
    return GhostBnLayers() if c.has_norm else NoNorm()
