"""LAMB from run files and from the Recorder, proven end to end (issue 16 item 2's "proven
through run files and the Recorder, with the same options the float classes take, unsupported
ones named"): the quantization into the recipe, the refusals by name, ``zktrain prove`` in both
modes (one ZK case in two segments chained by the moments' checkpoints, the second with its
bias corrections at the run's step), the bundle verified against the model file, predictions
proven from the LAMB-trained model, and ``zktrain.Recorder`` over ``zktrain.optim.LAMB``.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
from tiny_run import prove_and_infer, tiny_run
from torch import nn

import zktrain
from circuits.lamb import spec_from_float
from circuits.mlp import MlpCircuit
from circuits.momentum import Dyadic
from circuits.semantics import lamb_spec
from verifier.bundle import verify_bundle
from zktrain.optim import LAMB
from zktrain.prove import train_trace
from zktrain.provable import NotProvableError
from zktrain.run_config import RunConfigError, parse_run

OPTIONS = {"name": "lamb", "lr": 0.05, "weight_decay": 0.01, "decay_bias_and_norm": True}
BETAS = {"beta1": Dyadic(1843, 11), "beta2": Dyadic(130941, 17)}  # 1 - beta: 205/2^11, 131/2^17


def lamb_run(**options) -> dict:
    cfg = tiny_run()
    cfg["train"]["optimizer"] = {**OPTIONS, **options}
    del cfg["train"]["lr"]
    return cfg


def test_run_file_lamb_is_quantized_into_the_recipe():
    """The float class's defaults (betas (0.9, 0.999), eps 1e-6) and the run's decay, as
    ``circuits.lamb.spec_from_float`` quantizes them: the circuit's LAMB is that spec."""
    recipe = parse_run(lamb_run()).recipe
    t = recipe.train
    assert (t.optimizer, t.beta1, t.beta2, t.buf_bits) == ("lamb", BETAS["beta1"], BETAS["beta2"], 48)
    assert t.weight_decay == Dyadic(41, 12) and t.eps == Dyadic(4295, 32)
    spec = lamb_spec(recipe)
    assert spec == MlpCircuit.from_recipe(recipe).lamb_spec()
    assert (spec.one_minus_b1, spec.one_minus_b2) == (spec_from_float(inv_c=spec.inv_c).one_minus_b1,
                                                       spec_from_float(inv_c=spec.inv_c).one_minus_b2)


@pytest.mark.parametrize("options, message", [
    (dict(decay_bias_and_norm=False), r"train.optimizer.decay_bias_and_norm: False is not provable yet"),
    (dict(decay_bias_and_norm=None), r"train.optimizer.decay_bias_and_norm: the proven LAMB adapts and decays every "
                                     r"tensor, biases included"),
    (dict(trust_clip=True), r"train.optimizer.trust_clip: True is not provable yet \(provable: zktrain.optim.LAMB "
                            r"with bias_correction=True"),
    (dict(always_adapt=True), r"train.optimizer.always_adapt: True is not provable yet"),
    (dict(bias_correction=False), r"train.optimizer.bias_correction: False is not provable yet"),
    (dict(grad_clip_norm=1.0), r"train.optimizer.grad_clip_norm: 1.0 is not provable yet"),
    (dict(momentum=0.9), r"train.optimizer.momentum: not an option of lamb"),
    (dict(weight_decay=0), r"train.optimizer.weight_decay: 0 turns LAMB's layer adaptation off"),
    (dict(betas=(0.9, 1.0)), r"train.optimizer.betas\[1\]: must lie in \[0, 1\), got 1.0"),
    (dict(betas=0.9), r"train.optimizer.betas: must be a pair of numbers"),
    (dict(eps=-1e-6), r"train.optimizer.eps: must be a non-negative number"),
    (dict(eps=0), r"train.optimizer.eps: must be > 0"),
])
def test_run_file_lamb_errors_name_the_option(options, message):
    cfg = lamb_run(**options)
    if options.get("decay_bias_and_norm", True) is None:
        del cfg["train"]["optimizer"]["decay_bias_and_norm"]
    with pytest.raises(RunConfigError, match=message):
        parse_run(cfg)


def test_run_file_lamb_with_top_level_weight_decay_is_refused():
    cfg = lamb_run()
    cfg["train"]["weight_decay"] = 0.01
    with pytest.raises(RunConfigError, match=r"train.weight_decay: with optimizer lamb, give it as "
                                             r"train.optimizer.weight_decay"):
        parse_run(cfg)


