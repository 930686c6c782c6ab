"""``zktrain.Recorder``: record a PyTorch training loop in the exact fixed-point semantics,
prove it, and get the trained module back (issue 14; DESIGN sections 1 and 4).

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss())
    for x, y in loader:                        # DataLoader(..., drop_last=True): full batches
        rec.step(x, y)                         # one exact SGD step at the optimizer's current lr
        scheduler.step()
    summary = rec.prove("run.zkp")             # run.zkp and run.model.npz; the module holds W_T
    print(rec.fidelity(x_test, y_test))        # float replay vs fixed point

The model, optimizer and loss must be provable (``zktrain.provable``: today an
``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``, with ``zktrain.nn.GhostBatchNorm1d`` or
``nn.BatchNorm1d`` before every hidden ReLU or none (the recipe's ``model.norm: ghost_bn``,
docs/ghost_bn.md; the module's momentum and eps quantized, ``nn.BatchNorm1d``'s ghost batch
the whole batch; with plain SGD only), plain ``torch.optim.SGD`` and
``nn.MSELoss()`` or ``nn.CrossEntropyLoss()`` with its defaults, the exact softmax of
``circuits.softmax``); anything else is refused by name before the first step.
``torch.optim.SGD(momentum=mu, weight_decay=lam)`` (``dampening=0``, ``nesterov=False``) is
recorded as the recipe's ``optimizer: sgd_momentum`` with mu and lam quantized
(``circuits.momentum.recipe_hyperparameters``; both fixed for the run), each step design (A) of
docs/momentum.md; ``zktrain.optim.LARS`` (no clipping or Nesterov, the rate in the momentum,
every tensor adapted: one set of options for all param groups) as ``optimizer: lars``
(``circuits.lars.recipe_hyperparameters``, docs/lars.md); ``zktrain.optim.LAMB`` (bias correction,
every tensor decayed and adapted: ``weight_decay > 0``, no clipping) as ``optimizer: lamb``
(``circuits.lamb.recipe_hyperparameters``, docs/lamb.md). All are proven.

What is recorded, and what the proof then states:

* W_0 is the module's own initialisation, rounded to the master scale 2^(2R+k) (``to_master``)
  and committed (``model.init: committed``), so the user's initialisation is proven.
* Each ``step(x, y)`` is one engine step (``FixedPointMLP.step``) on that batch: ``x`` float
  features [B, d_0], encoded round_half_up(x 2^R); ``y`` either class labels [B] (integers,
  one-hot at 2^R) or float targets [B, d_L] (encoded like ``x``; at the default widths in
  [0, 2), e.g. one-hot or soft labels). Every step has the batch size of the first one.
* The rate is the optimizer's param-group ``lr`` at that step (so torch LR schedulers work),
  converted as run files convert theirs: lr_num = round(lr 2 / (B n_out) 2^k) for the mean MSE
  (``circuits.semantics.mse_lr_num``), round(lr / B 2^k) for the mean cross-entropy
  (``ce_lr_num``); ``rates`` and ``recipe().train.lr_num`` keep both.
* The data is private (``data.source: recorded``, ``binding: private``): the proof commits to
  the recorded batches. A DataLoader's sampler indices are recorded (``indices``) for the
  data-set binding of ``data.binding: public``/``committed``; the proof does not bind them yet.

The module always holds the recorder's weights: after each step its parameters are the
fixed-point W_t as their float32 copies (``verifier.model.float_copy``), and after ``prove``
the proven W_T from the model file. Updating it any other way (``optimizer.step()`` after a
backward pass) is caught at the next step. Inputs default to the widest encoding the recipe
allows (signed, ``quant.value_bits`` bits: |x| < 2^(Q-1-R)); ``quant`` narrows it, as a run
file's ``quant`` section does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from circuits.data import encode_inputs, encode_labels
from circuits.recipe import (
    MAX_LR_NUM,
    DataSpec,
    ModelSpec,
    QuantSpec,
    Recipe,
    TrainSpec,
)
from circuits.semantics import lr_num_for

from . import schema
from .atomic import write_atomic
from .fixedpoint.engine import FixedPointMLP
from .fixedpoint.trace import StepTrace, TrainingTrace
from .provable import (
    check_model,
    check_optimizer,
    load_norms,
    load_parameters,
    loss_name,
    master_parameters,
    norm_fields,
    optimizer_fields,
    step_rate,
)
from .prove import ProveSummary, plan_segments, prove_trace
from .run_config import parse_prove_options

__all__ = ["Fidelity", "Recorder", "indexed_batches"]

_WIDTHS = ("frac_bits", "lr_shift", "value_bits", "weight_bits")


@dataclass(frozen=True)
class Fidelity:
    """Float against fixed point after the same steps (``Recorder.fidelity``): the largest
    difference of any weight or bias (real units, and relative to the largest float weight),
    and both models' accuracy on the same samples."""

    steps: int
    max_weight_difference: float
    relative_weight_difference: float
    float_accuracy: float
    fixed_point_accuracy: float
    samples: int

    def __str__(self) -> str:
        return (f"after {self.steps} steps: weights differ by at most {self.max_weight_difference:.3g} "
                f"({self.relative_weight_difference:.2g} of the largest); accuracy on {self.samples} samples: "
                f"float {self.float_accuracy:.2%}, fixed point {self.fixed_point_accuracy:.2%}")


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _quant(quant: Any) -> tuple[QuantSpec, dict]:
    """``quant`` (None, a run file's quant mapping, or a QuantSpec) as the recipe's widths and
    the data encoding: inputs signed in value_bits bits unless given, labels R + 1 bits."""
    if isinstance(quant, QuantSpec):
        quant = asdict(quant)
    quant = {} if quant is None else quant
    if not isinstance(quant, Mapping):
        raise TypeError(f"quant: must be a mapping of {', '.join(sorted(schema.QUANT))} or a QuantSpec, got {quant!r}")
    unknown = schema.unknown_key(quant, schema.QUANT)
    if unknown is not None:
        raise ValueError(f"quant.{unknown}: unknown key (allowed: {', '.join(sorted(schema.QUANT))})")
    spec = QuantSpec(**{k: quant[k] for k in _WIDTHS if k in quant})
    encoding = {
        "input_signed": quant.get("input_signed", True),
        "input_bits": quant.get("input_bits", spec.value_bits),
        "label_bits": quant.get("label_bits", spec.frac_bits + 1),
    }
    return spec, encoding


