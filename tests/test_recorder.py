"""The PyTorch front door (issue 14): ``zktrain.Recorder`` records a torch loop step for step as
the engine would train it, refuses by name what is not provable, proves a run that verifies
(in Python and through ``zktrain verify``) and hands the proven weights back to the module;
one run-file schema serves ``zktrain train`` and ``zktrain prove``, with model factories."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import zktrain
from circuits.data import encode_inputs, encode_labels
from circuits.semantics import mse_lr_num
from verifier.bundle import verify_bundle
from verifier.model import float_copy
from zktrain.cli import main
from zktrain.data import load_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, train
from zktrain.provable import NotProvableError, check_model, master_parameters
from zktrain.run_config import RunConfigError, load_run, parse_run
from zktrain.train.config import load_run_config, parse_run_config
from zktrain.train.loop import build_model, plan_run, train_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DATA = load_dataset({"source": "synthetic", "n": 64, "d": 4, "classes": 3, "seed": 1})
BATCH = 8


def mlp(seed: int = 0, dtype=torch.float32) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(dtype)


def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = slice(t * BATCH, (t + 1) * BATCH)
    return torch.from_numpy(DATA.x_train[rows]), torch.from_numpy(DATA.y_train[rows])


def recorded(steps: int = 4, lr: float = 0.5, step_size: int = 2) -> tuple[zktrain.Recorder, nn.Sequential]:
    """A run under a StepLR schedule (rates lr, lr, lr/2, lr/2, ...)."""
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.5)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss(), name="rec")
    for t in range(steps):
        rec.step(*batch(t))
        scheduler.step()
    return rec, model


# --- the recorded trajectory ----------------------------------------------------------------


def test_trajectory_equals_the_engines_step_for_step():
    model = mlp(dtype=torch.float64)
    rec_model = copy.deepcopy(model)
    optimizer = torch.optim.SGD(rec_model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    rec = zktrain.Recorder(rec_model, optimizer, nn.MSELoss())
    held = []
    for t in range(5):
        rec.step(*batch(t))
        scheduler.step()
        held.append([p.detach().clone() for p in rec_model.parameters()])

    recipe = rec.recipe()
    x = encode_inputs(DATA.x_train, recipe.quant.frac_bits)
    y = encode_labels(DATA.y_train, 3, recipe.quant.frac_bits)
    rows = np.arange(5 * BATCH).reshape(5, BATCH)
    initial = master_parameters(check_model(model), recipe.scales.weight)
    expected = train(recipe, x, y, rows, model=FixedPointMLP(recipe, *initial))
    got = rec.trace()
    for mine, theirs in zip(got.steps, expected.steps):
        assert mine.lr_num == theirs.lr_num
        for a, b in zip(mine.layers, theirs.layers):
            assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
            assert np.array_equal(a.z, b.z) and np.array_equal(a.g_z, b.g_z)
    for a, b in zip((*got.final_weights, *got.final_biases), (*expected.final_weights, *expected.final_biases)):
        assert np.array_equal(a, b)
    # After every step the module holds that step's fixed-point weights (their float32 copies).
    for t, params in enumerate(held):
        after = rec.trace().steps[t + 1].layers if t + 1 < 5 else None
        weights = [l.weight for l in after] if after else list(got.final_weights)
        biases = [l.bias for l in after] if after else list(got.final_biases)
        masters = [v for pair in zip(weights, biases) for v in pair]
        for p, m in zip(params, masters):
            assert torch.equal(p, torch.from_numpy(float_copy(m, recipe.scales.weight)).double())


def test_scheduler_steps_are_the_recipes_rates():
    rec, _ = recorded(steps=5, lr=0.5, step_size=2)
    rates = [0.5, 0.5, 0.25, 0.25, 0.125]
    assert rec.rates == rates
    assert rec.recipe().train.lr_num == tuple(mse_lr_num(r, BATCH, 3, 16) for r in rates) == (2731, 2731, 1365, 1365, 683)


def test_class_labels_and_one_hot_targets_record_the_same_step():
    a, b = mlp(), mlp()
    rec_a = zktrain.Recorder(a, torch.optim.SGD(a.parameters(), lr=0.5), nn.MSELoss())
    rec_b = zktrain.Recorder(b, torch.optim.SGD(b.parameters(), lr=0.5), nn.MSELoss())
    x, y = batch(0)
    loss = rec_a.step(x, y)
    rec_b.step(x, nn.functional.one_hot(y, 3).float())
    assert np.array_equal(rec_a.trace().final_weights[0], rec_b.trace().final_weights[0])
    with torch.no_grad():  # the returned loss is the batch's MSE before the update
        assert loss == pytest.approx(nn.MSELoss()(mlp()(x), nn.functional.one_hot(y, 3).float()).item(), rel=1e-3)


def test_fit_records_the_loaders_rows():
    data = TensorDataset(torch.from_numpy(DATA.x_train), torch.from_numpy(DATA.y_train))
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(1))
    model = mlp()
    rec = zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.5), nn.MSELoss())
    assert rec.fit(loader, epochs=1) == len(DATA.y_train) // BATCH
    x = encode_inputs(DATA.x_train, 16)
    for step, rows in zip(rec.trace().steps, rec.indices):
        assert rows.shape == (BATCH,) and np.array_equal(step.batch_indices, rows)
        assert np.array_equal(step.x, x[rows])
    assert sorted(np.concatenate(rec.indices).tolist()) != list(range(rec.steps * BATCH))  # shuffled


def test_fidelity_compares_a_float_replay():
    rec, _ = recorded(steps=4)
    report = rec.fidelity(DATA.x_test, DATA.y_test)
    assert report.steps == 4 and report.samples == len(DATA.y_test)
    assert 0 < report.max_weight_difference < 1e-4 and report.relative_weight_difference < 1e-4
    assert abs(report.float_accuracy - report.fixed_point_accuracy) <= 0.1
    assert rec.fidelity().samples == 4 * BATCH


# --- what is refused --------------------------------------------------------------------------


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)), r"model\[1\]: nn.Tanh is not provable yet"),
    (lambda: nn.Sequential(nn.Conv1d(1, 1, 3), nn.ReLU(), nn.Linear(2, 3)), r"model\[0\]: nn.Conv1d is not provable yet"),
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)), r"model\[1\]: nn.Linear directly after nn.Linear"),
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU()), r"model\[1\]: the model ends with nn.ReLU"),
    (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3, bias=False)), r"model\[2\]: bias=False"),
    (lambda: nn.Linear(4, 3), "model: nn.Linear is not provable yet"),
])
def test_unprovable_modules_are_named(build, message):
    model = build()
    with pytest.raises(NotProvableError, match=message) as err:
        zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    assert "(provable: " in str(err.value)  # and what is


@pytest.mark.parametrize("build, message", [
    # momentum and weight_decay themselves are recorded (tests/test_momentum_training.py).
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), "nesterov=True"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1), "dampening=0.1"),
    (lambda p: torch.optim.Adam(p, lr=0.1), "torch.optim.adam.Adam is not provable yet"),
])
def test_unprovable_optimizers_are_named(build, message):
    model = mlp()
    with pytest.raises(NotProvableError, match=message) as err:
        zktrain.Recorder(model, build(model.parameters()), nn.MSELoss())
    assert "provable: torch.optim.SGD with dampening=0, nesterov=False, maximize=False and any momentum and weight_decay" \
        in str(err.value)


@pytest.mark.parametrize("loss, message", [
    # nn.CrossEntropyLoss() itself is recorded and proven (tests/test_ce_proof.py).
    (nn.CrossEntropyLoss(label_smoothing=0.1), r"loss: nn.CrossEntropyLoss\(label_smoothing=0.1\) is not provable yet"),
    (nn.CrossEntropyLoss(reduction="sum"), r"loss: nn.CrossEntropyLoss\(reduction='sum'\) is not provable yet"),
    (nn.L1Loss(), "loss: nn.L1Loss is not provable yet"),
    (nn.MSELoss(reduction="sum"), r"loss: nn.MSELoss\(reduction='sum'\) is not provable yet"),
])
def test_unprovable_losses_are_named(loss, message):
    model = mlp()
    with pytest.raises(NotProvableError, match=message) as err:
        zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.1), loss)
    assert "provable: nn.MSELoss(reduction='mean') and nn.CrossEntropyLoss() with its defaults" in str(err.value)


def test_options_changed_between_steps_are_refused():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss())
    rec.step(*batch(0))
    optimizer.param_groups[0]["momentum"] = 0.9
    with pytest.raises(NotProvableError, match=r"hyperparameters changed since the first step \(momentum \[0\.9\], "):
        rec.step(*batch(1))
    optimizer.param_groups[0].update(momentum=0, dampening=0.5)
    with pytest.raises(NotProvableError, match="dampening=0.5"):
        rec.step(*batch(1))
    assert rec.steps == 1


def test_updates_outside_the_recorder_and_uneven_batches_are_refused():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss())
    rec.step(*batch(0))
    x, y = batch(1)
    with pytest.raises(ValueError, match=r"step 1: a batch of 5 rows; the recorded run's batches have 8"):
        rec.step(x[:5], y[:5])
    nn.MSELoss()(model(x), nn.functional.one_hot(y, 3).float()).backward()
    optimizer.step()
    with pytest.raises(ValueError, match=r"step 1: model.0.weight changed outside the recorder"):
        rec.step(x, y)
    with pytest.raises(ValueError, match="x must have shape"):
        rec.step(x[:, :3], y)


# --- proving ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    """A recorded run proven in the zero-knowledge mode."""
    rec, model = recorded(steps=3)
    path = tmp_path_factory.mktemp("rec") / "rec.zkp"
    summary = rec.prove(path, zk=True)
    return {"rec": rec, "model": model, "path": path, "summary": summary}


def test_recorded_proof_verifies(proven):
    path = proven["path"]
    report = verify_bundle(path.read_bytes(), weights=path.with_suffix(".model.npz"))
    assert report.accepted and report.mode == "zk" and report.steps == 3, report.reason
    assert report.recipe_name == "rec"
    assert proven["summary"].steps == 3 and proven["summary"].test_accuracy is None
    assert path.with_suffix(".model.npz").stat().st_mode & 0o077 == 0  # secret in the ZK mode


def test_recorded_proof_verifies_through_the_cli(proven):
    path = proven["path"]
    result = CliRunner().invoke(main, ["verify", str(path), "--weights", str(path.with_suffix(".model.npz"))])
    assert result.exit_code == 0 and result.output.startswith("ACCEPT"), result.output
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 0 and "recorded" in result.output and "init committed" in result.output, result.output


def test_module_holds_the_proven_weights(proven):
    model, artifact = proven["model"], proven["summary"].model
    floats = artifact.floats()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for l, layer in enumerate(linears, 1):
        assert torch.equal(layer.weight.detach(), torch.from_numpy(floats[f"W{l}"]))
        assert torch.equal(layer.bias.detach(), torch.from_numpy(floats[f"b{l}"]))
        assert np.array_equal(artifact.tensors[f"W{l}"], proven["rec"].trace().final_weights[l - 1])
    with np.load(proven["path"].with_suffix(".model.npz")) as stored:
        assert np.array_equal(stored["W1.float32"], floats["W1"])


def test_importing_zktrain_loads_no_torch():
    probe = "import sys, zktrain, zktrain.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- one run-file schema ----------------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_run_files_load_under_one_schema(example):
    config = load_run_config(example)  # zktrain train reads every one
    try:
        run = load_run(example)  # zktrain prove reads the provable ones
    except RunConfigError as err:
        assert "not provable" in str(err) and "unknown key" not in str(err), err
        assert example.name not in ("digits_mlp.yaml", "tiny.yaml")
    else:  # the same steps (an epoch count planned as zktrain train plans it) and base rate
        steps = config.train.steps or plan_run(config, train_samples=len(run.dataset.y_train)).total_steps
        assert run.recipe.train.steps == steps
        train = yaml.safe_load(example.read_text())["train"]
        lr = train["lr"] if "lr" in train else train["optimizer"]["lr"]
        assert config.train.optimizer.options["lr"] == pytest.approx(float(lr))


@pytest.mark.parametrize("change, message", [
    # momentum and weight_decay load (the engine trains them) and prove refuses them
    # (tests/test_momentum_training.py); nesterov and dampening are refused here.
    (lambda t, m: t.update(optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": True}),
     r"train.optimizer.nesterov: True is not provable yet"),
    (lambda t, m: t.update(optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9, "dampening": 0.1}),
     r"train.optimizer.dampening: 0.1 is not provable yet"),
    (lambda t, m: t.update(optimizer={"name": "lamb", "lr": 0.5, "trust_clip": True}),
     r"train.optimizer.trust_clip: True is not provable yet"),
    (lambda t, m: t.update(optimizer={"name": "adamw", "lr": 0.5}),
     r"train.optimizer: only 'sgd', 'lars' and 'lamb' are provable so far; 'adamw' is not provable"),
    # loss: cross_entropy is provable (the cross-entropy proof); tests/test_softmax_ce.py covers it.
    (lambda t, m: t.update(loss="hinge"), r"train.loss: .*'hinge' is not provable yet"),
    (lambda t, m: t.update(drop_last=False), r"train.drop_last: false is not provable"),
    (lambda t, m: t.update(batch_size_controller={"name": "adaptive"}), r"train.batch_size_controller: .* is not provable yet"),
    (lambda t, m: t.update(objective="conadv"), r"train.objective: 'conadv' is not provable yet"),
    # norm: batchnorm and ghost_batchnorm are trained (tests/test_ghost_bn_run.py); layernorm is not.
    (lambda t, m: m.update(norm="layernorm"), r"model.norm: 'layernorm' is not provable yet"),
    (lambda t, m: m.update(activation="tanh"), r"model.activation: 'tanh' is not provable yet"),
    (lambda t, m: t.update(lr_schedule=[0.1] * 3, schedule="cosine") or t.pop("lr"), r"train.lr_schedule: one rate per step replaces train.schedule"),
])
def test_float_stack_options_are_not_provable_by_name(change, message):
    cfg = tiny_run()
    change(cfg["train"], cfg["model"])
    with pytest.raises(RunConfigError, match=message):
        parse_run(cfg)


def test_scheduled_rates_are_the_float_loops():
    """schedule/epochs in a proof run: each step's rate is the one zktrain train steps through."""
    cfg = tiny_run()
    cfg["train"] = {"batch_size": BATCH, "epochs": 2, "optimizer": {"name": "sgd", "lr": 0.5}, "loss": "mse",
                    "drop_last": True, "schedule": {"name": "multistep", "milestones": [1], "gamma": 0.5}}
    run = parse_run(cfg)
    per_epoch = len(run.dataset.y_train) // BATCH
    assert run.recipe.train.steps == 2 * per_epoch
    assert run.recipe.train.lr_num == (2731,) * per_epoch + (1365,) * per_epoch
    history = train_run(parse_run_config(cfg)).history
    assert [m.lr for m in history] == [0.5, 0.25] and history[-1].step == 2 * per_epoch


