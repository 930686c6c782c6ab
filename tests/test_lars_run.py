"""LARS from run files and from the Recorder, proven end to end (issue 16 item 2's "proven
through run files and the Recorder, with the same options the float classes take, unsupported
ones named"): the quantization into the recipe, the refusals by name, ``zktrain prove`` in both
modes (one ZK case in two segments chained by the buffers' checkpoint) with the bundle verified
against the model file, predictions proven from the LARS-trained model, and
``zktrain.Recorder`` over ``zktrain.optim.LARS``.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
from tiny_run import prove_and_infer, tiny_run
from torch import nn

import zktrain
from circuits.momentum import Dyadic
from verifier.bundle import verify_bundle
from zktrain.optim import LARS
from zktrain.prove import prove_run, train_trace
from zktrain.provable import NotProvableError
from zktrain.run_config import RunConfigError, parse_run

MU = Dyadic(29491, 15)
OPTIONS = {"name": "lars", "lr": 0.5, "momentum": 0.9, "weight_decay": 5e-4, "trust_coefficient": 0.02,
           "decay_bias_and_norm": True}


def lars_run(**options) -> dict:
    cfg = tiny_run()
    cfg["train"]["optimizer"] = {**OPTIONS, **options}
    del cfg["train"]["lr"]
    return cfg


def test_run_file_lars_is_quantized_into_the_recipe():
    t = parse_run(lars_run()).recipe.train
    assert (t.optimizer, t.momentum, t.buf_bits) == ("lars", MU, 48)
    assert t.weight_decay == Dyadic(131, 18) and t.trust_coefficient == Dyadic(41, 11)
    assert t.eps == Dyadic(43, 32)  # the float class's default 1e-8


@pytest.mark.parametrize("options, message", [
    (dict(decay_bias_and_norm=False), r"train.optimizer.decay_bias_and_norm: False is not provable yet"),
    (dict(decay_bias_and_norm=None), r"train.optimizer.decay_bias_and_norm: the proven LARS adapts and decays every "
                                     r"tensor, biases included"),
    (dict(clip=1), r"train.optimizer.clip: must be true or false, got 1"),
    (dict(nesterov=True), r"train.optimizer.nesterov: True is not provable yet"),
    (dict(lr_in_momentum=False), r"train.optimizer.lr_in_momentum: False is not provable yet"),
    (dict(adapt=False), r"train.optimizer.adapt: False is not provable yet"),
    (dict(betas=(0.9, 0.99)), r"train.optimizer.betas: not an option of lars"),
    (dict(momentum=1.0), r"train.optimizer.momentum: 1.0 quantizes to 1/2\^0 >= 1"),
    (dict(trust_coefficient=0), r"train.optimizer.trust_coefficient: must be > 0"),
    (dict(eps=-1e-8), r"train.optimizer.eps: must be a non-negative number"),
])
def test_run_file_lars_errors_name_the_option(options, message):
    cfg = lars_run(**options)
    if options.get("decay_bias_and_norm", True) is None:
        del cfg["train"]["optimizer"]["decay_bias_and_norm"]
    with pytest.raises(RunConfigError, match=message):
        parse_run(cfg)


def test_run_file_lars_with_top_level_momentum_is_refused():
    cfg = lars_run()
    cfg["train"]["momentum"] = 0.9
    with pytest.raises(RunConfigError, match=r"train.momentum: with optimizer lars, give it as train.optimizer.momentum"):
        parse_run(cfg)


@pytest.mark.parametrize("zk, segment_steps, loss", [(False, None, "mse"), (True, 2, "cross_entropy")])
def test_run_file_with_lars_is_proven_and_verifies(zk, segment_steps, loss):
    """``zktrain prove`` on a LARS run file: the engine's trace (its LARS scalars per tensor and
    step) is proven, in two segments in the ZK case, and the bundle verifies against the model
    file, whose weights are the trained ones; predictions from that model are proven against the
    training bundle's W_T."""
    cfg = lars_run()
    cfg["train"]["loss"] = loss
    cfg["prove"].update(zk=zk, segment_steps=segment_steps)
    run = parse_run(cfg)
    trace, _ = train_trace(run)
    assert all(s.momentum is not None and s.momentum[0].scalars is not None for s in trace.steps)
    _, summary = prove_and_infer(run, zk)
    assert summary.segments == (2 if segment_steps else 1)
    assert sorted(summary.model.tensors) == ["W1", "W2", "b1", "b2"]
    assert np.array_equal(summary.model.tensors["W2"], trace.final_weights[1])


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_recorder_records_lars_and_proves_it(tmp_path):
    """``zktrain.Recorder`` over ``zktrain.optim.LARS`` (every tensor in one group): the recipe's
    lars with the run files' quantization, a float replay close to the fixed point, and a
    zero-knowledge proof that verifies against the model file."""
    model = _model()
    optimizer = LARS(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, trust_coefficient=0.02)
    rec = zktrain.Recorder(model, optimizer, nn.CrossEntropyLoss())
    rng = np.random.default_rng(3)
    for _ in range(3):
        rec.step(rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    t = rec.recipe().train
    assert (t.optimizer, t.momentum, t.weight_decay, t.trust_coefficient) == ("lars", MU, Dyadic(131, 18), Dyadic(41, 11))
    assert all(s.momentum[0].scalars is not None for s in rec.trace().steps)
    rec.prove(tmp_path / "lars.zkp", zk=True)
    report = verify_bundle((tmp_path / "lars.zkp").read_bytes(), weights=tmp_path / "lars.model.npz")
    assert report.accepted, report.reason


@pytest.mark.parametrize("options, message", [
    (dict(nesterov=True), r"optimizer: zktrain.optim.LARS with nesterov=True \(param group 0\) is not provable yet"),
    (dict(adapt=False), r"optimizer: zktrain.optim.LARS with adapt=False \(param group 0\) is not provable yet"),
    (dict(weight_decay=1e-12), r"optimizer: zktrain.optim.LARS weight_decay: 1e-12 is too small to quantize"),
])
def test_recorder_refuses_other_lars_semantics_by_name(options, message):
    model = _model()
    with pytest.raises(NotProvableError, match=message):
        zktrain.Recorder(model, LARS(model.parameters(), lr=0.1, **options), nn.MSELoss())


def test_run_file_larc_is_proven_and_verifies():
    """``clip: true`` (LARC, ``zktrain.optim.LARS(clip=True)``) is the recipe's ``train.clip``:
    the engine clips the trust ratio to the global rate on some steps (gamma_t 0.5 against
    trust ratios near eta ||w|| / ||g||), and the proof of that run verifies."""
    cfg = lars_run(clip=True, lr=0.001, trust_coefficient=0.5)
    run = parse_run(cfg)
    assert run.recipe.train.clip
    trace, _ = train_trace(run)
    clipped = [m.scalars.multiplier < m.scalars.trust for s in trace.steps for m in s.momentum]
    assert any(clipped) and not all(clipped)
    bundle, summary = prove_run(run)
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason


def test_recorder_records_larc_and_proves_it(tmp_path):
    """``zktrain.optim.LARS(clip=True)`` records ``train.clip`` and its run is proven; param
    groups must agree on it."""
    model = _model()
    rec = zktrain.Recorder(model, LARS(model.parameters(), lr=0.01, trust_coefficient=0.5, clip=True),
                           nn.CrossEntropyLoss())
    rng = np.random.default_rng(4)
    for _ in range(2):
        rec.step(rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    assert rec.recipe().train.clip
    rec.prove(tmp_path / "larc.zkp", zk=False)
    report = verify_bundle((tmp_path / "larc.zkp").read_bytes(), weights=tmp_path / "larc.model.npz")
    assert report.accepted, report.reason
    groups = [{"params": [model[0].weight, model[2].weight]}, {"params": [model[0].bias, model[2].bias], "clip": False}]
    with pytest.raises(NotProvableError, match=r"LARS param groups with and without clip"):
        zktrain.Recorder(model, LARS(groups, lr=0.1, clip=True), nn.MSELoss())


def test_recorder_refuses_lars_param_groups_that_differ():
    """The float stack's usual grouping (biases without decay or adaptation) is not the proven
    semantics: refused by name."""
    model = _model()
    groups = [{"params": [model[0].weight, model[2].weight]},
              {"params": [model[0].bias, model[2].bias], "weight_decay": 0.0, "adapt": False}]
    with pytest.raises(NotProvableError, match=r"adapt=False \(param group 1\)"):
        zktrain.Recorder(model, LARS(groups, lr=0.1, weight_decay=5e-4), nn.MSELoss())
    groups[1].pop("adapt")
    with pytest.raises(NotProvableError, match=r"LARS param groups with different weight_decay \[0.0, 0.0005\]"):
        zktrain.Recorder(model, LARS(groups, lr=0.1, weight_decay=5e-4), nn.MSELoss())
