"""What a proof of training covers today, in PyTorch terms (issue 14, item 1).

Three small registries say which torch objects the fixed-point semantics of DESIGN section 4
(``zktrain.fixedpoint.engine``) computes exactly:

* ``MODULES``: the layer types of a provable ``nn.Sequential``, each with its role in the
  chain (``linear``, ``norm`` or ``activation``) and a check of its options. Today ``nn.Linear``
  and ``nn.ReLU``, alternating, a Linear first and last: the recipe's MLP
  (``circuits.recipe.ModelSpec``); and ``zktrain.nn.GhostBatchNorm1d`` or ``nn.BatchNorm1d``
  (a ghost batch of the whole batch) between every hidden Linear and its ReLU, the recipe's
  ``model.norm: ghost_bn`` (docs/ghost_bn.md; affine, tracking running statistics, a float
  momentum, from torch's fresh state: gamma 1, beta 0, running mean 0, running var 1).
* ``OPTIMIZERS``: ``torch.optim.SGD`` with the option values of ``schema.PROVABLE_SGD``. Its
  ``momentum`` and ``weight_decay`` (``schema.RECORDED_SGD``) may take any value the engine
  trains (``sgd_hyperparameters``: quantized to the recipe's dyadics, optimizer
  ``sgd_momentum``, design (A) of docs/momentum.md): ``zktrain.Recorder`` records them and
  ``prove`` proves them (``verifier/optimizers.py``). ``zktrain.optim.LARS`` with the options of
  ``run_config.PROVABLE_LARS`` (Algorithm 1, the rate inside the momentum, every tensor
  adapted): its momentum, weight_decay, trust_coefficient and eps quantized as run files do
  (``lars_hyperparameters``), recorded and proven (issue 16, docs/lars.md).
  ``zktrain.optim.LAMB`` with the options of ``run_config.PROVABLE_LAMB`` (Algorithm 2 with
  bias correction, every tensor decayed and adapted, no clipping): its betas, eps and
  weight_decay quantized as run files do (``lamb_hyperparameters``; issue 16, docs/lamb.md).
* ``LOSSES``: ``nn.MSELoss(reduction="mean")``, whose 2 / (B n_out) the recipe folds into
  lr_num (``circuits.semantics.mse_lr_num``). ``RECORDED_LOSSES`` adds
  ``nn.CrossEntropyLoss()`` (mean, no class weights, no label smoothing; ``circuits.softmax``,
  lr_num from ``circuits.semantics.ce_lr_num``), recorded and proven (``verifier.losses``).

A later operation (a LayerNorm, another activation) becomes provable by joining a registry
with its check, as it joins the circuit (DESIGN section 10, "the walk composes operations").
Every refusal is a :class:`NotProvableError` naming the module, option or loss and listing
what is provable.

The checks lie between torch and the recipe: ``check_model`` gives the widths and bias flag,
``master_parameters`` the module's own weights as the recipe's committed W_0 (rounded to the
master scale 2^(2R+k) as ``run_config`` rounds a float ``init_path``), ``load_parameters``
writes fixed-point weights back into the module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from verifier.model import float_copy

from .nn import GhostBatchNorm1d
from .optim.lamb import LAMB
from .optim.lars import LARS
from .run_config import PROVABLE_LAMB, PROVABLE_LARS, to_master
from .schema import PROVABLE_SGD, RECORDED_SGD, ModelFactory, provable_sgd


class NotProvableError(ValueError):
    """A model, optimizer or loss the proof does not cover yet; the message names the offender."""


@dataclass(frozen=True)
class ProvableModule:
    """A layer type of a provable ``nn.Sequential``: its role in the chain Linear, [norm,]
    activation, ..., Linear, and a check of its options (raises NotProvableError naming the option)."""

    kind: type[nn.Module]
    role: str
    check: Callable[[nn.Module, str], None]


MODULES: dict[type[nn.Module], ProvableModule] = {}
#: The roles of a provable layer, and which may follow which: Linear, [norm,] activation, Linear.
ROLES = ("linear", "norm", "activation")
_FOLLOWS = {"linear": ("norm", "activation"), "norm": ("activation",), "activation": ("linear",)}


def register_module(entry: ProvableModule) -> None:
    """Make a layer type provable (the circuit must prove it first)."""
    if entry.role not in ROLES:
        raise ValueError(f"role must be one of {list(ROLES)}, got {entry.role!r}")
    MODULES[entry.kind] = entry


def _check_linear(module: nn.Module, where: str) -> None:
    for name, p in module.named_parameters():
        if not p.requires_grad:
            raise NotProvableError(
                f"{where}.{name}: requires_grad=False is not provable yet (the proven SGD step updates every weight)"
            )
        if p.dtype not in (torch.float32, torch.float64):
            raise NotProvableError(f"{where}.{name}: dtype {p.dtype} is not provable yet (float32 or float64)")


def _no_options(module: nn.Module, where: str) -> None:
    """ReLU has only ``inplace``, which changes no value."""


def _check_norm(module: nn.Module, where: str) -> None:
    """Ghost BN as the semantics states it (docs/ghost_bn.md section 1): affine, tracking running
    statistics with a float momentum, starting from torch's fresh state (the proof's gamma_0 = 1,
    beta_0 = 0, running mean 0 and running variance 1)."""
    name = _name(module)
    if not module.affine or not module.track_running_stats:
        raise NotProvableError(f"{where}: {name}(affine={module.affine}, track_running_stats="
                               f"{module.track_running_stats}) is not provable yet (provable: affine=True, "
                               "track_running_stats=True)")
    if module.momentum is None:
        raise NotProvableError(f"{where}: {name}(momentum=None), a cumulative average, is not provable yet "
                               "(provable: a float momentum in [0, 1])")
    _check_linear(module, where)
    fresh = (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0))
    for attr, value in fresh:
        if not torch.all(getattr(module, attr) == value):
            raise NotProvableError(f"{where}.{attr}: not torch's initial {value} (the proof starts every Ghost BN from "
                                   "gamma 1, beta 0, running mean 0, running var 1)")


register_module(ProvableModule(nn.Linear, "linear", _check_linear))
register_module(ProvableModule(nn.ReLU, "activation", _no_options))
register_module(ProvableModule(GhostBatchNorm1d, "norm", _check_norm))
register_module(ProvableModule(nn.BatchNorm1d, "norm", _check_norm))


def provable_model() -> str:
    names = ", ".join(_name_of_kind(kind) for kind in MODULES)
    return (f"an nn.Sequential of {names}: Linear first and last, one activation between consecutive Linears, "
            "optionally after a norm layer in every hidden layer")


def _name_of_kind(kind: type) -> str:
    return f"nn.{kind.__name__}" if kind.__module__.startswith("torch.nn") else f"zktrain.nn.{kind.__name__}"


@dataclass(frozen=True)
class ProvableMLP:
    """A checked model: its Linear layers in order, the widths d_0..d_L, the bias flag and the
    norm layer of every hidden layer (empty without normalization)."""

    linears: tuple[nn.Linear, ...]
    widths: tuple[int, ...]
    bias: bool
    norms: tuple[nn.Module, ...] = ()


def _name(module: nn.Module) -> str:
    kind = type(module)
    return f"nn.{kind.__name__}" if kind.__module__.startswith("torch.nn") else f"{kind.__module__}.{kind.__qualname__}"


def check_model(model: object) -> ProvableMLP:
    """The model as a provable MLP, or NotProvableError naming the first module that is not."""
    if not isinstance(model, nn.Sequential):
        what = _name(model) if isinstance(model, nn.Module) else type(model).__name__
        raise NotProvableError(f"model: {what} is not provable yet (provable: {provable_model()})")
    children = list(model.named_children())
    if not children:
        raise NotProvableError(f"model: an empty nn.Sequential (provable: {provable_model()})")
    previous = None
    for name, module in children:
        where = f"model[{name}]"
        entry = MODULES.get(type(module))
        if entry is None:
            raise NotProvableError(f"{where}: {_name(module)} is not provable yet (provable: {provable_model()})")
        allowed = ("linear",) if previous is None else _FOLLOWS[MODULES[type(previous)].role]
        if entry.role not in allowed:
            after = f"directly after {_name(previous)}" if previous is not None else "first"
            raise NotProvableError(
                f"{where}: {_name(module)} {after} is not provable (provable: {provable_model()})"
            )
        entry.check(module, where)
        previous = module
    if MODULES[type(previous)].role != "linear":
        raise NotProvableError(
            f"model[{children[-1][0]}]: the model ends with {_name(previous)} (provable: {provable_model()})"
        )
    named = {role: [(n, m) for n, m in children if MODULES[type(m)].role == role] for role in ROLES}
    linears = tuple(m for _, m in named["linear"])
    for (name, m), prev in zip(named["linear"][1:], linears):
        if m.in_features != prev.out_features:
            raise NotProvableError(f"model[{name}]: in_features {m.in_features} != {prev.out_features} of the Linear before")
    biased = [m.bias is not None for m in linears]
    if any(biased) != all(biased):
        name = named["linear"][biased.index(not biased[0])][0]
        raise NotProvableError(
            f"model[{name}]: bias={not biased[0]} while model[{children[0][0]}] has bias={biased[0]} "
            "(provable: a bias in every Linear or in none)"
        )
    norms = tuple(m for _, m in named["norm"])
    _check_norms(named["norm"], linears)
    widths = (linears[0].in_features, *(m.out_features for m in linears))
    return ProvableMLP(linears, widths, biased[0], norms)


def _check_norms(named: list[tuple[str, nn.Module]], linears: tuple[nn.Linear, ...]) -> None:
    """A norm layer in every hidden layer or in none, each over its Linear's features, all of one
    kind and options (the recipe has one ``model.norm``)."""
    if not named:
        return
    if len(named) != len(linears) - 1:
        raise NotProvableError(f"model[{named[0][0]}]: a norm layer in {len(named)} of the {len(linears) - 1} hidden "
                               "layers is not provable yet (provable: one in every hidden layer or in none)")
    first = _norm_options(named[0][1])
    for (name, m), linear in zip(named, linears):
        if m.num_features != linear.out_features:
            raise NotProvableError(f"model[{name}]: num_features {m.num_features} != {linear.out_features} of the "
                                   "Linear before")
        if _norm_options(m) != first:
            raise NotProvableError(f"model[{name}]: {_name(m)} with {_norm_options(m)} while model[{named[0][0]}] has "
                                   f"{first} (provable: one kind and one set of options, the recipe's model.norm)")


def _norm_options(module: nn.Module) -> tuple:
    """(kind, virtual batch size or None for the whole batch, momentum, eps)."""
    return (type(module).__name__, getattr(module, "virtual_batch_size", None), module.momentum, module.eps)


def norm_fields(mlp: ProvableMLP, batch_size: int, frac_bits: int) -> dict:
    """The recipe's ``model.norm`` fields for the model's norm layers: {} without, else
    ``ghost_bn`` with the ghost batch (``nn.BatchNorm1d``: the whole batch) and the momentum and
    eps quantized as run files quantize them (``circuits.ghost_bn.recipe_hyperparameters``);
    NotProvableError naming the option."""
    if not mlp.norms:
        return {}
    from circuits.ghost_bn import recipe_hyperparameters

    _, virtual, momentum, eps = _norm_options(mlp.norms[0])
    try:
        bn_momentum, bn_eps = recipe_hyperparameters(momentum, eps, frac_bits)
    except ValueError as err:
        raise NotProvableError(f"model: {_name(mlp.norms[0])} {err}") from None
    return {"norm": "ghost_bn", "virtual_batch_size": batch_size if virtual is None else virtual,
            "bn_momentum": bn_momentum, "bn_eps": bn_eps}


# --- optimizers ----------------------------------------------------------------------------


def _check_sgd(optimizer: torch.optim.Optimizer) -> None:
    for i, group in enumerate(optimizer.param_groups):
        for option, value in PROVABLE_SGD.items():
            if option not in RECORDED_SGD and group.get(option, value) != value:
                raise NotProvableError(
                    f"optimizer: torch.optim.SGD with {option}={group[option]!r} (param group {i}) is not provable "
                    f"yet (provable: {provable_sgd()})"
                )
    sgd_hyperparameters(optimizer)


def sgd_hyperparameters(optimizer: torch.optim.Optimizer):
    """The recipe's (``train.momentum``, ``train.weight_decay``) for a ``torch.optim.SGD``: None
    for plain SGD (both 0), else both as dyadics (``circuits.momentum.recipe_hyperparameters``,
    whose quantization run files use too). Every param group must agree (one recipe); a value
    the quantization refuses raises NotProvableError naming the option."""
    from circuits.momentum import recipe_hyperparameters

    values = {option: sorted({float(group.get(option, 0)) for group in optimizer.param_groups})
              for option in RECORDED_SGD}
    for option, found in values.items():
        if len(found) != 1:
            raise NotProvableError(f"optimizer: param groups with different {option} {found} are not provable yet "
                                   f"(the recipe has one {option})")
    mu, lam = values["momentum"][0], values["weight_decay"][0]
    if mu == 0 and lam == 0:
        return None
    try:
        return recipe_hyperparameters(mu, lam)
    except ValueError as err:
        raise NotProvableError(f"optimizer: torch.optim.SGD {err}") from None


def _group_values(optimizer: torch.optim.Optimizer, options, what: str) -> dict:
    """Each option's one value across the param groups (a recipe has one of each)."""
    values = {}
    for option in options:
        found = sorted({float(group[option]) for group in optimizer.param_groups}, key=repr)
        if len(found) != 1:
            raise NotProvableError(f"optimizer: {what} param groups with different {option} {found} are not provable "
                                   f"yet (the recipe has one {option})")
        values[option] = found[0]
    return values


