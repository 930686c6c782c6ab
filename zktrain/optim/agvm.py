"""AGVM: Adaptive Gradient Variance Modulator.

Xue, Liang, Song, Zong, Chen, Liu & Luo, "Large-batch Optimization for Dense Visual Predictions"
(NeurIPS 2022, arXiv:2210.11078); reference code ``Sense-X/AGVM``
(``agvm/optim/agvm_optimizer_hook.py``).

Dense-prediction models have modules (backbone, neck, heads) whose gradient variances differ by
orders of magnitude, and in large-batch training one learning rate does not fit them all. AGVM
gives each module i (one parameter group of the wrapped optimizer) a learning-rate factor s^(i):

* two independent estimates g_hat^(i), g_tilde^(i) of the module's gradient are taken from two
  halves of the batch (two halves of the ranks in data-parallel training);
* their disagreement D^(i) = 1 - cos(g_hat^(i), g_tilde^(i)) measures the gradient variance;
* mu^(i) = sqrt(clamp((D^(r) + eps) / (D^(i) + eps), 0.5, 10)), with r the reference module
  (the backbone), so mu^(r) = 1;
* s^(i) <- m s^(i) + (1 - m) mu^(i) (m = 0.97), updated every ``update_interval`` steps from
  ``start_step`` on (the authors start after warmup);
* each step runs the wrapped optimizer with lr^(i) * s^(i), then restores lr^(i), so schedulers
  keep acting on the unmodulated rates.

With ``adam_preconditioned=True`` (an Adam-type wrapped optimizer) the estimates are the
preconditioned gradients g / (sqrt(beta2 v + (1 - beta2) g^2) + eps), as in the reference hook.

Two forms of :meth:`AGVM.backward`:

* one process: ``backward(loss_first_half, loss_second_half)``, two mean losses of the two halves
  of the batch (e.g. two means of one ``reduction="none"`` loss, so there is one forward pass);
  ``p.grad`` receives the full-batch mean gradient (loss_a + loss_b) / 2;
* multi-rank (``torch.distributed`` initialized, even world size >= 2, model *not* wrapped in
  DDP): ``backward(local_loss)``; AGVM all-reduces the gradients itself, within each half of the
  ranks on update steps (to get the two estimates) and then over all ranks, so ``p.grad`` is the
  global mean gradient on every rank. D is broadcast from rank 0 so every rank applies the same
  factors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim import Optimizer

__all__ = ["AGVM", "agvm_modulation", "gradient_disagreement", "module_param_groups"]


def module_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """One parameter group per direct child module that has trainable parameters, in order,
    each with a ``"name"`` key (the first one is AGVM's default reference, e.g. the backbone).
    Parameters registered on ``model`` itself are rejected: they belong to no module."""
    own = [name for name, p in model.named_parameters(recurse=False) if p.requires_grad]
    if own:
        raise ValueError(f"parameters {own} are registered on the root module; AGVM needs one group per module")
    groups = []
    for name, child in model.named_children():
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "name": name})
    return groups


def gradient_disagreement(estimates_a: Sequence[Tensor], estimates_b: Sequence[Tensor]) -> Tensor:
    """D^(i) = 1 - cos(a_i, b_i) for the flattened gradient estimates of each group (float64)."""
    return torch.stack([
        1.0 - F.cosine_similarity(a.double(), b.double(), dim=0)
        for a, b in zip(estimates_a, estimates_b, strict=True)
    ])


def agvm_modulation(
    disagreement: Tensor, *, reference: int, eps: float = 1e-6, min_ratio: float = 0.5, max_ratio: float = 10.0
) -> Tensor:
    """mu^(i) = sqrt(clamp((D^(ref) + eps) / (D^(i) + eps), min_ratio, max_ratio))."""
    d = disagreement
    return torch.sqrt(torch.clamp((d[reference] + eps) / (d + eps), min_ratio, max_ratio))


class AGVM(Optimizer):
    """Wraps an optimizer whose parameter groups are modules (Xue et al. 2022).

    Args:
        optimizer: the wrapped optimizer (SGD, LARS, Adam...); one parameter group per module
            (:func:`module_param_groups`).
        reference_group: index of the reference module's group (the backbone), mu = 1.
        momentum: m, the EMA rate of the factors (0.97 in the paper's code).
        update_interval: update the factors every this many steps.
        start_step: first step at which the factors are updated (after warmup).
        eps: added to D in the ratio (1e-6).
        min_ratio, max_ratio: clamp of the variance ratio before the square root (0.5, 10).
        adam_preconditioned: compare Adam-preconditioned gradients (Adam-type optimizer only).

    ``scale_factors`` holds s^(i); ``last_variances`` the last D^(i) measured.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        reference_group: int = 0,
        momentum: float = 0.97,
        update_interval: int = 10,
        start_step: int = 0,
        eps: float = 1e-6,
        min_ratio: float = 0.5,
        max_ratio: float = 10.0,
        adam_preconditioned: bool = False,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        num_groups = len(optimizer.param_groups)
        if not isinstance(reference_group, int) or not 0 <= reference_group < num_groups:
            raise ValueError(f"Invalid reference_group: {reference_group!r} (the optimizer has {num_groups} groups)")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"Invalid momentum: {momentum} (must be in [0, 1))")
        if not isinstance(update_interval, int) or update_interval < 1:
            raise ValueError(f"Invalid update_interval: {update_interval!r} (must be an integer >= 1)")
        if not isinstance(start_step, int) or start_step < 0:
            raise ValueError(f"Invalid start_step: {start_step!r} (must be an integer >= 0)")
        if not eps > 0.0:
            raise ValueError(f"Invalid eps: {eps} (must be > 0)")
        if not 0.0 < min_ratio <= max_ratio:
            raise ValueError(f"Invalid min_ratio/max_ratio: {min_ratio}, {max_ratio} (need 0 < min <= max)")
        if adam_preconditioned and not all("betas" in g for g in optimizer.param_groups):
            raise ValueError("Invalid adam_preconditioned: True needs an Adam-type optimizer (groups with 'betas')")
        super().__init__(optimizer.param_groups, {})
        # Share the wrapped optimizer's group list, so groups added to it later are seen here.
        self.param_groups = optimizer.param_groups
        self.optimizer = optimizer
        self.reference_group = reference_group
        self.momentum = momentum
        self.update_interval = update_interval
        self.start_step = start_step
        self.eps = eps
        self.min_ratio, self.max_ratio = min_ratio, max_ratio
        self.adam_preconditioned = adam_preconditioned
        self.scale_factors = [1.0] * num_groups
        self.last_variances: list[float] | None = None
        self.step_count = 0
        self._half_groups: tuple[Any, Any] | None = None

    # ------------------------------------------------------------------ gradients

    def is_update_step(self) -> bool:
        """Whether the current step measures the gradient variances."""
        return self.step_count >= self.start_step and self.step_count % self.update_interval == 0

    def backward(self, loss: Tensor, second_half_loss: Tensor | None = None) -> None:
        """Accumulate the mean gradient into ``p.grad`` and, on update steps, update s^(i).

        One process: pass the mean losses of the two halves of the batch. Multi-rank: pass the
        local loss only (module docstring).
        """
        if second_half_loss is not None:
            self._backward_halves(loss, second_half_loss)
        elif dist.is_available() and dist.is_initialized():
            self._backward_distributed(loss)
        else:
            raise ValueError(
                "second_half_loss is required without torch.distributed: AGVM needs two gradient "
                "estimates, from two halves of the batch"
            )

    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"] if p.requires_grad]

    def _backward_halves(self, loss_a: Tensor, loss_b: Tensor) -> None:
        if not self.is_update_step():
            ((loss_a + loss_b) / 2).backward()
            return
        params = self._params()
        grads_a = torch.autograd.grad(loss_a, params, retain_graph=True, allow_unused=True)
        grads_b = torch.autograd.grad(loss_b, params, allow_unused=True)
        grads_a = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads_a)]
        grads_b = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads_b)]
        self._update_factors(self._group_estimates(params, grads_a), self._group_estimates(params, grads_b))
        for p, ga, gb in zip(params, grads_a, grads_b):
            mean = (ga + gb) / 2
            p.grad = mean if p.grad is None else p.grad.add_(mean)

    def _backward_distributed(self, loss: Tensor) -> None:
        world = dist.get_world_size()
        if world < 2 or world % 2:
            raise ValueError(f"AGVM needs an even world size >= 2, got {world}")
        loss.backward()
        params = [p for p in self._params() if p.grad is not None]
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        if self.is_update_step():
            own_half, other_half = self._half_means(flat, world)
            estimates = (self._group_estimates(params, _unflatten(own_half, params)),
                         self._group_estimates(params, _unflatten(other_half, params)))
            self._update_factors(*estimates, broadcast=True)
            flat = (own_half + other_half) / 2
        else:
            dist.all_reduce(flat)
            flat /= world
        for p, g in zip(params, _unflatten(flat, params)):
            p.grad.copy_(g)

    def _half_means(self, flat: Tensor, world: int) -> tuple[Tensor, Tensor]:
        """Mean gradient of this rank's half of the ranks and of the other half."""
        half = world // 2
        if self._half_groups is None:
            # new_group is collective: every rank creates both groups, in the same order.
            self._half_groups = (dist.new_group(list(range(half))), dist.new_group(list(range(half, world))))
        in_first = dist.get_rank() < half
        own = flat.clone()
        dist.all_reduce(own, group=self._half_groups[0 if in_first else 1])
        own /= half
        # Summing the half means over all ranks gives half * (g_hat + g_tilde).
        total = own.clone()
        dist.all_reduce(total)
        total /= half
        return own, total - own

    def _group_estimates(self, params: Sequence[Tensor], grads: Sequence[Tensor]) -> list[Tensor]:
        """Flattened (optionally Adam-preconditioned) estimates, one vector per parameter group."""
        by_param = dict(zip(map(id, params), grads))
        estimates = []
        for group in self.param_groups:
            parts = []
            for p in group["params"]:
                g = by_param.get(id(p))
                if g is None:
                    continue
                if self.adam_preconditioned:
                    beta2 = group["betas"][1]
                    v = self.optimizer.state[p].get("exp_avg_sq", torch.zeros_like(p))
                    g = g / (torch.sqrt(beta2 * v + (1 - beta2) * g * g) + group["eps"])
                parts.append(g.reshape(-1))
            estimates.append(torch.cat(parts) if parts else torch.zeros(1, device=params[0].device))
        return estimates

    def _update_factors(self, estimates_a: list[Tensor], estimates_b: list[Tensor], broadcast: bool = False) -> None:
        d = gradient_disagreement(estimates_a, estimates_b)
        if broadcast:
            # Rounding may differ between the two halves; rank 0's D makes the factors identical.
            dist.broadcast(d, src=0)
        mu = agvm_modulation(d, reference=self.reference_group, eps=self.eps,
                             min_ratio=self.min_ratio, max_ratio=self.max_ratio)
        self.last_variances = d.tolist()
        self.scale_factors = [self.momentum * s + (1 - self.momentum) * m for s, m in zip(self.scale_factors, mu.tolist())]

    # ------------------------------------------------------------------ optimizer protocol

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Step the wrapped optimizer with lr^(i) * s^(i), then restore lr^(i)."""
        base_lrs = [group["lr"] for group in self.param_groups]
        for group, factor in zip(self.param_groups, self.scale_factors, strict=True):
            group["lr"] = group["lr"] * factor
        try:
            loss = self.optimizer.step(closure)
        finally:
            for group, lr in zip(self.param_groups, base_lrs):
                group["lr"] = lr
        self.step_count += 1
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scale_factors": list(self.scale_factors),
            "step_count": self.step_count,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        factors = list(state_dict["scale_factors"])
        if len(factors) != len(self.param_groups):
            raise ValueError(f"state has {len(factors)} scale factors for {len(self.param_groups)} groups")
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.param_groups = self.optimizer.param_groups
        self.scale_factors = factors
        self.step_count = int(state_dict["step_count"])


def _unflatten(flat: Tensor, params: Sequence[Tensor]) -> list[Tensor]:
    return [chunk.view_as(p) for chunk, p in zip(flat.split([p.numel() for p in params]), params)]
