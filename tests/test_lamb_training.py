"""LAMB in the recipe and the fixed-point engine (issue 16 item 2): the recipe's fields, the
engine's steps as the kernel's, and digits training in fixed point against the float
``zktrain.optim.LAMB`` (the long runs: benchmarks/bench_large_batch_fidelity.py; docs/lamb.md)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from circuits.lars import quantize_relative
from circuits.mlp import MlpCircuit
from circuits.momentum import Dyadic, quantize
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from circuits.semantics import ce_lr_num, lamb_spec, relation_bounds
from zktrain.data import load_dataset
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import train
from zktrain.fixedpoint.lamb import LambState, lamb_step
from zktrain.fixedpoint.reference import compare

R = 16
BETA1 = Dyadic(1843, 11)  # 1 - 205/2^11: 0.9 with 1 - beta within 1/512
BETA2 = Dyadic.exact(1 - quantize_relative(0.001, "beta2").value, "beta2")


def lamb_recipe(steps: int = 30, lr: float = 0.01, wd: float = 0.01, **train) -> Recipe:
    lr_num = ce_lr_num(lr, 64, 16)
    options = dict(batch_size=64, steps=steps, lr_num=(lr_num,) * steps, loss="cross_entropy", optimizer="lamb",
                   beta1=BETA1, beta2=BETA2, weight_decay=quantize_relative(wd, "weight_decay"),
                   eps=quantize(1e-6, 32), buf_bits=48)
    return Recipe(name="digits-lamb", seed=0, data=DataSpec(source="digits", features=64, classes=10),
                  model=ModelSpec(widths=(64, 128, 128, 10)), train=TrainSpec(**{**options, **train}), quant=QuantSpec())


@pytest.fixture(scope="module")
def digits(single_threaded):
    recipe = lamb_recipe()
    return recipe, encode_dataset(load_dataset({"source": "digits"}), recipe)


def test_recipe_round_trips_and_names_its_fields():
    recipe = lamb_recipe(steps=2)
    raw = recipe.to_canonical_json()
    assert b'"optimizer":"lamb"' in raw and b'"beta1":{"num":1843,"shift":11}' in raw
    assert Recipe.from_canonical_json(raw) == recipe
    spec = lamb_spec(recipe)
    assert spec.one_minus_b1 == Dyadic(205, 11) and spec.inv_c == 64 and spec.adapt
    assert not lamb_spec(lamb_recipe(steps=2, weight_decay=Dyadic(0, 0))).adapt


@pytest.mark.parametrize("changes, message", [
    (dict(beta1=None), r"^train.beta1: optimizer lamb needs it$"),
    (dict(eps=Dyadic(0, 0)), r"^train.eps: must be > 0 for lamb"),
    (dict(beta2=Dyadic(1, 0)), r"^train.beta2: "),
    (dict(momentum=quantize(0.9, 15)), r"^train.momentum: not an option of optimizer lamb"),
    (dict(trust_coefficient=Dyadic(1, 10)), r"^train.trust_coefficient: not an option of optimizer lamb"),
])
def test_recipe_refuses_bad_lamb_fields_by_name(changes, message):
    with pytest.raises(RecipeError, match=message):
        lamb_recipe(steps=2, **changes)


def test_the_circuit_carries_the_recipes_lamb():
    """``MlpCircuit.from_recipe`` keeps the recipe's LAMB exactly (the proof's, docs/lamb.md
    section 4) and bounds the run's weights by its steps (``circuits.semantics.relation_bounds``);
    a recipe without decay (no layer adaptation) is refused by name."""
    recipe = lamb_recipe(steps=2)
    c = MlpCircuit.from_recipe(recipe)
    assert c.optimizer == "lamb" and c.lamb_spec() == lamb_spec(recipe)
    assert c.lamb_param_bits == max(relation_bounds(recipe)[k] for k in ("weight", "bias")).bit_length() + 1
    with pytest.raises(ValueError, match=r"lamb: weight_decay 0 \(no layer adaptation, phi = 1\) is not provable"):
        MlpCircuit.from_recipe(lamb_recipe(steps=2, weight_decay=Dyadic(0, 0)))


def test_engine_steps_are_the_kernels(digits):
    """Each weight's and bias's update is ``lamb_step`` on the engine's exact gradients, the
    moments carried and t counted from 1 (the bias corrections)."""
    recipe, data = digits
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=3, lr_num=recipe.train.lr_num[:3]))
    trace = train(recipe, data.x_train, data.y_train, data.batches[:3])
    spec = lamb_spec(recipe)
    states = {}
    for t, step in enumerate(trace.steps):
        for layer, m in zip(step.layers, step.momentum):
            for kind, param, grad, ours in (("W", layer.weight, layer.g_w.to_object(), (m.m, m.v, m.step, m.scalars)),
                                            ("b", layer.bias, layer.g_b, (m.bias_m, m.bias_v, m.bias_step, m.bias_scalars))):
                key = (kind, layer.layer)
                before = states.get(key, (np.zeros_like(param), np.zeros_like(param)))
                state, dp, scalars = lamb_step(LambState(param, *before, steps=t), grad, step.lr_num, spec, R, 16)
                assert np.array_equal(state.m, ours[0]) and np.array_equal(state.v, ours[1])
                assert np.array_equal(dp, ours[2]) and scalars == ours[3]
                states[key] = (state.m, state.v)
        assert all(s.a >= 1 << 30 for s in (m.scalars for m in step.momentum))


def test_fidelity_against_float_lamb(digits):
    """30 steps of digits on the mean cross-entropy at lr 0.01, betas (0.9, 0.999), eps 1e-6,
    weight decay 0.01: the fixed point and float64 ``zktrain.optim.LAMB`` (the recipe's dyadic
    options) from the same W_0 on the same batches: test accuracies within 1 point and weights
    within 2% (0.5% when written; 60 steps: 0.7%)."""
    recipe, data = digits
    f = compare(recipe, data)
    fixed, reference = f.fixed_accuracy, f.float_accuracy
    assert fixed > 0.6 and abs(fixed - reference) <= 0.01
    distances = f.distances
    assert distances[0] == 0.0 and distances[1] < 1e-4
    assert max(distances) < 0.02