def _check_group_options(optimizer: torch.optim.Optimizer, provable: dict, what: str, listing: str) -> None:
    """Every param group's fixed options at the proven values (``provable``); NotProvableError
    naming the option and the group, and listing what is provable."""
    for i, group in enumerate(optimizer.param_groups):
        for option, value in provable.items():
            if option in group and group[option] != value:
                raise NotProvableError(f"optimizer: zktrain.optim.{what} with {option}={group[option]!r} (param group "
                                       f"{i}) is not provable yet (provable: {listing})")


def _provable(provable: dict, what: str, extra: str = "") -> str:
    fixed = ", ".join(f"{k}={v}" for k, v in provable.items() if k != "decay_bias_and_norm")
    return f"zktrain.optim.{what} with {fixed}{extra}, every parameter in groups of the same options"


def _check_lars(optimizer: torch.optim.Optimizer) -> None:
    """``zktrain.optim.LARS`` with the options ``circuits.lars`` proves: Algorithm 1 with the rate
    inside the momentum, every tensor adapted (``zktrain.run_config.PROVABLE_LARS``)."""
    _check_group_options(optimizer, PROVABLE_LARS, "LARS", provable_lars())
    lars_hyperparameters(optimizer)


def provable_lars() -> str:
    return _provable(PROVABLE_LARS, "LARS")


