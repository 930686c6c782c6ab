"""The optimizer step of the training walk: how claims on the stacked weights are reduced.

One module per ``train.optimizer`` (DESIGN section 10), chosen by ``optimizer_module``; the
walk (``verifier/training.py``) calls its hooks at fixed places, so the prover and the verifier
run the same reductions:

  ``relations``  phase A: the optimizer's own relations (none for plain SGD);
  ``update``     a claim sum_s kappa_s U~(s, p) = value on the summed updates U_s, the shape
                 every claim on W_t, b_t takes once W_0, b_0 are subtracted (phases 1 and 2);
  ``settle``     after phase 2: claims on the optimizer's virtual values become claims on
                 its committed slots.

Plain SGD (``SgdStep``): U_s = G_W,s = G_Z,s^T A_s, virtual (DESIGN section 5).

SGD with momentum and weight decay, design (A) of docs/momentum.md (``MomentumStep``):
U_s = buf_s, the momentum buffer, committed as range-checked slots every step with its
rounding remainder r_s, and related to the gradient by (docs/momentum.md section 2)

    2^K buf_t + r_t = mu' buf_{t-1} + 2^K G_t + lam' W_t,     mu' = mu_num 2^(K - k_mu),
                                                              lam' = lam_num 2^(K - k - k_lam),

checked at a random point (tau, p) of the stacked tensors. buf_{t-1} is the buffer shifted by
one step over the step variables, with the segment's starting buffer at t = 0 (zero in the
first segment; else the previous segment's committed checkpoint ``V*{l}.T``, which this
segment takes as ``V*{l}.0``). The relation holds on every padded step too: the padded steps
(lr 0, zero data) continue the recurrence, so no step predicate is needed, and the checkpoint
``V*{l}.T`` is the buffer at the last *real* step, read off the stacked buffer at that step's
boolean point. W_t stays virtual: W_t = W_0 - sum_{s<t} lr_s buf_s is linear in the committed
buffer. Biases alike, with G_b = 2^R sum_b G_Z.
"""

from __future__ import annotations

from typing import Sequence

from circuits.mlp import MlpCircuit

from .claims import Claim
from .gadgets import step_functional_reduction
from .phase import Reduction, Table
from .polynomial import eq_table


