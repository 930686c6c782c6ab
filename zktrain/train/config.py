"""The YAML schema of a float training run, validated with errors that name the bad field.

A run file has the top-level keys ``name``, ``seed``, ``data``, ``model`` and ``train``; the
proving side adds ``quant`` and ``prove``, which are accepted and ignored here so that one file
drives both ``zktrain train`` and the proving commands. Any other key is an error.

    name: digits-lamb
    seed: 0
    data: {source: digits}                 # see zktrain.data
    model: {kind: mlp, widths: [64, 128, 128, 10], bias: true}
    train:
      batch_size: 1024
      epochs: 30                           # or steps: N (exactly one of the two)
      optimizer: {name: lamb, lr: 0.01, weight_decay: 0.01}
      schedule: {name: cosine, warmup_epochs: 2}            # optional (default: constant)
      scale_lr: {base_batch: 64, rule: sqrt, max_lr: 0.1}   # optional
      regime_adaptation: {base_batch: 64}                   # optional, needs epochs
      batch_size_controller: {name: fixed}                  # optional
      objective: {name: standard}                           # optional
      loss: cross_entropy                  # or mse (one-hot targets)
      dtype: float32                       # or float64
      drop_last: false

The ``name`` of an optimizer, schedule, controller or objective and the ``kind`` of a model
select an entry of the registries in ``zktrain.train.builders``; the remaining keys of the
mapping are that entry's options, checked against its signature when the run is built. This
module checks the structure and the plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zktrain.data import DataError, DataSource, parse_data_spec

__all__ = [
    "ConfigError",
    "Component",
    "ScaleLRSpec",
    "TrainSpec",
    "RunConfig",
    "load_run_config",
    "parse_run_config",
    "LOSSES",
    "DTYPES",
]

LOSSES = ("cross_entropy", "mse")
DTYPES = ("float32", "float64")
SCALE_RULES = ("linear", "sqrt")

_TOP_LEVEL = {"name", "seed", "data", "model", "train"}
#: Keys owned by the proving commands: accepted so one file drives both, ignored here.
_IGNORED_TOP_LEVEL = {"quant", "prove"}
_TRAIN_KEYS = {
    "batch_size",
    "epochs",
    "steps",
    "optimizer",
    "schedule",
    "scale_lr",
    "regime_adaptation",
    "batch_size_controller",
    "objective",
    "loss",
    "dtype",
    "drop_last",
}


class ConfigError(ValueError):
    """An invalid run configuration; the message starts with the dotted path of the bad field."""


@dataclass(frozen=True)
class Component:
    """A registry entry chosen by name, with the options passed to its builder."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScaleLRSpec:
    """``train.scale_lr``: the optimizer's ``lr`` was tuned at ``base_batch``."""

    base_batch: int
    rule: str
    max_lr: float | None = None


@dataclass(frozen=True)
class TrainSpec:
    batch_size: int
    epochs: int | None
    steps: int | None
    optimizer: Component
    schedule: Component
    scale_lr: ScaleLRSpec | None
    regime_base_batch: int | None
    batch_size_controller: Component
    objective: Component
    loss: str
    dtype: str
    drop_last: bool


@dataclass(frozen=True)
class RunConfig:
    name: str
    seed: int
    data: DataSource
    model: Component
    train: TrainSpec


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run file; relative data paths are relative to the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the run file ({err.strerror})") from err
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    return parse_run_config(document, base_dir=path.parent)


def parse_run_config(document: Any, base_dir: str | Path | None = None) -> RunConfig:
    """Validate a run configuration given as a mapping (the parsed YAML)."""
    _mapping("(top level)", document)
    _no_unknown_keys("", document, _TOP_LEVEL | _IGNORED_TOP_LEVEL)
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name: must be a non-empty string, got {name!r}")
    seed = _integer("seed", document.get("seed", 0), minimum=0)
    if "data" not in document:
        raise ConfigError("data: required")
    try:
        data = parse_data_spec(document["data"], base_dir)
    except DataError as err:
        raise ConfigError(str(err)) from err
    model = _component("model", document.get("model"), key="kind")
    train = _train(document.get("train"))
    return RunConfig(name=name, seed=seed, data=data, model=model, train=train)


