"""Run files for proofs of training (``zktrain prove --run CONFIG``): schema and recipe.

A run file states the recipe in human units (a float learning rate, a data source) and the
proving options; :func:`load_run` validates it, with errors that name the bad field, and
turns it into the canonical integer-only :class:`~circuits.recipe.Recipe` the proof binds.

    name: digits-mlp
    seed: 0
    data: {source: digits}                 # or {source: npz, path: ...} / {source: synthetic, ...}
                                           # binding: private (default) | public | committed,
                                           # committed with commitment: FILE, opening: FILE
    model: {kind: mlp, widths: [64, 128, 128, 10], bias: true, init: seeded}
                                           # or init: committed, init_path: w0.npz (W1.., b1..)
                                           # norm: {name: ghost_batchnorm, virtual_batch_size: 32}
                                           # or torch: build.py:model (an nn.Module factory)
    train: {batch_size: 64, steps: 16, optimizer: sgd, loss: mse, lr: 0.5}
                                           # or epochs: N (rows // batch_size steps each)
                                           # or lr_schedule: [0.5, 0.5, 0.25, ...] (one per step)
                                           # or schedule: {name: cosine, ...} (the float stack's)
    quant: {frac_bits: 16, lr_shift: 16, value_bits: 32, weight_bits: 56}
    prove: {zk: true, backend: auto, range_check: limbs, segment_steps: 8, out: digits-mlp.zkp}

``prove.range_check`` picks the range gadget: ``limbs`` (16-bit limbs checked by logUp-GKR,
the default) or ``bits`` (zkDL's bit decomposition); the bundle records which.
``prove.segment_steps`` splits the proof into segments of that many steps, chained by
committed checkpoints of the weights (default: the whole run in one segment); the prover
holds one segment's witness at a time.

``data.binding`` says what binds the data (issue 13, ``verifier.data``): ``private``, the
prover's own commitment; ``public``, a data set the verifier is given (the recipe carries the
digest of its encoded training rows; ``zktrain export-data`` writes it); ``committed``, a data
owner's commitment made once with ``zktrain commit-data`` (the recipe carries its digest and
takes its encoding: input and label widths, R, the range gadget).

``lr`` (or ``optimizer: {name: sgd, lr: ...}``) is the float SGD learning rate on the mean MSE
loss; the recipe stores lr_num = round(lr 2 / (B n_out) 2^k) per step
(``circuits.semantics.mse_lr_num``), and the float reference trains with exactly
lr_num / 2^k B n_out / 2. With ``schedule``, ``scale_lr`` or ``regime_adaptation`` the rate of
each step is the one ``zktrain train`` would use: the float stack's scheduler is stepped on
SGD exactly as its training loop steps it, and each step's rate read from it (torch is loaded
only then).

The keys are those of the one run-file schema (``zktrain.schema``) that ``zktrain train`` reads
too: an option of the float stack that the proof does not cover yet (a LayerNorm,
``drop_last: false``) is refused by name as not provable yet. ``model.norm:
{name: ghost_batchnorm, virtual_batch_size: V, momentum: M, eps: E}`` (or ``batchnorm``, one
ghost batch of the whole batch) is the recipe's ``model.norm: ghost_bn`` (docs/ghost_bn.md),
momentum and eps quantized (``circuits.ghost_bn.recipe_hyperparameters``), with plain SGD. ``model: {torch: FILE.py:FUNCTION}`` builds the model by calling that
function (torch seeded by the run's seed); it must be provable (``zktrain.provable``), and its
own weights are the run's committed W_0, as for ``zktrain.Recorder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from circuits.data import dataset_digest, encode_inputs, encode_labels
from circuits.mlp import RANGE_CHECKS
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from circuits.semantics import lr_num_for

from verifier.data import DatasetCommitment
from verifier.errors import VerifyError

from . import schema
from .data import Dataset, parse_data_spec
from .data_commitment import DatasetOpening
from .schema import NEUTRAL_SGD, PROVABLE_SGD, RECORDED_SGD, ModelFactory, provable_sgd


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
    #: ``data.binding: committed``: the data owner's commitment and its opening
    data_commitment: DatasetCommitment | None = None
    data_opening: DatasetOpening | None = None


def _section(cfg: dict, key: str, allowed: frozenset[str], required: bool = True) -> dict:
    body = cfg.get(key)
    if body is None:
        if required:
            raise RunConfigError(f"{key}: missing section")
        return {}
    if not isinstance(body, dict):
        raise RunConfigError(f"{key}: must be a mapping, got {body!r}")
    unknown = schema.unknown_key(body, allowed)
    if unknown is not None:
        raise RunConfigError(f"{key}.{unknown}: unknown key (allowed: {', '.join(sorted(allowed))})")
    return body


def _pos_int(path: str, value: Any) -> int:
    if type(value) is not int or value <= 0:
        raise RunConfigError(f"{path}: must be a positive integer, got {value!r}")
    return value


def _lr(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RunConfigError(f"{path}: must be a non-negative number, got {value!r}")
    return value


def input_encoding(dataset: Dataset, quant: QuantSpec, quant_cfg: dict) -> dict:
    """Input and label widths: as given in quant, else the narrowest that hold this data
    (labels: R + 1 bits, for the one-hot 2^R).

    The widths are public (they are range-checked); digits in [0, 1] at 2^16 need 17
    unsigned bits. Data with negative values is encoded signed.
    """
    out = {k: quant_cfg[k] for k in ("input_bits", "input_signed", "label_bits") if k in quant_cfg}
    x = dataset.x_train
    top = int(np.ceil(float(np.abs(x).max()) * (1 << quant.frac_bits))) if x.size else 0
    signed = out.setdefault("input_signed", bool(x.size and x.min() < 0))
    out.setdefault("input_bits", max(top.bit_length() + int(signed), quant.frac_bits + 1))
    out.setdefault("label_bits", quant.frac_bits + 1)
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
    """Validate a parsed run file (relative paths are relative to ``base_dir``) into the recipe,
    data set, proving options and committed weights of the proof."""
    if not isinstance(cfg, dict):
        raise RunConfigError("run file: the top level must be a mapping")
    unknown = schema.unknown_key(cfg, schema.TOP)
    if unknown is not None:
        raise RunConfigError(f"{unknown}: unknown key (allowed: {', '.join(sorted(schema.TOP))})")
    name, seed = cfg.get("name"), cfg.get("seed", 0)
    if not isinstance(name, str) or not name:
        raise RunConfigError(f"name: must be a non-empty string, got {name!r}")
    if type(seed) is not int or seed < 0:
        raise RunConfigError(f"seed: must be a non-negative integer, got {seed!r}")

    model = _section(cfg, "model", schema.MODEL)
    train = _section(cfg, "train", schema.TRAIN)
    quant_cfg = _section(cfg, "quant", schema.QUANT, required=False)
    prove = _section(cfg, "prove", schema.PROVE, required=False)
    try:
        data_source = parse_data_spec(cfg.get("data"), base_dir)
        dataset = data_source.load()
    except ValueError as err:
        raise RunConfigError(str(err)) from None

    factory_mlp = _factory_model(model, base_dir, seed) if "torch" in model else None
    if factory_mlp is not None:
        widths, bias = list(factory_mlp.widths), factory_mlp.bias
        if (widths[0], widths[-1]) != (dataset.num_features, dataset.num_classes):
            raise RunConfigError(f"model.torch: the model maps {widths[0]} inputs to {widths[-1]} outputs, the data "
                                 f"has {dataset.num_features} features and {dataset.num_classes} classes")
    else:
        widths, bias = _model_widths(model)
        if widths[0] != dataset.num_features:
            raise RunConfigError(f"model.widths[0]: must equal the data's {dataset.num_features} features, got {widths[0]}")
        if widths[-1] != dataset.num_classes:
            raise RunConfigError(f"model.widths[-1]: must equal the data's {dataset.num_classes} classes, got {widths[-1]}")

    batch = _pos_int("train.batch_size", train.get("batch_size"))
    _check_provable_train(train)
    sgd_state = {"lars": _lars_state, "lamb": _lamb_state}.get(_name_of(train.get("optimizer")), _sgd_state)(train)
    n_steps, rates = _step_rates(train, batch, len(dataset.y_train), steps, name, seed, data_source)

    options = parse_prove_options(prove)
    try:
        quant = QuantSpec(**{k: v for k, v in quant_cfg.items() if k in {"frac_bits", "lr_shift", "value_bits", "weight_bits"}})
        encoding = input_encoding(dataset, quant, quant_cfg)
        commitment, opening = None, None
        if data_source.options["binding"] == "committed":
            commitment, opening = _load_data_commitment(data_source.options, dataset, quant, quant_cfg, options.range_check)
            encoding = {k: getattr(commitment.encoding, k) for k in ("input_bits", "input_signed", "label_bits")}
        data_spec = DataSpec(
            source=data_source.source,
            features=dataset.num_features,
            classes=dataset.num_classes,
            **encoding,
            **_binding(data_source.options["binding"], dataset, quant.frac_bits, commitment),
        )
        if factory_mlp is not None:
            from .provable import norm_fields

            norm = norm_fields(factory_mlp, batch, quant.frac_bits)
        else:
            norm = _norm_fields(model.get("norm"), batch, quant.frac_bits)
        loss = train.get("loss", "mse")  # lr_num folds the loss's mean (mse_lr_num, ce_lr_num)
        lr_num = tuple(lr_num_for(loss, r, batch, widths[-1], quant.lr_shift) for r in rates)
        recipe = Recipe(
            name=name,
            seed=seed,
            data=data_spec,
            model=ModelSpec(
                widths=tuple(widths),
                bias=bias,
                kind=model.get("kind", "mlp"),
                activation=model.get("activation", "relu"),
                init="committed" if factory_mlp is not None else model.get("init", "seeded"),
                **norm,
            ),
            train=TrainSpec(batch_size=batch, steps=n_steps, lr_num=lr_num, loss=loss),
            quant=quant,
        )
        if sgd_state:  # optimizer sgd_momentum (_sgd_state), lars (_lars_state) or lamb (_lamb_state)
            from dataclasses import replace

            recipe = replace(recipe, train=replace(recipe.train, **sgd_state))
    except (RecipeError, TypeError, ValueError) as err:
        raise RunConfigError(str(err)) from None

    initial = None
    if factory_mlp is not None:
        from .provable import master_parameters

        initial = _checked_initial("model.torch", recipe, *master_parameters(factory_mlp, recipe.scales.weight))
    elif recipe.model.init == "committed":
        initial = _load_initial(model.get("init_path"), base_dir, recipe)
    elif "init_path" in model:
        raise RunConfigError("model.init_path: only with init: committed (seeded weights come from the seed)")
    return ProveRun(recipe, dataset, options, source, initial, commitment, opening)


def parse_prove_options(prove: dict) -> ProveOptions:
    """The ``prove`` section (also ``zktrain.Recorder.prove``'s arguments), validated."""
    options = ProveOptions(
        zk=prove.get("zk", False),
        backend=prove.get("backend", "auto"),
        range_check=prove.get("range_check", "limbs"),
        segment_steps=prove.get("segment_steps"),
        out=prove.get("out"),
    )
    if options.range_check not in RANGE_CHECKS:
        choices = ", ".join(RANGE_CHECKS)
        raise RunConfigError(f"prove.range_check: must be one of {choices}, got {options.range_check!r}")
    if not isinstance(options.zk, bool):
        raise RunConfigError(f"prove.zk: must be true or false, got {options.zk!r}")
    if options.backend not in ("cpu", "cuda", "auto"):
        raise RunConfigError(f"prove.backend: must be one of cpu, cuda, auto, got {options.backend!r}")
    if options.segment_steps is not None:
        _pos_int("prove.segment_steps", options.segment_steps)
    return options


def _not_provable(path: str, value: Any, provable: str) -> RunConfigError:
    return RunConfigError(f"{path}: {value!r} is not provable yet (provable: {provable})")


def _name_of(value: Any) -> Any:
    """A component's name: the string itself or a mapping's ``name``."""
    return value.get("name") if isinstance(value, dict) else value


def _model_widths(model: dict) -> tuple[list[int], bool]:
    """The widths and bias flag of a model given by keys, after refusing by name the float
    stack's layers that are not provable yet."""
    kind = model.get("kind", "mlp")
    if kind != "mlp":
        raise _not_provable("model.kind", kind, "mlp, or a model.torch factory")
    for key, provable in (("activation", "relu"), ("linear", "linear")):
        if _name_of(model.get(key, provable)) != provable:
            raise _not_provable(f"model.{key}", model[key], provable)
    widths = model.get("widths")
    if not isinstance(widths, list) or len(widths) < 2:
        raise RunConfigError(f"model.widths: must be a list of at least two widths, got {widths!r}")
    for i, w in enumerate(widths):
        _pos_int(f"model.widths[{i}]", w)
    return widths, model.get("bias", True)


#: The float stack's ``model.norm`` layers (``zktrain.train.builders.NORM_LAYERS``) the fixed-point
#: semantics trains, as the recipe's ``model.norm: ghost_bn`` (docs/ghost_bn.md), with the options
#: each may state: Ghost BN, and BatchNorm as one ghost batch of the whole batch.
PROVABLE_NORMS = {"ghost_batchnorm": ("virtual_batch_size", "momentum", "eps", "affine"),
                  "batchnorm": ("momentum", "eps", "affine", "track_running_stats")}


def _norm_fields(norm: Any, batch: int, frac_bits: int) -> dict:
    """``model.norm`` (a layer name or ``{name: ..., **options}``, as ``zktrain train`` reads it)
    as the recipe's ``ghost_bn`` fields: the ghost batch (``batchnorm``: the whole batch), and
    the module's momentum (default 0.1) and eps (default 1e-5) quantized
    (``circuits.ghost_bn.recipe_hyperparameters``); {} without a norm layer."""
    if norm is None:
        return {}
    if isinstance(norm, str):
        name, options = norm, {}
    elif isinstance(norm, dict):
        name, options = norm.get("name"), {k: v for k, v in norm.items() if k != "name"}
    else:
        raise RunConfigError(f"model.norm: must be a norm layer name or a mapping with a 'name', got {norm!r}")
    if name not in PROVABLE_NORMS:
        raise _not_provable("model.norm", name, " or ".join(PROVABLE_NORMS))
    unknown = sorted(set(options) - set(PROVABLE_NORMS[name]))
    if unknown:
        raise RunConfigError(f"model.norm.{unknown[0]}: not an option of {name} (options: "
                             f"{', '.join(PROVABLE_NORMS[name])})")
    for flag in ("affine", "track_running_stats"):
        if options.get(flag, True) is not True:
            raise _not_provable(f"model.norm.{flag}", options[flag], "true")
    virtual = batch
    if name == "ghost_batchnorm":
        virtual = _pos_int("model.norm.virtual_batch_size", options.get("virtual_batch_size"))
    values = {"momentum": options.get("momentum", 0.1), "eps": options.get("eps", 1e-5)}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RunConfigError(f"model.norm.{key}: must be a number, got {value!r}")
    from circuits.ghost_bn import recipe_hyperparameters

    try:
        momentum, eps = recipe_hyperparameters(values["momentum"], values["eps"], frac_bits)
    except ValueError as err:
        raise RunConfigError(f"model.norm: {err}") from None
    return {"norm": "ghost_bn", "virtual_batch_size": virtual, "bn_momentum": momentum, "bn_eps": eps}


def _factory_model(model: dict, base_dir: Path | None, seed: int):
    """``model.torch``: the factory's module, checked provable (``zktrain.provable``)."""
    extra = sorted(set(model) - {"torch", "init"})
    if extra:
        raise RunConfigError(f"model.{extra[0]}: the model.torch factory defines the model; give model.torch alone")
    if model.get("init", "committed") != "committed":
        raise RunConfigError("model.init: a model.torch factory's model starts from its own weights (init: committed)")
    from .provable import NotProvableError, check_model, factory_model

    try:
        factory = ModelFactory.parse(model["torch"], base_dir)
        return check_model(factory_model(factory, seed))
    except NotProvableError as err:
        raise RunConfigError(f"model.torch: {factory} builds a model that is not provable: {err}") from None
    except ValueError as err:
        raise RunConfigError(str(err)) from None


def _check_provable_train(train: dict) -> None:
    """Refuse by name the float stack's training options that the proof does not cover yet."""
    optimizer = train.get("optimizer", "sgd")
    if not isinstance(_name_of(optimizer), str):
        raise RunConfigError(f"train.optimizer: must be a name or a mapping with a 'name', got {optimizer!r}")
    if _name_of(optimizer) == "lars":
        _check_provable_lars(optimizer)
    elif _name_of(optimizer) == "lamb":
        _check_provable_lamb(optimizer)
    elif _name_of(optimizer) != "sgd":
        raise RunConfigError(f"train.optimizer: only 'sgd', 'lars' and 'lamb' are provable so far; "
                             f"{_name_of(optimizer)!r} is not provable yet")
    for key, value in (optimizer.items() if _name_of(optimizer) == "sgd" and isinstance(optimizer, dict) else ()):
        if key in PROVABLE_SGD and key not in RECORDED_SGD and value != PROVABLE_SGD[key]:
            raise _not_provable(f"train.optimizer.{key}", value, provable_sgd())
        if key not in PROVABLE_SGD and key not in NEUTRAL_SGD and key != "name":
            raise RunConfigError(f"train.optimizer.{key}: not an option of sgd (options: "
                                 f"{', '.join(sorted({*PROVABLE_SGD, *NEUTRAL_SGD}))})")
    loss = train.get("loss", "mse")
    if loss not in ("mse", "cross_entropy"):
        raise RunConfigError(f"train.loss: only 'mse' and 'cross_entropy' are provable; {loss!r} is not provable yet")
    for key, provable in (("batch_size_controller", "fixed"), ("objective", "standard")):
        if _name_of(train.get(key) or provable) != provable:
            raise _not_provable(f"train.{key}", train[key], provable)
    drop_last = train.get("drop_last", True)
    if type(drop_last) is not bool:
        raise RunConfigError(f"train.drop_last: must be true or false, got {drop_last!r}")
    if not drop_last:
        raise RunConfigError("train.drop_last: false is not provable (every proven step is a full batch: "
                             "the last partial batch of an epoch is dropped); set drop_last: true")
    if train.get("dtype", "float32") not in ("float32", "float64"):
        raise RunConfigError(f"train.dtype: must be one of float32, float64, got {train['dtype']!r}")


#: ``zktrain.optim.LARS``'s options the proof fixes (``circuits.lars``: Algorithm 1 with the rate
#: inside the momentum, every tensor adapted and decayed), and those it takes at any value
#: (``clip``: LARC, the recipe's ``train.clip``).
PROVABLE_LARS = {"nesterov": False, "lr_in_momentum": True, "adapt": True, "decay_bias_and_norm": True}
RECORDED_LARS = ("lr", "momentum", "weight_decay", "trust_coefficient", "eps", "clip")
LARS_DEFAULTS = {"momentum": 0.9, "weight_decay": 0.0, "trust_coefficient": 0.001, "eps": 1e-8}


def _check_provable_options(optimizer, provable: dict, recorded: tuple, what: str) -> None:
    """An adaptive optimizer's block (a name or a mapping): its fixed options at the proven
    values, no foreign one, and ``decay_bias_and_norm: true`` (every tensor, biases included,
    is decayed and adapted in the proven semantics)."""
    name = _name_of(optimizer)
    block = optimizer if isinstance(optimizer, dict) else {}
    for key, value in block.items():
        if key in provable and value != provable[key]:
            fixed = ", ".join(f"{k}={v}" for k, v in provable.items())
            raise _not_provable(f"train.optimizer.{key}", value, f"zktrain.optim.{what} with {fixed}")
        if key not in provable and key not in recorded and key != "name":
            raise RunConfigError(f"train.optimizer.{key}: not an option of {name} (options: "
                                 f"{', '.join(sorted({*provable, *recorded}))})")
    if block.get("decay_bias_and_norm") is not True:
        raise RunConfigError(f"train.optimizer.decay_bias_and_norm: the proven {what} adapts and decays every tensor, "
                             f"biases included (circuits.{name}); set decay_bias_and_norm: true")


def _check_provable_lars(optimizer) -> None:
    """``optimizer: lars`` (a name or a mapping): its fixed options at the proven values."""
    _check_provable_options(optimizer, PROVABLE_LARS, RECORDED_LARS, "LARS")


def _lars_state(train: dict) -> dict:
    """``optimizer: {name: lars, ...}`` as the recipe's ``optimizer: lars`` fields, torch's floats
    quantized (``circuits.lars.recipe_hyperparameters``)."""
    from circuits.lars import recipe_hyperparameters
    from circuits.recipe import DEFAULT_BUF_BITS

    block = train["optimizer"] if isinstance(train["optimizer"], dict) else {}
    for key in ("momentum", "weight_decay"):
        if key in train:
            raise RunConfigError(f"train.{key}: with optimizer lars, give it as train.optimizer.{key}")
    values = {key: block.get(key, default) for key, default in LARS_DEFAULTS.items()}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RunConfigError(f"train.optimizer.{key}: must be a non-negative number, got {value!r}")
    clip = block.get("clip", False)
    if type(clip) is not bool:
        raise RunConfigError(f"train.optimizer.clip: must be true or false, got {clip!r}")
    try:
        dyadics = recipe_hyperparameters(**values)
    except ValueError as err:
        key, _, message = str(err).partition(": ")
        raise RunConfigError(f"train.optimizer.{key}: {message}") from None
    return {"optimizer": "lars", **dyadics, "buf_bits": DEFAULT_BUF_BITS, "clip": clip}


#: ``zktrain.optim.LAMB``'s options the proof fixes (``circuits.lamb``: Algorithm 2 with bias
#: correction, every tensor decayed and adapted, no clipping), and those it takes at any value.
PROVABLE_LAMB = {"bias_correction": True, "trust_clip": False, "always_adapt": False, "grad_clip_norm": None,
                 "decay_bias_and_norm": True}
RECORDED_LAMB = ("lr", "betas", "eps", "weight_decay")
LAMB_DEFAULTS = {"betas": (0.9, 0.999), "eps": 1e-6, "weight_decay": 0.01}


def _check_provable_lamb(optimizer) -> None:
    """``optimizer: lamb`` (a name or a mapping): its fixed options at the proven values."""
    _check_provable_options(optimizer, PROVABLE_LAMB, RECORDED_LAMB, "LAMB")


def _lamb_state(train: dict) -> dict:
    """``optimizer: {name: lamb, ...}`` as the recipe's ``optimizer: lamb`` fields, torch's floats
    quantized (``circuits.lamb.recipe_hyperparameters``)."""
    from circuits.lamb import recipe_hyperparameters
    from circuits.recipe import DEFAULT_BUF_BITS

    block = train["optimizer"] if isinstance(train["optimizer"], dict) else {}
    for key in ("momentum", "weight_decay"):
        if key in train:
            raise RunConfigError(f"train.{key}: with optimizer lamb, give it as train.optimizer.{key}")
    values = {key: block.get(key, default) for key, default in LAMB_DEFAULTS.items()}
    betas = values["betas"]
    if not isinstance(betas, (list, tuple)) or len(betas) != 2 or \
            any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in betas):
        raise RunConfigError(f"train.optimizer.betas: must be a pair of numbers, got {betas!r}")
    for key in ("eps", "weight_decay"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RunConfigError(f"train.optimizer.{key}: must be a non-negative number, got {value!r}")
    if values["weight_decay"] == 0:
        raise RunConfigError("train.optimizer.weight_decay: 0 turns LAMB's layer adaptation off (as in apex and timm), "
                             "which the proof does not cover; give a decay > 0")
    try:
        dyadics = recipe_hyperparameters(tuple(betas), values["eps"], values["weight_decay"])
    except ValueError as err:
        key, _, message = str(err).partition(": ")
        raise RunConfigError(f"train.optimizer.{key}: {message}") from None  # betas[i]: names the beta
    return {"optimizer": "lamb", **dyadics, "buf_bits": DEFAULT_BUF_BITS}


def _sgd_state(train: dict) -> dict:
    """``train.momentum`` and ``train.weight_decay`` (or ``train.optimizer``'s, not both) as the
    recipe's ``optimizer: sgd_momentum`` fields: torch's floats quantized to dyadics
    (``circuits.momentum.recipe_hyperparameters``: mu to a multiple of 2^-15, lam at the coarsest
    2^-s, s >= 20, within relative error 1/512); {} for plain SGD (both absent or 0). The
    fixed-point engine trains them and ``zktrain prove`` proves them (``verifier/optimizers.py``)."""
    from circuits.momentum import quantization_rule, recipe_hyperparameters
    from circuits.recipe import DEFAULT_BUF_BITS

    block = train.get("optimizer") if isinstance(train.get("optimizer"), dict) else {}
    values, paths = {}, {}
    for key in RECORDED_SGD:
        given = [(path, body[key]) for path, body in ((f"train.{key}", train), (f"train.optimizer.{key}", block))
                 if key in body]
        if len(given) > 1:
            raise RunConfigError(f"train.{key}: given twice (train.{key} and train.optimizer.{key}); give one")
        paths[key], values[key] = given[0] if given else (f"train.{key}", 0)
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RunConfigError(f"{paths[key]}: must be a non-negative number, got {value!r}")
    if not values["momentum"] and not values["weight_decay"]:
        return {}
    try:
        mu, lam = recipe_hyperparameters(values["momentum"], values["weight_decay"])
    except ValueError as err:
        key, _, message = str(err).partition(": ")
        raise RunConfigError(f"{paths.get(key, 'train.' + key)}: {message} (quantization: {quantization_rule()})") from None
    return {"optimizer": "sgd_momentum", "momentum": mu, "weight_decay": lam, "buf_bits": DEFAULT_BUF_BITS}


_SCHEDULED = ("schedule", "scale_lr", "regime_adaptation")


def _step_rates(train: dict, batch: int, rows: int, override: int | None, name: str, seed: int, data_source) -> tuple[int, list[float]]:
    """The number of steps and the float SGD rate of each: ``lr`` (or ``optimizer.lr``) at
    every step, ``lr_schedule``, or the float stack's schedule (``_scheduled_rates``)."""
    optimizer = train.get("optimizer")
    given = [key for key in ("lr", "lr_schedule") if key in train]
    if isinstance(optimizer, dict) and "lr" in optimizer:
        given.append("optimizer.lr")
    if len(given) != 1:
        raise RunConfigError("train: give exactly one of 'lr' and 'lr_schedule'"
                             + (f" (got {', '.join(given)})" if given else " (or optimizer.lr)"))
    scheduled = [key for key in _SCHEDULED if train.get(key) not in (None, "constant", {"name": "constant"})]
    if "lr_schedule" in train and scheduled:
        raise RunConfigError(f"train.lr_schedule: one rate per step replaces train.{scheduled[0]}; give one of them")
    if ("steps" in train) == ("epochs" in train) and override is None:
        raise RunConfigError("train: give exactly one of 'steps' and 'epochs'")
    base = None if "lr_schedule" in train else _lr(f"train.{given[0]}", train["lr"] if given[0] == "lr" else optimizer["lr"])
    if scheduled:
        return _scheduled_rates(train, base, batch, rows, override, name, seed, data_source)
    if override is not None:
        n_steps = _pos_int("--steps", override)
    elif "epochs" in train:
        n_steps = _pos_int("train.epochs", train["epochs"]) * (rows // batch)
        if n_steps == 0:
            raise RunConfigError(f"train.batch_size: {batch} exceeds the {rows} training rows: an epoch has no full batch")
    else:
        n_steps = _pos_int("train.steps", train["steps"])
    if base is not None:
        return n_steps, [base] * n_steps
    schedule = train["lr_schedule"]
    if not isinstance(schedule, list) or len(schedule) < n_steps:
        raise RunConfigError(f"train.lr_schedule: needs at least one rate per step ({n_steps})")
    return n_steps, [_lr(f"train.lr_schedule[{i}]", v) for i, v in enumerate(schedule[:n_steps])]


def _scheduled_rates(train: dict, base: float, batch: int, rows: int, override: int | None, name: str, seed: int,
                     data_source) -> tuple[int, list[float]]:
    """The steps and rates ``zktrain train`` would use with SGD at ``base``: the float stack
    plans the run (``scale_lr``, ``regime_adaptation``, full batches only) and steps its
    scheduler on a one-parameter SGD as its loop does, reading the rate before each step."""
    import torch

    from .train import builders
    from .train.config import Component, ConfigError, RunConfig, parse_train
    from .train.loop import advance_schedule, plan_run

    section = {k: train[k] for k in ("batch_size", "steps", "epochs", *_SCHEDULED) if k in train}
    if override is not None:
        section.pop("epochs", None)
        section["steps"] = override
    section.update(optimizer={"name": "sgd", "lr": base}, drop_last=True, loss="mse")
    try:
        plan = plan_run(RunConfig(name, seed, data_source, Component("mlp"), parse_train(section)), rows)
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=plan.optimizer.options["lr"])
        context = builders.ScheduleContext(batch, rows, plan.steps_per_epoch, plan.total_steps, plan.total_samples)
        scheduler = builders.build(builders.SCHEDULES, plan.schedule, "train.schedule", optimizer, context)
    except ConfigError as err:
        raise RunConfigError(str(err)) from None
    rates = []
    for _ in range(plan.total_steps):
        rates.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()  # no gradient: changes nothing, but schedulers expect it before their step
        if scheduler is not None:
            advance_schedule(scheduler, batch)
    return plan.total_steps, rates


def _binding(binding: str, dataset: Dataset, frac_bits: int, commitment: DatasetCommitment | None) -> dict:
    """The recipe's data.binding, rows and sha256: the digest of the encoded training rows for
    public data, of the data owner's commitment for committed data."""
    if binding == "private":
        return {"binding": "private"}
    if commitment is not None:
        return {"binding": binding, "rows": commitment.encoding.rows, "sha256": commitment.digest()}
    x = encode_inputs(dataset.x_train, frac_bits)
    y = encode_labels(dataset.y_train, dataset.num_classes, frac_bits)
    return {"binding": binding, "rows": len(x), "sha256": dataset_digest(x, y)}


def _load_data_commitment(options, dataset: Dataset, quant: QuantSpec, quant_cfg: dict, range_check: str):
    """The data owner's commitment and opening; their encoding must be this run's (rows,
    features, classes, R, the range gadget; the input and label widths are the commitment's,
    so ``quant`` may not ask for others)."""
    try:
        commitment = DatasetCommitment.from_bytes(options["commitment"].read_bytes(), f"data.commitment {options['commitment']}")
    except OSError as err:
        raise RunConfigError(f"data.commitment: cannot read {options['commitment']}: {err.strerror}") from None
    except VerifyError as err:
        raise RunConfigError(str(err)) from None
    e = commitment.encoding
    expected = {"rows": len(dataset.y_train), "features": dataset.num_features, "classes": dataset.num_classes,
                "frac_bits": quant.frac_bits, "range_check": range_check}
    expected.update({k: quant_cfg[k] for k in ("input_bits", "input_signed", "label_bits") if k in quant_cfg})
    for key, value in expected.items():
        if getattr(e, key) != value:
            raise RunConfigError(f"data.commitment: commits to {key} {getattr(e, key)!r}, this run has {value!r}")
    try:
        opening = DatasetOpening.from_bytes(options["opening"].read_bytes(), commitment, f"data.opening {options['opening']}")
    except OSError as err:
        raise RunConfigError(f"data.opening: cannot read {options['opening']}: {err.strerror}") from None
    except ValueError as err:
        raise RunConfigError(str(err)) from None
    return commitment, opening


def to_master(values: np.ndarray, scale_bits: int, what: str) -> np.ndarray:
    """Float weights rounded to master values at 2^scale_bits (``rint``, half to even), as
    int64; ValueError naming ``what`` for a non-finite value or one beyond int64's headroom."""
    if not np.isfinite(values).all():
        raise ValueError(f"{what} must hold finite numbers")
    scaled = np.rint(np.asarray(values, dtype=np.float64) * float(1 << scale_bits))
    if np.abs(scaled).max(initial=0) >= 2.0**62:
        raise ValueError(f"{what} does not fit int64 at scale 2^{scale_bits}")
    return scaled.astype(np.int64)


def _checked_initial(path: str, recipe: Recipe, weights: list[np.ndarray], biases: list[np.ndarray | None]):
    """W_0, b_0 checked against the recipe by the engine (shapes, quant.weight_bits)."""
    from zktrain.fixedpoint.engine import FixedPointMLP  # the engine checks every width

    try:
        FixedPointMLP(recipe, weights, biases)
    except ValueError as err:
        raise RunConfigError(f"{path}: {err}") from None
    return weights, biases


def _load_initial(path: Any, base_dir: Path | None, recipe: Recipe) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """W_0, b_0 of ``init: committed`` from an .npz holding W1..WL ([d_l, d_{l-1}], PyTorch's
    Linear.weight layout) and b1..bL: integer arrays are taken as master values at 2^(2R+k),
    float arrays are rounded to them (``to_master``). Widths are checked against
    quant.weight_bits by the engine, naming the tensor."""
    if not isinstance(path, str) or not path:
        raise RunConfigError("model.init_path: init: committed needs the path of an .npz with W1.., b1..")
    full = Path(path) if base_dir is None or Path(path).is_absolute() else base_dir / path
    try:
        with np.load(full, allow_pickle=False) as arrays:
            stored = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError) as err:
        raise RunConfigError(f"model.init_path: cannot read {full}: {err}") from None
    widths, bias = recipe.model.widths, recipe.model.bias

    def master(key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key not in stored:
            raise RunConfigError(f"model.init_path: {full} has no array {key!r}")
        a = stored[key]
        if a.shape != shape:
            raise RunConfigError(f"model.init_path: {key} has shape {a.shape}, expected {shape}")
        if a.dtype.kind in "iu":
            return a.astype(np.int64)
        if a.dtype.kind != "f":
            raise RunConfigError(f"model.init_path: {key} must hold finite numbers, got {a.dtype}")
        try:
            return to_master(a, recipe.scales.weight, key)
        except ValueError as err:
            raise RunConfigError(f"model.init_path: {err}") from None

    layers = range(1, len(widths))
    weights = [master(f"W{l}", (widths[l], widths[l - 1])) for l in layers]
    biases = [master(f"b{l}", (widths[l],)) if bias else None for l in layers]
    return _checked_initial("model.init_path", recipe, weights, biases)
