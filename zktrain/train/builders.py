"""Registries that turn the names in a run file into PyTorch objects.

Each registry maps a name to a builder; a run file's mapping ``{name: X, **options}`` (``kind``
for models) calls ``REGISTRY[X](*context, **options)``. Options are checked against the
builder's signature before the call, so a typo is a ``ConfigError`` naming the field, and a
``ValueError`` from the builder (a bad hyperparameter) becomes one too. Adding a component is
one entry in one dict; the builder contracts are:

===========================  ==================================================================
registry                     builder signature -> result
===========================  ==================================================================
``MODELS``                   ``(num_features, num_classes, **options) -> nn.Module``
``LINEAR_LAYERS``            ``(in_features, out_features, bias, **options) -> nn.Module``
``NORM_LAYERS``              ``(num_features, **options) -> nn.Module`` (input: (batch, features))
``ACTIVATIONS``              ``() -> nn.Module``
``OPTIMIZERS``               ``(model, **options) -> torch.optim.Optimizer``
``SCHEDULES``                ``(optimizer, ScheduleContext, **options) -> LRScheduler | None``
``BATCH_SIZE_CONTROLLERS``   ``(batch_size, **options) -> BatchSizeController``
``OBJECTIVES``               ``(**options) -> Objective``
===========================  ==================================================================

A scheduler is stepped once per optimizer step; one with a true ``counts_samples`` attribute
(``PowerScheduler``) is stepped as ``step(samples=len(batch))``. ``BatchSizeController`` and
``Objective`` are the two hooks of the training loop, described on their protocols below; an
optimizer may add a third, ``HalfBatchBackward``, to take over the backward pass (AGVM).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from zktrain.batching import AdaptiveBatchSize
from zktrain.nn import GhostBatchNorm1d, WSLinear
from zktrain.optim import AGVM, LAMB, LARS, MKOR, AdaGradNorm
from zktrain.optim.agvm import module_param_groups
from zktrain.schedules import PowerScheduler
from zktrain.train.conadv import ConAdv
from zktrain.train.config import Component, ConfigError

__all__ = [
    "MODELS",
    "LINEAR_LAYERS",
    "NORM_LAYERS",
    "ACTIVATIONS",
    "OPTIMIZERS",
    "FIRST_ORDER_OPTIMIZERS",
    "SCHEDULES",
    "BATCH_SIZE_CONTROLLERS",
    "OBJECTIVES",
    "BatchSizeController",
    "FixedBatchSize",
    "HalfBatchBackward",
    "Objective",
    "StandardObjective",
    "ScheduleContext",
    "build",
    "optimizer_builder",
    "parameter_groups",
]


def build(registry: Mapping[str, Callable[..., Any]], component: Component, path: str, *context: Any) -> Any:
    """Call ``registry[component.name](*context, **component.options)`` with config errors.

    ``path`` is the dotted config path of the component (``train.optimizer``), used in every
    message; the name field is ``kind`` for models and ``name`` otherwise.
    """
    key = "kind" if path == "model" else "name"
    builder = registry.get(component.name)
    if builder is None:
        raise ConfigError(f"{path}.{key}: unknown {component.name!r} (known: {', '.join(sorted(registry))})")
    signature = inspect.signature(builder)
    try:
        signature.bind(*context, **component.options)
    except TypeError as err:
        # The parameters after the positional context are the options a run file may set.
        options = list(signature.parameters.values())[len(context) :]
        accepted = [p.name for p in options if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        raise ConfigError(f"{path}: {err} for {component.name!r} (options: {', '.join(accepted)})") from err
    try:
        return builder(*context, **component.options)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{path}: {err}") from err


# ----------------------------------------------------------------------------------- models


LINEAR_LAYERS: dict[str, Callable[..., nn.Module]] = {"linear": nn.Linear, "ws_linear": WSLinear}

NORM_LAYERS: dict[str, Callable[..., nn.Module]] = {
    "batchnorm": nn.BatchNorm1d,
    "layernorm": nn.LayerNorm,
    "ghost_batchnorm": GhostBatchNorm1d,
}

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def _layer_component(path: str, spec: Any) -> Component | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return Component(spec)
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ConfigError(f"{path}: must be a layer name or a mapping with a 'name', got {spec!r}")
    return Component(spec["name"], {k: v for k, v in spec.items() if k != "name"})


def build_mlp(
    num_features: int,
    num_classes: int,
    *,
    widths: list[int],
    bias: bool = True,
    activation: str = "relu",
    linear: Any = "linear",
    norm: Any = None,
) -> nn.Sequential:
    """Linear -> [norm] -> activation for each hidden layer, then a last linear layer.

    ``widths`` lists every layer width including the input (the data's feature count) and the
    output (its class count). ``linear`` and ``norm`` name entries of ``LINEAR_LAYERS`` and
    ``NORM_LAYERS``, either as a bare name or as ``{name: ..., **options}``.
    """
    if not isinstance(widths, list) or len(widths) < 2 or not all(
        isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths
    ):
        raise ConfigError(f"model.widths: must be a list of at least two positive integers, got {widths!r}")
    if widths[0] != num_features:
        raise ConfigError(f"model.widths[0]: must equal the data's {num_features} features, got {widths[0]}")
    if widths[-1] != num_classes:
        raise ConfigError(f"model.widths[-1]: must equal the data's {num_classes} classes, got {widths[-1]}")
    if not isinstance(bias, bool):
        raise ConfigError(f"model.bias: must be true or false, got {bias!r}")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"model.activation: unknown {activation!r} (known: {', '.join(sorted(ACTIVATIONS))})")
    linear_spec = _layer_component("model.linear", linear)
    norm_spec = _layer_component("model.norm", norm)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(build(LINEAR_LAYERS, linear_spec, "model.linear", fan_in, fan_out, bias))
        if i < len(widths) - 2:
            if norm_spec is not None:
                layers.append(build(NORM_LAYERS, norm_spec, "model.norm", fan_out))
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


MODELS: dict[str, Callable[..., nn.Module]] = {"mlp": build_mlp}


# ------------------------------------------------------------------------------- optimizers


def parameter_groups(
    model: nn.Module, decay_bias_and_norm: bool, no_decay_options: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The model's parameters as optimizer groups.

    Unless ``decay_bias_and_norm``, tensors with at most one dimension (biases and
    normalization scales and shifts) go to a second group with ``weight_decay = 0`` plus
    ``no_decay_options``, the usual practice for LAMB (BERT) and LARS (ImageNet). In LAMB that
    group also skips layer adaptation (the ``weight_decay == 0`` gating of apex and timm).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if decay_bias_and_norm:
        return [{"params": params}]
    groups = [
        {"params": [p for p in params if p.ndim > 1]},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0, **no_decay_options},
    ]
    return [g for g in groups if g["params"]]


def optimizer_builder(
    cls: type[Optimizer], no_decay_options: Mapping[str, Any] | None = None
) -> Callable[..., Optimizer]:
    """A builder ``(model, *, decay_bias_and_norm=False, **cls options) -> cls`` over ``parameter_groups``.

    Its signature lists the optimizer's own keyword options, so ``build`` validates them.
    """
    extra = dict(no_decay_options or {})

    def build_optimizer(model: nn.Module, decay_bias_and_norm: bool = False, **options: Any) -> Optimizer:
        return cls(parameter_groups(model, decay_bias_and_norm, extra), **options)

    own = [p for name, p in inspect.signature(cls).parameters.items() if name != "params"]
    build_optimizer.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("model", inspect.Parameter.POSITIONAL_ONLY),
            inspect.Parameter("decay_bias_and_norm", inspect.Parameter.KEYWORD_ONLY, default=False),
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own),
        ]
    )
    build_optimizer.__doc__ = f"{cls.__name__} over zktrain.train.builders.parameter_groups."
    return build_optimizer


def build_mkor(
    model: nn.Module,
    *,
    base: str = "sgd",
    stat_decay: float = 0.95,
    inv_freq: int = 10,
    stabilization_threshold: float = 2.0,
    stabilization_factor: float = 0.1,
    **base_options: Any,
) -> MKOR:
    """MKOR preconditioning of the model's Linear layers around ``OPTIMIZERS[base]``, a
    first-order optimizer that receives every other option (``lr`` included, so ``scale_lr``
    applies to it)."""
    if base not in FIRST_ORDER_OPTIMIZERS:
        raise ConfigError(
            f"train.optimizer.base: unknown {base!r} (MKOR wraps one of: {', '.join(sorted(FIRST_ORDER_OPTIMIZERS))})"
        )
    inner = build(OPTIMIZERS, Component(base, base_options), "train.optimizer", model)
    return MKOR(model, inner, stat_decay, inv_freq, stabilization_threshold, stabilization_factor)


def build_agvm(
    model: nn.Module,
    *,
    base: str = "sgd",
    reference_group: int = 0,
    factor_momentum: float = 0.97,
    update_interval: int = 10,
    start_step: int = 0,
    variance_eps: float = 1e-6,
    min_ratio: float = 0.5,
    max_ratio: float = 10.0,
    adam_preconditioned: bool = False,
    **base_options: Any,
) -> AGVM:
    """AGVM (Xue et al. 2022, arXiv:2210.11078) around ``FIRST_ORDER_OPTIMIZERS[base]``.

    The base optimizer gets one parameter group per direct child of the model
    (:func:`zktrain.optim.agvm.module_param_groups`; in an MLP, each Linear or normalization
    layer), all with every option not listed here (``lr`` included, so ``scale_lr`` applies).
    ``factor_momentum`` and ``variance_eps`` are AGVM's ``momentum`` and ``eps``, renamed so
    that the base optimizer's own ``momentum`` and ``eps`` stay available. AGVM differentiates
    the loss itself (:class:`HalfBatchBackward`), so the loop hands it two half-batch losses.
    """
    if base not in FIRST_ORDER_OPTIMIZERS:
        raise ConfigError(
            f"train.optimizer.base: unknown {base!r} (AGVM wraps one of: {', '.join(sorted(FIRST_ORDER_OPTIMIZERS))})"
        )
    if "decay_bias_and_norm" in base_options:
        raise ConfigError(
            "train.optimizer.decay_bias_and_norm: not an AGVM option; AGVM groups the parameters by "
            "module and every group takes the base optimizer's options"
        )
    # AGVM's own checks would name its parameters; these two are renamed in the run file.
    if not 0.0 <= factor_momentum < 1.0:
        raise ConfigError(f"train.optimizer.factor_momentum: must be in [0, 1), got {factor_momentum!r}")
    if not variance_eps > 0.0:
        raise ConfigError(f"train.optimizer.variance_eps: must be > 0, got {variance_eps!r}")
    groups = module_param_groups(model)
    inner = build(FIRST_ORDER_OPTIMIZERS, Component(base, base_options), "train.optimizer", groups)
    return AGVM(
        inner,
        reference_group=reference_group,
        momentum=factor_momentum,
        update_interval=update_interval,
        start_step=start_step,
        eps=variance_eps,
        min_ratio=min_ratio,
        max_ratio=max_ratio,
        adam_preconditioned=adam_preconditioned,
    )


#: The first-order optimizers by run-file name, constructed as ``cls(param_groups, **options)``:
#: the ``base`` choices of AGVM, and (over ``parameter_groups``) entries of ``OPTIMIZERS``.
FIRST_ORDER_OPTIMIZERS: dict[str, type[Optimizer]] = {
    "lamb": LAMB,
    "lars": LARS,
    "sgd": torch.optim.SGD,
    "adamw": torch.optim.AdamW,
    # One accumulator per group: decay_bias_and_norm: true gives the published single one.
    "adagradnorm": AdaGradNorm,
}

#: Options of the no-decay group of ``parameter_groups``, beyond ``weight_decay = 0``.
_NO_DECAY_OPTIONS: dict[str, dict[str, Any]] = {
    # Biases and normalization parameters take plain momentum steps, without the local rate.
    "lars": {"adapt": False},
}

OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    **{name: optimizer_builder(cls, _NO_DECAY_OPTIONS.get(name)) for name, cls in FIRST_ORDER_OPTIMIZERS.items()},
    "mkor": build_mkor,
    "agvm": build_agvm,
}


# -------------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class ScheduleContext:
    """What a schedule builder may need to convert epochs into steps and samples.

    With a batch-size controller that changes the batch, ``steps_per_epoch`` and
    ``total_steps`` are those of the initial batch size; ``PowerScheduler`` counts samples and
    is exact either way.
    """

    batch_size: int
    train_samples: int
    steps_per_epoch: int
    total_steps: int
    total_samples: int


def _warmup_steps(context: ScheduleContext, warmup_epochs: float) -> int:
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, (int, float)) or warmup_epochs < 0:
        raise ValueError(f"warmup_epochs: must be a non-negative number, got {warmup_epochs!r}")
    steps = round(warmup_epochs * context.steps_per_epoch)
    if steps >= context.total_steps and steps > 0:
        raise ValueError(f"warmup_epochs: {warmup_epochs} covers the whole run ({context.total_steps} steps)")
    return steps


def _with_warmup(optimizer: Optimizer, warmup: int, factor: Callable[[int], float]) -> LambdaLR:
    """Linear warmup over ``warmup`` updates (update t < warmup uses (t + 1) / warmup), then ``factor``."""

    def multiplier(t: int) -> float:
        return (t + 1) / warmup if t < warmup else factor(t)

    return LambdaLR(optimizer, multiplier)


def constant_schedule(optimizer: Optimizer, context: ScheduleContext, *, warmup_epochs: float = 0.0) -> LRScheduler | None:
    """The optimizer's rate throughout, after an optional linear warmup."""
    warmup = _warmup_steps(context, warmup_epochs)
    return _with_warmup(optimizer, warmup, lambda t: 1.0) if warmup else None


def multistep_schedule(
    optimizer: Optimizer,
    context: ScheduleContext,
    *,
    milestones: list[float],
    gamma: float = 0.1,
    warmup_epochs: float = 0.0,
) -> LRScheduler:
    """Multiply the rate by ``gamma`` at each milestone (in epochs), as in Hoffer et al. (2017)."""
    if not isinstance(milestones, list) or not all(
        isinstance(m, (int, float)) and not isinstance(m, bool) and m > 0 for m in milestones
    ):
        raise ValueError(f"milestones: must be a list of positive epoch counts, got {milestones!r}")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma: must be in (0, 1], got {gamma!r}")
    boundaries = sorted(round(m * context.steps_per_epoch) for m in milestones)
    return _with_warmup(
        optimizer,
        _warmup_steps(context, warmup_epochs),
        lambda t: gamma ** sum(1 for b in boundaries if t >= b),
    )


def cosine_schedule(
    optimizer: Optimizer, context: ScheduleContext, *, warmup_epochs: float = 0.0, final_factor: float = 0.0
) -> LRScheduler:
    """Half-cosine from the rate to ``final_factor`` times it over the steps after warmup."""
    if not 0.0 <= final_factor <= 1.0:
        raise ValueError(f"final_factor: must be in [0, 1], got {final_factor!r}")
    warmup = _warmup_steps(context, warmup_epochs)
    span = context.total_steps - warmup

    def factor(t: int) -> float:
        # Clamped: a controller that shrinks the batch can run past the planned total.
        progress = min(1.0, (t - warmup) / span)
        return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return _with_warmup(optimizer, warmup, factor)


def poly_schedule(
    optimizer: Optimizer, context: ScheduleContext, *, power: float = 2.0, warmup_epochs: float = 0.0
) -> LRScheduler:
    """gamma_0 * (1 - t / T)^power after warmup: the policy of LARS (You et al. 2017, Algorithm 1)."""
    if not power > 0.0:
        raise ValueError(f"power: must be > 0, got {power!r}")
    warmup = _warmup_steps(context, warmup_epochs)
    span = context.total_steps - warmup
    return _with_warmup(optimizer, warmup, lambda t: (1.0 - min(1.0, (t - warmup) / span)) ** power)


def power_schedule(
    optimizer: Optimizer,
    context: ScheduleContext,
    *,
    a: float,
    b: float,
    warmup_epochs: float = 0.0,
    decay_epochs: float = 0.0,
    decay: str = "exponential",
    final_factor: float = 0.0,
    batch_factor: float = 1.0,
) -> PowerScheduler:
    """``PowerScheduler`` over samples seen; warmup and decay lengths given in epochs of data."""
    for name, value in (("warmup_epochs", warmup_epochs), ("decay_epochs", decay_epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name}: must be a non-negative number, got {value!r}")
    decay_samples = round(decay_epochs * context.train_samples)
    return PowerScheduler(
        optimizer,
        a=a,
        b=b,
        samples_per_step=context.batch_size,
        warmup_samples=round(warmup_epochs * context.train_samples),
        decay_samples=decay_samples,
        total_samples=context.total_samples if decay_samples else None,
        decay=decay,
        final_factor=final_factor,
        batch_factor=batch_factor,
    )


class PerStepLR(LRScheduler):
    """Every group's rate at step t is ``rates[t]``: the run file's ``train.lr_schedule``,
    which a proof stores as one integer rate per step."""

    def __init__(self, optimizer: Optimizer, rates: list[float]) -> None:
        self.rates = rates
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        rate = self.rates[min(self.last_epoch, len(self.rates) - 1)]
        return [rate for _ in self.optimizer.param_groups]


def per_step_schedule(optimizer: Optimizer, context: ScheduleContext, *, rates: list[float]) -> PerStepLR:
    """One rate per step (``train.lr_schedule``), at least as many as the run's steps."""
    if not isinstance(rates, list) or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and r >= 0 for r in rates):
        raise ValueError(f"rates: must be a list of non-negative numbers, got {rates!r}")
    if len(rates) < context.total_steps:
        raise ValueError(f"rates: needs at least one rate per step ({context.total_steps}), got {len(rates)}")
    return PerStepLR(optimizer, [float(r) for r in rates])


SCHEDULES: dict[str, Callable[..., LRScheduler | None]] = {
    "constant": constant_schedule,
    "multistep": multistep_schedule,
    "cosine": cosine_schedule,
    "poly": poly_schedule,
    "power": power_schedule,
    "per_step": per_step_schedule,
}


# ---------------------------------------------------------------------------- loop hooks


class BatchSizeController(Protocol):
    """Chooses the batch size of every step; the loop's hook for adaptive batch sizes.

    ``batch_size(step)`` is asked before step ``step`` (0-based) draws its batch; the batch may
    come out smaller at the end of an epoch. ``after_step(model, loss_fn, batch)`` is called
    after the optimizer step with the batch ``(x, y)`` just used, so a controller can run its
    statistical test (for instance on per-sample gradients) and grow the batch. ``loss_fn``
    maps ``(outputs, y)`` to the mean loss.
    """

    def batch_size(self, step: int) -> int: ...

    def after_step(self, model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], batch: tuple[Tensor, Tensor]) -> None: ...


