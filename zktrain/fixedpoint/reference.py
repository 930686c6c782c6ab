"""The float PyTorch model a recipe stands for, trained the ordinary way (DESIGN section 4).

Same architecture (``nn.Sequential`` of Linear and ReLU), same W_0 = W_0_int / 2^(2R+k) and
b_0 = b_0_int / 2^(2R+k), same inputs X_int / 2^R and one-hot targets, same batches, and
``torch.optim.SGD`` on ``nn.MSELoss()`` (mean) with the learning rate lr_num_t stands for:
lr_num_t / 2^k * B n_out / 2 (``circuits.semantics.mse_torch_lr``), or, for
``train.loss: cross_entropy``, on ``nn.CrossEntropyLoss()`` (mean, the one-hot targets as class
probabilities) at lr_num_t / 2^k * B (``circuits.semantics.ce_torch_lr``). The only difference
from the fixed-point engine is rounding: the engine rounds after every matmul and computes the
softmax from exp tables (``circuits.softmax``), float64 at 2^-52.

With ``train.optimizer: sgd_momentum`` the optimizer is ``torch.optim.SGD(momentum=mu,
weight_decay=lam)`` with the recipe's own dyadic mu and lam (exact in float64; torch's unfolded
lam, ``optimizer_options``): the engine's buffer is torch's divided by the loss factor c and its
decay lam / c (docs/momentum.md section 1), so the two agree up to the engine's roundings,
buf's included (design (A), at most 2^-(2R+1) per step in folded units).

With ``model.norm: ghost_bn`` every hidden Linear is followed by
``zktrain.nn.GhostBatchNorm1d(C, v, momentum, eps)`` with the recipe's dyadic momentum and eps
(exact in float64), gamma = 1 and beta = 0 as torch initializes them (the engine's
``circuits.semantics.seeded_norms``), trained by the same SGD; predictions use eval mode (the
running statistics), as the engine's ``predict`` does (docs/ghost_bn.md sections 1 and 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from circuits.recipe import Recipe
from circuits.semantics import torch_lr_for
from zktrain.nn import GhostBatchNorm1d

from .engine import FixedPointMLP


def sequential(recipe: Recipe, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """``nn.Sequential(Linear, ReLU, ..., Linear)`` with the recipe's widths and bias setting,
    with a ``GhostBatchNorm1d`` before every ReLU for ``model.norm: ghost_bn``."""
    m = recipe.model
    widths, modules = m.widths, []
    for l in range(1, len(widths)):
        modules.append(nn.Linear(widths[l - 1], widths[l], bias=m.bias, dtype=dtype))
        if l < len(widths) - 1:
            if m.norm == "ghost_bn":
                modules.append(GhostBatchNorm1d(widths[l], m.virtual_batch_size, momentum=float(m.bn_momentum.value),
                                                eps=float(m.bn_eps.value), dtype=dtype))
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def norms(model: nn.Sequential, recipe: Recipe) -> list[GhostBatchNorm1d]:
    """The Ghost BN layers of ``model`` (checked against the recipe by ``linears``)."""
    linears(model, recipe)
    return [m for m in model if isinstance(m, GhostBatchNorm1d)]


def linears(model: nn.Sequential, recipe: Recipe) -> list[nn.Linear]:
    """The Linear layers of ``model``, checked to be exactly the recipe's architecture."""
    reference = sequential(recipe)
    kinds, expected = [type(m).__name__ for m in model], [type(m).__name__ for m in reference]
    if kinds != expected:
        raise ValueError(f"model: expected the layers {expected}, got {kinds}")
    for m, ref in zip(model, reference):
        if isinstance(m, GhostBatchNorm1d) and (m.num_features, m.virtual_batch_size, m.momentum, m.eps) != (
                ref.num_features, ref.virtual_batch_size, ref.momentum, ref.eps):
            raise ValueError(f"model: {m} differs from the recipe's {ref}")
    layers = [m for m in model if isinstance(m, nn.Linear)]
    for l, (m, ref) in enumerate(zip(layers, (r for r in reference if isinstance(r, nn.Linear))), start=1):
        if m.weight.shape != ref.weight.shape or (m.bias is None) != (ref.bias is None):
            raise ValueError(
                f"model: Linear {l} has weight {tuple(m.weight.shape)} and bias {m.bias is not None}, "
                f"the recipe {tuple(ref.weight.shape)} and {recipe.model.bias}"
            )
    return layers