class SgdStep:
    """Plain SGD: the update U_s is the weight gradient G_Z,s^T A_s itself (virtual)."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        return []

    def relations(self, walk) -> list[Reduction]:
        return []

    def update(self, walk, kind: str, layer: int, name: str, value, kappa: Sequence[int], point) -> Reduction:
        """sum_s kappa_s G~(s, p) = value: the gradient functional over G_Z (and A for W)."""
        c = walk.c
        if kind == "W":
            ni = c.width_vars(layer - 1)
            return walk.gradient_functional(name, value, kappa, layer, point[ni:], point[:ni])
        return walk.gradient_functional(name, value, kappa, layer, point, coeff=1 << c.frac_bits)

    def settle(self, walk) -> None:
        pass


class MomentumStep:
    """SGD with momentum and weight decay, design (A): the update U_s is the committed buffer."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        """The buffers a segment starts from (``end = "0"``) or ends on (``"T"``)."""
        return [f"V{kind}{l}.{end}" for kind in _kinds(c) for l in range(1, c.layers + 1)]

    def update(self, walk, kind: str, layer: int, name: str, value, kappa: Sequence[int], point) -> Reduction:
        """sum_s kappa_s buf~(s, p) = value: one sumcheck over the steps, buf bound at p."""
        tensor = f"V{kind}{layer}"
        return step_functional_reduction(
            name, value, kappa, 0, [Table("bind", (tensor, 1, tuple(point)))],
            [lambda r_b, r_s: (tensor, tuple(point) + r_s)],
        )

    def relations(self, walk) -> list[Reduction]:
        """Per layer and parameter kind: the buffer relation at a random point, and the
        checkpoint V*{l}.T read off the buffer at the segment's last real step."""
        c, st, t, ch = walk.c, walk.st, walk.t, walk.ch
        K = c.momentum_shift
        mu, lam = momentum_coefficients(c)
        last = tuple((c.steps - 1) >> j & 1 for j in range(c.step_vars))
        out: list[Reduction] = []
        t.domain_separate(b"momentum")
        for kind in _kinds(c):
            for l in range(1, c.layers + 1):
                n = _param_vars(c, kind, l)
                u = tuple(t.challenge_scalars(b"momentum-point", n + c.step_vars))
                p, tau = u[:n], u[n:]
                buf = walk.slice_value(c.ranged(f"V{kind}{l}"), c.buf_slots(), u)
                rem = walk.slice_value(c.ranged(f"RV{kind}{l}"), c.buf_rem_slots(), u)
                param = ch.evaluation(f"{kind}{l}", u)  # W~_t (p, tau): phase 2 reduces it
                walk.ledger.add(Claim(f"{kind}{l}", u, param))
                prev = ch.evaluation(f"V{kind}{l}.prev", u)  # buf~_{t-1} (p, tau)
                # 2^K buf + r - mu' buf_prev - lam' W = 2^K G~(p, tau) (G_b = 2^R sum_b G_Z).
                value = (1 << K) * buf + rem - mu * prev - lam * param
                coeff = (1 << K) if kind == "W" else (1 << (K + c.frac_bits))
                eq_tau = eq_table(tau)
                if kind == "W":
                    ni = c.width_vars(l - 1)
                    out.append(walk.gradient_functional(f"momentum{l}", value, eq_tau, l, p[ni:], p[:ni], coeff))
                else:
                    out.append(walk.gradient_functional(f"momentum-bias{l}", value, eq_tau, l, p, coeff=coeff))
                # buf~_{t-1}(p, tau) = eq(tau, 0) start~(p) + sum_s eq(tau, s + 1) buf~(s, p).
                start = 0
                if st.committed_init:
                    start = ch.evaluation(f"V{kind}{l}.0", p)
                    walk.ledger.add(Claim(f"V{kind}{l}.0", p, start))
                shifted = eq_tau[1:] + [0]
                out.append(self.update(walk, kind, l, f"momentum-shift{kind}{l}", prev - eq_tau[0] * start, shifted, p))
                # The checkpoint: V~_T(v) = buf~(v, last real step), from buf's slot values there.
                v = tuple(t.challenge_scalars(b"final-buffer-point", n))
                end = ch.evaluation(f"V{kind}{l}.T", v)
                walk.ledger.add(Claim(f"V{kind}{l}.T", v, end))
                walk.slice_value(c.ranged(f"V{kind}{l}"), c.buf_slots(), v + last, end)
        return out

    def settle(self, walk) -> None:
        """Claims on the virtual buffer values become claims on their committed slots: the
        slot values at each point must recompose to the claimed value."""
        c = walk.c
        for kind in _kinds(c):
            for l in range(1, c.layers + 1):
                for claim in walk.ledger.take(f"V{kind}{l}"):
                    walk.slice_value(c.ranged(f"V{kind}{l}"), c.buf_slots(), claim.point, claim.value)


def momentum_coefficients(c: MlpCircuit) -> tuple[int, int]:
    """(mu', lam') = (mu_num 2^(K - k_mu), lam_num 2^(K - k - k_lam)): mu and the folded decay
    at the buffer relation's scale 2^K (module docstring)."""
    spec, K = c.momentum_spec(), c.momentum_shift
    lam = spec.lam.num << (K - c.lr_shift - spec.lam.shift) if spec.lam.num else 0
    return spec.mu.num << (K - spec.mu.shift), lam


def _kinds(c: MlpCircuit) -> tuple[str, ...]:
    return ("W", "b") if c.bias else ("W",)


def _param_vars(c: MlpCircuit, kind: str, layer: int) -> int:
    return c.width_vars(layer) + (c.width_vars(layer - 1) if kind == "W" else 0)


def optimizer_module(c: MlpCircuit) -> SgdStep | MomentumStep:
    """The walk's optimizer step for the circuit's ``optimizer``."""
    return MomentumStep() if c.has_momentum else SgdStep()
