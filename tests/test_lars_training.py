"""LARS in the recipe and the fixed-point engine (issue 16 item 2): the recipe's fields, the
engine's steps as the kernel's, and digits training in fixed point against the float
``zktrain.optim.LARS`` (the full run is benchmarks/bench_large_batch_fidelity.py; docs/lars.md);
LARC (``train.clip``) likewise against ``zktrain.optim.LARS(clip=True)``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from circuits.lars import larc_multiplier, quantize_relative
from circuits.mlp import MlpCircuit
from circuits.momentum import Dyadic, quantize
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from circuits.semantics import ce_lr_num, declared_widths, lars_spec
from zktrain.data import load_dataset
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import train
from zktrain.fixedpoint.lars import lars_step
from zktrain.fixedpoint.reference import compare, float_optimizer, sequential

R = 16


def lars_recipe(steps: int = 40, lr: float = 0.2, trust: float = 0.02, wd: float = 1e-4, **train) -> Recipe:
    lr_num = ce_lr_num(lr, 64, 16)
    options = dict(batch_size=64, steps=steps, lr_num=(lr_num,) * steps, loss="cross_entropy", optimizer="lars",
                   momentum=quantize(0.9, 15), weight_decay=quantize_relative(wd, "weight_decay"),
                   trust_coefficient=quantize_relative(trust, "trust_coefficient"), eps=quantize(1e-8, 32),
                   buf_bits=48)
    return Recipe(name="digits-lars", seed=0, data=DataSpec(source="digits", features=64, classes=10),
                  model=ModelSpec(widths=(64, 128, 128, 10)), train=TrainSpec(**{**options, **train}), quant=QuantSpec())


@pytest.fixture(scope="module")
def digits(single_threaded):
    recipe = lars_recipe()
    return recipe, encode_dataset(load_dataset({"source": "digits"}), recipe)


# --- the recipe ------------------------------------------------------------------------------------


def test_recipe_round_trips_and_keeps_plain_sgd_bytes():
    recipe = lars_recipe(steps=2)
    raw = recipe.to_canonical_json()
    assert b'"optimizer":"lars"' in raw and b'"trust_coefficient":{"num":' in raw and b'"eps":{"num":43,"shift":32}' in raw
    assert Recipe.from_canonical_json(raw) == recipe
    plain = dataclasses.replace(recipe, train=TrainSpec(batch_size=64, steps=2, lr_num=recipe.train.lr_num))
    assert b'"trust_coefficient"' not in plain.to_canonical_json() and b'"eps"' not in plain.to_canonical_json()
    spec = lars_spec(recipe)
    assert spec.inv_c == 64 and spec.beta.value == recipe.train.weight_decay.value * 64
    assert declared_widths(recipe)["momentum_remainder"].bits == spec.rounding_shift(16)


@pytest.mark.parametrize("changes, message", [
    (dict(trust_coefficient=None), r"^train.trust_coefficient: optimizer lars needs it$"),
    (dict(eps=None), r"^train.eps: optimizer lars needs it$"),
    (dict(trust_coefficient=Dyadic(0, 0)), r"^train.trust_coefficient: must be > 0$"),
    (dict(optimizer="sgd_momentum"), r"^train.trust_coefficient: not an option of optimizer sgd_momentum"),
    (dict(optimizer="sgd", momentum=None, weight_decay=None, buf_bits=None, eps=None),
     r"^train.trust_coefficient: only with optimizer sgd_momentum"),
])
def test_recipe_refuses_bad_lars_fields_by_name(changes, message):
    with pytest.raises(RecipeError, match=message):
        lars_recipe(steps=2, **changes)


def test_the_circuit_takes_the_recipes_lars():
    """``MlpCircuit.from_recipe`` carries the recipe's LARS as the verifier needs it: mu, the
    folded beta_f, eta, E and 1/c (``lars_spec``), and the buffer's rounding shift K."""
    recipe = lars_recipe(steps=2)
    c = MlpCircuit.from_recipe(recipe)
    spec = lars_spec(recipe)
    assert c.optimizer == "lars" and c.lars_spec() == spec
    assert c.buffer_shift == spec.rounding_shift(16) == 24 + 16 + spec.beta.shift
    assert b'"trust_coefficient"' in c.encode() and b'"trust_coefficient"' not in MlpCircuit.from_recipe(
        dataclasses.replace(recipe, train=TrainSpec(64, 2, recipe.train.lr_num, loss="cross_entropy"))).encode()


# --- the engine ------------------------------------------------------------------------------------------


