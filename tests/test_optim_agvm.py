"""AGVM (Xue et al. 2022): the disagreement and modulation formulas, the two-half gradient
estimates in one process, the modulated step, state dicts, the Adam-preconditioned estimate, the
multi-rank form against the one-process form (gloo, two ranks), and a small convergence check."""

from __future__ import annotations

import copy
import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F

from zktrain.optim.agvm import AGVM, agvm_modulation, gradient_disagreement, module_param_groups


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def _batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def _half_losses(model, x, y):
    per_sample = F.cross_entropy(model(x), y, reduction="none")
    half = len(x) // 2
    return per_sample[:half].mean(), per_sample[half:].mean()


def _group_grads(model, x, y) -> list[torch.Tensor]:
    """Flattened gradient of the mean loss over (x, y), per module group (0 and 2)."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    out = [torch.cat([p.grad.flatten() for p in model[i].parameters()]) for i in (0, 2)]
    model.zero_grad()
    return out


def test_disagreement_is_one_minus_cosine():
    a = [torch.tensor([1.0, 0.0]), torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])]
    b = [torch.tensor([0.0, 5.0]), torch.tensor([2.0, 4.0]), torch.tensor([-3.0, -4.0])]
    torch.testing.assert_close(gradient_disagreement(a, b), torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64))


def test_modulation_formula_with_clamp():
    d = torch.tensor([0.1, 0.4, 0.001, 0.15], dtype=torch.float64)
    mu = agvm_modulation(d, reference=0, eps=0.0)
    expected = [1.0, math.sqrt(0.5), math.sqrt(10.0), math.sqrt(0.1 / 0.15)]  # 0.25 -> 0.5, 100 -> 10
    torch.testing.assert_close(mu, torch.tensor(expected, dtype=torch.float64))
    mu_eps = agvm_modulation(d, reference=3, eps=1e-6)
    assert float(mu_eps[3]) == 1.0
    assert float(mu_eps[0]) == pytest.approx(math.sqrt((0.15 + 1e-6) / (0.1 + 1e-6)))


def test_one_process_backward_gives_mean_gradient_and_updates_factors():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1), update_interval=1)
    x, y = _batch(8)
    halves_a = _group_grads(model, x[:4], y[:4])
    halves_b = _group_grads(model, x[4:], y[4:])
    full = _group_grads(model, x, y)
    agvm.backward(*_half_losses(model, x, y))
    got = [torch.cat([p.grad.flatten() for p in model[i].parameters()]) for i in (0, 2)]
    for g, f in zip(got, full):
        torch.testing.assert_close(g, f, atol=1e-12, rtol=0)
    d = [1 - float(F.cosine_similarity(a, b, dim=0)) for a, b in zip(halves_a, halves_b)]
    mu = math.sqrt(min(max((d[0] + 1e-6) / (d[1] + 1e-6), 0.5), 10.0))
    assert agvm.last_variances == pytest.approx(d, rel=1e-10)
    assert agvm.scale_factors == pytest.approx([1.0, 0.97 + 0.03 * mu], rel=1e-12)
    assert agvm.scale_factors[1] != 1.0


def test_modulated_step_scales_each_group_and_restores_lr():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1), update_interval=1)
    agvm.scale_factors = [1.0, 2.5]
    x, y = _batch()
    agvm.backward(*_half_losses(model, x, y))
    before = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad.clone() for p in model.parameters()]
    factors = list(agvm.scale_factors)
    agvm.step()
    group_of = [0, 0, 1, 1]  # weight, bias of module 0, then of module 2
    for p, b, g, k in zip(model.parameters(), before, grads, group_of):
        torch.testing.assert_close(p.detach(), b - 0.1 * factors[k] * g, atol=1e-14, rtol=0)
    assert [g["lr"] for g in agvm.param_groups] == [0.1, 0.1]
    assert agvm.step_count == 1


def test_factors_only_move_on_update_steps():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.01), update_interval=3, start_step=3)
    x, y = _batch()
    history = []
    for _ in range(7):
        agvm.zero_grad()
        agvm.backward(*_half_losses(model, x, y))
        agvm.step()
        history.append(list(agvm.scale_factors))
    assert history[0] == history[1] == history[2] == [1.0, 1.0]  # before start_step
    assert history[3] != history[2] and history[4] == history[3] == history[5]
    assert history[6] != history[5]


def test_off_update_steps_accumulate_the_plain_mean_gradient():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1), update_interval=2)
    agvm.step_count = 1
    x, y = _batch()
    full = _group_grads(model, x, y)
    agvm.backward(*_half_losses(model, x, y))
    got = [torch.cat([p.grad.flatten() for p in model[i].parameters()]) for i in (0, 2)]
    for g, f in zip(got, full):
        torch.testing.assert_close(g, f, atol=1e-12, rtol=0)
    assert agvm.last_variances is None


def test_adam_preconditioned_estimates():
    model = _model()
    adam = torch.optim.Adam(module_param_groups(model), lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
    agvm = AGVM(adam, update_interval=1, adam_preconditioned=True)
    x, y = _batch()
    for _ in range(2):  # the second update sees a non-zero exp_avg_sq
        agvm.zero_grad()
        states = {id(p): adam.state[p].get("exp_avg_sq", torch.zeros_like(p)).clone() for p in model.parameters()}
        grads_a = [torch.autograd.grad(_half_losses(model, x, y)[0], list(model[i].parameters())) for i in (0, 2)]
        grads_b = [torch.autograd.grad(_half_losses(model, x, y)[1], list(model[i].parameters())) for i in (0, 2)]

        def pre(grads, params):
            return torch.cat([
                (g / (torch.sqrt(0.99 * states[id(p)] + 0.01 * g * g) + 1e-8)).flatten() for g, p in zip(grads, params)
            ])

        est_a = [pre(grads_a[k], list(model[i].parameters())) for k, i in enumerate((0, 2))]
        est_b = [pre(grads_b[k], list(model[i].parameters())) for k, i in enumerate((0, 2))]
        agvm.backward(*_half_losses(model, x, y))
        assert agvm.last_variances == pytest.approx(gradient_disagreement(est_a, est_b).tolist(), rel=1e-9)
        agvm.step()


def test_state_dict_round_trip():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1, momentum=0.9), update_interval=1)
    x, y = _batch()
    for _ in range(3):
        agvm.zero_grad()
        agvm.backward(*_half_losses(model, x, y))
        agvm.step()
    twin = copy.deepcopy(model)
    fresh = AGVM(torch.optim.SGD(module_param_groups(twin), lr=0.1, momentum=0.9), update_interval=1)
    fresh.load_state_dict(copy.deepcopy(agvm.state_dict()))
    assert fresh.scale_factors == agvm.scale_factors and fresh.step_count == 3
    for opt, net in ((agvm, model), (fresh, twin)):
        for _ in range(2):
            opt.zero_grad()
            opt.backward(*_half_losses(net, x, y))
            opt.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, atol=0, rtol=0)


def test_lr_scheduler_acts_on_the_base_rate():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1), update_interval=1)
    scheduler = torch.optim.lr_scheduler.StepLR(agvm, step_size=1, gamma=0.5)
    x, y = _batch()
    agvm.backward(*_half_losses(model, x, y))
    agvm.step()
    scheduler.step()
    assert [g["lr"] for g in agvm.param_groups] == pytest.approx([0.05, 0.05])


def test_module_param_groups():
    model = _model()
    groups = module_param_groups(model)
    assert [g["name"] for g in groups] == ["0", "2"]
    root = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="root module"):
        module_param_groups(root)


@pytest.mark.parametrize(
    "kwargs,name",
    [({"reference_group": 2}, "reference_group"), ({"momentum": 1.0}, "momentum"),
     ({"update_interval": 0}, "update_interval"), ({"start_step": -1}, "start_step"),
     ({"eps": 0.0}, "eps"), ({"min_ratio": 2.0, "max_ratio": 1.0}, "min_ratio"),
     ({"adam_preconditioned": True}, "adam_preconditioned")],
)
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AGVM(torch.optim.SGD(module_param_groups(_model()), lr=0.1), **kwargs)


def test_backward_without_halves_or_distributed_is_an_error():
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1))
    with pytest.raises(ValueError, match="two halves"):
        agvm.backward(F.cross_entropy(model(_batch()[0]), _batch()[1]))


# ---------------------------------------------------------------- multi-rank (gloo)


def _distributed_worker(rank: int, world: int, store: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        model = _model()
        agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1), update_interval=2)
        for step in range(3):
            x, y = _batch(8, seed=step)
            local = slice(rank * 4, rank * 4 + 4)
            agvm.zero_grad()
            agvm.backward(F.cross_entropy(model(x[local]), y[local]))
            agvm.step()
        torch.save({"factors": agvm.scale_factors, "params": [p.detach() for p in model.parameters()]},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_the_one_process_form(tmp_path):
    mp.spawn(_distributed_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    model = _model()
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.1), update_interval=2)
    for step in range(3):
        x, y = _batch(8, seed=step)
        agvm.zero_grad()
        agvm.backward(*_half_losses(model, x, y))
        agvm.step()
    assert agvm.scale_factors[1] != 1.0
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert result["factors"] == pytest.approx(agvm.scale_factors, rel=1e-12)
        for p, q in zip(model.parameters(), result["params"]):
            torch.testing.assert_close(q, p.detach(), atol=1e-12, rtol=0)


# ---------------------------------------------------------------- convergence


def test_agvm_sgd_learns_digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    agvm = AGVM(torch.optim.SGD(module_param_groups(model), lr=0.2, momentum=0.9), update_interval=2)
    initial = F.cross_entropy(model(x), y).item()
    for step in range(30):
        idx = torch.arange(step * 256, step * 256 + 256) % len(x)
        agvm.zero_grad()
        agvm.backward(*_half_losses(model, x[idx], y[idx]))
        agvm.step()
    assert F.cross_entropy(model(x), y).item() < initial / 4
    assert agvm.scale_factors[0] == 1.0 and agvm.scale_factors[1] != 1.0
