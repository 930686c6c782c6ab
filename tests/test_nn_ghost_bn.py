"""Ghost Batch Normalization (Hoffer et al. 2017): chunk statistics, sequential running
statistics, evaluation mode, the uneven last ghost batch, gradients and state dicts."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from zktrain.nn import GhostBatchNorm1d, GhostBatchNorm2d
from zktrain.nn.ghost_batchnorm import ghost_batch_sizes, sequential_ema

SHAPES = {
    GhostBatchNorm1d: [(3,), (3, 5)],
    GhostBatchNorm2d: [(3, 4, 2)],
}
CASES = [(cls, shape) for cls, shapes in SHAPES.items() for shape in shapes]


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return torch.tensor(data.data / 16.0, dtype=torch.float32), torch.tensor(data.target)


def _input(batch: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # A per-channel offset and scale, so an unnormalized chunk is far from (0, 1).
    x = torch.randn(batch, *shape, generator=g, dtype=torch.float64)
    view = [1, -1] + [1] * (len(shape) - 1)
    return x * torch.arange(1, shape[0] + 1, dtype=torch.float64).view(view) + 3.0


def _chunk_stats(chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = [0, *range(2, chunk.dim())]
    return chunk.mean(dim=dims), chunk.var(dim=dims, correction=0)


@pytest.mark.parametrize("cls,shape", CASES)
@pytest.mark.parametrize("batch,ghost", [(12, 4), (12, 3), (11, 4), (10, 4), (3, 4)])
def test_each_ghost_batch_has_mean_zero_and_unit_variance(cls, shape, batch, ghost):
    bn = cls(shape[0], ghost, eps=0.0, affine=False).double()
    out = bn(_input(batch, shape))
    sizes = ghost_batch_sizes(batch, ghost)
    assert sum(sizes) == batch and all(s == ghost for s in sizes[:-1])
    for chunk in out.split(sizes):
        mean, var = _chunk_stats(chunk)
        torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-12, rtol=0)
        torch.testing.assert_close(var, torch.ones_like(var), atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls,shape", CASES)
def test_output_equals_batch_norm_of_each_chunk_with_affine(cls, shape):
    bn = cls(shape[0], 4).double()
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(0.5, 2.0, shape[0]))
        bn.bias.copy_(torch.linspace(-1.0, 1.0, shape[0]))
    x = _input(10, shape)
    expected = torch.cat([
        F.batch_norm(c, None, None, bn.weight, bn.bias, True, 0.0, bn.eps) for c in x.split(4)
    ])
    torch.testing.assert_close(bn(x), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls,shape", CASES)
@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_running_stats_equal_sequential_batchnorm_updates(cls, shape, momentum):
    batch, ghost = 14, 4  # ghost batches of 4, 4, 4, 2
    ghost_bn = cls(shape[0], ghost, momentum=momentum).double()
    reference = {GhostBatchNorm1d: nn.BatchNorm1d, GhostBatchNorm2d: nn.BatchNorm2d}[cls]
    sequential = reference(shape[0], momentum=momentum).double()
    for step in range(3):
        x = _input(batch, shape, seed=step)
        ghost_bn(x)
        for chunk in x.split(ghost):
            sequential(chunk)
        torch.testing.assert_close(ghost_bn.running_mean, sequential.running_mean, atol=1e-12, rtol=0)
        torch.testing.assert_close(ghost_bn.running_var, sequential.running_var, atol=1e-12, rtol=0)
        assert int(ghost_bn.num_batches_tracked) == int(sequential.num_batches_tracked) == 4 * (step + 1)


def test_running_var_uses_unbiased_ghost_variance():
    bn = GhostBatchNorm1d(2, 3, momentum=1.0).double()
    x = _input(3, (2,))
    bn(x)
    torch.testing.assert_close(bn.running_var, x.var(dim=0, correction=1), atol=1e-12, rtol=0)
    torch.testing.assert_close(bn.running_mean, x.mean(dim=0), atol=1e-12, rtol=0)


def test_sequential_ema_closed_form_matches_loop():
    g = torch.Generator().manual_seed(1)
    start = torch.randn(5, generator=g, dtype=torch.float64)
    obs = torch.randn(7, 5, generator=g, dtype=torch.float64)
    closed, looped = start.clone(), start.clone()
    sequential_ema(closed, obs, 0.3)
    for row in obs:
        looped.mul_(0.7).add_(0.3 * row)
    torch.testing.assert_close(closed, looped, atol=1e-14, rtol=0)


@pytest.mark.parametrize("cls,shape", CASES)
def test_eval_mode_uses_running_stats_and_leaves_them_unchanged(cls, shape):
    bn = cls(shape[0], 4).double()
    bn(_input(12, shape))
    bn.eval()
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    x = _input(1, shape, seed=5)  # a single sample is fine in evaluation
    view = [1, -1] + [1] * (len(shape) - 1)
    expected = (x - mean.view(view)) / torch.sqrt(var.view(view) + bn.eps)
    expected = expected * bn.weight.view(view) + bn.bias.view(view)
    torch.testing.assert_close(bn(x), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(bn.running_mean, mean, atol=0, rtol=0)
    torch.testing.assert_close(bn.running_var, var, atol=0, rtol=0)


@pytest.mark.parametrize("cls,shape", CASES)
@pytest.mark.parametrize("batch", [6, 8])
def test_gradcheck_float64(cls, shape, batch):
    bn = cls(shape[0], 3).double()
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(0.5, 1.5, shape[0]))
    x = _input(batch, shape).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda inp, w, b: _functional(bn, inp, w, b), (x, bn.weight, bn.bias))


def _functional(bn, inp, weight, bias):
    return torch.func.functional_call(bn, {"weight": weight, "bias": bias}, (inp,))


@pytest.mark.parametrize("batch,ghost", [(9, 4), (1, 4), (5, 2)])
def test_a_ghost_batch_of_one_sample_is_an_error(batch, ghost):
    bn = GhostBatchNorm2d(2, ghost)
    with pytest.raises(ValueError, match="ghost batch of one sample"):
        bn(torch.randn(batch, 2, 3, 3))
    assert int(bn.num_batches_tracked) == 0


def test_state_dict_round_trip_and_batchnorm_compatibility():
    bn = GhostBatchNorm2d(3, 4)
    for seed in range(3):
        bn(torch.randn(16, 3, 2, 2, generator=torch.Generator().manual_seed(seed)))
    state = bn.state_dict()
    assert set(state) == set(nn.BatchNorm2d(3).state_dict())
    fresh = GhostBatchNorm2d(3, 4)
    fresh.load_state_dict(state)
    bn.eval(), fresh.eval()
    x = torch.randn(5, 3, 2, 2)
    torch.testing.assert_close(fresh(x), bn(x), atol=0, rtol=0)
    plain = nn.BatchNorm2d(3).eval()
    plain.load_state_dict(state)
    torch.testing.assert_close(plain(x), bn(x))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"virtual_batch_size": 1}, "virtual_batch_size"),
        ({"virtual_batch_size": 2.0}, "virtual_batch_size"),
        ({"virtual_batch_size": 4, "momentum": 1.5}, "momentum"),
        ({"virtual_batch_size": 4, "momentum": None}, "momentum"),
        ({"virtual_batch_size": 4, "eps": -1e-5}, "eps"),
    ],
)
def test_invalid_hyperparameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GhostBatchNorm1d(4, **kwargs)


def test_input_rank_is_checked():
    with pytest.raises(ValueError, match="4D"):
        GhostBatchNorm2d(3, 4)(torch.randn(8, 3))
    with pytest.raises(ValueError, match="2D or 3D"):
        GhostBatchNorm1d(3, 4)(torch.randn(8, 3, 2, 2))


def test_small_mlp_with_ghost_batch_norm_learns_digits(digits):
    x, y = digits
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 32, bias=False), GhostBatchNorm1d(32, 16), nn.ReLU(), nn.Linear(32, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    first = F.cross_entropy(model(x[:256]), y[:256]).item()
    for step in range(60):
        idx = torch.arange(step * 128, step * 128 + 128) % len(x)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    accuracy = (model(x).argmax(1) == y).double().mean().item()
    assert F.cross_entropy(model(x[:256]), y[:256]).item() < first / 4
    assert accuracy > 0.9
