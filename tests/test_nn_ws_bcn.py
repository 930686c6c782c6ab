"""Weight Standardization and Batch-Channel Normalization (Qiao et al. 2019): the stated
variance/epsilon convention, estimated statistics about the previous mean, the per-group channel
normalization, gradients, evaluation mode and state dicts."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from zktrain.nn import BatchChannelNorm2d, WSConv2d, WSLinear
from zktrain.nn.weight_standardization import standardize_weight


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- weight standardization


def test_standardize_weight_biased_variance_eps_inside_sqrt():
    w = _randn(4, 3, 2, 2) * 3 + 1
    eps = 0.25  # large, so eps placement and the variance estimator both show
    rows = w.reshape(4, -1)
    expected = (rows - rows.mean(1, keepdim=True)) / torch.sqrt(
        ((rows - rows.mean(1, keepdim=True)) ** 2).sum(1, keepdim=True) / rows.shape[1] + eps
    )
    torch.testing.assert_close(standardize_weight(w, eps), expected.view_as(w), atol=1e-14, rtol=0)


def test_standardized_rows_have_zero_mean_and_unit_biased_variance():
    layer = WSLinear(16, 5, ws_eps=1e-12).double()
    w = layer.standardized_weight()
    torch.testing.assert_close(w.mean(1), torch.zeros(5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(w.var(1, correction=0), torch.ones(5, dtype=torch.float64), atol=1e-9, rtol=0)


def test_ws_linear_forward_uses_standardized_weight():
    layer = WSLinear(6, 3).double()
    x = _randn(5, 6)
    expected = x @ standardize_weight(layer.weight, layer.ws_eps).T + layer.bias
    torch.testing.assert_close(layer(x), expected, atol=1e-12, rtol=0)


def test_ws_conv2d_forward_uses_standardized_filters_with_groups():
    conv = WSConv2d(4, 6, 3, padding=1, groups=2).double()
    x = _randn(2, 4, 5, 5)
    expected = F.conv2d(x, standardize_weight(conv.weight, conv.ws_eps), conv.bias, padding=1, groups=2)
    torch.testing.assert_close(conv(x), expected, atol=1e-12, rtol=0)
    assert standardize_weight(conv.weight, 0.0)[0].numel() == 2 * 3 * 3


def test_ws_output_is_invariant_to_affine_rescaling_of_weight_rows():
    layer = WSLinear(8, 4, bias=False, ws_eps=1e-14).double()
    x = _randn(3, 8, seed=1)
    before = layer(x)
    with torch.no_grad():
        layer.weight.mul_(torch.tensor([[2.0], [0.5], [3.0], [7.0]], dtype=torch.float64)).add_(5.0)
    torch.testing.assert_close(layer(x), before, atol=1e-9, rtol=0)


@pytest.mark.parametrize("make", [lambda: WSLinear(5, 3), lambda: WSConv2d(2, 3, 2, groups=1)])
def test_ws_gradcheck_float64(make):
    layer = make().double()
    x = _randn(4, 5) if isinstance(layer, WSLinear) else _randn(2, 2, 4, 4)
    x.requires_grad_(True)

    def f(inp, w, b):
        return torch.func.functional_call(layer, {"weight": w, "bias": b}, (inp,))

    assert torch.autograd.gradcheck(f, (x, layer.weight, layer.bias))


def test_ws_invalid_arguments():
    with pytest.raises(ValueError, match="ws_eps"):
        WSLinear(4, 2, ws_eps=0.0)
    with pytest.raises(ValueError, match="fan-in"):
        WSLinear(1, 2)
    with pytest.raises(ValueError, match="fan-in"):
        WSConv2d(1, 2, 1)


def test_ws_state_dict_round_trip():
    conv = WSConv2d(3, 4, 3)
    fresh = WSConv2d(3, 4, 3)
    fresh.load_state_dict(conv.state_dict())
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(fresh(x), conv(x), atol=0, rtol=0)


# ---------------------------------------------------------------- batch-channel normalization


def _bcn_reference(x, mean, var, bcn):
    """CN(BN(x)) written out: per-channel normalization and affine, then per-(sample, group)
    normalization and per-group affine."""
    c, g = bcn.num_features, bcn.num_groups
    y = (x - mean.view(1, c, 1, 1)) / torch.sqrt(var.view(1, c, 1, 1) + bcn.eps)
    y = y * bcn.weight.view(1, c, 1, 1) + bcn.bias.view(1, c, 1, 1)
    grouped = y.reshape(x.shape[0], g, -1)
    gm = grouped.mean(-1, keepdim=True)
    gv = grouped.var(-1, correction=0, keepdim=True)
    z = (grouped - gm) / torch.sqrt(gv + bcn.eps)
    z = z * bcn.group_weight.view(1, g, 1) + bcn.group_bias.view(1, g, 1)
    return z.view_as(x)


def _bcn(estimated: bool, moving_speed: float = 0.3) -> BatchChannelNorm2d:
    bcn = BatchChannelNorm2d(6, num_groups=3, estimated=estimated, moving_speed=moving_speed).double()
    with torch.no_grad():
        bcn.weight.copy_(torch.linspace(0.5, 2.0, 6))
        bcn.bias.copy_(torch.linspace(-1.0, 1.0, 6))
        bcn.group_weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
        bcn.group_bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        bcn.running_mean.copy_(torch.linspace(-2.0, 2.0, 6))
        bcn.running_var.copy_(torch.linspace(0.5, 3.0, 6))
    return bcn


def test_estimated_statistics_use_variance_about_previous_mean_and_updated_stats():
    bcn = _bcn(estimated=True)
    x = _randn(3, 6, 4, 4) * 2 + 1
    old_mean = bcn.running_mean.clone()
    old_var = bcn.running_var.clone()
    out = bcn(x)
    r = bcn.moving_speed
    batch_mean = x.mean(dim=(0, 2, 3))
    batch_var = ((x - old_mean.view(1, -1, 1, 1)) ** 2).mean(dim=(0, 2, 3))
    new_mean = (1 - r) * old_mean + r * batch_mean
    new_var = (1 - r) * old_var + r * batch_var
    torch.testing.assert_close(bcn.running_mean, new_mean, atol=1e-12, rtol=0)
    torch.testing.assert_close(bcn.running_var, new_var, atol=1e-12, rtol=0)
    torch.testing.assert_close(out, _bcn_reference(x, new_mean, new_var, bcn), atol=1e-10, rtol=0)
    assert int(bcn.num_batches_tracked) == 1


def test_estimated_mode_trains_on_a_single_sample():
    bcn = _bcn(estimated=True)
    out = bcn(_randn(1, 6, 3, 3))
    assert torch.isfinite(out).all()


def test_estimated_mode_has_no_gradient_through_statistics():
    bcn = _bcn(estimated=True)
    x = _randn(2, 6, 3, 3).requires_grad_(True)
    probe = _randn(2, 6, 3, 3, seed=3)
    (grad,) = torch.autograd.grad((bcn(x) * probe).sum(), x)
    # Recompute with the (now fixed) updated statistics as constants: same gradient.
    bcn.eval()
    x2 = x.detach().clone().requires_grad_(True)
    (grad2,) = torch.autograd.grad((bcn(x2) * probe).sum(), x2)
    torch.testing.assert_close(grad, grad2, atol=1e-12, rtol=0)


def test_batch_statistics_mode_matches_batchnorm_then_channel_norm():
    bcn = _bcn(estimated=False)
    x = _randn(4, 6, 3, 3, seed=2) * 3 - 1
    bn = nn.BatchNorm2d(6, momentum=bcn.moving_speed).double()
    bn.load_state_dict({k: v for k, v in bcn.state_dict().items() if not k.startswith("group_")})
    out = bcn(x)
    expected = F.group_norm(
        bn(x), 3, bcn.group_weight.repeat_interleave(2), bcn.group_bias.repeat_interleave(2), bcn.eps
    )
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(bcn.running_mean, bn.running_mean, atol=1e-12, rtol=0)
    torch.testing.assert_close(bcn.running_var, bn.running_var, atol=1e-12, rtol=0)


@pytest.mark.parametrize("estimated", [True, False])
def test_channel_norm_groups_have_group_affine_statistics(estimated):
    bcn = _bcn(estimated)
    out = bcn(_randn(2, 6, 5, 5, seed=4) * 4)
    grouped = out.reshape(2, 3, -1)
    torch.testing.assert_close(grouped.mean(-1), bcn.group_bias.detach().expand(2, 3), atol=1e-9, rtol=0)
    torch.testing.assert_close(
        grouped.std(-1, correction=0), bcn.group_weight.detach().abs().expand(2, 3), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("estimated", [True, False])
def test_eval_mode_uses_running_statistics(estimated):
    bcn = _bcn(estimated)
    bcn(_randn(4, 6, 3, 3))
    bcn.eval()
    mean, var = bcn.running_mean.clone(), bcn.running_var.clone()
    x = _randn(2, 6, 3, 3, seed=7)
    torch.testing.assert_close(bcn(x), _bcn_reference(x, mean, var, bcn), atol=1e-10, rtol=0)
    torch.testing.assert_close(bcn.running_mean, mean, atol=0, rtol=0)


@pytest.mark.parametrize("estimated,training", [(True, False), (False, True), (False, False)])
def test_bcn_gradcheck_float64(estimated, training):
    # Estimated statistics are updated from the input without gradient, so the function that
    # autograd differentiates is the one with the statistics fixed: check it in eval mode.
    bcn = _bcn(estimated).train(training)
    x = _randn(3, 6, 2, 2).requires_grad_(True)
    names = ["weight", "bias", "group_weight", "group_bias"]
    params = tuple(getattr(bcn, n) for n in names)

    def f(inp, *ps):
        return torch.func.functional_call(bcn, dict(zip(names, ps)), (inp,))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_bcn_state_dict_round_trip():
    bcn = _bcn(estimated=True)
    for seed in range(3):
        bcn(_randn(2, 6, 3, 3, seed=seed))
    fresh = BatchChannelNorm2d(6, num_groups=3).double()
    fresh.load_state_dict(bcn.state_dict())
    bcn.eval(), fresh.eval()
    x = _randn(2, 6, 3, 3, seed=9)
    torch.testing.assert_close(fresh(x), bcn(x), atol=0, rtol=0)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"num_groups": 5}, "num_groups"),
        ({"num_groups": 0}, "num_groups"),
        ({"moving_speed": 0.0}, "moving_speed"),
        ({"moving_speed": 1.5}, "moving_speed"),
        ({"eps": 0.0}, "eps"),
    ],
)
def test_bcn_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BatchChannelNorm2d(8, **{"num_groups": 4, **kwargs})


def test_default_moving_speed_is_nonzero_and_statistics_move():
    bcn = BatchChannelNorm2d(4, num_groups=2)
    assert bcn.moving_speed > 0
    bcn(torch.randn(2, 4, 3, 3) + 5.0)
    assert (bcn.running_mean > 0).all()


def test_ws_conv_with_bcn_learns_digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(data.target)
    torch.manual_seed(0)
    model = nn.Sequential(
        WSConv2d(1, 8, 3, padding=1, bias=False), BatchChannelNorm2d(8, num_groups=4), nn.ReLU(),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 16, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    initial = F.cross_entropy(model(x[:512]), y[:512]).item()
    for step in range(80):
        idx = torch.arange(step * 8, step * 8 + 8) % len(x)  # micro-batches of 8
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        final = F.cross_entropy(model(x[:512]), y[:512]).item()
        accuracy = (model(x).argmax(1) == y).double().mean().item()
    assert final < initial / 3
    assert accuracy > 0.8
