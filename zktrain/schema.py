"""One run-file schema for ``zktrain train`` and ``zktrain prove`` (issue 14, item 3).

A run file states one training run; ``zktrain train`` trains it in float PyTorch with the
large-batch stack (``zktrain.train.config``) and ``zktrain prove`` trains it in the exact
fixed-point semantics and proves it (``zktrain.run_config``). Both read the keys below, so a key
is known to both or to neither: ``prove`` refuses an option of the float stack that is not
provable yet by naming it and saying so, never with "unknown key", and ``train`` reads the
proving sections (``quant``, ``prove``) without using them.

    section  key                   zktrain train                       zktrain prove
    (top)    name, seed, data      the run's name, seed and data (``zktrain.data``), in both
             quant                 not used                            the fixed-point widths
             prove                 not used                            the proving options
    model    kind                  a ``builders.MODELS`` entry (mlp)   mlp
             widths, bias          the layers, in both
             activation            relu, tanh, gelu                    relu
             linear                linear, ws_linear                   linear
             norm                  a ``builders.NORM_LAYERS`` entry    not provable yet
             init, init_path       ``committed``: W_0 from the .npz    seeded (from the recipe's seed) or committed
             torch                 "FILE.py:FUNCTION": the nn.Module that function returns, instead of
                                   kind/widths/...; prove checks it is provable and commits to its weights
    train    batch_size            the batch size, in both
             steps | epochs        exactly one; an epoch is rows // batch_size proven steps
             optimizer             a ``builders.OPTIMIZERS`` entry     sgd (default), without dampening,
                                                                       nesterov, maximize; its momentum and
                                                                       weight_decay as below
             momentum,             the optimizer's own options         quantized to the recipe's dyadics
             weight_decay          (shorthand for optimizer.momentum,  (circuits.momentum.recipe_hyperparameters);
                                   optimizer.weight_decay)             the fixed-point engine trains them,
                                                                       prove refuses them: not provable yet
             lr | lr_schedule      the rate (the optimizer's lr), or one rate per step, in both
             schedule, scale_lr,   the float stack's schedules         the rate of each step read from the
             regime_adaptation                                         same schedule, as ``train`` steps it
             batch_size_controller  a ``builders`` entry               fixed
             objective             a ``builders`` entry                standard
             loss                  cross_entropy (default) or mse      mse (default) or cross_entropy (the exact
                                                                       softmax of circuits.softmax, proven by
                                                                       verifier.losses)
             dtype                 float32 (default) or float64        not used: the fixed-point semantics
             drop_last             false (default) or true             true: every proven step is a full batch

Defaults differ where the two commands read files written before this schema: an absent
``loss`` is cross-entropy for ``train`` and MSE for ``prove``, ``optimizer`` is required by
``train`` and SGD for ``prove``, and ``prove`` always drops the last partial batch of an epoch.
A file that states them trains and proves the same run.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOP = frozenset({"name", "seed", "data", "model", "train", "quant", "prove"})
MODEL = frozenset({"kind", "widths", "bias", "activation", "linear", "norm", "init", "init_path", "torch"})
TRAIN = frozenset({
    "batch_size", "steps", "epochs", "optimizer", "lr", "lr_schedule", "schedule", "scale_lr", "regime_adaptation",
    "batch_size_controller", "objective", "loss", "dtype", "drop_last", "momentum", "weight_decay",
})
QUANT = frozenset({"frac_bits", "lr_shift", "value_bits", "weight_bits", "input_bits", "input_signed", "label_bits"})
PROVE = frozenset({"zk", "backend", "range_check", "segment_steps", "out"})
INITS = ("seeded", "committed")

#: The options of ``torch.optim.SGD`` (and of a run file's ``optimizer: {name: sgd, ...}``) that
#: change the update, with the value that keeps a step the proven one, W -= lr G (DESIGN
#: section 4). Any other value is not provable yet; the other options (lr, foreach, fused,
#: differentiable, decay_bias_and_norm) do not change the arithmetic of the step.
PROVABLE_SGD = {"momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False, "maximize": False}
NEUTRAL_SGD = frozenset({"lr", "foreach", "fused", "differentiable", "decay_bias_and_norm"})
#: The options of ``PROVABLE_SGD`` that are provable at any value all the same
#: (``circuits.recipe.TrainSpec``'s ``optimizer: sgd_momentum``, design (A) of docs/momentum.md,
#: ``verifier/optimizers.py``): ``zktrain.Recorder`` and run files take them quantized.
RECORDED_SGD = ("momentum", "weight_decay")


def provable_sgd() -> str:
    """The provable SGD, in words, for error messages."""
    fixed = ", ".join(f"{k}={v}" for k, v in PROVABLE_SGD.items() if k not in RECORDED_SGD)
    return f"torch.optim.SGD with {fixed} and any {' and '.join(RECORDED_SGD)}"


def unknown_key(section: Any, known: frozenset[str]) -> str | None:
    """The first key of ``section`` (a mapping) that the schema does not know, if any."""
    unknown = sorted(str(k) for k in set(section) - known)
    return unknown[0] if unknown else None


@dataclass(frozen=True)
class ModelFactory:
    """``model: {torch: "FILE.py:FUNCTION"}``: a Python file and the function in it that
    returns the model (an ``nn.Module``), called without arguments."""

    path: Path
    function: str

    @classmethod
    def parse(cls, value: Any, base_dir: str | Path | None) -> ModelFactory:
        """Read ``"FILE.py:FUNCTION"``; a relative file is relative to ``base_dir`` (the run file's)."""
        if not isinstance(value, str) or value.count(":") != 1:
            raise ValueError(f"model.torch: must be 'FILE.py:FUNCTION', got {value!r}")
        file, function = value.split(":")
        if not file.endswith(".py") or not function.isidentifier():
            raise ValueError(f"model.torch: must be 'FILE.py:FUNCTION' (a Python file and a function name), got {value!r}")
        path = Path(file)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        return cls(path, function)

    def __str__(self) -> str:
        return f"{self.path}:{self.function}"

    def build(self) -> Any:
        """Load the file as a fresh module and call the function; the caller checks the result
        and seeds torch's generator first (the factory's initialisation is the run's)."""
        if not self.path.is_file():
            raise ValueError(f"model.torch: file not found: {self.path}")
        # A name of its own per file, so two factories never share a module object.
        name = "zktrain_model_factory_" + hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
        spec = importlib.util.spec_from_file_location(name, self.path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # the user's code: any failure is this field's error
            raise ValueError(f"model.torch: loading {self.path} raised {type(err).__name__}: {err}") from err
        function = getattr(module, self.function, None)
        if not callable(function):
            raise ValueError(f"model.torch: {self.path} defines no function {self.function!r}")
        try:
            return function()
        except Exception as err:
            raise ValueError(f"model.torch: {self}() raised {type(err).__name__}: {err}") from err
