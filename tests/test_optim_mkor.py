"""MKOR (Mozaffari et al. 2023): the Sherman-Morrison inverse update against torch.linalg.inv,
the stabilizer, the recorded rank-1 statistics, the preconditioned gradient, the update schedule,
state dicts and a small convergence check."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from zktrain.optim.mkor import MKOR, sherman_morrison_update, stabilize_inverse_factor


def _spd(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(d, d, generator=g, dtype=torch.float64)
    return m @ m.T / d + 0.5 * torch.eye(d, dtype=torch.float64)


@pytest.mark.parametrize("decay", [0.95, 0.5])
def test_sherman_morrison_matches_dense_inverse(decay):
    a = _spd(7, seed=0)
    v = torch.randn(7, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    expected = torch.linalg.inv(decay * a + (1 - decay) * torch.outer(v, v))
    torch.testing.assert_close(sherman_morrison_update(torch.linalg.inv(a), v, decay), expected, atol=1e-10, rtol=1e-10)


def test_chained_rank_one_updates_track_the_factor():
    g = torch.Generator().manual_seed(2)
    factor = torch.eye(5, dtype=torch.float64)
    inverse = torch.eye(5, dtype=torch.float64)
    for _ in range(30):
        v = torch.randn(5, generator=g, dtype=torch.float64)
        factor = 0.9 * factor + 0.1 * torch.outer(v, v)
        inverse = sherman_morrison_update(inverse, v, 0.9)
    torch.testing.assert_close(inverse, torch.linalg.inv(factor), atol=1e-8, rtol=1e-8)


def test_stabilizer_blends_with_identity_only_above_threshold():
    small = torch.tensor([[1.5, 0.2], [0.2, 1.0]], dtype=torch.float64)
    assert stabilize_inverse_factor(small, 2.0, 0.1) is small
    large = torch.tensor([[3.0, -0.5], [-0.5, 1.0]], dtype=torch.float64)
    expected = torch.tensor([[0.9 * 3.0 + 0.1, -0.45], [-0.45, 0.9 + 0.1]], dtype=torch.float64)
    torch.testing.assert_close(stabilize_inverse_factor(large, 2.0, 0.1), expected)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3, bias=False)).double()


def _batch(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def test_step_uses_batch_mean_statistics_and_preconditions_gradients():
    model = _model()
    lr = 0.1
    x, y = _batch()
    # Reference quantities, before MKOR's hooks exist.
    z0 = model[0](x)
    hidden = model[1](z0)
    z2 = model[2](hidden)
    out_grads = torch.autograd.grad(F.cross_entropy(z2, y), (z0, z2))
    inputs = [x, hidden]
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=lr), stat_decay=0.8, inv_freq=1,
                stabilization_threshold=1e9)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    grads = [torch.cat([model[0].weight.grad, model[0].bias.grad.unsqueeze(1)], 1), model[2].weight.grad.clone()]
    before = [p.detach().clone() for p in model.parameters()]
    mkor.step()
    expected_deltas = []
    for k, layer in enumerate((model[0], model[2])):
        a_bar = inputs[k].detach().mean(0)
        if layer.bias is not None:
            a_bar = torch.cat([a_bar, torch.ones(1, dtype=torch.float64)])
        g_bar = out_grads[k].sum(0)  # len(x) * mean of the 1/N-scaled row gradients
        left = torch.linalg.inv(0.8 * torch.eye(len(a_bar), dtype=torch.float64) + 0.2 * torch.outer(a_bar, a_bar))
        right = torch.linalg.inv(0.8 * torch.eye(len(g_bar), dtype=torch.float64) + 0.2 * torch.outer(g_bar, g_bar))
        torch.testing.assert_close(mkor.left_inverses[k], left, atol=1e-12, rtol=0)
        torch.testing.assert_close(mkor.right_inverses[k], right, atol=1e-12, rtol=0)
        delta = right @ grads[k] @ left
        expected_deltas.append(delta * torch.linalg.matrix_norm(grads[k]) / torch.linalg.matrix_norm(delta))
    w0, b0, w2 = before
    torch.testing.assert_close(model[0].weight.detach(), w0 - lr * expected_deltas[0][:, :4], atol=1e-12, rtol=0)
    torch.testing.assert_close(model[0].bias.detach(), b0 - lr * expected_deltas[0][:, 4], atol=1e-12, rtol=0)
    torch.testing.assert_close(model[2].weight.detach(), w2 - lr * expected_deltas[1], atol=1e-12, rtol=0)


def test_factors_update_every_inv_freq_steps_only():
    model = _model()
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.01), inv_freq=3)
    history = []
    for step in range(7):
        mkor.zero_grad()
        F.cross_entropy(model(_batch(seed=step)[0]), _batch(seed=step)[1]).backward()
        mkor.step()
        history.append(mkor.left_inverses[0].clone())
    changed = [not torch.equal(history[i], history[i - 1]) for i in range(1, 7)]
    assert not torch.equal(history[0], torch.eye(5, dtype=torch.float64))
    assert changed == [False, False, True, False, False, True]


def test_other_parameters_pass_through_and_norm_is_preserved():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).double()
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.0), inv_freq=1)
    x, y = _batch(8)
    F.cross_entropy(model(x), y).backward()
    bn_grad = model[1].weight.grad.clone()
    layer_norm = torch.linalg.vector_norm(torch.cat([model[0].weight.grad.flatten(), model[0].bias.grad]))
    mkor.step()
    torch.testing.assert_close(model[1].weight.grad, bn_grad, atol=0, rtol=0)
    new_norm = torch.linalg.vector_norm(torch.cat([model[0].weight.grad.flatten(), model[0].bias.grad]))
    torch.testing.assert_close(new_norm, layer_norm)
    assert len(mkor.layers) == 2


def test_stabilizer_keeps_inverse_factors_bounded():
    model = _model()
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.01), inv_freq=1)
    for step in range(40):
        mkor.zero_grad()
        x, y = _batch(seed=step)
        F.cross_entropy(model(x), y).backward()
        mkor.step()
        for f in mkor.left_inverses + mkor.right_inverses:
            # One update multiplies by at most 1/gamma before the blend: bounded by 2 / 0.95.
            assert float(f.abs().max()) <= 2.0 / 0.95 + 1e-9
            assert float(torch.linalg.eigvalsh(f).min()) > 0


def test_statistics_are_not_recorded_in_eval_or_no_grad():
    model = _model()
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.01), inv_freq=1)
    with torch.no_grad():
        model(_batch()[0])
    model.eval()
    F.cross_entropy(model(_batch()[0]), _batch()[1]).backward()
    mkor.step()
    torch.testing.assert_close(mkor.left_inverses[0], torch.eye(5, dtype=torch.float64))


def test_remove_hooks():
    model = _model()
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.01), inv_freq=1)
    mkor.remove_hooks()
    F.cross_entropy(model(_batch()[0]), _batch()[1]).backward()
    mkor.step()
    torch.testing.assert_close(mkor.right_inverses[0], torch.eye(5, dtype=torch.float64))


def test_state_dict_round_trip():
    model = _model()
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), inv_freq=2)
    for step in range(3):
        mkor.zero_grad()
        F.cross_entropy(model(_batch(seed=step)[0]), _batch(seed=step)[1]).backward()
        mkor.step()
    twin = copy.deepcopy(model)
    fresh = MKOR(twin, torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9), inv_freq=2)
    fresh.load_state_dict(copy.deepcopy(mkor.state_dict()))
    for opt, net in ((mkor, model), (fresh, twin)):
        for step in range(3, 6):
            opt.zero_grad()
            F.cross_entropy(net(_batch(seed=step)[0]), _batch(seed=step)[1]).backward()
            opt.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, atol=0, rtol=0)
    other = nn.Sequential(nn.Linear(4, 7)).double()
    with pytest.raises(ValueError, match="does not match"):
        MKOR(other, torch.optim.SGD(other.parameters(), lr=0.1)).load_state_dict(mkor.state_dict())


@pytest.mark.parametrize(
    "kwargs,name",
    [({"stat_decay": 1.0}, "stat_decay"), ({"stat_decay": 0.0}, "stat_decay"), ({"inv_freq": 0}, "inv_freq"),
     ({"stabilization_threshold": 0.0}, "stabilization_threshold"),
     ({"stabilization_factor": 0.0}, "stabilization_factor")],
)
def test_invalid_arguments(kwargs, name):
    model = _model()
    with pytest.raises(ValueError, match=name):
        MKOR(model, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_model_without_linear_layers_is_an_error():
    conv = nn.Conv2d(1, 1, 3)
    with pytest.raises(ValueError, match="nn.Linear"):
        MKOR(conv, torch.optim.SGD(conv.parameters(), lr=0.1))


def test_mkor_sgd_learns_digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    mkor = MKOR(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), inv_freq=5)
    initial = F.cross_entropy(model(x), y).item()
    for step in range(40):
        idx = torch.arange(step * 128, step * 128 + 128) % len(x)
        mkor.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        mkor.step()
    with torch.no_grad():
        assert F.cross_entropy(model(x), y).item() < initial / 4
        assert (model(x).argmax(1) == y).double().mean().item() > 0.85