@pytest.mark.parametrize("zk, segment_steps, loss", [(False, None, "mse"), (True, 2, "cross_entropy")])
def test_run_file_with_lamb_is_proven_and_verifies(zk, segment_steps, loss):
    """``zktrain prove`` on a LAMB run file: the engine's trace is proven, in two segments in
    the ZK case (the second resumes the moments and counts LAMB's t from the run's step), and
    the bundle verifies against the model file, whose weights are the trained ones; predictions
    from that model are proven against the training bundle's W_T."""
    cfg = lamb_run()
    cfg["train"]["loss"] = loss
    cfg["prove"].update(zk=zk, segment_steps=segment_steps)
    run = parse_run(cfg)
    trace, _ = train_trace(run)
    assert all(s.momentum is not None and s.momentum[0].scalars is not None for s in trace.steps)
    _, summary = prove_and_infer(run, zk)
    assert summary.segments == (2 if segment_steps else 1)
    assert np.array_equal(summary.model.tensors["W2"], trace.final_weights[1])


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_recorder_records_lamb_and_proves_it(tmp_path):
    """``zktrain.Recorder`` over ``zktrain.optim.LAMB`` (every tensor in one group): the recipe's
    lamb with the run files' quantization, and a zero-knowledge proof that verifies against the
    model file."""
    model = _model()
    optimizer = LAMB(model.parameters(), lr=0.01, weight_decay=0.01)
    rec = zktrain.Recorder(model, optimizer, nn.CrossEntropyLoss())
    rng = np.random.default_rng(3)
    for _ in range(3):
        rec.step(rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    t = rec.recipe().train
    assert (t.optimizer, t.beta1, t.beta2, t.weight_decay) == ("lamb", BETAS["beta1"], BETAS["beta2"], Dyadic(41, 12))
    rec.prove(tmp_path / "lamb.zkp", zk=True)
    report = verify_bundle((tmp_path / "lamb.zkp").read_bytes(), weights=tmp_path / "lamb.model.npz")
    assert report.accepted, report.reason


def test_recorder_takes_lamb_on_the_mean_mse_with_odd_outputs():
    """The mean MSE over 3 outputs (1/c = B n_out / 2, an integer at an even batch): recorded,
    where the Recorder once built its probe recipe at batch 1 (1/c = 3/2) and failed."""
    model = _model()
    rec = zktrain.Recorder(model, LAMB(model.parameters(), lr=0.01, weight_decay=0.01), nn.MSELoss())
    rec.step(np.random.default_rng(5).normal(size=(8, 4)), np.random.default_rng(6).random(size=(8, 3)))
    assert rec.recipe().train.optimizer == "lamb"


@pytest.mark.parametrize("options, message", [
    (dict(trust_clip=True), r"optimizer: zktrain.optim.LAMB with trust_clip=True \(param group 0\) is not provable"),
    (dict(always_adapt=True), r"optimizer: zktrain.optim.LAMB with always_adapt=True \(param group 0\)"),
    (dict(bias_correction=False), r"optimizer: zktrain.optim.LAMB with bias_correction=False \(param group 0\)"),
    (dict(grad_clip_norm=1.0), r"optimizer: zktrain.optim.LAMB with grad_clip_norm=1.0 is not provable yet"),
    (dict(weight_decay=0.0), r"optimizer: zktrain.optim.LAMB with weight_decay=0 skips layer adaptation"),
])
def test_recorder_refuses_other_lamb_semantics_by_name(options, message):
    model = _model()
    with pytest.raises(NotProvableError, match=message):
        zktrain.Recorder(model, LAMB(model.parameters(), lr=0.01, **options), nn.MSELoss())


def test_recorder_refuses_lamb_param_groups_that_differ():
    """The float stack's usual grouping (biases without decay, hence unadapted) is not the
    proven semantics: refused by name."""
    model = _model()
    groups = [{"params": [model[0].weight, model[2].weight]},
              {"params": [model[0].bias, model[2].bias], "weight_decay": 0.0}]
    with pytest.raises(NotProvableError, match=r"LAMB param groups with different weight_decay \[0.0, 0.01\]"):
        zktrain.Recorder(model, LAMB(groups, lr=0.01), nn.MSELoss())
