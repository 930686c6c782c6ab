"""``zktrain train --run CONFIG``: train a run file in plain float PyTorch, without a proof."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option(
    "--run",
    "run_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML run file: the schema zktrain prove reads too (zktrain/schema.py); quant and prove are not used.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
def train(run_file: Path, progress: bool | None) -> None:
    """Train the run's model in float PyTorch and report loss and accuracy per epoch."""
    # Imported here so that the other zktrain commands start without loading torch.
    from tqdm import tqdm

    from zktrain.data import DataError
    from zktrain.train.config import ConfigError, load_run_config
    from zktrain.train.loop import EpochMetrics, TrainingDiverged, plan_run, train_run

    if progress is None:
        progress = sys.stderr.isatty()
    try:
        config = load_run_config(run_file)
        dataset = config.data.load()
        plan = plan_run(config, dataset.x_train.shape[0])
    except (ConfigError, DataError) as err:
        raise click.ClickException(str(err)) from err

    spec = config.train
    click.echo(
        f"run {config.name}: {dataset.name} ({dataset.x_train.shape[0]} train / {dataset.x_test.shape[0]} test, "
        f"{dataset.num_features} features, {dataset.num_classes} classes), model {config.model_factory or config.model.name}, "
        f"optimizer {spec.optimizer.name}, schedule {plan.schedule.name}, batch {spec.batch_size}, "
        f"loss {spec.loss}, {spec.dtype}, seed {config.seed}"
    )
    for note in plan.notes:
        click.echo(f"  {note}")
    of_epochs = f"/{plan.epochs}" if plan.epochs is not None else ""
    click.echo(f"  {plan.total_steps} steps" + (f" over {plan.epochs} epochs" if plan.epochs is not None else ""))

    # With a progress bar, tqdm.write keeps the bar below the epoch lines.
    echo = tqdm.write if progress else click.echo

    def report(m: EpochMetrics) -> None:
        echo(
            f"epoch {m.epoch:>4}{of_epochs}  step {m.step:>6}  lr {m.lr:.4g}  batch {m.batch_size}  "
            f"train loss {m.train_loss:.4f} acc {m.train_accuracy:.2%}  "
            f"test loss {m.test_loss:.4f} acc {m.test_accuracy:.2%}"
        )

    try:
        result = train_run(config, dataset, progress=progress, on_epoch=report)
    except (ConfigError, TrainingDiverged) as err:
        raise click.ClickException(str(err)) from err

    final = result.history[-1]
    best = max(result.history, key=lambda m: m.test_accuracy)
    click.echo(
        f"done: test accuracy {final.test_accuracy:.2%} after {final.step} steps "
        f"(best {best.test_accuracy:.2%} at epoch {best.epoch})"
    )
