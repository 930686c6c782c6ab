"""LARS and LARC: layer-wise adaptive rate scaling for large-batch SGD.

You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks" (arXiv:1708.03888),
Section 3 and Algorithm 1. For every parameter tensor w (one layer l) with gradient g:

    lambda^l = eta * ||w|| / (||g|| + beta * ||w|| + eps)        (local LR, eq. 6; eta = trust
                                                                  coefficient, beta = weight decay)
    v <- m * v + gamma_t * lambda^l * (g + beta * w)             (Algorithm 1)
    w <- w - v

The global learning rate gamma_t sits inside the momentum buffer, as in the paper (and in
TF-Addons' LARS, whose golden vector the tests check). The local rate is replaced by 1 when
||w|| = 0 or ||g|| = 0, so zero-initialized tensors take a plain SGD step.

LARC (``clip=True``; NVIDIA apex ``LARC``) treats lambda^l as a per-layer learning rate bounded by
the global one: the multiplier of gamma_t becomes min(lambda^l / gamma_t, 1), so the effective
rate is min(lambda^l, gamma_t).

``lr_in_momentum=False`` selects the other placement used by timm and by PyTorch SGD:

    v <- m * v + lambda^l * (g + beta * w),     w <- w - gamma_t * v

The two agree while gamma_t is constant and differ as soon as a schedule changes it: with the
paper's placement, past steps keep the learning rate they were taken with.

A parameter group with ``adapt=False`` keeps the momentum and the decay but takes multiplier 1
(no layer adaptation), the usual treatment of biases and normalization parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["LARS", "lars_update", "local_rate_multiplier"]


class LARS(Optimizer):
    """LARS (You, Gitman, Ginsburg 2017, Algorithm 1); LARC with ``clip=True``.

    Args:
        params: parameters or parameter groups (dicts); every option below may be set per group.
        lr: the global learning rate gamma_t (>= 0).
        momentum: m in [0, 1).
        weight_decay: beta (>= 0), added to the gradient and to the local-rate denominator.
        trust_coefficient: eta (> 0), 0.001 in the paper.
        eps: added to the local-rate denominator (>= 0).
        nesterov: Nesterov momentum (needs momentum > 0): the step is m * v_new + (new term).
        clip: LARC, multiplier min(lambda / gamma_t, 1) instead of lambda.
        lr_in_momentum: the paper's placement (True) or timm's / PyTorch SGD's (False).
        adapt: apply the local rate (per group; False gives multiplier 1).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        eps: float = 1e-8,
        nesterov: bool = False,
        clip: bool = False,
        lr_in_momentum: bool = True,
        adapt: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coefficient=trust_coefficient,
            eps=eps,
            nesterov=nesterov,
            clip=clip,
            lr_in_momentum=lr_in_momentum,
            adapt=adapt,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group and validate its options (the constructor's groups come through here too)."""
        super().add_param_group(param_group)
        _validate_group(self.param_groups[-1])

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Take one LARS step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            params, grads, buffers = [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LARS does not support sparse gradients")
                params.append(p)
                grads.append(p.grad)
                if group["momentum"] != 0.0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    buffers.append(state["momentum_buffer"])
                else:
                    buffers.append(None)
            lars_update(
                params,
                grads,
                buffers,
                lr=group["lr"],
                momentum=group["momentum"],
                weight_decay=group["weight_decay"],
                trust_coefficient=group["trust_coefficient"],
                eps=group["eps"],
                nesterov=group["nesterov"],
                clip=group["clip"],
                lr_in_momentum=group["lr_in_momentum"],
                adapt=group["adapt"],
            )
        return loss


def _validate_group(group: dict) -> None:
    lr, momentum = group["lr"], group["momentum"]
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum: {momentum} (must be in [0, 1))")
    if not 0.0 <= group["weight_decay"]:
        raise ValueError(f"Invalid weight_decay: {group['weight_decay']} (must be >= 0)")
    if not 0.0 < group["trust_coefficient"]:
        raise ValueError(f"Invalid trust_coefficient: {group['trust_coefficient']} (must be > 0)")
    if not 0.0 <= group["eps"]:
        raise ValueError(f"Invalid eps: {group['eps']} (must be >= 0)")
    if group["nesterov"] and momentum == 0.0:
        raise ValueError(f"Invalid momentum: {momentum} (nesterov needs momentum > 0)")


def local_rate_multiplier(
    weight: Tensor, grad: Tensor, *, lr: float, weight_decay: float, trust_coefficient: float, eps: float, clip: bool
) -> Tensor:
    """The multiplier of gamma_t for one layer: lambda^l (LARS) or min(lambda^l / gamma_t, 1) (LARC).

    1 where ||w|| = 0 or ||g|| = 0. With LARC and gamma_t = 0 the tensor division gives inf, so
    the multiplier is 1 and the step is 0, as it should be.
    """
    w_norm = torch.linalg.vector_norm(weight)
    g_norm = torch.linalg.vector_norm(grad)
    local = trust_coefficient * w_norm / (g_norm + weight_decay * w_norm + eps)
    if clip:
        local = torch.clamp(local / lr, max=1.0)
    one = torch.ones_like(local)
    return torch.where(w_norm > 0, torch.where(g_norm > 0, local, one), one)


def lars_update(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    momentum_buffers: Sequence[Tensor | None],
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    trust_coefficient: float,
    eps: float,
    nesterov: bool,
    clip: bool,
    lr_in_momentum: bool,
    adapt: bool,
) -> None:
    """One LARS/LARC update of one parameter group, in place on ``params`` and the buffers.

    ``momentum_buffers[i]`` is v for ``params[i]`` (zeros at the first step), or None when
    ``momentum == 0``. Implements Algorithm 1 of You, Gitman, Ginsburg (2017) with the
    placement chosen by ``lr_in_momentum`` (module docstring).
    """
    for w, g, v in zip(params, grads, momentum_buffers, strict=True):
        direction = g.add(w, alpha=weight_decay) if weight_decay != 0.0 else g.clone()
        if adapt:
            direction.mul_(
                local_rate_multiplier(
                    w, g, lr=lr, weight_decay=weight_decay, trust_coefficient=trust_coefficient, eps=eps, clip=clip
                )
            )
        # With lr in the momentum, the new term is gamma_t * direction and w moves by the buffer;
        # otherwise the buffer accumulates direction and w moves by gamma_t * buffer.
        term = direction.mul_(lr) if lr_in_momentum else direction
        if v is None:
            step = term
        else:
            v.mul_(momentum).add_(term)
            step = term.add_(v, alpha=momentum) if nesterov else v
        w.sub_(step, alpha=1.0 if lr_in_momentum else lr)
