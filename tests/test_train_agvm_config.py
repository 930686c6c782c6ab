"""AGVM (Xue et al. 2022) in run files: the example through the CLI, the loop's half-batch
backward hook against AGVM called directly on the same batch, objectives under the hook, and
config errors that name the field."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from torch.nn import functional as F

from zktrain.cli import main
from zktrain.optim import AGVM, LARS
from zktrain.optim.agvm import module_param_groups
from zktrain.train import builders
from zktrain.train.config import ConfigError, parse_run_config
from zktrain.train.loop import train_run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_agvm.yaml"


class RecordingAGVM(AGVM):
    """AGVM that records the parameters it starts from and, at each step, the gradients (in
    group order, which is the model's parameter order for an MLP)."""

    instances: list[RecordingAGVM] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial = [p.detach().clone() for p in self.params()]
        self.grads: list[list[torch.Tensor]] = []
        RecordingAGVM.instances.append(self)

    def params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def step(self, closure=None):
        self.grads.append([p.grad.clone() for p in self.params()])
        return super().step(closure)


class RecordingObjective(builders.StandardObjective):
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, model, loss_fn, x, y):
        RecordingObjective.batches.append((x.clone(), y.clone()))
        return super().__call__(model, loss_fn, x, y)


@pytest.fixture
def recording(monkeypatch):
    RecordingAGVM.instances, RecordingObjective.batches = [], []
    monkeypatch.setattr(builders, "AGVM", RecordingAGVM)
    monkeypatch.setitem(builders.OBJECTIVES, "recording", RecordingObjective)


def _tiny(batch_size=8, optimizer=None, **train):
    return {
        "name": "tiny-agvm",
        "seed": 3,
        "data": {"source": "synthetic", "n": 40, "d": 6, "classes": 3},
        "model": {"kind": "mlp", "widths": [6, 8, 3], "activation": "tanh"},
        "train": {
            "batch_size": batch_size,
            "steps": 1,
            "dtype": "float64",
            "optimizer": optimizer or {"name": "agvm", "base": "sgd", "lr": 0.3, "update_interval": 1},
            **train,
        },
    }


# ------------------------------------------------------------------------------ the example


def test_example_runs_a_few_steps_through_the_cli(tmp_path):
    document = yaml.safe_load(EXAMPLE.read_text())
    del document["train"]["epochs"]
    document["train"]["steps"] = 3
    document["train"]["schedule"]["warmup_epochs"] = 1
    document["train"]["optimizer"]["start_step"] = 1
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["train", "--run", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "optimizer agvm" in result.output and "batch 1024" in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("epoch")]) == 3
    assert result.output.splitlines()[-1].startswith("done: test accuracy")


def test_example_wraps_lars_with_one_group_per_layer(recording):
    document = yaml.safe_load(EXAMPLE.read_text())
    del document["train"]["epochs"]
    document["train"]["steps"] = 7
    train_run(parse_run_config(document))
    (agvm,) = RecordingAGVM.instances
    assert isinstance(agvm.optimizer, LARS)
    assert [g["name"] for g in agvm.param_groups] == ["0", "2", "4"]  # the three Linear layers
    assert agvm.param_groups[0]["initial_lr"] == pytest.approx(4.0)  # 0.5 * 1024 / 128
    assert agvm.optimizer.defaults["momentum"] == 0.9 and agvm.momentum == 0.97
    assert agvm.step_count == 7 and agvm.scale_factors[0] == 1.0 and agvm.scale_factors[1] != 1.0


# --------------------------------------------------------------------- the backward hook


@pytest.mark.parametrize("batch_size", [8, 7])
def test_loop_gradients_and_step_match_agvm_called_directly(recording, batch_size):
    document = _tiny(batch_size, objective={"name": "recording"})
    model = train_run(parse_run_config(document)).model
    (agvm,) = RecordingAGVM.instances
    ((x, y),) = RecordingObjective.batches
    assert x.shape[0] == batch_size
    assert [id(p) for p in agvm.params()] == [id(p) for p in model.parameters()]

    reference = copy.deepcopy(model)
    with torch.no_grad():
        for p, p0 in zip(reference.parameters(), agvm.initial):
            p.copy_(p0)
    full = torch.autograd.grad(F.cross_entropy(reference(x), y), list(reference.parameters()))
    direct = AGVM(torch.optim.SGD(module_param_groups(reference), lr=0.3), update_interval=1)
    per_sample = F.cross_entropy(reference(x), y, reduction="none")
    half = batch_size // 2
    direct.backward(per_sample[:half].mean(), per_sample[half:].mean())

    # p.grad is the full-batch mean gradient, also for an odd batch (size-weighted halves) ...
    for got, want in zip(agvm.grads[0], full):
        torch.testing.assert_close(got, want, atol=1e-14, rtol=0)
    # ... and the variances are those of the two half-batch means, so the factors match too.
    assert agvm.last_variances == pytest.approx(direct.last_variances, rel=1e-10)
    assert agvm.scale_factors == pytest.approx(direct.scale_factors, rel=1e-12)
    assert agvm.scale_factors[1] != 1.0
    if batch_size % 2 == 0:  # the same losses as the direct call: the same gradients
        for got, p in zip(agvm.grads[0], reference.parameters()):
            torch.testing.assert_close(got, p.grad, atol=0, rtol=0)

    # The step moves module i by lr * s_i * its full-batch gradient (plain SGD).
    factors = [s for group, s in zip(agvm.param_groups, agvm.scale_factors) for _ in group["params"]]
    for p, p0, s, g in zip(model.parameters(), agvm.initial, factors, full, strict=True):
        torch.testing.assert_close(p.detach(), p0 - 0.3 * s * g, atol=1e-14, rtol=0)