def load_fixed_point(
    model: nn.Sequential, recipe: Recipe, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None]
) -> None:
    """Set ``model``'s parameters to master integers / 2^(2R+k) (exact in float64 below 2^53)."""
    scale = float(1 << recipe.scales.weight)
    with torch.no_grad():
        for m, w, b in zip(linears(model, recipe), weights, biases):
            m.weight.copy_(torch.from_numpy(w.astype(np.float64) / scale))
            if b is not None:
                m.bias.copy_(torch.from_numpy(b.astype(np.float64) / scale))


def load_norms(model: nn.Sequential, recipe: Recipe, states) -> None:
    """Set ``model``'s Ghost BN layers to the engine's state (``FixedPointMLP.norm_state``):
    gamma, beta / 2^S, running statistics / 2^(2R) (exact in float64 below 2^53)."""
    scale, stat = float(1 << recipe.scales.weight), float(1 << (2 * recipe.quant.frac_bits))
    with torch.no_grad():
        for m, (gamma, beta, mean, var, *_) in zip(norms(model, recipe), states):  # buffers: the optimizer's
            for tensor, values, unit in ((m.weight, gamma, scale), (m.bias, beta, scale), (m.running_mean, mean, stat),
                                         (m.running_var, var, stat)):
                tensor.copy_(torch.from_numpy(values.astype(np.float64) / unit))


def quantize(model: nn.Sequential, recipe: Recipe) -> FixedPointMLP:
    """The fixed-point model nearest to a float one (round half up at 2^(2R+k); a Ghost BN's
    running statistics at 2^(2R)): for ``init: committed`` runs that start from an existing
    torch model."""
    scale = float(1 << recipe.scales.weight)

    def master(p: torch.Tensor) -> np.ndarray:
        return np.floor(p.detach().double().numpy() * scale + 0.5).astype(np.int64)

    def stat(t: torch.Tensor) -> np.ndarray:
        return np.floor(t.detach().double().numpy() * float(1 << (2 * recipe.quant.frac_bits)) + 0.5).astype(np.int64)

    layers = linears(model, recipe)
    biases = [None if m.bias is None else master(m.bias) for m in layers]
    states = [(master(m.weight), master(m.bias), stat(m.running_mean), stat(m.running_var)) for m in norms(model, recipe)]
    return FixedPointMLP(recipe, [master(m.weight) for m in layers], biases, norms=states or None)


def loss_module(recipe: Recipe) -> nn.Module:
    """The torch loss of ``train.loss``: ``nn.MSELoss()`` or ``nn.CrossEntropyLoss()`` (both mean;
    cross-entropy takes the one-hot targets y / 2^R as class probabilities, the same gradient
    (p - y) / B as class indices)."""
    if recipe.train.loss == "cross_entropy":
        return nn.CrossEntropyLoss()
    return nn.MSELoss()


def optimizer_options(recipe: Recipe) -> dict:
    """``torch.optim.SGD``'s momentum and weight_decay for the recipe's optimizer: none for
    ``sgd``; the recipe's dyadic mu and (unfolded) lam as floats, exactly, for ``sgd_momentum``."""
    t = recipe.train
    if t.optimizer != "sgd_momentum":
        return {}
    return {"momentum": float(t.momentum.value), "weight_decay": float(t.weight_decay.value)}


