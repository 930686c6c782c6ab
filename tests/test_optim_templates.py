"""The usual optimizer test templates (timm, torch.optim), one body run over every
large-batch optimizer: sparse gradients rejected, the loss of a fixed model decreases with
contiguous and non-contiguous parameters, and Rosenbrock improves."""

from __future__ import annotations

import pytest
import torch
from optim_helpers import fixed_problem

from zktrain.optim import LAMB, LARS

# name -> (factory for the fixed-model check, factory for Rosenbrock)
OPTIMIZERS = {
    "lamb": (lambda ps: LAMB(ps, lr=0.01), lambda ps: LAMB(ps, lr=0.01, weight_decay=0.0, always_adapt=True)),
    "lars": (
        lambda ps: LARS(ps, lr=1.0, trust_coefficient=0.01),
        lambda ps: LARS(ps, lr=1e-3, momentum=0.9, trust_coefficient=0.01, clip=True),  # LARC
    ),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_sparse_gradients_are_rejected(name):
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.sparse_coo_tensor([[0]], [1.0], (3,), check_invariants=True)
    with pytest.raises(RuntimeError, match="sparse"):
        OPTIMIZERS[name][0]([p]).step()


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("contiguous", [True, False])
def test_loss_decreases_on_a_fixed_model(name, contiguous):
    gen = torch.Generator().manual_seed(6)
    if contiguous:
        weight, bias = torch.randn(10, 5, generator=gen), torch.randn(10, generator=gen)
    else:
        weight, bias = torch.randn(10, 5, 2, generator=gen)[..., 0], torch.randn(10, 2, generator=gen)[..., 0]
        assert not weight.is_contiguous()
    weight.requires_grad_()
    bias.requires_grad_()
    loss = fixed_problem(weight, bias)
    opt = OPTIMIZERS[name][0]([weight, bias])
    initial = loss().item()
    for _ in range(200):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < initial / 10


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_rosenbrock(name):
    """min (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 1.5): the optimizer ends closer to (1, 1)
    than it started (timm's check). Trust ratios scale steps by ||x||, so these crawl near the
    origin; they only have to improve, not converge."""
    xy = torch.nn.Parameter(torch.tensor([-1.5, 1.5], dtype=torch.float64))
    opt = OPTIMIZERS[name][1]([xy])
    target = torch.tensor([1.0, 1.0], dtype=torch.float64)
    initial = torch.dist(xy.detach(), target)
    for _ in range(500):
        opt.zero_grad()
        x, y = xy
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
    assert torch.dist(xy.detach(), target) < initial
