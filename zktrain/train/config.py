"""The YAML schema of a float training run, validated with errors that name the bad field.

A run file has the top-level keys ``name``, ``seed``, ``data``, ``model`` and ``train``; the
proving side adds ``quant`` and ``prove``, which are read but not used here. The keys are those
of the one run-file schema that ``zktrain prove`` reads too (``zktrain.schema``, which says what
each command does with each key), so one file drives both; any other key is an error.

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

Keys shared with proof runs: ``train.lr`` is the optimizer's ``lr`` (``optimizer: sgd`` with
``lr: 0.5``), ``train.momentum`` and ``train.weight_decay`` its ``momentum`` and
``weight_decay`` (used as given here; a proof run quantizes them, docs/momentum.md); ``train.lr_schedule`` lists one rate per step (the ``per_step`` schedule, in
place of ``schedule``); ``model: {torch: FILE.py:FUNCTION}`` builds the model by calling that
function instead of the ``kind`` registry; ``model.init: committed`` with ``init_path`` starts
from the weights of that .npz (``W1..``, ``b1..`` of the Linear layers in order; integer arrays
are master values at 2^(2R+k), R and k from ``quant``), so that ``train`` and ``prove`` of one
file start alike. ``init: seeded`` (the default) is torch's initialisation under ``seed`` here
and the recipe's own derivation in a proof: the same distribution, not the same draws.

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

from circuits.recipe import QuantSpec
from zktrain import schema
from zktrain.data import DataError, DataSource, parse_data_spec
from zktrain.schema import ModelFactory

__all__ = [
    "ConfigError",
    "Component",
    "ScaleLRSpec",
    "TrainSpec",
    "RunConfig",
    "InitialWeights",
    "load_run_config",
    "parse_run_config",
    "parse_train",
    "LOSSES",
    "DTYPES",
]

LOSSES = ("cross_entropy", "mse")
DTYPES = ("float32", "float64")
SCALE_RULES = ("linear", "sqrt")

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
class InitialWeights:
    """``model.init: committed``: the .npz of W_0 and its integer arrays' scale 2^(2R+k)."""

    path: Path
    scale_bits: int


@dataclass(frozen=True)
class RunConfig:
    name: str
    seed: int
    data: DataSource
    model: Component
    train: TrainSpec
    #: ``model.torch``: the factory that builds the model instead of ``model.kind``
    model_factory: ModelFactory | None = None
    #: ``model.init: committed``: where W_0 comes from; None for torch's seeded initialisation
    initial: InitialWeights | None = None


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
    _no_unknown_keys("", document, schema.TOP)
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
    model, factory, initial = _model(document.get("model"), document.get("quant"), base_dir)
    train = parse_train(document.get("train"))
    return RunConfig(name=name, seed=seed, data=data, model=model, train=train, model_factory=factory, initial=initial)


def _model(section: Any, quant: Any, base_dir: str | Path | None) -> tuple[Component, ModelFactory | None, InitialWeights | None]:
    """``model``: the registry component (``kind`` defaults to mlp) with the builder's options,
    or a ``torch`` factory; and the committed initial weights, if any."""
    if isinstance(section, Mapping) and "torch" in section:
        extra = sorted(set(section) - {"torch", "init"})
        if extra:
            raise ConfigError(f"model.{extra[0]}: the model.torch factory defines the model; give model.torch alone")
        try:
            factory = ModelFactory.parse(section["torch"], base_dir)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        return Component("torch", {"factory": str(factory)}), factory, None
    if isinstance(section, Mapping) and "kind" not in section:
        section = {"kind": "mlp", **section}
    model = _component("model", section, key="kind")
    options = dict(model.options)
    init, path = options.pop("init", "seeded"), options.pop("init_path", None)
    if init not in schema.INITS:
        raise ConfigError(f"model.init: must be one of {list(schema.INITS)}, got {init!r}")
    if (init == "committed") != (path is not None):
        raise ConfigError("model.init_path: init: committed needs it, and only init: committed takes it")
    initial = None
    if path is not None:
        if not isinstance(path, str) or not path:
            raise ConfigError(f"model.init_path: must be a file path, got {path!r}")
        full = Path(path) if base_dir is None or Path(path).is_absolute() else Path(base_dir) / path
        initial = InitialWeights(full, _master_scale(quant))
    return Component(model.name, options), None, initial


def _master_scale(quant: Any) -> int:
    """2R + k of the run's ``quant`` section (``circuits.recipe.QuantSpec``, defaults 16, 16)."""
    quant = quant or {}
    _mapping("quant", quant)
    try:
        spec = QuantSpec(**{k: quant[k] for k in ("frac_bits", "lr_shift", "value_bits", "weight_bits") if k in quant})
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return spec.rescale_bits


def parse_train(section: Any) -> TrainSpec:
    """The ``train`` section (``zktrain prove`` plans a scheduled run with it too)."""
    _mapping("train", section)
    _no_unknown_keys("train.", section, schema.TRAIN)
    batch_size = _integer("train.batch_size", section.get("batch_size"), minimum=1)
    has_epochs, has_steps = "epochs" in section, "steps" in section
    if has_epochs == has_steps:
        raise ConfigError("train: give exactly one of 'epochs' and 'steps'")
    epochs = _integer("train.epochs", section["epochs"], minimum=1) if has_epochs else None
    steps = _integer("train.steps", section["steps"], minimum=1) if has_steps else None
    optimizer = _component("train.optimizer", section.get("optimizer"))
    optimizer, schedule = _rates(section, optimizer)
    for key in ("momentum", "weight_decay"):  # shorthand for the optimizer's own options
        if key in section:
            if key in optimizer.options:
                raise ConfigError(f"train.{key}: given twice (train.{key} and train.optimizer.{key}); give one")
            value = _number(f"train.{key}", section[key])
            if value < 0:
                raise ConfigError(f"train.{key}: must be a non-negative number, got {section[key]!r}")
            optimizer = Component(optimizer.name, {**optimizer.options, key: value})

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
        schedule=schedule,
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


def _rates(section: Mapping[str, Any], optimizer: Component) -> tuple[Component, Component]:
    """The optimizer with ``train.lr`` as its ``lr``, and the schedule: ``train.schedule``, or
    ``per_step`` over ``train.lr_schedule`` (whose first rate is then the optimizer's ``lr``)."""
    rates = section.get("lr_schedule")
    if "lr" in section and rates is not None:
        raise ConfigError("train: give exactly one of 'lr' and 'lr_schedule'")
    if rates is not None:
        for key in ("schedule", "scale_lr", "regime_adaptation"):
            if section.get(key) is not None:
                raise ConfigError(f"train.lr_schedule: one rate per step replaces train.{key}; give one of them")
        if not isinstance(rates, list) or not rates:
            raise ConfigError(f"train.lr_schedule: must be a list of rates, one per step, got {rates!r}")
        rates = [_number(f"train.lr_schedule[{i}]", r) for i, r in enumerate(rates)]
    lr = rates[0] if rates is not None else section.get("lr")
    if lr is not None:
        if "lr" in optimizer.options:
            given = "train.lr_schedule" if rates is not None else "train.lr"
            raise ConfigError(f"train.optimizer.lr: the rate is given twice ({given} and train.optimizer.lr)")
        optimizer = Component(optimizer.name, {**optimizer.options, "lr": _number("train.lr", lr)})
    if rates is not None:
        return optimizer, Component("per_step", {"rates": rates})
    return optimizer, _component("train.schedule", _or_default(section, "schedule", "constant"))


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
