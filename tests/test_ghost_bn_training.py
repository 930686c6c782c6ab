"""Ghost Batch Norm in the fixed-point engine and its float twin (issue 17; docs/ghost_bn.md):
the recipe's ``model.norm: ghost_bn``, the engine's step against the kernel
(``zktrain.fixedpoint.ghost_bn``) tensor by tensor, the trace contract the prover reads, width
errors, checkpoint resume, eval mode, and a training run against ``GhostBatchNorm1d`` in float64."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from circuits.ghost_bn import initial_parameters, recipe_hyperparameters
from circuits.momentum import Dyadic
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from circuits.semantics import mse_lr_num, norm_spec, seeded_norms
from zktrain.data import load_dataset
from zktrain.fixedpoint import ghost_bn
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, WidthError, train
from zktrain.fixedpoint.reference import (
    compare,
    load_fixed_point,
    load_norms,
    norms,
    quantize,
    sequential,
    train_float,
)
from zktrain.nn import GhostBatchNorm1d

MOMENTUM, EPS = recipe_hyperparameters(0.1, 1e-5, 16)  # 3277/2^15, 42950/2^32


def bn_model(**changes) -> ModelSpec:
    fields = dict(widths=(64, 128, 128, 10), norm="ghost_bn", virtual_batch_size=32, bn_momentum=MOMENTUM, bn_eps=EPS)
    return ModelSpec(**{**fields, **changes})


def bn_recipe(steps: int = 4, lr: float = 0.2, model: ModelSpec | None = None, **train) -> Recipe:
    lr_num = mse_lr_num(lr, batch_size=64, outputs=10, lr_shift=16)
    return Recipe(name="digits-ghost-bn", seed=0, data=DataSpec(source="digits", features=64, classes=10),
                  model=model or bn_model(), train=TrainSpec(batch_size=64, steps=steps, lr_num=(lr_num,) * steps,
                                                             **train), quant=QuantSpec())


@pytest.fixture(scope="module")
def digits():
    return load_dataset({"source": "digits"})


def encoded(digits, recipe):
    return encode_dataset(digits, recipe)


# --- the recipe ------------------------------------------------------------------------------


def test_recipe_fields_round_trip_and_map_to_the_spec():
    recipe = bn_recipe()
    raw = recipe.to_canonical_json()
    assert b'"norm":"ghost_bn"' in raw and b'"virtual_batch_size":32' in raw
    assert b'"bn_momentum":{"num":3277,"shift":15}' in raw and b'"bn_eps":{"num":21475,"shift":31}' in raw
    assert Recipe.from_canonical_json(raw) == recipe
    spec = norm_spec(recipe)
    assert (spec.batch_size, spec.virtual_batch_size, spec.momentum, spec.eps_int) == (64, 32, MOMENTUM, 42950)
    assert (spec.frac_bits, spec.lr_shift, spec.value_bits, spec.weight_bits) == (16, 16, 32, 56)


def test_norm_none_keeps_its_bytes():
    plain = dataclasses.replace(bn_recipe(), model=ModelSpec())
    raw = plain.to_canonical_json()
    assert b"norm" not in raw and b"bn_" not in raw and b"virtual_batch_size" not in raw
    assert norm_spec(plain) is None and seeded_norms(plain) is None
    explicit = raw.replace(b'"kind":"mlp"', b'"kind":"mlp","norm":"none"')
    with pytest.raises(RecipeError, match="not in canonical form"):
        Recipe.from_canonical_json(explicit)


@pytest.mark.parametrize("build, message", [
    (lambda: bn_model(virtual_batch_size=24), r"model.virtual_batch_size: must be a power of two"),
    (lambda: bn_model(virtual_batch_size=1), r"model.virtual_batch_size: must lie in \[2,"),
    (lambda: bn_model(virtual_batch_size=None), r"model.virtual_batch_size: norm ghost_bn needs it"),
    (lambda: bn_model(bn_eps=None), r"model.bn_eps: norm ghost_bn needs it"),
    (lambda: ModelSpec(bn_momentum=MOMENTUM), r"model.bn_momentum: only with norm ghost_bn"),
    (lambda: bn_model(norm="batchnorm"), r"model.norm: must be one of \['none', 'ghost_bn'\]"),
    (lambda: bn_model(bn_momentum=Dyadic(3, 1)), r"model.bn_momentum: must lie in \[0, 1\]"),
    (lambda: bn_model(bn_eps=Dyadic(0, 0)), r"model.bn_eps: must be > 0"),
    (lambda: bn_model(bn_eps=0.5), r"model.bn_eps: must be a dyadic"),
])
def test_model_spec_refuses_by_name(build, message):
    with pytest.raises(RecipeError, match=message):
        build()


def test_recipe_refuses_by_name():
    with pytest.raises(RecipeError, match="model.virtual_batch_size: 128 must divide train.batch_size 64"):
        bn_recipe(model=bn_model(virtual_batch_size=128))
    with pytest.raises(RecipeError, match=r"model.bn_eps: must be a multiple of 2\^-\(2 frac_bits\) = 2\^-16"):
        dataclasses.replace(bn_recipe(), quant=QuantSpec(frac_bits=8, lr_shift=16, value_bits=24))
    with pytest.raises(RecipeError, match="model.norm: ghost BN value_bits: must lie in"):
        dataclasses.replace(bn_recipe(), quant=QuantSpec(value_bits=50, weight_bits=62))


def test_seeded_norms_are_torchs_fresh_state():
    recipe = bn_recipe()
    state = seeded_norms(recipe)
    assert len(state) == 2
    for got, want in zip(state, [initial_parameters(norm_spec(recipe), 128)] * 2):
        for a, b in zip(got, want):
            assert a.dtype == np.int64 and np.array_equal(a, b)
    gamma, beta, mean, var = state[0]
    assert (gamma == 1 << 48).all() and (beta == 0).all() and (mean == 0).all() and (var == 1 << 32).all()


# --- the engine's step against the kernel ------------------------------------------------------


@pytest.fixture(scope="module")
def run(digits):
    recipe = bn_recipe(steps=3)
    data = encoded(digits, recipe)
    return recipe, data, train(recipe, data.x_train, data.y_train, data.batches)


def test_trace_is_the_kernel_layer_by_layer(run):
    recipe, _, trace = run
    spec, q = norm_spec(recipe), recipe.quant
    state = seeded_norms(recipe)
    for t, step in enumerate(trace.steps):
        hidden, out = step.layers[:-1], step.layers[-1]
        assert out.norm is None
        inputs = [step.x] + [layer.a for layer in hidden]
        following = list(step.layers[1:])
        for l, layer in enumerate(hidden, start=1):
            norm = layer.norm
            gamma, beta, mean, var = state[l - 1]
            for got, want in zip((norm.gamma, norm.beta, norm.running_mean, norm.running_var), state[l - 1]):
                assert got.dtype == np.int64 and np.array_equal(got, want)
            fwd = ghost_bn.forward_train(spec, layer.z, gamma, beta)
            assert np.array_equal(norm.y, fwd.out)
            assert np.array_equal(layer.sign, (norm.y <= 0).astype(np.uint8))
            assert np.array_equal(layer.a, np.where(norm.y <= 0, 0, norm.y))
            assert np.array_equal(norm.dy, np.where(layer.sign, 0, layer.g_a))
            bwd = ghost_bn.backward(spec, fwd.xhat, fwd.rstd, gamma, norm.dy)
            assert np.array_equal(layer.g_z, bwd.g_in)  # G_Z is BN's dx
            assert np.array_equal(layer.g_w.to_object(), layer.g_z.astype(object).T.dot(inputs[l - 1].astype(object)))
            assert np.array_equal(layer.g_b, layer.g_z.sum(axis=0) << q.frac_bits)
            # G'_A of this layer comes from the next layer's G_Z (dx too, where it has a BN)
            nxt = following[l - 1]
            product = nxt.g_z.astype(object).dot(nxt.weight.astype(object))
            assert np.array_equal(layer.g_a.astype(object) * (1 << q.rescale_bits) + layer.g_a_rem, product)
            for a in (norm.y, norm.dy, norm.gamma, layer.g_z):
                assert a.dtype == np.int64 and not a.flags.writeable
            run_update = ghost_bn.running_update(spec, mean, var, fwd.s1, fwd.d)
            state[l - 1] = (gamma - step.lr_num * bwd.g_gamma, beta - step.lr_num * bwd.g_beta,
                            run_update.running_mean, run_update.running_var)
        assert t == step.step
    for got, want in zip(trace.final_norms, state):  # the state after the last step
        for a, b in zip(got, want):
            assert a.dtype == np.int64 and np.array_equal(a, b)


def test_gamma_and_beta_move(run):
    _, _, trace = run
    first, last = trace.steps[0].layers[0].norm, trace.final_norms[0]
    assert not np.array_equal(first.gamma, last[0]) and not np.array_equal(first.beta, last[1])
    assert not np.array_equal(first.running_mean, last[2]) and not np.array_equal(first.running_var, last[3])


def test_resume_from_a_checkpoint_is_byte_identical(run, digits):
    recipe = bn_recipe(steps=4)
    data = encoded(digits, recipe)
    whole = train(recipe, data.x_train, data.y_train, data.batches)
    model = FixedPointMLP.seeded(recipe)
    first = [model.step(data.x_train[r], data.y_train[r], recipe.train.lr_num[t], t, r)
             for t, r in enumerate(data.batches[:2])]
    resumed = FixedPointMLP(recipe, list(model.weights), list(model.biases), norms=model.norm_state())
    second = [resumed.step(data.x_train[r], data.y_train[r], recipe.train.lr_num[t], t, r)
              for t, r in enumerate(data.batches[2:], start=2)]
    for a, b in zip(whole.steps, first + second):
        for la, lb in zip(a.layers, b.layers):
            for name in ("weight", "z", "z_rem", "a", "g_z", "g_b"):
                x, y = getattr(la, name), getattr(lb, name)
                assert (x is None and y is None) or (x.tobytes() == y.tobytes()), name
            if la.norm is not None:
                for field in dataclasses.fields(la.norm):
                    x, y = getattr(la.norm, field.name), getattr(lb.norm, field.name)
                    assert (x is None and y is None) or np.asarray(x).tobytes() == np.asarray(y).tobytes(), field.name
    for x, y in zip(whole.final_norms, resumed.norm_state()):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(x, y))


def test_norm_none_trace_is_unchanged(digits):
    recipe = dataclasses.replace(bn_recipe(steps=2), model=ModelSpec())
    data = encoded(digits, recipe)
    trace = train(recipe, data.x_train, data.y_train, data.batches)
    assert trace.final_norms is None and all(layer.norm is None for s in trace.steps for layer in s.layers)
    model = FixedPointMLP.seeded(recipe)
    assert model.norm is None and model.norms is None and model.norm_state() is None
    assert len(model.forward_layers(data.x_test[:5])) == 3
    with pytest.raises(ValueError, match="norms: the recipe has no normalization"):
        FixedPointMLP(recipe, list(model.weights), list(model.biases), norms=seeded_norms(bn_recipe()))


def test_eval_mode_uses_the_running_statistics(run):
    recipe, data, trace = run
    model = FixedPointMLP(recipe, list(trace.final_weights), list(trace.final_biases), norms=trace.final_norms)
    spec, x = norm_spec(recipe), data.x_test[:17]  # any number of rows
    a = x
    for l in range(1, 3):
        z, _ = model._linear(a, l, None)
        y = ghost_bn.forward_eval(spec, z, *trace.final_norms[l - 1]).out
        a = np.where(y <= 0, 0, y)
    assert np.array_equal(model.forward(x), model._linear(a, 3, None)[0])
    # what a proof of inference proves: every layer's Z' (the ReLU reads BN's eval output)
    layers = model.forward_layers(x)
    assert len(layers) == 3 and np.array_equal(layers[-1][0], model.forward(x))


# --- widths and the state the constructor takes --------------------------------------------------


def test_norm_state_is_checked(run):
    recipe = run[0]
    model = FixedPointMLP.seeded(recipe)
    w, b = list(model.weights), list(model.biases)
    state = seeded_norms(recipe)
    with pytest.raises(ValueError, match=r"norms: expected 2 hidden layers"):
        FixedPointMLP(recipe, w, b, norms=state[:1])
    bad = [state[0], (state[1][0].astype(np.int32), *state[1][1:])]
    with pytest.raises(ValueError, match=r"gamma_2: expected int64 of shape \(128,\)"):
        FixedPointMLP(recipe, w, b, norms=bad)
    wide = [state[0], (np.full(128, 1 << 55, dtype=np.int64), *state[1][1:])]
    with pytest.raises(WidthError, match=r"gamma of layer 2 at step 0: value 36028797018963968"):
        FixedPointMLP(recipe, w, b, norms=wide)
    negative = [(*state[0][:3], np.full(128, -1, dtype=np.int64)), state[1]]
    with pytest.raises(WidthError, match=r"layer 1: ghost BN running_var at step 0: value -1"):
        FixedPointMLP(recipe, w, b, norms=negative)


def test_width_errors_name_the_tensor_and_leave_the_state(run):
    recipe, data, _ = run
    model = FixedPointMLP.seeded(recipe)
    w, b = list(model.weights), list(model.biases)
    gamma_top = np.full(128, (1 << 55) - 1, dtype=np.int64)  # at the top of weight_bits: any update leaves it
    state = seeded_norms(recipe)
    big = FixedPointMLP(recipe, w, b, norms=[(gamma_top, *state[0][1:]), state[1]])
    rows = data.batches[0]
    before = big.norm_state()
    with pytest.raises(WidthError, match=r"gamma of layer 1 at step 0: value \d+ at index \(\d+,\) is outside its "
                                         r"declared 56-bit range"):
        big.step(data.x_train[rows], data.y_train[rows], recipe.train.lr_num[0], 0, rows)
    assert all(np.array_equal(x, y) for s, t in zip(before, big.norm_state()) for x, y in zip(s, t))
    # a huge rate: dgamma * lr_num leaves gamma's 56 bits; the model does not move
    fast = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, lr_num=((1 << 31) - 1,) * 3))
    model = FixedPointMLP.seeded(fast)
    with pytest.raises(WidthError, match=r"gamma of layer 2 at step 0: the update lr_num \* gradient"):
        model.step(data.x_train[rows], data.y_train[rows], fast.train.lr_num[0], 0, rows)
    assert all(np.array_equal(x, y) for s, t in zip(seeded_norms(fast), model.norm_state()) for x, y in zip(s, t))
    assert all(np.array_equal(x, y) for x, y in zip(model.weights, w))


# --- the float twin ---------------------------------------------------------------------------


def test_float_twin_has_ghost_bn_layers():
    recipe = bn_recipe()
    model = sequential(recipe)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "GhostBatchNorm1d", "ReLU", "Linear", "GhostBatchNorm1d", "ReLU", "Linear"]
    bn = norms(model, recipe)
    assert [(m.virtual_batch_size, m.momentum, m.eps) for m in bn] == [(32, 3277 / 2**15, 21475 / 2**31)] * 2
    wrong = sequential(recipe)
    wrong[1] = GhostBatchNorm1d(128, 16, momentum=bn[0].momentum, eps=bn[0].eps, dtype=torch.float64)
    with pytest.raises(ValueError, match="differs from the recipe's"):
        norms(wrong, recipe)


def test_quantize_and_load_norms_round_trip(run):
    recipe, _, trace = run
    model = sequential(recipe)
    fixed = FixedPointMLP(recipe, list(trace.final_weights), list(trace.final_biases), norms=trace.final_norms)
    load_fixed_point(model, recipe, fixed.weights, fixed.biases)
    load_norms(model, recipe, fixed.norm_state())
    back = quantize(model, recipe)
    for x, y in zip(back.norm_state(), fixed.norm_state()):
        assert all(np.array_equal(a, b) for a, b in zip(x, y))


def test_fixed_point_follows_float64_ghost_bn(digits, single_threaded):
    """60 steps of digits 64-128(BN)-128(BN)-10, v = 32, lr 0.2 (relative Frobenius distances;
    measured 2026-12-07: weights 1.0e-3, gamma 3e-5, beta 1.6e-2 (it starts at 0), running
    statistics 1.3e-3; both 94.7% on the test set): the weights within 0.5%, gamma within 0.1%,
    beta within 5%, running statistics within 0.5%, eval-mode test accuracy within two points."""
    recipe = bn_recipe(steps=60)
    data = encoded(digits, recipe)
    result = compare(recipe, data)
    assert result.fixed_accuracy > 0.85 and abs(result.fixed_accuracy - result.float_accuracy) <= 0.02
    assert max(result.distances) < 5e-3
    w0 = FixedPointMLP.seeded(recipe)
    model = train_float(recipe, data.x_train, data.y_train, data.batches, w0.weights, w0.biases).model
    scale, stat = 2.0 ** recipe.scales.weight, 2.0 ** 32
    for bn, (gamma, beta, mean, var) in zip(norms(model, recipe), result.trace.final_norms):
        for tensor, values, unit, bound in ((bn.weight, gamma, scale, 1e-3), (bn.bias, beta, scale, 5e-2),
                                            (bn.running_mean, mean, stat, 5e-3), (bn.running_var, var, stat, 5e-3)):
            reference = tensor.detach().numpy()
            distance = np.linalg.norm(values / unit - reference) / np.linalg.norm(reference)
            assert distance < bound