def lars_hyperparameters(optimizer: torch.optim.Optimizer) -> dict:
    """The recipe's ``optimizer: lars`` fields for a ``zktrain.optim.LARS`` (the run files'
    quantization, ``circuits.lars.recipe_hyperparameters``; ``clip``, LARC, as ``train.clip``);
    NotProvableError naming the option."""
    from circuits.lars import recipe_hyperparameters
    from circuits.recipe import DEFAULT_BUF_BITS

    values = _group_values(optimizer, ("momentum", "weight_decay", "trust_coefficient", "eps"), "LARS")
    clips = {bool(group["clip"]) for group in optimizer.param_groups}
    if len(clips) != 1:
        raise NotProvableError("optimizer: LARS param groups with and without clip are not provable yet (the recipe "
                               "has one train.clip)")
    try:
        return {"optimizer": "lars", **recipe_hyperparameters(**values), "buf_bits": DEFAULT_BUF_BITS,
                "clip": clips.pop()}
    except ValueError as err:
        raise NotProvableError(f"optimizer: zktrain.optim.LARS {err}") from None


def _check_lamb(optimizer: torch.optim.Optimizer) -> None:
    """``zktrain.optim.LAMB`` with the options ``circuits.lamb`` proves: Algorithm 2 with bias
    correction, every tensor decayed and adapted (``zktrain.run_config.PROVABLE_LAMB``), no
    gradient clipping."""
    if optimizer.grad_clip_norm is not None:
        raise NotProvableError(f"optimizer: zktrain.optim.LAMB with grad_clip_norm={optimizer.grad_clip_norm!r} is "
                               f"not provable yet (provable: {provable_lamb()})")
    _check_group_options(optimizer, PROVABLE_LAMB, "LAMB", provable_lamb())
    lamb_hyperparameters(optimizer)