def float_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The float twin of the recipe's optimizer (its rate set per step by ``train_float``):
    ``torch.optim.SGD`` with ``optimizer_options``, ``zktrain.optim.LARS`` with the recipe's
    dyadic momentum, weight decay (unfolded), trust coefficient and eps, the rate inside the
    momentum and LARC's clipping when ``train.clip`` (``circuits.lars``), or
    ``zktrain.optim.LAMB`` with its dyadic betas, eps and decay (``circuits.lamb``)."""
    t = recipe.train
    if t.optimizer == "lamb":
        from zktrain.optim import LAMB

        return LAMB(model.parameters(), lr=0.0, betas=(float(t.beta1.value), float(t.beta2.value)),
                    eps=float(t.eps.value), weight_decay=float(t.weight_decay.value))
    if t.optimizer != "lars":
        return torch.optim.SGD(model.parameters(), lr=0.0, **optimizer_options(recipe))
    from zktrain.optim import LARS

    return LARS(model.parameters(), lr=0.0, momentum=float(t.momentum.value), weight_decay=float(t.weight_decay.value),
                trust_coefficient=float(t.trust_coefficient.value), eps=float(t.eps.value), clip=t.clip,
                lr_in_momentum=True)


@dataclass(frozen=True)
class FloatRun:
    """The trained float model and, if requested, its weights before every step."""

    model: nn.Sequential
    weights: tuple[tuple[np.ndarray, ...], ...]  # weights[t][l-1]: W_t,l as float64


def train_float(
    recipe: Recipe,
    x: np.ndarray,
    y: np.ndarray,
    batches: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None],
    keep_weights: bool = False,
    dtype: torch.dtype = torch.float64,
) -> FloatRun:
    """Train the float twin of ``recipe`` from the integer W_0 on the encoded data.

    ``x``, ``y``, ``batches`` as for ``engine.train``; the float inputs are x / 2^R, exactly.
    """
    R, k = recipe.quant.frac_bits, recipe.quant.lr_shift
    batch, outputs = recipe.train.batch_size, recipe.model.widths[-1]
    model = sequential(recipe, dtype)
    load_fixed_point(model, recipe, weights, biases)
    inputs = torch.from_numpy(x.astype(np.float64) / (1 << R)).to(dtype)
    targets = torch.from_numpy(y.astype(np.float64) / (1 << R)).to(dtype)
    optimizer = float_optimizer(model, recipe)
    loss_fn = loss_module(recipe)
    snapshots = []
    for t, lr_num in enumerate(recipe.train.lr_num):
        if keep_weights:
            snapshots.append(tuple(m.weight.detach().double().numpy().copy() for m in linears(model, recipe)))
        optimizer.param_groups[0]["lr"] = float(torch_lr_for(recipe.train.loss, lr_num, batch, outputs, k))
        rows = torch.from_numpy(batches[t])
        optimizer.zero_grad()
        loss_fn(model(inputs[rows]), targets[rows]).backward()
        optimizer.step()
    return FloatRun(model, tuple(snapshots))


def predict_float(model: nn.Sequential, x: np.ndarray, frac_bits: int) -> np.ndarray:
    """argmax of the float model on inputs encoded at 2^R, in eval mode (a normalization layer
    uses its running statistics); the model's mode is restored after."""
    dtype, training = next(model.parameters()).dtype, model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(x.astype(np.float64) / (1 << frac_bits)).to(dtype))
    finally:
        model.train(training)
    return out.argmax(dim=1).numpy()


@dataclass(frozen=True)
class Fidelity:
    """The fixed point against its float twin on one recipe and data set (``compare``): the
    engine's trace, both test accuracies, per step the largest relative distance of any layer's
    weights, and the engine's seconds."""

    trace: object
    fixed_accuracy: float
    float_accuracy: float
    distances: tuple[float, ...]
    engine_seconds: float


def compare(recipe: Recipe, data) -> Fidelity:
    """Train ``recipe`` on ``data`` (``zktrain.fixedpoint.data.EncodedData``) in the fixed point
    from its seeded W_0 and in float64 from the same W_0 on the same batches (``train_float``);
    the measures every fidelity test and benchmark reads."""
    import time

    from .engine import train

    model = FixedPointMLP.seeded(recipe)
    w0, b0 = list(model.weights), list(model.biases)
    start = time.perf_counter()
    trace = train(recipe, data.x_train, data.y_train, data.batches, model=model)
    seconds = time.perf_counter() - start
    floats = train_float(recipe, data.x_train, data.y_train, data.batches, w0, b0, keep_weights=True)
    fixed = float((model.predict(data.x_test) == data.labels_test).mean())
    reference = float((predict_float(floats.model, data.x_test, recipe.quant.frac_bits) == data.labels_test).mean())
    scale = 2.0 ** recipe.scales.weight
    distances = tuple(
        max(np.linalg.norm(rec.weight / scale - w) / np.linalg.norm(w) for rec, w in zip(step.layers, fw))
        for step, fw in zip(trace.steps, floats.weights)
    )
    return Fidelity(trace, fixed, reference, distances, seconds)

