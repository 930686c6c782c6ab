"""ConAdv (Liu et al. 2022): adversarial examples from the stale weights, the combined loss and
its gradient, isolation of the live model, input bounds, and a small convergence check."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from zktrain.train.conadv import ConAdv


def _batch(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def _model(bn: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(4, 5)] + ([nn.BatchNorm1d(5)] if bn else []) + [nn.Tanh(), nn.Linear(5, 3)]
    return nn.Sequential(*layers).double()


def _fgsm(model: nn.Module, x, y, epsilon):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    return x.detach() + epsilon * grad.sign()


def test_attack_uses_the_weights_of_the_previous_call():
    model = _model()
    conadv = ConAdv(epsilon=0.1)
    x, y = _batch()
    stale = copy.deepcopy(model)
    conadv(model, F.cross_entropy, x, y)  # remembers theta_0
    with torch.no_grad():  # an "optimizer step" to theta_1 that changes the input gradient
        for p in model.parameters():
            p.mul_(-1.5).add_(0.3)
    x2, y2 = _batch(seed=1)
    x_adv = conadv.adversarial_examples(model, F.cross_entropy, x2, y2)
    torch.testing.assert_close(x_adv, _fgsm(stale, x2, y2, 0.1), atol=0, rtol=0)
    assert not torch.equal(x_adv, _fgsm(model, x2, y2, 0.1))


def test_first_call_attacks_with_the_current_weights():
    model = _model()
    x, y = _batch()
    torch.testing.assert_close(
        ConAdv(epsilon=0.2).adversarial_examples(model, F.cross_entropy, x, y), _fgsm(model, x, y, 0.2), atol=0, rtol=0
    )


def test_loss_is_clean_plus_weighted_adversarial_at_current_weights():
    model = _model()
    conadv = ConAdv(epsilon=0.05, adv_weight=0.7)
    x, y = _batch()
    conadv(model, F.cross_entropy, x, y)
    with torch.no_grad():
        model[0].weight.add_(0.2)
    stale_adv = conadv.adversarial_examples(model, F.cross_entropy, x, y)
    loss, outputs = conadv(model, F.cross_entropy, x, y)
    expected = F.cross_entropy(model(x), y) + 0.7 * F.cross_entropy(model(stale_adv), y)
    torch.testing.assert_close(loss, expected, atol=1e-14, rtol=0)
    torch.testing.assert_close(outputs, model(x), atol=0, rtol=0)
    got = torch.autograd.grad(loss, list(model.parameters()))
    want = torch.autograd.grad(expected, list(model.parameters()))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-14, rtol=0)


def test_attack_leaves_live_gradients_and_buffers_alone():
    model = _model(bn=True)
    reference = copy.deepcopy(model)
    conadv = ConAdv(epsilon=0.1)
    x, y = _batch(8)
    x_adv = conadv.adversarial_examples(model, F.cross_entropy, x, y)
    loss, _ = conadv(model, F.cross_entropy, x, y)
    assert all(p.grad is None for p in model.parameters())
    reference(x), reference(x_adv)  # the only forward passes that may touch the running stats
    for (name, b), (_, r) in zip(model.named_buffers(), reference.named_buffers()):
        torch.testing.assert_close(b, r, atol=1e-14, rtol=0, msg=name)


def test_adversarial_input_is_clamped_to_bounds():
    model = _model()
    x, y = _batch()
    x = x.clamp(-0.5, 0.5)
    x_adv = ConAdv(epsilon=1.0, input_min=-0.5, input_max=0.5).adversarial_examples(model, F.cross_entropy, x, y)
    assert float(x_adv.min()) >= -0.5 and float(x_adv.max()) <= 0.5
    assert (x_adv != x).any()


@pytest.mark.parametrize(
    "kwargs,name",
    [({"epsilon": 0.0}, "epsilon"), ({"epsilon": 0.1, "adv_weight": 0.0}, "adv_weight"),
     ({"epsilon": 0.1, "input_min": 0.0}, "input_min"),
     ({"epsilon": 0.1, "input_min": 1.0, "input_max": 0.0}, "input_min")],
)
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ConAdv(**kwargs)


def test_conadv_training_learns_digits_and_resists_its_attack():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    conadv = ConAdv(epsilon=0.05, input_min=0.0, input_max=1.0)
    for step in range(60):
        idx = torch.arange(step * 256, step * 256 + 256) % len(x)
        opt.zero_grad()
        loss, _ = conadv(model, F.cross_entropy, x[idx], y[idx])
        loss.backward()
        opt.step()
    clean_accuracy = (model(x).argmax(1) == y).double().mean().item()
    x_adv = ConAdv(epsilon=0.05, input_min=0.0, input_max=1.0).adversarial_examples(model, F.cross_entropy, x, y)
    adv_accuracy = (model(x_adv).argmax(1) == y).double().mean().item()
    assert clean_accuracy > 0.9
    assert adv_accuracy > 0.7
