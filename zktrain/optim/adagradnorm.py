"""AdaGrad-Norm: AdaGrad with a single, scalar step size.

Ward, Wu & Bottou, "AdaGrad stepsizes: sharp convergence over nonconvex landscapes"
(ICML 2019 / JMLR 2020, arXiv:1806.01811), Algorithm "AdaGrad-Norm":

    b_{t+1}^2 = b_t^2 + ||g_t||^2
    x_{t+1}   = x_t - eta / b_{t+1} * g_t

with g_t the (mini-batch) gradient of all parameters together. It is the optimizer of
AdAdaGrad-Norm (Lau, Liu & Kolar 2024), paired there with the adaptive batch sizes of
:class:`zktrain.batching.AdaptiveBatchSize`.

Here the norm is taken over each parameter group (put all parameters in one group for the
algorithm as published), and b^2 is kept per group in the optimizer state. Optional L2 weight
decay adds ``weight_decay * x`` to g before everything else. (The reference repository's
``adagradnorm.py`` instead keeps one accumulator per output row of each weight matrix; that is
a different, row-wise method.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["AdaGradNorm", "adagrad_norm_update"]


class AdaGradNorm(Optimizer):
    """AdaGrad-Norm (Ward, Wu & Bottou 2019).

    Args:
        params: parameters or parameter groups; one scalar accumulator per group.
        lr: eta (>= 0).
        initial_accumulator_value: b_0^2 (>= 0).
        eps: added to b_{t+1} in the denominator (>= 0), against b_0 = 0 with a zero gradient.
        weight_decay: L2 coefficient (>= 0), added to the gradient.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        initial_accumulator_value: float = 1e-2,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, initial_accumulator_value=initial_accumulator_value, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group and validate its options (the constructor's groups come through here too)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for name in ("lr", "initial_accumulator_value", "eps", "weight_decay"):
            if not group[name] >= 0.0:
                raise ValueError(f"Invalid {name}: {group[name]} (must be >= 0)")
        if group["initial_accumulator_value"] == 0.0 and group["eps"] == 0.0:
            raise ValueError("Invalid eps: 0.0 (must be > 0 when initial_accumulator_value is 0)")

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Take one AdaGrad-Norm step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("AdaGradNorm does not support sparse gradients")
            # The group's scalar accumulator is kept in the state of the group's first parameter,
            # so state_dict() / load_state_dict() carry it like any per-parameter state.
            first = group["params"][0]
            state = self.state[first]
            if "sum_sq_norm" not in state:
                state["sum_sq_norm"] = torch.tensor(
                    group["initial_accumulator_value"],
                    dtype=torch.promote_types(first.dtype, torch.float32),
                    device=first.device,
                )
            adagrad_norm_update(
                params,
                [p.grad for p in params],
                state["sum_sq_norm"],
                lr=group["lr"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
            )
        return loss


def adagrad_norm_update(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    sum_sq_norm: Tensor,
    *,
    lr: float,
    eps: float,
    weight_decay: float,
) -> None:
    """One AdaGrad-Norm step of one group, in place on ``params`` and the 0-dim ``sum_sq_norm``.

    ``sum_sq_norm`` holds b_t^2 on entry and b_{t+1}^2 = b_t^2 + ||g_t||^2 on exit; every
    parameter moves by -lr * g / (b_{t+1} + eps).
    """
    if weight_decay != 0.0:
        grads = [g.add(p, alpha=weight_decay) for p, g in zip(params, grads, strict=True)]
    grad_sq_norm = sum(torch.linalg.vector_norm(g, dtype=sum_sq_norm.dtype).square() for g in grads)
    sum_sq_norm.add_(grad_sq_norm)
    scale = -lr / (sum_sq_norm.sqrt() + eps)
    for p, g in zip(params, grads, strict=True):
        p.add_(g * scale.to(p.dtype))
