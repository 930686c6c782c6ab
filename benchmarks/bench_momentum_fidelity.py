"""Fidelity of SGD with momentum and weight decay in exact fixed point (issue 15 item 4; design
(A) of docs/momentum.md): digits 64-128-128-10, batch 64, 300 steps on the mean cross-entropy,
the fixed-point engine against float64 PyTorch (``torch.optim.SGD(momentum, weight_decay)``
with the recipe's own dyadic values), from the same seeded W_0 on the same batches.

Prints, per configuration: the test accuracies, the largest relative weight distance over the
run, and the engine's and the float reference's seconds (single-threaded). The test
``tests/test_momentum_training.py::test_fidelity_against_float_pytorch_with_momentum`` runs the
default configuration; the table in docs/momentum.md section 7 is this script's output.

    .venv/bin/python benchmarks/bench_momentum_fidelity.py [--steps 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from circuits.momentum import recipe_hyperparameters
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec
from circuits.semantics import ce_lr_num
from zktrain.data import load_dataset
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, train
from zktrain.fixedpoint.reference import predict_float, train_float

#: (lr, momentum, weight_decay): plain SGD at the CE fidelity test's rate, then momentum 0.9
#: at a tenth of it (the same effective step lr / (1 - mu)), with and without decay.
CONFIGS = [(0.3, 0.0, 0.0), (0.04, 0.9, 0.0), (0.04, 0.9, 1e-4), (0.03, 0.9, 1e-4), (0.05, 0.9, 5e-4)]


def recipe_for(steps: int, lr: float, mu: float, lam: float) -> Recipe:
    lr_num = ce_lr_num(lr, 64, 16)
    state = {}
    if mu or lam:
        m, l = recipe_hyperparameters(mu, lam)
        state = {"optimizer": "sgd_momentum", "momentum": m, "weight_decay": l, "buf_bits": 48}
    return Recipe(name="digits-momentum", seed=0, data=DataSpec(), model=ModelSpec(),
                  train=TrainSpec(64, steps, (lr_num,) * steps, loss="cross_entropy", **state), quant=QuantSpec())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = load_dataset({"source": "digits"})
    print("| lr | momentum (dyadic) | weight decay (dyadic) | lr_num | fixed acc | float acc | max rel. weight dist. | "
          "engine s | float s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lr, mu, lam in CONFIGS:
        recipe = recipe_for(args.steps, lr, mu, lam)
        data = encode_dataset(dataset, recipe)
        with threadpool_limits(1):
            model = FixedPointMLP.seeded(recipe)
            w0, b0 = list(model.weights), list(model.biases)
            t0 = time.perf_counter()
            trace = train(recipe, data.x_train, data.y_train, data.batches, model=model)
            t1 = time.perf_counter()
            floats = train_float(recipe, data.x_train, data.y_train, data.batches, w0, b0, keep_weights=True)
            t2 = time.perf_counter()
        fixed = float((model.predict(data.x_test) == data.labels_test).mean())
        reference = float((predict_float(floats.model, data.x_test, 16) == data.labels_test).mean())
        scale = 2.0 ** recipe.scales.weight
        distance = max(
            max(np.linalg.norm(rec.weight / scale - w) / np.linalg.norm(w) for rec, w in zip(step.layers, fw))
            for step, fw in zip(trace.steps, floats.weights)
        )
        t = recipe.train
        shown = [f"{d.num}/2^{d.shift}" if d is not None else "-" for d in (t.momentum, t.weight_decay)]
        print(f"| {lr} | {mu} ({shown[0]}) | {lam} ({shown[1]}) | {t.lr_num[0]} | {fixed:.2%} | {reference:.2%} | "
              f"{distance:.4f} | {t1 - t0:.1f} | {t2 - t1:.1f} |")


if __name__ == "__main__":
    main()
