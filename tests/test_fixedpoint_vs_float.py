"""The fixed-point engine and its float PyTorch twin learn the same digits model (DESIGN section 4)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec
from circuits.semantics import mse_lr_num
from zktrain.data import load_dataset
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, train
from zktrain.fixedpoint.reference import linears, load_fixed_point, predict_float, quantize, sequential, train_float

STEPS = 300  # about 13 epochs of the 1437 training digits at batch 64


def digits_recipe(steps: int = STEPS) -> Recipe:
    lr_num = mse_lr_num(1.0, batch_size=64, outputs=10, lr_shift=16)  # 205: SGD lr 1.0 on mean MSE
    return Recipe(
        name="digits-mlp",
        seed=0,
        data=DataSpec(source="digits", features=64, classes=10),
        model=ModelSpec(widths=(64, 128, 128, 10)),
        train=TrainSpec(batch_size=64, steps=steps, lr_num=(lr_num,) * steps),
        quant=QuantSpec(),
    )


@pytest.fixture(scope="module")
def runs(single_threaded):
    recipe = digits_recipe()
    data = encode_dataset(load_dataset({"source": "digits"}), recipe)
    model = FixedPointMLP.seeded(recipe)
    w0, b0 = list(model.weights), list(model.biases)
    trace = train(recipe, data.x_train, data.y_train, data.batches, model=model)
    floats = train_float(recipe, data.x_train, data.y_train, data.batches, w0, b0, keep_weights=True)
    return recipe, data, model, trace, floats


def test_test_accuracies_agree_within_two_points(runs):
    recipe, data, model, _, floats = runs
    fixed = float((model.predict(data.x_test) == data.labels_test).mean())
    reference = float((predict_float(floats.model, data.x_test, recipe.quant.frac_bits) == data.labels_test).mean())
    assert fixed > 0.9 and reference > 0.9  # both learned
    assert abs(fixed - reference) <= 0.02


def test_per_step_weights_stay_close(runs):
    recipe, _, _, trace, floats = runs
    scale = 2.0 ** recipe.scales.weight
    distances = []
    for step, float_weights in zip(trace.steps, floats.weights):
        distances.append(
            max(
                np.linalg.norm(rec.weight / scale - w) / np.linalg.norm(w)
                for rec, w in zip(step.layers, float_weights)
            )
        )
    assert distances[0] == 0.0  # the same W_0
    # After one step only the rounding of each rescale (2^-17 relative) separates them.
    assert distances[1] < 1e-5
    # ReLU units within 2^-17 of zero may flip; the trajectories then drift apart slowly.
    assert max(distances) < 0.02


def test_a_wrong_learning_rate_in_the_reference_would_show():
    """The closeness above is a real check: a 1% different learning rate breaks the 1e-5 bound."""
    recipe = digits_recipe(steps=2)
    data = encode_dataset(load_dataset({"source": "digits"}), recipe)
    model = FixedPointMLP.seeded(recipe)
    w0, b0 = list(model.weights), list(model.biases)
    trace = train(recipe, data.x_train, data.y_train, data.batches, model=model)
    off = dataclasses.replace(recipe, train=TrainSpec(64, 2, (207, 207)))
    floats = train_float(off, data.x_train, data.y_train, data.batches, w0, b0, keep_weights=True)
    scale = 2.0 ** recipe.scales.weight
    rel = max(
        np.linalg.norm(rec.weight / scale - w) / np.linalg.norm(w)
        for rec, w in zip(trace.steps[1].layers, floats.weights[1])
    )
    assert rel > 1e-5


def test_reference_model_mirrors_the_recipe_and_round_trips_weights():
    recipe = digits_recipe(steps=1)
    model = sequential(recipe)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    fixed = FixedPointMLP.seeded(recipe)
    load_fixed_point(model, recipe, fixed.weights, fixed.biases)
    again = quantize(model, recipe)
    assert all(np.array_equal(a, b) for a, b in zip(again.weights, fixed.weights))
    assert all(np.array_equal(a, b) for a, b in zip(again.biases, fixed.biases))
    with pytest.raises(ValueError, match="expected the layers"):
        linears(torch.nn.Sequential(torch.nn.Linear(64, 10)), recipe)
    wrong = sequential(recipe)
    wrong[2] = torch.nn.Linear(128, 128, bias=False, dtype=torch.float64)
    with pytest.raises(ValueError, match="Linear 2"):
        linears(wrong, recipe)
