"""Shared pieces of the optimizer tests (imported by tests/test_optim_*.py)."""

from __future__ import annotations

import math

import torch


def norm(t: torch.Tensor) -> float:
    return math.sqrt(float((t * t).sum()))


def random_problem(shapes, steps, seed, zero_last=True):
    """Initial float64 tensors (with ``zero_last`` a final zero one, like a zero-initialized
    layer) and per-step gradients."""
    gen = torch.Generator().manual_seed(seed)
    x0s = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    if zero_last:
        x0s.append(torch.zeros(4, 3, dtype=torch.float64))
    grads = [[torch.randn(x.shape, generator=gen, dtype=torch.float64) for x in x0s] for _ in range(steps)]
    return x0s, grads


def run_steps(optimizer_cls, x0s, grads_per_step, lrs, dtype, **options):
    """Feed the given gradients for len(lrs) steps, with the rate of each step; returns the
    final tensors and the optimizer."""
    params = [torch.nn.Parameter(x.to(dtype).clone()) for x in x0s]
    opt = optimizer_cls(params, lr=lrs[0], **options)
    for grads, lr in zip(grads_per_step, lrs):
        for p, g in zip(params, grads):
            p.grad = g.to(dtype).clone()
        opt.param_groups[0]["lr"] = lr
        opt.step()
    return [p.detach() for p in params], opt


def assert_matches(actual, expected, dtype):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a.double(), e, **tol)


def fixed_problem(weight, bias):
    """The squared output of a fixed linear model on one input: a loss that can reach 0."""
    x = torch.tensor([1.0, 2.0, -1.0, 0.5, 3.0])

    def loss():
        return (weight.mv(x) + bias).pow(2).sum()

    return loss
