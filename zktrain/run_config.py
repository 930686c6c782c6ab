"""Run files for proofs of training (``zktrain prove --run CONFIG``): schema and recipe.

A run file states the recipe in human units (a float learning rate, a data source) and the
proving options; :func:`load_run` validates it, with errors that name the bad field, and
turns it into the canonical integer-only :class:`~circuits.recipe.Recipe` the proof binds.

    name: digits-mlp
    seed: 0
    data: {source: digits}                 # or {source: npz, path: ...} / {source: synthetic, ...}
    model: {kind: mlp, widths: [64, 128, 128, 10], bias: true, init: seeded}
                                           # or init: committed, init_path: w0.npz (W1.., b1..)
    train: {batch_size: 64, steps: 16, optimizer: sgd, loss: mse, lr: 0.5}
                                           # or lr_schedule: [0.5, 0.5, 0.25, ...] (one per step)
    quant: {frac_bits: 16, lr_shift: 16, value_bits: 32, weight_bits: 56}
    prove: {zk: true, backend: auto, range_check: limbs, segment_steps: 8, out: digits-mlp.zkp}

``prove.range_check`` picks the range gadget: ``limbs`` (16-bit limbs checked by logUp-GKR,
the default) or ``bits`` (zkDL's bit decomposition); the bundle records which.
``prove.segment_steps`` splits the proof into segments of that many steps, chained by
committed checkpoints of the weights (default: the whole run in one segment); the prover
holds one segment's witness at a time.

``lr`` is the float SGD learning rate on the mean MSE loss; the recipe stores
lr_num = round(lr 2 / (B n_out) 2^k) per step (``circuits.semantics.mse_lr_num``), and the
float reference trains with exactly lr_num / 2^k B n_out / 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from circuits.mlp import RANGE_CHECKS
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from circuits.semantics import mse_lr_num

from .data import Dataset, parse_data_spec


class RunConfigError(ValueError):
    """A run file that cannot be proven as written; the message names the field."""


@dataclass(frozen=True)
class ProveOptions:
    zk: bool = False
    backend: str = "auto"
    range_check: str = "limbs"
    segment_steps: int | None = None
    out: str | None = None


@dataclass(frozen=True)
class ProveRun:
    recipe: Recipe
    dataset: Dataset
    options: ProveOptions
    source: Path | None = None
    #: ``init: committed``: W_0, b_0 per layer (int64 at 2^(2R+k)); None for seeded weights
    initial: tuple[list[np.ndarray], list[np.ndarray | None]] | None = None


_TOP = {"name", "seed", "data", "model", "train", "quant", "prove"}
_MODEL = {"kind", "widths", "bias", "init", "init_path", "activation"}
_TRAIN = {"batch_size", "steps", "optimizer", "loss", "lr", "lr_schedule"}
_QUANT = {"frac_bits", "lr_shift", "value_bits", "weight_bits", "input_bits", "input_signed", "label_bits"}
_PROVE = {"zk", "backend", "range_check", "segment_steps", "out"}


def _section(cfg: dict, key: str, allowed: set[str], required: bool = True) -> dict:
    body = cfg.get(key)
    if body is None:
        if required:
            raise RunConfigError(f"{key}: missing section")
        return {}
    if not isinstance(body, dict):
        raise RunConfigError(f"{key}: must be a mapping, got {body!r}")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RunConfigError(f"{key}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")
    return body


def _pos_int(path: str, value: Any) -> int:
    if type(value) is not int or value <= 0:
        raise RunConfigError(f"{path}: must be a positive integer, got {value!r}")
    return value


def _lr(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RunConfigError(f"{path}: must be a non-negative number, got {value!r}")
    return value


def _input_encoding(dataset: Dataset, quant: QuantSpec, quant_cfg: dict) -> dict:
    """Input and label widths: as given in quant, else the narrowest that hold this data.

    The widths are public (they are range-checked); digits in [0, 1] at 2^16 need 17
    unsigned bits. Data with negative values is encoded signed.
    """
    out = {k: quant_cfg[k] for k in ("input_bits", "input_signed", "label_bits") if k in quant_cfg}
    x = dataset.x_train
    top = int(np.ceil(float(np.abs(x).max()) * (1 << quant.frac_bits))) if x.size else 0
    signed = out.setdefault("input_signed", bool(x.size and x.min() < 0))
    out.setdefault("input_bits", max(top.bit_length() + int(signed), quant.frac_bits + 1))
    return out


def load_run(path: str | Path, steps: int | None = None) -> ProveRun:
    """Read and validate a run file; ``steps`` overrides train.steps (e.g. for a quick run)."""
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RunConfigError(f"run file not found: {path}") from None
    except yaml.YAMLError as err:
        raise RunConfigError(f"{path}: not valid YAML ({err})") from None
    return parse_run(cfg, base_dir=path.parent, steps=steps, source=path)


def parse_run(cfg: Any, base_dir: Path | None = None, steps: int | None = None, source: Path | None = None) -> ProveRun:
    if not isinstance(cfg, dict):
        raise RunConfigError("run file: the top level must be a mapping")
    unknown = sorted(set(cfg) - _TOP)
    if unknown:
        raise RunConfigError(f"{unknown[0]}: unknown key (allowed: {', '.join(sorted(_TOP))})")
    name, seed = cfg.get("name"), cfg.get("seed", 0)
    if not isinstance(name, str) or not name:
        raise RunConfigError(f"name: must be a non-empty string, got {name!r}")
    if type(seed) is not int or seed < 0:
        raise RunConfigError(f"seed: must be a non-negative integer, got {seed!r}")

    model = _section(cfg, "model", _MODEL)
    train = _section(cfg, "train", _TRAIN)
    quant_cfg = _section(cfg, "quant", _QUANT, required=False)
    prove = _section(cfg, "prove", _PROVE, required=False)
    try:
        data_source = parse_data_spec(cfg.get("data"), base_dir)
        dataset = data_source.load()
    except ValueError as err:
        raise RunConfigError(str(err)) from None

    widths = model.get("widths")
    if not isinstance(widths, list) or len(widths) < 2:
        raise RunConfigError(f"model.widths: must be a list of at least two widths, got {widths!r}")
    for i, w in enumerate(widths):
        _pos_int(f"model.widths[{i}]", w)
    if widths[0] != dataset.num_features:
        raise RunConfigError(f"model.widths[0]: must equal the data's {dataset.num_features} features, got {widths[0]}")
    if widths[-1] != dataset.num_classes:
        raise RunConfigError(f"model.widths[-1]: must equal the data's {dataset.num_classes} classes, got {widths[-1]}")

    batch = _pos_int("train.batch_size", train.get("batch_size"))
    n_steps = _pos_int("train.steps" if steps is None else "--steps", train.get("steps") if steps is None else steps)
    for key, allowed in (("optimizer", ("sgd",)), ("loss", ("mse",))):
        if train.get(key, allowed[0]) not in allowed:
            raise RunConfigError(f"train.{key}: only {allowed[0]!r} is provable so far, got {train[key]!r}")
    if ("lr" in train) == ("lr_schedule" in train):
        raise RunConfigError("train: give exactly one of 'lr' and 'lr_schedule'")
    if "lr" in train:
        rates = [_lr("train.lr", train["lr"])] * n_steps
    else:
        schedule = train["lr_schedule"]
        if not isinstance(schedule, list) or len(schedule) < n_steps:
            raise RunConfigError(f"train.lr_schedule: needs at least one rate per step ({n_steps})")
        rates = [_lr(f"train.lr_schedule[{i}]", v) for i, v in enumerate(schedule[:n_steps])]

    try:
        quant = QuantSpec(**{k: v for k, v in quant_cfg.items() if k in {"frac_bits", "lr_shift", "value_bits", "weight_bits"}})
        data_spec = DataSpec(
            source=data_source.source,
            features=dataset.num_features,
            classes=dataset.num_classes,
            **_input_encoding(dataset, quant, quant_cfg),
        )
        lr_num = tuple(mse_lr_num(r, batch, widths[-1], quant.lr_shift) for r in rates)
        recipe = Recipe(
            name=name,
            seed=seed,
            data=data_spec,
            model=ModelSpec(
                widths=tuple(widths),
                bias=model.get("bias", True),
                kind=model.get("kind", "mlp"),
                activation=model.get("activation", "relu"),
                init=model.get("init", "seeded"),
            ),
            train=TrainSpec(batch_size=batch, steps=n_steps, lr_num=lr_num),
            quant=quant,
        )
    except (RecipeError, TypeError, ValueError) as err:
        raise RunConfigError(str(err)) from None

    initial = None
    if recipe.model.init == "committed":
        initial = _load_initial(model.get("init_path"), base_dir, recipe)
    elif "init_path" in model:
        raise RunConfigError("model.init_path: only with init: committed (seeded weights come from the seed)")

    options = ProveOptions(
        zk=prove.get("zk", False),
        backend=prove.get("backend", "auto"),
        range_check=prove.get("range_check", "limbs"),
        segment_steps=prove.get("segment_steps"),
        out=prove.get("out"),
    )
    if not isinstance(options.zk, bool):
        raise RunConfigError(f"prove.zk: must be true or false, got {options.zk!r}")
    if options.backend not in ("cpu", "cuda", "auto"):
        raise RunConfigError(f"prove.backend: must be one of cpu, cuda, auto, got {options.backend!r}")
    if options.range_check not in RANGE_CHECKS:
        choices = ", ".join(RANGE_CHECKS)
        raise RunConfigError(f"prove.range_check: must be one of {choices}, got {options.range_check!r}")
    if options.segment_steps is not None:
        _pos_int("prove.segment_steps", options.segment_steps)
    return ProveRun(recipe, dataset, options, source, initial)


def _load_initial(path: Any, base_dir: Path | None, recipe: Recipe) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """W_0, b_0 of ``init: committed`` from an .npz holding W1..WL ([d_l, d_{l-1}], PyTorch's
    Linear.weight layout) and b1..bL: integer arrays are taken as master values at 2^(2R+k),
    float arrays are rounded to them (round half to even). Widths are checked against
    quant.weight_bits by the engine, naming the tensor."""
    if not isinstance(path, str) or not path:
        raise RunConfigError("model.init_path: init: committed needs the path of an .npz with W1.., b1..")
    full = Path(path) if base_dir is None or Path(path).is_absolute() else base_dir / path
    try:
        with np.load(full, allow_pickle=False) as arrays:
            stored = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError) as err:
        raise RunConfigError(f"model.init_path: cannot read {full}: {err}") from None
    scale = 1 << (2 * recipe.quant.frac_bits + recipe.quant.lr_shift)
    widths, bias = recipe.model.widths, recipe.model.bias

    def master(key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key not in stored:
            raise RunConfigError(f"model.init_path: {full} has no array {key!r}")
        a = stored[key]
        if a.shape != shape:
            raise RunConfigError(f"model.init_path: {key} has shape {a.shape}, expected {shape}")
        if a.dtype.kind in "iu":
            return a.astype(np.int64)
        if a.dtype.kind != "f" or not np.isfinite(a).all():
            raise RunConfigError(f"model.init_path: {key} must hold finite numbers, got {a.dtype}")
        scaled = np.rint(a.astype(np.float64) * scale)
        if np.abs(scaled).max(initial=0) >= 2.0**62:
            raise RunConfigError(f"model.init_path: {key} does not fit int64 at scale 2^{scale.bit_length() - 1}")
        return scaled.astype(np.int64)

    layers = range(1, len(widths))
    weights = [master(f"W{l}", (widths[l], widths[l - 1])) for l in layers]
    biases = [master(f"b{l}", (widths[l],)) if bias else None for l in layers]
    from zktrain.fixedpoint.engine import FixedPointMLP  # the engine checks every width

    try:
        FixedPointMLP(recipe, weights, biases)
    except ValueError as err:
        raise RunConfigError(f"model.init_path: {err}") from None
    return weights, biases
