"""LARS / LARC against a float64 reference written from Algorithm 1 of You, Gitman, Ginsburg (2017).

The reference keeps the paper's form, v <- m v + gamma_t lambda (g + beta w), w <- w - v, with a
learning rate that changes every step: that is what separates the paper's placement of gamma_t
(inside the momentum) from the SGD placement, which agree while gamma_t is constant.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from optim_helpers import assert_matches, fixed_problem, norm, random_problem, run_steps

from zktrain.optim import LARS

SHAPES = [(5, 4), (7,), (1,), (3, 2, 2)]
STEPS = 6
LRS = [0.5, 1.0, 2.0, 1.5, 0.7, 0.3]


def reference_lars(
    x0s,
    grads_per_step,
    lrs,
    *,
    momentum=0.9,
    weight_decay=0.0,
    trust_coefficient=0.001,
    eps=1e-8,
    nesterov=False,
    clip=False,
    lr_in_momentum=True,
    variant=None,
):
    """Algorithm 1 per layer in float64; ``lr_in_momentum=False`` is the SGD placement."""
    ws = [x.double().clone() for x in x0s]
    vs = [torch.zeros_like(w) for w in ws]
    for grads, lr in zip(grads_per_step, lrs):
        for i, g in enumerate(grads):
            g, w = g.double(), ws[i]
            decay_in_denominator = 0.0 if variant == "no_decay_in_local_rate" else weight_decay
            local = trust_coefficient * norm(w) / (norm(g) + decay_in_denominator * norm(w) + eps)
            multiplier = min(local / lr, 1.0) if clip else local
            if norm(w) == 0 or norm(g) == 0:
                multiplier = 1.0
            direction = multiplier * (g + weight_decay * w)
            if lr_in_momentum and variant != "lr_outside_momentum":
                vs[i] = momentum * vs[i] + lr * direction
                ws[i] = w - (momentum * vs[i] + lr * direction if nesterov else vs[i])
            else:
                vs[i] = momentum * vs[i] + direction
                ws[i] = w - lr * (momentum * vs[i] + direction if nesterov else vs[i])
    return ws


# Trust coefficients large enough that the local rate visibly shapes every step.
OPTION_SETS = [
    dict(weight_decay=0.1, trust_coefficient=0.05),
    dict(weight_decay=0.0, trust_coefficient=0.05),
    dict(weight_decay=0.1, trust_coefficient=0.05, nesterov=True),
    dict(weight_decay=0.1, trust_coefficient=0.5, clip=True),
    dict(weight_decay=0.1, trust_coefficient=0.05, lr_in_momentum=False),
    dict(weight_decay=0.1, trust_coefficient=0.05, lr_in_momentum=False, nesterov=True),
    dict(weight_decay=0.1, trust_coefficient=0.05, momentum=0.0),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_matches_reference(dtype, options):
    x0s, grads = random_problem(SHAPES, STEPS, seed=1)
    actual, _ = run_steps(LARS, x0s, grads, LRS, dtype, **options)
    assert all(a.dtype == dtype for a in actual)
    assert_matches(actual, reference_lars(x0s, grads, LRS, **options), dtype)


@pytest.mark.parametrize("variant", ["lr_outside_momentum", "no_decay_in_local_rate"])
def test_wrong_formulas_are_detected(variant):
    options = dict(weight_decay=0.1, trust_coefficient=0.05)
    x0s, grads = random_problem(SHAPES, STEPS, seed=2)
    actual, _ = run_steps(LARS, x0s, grads, LRS, torch.float64, **options)
    with pytest.raises(AssertionError):
        assert_matches(actual, reference_lars(x0s, grads, LRS, variant=variant, **options), torch.float32)


def test_clip_is_detected():
    """LARC and LARS differ once some local rate exceeds gamma_t (here trust 0.5, lr <= 2)."""
    x0s, grads = random_problem(SHAPES, STEPS, seed=3)
    larc, _ = run_steps(LARS, x0s, grads, LRS, torch.float64, weight_decay=0.1, trust_coefficient=0.5, clip=True)
    with pytest.raises(AssertionError):
        assert_matches(larc, reference_lars(x0s, grads, LRS, weight_decay=0.1, trust_coefficient=0.5), torch.float32)


def test_golden_vector_tf_addons():
    """TF-Addons lars_test: var [1, 1, 2], grad [0.1, 0, 0.1], lr 0.1, m 0.9, wd 0.1, eps 1e-5, eta 0.1."""
    for dtype in (torch.float32, torch.float64):
        p = torch.nn.Parameter(torch.tensor([[1.0, 1.0, 2.0]], dtype=dtype))
        p.grad = torch.tensor([[0.1, 0.0, 0.1]], dtype=dtype)
        opt = LARS([p], lr=0.1, momentum=0.9, weight_decay=0.1, eps=1e-5, trust_coefficient=0.1)
        opt.step()
        tol = dict(rtol=1e-6, atol=1e-7) if dtype == torch.float32 else dict(rtol=1e-7, atol=1e-8)
        torch.testing.assert_close(p.detach(), torch.tensor([[0.98732084, 0.99366039, 1.98098123]], dtype=dtype), **tol)
        torch.testing.assert_close(
            opt.state[p]["momentum_buffer"], torch.tensor([[0.01267916, 0.00633958, 0.01901875]], dtype=dtype), **tol
        )


def test_larc_effective_rate_is_min_of_local_and_global():
    """LARC step = min(lambda, gamma) * (g + beta w) at the first step (no momentum history)."""
    w0 = torch.tensor([3.0, 4.0], dtype=torch.float64)  # ||w|| = 5
    g = torch.tensor([0.6, 0.8], dtype=torch.float64)  # ||g|| = 1
    local = 0.02 * 5 / (1 + 0.0 * 5 + 1e-8)  # 0.1
    for lr, rate in ((1.0, local), (0.01, 0.01)):
        p = torch.nn.Parameter(w0.clone())
        p.grad = g.clone()
        LARS([p], lr=lr, momentum=0.9, trust_coefficient=0.02, clip=True).step()
        torch.testing.assert_close(p.detach(), w0 - rate * g)


def test_zero_norms_give_multiplier_one():
    """||w|| = 0, or ||g|| = 0: the step is gamma * (g + beta w), no NaN."""
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    p.grad = g.clone()
    LARS([p], lr=0.1, weight_decay=0.1).step()
    torch.testing.assert_close(p.detach(), -0.1 * g)

    q = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    q.grad = torch.zeros(2, dtype=torch.float64)
    LARS([q], lr=0.1, weight_decay=0.1, clip=True).step()
    torch.testing.assert_close(q.detach(), torch.tensor([3.0, 4.0], dtype=torch.float64) * (1 - 0.1 * 0.1))


def test_unadapted_sgd_placement_is_torch_sgd():
    """adapt=False with the SGD placement is exactly torch.optim.SGD (momentum, decay, Nesterov)."""
    x0s, grads = random_problem(SHAPES, STEPS, seed=4)
    for nesterov in (False, True):
        ours = [torch.nn.Parameter(x.clone()) for x in x0s]
        ref = [torch.nn.Parameter(x.clone()) for x in x0s]
        opt_ours = LARS(ours, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=nesterov, lr_in_momentum=False, adapt=False)
        opt_ref = torch.optim.SGD(ref, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
        for step_grads, lr in zip(grads, LRS):
            for a, b, g in zip(ours, ref, step_grads):
                a.grad, b.grad = g.clone(), g.clone()
            opt_ours.param_groups[0]["lr"] = opt_ref.param_groups[0]["lr"] = lr
            opt_ours.step()
            opt_ref.step()
        for a, b in zip(ours, ref):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-12, atol=1e-14)


def test_per_group_options():
    a = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    b = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = LARS([{"params": [a]}, {"params": [b], "adapt": False}], lr=0.1, momentum=0.0, trust_coefficient=0.01)
    a.grad = torch.ones(3, dtype=torch.float64)
    b.grad = torch.ones(3, dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(a.detach(), torch.full((3,), 1 - 0.1 * 0.01 / (1 + 1e-8 / math.sqrt(3)), dtype=torch.float64))
    torch.testing.assert_close(b.detach(), torch.full((3,), 0.9, dtype=torch.float64))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-0.5), "Invalid learning rate: -0.5"),
        (dict(lr=0.1, momentum=1.0), "Invalid momentum: 1.0"),
        (dict(lr=0.1, weight_decay=-0.1), "Invalid weight_decay: -0.1"),
        (dict(lr=0.1, trust_coefficient=0.0), "Invalid trust_coefficient: 0.0"),
        (dict(lr=0.1, eps=-1e-8), "Invalid eps: -1e-08"),
        (dict(lr=0.1, momentum=0.0, nesterov=True), "Invalid momentum: 0.0 \\(nesterov"),
    ],
)
def test_invalid_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LARS([torch.nn.Parameter(torch.ones(2))], **kwargs)


def test_invalid_group_option_is_rejected():
    opt = LARS([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="Invalid momentum: -0.5"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "momentum": -0.5})


@pytest.mark.parametrize("lr_in_momentum", [True, False])
def test_state_dict_round_trip_continues_bit_identically(lr_in_momentum):
    gen = torch.Generator().manual_seed(5)
    weight = torch.nn.Parameter(torch.randn(10, 5, generator=gen))
    bias = torch.nn.Parameter(torch.randn(10, generator=gen))
    options = dict(lr=0.5, weight_decay=1e-3, trust_coefficient=0.01, nesterov=True, lr_in_momentum=lr_in_momentum)
    opt = LARS([weight, bias], **options)
    loss = fixed_problem(weight, bias)
    for _ in range(20):
        opt.zero_grad()
        loss().backward()
        opt.step()
    weight2 = torch.nn.Parameter(weight.detach().clone())
    bias2 = torch.nn.Parameter(bias.detach().clone())
    opt2 = LARS([weight2, bias2], lr=0.1)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert opt2.param_groups[0]["lr_in_momentum"] is lr_in_momentum
    loss2 = fixed_problem(weight2, bias2)
    for _ in range(20):
        for o, f in ((opt, loss), (opt2, loss2)):
            o.zero_grad()
            f().backward()
            o.step()
        assert torch.equal(weight, weight2) and torch.equal(bias, bias2)
