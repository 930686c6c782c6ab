"""Per-sample gradients with ``torch.func`` and the gradient-noise statistics built from them.

Given per-sample gradients g_i = grad f_i(theta), i = 1..b, of one batch, the adaptive
batch-size tests of Lau, Liu & Kolar (2024, "AdAdaGrad: Adaptive Batch Size Schemes for Adaptive
Gradient Methods") use

    G            = (1/b) sum_i g_i                                   (batch gradient)
    trace_var    = sum_j Var_i(g_ij)                  = ||Var_i(g_i)||_1         (norm test)
    ip_var       = Var_i(<g_i, G>)                                    (inner-product test)
    orth_var     = sum_j Var_i(g_ij - c_i G_j),  c_i = <g_i, G>/||G||^2  (orthogonality test)

with Bessel-corrected sample variances (divide by b - 1), as in the reference implementation
(``timlautk/AdAdaGrad``, ``tests.py``). Two differences from that code, both exact:

* the inner products <g_i, G> run over *all* parameters at once; the reference sums per-tensor
  variances of per-tensor inner products, which drops the cross-tensor covariances;
* orth_var is obtained from the identity
  sum_j Var(g_j - c G_j) = trace_var - 2 Cov(<g, G>, c) + ||G||^2 Var(c) = trace_var - ip_var/||G||^2
  (since c = <g, G>/||G||^2), so the b x P matrix of orthogonal components is never formed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

LossFn = Callable[[Tensor, Tensor], Tensor]


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in evaluation mode and restore each one's own mode afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def per_sample_gradients(model: nn.Module, loss_fn: LossFn, inputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """Gradients of ``loss_fn(model(x_i[None]), y_i[None])`` for every sample, stacked on dim 0.

    Uses ``vmap(grad(...))`` over ``functional_call`` (no per-sample Python loop, no change to
    ``p.grad``). Returns ``{parameter name: tensor of shape (b, *parameter.shape)}`` for the
    parameters that require gradients.

    The model is evaluated in evaluation mode: a single sample has no batch statistics, so layers
    such as BatchNorm / Ghost BatchNorm use their running statistics, and dropout is off. The
    statistics therefore measure the gradient noise due to sampling the data, at the current
    running statistics; every module's mode is restored afterwards.
    """
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs and targets disagree on the batch size: {inputs.shape[0]} vs {targets.shape[0]}")
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def sample_loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        output = functional_call(model, (params, buffers), (x.unsqueeze(0),))
        return loss_fn(output, y.unsqueeze(0))

    with evaluation_mode(model):
        return vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, inputs, targets)


@dataclass(frozen=True)
class GradientNoise:
    """Sample statistics of one batch of per-sample gradients (module docstring)."""

    batch_size: int
    grad_sq_norm: float  # ||G||^2
    trace_var: float  # sum_j Var_i(g_ij)
    inner_product_var: float  # Var_i(<g_i, G>)
    orthogonal_var: float  # sum_j Var_i(g_ij - c_i G_j)


def gradient_noise(per_sample_grads: Iterable[Tensor]) -> GradientNoise:
    """Statistics of per-sample gradients, given as tensors of shape (b, ...) (one per parameter).

    Accumulated in float64. ``orthogonal_var`` is ``trace_var`` when G = 0 (no direction to
    project on) and is clamped at 0 against rounding.
    """
    blocks = [g.detach().flatten(1).to(torch.float64) for g in per_sample_grads]
    if not blocks:
        raise ValueError("per_sample_grads is empty")
    b = blocks[0].shape[0]
    if b < 2 or any(block.shape[0] != b for block in blocks):
        raise ValueError(
            f"per-sample gradients need a common batch size >= 2, got {[blk.shape[0] for blk in blocks]}"
        )
    means = [block.mean(dim=0) for block in blocks]
    grad_sq_norm = sum(float(m.square().sum()) for m in means)
    trace_var = sum(float(block.var(dim=0, correction=1).sum()) for block in blocks)
    inner_products = sum(block @ m for block, m in zip(blocks, means))
    inner_product_var = float(inner_products.var(correction=1))
    orthogonal_var = trace_var - inner_product_var / grad_sq_norm if grad_sq_norm > 0 else trace_var
    return GradientNoise(
        batch_size=b,
        grad_sq_norm=grad_sq_norm,
        trace_var=trace_var,
        inner_product_var=inner_product_var,
        orthogonal_var=max(orthogonal_var, 0.0),
    )