def _train(section: Any) -> TrainSpec:
    _mapping("train", section)
    _no_unknown_keys("train.", section, _TRAIN_KEYS)
    batch_size = _integer("train.batch_size", section.get("batch_size"), minimum=1)
    has_epochs, has_steps = "epochs" in section, "steps" in section
    if has_epochs == has_steps:
        raise ConfigError("train: give exactly one of 'epochs' and 'steps'")
    epochs = _integer("train.epochs", section["epochs"], minimum=1) if has_epochs else None
    steps = _integer("train.steps", section["steps"], minimum=1) if has_steps else None
    optimizer = _component("train.optimizer", section.get("optimizer"))

    scale = None
    if section.get("scale_lr") is not None:
        raw = section["scale_lr"]
        _mapping("train.scale_lr", raw)
        _no_unknown_keys("train.scale_lr.", raw, {"base_batch", "rule", "max_lr"})
        rule = raw.get("rule", "linear")
        if rule not in SCALE_RULES:
            raise ConfigError(f"train.scale_lr.rule: must be one of {list(SCALE_RULES)}, got {rule!r}")
        max_lr = raw.get("max_lr")
        if max_lr is not None:
            max_lr = _number("train.scale_lr.max_lr", max_lr, positive=True)
        scale = ScaleLRSpec(_integer("train.scale_lr.base_batch", raw.get("base_batch"), minimum=1), rule, max_lr)
        if "lr" not in optimizer.options:
            raise ConfigError("train.optimizer.lr: required when train.scale_lr is set (it is the base rate)")

    regime_base_batch = None
    if section.get("regime_adaptation") is not None:
        raw = section["regime_adaptation"]
        _mapping("train.regime_adaptation", raw)
        _no_unknown_keys("train.regime_adaptation.", raw, {"base_batch"})
        regime_base_batch = _integer("train.regime_adaptation.base_batch", raw.get("base_batch"), minimum=1)
        if epochs is None:
            raise ConfigError("train.regime_adaptation: needs train.epochs (with steps, the update count is fixed)")
        if batch_size < regime_base_batch:
            raise ConfigError(
                f"train.regime_adaptation.base_batch: must be <= train.batch_size ({batch_size}), "
                f"got {regime_base_batch}"
            )

    loss = section.get("loss", "cross_entropy")
    if loss not in LOSSES:
        raise ConfigError(f"train.loss: must be one of {list(LOSSES)}, got {loss!r}")
    dtype = section.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ConfigError(f"train.dtype: must be one of {list(DTYPES)}, got {dtype!r}")
    drop_last = section.get("drop_last", False)
    if not isinstance(drop_last, bool):
        raise ConfigError(f"train.drop_last: must be true or false, got {drop_last!r}")
    return TrainSpec(
        batch_size=batch_size,
        epochs=epochs,
        steps=steps,
        optimizer=optimizer,
        schedule=_component("train.schedule", _or_default(section, "schedule", "constant")),
        scale_lr=scale,
        regime_base_batch=regime_base_batch,
        batch_size_controller=_component(
            "train.batch_size_controller", _or_default(section, "batch_size_controller", "fixed")
        ),
        objective=_component("train.objective", _or_default(section, "objective", "standard")),
        loss=loss,
        dtype=dtype,
        drop_last=drop_last,
    )


def _or_default(section: Mapping[str, Any], key: str, default: str) -> Any:
    """The value of an optional component; absent or null selects ``default``."""
    value = section.get(key)
    return default if value is None else value


def _mapping(path: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be a mapping, got {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{path}: keys must be strings, got {key!r}")


def _no_unknown_keys(prefix: str, section: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")


def _integer(path: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{path}: must be {kind}, got {value!r}")
    return value


def _number(path: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and not value > 0):
        raise ConfigError(f"{path}: must be a {'positive ' if positive else ''}number, got {value!r}")
    return float(value)


def _component(path: str, value: Any, key: str = "name") -> Component:
    """``{<key>: str, **options}`` -> Component; a bare string is a component without options."""
    if isinstance(value, str):
        value = {key: value}
    if value is None:
        raise ConfigError(f"{path}: required")
    _mapping(path, value)
    name = value.get(key)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}.{key}: must be a non-empty string, got {name!r}")
    return Component(name=name, options={k: v for k, v in value.items() if k != key})