def provable_lamb() -> str:
    return _provable(PROVABLE_LAMB, "LAMB", " and weight_decay > 0")


def lamb_hyperparameters(optimizer: torch.optim.Optimizer) -> dict:
    """The recipe's ``optimizer: lamb`` fields for a ``zktrain.optim.LAMB`` (the run files'
    quantization, ``circuits.lamb.recipe_hyperparameters``); NotProvableError naming the option."""
    from circuits.lamb import recipe_hyperparameters
    from circuits.recipe import DEFAULT_BUF_BITS

    values = _group_values(optimizer, ("eps", "weight_decay"), "LAMB")
    betas = sorted({tuple(float(b) for b in group["betas"]) for group in optimizer.param_groups})
    if len(betas) != 1:
        raise NotProvableError(f"optimizer: LAMB param groups with different betas {betas} are not provable yet "
                               "(the recipe has one pair)")
    if values["weight_decay"] == 0:
        raise NotProvableError("optimizer: zktrain.optim.LAMB with weight_decay=0 skips layer adaptation, which is "
                               f"not provable yet (provable: {provable_lamb()})")
    try:
        return {"optimizer": "lamb", **recipe_hyperparameters(betas[0], **values), "buf_bits": DEFAULT_BUF_BITS}
    except ValueError as err:
        raise NotProvableError(f"optimizer: zktrain.optim.LAMB {err}") from None


