"""LAMB: layer-wise adaptive moments for large-batch training.

You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer, Hsieh, "Large Batch
Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020 (arXiv:1904.00962 v5),
Algorithm 2, with the scaling function phi taken as the identity (as the authors do in practice).
For every parameter tensor x (one "layer" i) and step t >= 1:

    m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    m_hat = m_t / (1 - beta1^t),   v_hat = v_t / (1 - beta2^t)      (bias correction)
    r_t = m_hat / (sqrt(v_hat) + eps)
    u_t = r_t + lambda * x_t                                        (decoupled decay, inside)
    x_{t+1} = x_t - eta_t * (||x_t|| / ||u_t||) * u_t

The weight decay lambda * x sits inside the trust ratio: it is part of the update whose norm is
measured. The trust ratio is 1 when ||x_t|| = 0 or ||u_t|| = 0, so zero-initialized tensors
take a plain adaptive step instead of a NaN or a zero step (the convention of apex FusedLAMB,
timm and TF-Addons). Like apex and timm, a parameter group with ``weight_decay == 0`` gets
neither decay nor layer adaptation (biases and normalization parameters are usually put in such
a group) unless ``always_adapt`` is set; ``trust_clip`` bounds the ratio by 1 (LAMBC).

Optional global gradient clipping rescales every gradient by min(1, c / ||g||_global), the norm
taken over all parameters of all groups, before the moments are updated. ``p.grad`` is never
modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["LAMB", "lamb_update", "trust_ratio"]


class LAMB(Optimizer):
    """LAMB (You et al. 2019, Algorithm 2) with decoupled weight decay inside the trust ratio.

    Args:
        params: parameters or parameter groups (dicts); every option below may be set per group.
        lr: the global learning rate eta_t (>= 0).
        betas: (beta1, beta2), the moment decay rates, each in [0, 1).
        eps: epsilon added to sqrt(v_hat) (> 0; zero would divide 0 by 0 on zero gradients).
        weight_decay: lambda, the decoupled decay added to the update inside the trust ratio.
        bias_correction: divide the moments by (1 - beta^t) (Algorithm 2; v3 of the paper and
            torch-optimizer drop it).
        grad_clip_norm: if set, the maximal global gradient norm (a single number for the whole
            optimizer: the norm spans every group, so it is a constructor argument only).
        trust_clip: LAMBC, clip the trust ratio at 1.
        always_adapt: apply the trust ratio even to groups with ``weight_decay == 0``.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
        bias_correction: bool = True,
        grad_clip_norm: float | None = None,
        trust_clip: bool = False,
        always_adapt: bool = False,
    ) -> None:
        if grad_clip_norm is not None and not grad_clip_norm > 0.0:
            raise ValueError(f"Invalid grad_clip_norm: {grad_clip_norm} (must be > 0 or None)")
        self.grad_clip_norm = grad_clip_norm
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            bias_correction=bias_correction,
            trust_clip=trust_clip,
            always_adapt=always_adapt,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group and validate its options (the constructor's groups come through here too)."""
        super().add_param_group(param_group)
        _validate_group(self.param_groups[-1])

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["grad_clip_norm"] = self.grad_clip_norm
        return state

    def _global_clip_coefficient(self) -> float:
        """min(1, c / ||g||) over every gradient of every group (1 when clipping is off).

        The per-tensor norms are combined in float64 Python arithmetic, so groups of different
        dtypes share one coefficient.
        """
        if self.grad_clip_norm is None:
            return 1.0
        squares = [
            float(torch.linalg.vector_norm(p.grad)) ** 2
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        total = math.sqrt(sum(squares))
        return min(1.0, self.grad_clip_norm / total) if total > 0.0 else 1.0

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Take one LAMB step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        clip = self._global_clip_coefficient()
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LAMB does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            beta1, beta2 = group["betas"]
            lamb_update(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                steps,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                bias_correction=group["bias_correction"],
                trust_clip=group["trust_clip"],
                always_adapt=group["always_adapt"],
                grad_scale=clip,
            )
        return loss


def _validate_group(group: dict) -> None:
    lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
    if not 0.0 < eps:
        raise ValueError(f"Invalid eps: {eps} (must be > 0)")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay: {weight_decay} (must be >= 0)")
    betas = group["betas"]
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas} (must be a pair (beta1, beta2))")
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta{index + 1}: {beta} (must be in [0, 1))")


def trust_ratio(weight_norm: Tensor, update_norm: Tensor) -> Tensor:
    """||x|| / ||u||, or 1 where either norm is 0 (nested ``where``: no NaN leaks from 0 / 0)."""
    return torch.where(
        weight_norm > 0,
        torch.where(update_norm > 0, weight_norm / update_norm, torch.ones_like(weight_norm)),
        torch.ones_like(weight_norm),
    )


def lamb_update(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    steps: Sequence[int],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    bias_correction: bool,
    trust_clip: bool,
    always_adapt: bool,
    grad_scale: float = 1.0,
) -> None:
    """One LAMB update of one parameter group, in place on ``params`` and the moments.

    ``steps[i]`` is t for ``params[i]`` (already incremented); ``grad_scale`` multiplies every
    gradient first (the global clipping coefficient). Implements Algorithm 2 of You et al.
    (2019) term by term, in the order of the module docstring.
    """
    adapt = weight_decay != 0.0 or always_adapt
    for x, g, m, v, t in zip(params, grads, exp_avgs, exp_avg_sqs, steps, strict=True):
        if grad_scale != 1.0:
            g = g * grad_scale  # out of place: p.grad stays as the caller computed it
        m.mul_(beta1).add_(g, alpha=1.0 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        if bias_correction:
            m_hat = m / (1.0 - beta1**t)
            v_hat = v / (1.0 - beta2**t)
        else:
            m_hat, v_hat = m, v
        update = m_hat / (v_hat.sqrt() + eps)
        if weight_decay != 0.0:
            update.add_(x, alpha=weight_decay)
        if adapt:
            ratio = trust_ratio(torch.linalg.vector_norm(x), torch.linalg.vector_norm(update))
            if trust_clip:
                ratio = torch.clamp(ratio, max=1.0)
            update.mul_(ratio)
        x.add_(update, alpha=-lr)