class Recorder:
    """Records exact fixed-point SGD steps of a provable torch model and proves them (module
    docstring). ``name`` and ``seed`` go into the recipe."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: nn.Module, quant: Any = None,
                 *, name: str = "recorded", seed: int = 0):
        self._mlp = check_model(model)
        check_optimizer(optimizer, self._mlp)
        #: the recipe's optimizer fields (``zktrain.provable.optimizer_fields``): {} for plain SGD,
        #: ``sgd_momentum``'s, ``lars``'s or ``lamb``'s hyperparameters as dyadics
        self.optimizer_fields = optimizer_fields(optimizer)
        #: the recipe's ``train.loss``: ``mse`` or ``cross_entropy``
        self.loss_name = loss_name(loss)
        self.model, self.optimizer, self.loss = model, optimizer, loss
        self.name, self.seed = name, seed
        self._quant, self._encoding = _quant(quant)
        self._initial = master_parameters(self._mlp, self._quant.rescale_bits)
        # The engine checks W_0 against quant.weight_bits now, naming the tensor; the recorded
        # batch size is only known at the first step. Batch 2 (or a Ghost BN's virtual batch,
        # which must divide it) stands in: LARS and LAMB need the loss factor's inverse 1/c as an
        # integer, which B n_out / 2 (the mean MSE) is for an even B whatever the outputs.
        FixedPointMLP(self._recipe(max([2] + [getattr(m, "virtual_batch_size", 2) for m in self._mlp.norms]), (0,)),
                      *self._initial)
        self._engine: FixedPointMLP | None = None
        self._steps: list[StepTrace] = []
        self._seconds = 0.0
        #: the float rate read from the optimizer at each step
        self.rates: list[float] = []
        #: each step's rows of the DataLoader's dataset, or None where the batch came without them
        self.indices: list[np.ndarray | None] = []
        self._held = self._snapshot()

    # --- the recipe --------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return len(self._steps)

    def _recipe(self, batch: int, lr_num: tuple[int, ...]) -> Recipe:
        widths = self._mlp.widths
        return Recipe(
            name=self.name,
            seed=self.seed,
            data=DataSpec(source="recorded", features=widths[0], classes=widths[-1], **self._encoding),
            model=ModelSpec(widths=widths, bias=self._mlp.bias, init="committed",
                            **norm_fields(self._mlp, batch, self._quant.frac_bits)),
            train=TrainSpec(batch_size=batch, steps=len(lr_num), lr_num=lr_num, loss=self.loss_name,
                            **self.optimizer_fields),
            quant=self._quant,
        )

    def recipe(self) -> Recipe:
        """The recipe of the steps recorded so far: what a proof of them states."""
        if not self._steps:
            raise ValueError("no step recorded yet: call step(x, y) first")
        return self._recipe(self._engine.recipe.train.batch_size, tuple(s.lr_num for s in self._steps))

    def trace(self) -> TrainingTrace:
        """The recorded run as the engine's trace, under ``recipe()``."""
        recipe, norms = self.recipe(), self._engine.norm_state()
        return TrainingTrace(recipe, tuple(self._steps), tuple(self._engine.weights), tuple(self._engine.biases),
                             None if norms is None else tuple(norms))

    # --- recording ---------------------------------------------------------------------------
    def step(self, x: Any, y: Any, indices: Any = None) -> float:
        """One exact SGD step on the batch (``x``, ``y``) at the optimizer's current rate,
        recorded; ``indices``: the batch's rows in its data set, if known. Returns the batch's
        mean loss (MSE, or the cross-entropy of the fixed-point logits) before the update, as
        ``loss(model(x), target)`` would."""
        t = len(self._steps)
        x = _numpy(x)
        features = self._mlp.widths[0]
        if x.ndim != 2 or x.shape[1] != features:
            raise ValueError(f"step {t}: x must have shape (batch, {features}), got {x.shape}")
        batch = x.shape[0]
        if self._engine is None:
            self._engine = FixedPointMLP(self._recipe(batch, (0,)), *self._initial)
        elif batch != self._engine.recipe.train.batch_size:
            raise ValueError(
                f"step {t}: a batch of {batch} rows; the recorded run's batches have "
                f"{self._engine.recipe.train.batch_size} (every proven step has the same batch size: "
                "DataLoader(..., drop_last=True))"
            )
        xi, yi = encode_inputs(x, self._quant.frac_bits), self._targets(y, batch, t)
        rows = self._rows(indices, batch, t)
        self._check_held(t)
        check_optimizer(self.optimizer, self._mlp)
        if optimizer_fields(self.optimizer) != self.optimizer_fields:
            from .provable import NotProvableError

            options = [o for o in ("momentum", "weight_decay", "trust_coefficient", "eps") if o in self.optimizer.defaults]
            now = ", ".join(f"{o} {[g.get(o) for g in self.optimizer.param_groups]}" for o in options)
            raise NotProvableError(f"step {t}: the optimizer's hyperparameters changed since the first step ({now}); "
                                   "the recipe has one of each")
        rate = step_rate(self.optimizer, t)
        lr_num = lr_num_for(self.loss_name, rate, batch, self._mlp.widths[-1], self._quant.lr_shift)
        if lr_num > MAX_LR_NUM:
            raise ValueError(f"step {t}: lr {rate} is lr_num {lr_num} / 2^{self._quant.lr_shift}, beyond the recipe's "
                             f"limit of {MAX_LR_NUM}")

        engine, start = self._engine, time.perf_counter()
        before = list(engine.weights), list(engine.biases)
        try:
            record = engine.step(xi, yi, lr_num, t, np.full(batch, -1) if rows is None else rows)
        except ValueError:
            # A width error mid-update must not leave some layers updated.
            engine.weights, engine.biases = before
            raise
        self._seconds += time.perf_counter() - start
        self._steps.append(record)
        self.rates.append(rate)
        self.indices.append(rows)
        self._load(engine.weights, engine.biases, engine.norms)
        self._release_optimizer()
        unit = float(1 << self._quant.frac_bits)
        if self.loss_name == "cross_entropy":
            logits, targets = (torch.from_numpy(v.astype(np.float64) / unit) for v in (record.output, record.y))
            return float(nn.functional.cross_entropy(logits, targets))
        error = (record.output - record.y).astype(np.float64) / unit
        return float(np.mean(error**2))

    def fit(self, loader: Iterable, epochs: int = 1, scheduler: Any = None) -> int:
        """Record every batch of ``epochs`` passes over ``loader`` (pairs ``(x, y)``), stepping
        ``scheduler`` after each step as ``zktrain train`` steps its schedules; returns the
        number of steps recorded. A torch DataLoader over a map-style data set is driven through
        its batch sampler, so each batch's rows are recorded (``indices``). A per-epoch
        schedule is a loop of ``step`` calls and ``scheduler.step()`` per epoch."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs: must be a positive integer, got {epochs!r}")
        first = len(self._steps)
        for _ in range(epochs):
            for x, y, rows in indexed_batches(loader):
                self.step(x, y, rows)
                if scheduler is not None:
                    scheduler.step()
        return len(self._steps) - first

    def _targets(self, y: Any, batch: int, t: int) -> np.ndarray:
        """Class labels [B] -> one-hot at 2^R; float targets [B, d_L] -> round_half_up(y 2^R)."""
        y, classes, frac_bits = _numpy(y), self._mlp.widths[-1], self._quant.frac_bits
        if y.ndim == 1 and y.shape[0] == batch and y.dtype.kind in "iu":
            return encode_labels(y, classes, frac_bits)
        if y.ndim == 2 and y.shape == (batch, classes):
            encoded = encode_inputs(y, frac_bits)
            one_hot = np.isin(encoded, (0, 1 << frac_bits)).all() and (encoded.sum(axis=1) == 1 << frac_bits).all()
            if self.loss_name == "cross_entropy" and not one_hot:
                raise ValueError(f"step {t}: nn.CrossEntropyLoss takes class labels or one-hot targets here "
                                 "(soft targets are not in the semantics)")
            return encoded
        raise ValueError(f"step {t}: y must be class labels of shape ({batch},) (integers) or targets of shape "
                         f"({batch}, {classes}), got {y.dtype} {y.shape}")

    @staticmethod
    def _rows(indices: Any, batch: int, t: int) -> np.ndarray | None:
        if indices is None:
            return None
        rows = _numpy(indices)
        if rows.shape != (batch,) or rows.dtype.kind not in "iu" or (rows.size and rows.min() < 0):
            raise ValueError(f"step {t}: indices must be {batch} non-negative row numbers, got {rows.dtype} {rows.shape}")
        return rows.astype(np.int64)

    # --- the module ---------------------------------------------------------------------------
    def _snapshot(self) -> list[tuple[str, torch.Tensor]]:
        return [(name, p.detach().clone()) for name, p in self.model.named_parameters()]

    def _check_held(self, t: int) -> None:
        """The module still holds what the recorder last put there."""
        for (name, held), p in zip(self._held, self.model.parameters()):
            if not torch.equal(held, p.detach()):
                raise ValueError(
                    f"step {t}: model.{name} changed outside the recorder since the last step; the recorder makes "
                    "the updates (call rec.step(x, y) instead of loss.backward() and optimizer.step())"
                )

    def _load(self, weights, biases, norms=None) -> None:
        """Write fixed-point weights, biases and (with Ghost BN) the normalization state into the module."""
        load_parameters(self._mlp, weights, biases, self._quant.rescale_bits)
        if norms is not None:
            load_norms(self._mlp, norms, self._quant.rescale_bits, self._quant.frac_bits)
        self._held = self._snapshot()

    def _release_optimizer(self) -> None:
        """Let the optimizer take its step without gradients: SGD then changes nothing, but an
        LR scheduler sees the optimizer stepped before itself (torch warns otherwise)."""
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                p.grad = None
        self.optimizer.step()

    # --- proving ------------------------------------------------------------------------------
    def prove(self, path: str | Path, zk: bool = True, segment_steps: int | None = None, range_check: str = "limbs",
              *, model_path: str | Path | None = None, backend: str = "auto",
              progress: Callable[[str], None] | None = None) -> ProveSummary:
        """Prove the recorded steps; write the bundle to ``path`` and the model file (final
        weights with the opening of their commitments, secret in the zero-knowledge mode) to
        ``model_path`` (default: ``path`` with the suffix ``.model.npz``), each atomically; load
        the proven weights into the module. Returns ``zktrain prove``'s summary (its accuracy
        is on the recorded batches' rows; there is no test set)."""
        trace = self.trace()
        options = parse_prove_options({"zk": zk, "backend": backend, "range_check": range_check,
                                       "segment_steps": segment_steps})
        statements, field_backend = plan_segments(trace.recipe, options)
        proof = prove_trace(statements, field_backend, trace, zk, progress)
        path = Path(path)
        write_atomic(path, proof.bundle)
        write_atomic(Path(model_path) if model_path else path.with_suffix(".model.npz"), proof.model.to_bytes(), private=zk)
        layers = range(1, len(self._mlp.widths))
        self._load([proof.model.tensors[f"W{l}"] for l in layers], [proof.model.tensors.get(f"b{l}") for l in layers])
        x, labels = self._recorded_rows()
        accuracy = float(np.mean(FixedPointMLP(trace.recipe, *self._final(), norms=self._engine.norm_state()).predict(x)
                                 == labels))
        return proof.summary(len(trace.steps), (accuracy, None), self._seconds)

    def _final(self) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        return list(self._engine.weights), list(self._engine.biases)

    def _recorded_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Every recorded row's encoded input and class (the argmax of its target)."""
        x = np.concatenate([s.x for s in self._steps])
        return x, np.argmax(np.concatenate([s.y for s in self._steps]), axis=1)

    # --- fidelity -----------------------------------------------------------------------------
    def fidelity(self, x: Any = None, y: Any = None) -> Fidelity:
        """Replay the recorded steps in float64 torch (``fixedpoint.reference.train_float``: the
        same W_0, the same encoded batches, SGD on the recipe's mean loss at the very rate each lr_num
        stands for) and compare with the fixed-point weights (and Ghost BN's gamma, beta); accuracies on (``x``, ``y``), class
        labels or targets (their argmax), or on the recorded rows when no data is given."""
        from .fixedpoint.reference import linears, norms, predict_float, train_float

        if (x is None) != (y is None):
            raise ValueError("fidelity: give both x and y, or neither (the recorded rows)")
        recipe = self.recipe()
        recorded_x, recorded_labels = self._recorded_rows()
        batch = recipe.train.batch_size
        batches = np.arange(len(self._steps) * batch).reshape(len(self._steps), batch)
        ys = np.concatenate([s.y for s in self._steps])
        replay = train_float(recipe, recorded_x, ys, batches, *self._initial).model
        weights, biases = self._final()
        states = self._engine.norm_state() or []
        scale, largest, difference = float(1 << recipe.scales.weight), 0.0, 0.0
        tensors = [(layer.weight, w) for layer, w in zip(linears(replay, recipe), weights)]
        tensors += [(layer.bias, b) for layer, b in zip(linears(replay, recipe), biases) if b is not None]
        tensors += [(p, master) for bn, state in zip(norms(replay, recipe), states)
                    for p, master in zip((bn.weight, bn.bias), state[:2])]
        for param, master in tensors:  # weights, biases, and Ghost BN's gamma and beta (at 2^S too)
            values = param.detach().double().numpy()
            difference = max(difference, float(np.abs(values - master / scale).max()))
            largest = max(largest, float(np.abs(values).max()))
        if x is None:
            inputs, labels = recorded_x, recorded_labels
        else:
            inputs, labels = encode_inputs(_numpy(x), recipe.quant.frac_bits), _numpy(y)
            labels = labels if labels.ndim == 1 else np.argmax(labels, axis=1)
        fixed = FixedPointMLP(recipe, weights, biases, norms=self._engine.norm_state())
        return Fidelity(
            steps=len(self._steps),
            max_weight_difference=difference,
            relative_weight_difference=difference / largest if largest else 0.0,
            float_accuracy=float(np.mean(predict_float(replay, inputs, recipe.quant.frac_bits) == labels)),
            fixed_point_accuracy=float(np.mean(fixed.predict(inputs) == labels)),
            samples=len(labels),
        )


def indexed_batches(loader: Iterable) -> Iterator[tuple[Any, Any, np.ndarray | None]]:
    """(x, y, rows) per batch. A DataLoader with a batch sampler over a map-style data set is
    read through its sampler (the rows it yields, fetched and collated as the loader would in
    its main process), so the rows are known; any other iterable yields (x, y) pairs alone."""
    from torch.utils.data import DataLoader, IterableDataset

    if isinstance(loader, DataLoader) and loader.batch_sampler is not None and not isinstance(loader.dataset, IterableDataset):
        dataset = loader.dataset
        for rows in loader.batch_sampler:
            items = dataset.__getitems__(rows) if callable(getattr(dataset, "__getitems__", None)) else [dataset[i] for i in rows]
            x, y = loader.collate_fn(items)
            yield x, y, np.asarray(rows, dtype=np.int64)
        return
    for x, y in loader:
        yield x, y, None
