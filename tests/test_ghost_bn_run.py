"""Ghost Batch Norm from run files and ``zktrain.Recorder`` (issue 17; docs/ghost_bn.md): a run
file's ``model.norm`` (the float stack's component, read by ``zktrain train`` too) and a torch
``nn.Sequential`` with ``GhostBatchNorm1d`` or ``nn.BatchNorm1d`` become the recipe's
``model.norm: ghost_bn``; clear errors for what the semantics does not cover."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_run import tiny_run
from torch import nn

import zktrain
from circuits.momentum import Dyadic
from verifier.model import float_copy
from zktrain.data import load_dataset
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, train
from zktrain.nn import GhostBatchNorm1d
from zktrain.provable import NotProvableError, check_model
from zktrain.run_config import RunConfigError, load_run, parse_run
from zktrain.train.config import load_run_config
from zktrain.train.loop import build_model

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_ghost_bn.yaml"
MOMENTUM, EPS = Dyadic(3277, 15), Dyadic(21475, 31)  # 0.1 and 1e-5 quantized
DATA = load_dataset({"source": "synthetic", "n": 64, "d": 4, "classes": 3, "seed": 1})
BATCH = 8


# --- run files ------------------------------------------------------------------------------


def test_example_trains_in_fixed_point_and_in_float():
    run = load_run(EXAMPLE)
    model = run.recipe.model
    assert (model.norm, model.virtual_batch_size, model.bn_momentum, model.bn_eps) == ("ghost_bn", 32, MOMENTUM, EPS)
    assert run.recipe.train.steps == 16 and run.recipe.train.optimizer == "sgd"
    data = encode_dataset(run.dataset, run.recipe)
    trace = train(run.recipe, data.x_train, data.y_train, data.batches)
    assert len(trace.steps) == 16 and len(trace.final_norms) == 2
    config = load_run_config(EXAMPLE)  # zktrain train reads the same file
    layers = [type(m).__name__ for m in build_model(config, run.dataset)]
    assert layers.count("GhostBatchNorm1d") == 2


def bn_run(norm, **train) -> dict:
    cfg = tiny_run()
    cfg["model"]["norm"] = norm
    cfg["train"].update(train)
    return cfg


def test_run_file_norms_map_to_the_recipe():
    run = parse_run(bn_run({"name": "ghost_batchnorm", "virtual_batch_size": 4}))
    m = run.recipe.model
    assert (m.norm, m.virtual_batch_size, m.bn_momentum, m.bn_eps) == ("ghost_bn", 4, MOMENTUM, EPS)
    run = parse_run(bn_run({"name": "batchnorm", "momentum": 0.25, "eps": 0.001}))
    m = run.recipe.model
    assert (m.virtual_batch_size, m.bn_momentum, m.bn_eps.value) == (8, Dyadic(1, 2), round(0.001 * 2**32) / 2**32)
    assert parse_run(bn_run("batchnorm")).recipe.model.virtual_batch_size == 8
    assert b"norm" not in parse_run(tiny_run()).recipe.to_canonical_json()


@pytest.mark.parametrize("norm, train, message", [
    ("layernorm", {}, r"model.norm: 'layernorm' is not provable yet \(provable: ghost_batchnorm or batchnorm\)"),
    ({"name": "ghost_batchnorm"}, {}, r"model.norm.virtual_batch_size: must be a positive integer, got None"),
    ({"name": "ghost_batchnorm", "virtual_batch_size": 6}, {}, r"model.virtual_batch_size: must be a power of two"),
    ({"name": "ghost_batchnorm", "virtual_batch_size": 16}, {}, r"model.virtual_batch_size: 16 must divide "
                                                                 r"train.batch_size 8"),
    ({"name": "batchnorm", "affine": False}, {}, r"model.norm.affine: False is not provable yet"),
    ({"name": "batchnorm", "track_running_stats": False}, {}, r"model.norm.track_running_stats: False is not provable"),
    ({"name": "batchnorm", "device": "cpu"}, {}, r"model.norm.device: not an option of batchnorm"),
    ({"name": "batchnorm", "momentum": "fast"}, {}, r"model.norm.momentum: must be a number, got 'fast'"),
    ({"name": "batchnorm", "momentum": 1e-6}, {}, r"model.norm: ghost BN momentum: 1e-06 quantized to"),
    ({"name": "batchnorm", "eps": 1e-11}, {}, r"model.norm: ghost BN eps: 1e-11 rounds to 0 at 2\^-32"),
    (["batchnorm"], {}, r"model.norm: must be a norm layer name or a mapping"),
])
def test_run_file_refuses_by_name(norm, train, message):
    with pytest.raises(RunConfigError, match=message):
        parse_run(bn_run(norm, **train))


# --- the Recorder -----------------------------------------------------------------------------


def bn_mlp(norm=lambda c: GhostBatchNorm1d(c, 4), seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), norm(8), nn.ReLU(), nn.Linear(8, 8), norm(8), nn.ReLU(), nn.Linear(8, 3))


def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = slice(t * BATCH, (t + 1) * BATCH)
    return torch.from_numpy(DATA.x_train[rows]), torch.from_numpy(DATA.y_train[rows])


def record(model: nn.Sequential, steps: int = 4, lr: float = 0.2, loss=None) -> zktrain.Recorder:
    rec = zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=lr), loss or nn.MSELoss())
    for t in range(steps):
        rec.step(*batch(t))
    return rec


def test_recorder_maps_ghost_bn_and_equals_the_engine():
    model = bn_mlp()
    initial = copy.deepcopy(model)
    rec = record(model)
    recipe = rec.recipe()
    assert (recipe.model.norm, recipe.model.virtual_batch_size, recipe.model.bn_momentum) == ("ghost_bn", 4, MOMENTUM)
    trace = rec.trace()
    assert len(trace.final_norms) == 2 and trace.steps[0].layers[0].norm is not None
    # the engine on the same batches from the same W_0 gives the same run
    weights, biases = zip(*((m.weight, m.bias) for m in initial if isinstance(m, nn.Linear)))
    scale = recipe.scales.weight
    to_master = lambda p: np.floor(p.detach().double().numpy() * 2.0**scale + 0.5).astype(np.int64)  # noqa: E731
    engine = FixedPointMLP(recipe, [to_master(w) for w in weights], [to_master(b) for b in biases])
    x = np.concatenate([s.x for s in trace.steps])
    y = np.concatenate([s.y for s in trace.steps])
    again = train(recipe, x, y, np.arange(4 * BATCH).reshape(4, BATCH), model=engine)
    for a, b in zip(again.final_norms, trace.final_norms):
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
    # the module holds the engine's state: gamma, beta as float32 copies, the running statistics too
    bn = [m for m in model if isinstance(m, GhostBatchNorm1d)]
    for m, (gamma, beta, mean, var) in zip(bn, trace.final_norms):
        assert np.array_equal(m.weight.detach().numpy(), float_copy(gamma, scale))
        assert np.array_equal(m.bias.detach().numpy(), float_copy(beta, scale))
        assert np.array_equal(m.running_var.detach().numpy(), float_copy(var, 32))
    assert not torch.equal(bn[0].weight, torch.ones(8))


def test_recorder_fidelity_with_ghost_bn():
    rec = record(bn_mlp(), steps=6)
    fidelity = rec.fidelity()
    assert fidelity.steps == 6 and fidelity.relative_weight_difference < 1e-3
    assert abs(fidelity.float_accuracy - fidelity.fixed_point_accuracy) <= 0.1


def test_batchnorm1d_is_one_ghost_batch_of_the_whole_batch():
    rec = record(bn_mlp(lambda c: nn.BatchNorm1d(c, momentum=0.25)), steps=2, loss=nn.CrossEntropyLoss())
    recipe = rec.recipe()
    assert (recipe.model.virtual_batch_size, recipe.model.bn_momentum) == (BATCH, Dyadic(1, 2))


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), GhostBatchNorm1d(8, 4), nn.Linear(8, 3)),
     r"model\[2\]: zktrain.nn.ghost_batchnorm.GhostBatchNorm1d directly after nn.ReLU is not provable"),
    (lambda: nn.Sequential(nn.Linear(4, 8), GhostBatchNorm1d(8, 4), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                           nn.Linear(8, 3)), r"a norm layer in 1 of the 2 hidden layers is not provable yet"),
    (lambda: bn_mlp(lambda c: nn.BatchNorm1d(c, affine=False)), r"affine=False.* is not provable yet"),
    (lambda: bn_mlp(lambda c: nn.BatchNorm1d(c, momentum=None)), r"momentum=None\), a cumulative average"),
    (lambda: nn.Sequential(nn.Linear(4, 8), GhostBatchNorm1d(8, 4), nn.ReLU(), nn.Linear(8, 8), GhostBatchNorm1d(8, 2),
                           nn.ReLU(), nn.Linear(8, 3)), r"model\[4\]: .* while model\[1\] has"),
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3)),
     r"model\[1\]: nn.LayerNorm is not provable yet"),
])
def test_recorder_refuses_by_name(build, message):
    with pytest.raises(NotProvableError, match=message):
        check_model(build())


def test_recorder_refuses_a_trained_norm_state_and_an_optimizer_without_the_norms():
    model = bn_mlp()
    with torch.no_grad():
        model[1].weight.fill_(2.0)
    with pytest.raises(NotProvableError, match=r"model\[1\].weight: not torch's initial 1.0"):
        zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    model = bn_mlp()
    model(torch.randn(8, 4))  # a train-mode forward moves the running statistics
    with pytest.raises(NotProvableError, match=r"model\[1\].running_mean: not torch's initial 0.0"):
        zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    model = bn_mlp()
    linears = [p for m in model if isinstance(m, nn.Linear) for p in m.parameters()]
    with pytest.raises(NotProvableError, match="must hold exactly the model's parameters"):
        zktrain.Recorder(model, torch.optim.SGD(linears, lr=0.1), nn.MSELoss())

