"""ConAdv: concurrent adversarial learning for large-batch training.

Liu, Chen, Cheng, Hsieh & You, "Concurrent Adversarial Learning for Large-Batch Training"
(ICLR 2022, arXiv:2106.00221). Adversarial training smooths the loss surface around the data,
which counters the sharp minima of large-batch training, but it needs two *sequential* gradient
computations per step: one with respect to the input (the attack), then one with respect to the
weights on the attacked input. ConAdv takes the attack gradient at the *stale* weights
theta_{t-1} instead of theta_t:

    x_adv = x + epsilon * sign( grad_x loss(f(x; theta_{t-1}), y) )
    loss_t = loss(f(x; theta_t), y) + adv_weight * loss(f(x_adv; theta_t), y)

so the attack on batch t depends only on weights that already exist while step t-1 is being
computed, and the two gradient computations can run concurrently (the paper overlaps them across
workers). No official code is published. The single-step sign attack (FGSM) and the sum of the
clean and adversarial losses (adv_weight = 1) follow the paper's description as recalled in
the project's reference notes, not a verified transcription of it.

:class:`ConAdv` is an objective in the sense of ``zktrain.train.builders.Objective``: called with
``(model, loss_fn, x, y)`` before each optimizer step, it returns ``(loss, clean outputs)``,
the loss reduced as ``loss_fn`` reduces (per-sample losses in the training loop). It
keeps a detached copy of the parameters and buffers it was last called with: that copy is
theta_{t-1} at the next call. The attack is evaluated functionally on the copy
(``torch.func.functional_call``), so it neither touches the live model's gradients nor its
buffers; at the first call there are no stale weights yet and the current ones are used.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["ConAdv"]

LossFn = Callable[[Tensor, Tensor], Tensor]


class ConAdv:
    """Adversarial examples from stale weights (Liu et al. 2022).

    Args:
        epsilon: size of the sign perturbation, in input units (> 0).
        adv_weight: weight of the adversarial loss in the objective (> 0).
        input_min, input_max: optional bounds the adversarial input is clamped to (for example
            the data range); both or neither.
    """

    def __init__(
        self,
        epsilon: float,
        adv_weight: float = 1.0,
        input_min: float | None = None,
        input_max: float | None = None,
    ) -> None:
        if not epsilon > 0.0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
        if not adv_weight > 0.0:
            raise ValueError(f"adv_weight must be > 0, got {adv_weight!r}")
        if (input_min is None) != (input_max is None) or (input_min is not None and not input_min < input_max):
            raise ValueError(f"input_min and input_max must both be unset or satisfy min < max, got {input_min!r}, {input_max!r}")
        self.epsilon = epsilon
        self.adv_weight = adv_weight
        self.input_min, self.input_max = input_min, input_max
        self._stale: tuple[dict[str, Tensor], dict[str, Tensor]] | None = None

    @staticmethod
    def _snapshot(model: nn.Module) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        params = {name: p.detach().clone() for name, p in model.named_parameters()}
        buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
        return params, buffers

    def adversarial_examples(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
        """``x + epsilon * sign(grad_x loss)`` at the stale weights (the current ones at first)."""
        params, buffers = self._stale if self._stale is not None else self._snapshot(model)
        x_attack = x.detach().requires_grad_(True)
        with torch.enable_grad():
            # Summed, so per-sample losses work too; the sign of the gradient ignores the scale.
            attack_loss = loss_fn(functional_call(model, (params, buffers), (x_attack,)), y).sum()
            (grad,) = torch.autograd.grad(attack_loss, x_attack)
        x_adv = x.detach() + self.epsilon * grad.sign()
        if self.input_min is not None:
            x_adv = x_adv.clamp(self.input_min, self.input_max)
        return x_adv

    def __call__(self, model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The ConAdv loss at the current weights, and the clean outputs."""
        x_adv = self.adversarial_examples(model, loss_fn, x, y)
        # theta_t becomes the stale copy for the next call, taken before the optimizer step.
        self._stale = self._snapshot(model)
        outputs = model(x)
        loss = loss_fn(outputs, y) + self.adv_weight * loss_fn(model(x_adv), y)
        return loss, outputs

    def __repr__(self) -> str:
        bounds = f", input_min={self.input_min}, input_max={self.input_max}" if self.input_min is not None else ""
        return f"ConAdv(epsilon={self.epsilon}, adv_weight={self.adv_weight}{bounds})"
