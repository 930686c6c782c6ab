"""Adaptive batch sizes (AdAdaGrad, Lau et al. 2024) and AdaGrad-Norm (Ward et al. 2019):
per-sample gradients against an explicit loop, the noise statistics against their definitions,
batch-size decisions on constructed cases, and a small AdAdaGrad-Norm run."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from zktrain.batching import AdaptiveBatchSize, GradientNoise, gradient_noise, per_sample_gradients
from zktrain.batching.adaptive import proposed_batch_size
from zktrain.nn import GhostBatchNorm1d
from zktrain.optim.adagradnorm import AdaGradNorm


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), GhostBatchNorm1d(6, 4), nn.Tanh(), nn.Linear(6, 3)).double()


def _batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


# ---------------------------------------------------------------- per-sample gradients


def test_per_sample_gradients_match_an_explicit_loop():
    model = _model()
    model(_batch(16, seed=3)[0])  # non-trivial running statistics
    x, y = _batch()
    grads = per_sample_gradients(model, F.cross_entropy, x, y)
    model.eval()
    for i in range(len(x)):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(grads[name][i], p.grad, atol=1e-12, rtol=0)


def test_per_sample_gradients_leave_model_untouched():
    model = _model()
    model[1].eval()  # a submodule whose own mode must be restored
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _batch()
    per_sample_gradients(model, F.cross_entropy, x, y)
    assert model.training and model[0].training and not model[1].training
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, buffers[k], atol=0, rtol=0)


def test_frozen_parameters_are_skipped():
    model = _model()
    model[0].weight.requires_grad_(False)
    grads = per_sample_gradients(model, F.cross_entropy, *_batch())
    assert "0.weight" not in grads and grads["0.bias"].shape == (8, 6)


# ---------------------------------------------------------------- noise statistics


def _explicit_noise(blocks: list[torch.Tensor]) -> dict[str, float]:
    """The statistics from their definitions, one sample at a time on the full gradient vector."""
    b = blocks[0].shape[0]
    full = [torch.cat([blk[i].flatten() for blk in blocks]) for i in range(b)]
    mean = sum(full) / b
    trace_var = sum(((g - mean) ** 2).sum() for g in full) / (b - 1)
    ips = [float(g @ mean) for g in full]
    ip_mean = sum(ips) / b
    ip_var = sum((v - ip_mean) ** 2 for v in ips) / (b - 1)
    orth = [g - (float(g @ mean) / float(mean @ mean)) * mean for g in full]
    orth_mean = sum(orth) / b
    orth_var = sum(((o - orth_mean) ** 2).sum() for o in orth) / (b - 1)
    return {"grad_sq_norm": float(mean @ mean), "trace_var": float(trace_var),
            "inner_product_var": ip_var, "orthogonal_var": float(orth_var)}


def test_gradient_noise_matches_definitions_across_tensors():
    g = torch.Generator().manual_seed(7)
    shared = torch.randn(6, 1, generator=g, dtype=torch.float64)
    # Correlated blocks (a shared per-sample factor), so cross-tensor covariances matter.
    blocks = [
        shared * torch.tensor([1.0, -2.0, 0.5]) + 0.3 + 0.1 * torch.randn(6, 3, generator=g),
        (shared * 1.5 + 0.2 + 0.1 * torch.randn(6, 1, generator=g)).view(6, 1, 1).expand(6, 2, 2).clone(),
    ]
    noise = gradient_noise(blocks)
    expected = _explicit_noise(blocks)
    assert noise.batch_size == 6
    for name, value in expected.items():
        assert getattr(noise, name) == pytest.approx(value, rel=1e-10, abs=1e-12), name
    # The per-tensor approximation of the reference code differs here; ours is the exact one.
    per_tensor = sum(float((blk.flatten(1) @ blk.flatten(1).mean(0)).var()) for blk in blocks)
    assert abs(per_tensor - noise.inner_product_var) > 1e-3 * noise.inner_product_var


def test_gradient_noise_of_per_sample_gradients_of_a_model():
    model = _model()
    x, y = _batch(10, seed=1)
    grads = per_sample_gradients(model, F.cross_entropy, x, y)
    noise = gradient_noise(grads.values())
    expected = _explicit_noise(list(grads.values()))
    for name, value in expected.items():
        assert getattr(noise, name) == pytest.approx(value, rel=1e-9), name


def test_identical_samples_have_no_noise():
    block = torch.ones(4, 3, dtype=torch.float64).cumsum(1)
    noise = gradient_noise([block])
    assert noise.trace_var == noise.inner_product_var == noise.orthogonal_var == 0.0
    assert noise.grad_sq_norm == pytest.approx(14.0)


def test_gradient_noise_needs_two_samples():
    with pytest.raises(ValueError, match=">= 2"):
        gradient_noise([torch.ones(1, 3)])
    with pytest.raises(ValueError, match="common batch size"):
        gradient_noise([torch.ones(3, 3), torch.ones(4, 2)])


# ---------------------------------------------------------------- batch-size decisions


def _noise(g2=1.0, trace=0.0, ip=0.0, orth=0.0) -> GradientNoise:
    return GradientNoise(batch_size=8, grad_sq_norm=g2, trace_var=trace, inner_product_var=ip, orthogonal_var=orth)


@pytest.mark.parametrize(
    "test,noise,expected",
    [
        ("norm", _noise(g2=2.0, trace=8.0), 16),  # 8 / (0.25 * 2)
        ("norm", _noise(g2=2.0, trace=8.1), 17),  # ceil(16.2)
        ("inner_product", _noise(g2=2.0, ip=4.0), 4),  # 4 / (0.25 * 4)
        ("augmented", _noise(g2=2.0, ip=4.0, orth=10.0), 20),  # max(4, 10 / (0.25 * 2))
        ("augmented", _noise(g2=2.0, ip=40.0, orth=1.0), 40),  # max(40, 2)
    ],
)
def test_proposed_batch_size_formulas(test, noise, expected):
    assert proposed_batch_size(noise, test, eta=0.5, theta=0.5, nu=0.5) == expected


def test_zero_mean_gradient_goes_to_the_cap_unless_noise_is_zero_too():
    assert proposed_batch_size(_noise(g2=0.0, trace=1.0), "norm", eta=1, theta=1, nu=1) == math.inf
    assert proposed_batch_size(_noise(g2=0.0), "augmented", eta=1, theta=1, nu=1) == 0
    controller = AdaptiveBatchSize(8, 100)
    assert controller.decide(_noise(g2=0.0, trace=1.0)) == 100


def test_batch_size_never_decreases_and_is_capped():
    controller = AdaptiveBatchSize(8, 50, test="norm", eta=1.0)
    assert controller.decide(_noise(trace=3.0)) == 8  # proposal 3 < b
    assert controller.decide(_noise(trace=20.0)) == 20
    assert controller.decide(_noise(trace=10.0)) == 20
    assert controller.decide(_noise(trace=1e6)) == 50
    assert not controller.test_due()  # at the cap: no more tests


def test_batch_sizes_are_rounded_up_to_the_multiple():
    controller = AdaptiveBatchSize(16, 128, eta=1.0, batch_size_multiple=16)
    assert controller.decide(_noise(trace=17.0)) == 32
    assert controller.decide(_noise(trace=20.0)) == 32
    assert controller.decide(_noise(trace=48.0)) == 48
    assert controller.decide(_noise(trace=127.5)) == 128
    assert controller.decide(_noise(trace=1e9)) == 128


def test_after_step_runs_the_test_only_when_due():
    calls = []

    def counting_loss(out, y):
        calls.append(1)
        return F.cross_entropy(out, y)

    controller = AdaptiveBatchSize(4, 10**6, test_interval=3, eta=0.01)
    model = _model()
    batch = _batch(8)
    tested = []
    for _ in range(7):
        calls.clear()
        controller.after_step(model, counting_loss, batch)
        tested.append(bool(calls))
    assert tested == [True, False, False, True, False, False, True]
    assert controller.batch_size(7) > 4
    assert controller.last_noise is not None and controller.last_noise.batch_size == 8


def test_a_single_sample_batch_skips_the_test():
    controller = AdaptiveBatchSize(4, 1024)
    controller.after_step(_model(), F.cross_entropy, _batch(1))
    assert controller.last_noise is None and controller.steps_seen == 1


def test_max_test_samples_limits_the_per_sample_batch():
    controller = AdaptiveBatchSize(4, 1024, max_test_samples=5)
    controller.after_step(_model(), F.cross_entropy, _batch(8))
    assert controller.last_noise.batch_size == 5


def test_decision_from_a_model_matches_the_formula():
    model = _model()
    x, y = _batch(12, seed=2)
    controller = AdaptiveBatchSize(4, 10**6, test="augmented", theta=0.3, nu=0.7)
    noise = gradient_noise(per_sample_gradients(model, F.cross_entropy, x, y).values())
    expected = max(4, math.ceil(max(noise.inner_product_var / (0.09 * noise.grad_sq_norm**2),
                                    noise.orthogonal_var / (0.49 * noise.grad_sq_norm))))
    controller.after_step(model, F.cross_entropy, (x, y))
    assert controller.batch_size(1) == expected


def test_controller_state_dict_round_trip():
    controller = AdaptiveBatchSize(8, 64, test_interval=2)
    controller.decide(_noise(trace=2.0, g2=0.25))
    controller.after_step(_model(), F.cross_entropy, _batch(8))
    fresh = AdaptiveBatchSize(8, 64, test_interval=2)
    fresh.load_state_dict(controller.state_dict())
    assert fresh.batch_size(0) == controller.batch_size(0) >= 32  # 2 / (0.25 * 0.25), then a test
    assert fresh.steps_seen == 1 and not fresh.test_due() and not controller.test_due()
    with pytest.raises(ValueError, match="batch_size"):
        fresh.load_state_dict({"batch_size": 65, "steps_seen": 0})
    with pytest.raises(ValueError, match="steps_seen"):
        fresh.load_state_dict({"batch_size": 8, "steps_seen": -1})


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"initial_batch_size": 1}, "initial_batch_size"),
        ({"max_batch_size": 4}, "max_batch_size"),
        ({"test": "variance"}, "test"),
        ({"eta": 0.0}, "eta"),
        ({"theta": -1.0}, "theta"),
        ({"nu": 0.0}, "nu"),
        ({"test_interval": 0}, "test_interval"),
        ({"max_test_samples": 1}, "max_test_samples"),
        ({"batch_size_multiple": 0}, "batch_size_multiple"),
        ({"batch_size_multiple": 3}, "multiples of batch_size_multiple"),
    ],
)
def test_controller_invalid_arguments(kwargs, name):
    args = {"initial_batch_size": 8, "max_batch_size": 64, **kwargs}
    with pytest.raises(ValueError, match=name):
        AdaptiveBatchSize(**args)


# ---------------------------------------------------------------- AdaGrad-Norm


def test_adagrad_norm_update_rule():
    torch.manual_seed(0)
    w = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    opt = AdaGradNorm([w, b], lr=0.5, initial_accumulator_value=0.1)
    ref_w, ref_b, acc = w.detach().clone(), b.detach().clone(), 0.1
    for step in range(3):
        gw = torch.full_like(w, step + 1.0) - w.detach()
        gb = torch.arange(2.0, dtype=torch.float64) * (step - 1)
        w.grad, b.grad = gw.clone(), gb.clone()
        opt.step()
        acc += float(gw.square().sum() + gb.square().sum())
        ref_w -= 0.5 * gw / (math.sqrt(acc) + 1e-10)
        ref_b -= 0.5 * gb / (math.sqrt(acc) + 1e-10)
        torch.testing.assert_close(w.detach(), ref_w, atol=1e-12, rtol=0)
        torch.testing.assert_close(b.detach(), ref_b, atol=1e-12, rtol=0)


def test_adagrad_norm_weight_decay_enters_the_norm():
    p = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    opt = AdaGradNorm([p], lr=1.0, initial_accumulator_value=0.0, weight_decay=1.0, eps=1e-300)
    p.grad = torch.zeros_like(p)
    opt.step()  # g = p = (3, 4), b = 5: a step of length 1 along -p
    torch.testing.assert_close(p.detach(), torch.tensor([2.4, 3.2], dtype=torch.float64), atol=1e-14, rtol=0)


def test_adagrad_norm_groups_have_separate_accumulators_and_state_round_trip():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    opt = AdaGradNorm([{"params": [a]}, {"params": [b], "lr": 0.1}])
    for _ in range(2):
        a.grad, b.grad = torch.full((2,), 3.0), torch.full((2,), 0.5)
        opt.step()
    assert float(opt.state[a]["sum_sq_norm"]) == pytest.approx(0.01 + 36.0)
    assert float(opt.state[b]["sum_sq_norm"]) == pytest.approx(0.01 + 1.0)
    a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    fresh = AdaGradNorm([{"params": [a2]}, {"params": [b2], "lr": 0.1}])
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    for x, y in ((a, a2), (b, b2)):
        x.grad = y.grad = torch.full((2,), -1.0)
    opt.step(), fresh.step()
    torch.testing.assert_close(a2, a, atol=0, rtol=0)
    torch.testing.assert_close(b2, b, atol=0, rtol=0)


@pytest.mark.parametrize(
    "kwargs,name",
    [({"lr": -1.0}, "lr"), ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
     ({"eps": -1.0}, "eps"), ({"weight_decay": -1e-4}, "weight_decay"),
     ({"initial_accumulator_value": 0.0, "eps": 0.0}, "eps")],
)
def test_adagrad_norm_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AdaGradNorm([torch.zeros(2, requires_grad=True)], **kwargs)


def test_adadagrad_norm_learns_digits_and_grows_the_batch():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), GhostBatchNorm1d(32, 8), nn.ReLU(), nn.Linear(32, 10))
    opt = AdaGradNorm(model.parameters(), lr=0.5)
    controller = AdaptiveBatchSize(8, 256, test="norm", eta=0.5, test_interval=2, max_test_samples=64)
    initial = F.cross_entropy(model.eval()(x), y).item()
    model.train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    position, sizes = 0, []
    for step in range(40):
        size = controller.batch_size(step)
        idx = order[torch.arange(position, position + size) % len(x)]
        position += size
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        controller.after_step(model, F.cross_entropy, (x[idx], y[idx]))  # at the step's weights
        opt.step()
        sizes.append(size)
    model.eval()
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert F.cross_entropy(model(x), y).item() < initial / 3