def test_train_reads_the_proof_keys():
    cfg = tiny_run()
    assert parse_run_config(cfg).train.optimizer.options == {"lr": 0.5}
    cfg["train"].pop("lr")
    cfg["train"]["lr_schedule"] = [0.5, 0.25, 0.125]
    config = parse_run_config(cfg)
    assert config.train.schedule.name == "per_step" and config.train.optimizer.options["lr"] == 0.5
    assert parse_run(cfg).recipe.train.lr_num == (2731, 1365, 683)
    cfg["train"]["optimizer"] = {"name": "sgd", "lr": 0.1}
    with pytest.raises(Exception, match="train.optimizer.lr: the rate is given twice"):
        parse_run_config(cfg)


FACTORY = """
from torch import nn


def build():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def tanh():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
"""


def test_model_factory_run_file_proves(tmp_path):
    (tmp_path / "build.py").write_text(FACTORY)
    cfg = tiny_run()
    cfg["model"] = {"torch": "build.py:build"}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run.zkp"
    runner = CliRunner()
    result = runner.invoke(main, ["prove", "--run", str(tmp_path / "run.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["verify", str(out)])
    assert result.exit_code == 0 and result.output.startswith("ACCEPT"), result.output

    # W_0 is the factory's module under the run's seed, for prove and for train alike.
    run, config = load_run(tmp_path / "run.yaml"), load_run_config(tmp_path / "run.yaml")
    assert run.recipe.model.init == "committed" and run.recipe.model.widths == (4, 8, 3)
    torch.manual_seed(cfg["seed"])
    module = build_model(config, run.dataset)
    weights, biases = master_parameters(check_model(module), run.recipe.scales.weight)
    assert all(np.array_equal(a, b) for a, b in zip(weights + biases, run.initial[0] + run.initial[1]))

    cfg["model"] = {"torch": "build.py:tanh"}
    with pytest.raises(RunConfigError, match=r"model.torch: .*build.py:tanh builds a model that is not provable: model\[1\]: nn.Tanh"):
        parse_run(cfg, base_dir=tmp_path)
    cfg["model"] = {"torch": "build.py:build", "widths": [4, 8, 3]}
    with pytest.raises(RunConfigError, match="model.widths: the model.torch factory defines the model"):
        parse_run(cfg, base_dir=tmp_path)