class FixedBatchSize:
    """The default controller: the configured batch size at every step."""

    def __init__(self, batch_size: int) -> None:
        self._batch_size = batch_size

    def batch_size(self, step: int) -> int:
        return self._batch_size

    def after_step(self, model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], batch: tuple[Tensor, Tensor]) -> None:
        return None


BATCH_SIZE_CONTROLLERS: dict[str, Callable[..., BatchSizeController]] = {
    "fixed": FixedBatchSize,
    "adaptive": AdaptiveBatchSize,
}


class Objective(Protocol):
    """Computes the training losses of one batch; the loop's hook for modified objectives.

    ``objective(model, loss_fn, x, y)`` returns ``(losses, outputs)``: the per-sample losses
    to differentiate, shape ``(batch,)`` with entry i from sample i, and the clean outputs on
    ``x`` (for the reported accuracy). ``loss_fn`` maps ``(outputs, y)`` to per-sample losses.
    The loop owns the reduction: the batch mean, or two half-batch means for an optimizer with
    ``backward`` (:class:`HalfBatchBackward`), from one forward pass. An objective is called
    once per step, with gradients enabled and the model in training mode, before the optimizer
    step, so it may keep state across steps (e.g. the previous weights, for ConAdv).
    """

    def __call__(
        self, model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]: ...


class StandardObjective:
    """Empirical risk: the losses of the model's outputs on the batch."""

    def __call__(
        self, model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        outputs = model(x)
        return loss_fn(outputs, y), outputs


OBJECTIVES: dict[str, Callable[..., Objective]] = {"standard": StandardObjective, "conadv": ConAdv}


@runtime_checkable
class HalfBatchBackward(Protocol):
    """An optimizer that computes its gradients from two halves of the batch (AGVM).

    Where the optimizer has this method, the loop calls
    ``optimizer.backward(loss_first_half, loss_second_half)`` instead of ``loss.backward()``,
    the mean losses of the first ``batch // 2`` samples and of the rest, each weighted by
    ``2 * half_size / batch`` (exactly 1 for an even batch) so that their average is the
    batch's mean loss for an odd batch too. The method must leave in
    ``p.grad`` the gradient of that average (the full-batch mean gradient); in between it may
    use the two estimates, as AGVM (Xue et al. 2022) measures each module's gradient variance
    by their disagreement. A batch of one sample cannot be split and is a config error.
    """

    def backward(self, loss_first_half: Tensor, loss_second_half: Tensor) -> None: ...
