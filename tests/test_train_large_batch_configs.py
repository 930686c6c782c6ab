"""Run files with the normalization and batch-size components of issue 7: the Ghost BN +
adaptive batch size example through the CLI, and each registered component in a short run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from zktrain.cli import main
from zktrain.nn import GhostBatchNorm1d, WSLinear
from zktrain.optim import MKOR
from zktrain.train.config import ConfigError, parse_run_config
from zktrain.train.loop import train_run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_ghostbn_adaptive.yaml"


def test_ghostbn_adaptive_example_runs_and_grows_the_batch(tmp_path):
    document = yaml.safe_load(EXAMPLE.read_text())
    del document["train"]["epochs"]
    document["train"]["steps"] = 6  # tests at steps 0 and 5 (test_interval 5)
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["train", "--run", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    (epoch_line,) = [line for line in result.output.splitlines() if line.startswith("epoch")]
    batch = int(re.search(r"batch (\d+)", epoch_line).group(1))
    assert 32 < batch <= 512 and batch % 16 == 0
    assert "optimizer adagradnorm" in result.output


def test_example_builds_the_intended_components():
    document = yaml.safe_load(EXAMPLE.read_text())
    document["train"].pop("epochs")
    document["train"]["steps"] = 1
    result = train_run(parse_run_config(document))
    assert sum(isinstance(m, GhostBatchNorm1d) for m in result.model.modules()) == 2


def _tiny(**train):
    return {
        "name": "tiny",
        "seed": 0,
        "data": {"source": "synthetic", "n": 300, "d": 8, "classes": 3},
        "model": {"kind": "mlp", "widths": [8, 16, 3]},
        "train": {"batch_size": 48, "epochs": 6, "optimizer": {"name": "sgd", "lr": 0.2, "momentum": 0.9}, **train},
    }


@pytest.mark.parametrize(
    "model,train",
    [
        ({"linear": "ws_linear", "norm": {"name": "ghost_batchnorm", "virtual_batch_size": 8}}, {}),
        ({}, {"optimizer": {"name": "adagradnorm", "lr": 0.5, "decay_bias_and_norm": True}}),
        ({}, {"optimizer": {"name": "mkor", "base": "sgd", "lr": 0.2, "momentum": 0.9, "inv_freq": 2}}),
        ({}, {"objective": {"name": "conadv", "epsilon": 0.05}}),
        ({}, {"batch_size_controller": {"name": "adaptive", "max_batch_size": 96, "eta": 0.2}}),
    ],
)
def test_registered_components_train(model, train):
    document = _tiny(**train)
    document["model"].update(model)
    history = train_run(parse_run_config(document)).history
    assert history[-1].train_loss < 0.8 * history[0].train_loss
    if "batch_size_controller" in train:
        assert 48 < history[-1].batch_size <= 96


def test_registered_layers_and_wrappers_are_the_real_classes():
    document = _tiny(optimizer={"name": "mkor", "base": "sgd", "lr": 0.1})
    document["model"].update({"linear": "ws_linear"})
    document["train"]["epochs"] = 1
    model = train_run(parse_run_config(document)).model
    assert all(isinstance(m, WSLinear) for m in model if hasattr(m, "weight"))
    from zktrain.train import builders

    assert isinstance(builders.OPTIMIZERS["mkor"](model, lr=0.1), MKOR)


@pytest.mark.parametrize(
    "model,train,message",
    [
        ({"norm": {"name": "ghost_batchnorm", "virtual_batch_size": 1}}, {}, "model.norm: virtual_batch_size"),
        ({}, {"optimizer": {"name": "mkor", "lr": 0.1, "stat_decay": 1.5}}, "train.optimizer: Invalid stat_decay"),
        ({}, {"optimizer": {"name": "mkor", "lr": 0.1, "bogus": 1}}, "train.optimizer"),
        ({}, {"batch_size_controller": {"name": "adaptive", "max_batch_size": 8}}, "train.batch_size_controller"),
        ({}, {"objective": {"name": "conadv", "epsilon": -1.0}}, "train.objective: epsilon"),
    ],
)
def test_bad_options_are_config_errors_naming_the_field(model, train, message):
    document = _tiny(**train)
    document["model"].update(model)
    with pytest.raises(ConfigError, match=re.escape(message)):
        train_run(parse_run_config(document))
