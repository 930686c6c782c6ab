"""The float training loop behind ``zktrain train``: seeded, deterministic, one record per epoch.

``plan_run`` resolves the batch-size rules of a run file before anything is built: the
learning rate scaled to the batch (``train.scale_lr``, Goyal et al. 2017 / Granziol et al.
2020) and the epochs and milestones stretched to keep the number of updates
(``train.regime_adaptation``, Hoffer et al. 2017). ``train_run`` then builds the model,
optimizer, schedule, batch-size controller and objective from the registries of
``zktrain.train.builders`` and trains.

An epoch is one pass over a seeded permutation of the training set, cut into consecutive
batches whose sizes the controller chooses (the last one may be short unless
``drop_last``). Each step: objective (per-sample losses) -> backward -> optimizer step ->
scheduler step -> ``controller.after_step``. The backward pass differentiates the batch's mean
loss or, for an optimizer with ``backward`` (``builders.HalfBatchBackward``, e.g. AGVM), hands
it the mean losses of the two halves of the batch. After each epoch the loop records the mean
training loss and accuracy over the samples of that epoch (outputs taken before each update)
and the loss and accuracy on the test set in evaluation mode. All randomness (initialization,
order) comes from the run's seed inside ``torch.random.fork_rng``, so the caller's RNG state is
untouched and two runs of one file give identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from zktrain.data import Dataset
from zktrain.schedules import regime_adaptation, scale_lr
from zktrain.train import builders
from zktrain.train.config import Component, ConfigError, InitialWeights, RunConfig

__all__ = [
    "LOSS_FUNCTIONS",
    "EpochMetrics",
    "RunPlan",
    "TrainResult",
    "TrainingDiverged",
    "advance_schedule",
    "build_model",
    "plan_run",
    "train_run",
]


def _cross_entropy(outputs: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(outputs, y, reduction="none")


def _mse(outputs: Tensor, y: Tensor) -> Tensor:
    """Mean over the classes of (output - one_hot(y))^2, per sample."""
    target = F.one_hot(y, num_classes=outputs.shape[1]).to(outputs.dtype)
    return F.mse_loss(outputs, target, reduction="none").mean(dim=1)


#: Per-sample losses ``(outputs, y) -> (batch,)``, by the run file's ``train.loss``.
LOSS_FUNCTIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"cross_entropy": _cross_entropy, "mse": _mse}


def _batch_mean(per_sample: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """The mean loss over the batch, for evaluation and batch-size controllers."""

    def mean_loss(outputs: Tensor, y: Tensor) -> Tensor:
        return per_sample(outputs, y).mean()

    return mean_loss


def _backward(optimizer: torch.optim.Optimizer, losses: Tensor, step: int) -> None:
    """Differentiate the batch's mean loss, through the optimizer's ``backward`` if it has one.

    A ``HalfBatchBackward`` optimizer gets the mean losses of the two halves, weighted by
    2 * size / batch so that their average is the batch mean for an odd batch too (the weight
    is exactly 1 for an even one, and cosine-based estimates such as AGVM's ignore it).
    """
    if not isinstance(optimizer, builders.HalfBatchBackward):
        losses.mean().backward()
        return
    n = losses.shape[0]
    if n < 2:
        raise ConfigError(
            f"train.batch_size: step {step} has a batch of one sample, which {type(optimizer).__name__} "
            "cannot split into two halves (set drop_last: true or change the batch size)"
        )
    half = n // 2
    optimizer.backward(losses[:half].mean() * (2 * half / n), losses[half:].mean() * (2 * (n - half) / n))


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class RunPlan:
    """The run after the batch-size rules: what is actually trained."""

    optimizer: Component
    schedule: Component
    epochs: int | None
    steps_per_epoch: int
    total_steps: int
    total_samples: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch: ``lr`` and ``batch_size`` are those of its last step (of group 0 for ``lr``)."""

    epoch: int
    step: int
    samples: int
    lr: float
    batch_size: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float


@dataclass
class TrainResult:
    model: nn.Module
    plan: RunPlan
    history: list[EpochMetrics] = field(default_factory=list)


def _samples_in(steps: int, n: int, batch: int, drop_last: bool) -> int:
    """Samples consumed by ``steps`` fixed-size steps over epochs of ``n`` samples."""
    per_epoch_steps = n // batch if drop_last else math.ceil(n / batch)
    per_epoch_samples = per_epoch_steps * batch if drop_last else n
    full, rest = divmod(steps, per_epoch_steps)
    return full * per_epoch_samples + min(rest * batch, n)


def plan_run(config: RunConfig, train_samples: int) -> RunPlan:
    """Apply ``scale_lr`` and ``regime_adaptation`` and count steps (at the initial batch size)."""
    train = config.train
    batch = train.batch_size
    notes: list[str] = []
    optimizer = train.optimizer
    if train.scale_lr is not None:
        rule = train.scale_lr
        base_lr = optimizer.options["lr"]
        try:
            lr = scale_lr(base_lr, rule.base_batch, batch, rule.rule, rule.max_lr)
        except ValueError as err:
            raise ConfigError(f"train.scale_lr: {err}") from err
        optimizer = Component(optimizer.name, {**optimizer.options, "lr": lr})
        cap = f", capped at {rule.max_lr:g}" if rule.max_lr is not None else ""
        notes.append(f"lr {base_lr:g} at batch {rule.base_batch} -> {lr:.6g} at batch {batch} ({rule.rule} rule{cap})")

    epochs, schedule = train.epochs, train.schedule
    if train.regime_base_batch is not None:
        try:
            adapted = regime_adaptation({**schedule.options, "epochs": epochs}, train.regime_base_batch, batch)
        except ValueError as err:
            raise ConfigError(f"train.schedule: {err}") from err
        epochs = adapted.pop("epochs")
        schedule = Component(schedule.name, adapted)
        factor = epochs // train.epochs
        notes.append(f"regime adaptation: epochs and milestones x{factor} (batch {train.regime_base_batch} -> {batch})")

    steps_per_epoch = train_samples // batch if train.drop_last else math.ceil(train_samples / batch)
    if steps_per_epoch == 0:
        raise ConfigError(
            f"train.batch_size: {batch} exceeds the {train_samples} training samples and drop_last drops every batch"
        )
    total_steps = train.steps if train.steps is not None else epochs * steps_per_epoch
    return RunPlan(
        optimizer=optimizer,
        schedule=schedule,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        total_samples=_samples_in(total_steps, train_samples, batch, train.drop_last),
        notes=tuple(notes),
    )


def build_model(config: RunConfig, dataset: Dataset) -> nn.Module:
    """The run's model, from the ``model.torch`` factory or the ``MODELS`` registry, with the
    committed initial weights loaded when the run file names them (torch's seeded generator
    is the caller's to set)."""
    if config.model_factory is not None:
        try:
            model = config.model_factory.build()
        except ValueError as err:
            raise ConfigError(str(err)) from err
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model.torch: {config.model_factory} returned {type(model).__name__}, not an nn.Module")
    else:
        model = builders.build(builders.MODELS, config.model, "model", dataset.num_features, dataset.num_classes)
    if config.initial is not None:
        _load_initial(model, config.initial)
    return model


def _load_initial(model: nn.Module, initial: InitialWeights) -> None:
    """Set the Linear layers (in module order) to W{l}, b{l} of the .npz: float arrays as they
    are, integer arrays as master values divided by 2^(2R+k)."""
    try:
        with np.load(initial.path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError) as err:
        raise ConfigError(f"model.init_path: cannot read {initial.path}: {err}") from err
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for l, layer in enumerate(linears, 1):
            for key, param in ((f"W{l}", layer.weight), (f"b{l}", layer.bias)):
                if param is None:
                    continue
                if key not in arrays:
                    raise ConfigError(f"model.init_path: {initial.path} has no array {key!r}")
                a = arrays[key]
                if a.shape != tuple(param.shape):
                    raise ConfigError(f"model.init_path: {key} has shape {a.shape}, expected {tuple(param.shape)}")
                values = a / float(1 << initial.scale_bits) if a.dtype.kind in "iu" else a
                param.copy_(torch.from_numpy(np.asarray(values, dtype=np.float64)))


@torch.no_grad()
def evaluate(
    model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor, chunk: int = 4096
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` in evaluation mode over ``(x, y)``."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], chunk):
        outputs = model(x[start : start + chunk])
        target = y[start : start + chunk]
        total_loss += loss_fn(outputs, target).item() * target.shape[0]
        correct += int((outputs.argmax(dim=1) == target).sum())
    model.train(was_training)
    return total_loss / x.shape[0], correct / x.shape[0]


def advance_schedule(scheduler: object, samples: int) -> None:
    """One scheduler step after an optimizer step on ``samples`` samples."""
    if getattr(scheduler, "counts_samples", False):
        scheduler.step(samples=samples)  # type: ignore[attr-defined]
    else:
        scheduler.step()  # type: ignore[attr-defined]


def train_run(
    config: RunConfig,
    dataset: Dataset | None = None,
    *,
    progress: bool = False,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
) -> TrainResult:
    """Train ``config`` in float PyTorch; ``on_epoch`` receives each epoch's metrics as it ends."""
    dataset = dataset if dataset is not None else config.data.load()
    train = config.train
    plan = plan_run(config, dataset.x_train.shape[0])
    dtype = getattr(torch, train.dtype)
    per_sample_loss = LOSS_FUNCTIONS[train.loss]
    loss_fn = _batch_mean(per_sample_loss)
    x_train = torch.from_numpy(dataset.x_train).to(dtype)
    y_train = torch.from_numpy(dataset.y_train)
    x_test = torch.from_numpy(dataset.x_test).to(dtype)
    y_test = torch.from_numpy(dataset.y_test)
    n = x_train.shape[0]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_model(config, dataset).to(dtype)
        optimizer = builders.build(builders.OPTIMIZERS, plan.optimizer, "train.optimizer", model)
        context = builders.ScheduleContext(
            batch_size=train.batch_size,
            train_samples=n,
            steps_per_epoch=plan.steps_per_epoch,
            total_steps=plan.total_steps,
            total_samples=plan.total_samples,
        )
        scheduler = builders.build(builders.SCHEDULES, plan.schedule, "train.schedule", optimizer, context)
        controller = builders.build(
            builders.BATCH_SIZE_CONTROLLERS, train.batch_size_controller, "train.batch_size_controller", train.batch_size
        )
        objective = builders.build(builders.OBJECTIVES, train.objective, "train.objective")
        order = torch.Generator().manual_seed(config.seed)

        result = TrainResult(model=model, plan=plan)
        step, samples_seen, epoch = 0, 0, 0
        bar = tqdm(total=plan.total_steps, disable=not progress, unit="step", dynamic_ncols=True)
        model.train()
        try:
            while (train.steps is None and epoch < plan.epochs) or (train.steps is not None and step < train.steps):
                epoch += 1
                permutation = torch.randperm(n, generator=order)
                epoch_loss, epoch_correct, epoch_samples, position = 0.0, 0, 0, 0
                batch_size = train.batch_size
                while position < n and (train.steps is None or step < train.steps):
                    batch_size = controller.batch_size(step)
                    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
                        raise ValueError(f"batch-size controller returned {batch_size!r} at step {step}")
                    index = permutation[position : position + batch_size]
                    if train.drop_last and index.shape[0] < batch_size:
                        break
                    position += index.shape[0]
                    xb, yb = x_train[index], y_train[index]

                    optimizer.zero_grad(set_to_none=True)
                    losses, outputs = objective(model, per_sample_loss, xb, yb)
                    if losses.shape != yb.shape:
                        raise ValueError(
                            f"objective {train.objective.name!r} returned losses of shape {tuple(losses.shape)} "
                            f"for a batch of {yb.shape[0]}; it must return one loss per sample"
                        )
                    loss = losses.detach().mean()
                    if not torch.isfinite(loss):
                        raise TrainingDiverged(
                            f"step {step}: the training loss is {loss.item()}; lower the learning rate"
                        )
                    _backward(optimizer, losses, step)
                    step_lr = float(optimizer.param_groups[0]["lr"])
                    optimizer.step()
                    if scheduler is not None:
                        advance_schedule(scheduler, index.shape[0])
                    controller.after_step(model, loss_fn, (xb, yb))

                    count = index.shape[0]
                    epoch_loss += loss.item() * count
                    epoch_correct += int((outputs.detach().argmax(dim=1) == yb).sum())
                    epoch_samples += count
                    samples_seen += count
                    step += 1
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}")
                if epoch_samples == 0:
                    break
                test_loss, test_accuracy = evaluate(model, loss_fn, x_test, y_test)
                metrics = EpochMetrics(
                    epoch=epoch,
                    step=step,
                    samples=samples_seen,
                    lr=step_lr,
                    batch_size=batch_size,
                    train_loss=epoch_loss / epoch_samples,
                    train_accuracy=epoch_correct / epoch_samples,
                    test_loss=test_loss,
                    test_accuracy=test_accuracy,
                )
                result.history.append(metrics)
                if on_epoch is not None:
                    on_epoch(metrics)
        finally:
            bar.close()
    return result
