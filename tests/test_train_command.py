"""``zktrain train --run CONFIG``: the command, the config schema, the registries and the loop hooks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from zktrain.cli import main
from zktrain.train import builders
from zktrain.train.config import ConfigError, load_run_config, parse_run_config
from zktrain.train.loop import TrainingDiverged, plan_run, train_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tiny(**train):
    """A run that trains in well under a second: 160 synthetic samples, a 8-16-3 MLP."""
    return {
        "name": "tiny",
        "seed": 0,
        "data": {"source": "synthetic", "n": 200, "d": 8, "classes": 3},
        "model": {"kind": "mlp", "widths": [8, 16, 3]},
        "train": {"batch_size": 64, "epochs": 3, "optimizer": {"name": "lamb", "lr": 0.05}, **train},
    }


def invoke(tmp_path, document):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(document))
    return CliRunner().invoke(main, ["train", "--run", str(path), "--no-progress"])


def test_command_reports_every_epoch_and_is_deterministic(tmp_path):
    first = invoke(tmp_path, tiny())
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0].startswith("run tiny: synthetic (160 train / 40 test, 8 features, 3 classes)")
    epochs = [line for line in lines if line.startswith("epoch")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all("train loss" in line and "test loss" in line and "acc" in line for line in epochs)
    assert lines[-1].startswith("done: test accuracy")
    assert invoke(tmp_path, tiny()).output == first.output


def test_training_reduces_the_loss_for_each_optimizer():
    optimizers = [
        {"name": "lamb", "lr": 0.05},
        {"name": "lars", "lr": 2.0, "trust_coefficient": 0.02},
        {"name": "sgd", "lr": 0.5, "momentum": 0.9},
        {"name": "adamw", "lr": 0.01},
    ]
    for optimizer in optimizers:
        history = train_run(parse_run_config(tiny(epochs=8, optimizer=optimizer))).history
        assert history[-1].train_loss < 0.8 * history[0].train_loss, optimizer["name"]


def test_seed_controls_the_run_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = train_run(parse_run_config(tiny())).history
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(456)  # the caller's RNG state does not leak into the run
    assert train_run(parse_run_config(tiny())).history == a
    other = parse_run_config({**tiny(), "seed": 1})
    assert train_run(other).history != a


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["train"].update(batch_size=-3), "train.batch_size: must be a positive integer, got -3"),
        (lambda d: d["train"].update(steps=5), "train: give exactly one of 'epochs' and 'steps'"),
        (lambda d: d["train"].pop("epochs"), "train: give exactly one of 'epochs' and 'steps'"),
        (lambda d: d["train"].update(lossfn="mse"), "train.lossfn: unknown key"),
        (lambda d: d.update(extra=1), "extra: unknown key"),
        (lambda d: d.pop("name"), "name: must be a non-empty string, got None"),
        (lambda d: d["train"].update(loss="hinge"), r"train.loss: must be one of \['cross_entropy', 'mse'\], got 'hinge'"),
        (lambda d: d["train"].update(dtype="float16"), "train.dtype: must be one of"),
        (lambda d: d["data"].update(n=-1), "data.n: must be an integer >= 2, got -1"),
        (lambda d: d["train"].update(optimizer={"lr": 0.1}), "train.optimizer.name: must be a non-empty string"),
        (lambda d: d["train"].update(optimizer={"name": "adam"}), r"train.optimizer.name: unknown 'adam' \(known: [a-z, ]*lamb, lars[a-z, ]*\)"),
        (
            lambda d: d["train"].update(optimizer={"name": "lamb", "betaz": [0.9, 0.99]}),
            "train.optimizer: got an unexpected keyword argument 'betaz' for 'lamb' \\(options: decay_bias_and_norm, lr, betas",
        ),
        (lambda d: d["train"].update(optimizer={"name": "lamb", "lr": -1}), "train.optimizer: Invalid learning rate: -1"),
        (lambda d: d["train"].update(optimizer={"name": "lars"}), "train.optimizer: missing a required argument: 'lr'"),
        (lambda d: d["train"].update(schedule={"name": "cosine", "warmup": 1}), "train.schedule: got an unexpected keyword"),
        (lambda d: d["model"].update(widths=[7, 16, 3]), r"model.widths\[0\]: must equal the data's 8 features, got 7"),
        (lambda d: d["model"].update(widths=[8, 16, 4]), r"model.widths\[-1\]: must equal the data's 3 classes, got 4"),
        (lambda d: d["model"].update(kind="cnn"), "model.kind: unknown 'cnn'"),
        (lambda d: d["model"].update(norm={"name": "groupnorm"}), "model.norm.name: unknown 'groupnorm'"),
        (
            lambda d: d["train"].update(scale_lr={"base_batch": 32}, optimizer={"name": "lars", "momentum": 0.9}),
            "train.optimizer.lr: required when train.scale_lr is set",
        ),
        (lambda d: d["train"].update(scale_lr={"base_batch": 32, "rule": "log"}), "train.scale_lr.rule: must be one of"),
        (
            lambda d: d["train"].update(regime_adaptation={"base_batch": 128}),
            r"train.regime_adaptation.base_batch: must be <= train.batch_size \(64\), got 128",
        ),
        (
            lambda d: d["train"].update(batch_size=500, drop_last=True),
            "train.batch_size: 500 exceeds the 160 training samples and drop_last drops every batch",
        ),
    ],
)
def test_config_errors_name_the_field(tmp_path, change, message):
    document = tiny()
    change(document)
    result = invoke(tmp_path, document)
    assert result.exit_code == 1
    with pytest.raises(ConfigError, match=message):
        config = parse_run_config(document)
        train_run(config)
    assert "Error: " in result.output


def test_unreadable_run_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("train: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_run_config(tmp_path / "bad.yaml")
    result = CliRunner().invoke(main, ["train", "--run", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_quant_and_prove_sections_are_ignored():
    document = {**tiny(), "quant": {"frac_bits": 16}, "prove": {"zk": True}}
    assert parse_run_config(document) == parse_run_config(tiny())


def test_plan_applies_scale_lr_and_regime_adaptation():
    document = tiny(
        batch_size=64,
        epochs=3,
        optimizer={"name": "sgd", "lr": 0.1},
        scale_lr={"base_batch": 16, "rule": "linear", "max_lr": 0.3},
        regime_adaptation={"base_batch": 32},
        schedule={"name": "multistep", "milestones": [1, 2]},
    )
    plan = plan_run(parse_run_config(document), train_samples=160)
    assert plan.optimizer.options["lr"] == 0.3  # 0.1 * 64 / 16 = 0.4, capped
    assert plan.epochs == 6 and plan.schedule.options["milestones"] == [2, 4]  # x ceil(64 / 32)
    assert plan.steps_per_epoch == 3 and plan.total_steps == 18
    assert len(plan.notes) == 2


def test_steps_and_drop_last():
    document = tiny()
    del document["train"]["epochs"]
    document["train"].update(steps=5, drop_last=True)
    history = train_run(parse_run_config(document)).history
    # 160 samples at batch 64 with drop_last: 2 steps per epoch, so 5 steps end in epoch 3.
    assert [m.step for m in history] == [2, 4, 5]
    assert [m.samples for m in history] == [128, 256, 320]


class DoublingController:
    """A controller that doubles the batch after step 1 and records its calls."""

    def __init__(self, batch_size):
        self.size = batch_size
        self.calls = []

    def batch_size(self, step):
        return self.size * 2 if step >= 2 else self.size

    def after_step(self, model, loss_fn, batch):
        x, y = batch
        self.calls.append(x.shape[0])
        assert loss_fn(model(x), y).ndim == 0


def test_batch_size_controller_hook_and_sample_counting_schedule(monkeypatch):
    controllers = []

    def build(batch_size):
        controllers.append(DoublingController(batch_size))
        return controllers[-1]

    monkeypatch.setitem(builders.BATCH_SIZE_CONTROLLERS, "doubling", build)
    schedulers = []
    real_power = builders.SCHEDULES["power"]
    monkeypatch.setitem(
        builders.SCHEDULES, "power", lambda *args, **kw: schedulers.append(real_power(*args, **kw)) or schedulers[-1]
    )
    document = tiny(
        batch_size=32,
        epochs=2,
        batch_size_controller={"name": "doubling"},
        schedule={"name": "power", "a": 0.5, "b": -0.5},
    )
    history = train_run(parse_run_config(document)).history
    # Epoch 1: 32, 32, then 64 per step: 160 = 32 + 32 + 64 + 32 (short last batch).
    assert controllers[0].calls == [32, 32, 64, 32, 64, 64, 32]
    assert history[0].batch_size == 64 and history[-1].samples == 320
    assert schedulers[0].samples_seen == 320  # counted per sample, not per step
    assert history[-1].lr == pytest.approx(min(0.05, 0.5 * 288**-0.5))  # rate of the last step (n = 288)


def test_objective_hook(monkeypatch):
    calls = []

    class Recording(builders.StandardObjective):
        def __init__(self, weight=1.0):
            self.weight = weight

        def __call__(self, model, loss_fn, x, y):
            calls.append(x.shape[0])
            loss, outputs = super().__call__(model, loss_fn, x, y)
            return self.weight * loss, outputs

    monkeypatch.setitem(builders.OBJECTIVES, "recording", Recording)
    train_run(parse_run_config(tiny(epochs=1, objective={"name": "recording", "weight": 2.0})))
    assert calls == [64, 64, 32]


def test_mse_loss_float64_and_normalization_layers():
    document = tiny(loss="mse", dtype="float64", epochs=4)
    document["model"].update(norm={"name": "batchnorm", "momentum": 0.2}, activation="tanh")
    result = train_run(parse_run_config(document))
    assert all(p.dtype == torch.float64 for p in result.model.parameters())
    assert isinstance(result.model[1], torch.nn.BatchNorm1d) and result.model[1].momentum == 0.2
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_parameter_groups_exclude_biases_from_decay_and_adaptation():
    model = builders.build_mlp(8, 3, widths=[8, 16, 3])
    lars = builders.OPTIMIZERS["lars"](model, lr=1.0, weight_decay=1e-4)
    weights, biases = lars.param_groups
    assert all(p.ndim == 2 for p in weights["params"]) and weights["weight_decay"] == 1e-4 and weights["adapt"]
    assert all(p.ndim == 1 for p in biases["params"]) and biases["weight_decay"] == 0.0 and not biases["adapt"]
    lamb = builders.OPTIMIZERS["lamb"](model, decay_bias_and_norm=True)
    assert len(lamb.param_groups) == 1 and lamb.param_groups[0]["weight_decay"] == 0.01


def test_divergence_is_reported(tmp_path):
    document = tiny(optimizer={"name": "sgd", "lr": 1e6}, epochs=3)
    with pytest.raises(TrainingDiverged, match="the training loss is"):
        train_run(parse_run_config(document))
    result = invoke(tmp_path, document)
    assert result.exit_code == 1 and "lower the learning rate" in result.output


@pytest.mark.parametrize("name, optimizer", [("digits_lamb.yaml", "lamb"), ("digits_lars.yaml", "lars")])
def test_examples_are_large_batch_runs(name, optimizer):
    config = load_run_config(EXAMPLES / name)
    assert config.train.optimizer.name == optimizer and config.train.batch_size >= 512
    assert config.data.source == "digits"
    plan = plan_run(config, train_samples=1438)
    assert plan.total_steps == config.train.epochs  # drop_last: one full batch per epoch