def optimizer_fields(optimizer: torch.optim.Optimizer) -> dict:
    """The recipe's ``train`` optimizer fields for a provable optimizer: {} for plain SGD,
    ``sgd_momentum``'s, ``lars``'s or ``lamb``'s (quantized as run files quantize them)."""
    from circuits.recipe import DEFAULT_BUF_BITS

    if isinstance(optimizer, LARS):
        return lars_hyperparameters(optimizer)
    if isinstance(optimizer, LAMB):
        return lamb_hyperparameters(optimizer)
    state = sgd_hyperparameters(optimizer)
    if state is None:
        return {}
    return {"optimizer": "sgd_momentum", "momentum": state[0], "weight_decay": state[1], "buf_bits": DEFAULT_BUF_BITS}


#: Optimizer types and the check of their options.
OPTIMIZERS: dict[type[torch.optim.Optimizer], Callable[[torch.optim.Optimizer], None]] = {
    torch.optim.SGD: _check_sgd, LARS: _check_lars, LAMB: _check_lamb}


def check_optimizer(optimizer: object, mlp: ProvableMLP) -> None:
    """A provable optimizer over exactly the model's parameters, or NotProvableError."""
    check = OPTIMIZERS.get(type(optimizer))
    if check is None:
        what = f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"
        raise NotProvableError(f"optimizer: {what} is not provable yet (provable: {provable_sgd()}; {provable_lars()}; "
                               f"{provable_lamb()})")
    check(optimizer)
    held = [p for group in optimizer.param_groups for p in group["params"]]
    own = [p for m in (*mlp.linears, *mlp.norms) for p in m.parameters()]
    if {id(p) for p in held} != {id(p) for p in own} or len(held) != len(own):
        raise NotProvableError("optimizer: must hold exactly the model's parameters, each once")


def step_rate(optimizer: torch.optim.Optimizer, step: int) -> float:
    """The learning rate of this step: every param group's, which must agree (a proof has one
    rate per step)."""
    rates = sorted({float(group["lr"]) for group in optimizer.param_groups})
    if len(rates) != 1:
        raise NotProvableError(
            f"optimizer: param groups with different learning rates {rates} at step {step} are not provable yet "
            "(one rate per step)"
        )
    return rates[0]


# --- losses --------------------------------------------------------------------------------


def _check_mse(loss: nn.Module) -> None:
    if loss.reduction != "mean":
        raise NotProvableError(
            f"loss: nn.MSELoss(reduction={loss.reduction!r}) is not provable yet (provable: {provable_loss()})"
        )


#: Loss types and the check of their options.
LOSSES: dict[type[nn.Module], Callable[[nn.Module], None]] = {nn.MSELoss: _check_mse}


