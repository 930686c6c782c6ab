"""MKOR: Momentum-enabled Kronecker-factor-based Optimizer using Rank-1 updates.

Mozaffari, Li, Zhang & Mehri Dehnavi, "MKOR: Momentum-Enabled Kronecker-Factor-Based Optimizer
Using Rank-1 Updates" (NeurIPS 2023, arXiv:2306.01685); reference code
``Mohammad-Mozaffari/mkor`` (``mkor/mkor.py``, ``mkor/utils/factors.py``).

For a linear layer with bias-augmented input a (size d_in + 1) and output gradient g (size
d_out), K-FAC preconditions the weight gradient G (d_out x (d_in + 1), bias as the last column)
with the inverses of L = E[a a^T] and R = E[g g^T]. MKOR keeps L^-1 and R^-1 themselves and
updates them with one rank-1 term per update, built from the batch means a_bar and g_bar:

    L_t = gamma L_{t-1} + (1 - gamma) a_bar a_bar^T
    L_t^-1 = gamma^-1 L^-1 - ((1 - gamma)/gamma^2) L^-1 a_bar a_bar^T L^-1
                               / (1 + ((1 - gamma)/gamma) a_bar^T L^-1 a_bar)      (Sherman-Morrison)

(likewise R^-1 with g_bar), starting from the identity. Every step the gradient becomes

    Delta = R^-1 G L^-1,   rescaled to ||Delta||_F = ||G||_F,

and is handed to the wrapped first-order optimizer (SGD, LAMB, Adam...) as the gradient.
Stabilizer: after an update, a factor with max |entry| > ``stabilization_threshold`` (2) is
replaced by (1 - zeta) F + zeta I (zeta = ``stabilization_factor`` = 0.1): repeated decays by
gamma inflate the inverses, and the blend with I keeps them positive definite and bounded.

g_bar is the mean per-sample output gradient: for a loss averaged over the N rows of a batch the
autograd output gradient of each row carries a factor 1/N, so g_bar = sum over rows (as the
reference code's ``n * g``). Only ``nn.Linear`` layers (and subclasses) are preconditioned; other
parameters pass through unchanged. Deviation from the reference code: it updates with
``sm_inverse(0.95 * Inv + 0.05 * I, v)``, a blend with I hard-coded at every update; this
implementation applies the paper's exact rank-1 update of ``gamma L + (1 - gamma) a a^T`` and uses
the blend only as the stabilizer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle

__all__ = ["MKOR", "sherman_morrison_update", "stabilize_inverse_factor"]


def sherman_morrison_update(inverse: Tensor, vector: Tensor, decay: float) -> Tensor:
    """``(decay * A + (1 - decay) * v v^T)^-1`` from ``inverse = A^-1`` (symmetric), in O(d^2)."""
    c = (1.0 - decay) / decay
    u = inverse @ vector
    return (inverse - (c / (1.0 + c * (vector @ u))) * torch.outer(u, u)) / decay


def stabilize_inverse_factor(inverse: Tensor, threshold: float, factor: float) -> Tensor:
    """``(1 - zeta) F + zeta I`` if ``max |F| > threshold``, else ``F`` unchanged."""
    if float(inverse.abs().max()) <= threshold:
        return inverse
    identity = torch.eye(inverse.shape[0], dtype=inverse.dtype, device=inverse.device)
    return (1.0 - factor) * inverse + factor * identity


class _LayerStatistics:
    """Batch-mean input and output-gradient vectors of one layer, averaged over its calls."""

    def __init__(self) -> None:
        self.a_sum: Tensor | None = None
        self.a_count = 0
        self.g_sum: Tensor | None = None
        self.g_count = 0

    def add_input(self, a: Tensor) -> None:
        self.a_sum = a if self.a_sum is None else self.a_sum + a
        self.a_count += 1

    def add_output_grad(self, g: Tensor) -> None:
        self.g_sum = g if self.g_sum is None else self.g_sum + g
        self.g_count += 1

    def means(self) -> tuple[Tensor, Tensor] | None:
        if self.a_sum is None or self.g_sum is None:
            return None
        return self.a_sum / self.a_count, self.g_sum / self.g_count


def _row_sum(grad: Tensor, features: int) -> Tensor:
    """Sum of the output-gradient rows; it undoes the 1/N of a batch-mean loss, giving the mean
    per-row gradient."""
    return grad.detach().reshape(-1, features).sum(dim=0)


class MKOR(Optimizer):
    """MKOR preconditioning (Mozaffari et al. 2023) of the Linear layers of ``model``, wrapping a
    first-order ``optimizer`` built on the model's parameters.

    Args:
        model: the network; its ``nn.Linear`` layers whose weights the optimizer holds get
            forward hooks that record a_bar and g_bar on factor-update steps.
        optimizer: the wrapped optimizer (it receives the preconditioned gradients).
        stat_decay: gamma in (0, 1) (0.95 in the reference code).
        inv_freq: update the inverse factors every this many steps (10).
        stabilization_threshold: max |entry| above which a factor is blended with I (> 0; 2).
        stabilization_factor: zeta in (0, 1] (0.1).

    Call ``loss.backward()`` as usual, then :meth:`step`. :meth:`remove_hooks` detaches MKOR.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        stat_decay: float = 0.95,
        inv_freq: int = 10,
        stabilization_threshold: float = 2.0,
        stabilization_factor: float = 0.1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if not 0.0 < stat_decay < 1.0:
            raise ValueError(f"Invalid stat_decay: {stat_decay} (must be in (0, 1))")
        if not isinstance(inv_freq, int) or inv_freq < 1:
            raise ValueError(f"Invalid inv_freq: {inv_freq!r} (must be an integer >= 1)")
        if not stabilization_threshold > 0.0:
            raise ValueError(f"Invalid stabilization_threshold: {stabilization_threshold} (must be > 0)")
        if not 0.0 < stabilization_factor <= 1.0:
            raise ValueError(f"Invalid stabilization_factor: {stabilization_factor} (must be in (0, 1])")
        super().__init__(optimizer.param_groups, {})
        # Share the wrapped optimizer's group list, so its schedulers and ours see the same lrs.
        self.param_groups = optimizer.param_groups
        self.optimizer = optimizer
        self.stat_decay = stat_decay
        self.inv_freq = inv_freq
        self.stabilization_threshold = stabilization_threshold
        self.stabilization_factor = stabilization_factor
        self.step_count = 0
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        self.layers: list[nn.Linear] = [
            m for m in model.modules()
            if isinstance(m, nn.Linear) and m.weight.requires_grad and id(m.weight) in held
        ]
        if not self.layers:
            raise ValueError("model has no nn.Linear layer whose weight the optimizer holds")
        self.left_inverses: list[Tensor] = []  # L^-1, (d_in [+1]) x (d_in [+1])
        self.right_inverses: list[Tensor] = []  # R^-1, d_out x d_out
        for layer in self.layers:
            factory = {"dtype": layer.weight.dtype, "device": layer.weight.device}
            d_in = layer.in_features + (layer.bias is not None)
            self.left_inverses.append(torch.eye(d_in, **factory))
            self.right_inverses.append(torch.eye(layer.out_features, **factory))
        self._statistics = [_LayerStatistics() for _ in self.layers]
        self._handles: list[RemovableHandle] = [
            layer.register_forward_hook(self._make_hook(index)) for index, layer in enumerate(self.layers)
        ]

    # ------------------------------------------------------------------ statistics

    def is_factor_update_step(self) -> bool:
        return self.step_count % self.inv_freq == 0

    def _make_hook(self, index: int) -> Callable[..., None]:
        def hook(module: nn.Linear, args: tuple[Tensor, ...], output: Tensor) -> None:
            if not (module.training and torch.is_grad_enabled() and self.is_factor_update_step()):
                return
            stats = self._statistics[index]
            x = args[0].detach().reshape(-1, module.in_features)
            a_bar = x.mean(dim=0)
            if module.bias is not None:
                a_bar = torch.cat([a_bar, a_bar.new_ones(1)])
            stats.add_input(a_bar)
            if output.requires_grad:
                output.register_hook(lambda grad: stats.add_output_grad(_row_sum(grad, module.out_features)))

        return hook

    def remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ------------------------------------------------------------------ step

    @torch.no_grad()
    def update_inverse_factors(self) -> None:
        """Rank-1 Sherman-Morrison updates of L^-1 and R^-1 from the recorded means, then the
        stabilizer; layers without recorded statistics keep their factors."""
        for index, stats in enumerate(self._statistics):
            means = stats.means()
            if means is None:
                continue
            a_bar, g_bar = means
            for inverses, vector in ((self.left_inverses, a_bar), (self.right_inverses, g_bar)):
                updated = sherman_morrison_update(inverses[index], vector.to(inverses[index].dtype), self.stat_decay)
                inverses[index] = stabilize_inverse_factor(updated, self.stabilization_threshold, self.stabilization_factor)
        self._statistics = [_LayerStatistics() for _ in self.layers]

    @torch.no_grad()
    def precondition_gradients(self) -> None:
        """Replace each layer's gradient [dW | db] by R^-1 [dW | db] L^-1 with the same norm."""
        for layer, left, right in zip(self.layers, self.left_inverses, self.right_inverses):
            if layer.weight.grad is None:
                continue
            grad = layer.weight.grad
            if layer.bias is not None:
                # A bias without a gradient this step contributes a zero column.
                bias_grad = layer.bias.grad if layer.bias.grad is not None else grad.new_zeros(layer.out_features)
                grad = torch.cat([grad, bias_grad.unsqueeze(1)], dim=1)
            delta = right @ grad @ left
            delta_norm = torch.linalg.matrix_norm(delta)
            if float(delta_norm) == 0.0:
                continue
            delta.mul_(torch.linalg.matrix_norm(grad) / delta_norm)
            layer.weight.grad.copy_(delta[:, : layer.in_features])
            if layer.bias is not None and layer.bias.grad is not None:
                layer.bias.grad.copy_(delta[:, -1])

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Update the factors on factor-update steps, precondition, step the wrapped optimizer."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.is_factor_update_step():
            self.update_inverse_factors()
        self.precondition_gradients()
        self.optimizer.step()
        self.step_count += 1
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "left_inverses": [f.clone() for f in self.left_inverses],
            "right_inverses": [f.clone() for f in self.right_inverses],
            "step_count": self.step_count,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        left, right = state_dict["left_inverses"], state_dict["right_inverses"]
        if [f.shape for f in left] != [f.shape for f in self.left_inverses] or [f.shape for f in right] != [
            f.shape for f in self.right_inverses
        ]:
            raise ValueError("MKOR state does not match this model's Linear layers")
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.param_groups = self.optimizer.param_groups
        self.left_inverses = [f.clone().to(g) for f, g in zip(left, self.left_inverses)]
        self.right_inverses = [f.clone().to(g) for f, g in zip(right, self.right_inverses)]
        self.step_count = int(state_dict["step_count"])
