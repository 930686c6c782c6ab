"""LAMB against a float64 reference written from Algorithm 2 of You et al. (2019).

The reference below is deliberately independent of ``zktrain.optim.lamb``: out-of-place,
one formula per line of the algorithm, in float64. ``WRONG_VARIANTS`` are the classic mistakes
(decay outside the trust ratio, missing bias correction, ...); a test checks that each of them
is told apart from the optimizer by the same tolerance, so the differential tests can fail.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from optim_helpers import assert_matches, fixed_problem, norm, random_problem, run_steps

from zktrain.optim import LAMB

SHAPES = [(5, 4), (7,), (1,), (3, 2, 2)]
STEPS = 6
LRS = [0.02, 0.05, 0.01, 0.03, 0.04, 0.02]  # a changing rate, as a schedule would give


def reference_lamb(
    x0s,
    grads_per_step,
    lrs,
    *,
    betas=(0.9, 0.999),
    eps=1e-6,
    weight_decay=0.01,
    bias_correction=True,
    always_adapt=False,
    trust_clip=False,
    grad_clip_norm=None,
    variant=None,
):
    """Algorithm 2 (phi = identity), decoupled decay inside the trust ratio, in float64."""
    beta1, beta2 = betas
    xs = [x.double().clone() for x in x0s]
    ms = [torch.zeros_like(x) for x in xs]
    vs = [torch.zeros_like(x) for x in xs]
    for t, (grads, lr) in enumerate(zip(grads_per_step, lrs), start=1):
        grads = [g.double() for g in grads]
        if grad_clip_norm is not None:
            total = math.sqrt(sum(float((g * g).sum()) for g in grads))
            grads = [g * min(1.0, grad_clip_norm / total) for g in grads]
        for i, g in enumerate(grads):
            x = xs[i]
            ms[i] = beta1 * ms[i] + (1 - beta1) * g
            vs[i] = beta2 * vs[i] + (1 - beta2) * g * g
            if bias_correction and variant != "no_bias_correction":
                m_hat = ms[i] / (1 - beta1**t)
                v_hat = vs[i] / (1 - beta2**t)
            else:
                m_hat, v_hat = ms[i], vs[i]
            if variant == "eps_inside_sqrt":
                r = m_hat / torch.sqrt(v_hat + eps)
            else:
                r = m_hat / (torch.sqrt(v_hat) + eps)
            adapt = weight_decay != 0 or always_adapt
            if variant == "decay_outside":
                ratio = norm(x) / norm(r) if adapt and norm(x) > 0 and norm(r) > 0 else 1.0
                xs[i] = x - lr * (ratio * r + weight_decay * x)
                continue
            u = r + weight_decay * x
            if adapt:
                denominator = norm(g) if variant == "gradient_norm" else norm(u)
                if variant == "lr_inside_norm":
                    denominator *= lr
                ratio = norm(x) / denominator if norm(x) > 0 and denominator > 0 else 1.0
                if trust_clip:
                    ratio = min(ratio, 1.0)
            else:
                ratio = 1.0
            xs[i] = x - lr * ratio * u
    return xs


WRONG_VARIANTS = ["decay_outside", "no_bias_correction", "gradient_norm", "lr_inside_norm", "eps_inside_sqrt"]


OPTION_SETS = [
    dict(weight_decay=0.1),
    dict(weight_decay=0.0),
    dict(weight_decay=0.0, always_adapt=True),
    dict(weight_decay=0.1, trust_clip=True),
    dict(weight_decay=0.1, bias_correction=False),
    dict(weight_decay=0.05, grad_clip_norm=1.0, betas=(0.6, 0.9), eps=3e-6),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_matches_reference(dtype, options):
    x0s, grads = random_problem(SHAPES, STEPS, seed=1)
    actual = run_steps(LAMB, x0s, grads, LRS, dtype, **options)[0]
    assert all(a.dtype == dtype for a in actual)
    assert_matches(actual, reference_lamb(x0s, grads, LRS, **options), dtype)


@pytest.mark.parametrize("variant", WRONG_VARIANTS)
def test_wrong_formulas_are_detected(variant):
    """Each classic mistake moves the weights outside even the float32 tolerance used above.

    eps = 1e-3 makes the eps placement visible at that tolerance; every other variant is
    detected at any eps.
    """
    options = dict(weight_decay=0.1, eps=1e-3)
    x0s, grads = random_problem(SHAPES, STEPS, seed=2)
    actual = run_steps(LAMB, x0s, grads, LRS, torch.float64, **options)[0]
    wrong = reference_lamb(x0s, grads, LRS, variant=variant, **options)
    with pytest.raises(AssertionError):
        assert_matches(actual, wrong, torch.float32)  # even the loose float32 tolerance


def test_golden_first_step():
    """TF-Addons' LAMB case var [1, 1, 2], grad [0.1, 0, 0.1], lr 1e-3, adaptation on, no decay.

    At t = 1 bias correction gives r = g / (|g| + eps), so the step is lr * ||x|| / ||r|| * r =
    lr * sqrt(6) / sqrt(2) on each coordinate with a nonzero gradient: sqrt(3) * 1e-3.
    """
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64))
    p.grad = torch.tensor([0.1, 0.0, 0.1], dtype=torch.float64)
    LAMB([p], lr=1e-3, weight_decay=0.0, always_adapt=True).step()
    step = math.sqrt(3) * 1e-3
    torch.testing.assert_close(p.detach(), torch.tensor([1 - step, 1.0, 2 - step], dtype=torch.float64))


def test_zero_initialized_tensor_takes_an_unscaled_step():
    """||x|| = 0: trust ratio 1, so the step is lr * (r + 0) = lr * g / (|g| + eps) at t = 1."""
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    g = torch.tensor([0.5, -2.0, 0.0], dtype=torch.float64)
    p.grad = g.clone()
    LAMB([p], lr=0.1, weight_decay=0.01).step()
    torch.testing.assert_close(p.detach(), -0.1 * g / (g.abs() + 1e-6))


def test_zero_gradient_keeps_decay_only_step_finite():
    """g = 0 and x != 0: u = lambda x, ratio ||x|| / ||lambda x|| = 1 / lambda, step lr * x."""
    p = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    p.grad = torch.zeros(2, dtype=torch.float64)
    LAMB([p], lr=0.1, weight_decay=0.01).step()
    torch.testing.assert_close(p.detach(), torch.tensor([2.7, 3.6], dtype=torch.float64))


def test_zero_update_with_always_adapt_is_finite():
    """||u|| = 0 (no decay, zero gradient at t = 1): ratio 1, so x stays put instead of NaN."""
    p = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    p.grad = torch.zeros(2, dtype=torch.float64)
    LAMB([p], lr=0.1, weight_decay=0.0, always_adapt=True).step()
    assert torch.equal(p.detach(), torch.tensor([3.0, 4.0], dtype=torch.float64))


def test_no_decay_group_is_adam():
    """weight_decay = 0 without always_adapt: no trust ratio, exactly torch.optim.Adam."""
    x0s, grads = random_problem(SHAPES, STEPS, seed=3, zero_last=False)
    ours = [torch.nn.Parameter(x.clone()) for x in x0s]
    adam = [torch.nn.Parameter(x.clone()) for x in x0s]
    opt_ours = LAMB(ours, lr=0.01, weight_decay=0.0)
    opt_adam = torch.optim.Adam(adam, lr=0.01, eps=1e-6)
    for step_grads in grads:
        for a, b, g in zip(ours, adam, step_grads):
            a.grad, b.grad = g.clone(), g.clone()
        opt_ours.step()
        opt_adam.step()
    for a, b in zip(ours, adam):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-12, atol=1e-14)


def test_global_clipping_spans_groups_and_leaves_grads_untouched():
    x0s, grads = random_problem(SHAPES, STEPS, seed=4, zero_last=False)
    grads = [[10 * g for g in step] for step in grads]  # far above the clip norm
    params = [torch.nn.Parameter(x.clone()) for x in x0s]
    opt = LAMB([{"params": params[:2]}, {"params": params[2:]}], lr=0.02, weight_decay=0.1, grad_clip_norm=1.0)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
        for p, g in zip(params, step_grads):
            assert torch.equal(p.grad, g)
    expected = reference_lamb(x0s, grads, [0.02] * STEPS, weight_decay=0.1, grad_clip_norm=1.0)
    assert_matches([p.detach() for p in params], expected, torch.float64)


def test_per_group_options():
    a = torch.nn.Parameter(torch.ones(3))
    b = torch.nn.Parameter(torch.ones(3))
    opt = LAMB([{"params": [a]}, {"params": [b], "lr": 0.0}], lr=0.1)
    a.grad, b.grad = torch.ones(3), torch.ones(3)
    opt.step()
    assert not torch.equal(a.detach(), torch.ones(3))
    assert torch.equal(b.detach(), torch.ones(3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-0.01), "Invalid learning rate: -0.01"),
        (dict(eps=0.0), "Invalid eps: 0.0"),
        (dict(weight_decay=-1.0), "Invalid weight_decay: -1.0"),
        (dict(betas=(1.0, 0.999)), "Invalid beta1: 1.0"),
        (dict(betas=(0.9, -0.1)), "Invalid beta2: -0.1"),
        (dict(betas=(0.9,)), "Invalid betas: (0.9,)"),
        (dict(grad_clip_norm=0.0), "Invalid grad_clip_norm: 0.0"),
    ],
)
def test_invalid_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LAMB([torch.nn.Parameter(torch.ones(2))], **kwargs)


def test_invalid_group_option_is_rejected():
    opt = LAMB([torch.nn.Parameter(torch.ones(2))])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "lr": -1})


def test_state_dict_round_trip_continues_bit_identically():
    gen = torch.Generator().manual_seed(5)
    weight = torch.nn.Parameter(torch.randn(10, 5, generator=gen))
    bias = torch.nn.Parameter(torch.randn(10, generator=gen))
    opt = LAMB([weight, bias], lr=0.01, weight_decay=0.01, grad_clip_norm=5.0)
    loss = fixed_problem(weight, bias)

    def closure():
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    for _ in range(20):
        opt.step(closure)
    weight2 = torch.nn.Parameter(weight.detach().clone())
    bias2 = torch.nn.Parameter(bias.detach().clone())
    opt2 = LAMB([weight2, bias2], lr=0.01, weight_decay=0.01, grad_clip_norm=5.0)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    loss2 = fixed_problem(weight2, bias2)

    def closure2():
        opt2.zero_grad()
        value = loss2()
        value.backward()
        return value

    for _ in range(20):
        opt.step(closure)
        opt2.step(closure2)
        assert torch.equal(weight, weight2) and torch.equal(bias, bias2)
    assert copy.deepcopy(opt).grad_clip_norm == 5.0