def provable_loss() -> str:
    return "nn.MSELoss(reduction='mean') and nn.CrossEntropyLoss() with its defaults"


def check_loss(loss: object) -> None:
    check = LOSSES.get(type(loss))
    if check is None:
        what = _name(loss) if isinstance(loss, nn.Module) else repr(loss)
        raise NotProvableError(f"loss: {what} is not provable yet (provable: {provable_loss()})")
    check(loss)


def _check_cross_entropy(loss: nn.Module) -> None:
    """The semantics' cross-entropy (``circuits.softmax``): the mean over the batch, one-hot
    targets, no class weights, no label smoothing."""
    for option, value, default in (("reduction", loss.reduction, "mean"), ("weight", loss.weight, None),
                                   ("label_smoothing", loss.label_smoothing, 0.0)):
        if (value is not None) if default is None else value != default:
            shown = "a tensor" if option == "weight" else repr(value)
            raise NotProvableError(
                f"loss: nn.CrossEntropyLoss({option}={shown}) is not provable yet (provable: {provable_loss()})"
            )


#: Losses the fixed-point engine trains (``circuits.recipe.TrainSpec.loss``) beyond ``LOSSES``:
#: ``zktrain.Recorder`` records them; ``zktrain.prove`` refuses them by name.
RECORDED_LOSSES: dict[type[nn.Module], tuple[str, Callable[[nn.Module], None]]] = {
    nn.MSELoss: ("mse", _check_mse),
    nn.CrossEntropyLoss: ("cross_entropy", _check_cross_entropy),
}


def loss_name(loss: object) -> str:
    """The recipe's ``train.loss`` for a torch loss the engine trains, or NotProvableError."""
    entry = RECORDED_LOSSES.get(type(loss))
    if entry is None:
        check_loss(loss)  # raises, naming it
    name, check = entry
    check(loss)
    return name


# --- weights between torch and the recipe ---------------------------------------------------


def master_parameters(mlp: ProvableMLP, scale_bits: int) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """The module's weights and biases as master values at 2^scale_bits (``to_master``)."""

    def master(p: torch.Tensor, what: str) -> np.ndarray:
        return to_master(p.detach().cpu().double().numpy(), scale_bits, what)

    weights = [master(m.weight, f"model linear {l} weight") for l, m in enumerate(mlp.linears, 1)]
    biases = [None if m.bias is None else master(m.bias, f"model linear {l} bias") for l, m in enumerate(mlp.linears, 1)]
    return weights, biases


def load_parameters(mlp: ProvableMLP, weights, biases, scale_bits: int) -> None:
    """Write master values into the module as their float32 copies (``verifier.model.float_copy``,
    the model file's ``W{l}.float32``), cast to the module's dtype."""
    with torch.no_grad():
        for m, w, b in zip(mlp.linears, weights, biases):
            m.weight.copy_(torch.from_numpy(float_copy(w, scale_bits)))
            if b is not None:
                m.bias.copy_(torch.from_numpy(float_copy(b, scale_bits)))


def load_norms(mlp: ProvableMLP, norms, scale_bits: int, frac_bits: int) -> None:
    """Write the engine's normalization state (``FixedPointMLP.norm_state``) into the model's
    norm layers: gamma, beta as float32 copies of their master values at 2^scale_bits (as
    weights), the running statistics as value / 2^(2 frac_bits) (float32 copies as well)."""
    with torch.no_grad():
        for m, (gamma, beta, mean, var, *_) in zip(mlp.norms, norms):  # buffers: the optimizer's
            m.weight.copy_(torch.from_numpy(float_copy(gamma, scale_bits)))
            m.bias.copy_(torch.from_numpy(float_copy(beta, scale_bits)))
            m.running_mean.copy_(torch.from_numpy(float_copy(mean, 2 * frac_bits)))
            m.running_var.copy_(torch.from_numpy(float_copy(var, 2 * frac_bits)))


def factory_model(factory: ModelFactory, seed: int) -> nn.Module:
    """The module a run file's ``model.torch`` factory returns, built with torch's generator
    seeded by the run's seed (and the caller's generator state left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = factory.build()
    if not isinstance(model, nn.Module):
        raise ValueError(f"model.torch: {factory} returned {type(model).__name__}, not an nn.Module")
    return model