def test_first_order_optimizers_keep_the_plain_backward(monkeypatch):
    seen = []
    real = builders.OPTIMIZERS["sgd"]

    def recording_sgd(model, **options):
        optimizer = real(model, **options)
        seen.append(optimizer)
        return optimizer

    monkeypatch.setitem(builders.OPTIMIZERS, "sgd", recording_sgd)
    train_run(parse_run_config(_tiny(optimizer={"name": "sgd", "lr": 0.3})))
    assert not isinstance(seen[0], builders.HalfBatchBackward)


@pytest.mark.parametrize(
    "objective", [{"name": "standard"}, {"name": "conadv", "epsilon": 0.05, "input_min": 0.0, "input_max": 1.0}]
)
@pytest.mark.parametrize("base", [{"base": "sgd", "lr": 0.3, "momentum": 0.9}, {"base": "adamw", "lr": 0.01}])
def test_agvm_trains_with_each_objective(objective, base):
    document = _tiny(48, {"name": "agvm", "update_interval": 2, **base}, objective=objective)
    document["data"]["n"] = 300
    del document["train"]["steps"]
    document["train"]["epochs"] = 8
    history = train_run(parse_run_config(document)).history
    assert history[-1].train_loss < 0.8 * history[0].train_loss


def test_objective_must_return_per_sample_losses(monkeypatch):
    class Reducing(builders.StandardObjective):
        def __call__(self, model, loss_fn, x, y):
            losses, outputs = super().__call__(model, loss_fn, x, y)
            return losses.mean(), outputs

    monkeypatch.setitem(builders.OBJECTIVES, "reducing", Reducing)
    with pytest.raises(ValueError, match=r"objective 'reducing' returned losses of shape \(\) for a batch of 8"):
        train_run(parse_run_config(_tiny(objective={"name": "reducing"})))


# ----------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "optimizer,message",
    [
        ({"base": "foo"}, "train.optimizer.base: unknown 'foo'"),
        ({"base": "mkor"}, "train.optimizer.base: unknown 'mkor' (AGVM wraps one of: adagradnorm, adamw, lamb, lars"),
        ({"bogus": 1}, "train.optimizer: got an unexpected keyword argument 'bogus' for 'sgd'"),
        ({"decay_bias_and_norm": True}, "train.optimizer.decay_bias_and_norm: not an AGVM option"),
        ({"factor_momentum": 1.0}, "train.optimizer.factor_momentum: must be in [0, 1), got 1.0"),
        ({"variance_eps": 0.0}, "train.optimizer.variance_eps: must be > 0"),
        ({"reference_group": 2}, "train.optimizer: Invalid reference_group: 2 (the optimizer has 2 groups)"),
        ({"update_interval": 0}, "train.optimizer: Invalid update_interval"),
        ({"adam_preconditioned": True}, "train.optimizer: Invalid adam_preconditioned"),
        ({"lr": -1.0}, "train.optimizer: Invalid learning rate"),
    ],
)
def test_bad_options_name_the_field(optimizer, message):
    document = _tiny(optimizer={"name": "agvm", "lr": 0.1, **optimizer})
    with pytest.raises(ConfigError, match=re.escape(message)):
        train_run(parse_run_config(document))


def test_mkor_cannot_wrap_agvm():
    # MKOR would call loss.backward(), so AGVM would never see its two halves.
    document = _tiny(optimizer={"name": "mkor", "base": "agvm", "lr": 0.1})
    with pytest.raises(ConfigError, match=re.escape("train.optimizer.base: unknown 'agvm' (MKOR wraps one of:")):
        train_run(parse_run_config(document))


def test_a_batch_of_one_is_a_config_error_in_the_cli(tmp_path):
    document = _tiny(batch_size=3)
    document["data"]["n"] = 5  # 4 training samples: batches of 3 and 1
    document["train"]["steps"] = 2
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["train", "--run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "train.batch_size: step 1 has a batch of one sample, which AGVM cannot split" in result.output
    document["train"]["drop_last"] = True
    path.write_text(yaml.safe_dump(document))
    assert CliRunner().invoke(main, ["train", "--run", str(path), "--no-progress"]).exit_code == 0