def test_engine_steps_are_the_kernels(digits):
    """Every weight's and bias's update in the engine is ``lars_step`` on the engine's own exact
    gradients, buffers carried from step to step."""
    recipe, data = digits
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=3, lr_num=recipe.train.lr_num[:3]))
    trace = train(recipe, data.x_train, data.y_train, data.batches[:3])
    spec = lars_spec(recipe)
    bufs = [(np.zeros_like(layer.weight), np.zeros_like(layer.bias)) for layer in trace.steps[0].layers]
    for t, step in enumerate(trace.steps):
        for layer, m in zip(step.layers, step.momentum):
            l = layer.layer
            g_w = layer.g_w.to_object()
            new_w, v_w, rem_w, s_w = lars_step(layer.weight, bufs[l - 1][0], g_w, step.lr_num, spec, 16, step=t)
            new_b, v_b, rem_b, s_b = lars_step(layer.bias, bufs[l - 1][1], layer.g_b, step.lr_num, spec, 16, step=t)
            assert np.array_equal(v_w, m.buf) and np.array_equal(rem_w, m.buf_rem) and s_w == m.scalars
            assert np.array_equal(v_b, m.bias_buf) and s_b == m.bias_scalars
            after = trace.steps[t + 1].layers[l - 1] if t + 1 < len(trace.steps) else None
            final_w = trace.final_weights[l - 1] if after is None else after.weight
            assert np.array_equal(new_w, final_w)
            bufs[l - 1] = (v_w, v_b)


def test_fidelity_against_float_lars(digits):
    """40 steps of digits on the mean cross-entropy, lr 0.2, eta 0.02, mu 0.9, wd 1e-4: the
    fixed point and float64 ``zktrain.optim.LARS`` (the recipe's own dyadic options) from the
    same W_0 on the same batches reach the same test accuracy within 1 point, and the weights
    stay within 2% of each other (0.4% when written; the 100-step run in docs/lars.md: 1%)."""
    recipe, data = digits
    f = compare(recipe, data)
    trace, fixed, reference = f.trace, f.fixed_accuracy, f.float_accuracy
    assert fixed > 0.8 and abs(fixed - reference) <= 0.01
    distances = f.distances
    assert distances[0] == 0.0 and distances[1] < 1e-5
    assert max(distances) < 0.02
    trust = [m.scalars.trust for m in trace.steps[-1].momentum]
    assert all(0 < v < 1 << 26 for v in trust)  # the layers' ratios, at 2^-24: below 4


# --- LARC (train.clip) ------------------------------------------------------------------------------


def test_recipe_clip_round_trips_and_keeps_lars_bytes():
    """``clip: true`` is in the canonical JSON and the spec; a LARS recipe has no ``clip`` key
    (its bytes are the ones before LARC existed), and an explicit ``"clip":false`` is not
    canonical. The float twin is ``zktrain.optim.LARS(clip=True)``."""
    recipe = lars_recipe(steps=2, clip=True)
    raw = recipe.to_canonical_json()
    assert b'"clip":true' in raw and Recipe.from_canonical_json(raw) == recipe
    assert lars_spec(recipe).clip and not lars_spec(lars_recipe(steps=2)).clip
    plain = lars_recipe(steps=2).to_canonical_json()
    assert b'"clip"' not in plain and raw.replace(b'"clip":true,', b"") == plain
    with pytest.raises(RecipeError, match=r"^recipe: not in canonical form"):
        Recipe.from_canonical_json(raw.replace(b'"clip":true', b'"clip":false'))
    groups = float_optimizer(sequential(recipe), recipe).param_groups
    assert all(g["clip"] for g in groups)
    assert not any(g["clip"] for g in float_optimizer(sequential(recipe), lars_recipe(steps=2)).param_groups)


@pytest.mark.parametrize("changes, message", [
    (dict(clip=1), r"^train.clip: must be true or false, got 1$"),
    (dict(optimizer="sgd_momentum", trust_coefficient=None, eps=None, clip=True),
     r"^train.clip: LARC's clipping is an option of optimizer lars only, not sgd_momentum$"),
])
def test_recipe_refuses_bad_clip_by_name(changes, message):
    with pytest.raises(RecipeError, match=message):
        lars_recipe(steps=2, **changes)


def test_larc_engine_against_float(digits):
    """40 steps of digits, lr 0.2, eta 0.02, LARC: every step's multiplier is
    ``larc_multiplier`` of the engine's own trust ratio, the clip binds on some tensors and
    steps and not on others (the weights: 63 clipped, 57 not when written), and the fixed point
    and float64 ``zktrain.optim.LARS(clip=True)`` reach the same test accuracy within 1 point with
    weights within 2% (0.13% when written)."""
    _, data = digits
    recipe = lars_recipe(clip=True)
    f = compare(recipe, data)
    spec, one = lars_spec(recipe), 1 << lars_spec(recipe).trust_bits
    sides = set()
    for step in f.trace.steps:
        for m in step.momentum:
            for s in (m.scalars, m.bias_scalars):
                zero = s.s_p == 0 or s.s_g == 0
                assert s.multiplier == larc_multiplier(s.trust, step.lr_num, spec, 16, zero_norm=zero)
                if not zero:
                    sides.add(s.multiplier == one)
    assert sides == {True, False}
    assert f.fixed_accuracy > 0.8 and abs(f.fixed_accuracy - f.float_accuracy) <= 0.01
    assert f.distances[0] == 0.0 and max(f.distances) < 0.02
