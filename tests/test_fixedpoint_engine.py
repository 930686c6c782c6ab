"""The exact fixed-point engine against a Python-int oracle, at adversarial magnitudes.

The oracle below is DESIGN section 4 written plainly on Python ints (numpy object arrays),
with no width checks; the engine must reproduce every tensor of it, and raise WidthError
exactly when a value leaves its declared width.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec
from zktrain.fixedpoint.data import batch_order, encode_dataset, encode_inputs, encode_labels
from zktrain.fixedpoint.engine import FixedPointMLP, WidthError, train
from zktrain.fixedpoint.exact import (
    MANTISSA_LIMIT,
    Term,
    Wide,
    balanced_limbs,
    limb_products,
    matmul_rescale,
    matmul_wide,
    plan_limbs,
    shifted_floor_divmod,
)

# --- the oracle ------------------------------------------------------------------------------


def obj(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(object)


def oracle_step(recipe: Recipe, weights, biases, x, y, lr: int) -> dict:
    """One step of the exact semantics on Python ints: every tensor, and W_{t+1}, b_{t+1}."""
    R, S, L = recipe.quant.frac_bits, recipe.quant.rescale_bits, recipe.model.layers
    W = [obj(w) for w in weights]
    b = [None if v is None else obj(v) for v in biases]

    def rescale(z):
        q = (z + (1 << (S - 1))) // (1 << S)
        return q, z - q * (1 << S)

    acts, z, rem, sign = [obj(x)], {}, {}, {}
    for l in range(1, L + 1):
        pre = acts[-1].dot(W[l - 1].T)
        if b[l - 1] is not None:
            pre = pre + b[l - 1] * (1 << R)
        z[l], rem[l] = rescale(pre)
        if l < L:
            sign[l] = (z[l] <= 0).astype(object)
            acts.append((1 - sign[l]) * z[l])
    g_z, g_a, g_a_rem, g_w, g_b = {}, {}, {}, {}, {}
    g_z[L] = z[L] - obj(y)
    for l in range(L, 0, -1):
        if l < L:
            g_z[l] = (1 - sign[l]) * g_a[l]
        g_w[l] = g_z[l].T.dot(acts[l - 1])
        g_b[l] = g_z[l].sum(axis=0) * (1 << R)
        if l > 1:
            g_a[l - 1], g_a_rem[l - 1] = rescale(g_z[l].dot(W[l - 1]))
    new_w = [W[l - 1] - lr * g_w[l] for l in range(1, L + 1)]
    new_b = [None if b[l - 1] is None else b[l - 1] - lr * g_b[l] for l in range(1, L + 1)]
    tensors = dict(acts=acts, z=z, rem=rem, sign=sign, g_z=g_z, g_a=g_a, g_a_rem=g_a_rem, g_w=g_w, g_b=g_b)
    return dict(tensors, W=new_w, b=new_b)


def same(engine: np.ndarray, oracle: np.ndarray) -> bool:
    return obj(engine).tolist() == obj(oracle).tolist()


def assert_step_matches(trace, oracle: dict, layers: int) -> None:
    for l, rec in enumerate(trace.layers, start=1):
        assert rec.layer == l
        assert same(rec.z, oracle["z"][l]) and same(rec.z_rem, oracle["rem"][l])
        assert same(rec.g_z, oracle["g_z"][l])
        assert same(rec.g_w.to_object(), oracle["g_w"][l])
        assert (rec.g_b is None) or same(rec.g_b, oracle["g_b"][l])
        if l < layers:
            assert same(rec.sign, oracle["sign"][l]) and same(rec.a, oracle["acts"][l])
            assert same(rec.g_a, oracle["g_a"][l]) and same(rec.g_a_rem, oracle["g_a_rem"][l])
        else:
            assert rec.sign is None and rec.a is None and rec.g_a is None and rec.g_a_rem is None


def make_recipe(widths, *, bias=True, batch=4, lr=(3,), input_bits=17, signed=False, label_bits=17, **quant) -> Recipe:
    return Recipe(
        name="engine-test",
        seed=3,
        data=DataSpec(
            features=widths[0], classes=widths[-1], input_bits=input_bits, input_signed=signed, label_bits=label_bits
        ),
        model=ModelSpec(widths=tuple(widths), bias=bias, init="committed"),
        train=TrainSpec(batch_size=batch, steps=len(lr), lr_num=tuple(lr)),
        quant=QuantSpec(**quant),
    )


def one_hot(classes: list[int], width: int, R: int = 16) -> np.ndarray:
    y = np.zeros((len(classes), width), dtype=np.int64)
    y[np.arange(len(classes)), classes] = 1 << R
    return y


def run_and_compare(recipe: Recipe, weights, biases, xs, ys) -> None:
    """Train step by step with the engine and the oracle side by side; compare everything."""
    model = FixedPointMLP(recipe, weights, biases)
    W, b = list(weights), list(biases)
    for t, (x, y) in enumerate(zip(xs, ys)):
        lr = recipe.train.lr_num[t]
        trace = model.step(x, y, lr, t, np.arange(len(x)))
        oracle = oracle_step(recipe, W, b, x, y, lr)
        assert_step_matches(trace, oracle, recipe.model.layers)
        assert all(same(rec.weight, w) for rec, w in zip(trace.layers, W))
        W, b = oracle["W"], oracle["b"]
        assert all(same(m, w) for m, w in zip(model.weights, W))
        assert all((m is None and v is None) or same(m, v) for m, v in zip(model.biases, b))


# --- exact matmul ----------------------------------------------------------------------------

EXTREMES = [(1 << 62) - 1, -(1 << 62) + 1, 1 << 61, -(1 << 61), (1 << 53) + 1, -(1 << 31), 1, -1, 0]


def adversarial(rng, shape, bits: int) -> np.ndarray:
    """Random values of up to ``bits`` bits, salted with extremes of that width."""
    top = (1 << bits) - 1
    a = rng.integers(-top, top, size=shape, endpoint=True, dtype=np.int64)
    flat = a.reshape(-1)
    picks = rng.integers(0, flat.size, size=max(1, flat.size // 4))
    flat[picks] = rng.choice([v for v in EXTREMES if abs(v) <= top] + [top, -top], size=picks.size)
    return a


@pytest.mark.parametrize("bits", [1, 17, 33, 52, 56, 62])
def test_balanced_limbs_reconstruct_and_stay_bounded(bits):
    rng = np.random.default_rng(bits)
    x = adversarial(rng, (200,), bits)
    for count in (1, 2, 3, 5):
        width = -(-(bits + 1) // count) if count > 1 else bits
        limbs = balanced_limbs(x, width, count)
        total = sum(obj(limb) * (1 << (width * i)) for i, limb in enumerate(limbs))
        assert same(x, total)
        if count > 1:
            assert all(np.abs(limb).max() <= 1 << (width - 1) for limb in limbs)


def test_limb_plan_keeps_every_partial_sum_below_2_53():
    for a_bound, b_bound, inner in [(2**31, 2**55, 3072), (2**17, 2**45, 64), (2**62, 2**62, 4096), (5, 7, 1)]:
        plan = plan_limbs(a_bound, b_bound, inner)
        assert inner * plan.a_bound * plan.b_bound <= MANTISSA_LIMIT
        assert plan.a_count * plan.a_width >= a_bound.bit_length() or plan.a_count == 1
    assert plan_limbs(5, 7, 1).a_count == plan_limbs(5, 7, 1).b_count == 1
    # The zkDL shape's worst case (32-bit activations, 56-bit weights, 3072 terms).
    worst = plan_limbs(2**31, 2**55, 3072)
    assert worst.a_count * worst.b_count <= 6


@pytest.mark.parametrize(
    "m, n, k, a_bits, b_bits",
    [(3, 1, 4, 62, 62), (4, 7, 5, 62, 40), (2, 300, 3, 50, 55), (2, 3072, 3, 32, 56), (5, 64, 6, 32, 32)],
)
def test_matmul_rescale_and_wide_match_python_ints(m, n, k, a_bits, b_bits):
    rng = np.random.default_rng(m * n * k)
    a, b = adversarial(rng, (m, n), a_bits), adversarial(rng, (k, n), b_bits).T
    exact = obj(a).dot(obj(b))
    for shift in (1, 16, 48, 56):
        # Bounded so that the quotient fits int64; otherwise OverflowError is the contract.
        if n * (1 << (a_bits + b_bits)) >> shift >= 1 << 60:
            with pytest.raises(OverflowError):
                matmul_rescale(a, b, shift)
            continue
        q, r = matmul_rescale(a, b, shift)
        q_ref = (exact + (1 << (shift - 1))) // (1 << shift)
        assert same(q, q_ref) and same(r, exact - q_ref * (1 << shift))
    if n * (1 << (a_bits + b_bits)) >> 32 < 1 << 60:
        wide = matmul_wide(a, b, 32)
        assert same(wide.to_object(), exact)
        assert ((wide.lo >= 0) & (wide.lo < 1 << 32)).all()


def test_extra_terms_and_offsets_in_the_floor_divmod():
    rng = np.random.default_rng(5)
    values = [adversarial(rng, (3, 4), 53) for _ in range(4)]
    terms = [Term(v, s, 1 << 53) for v, s in zip(values, (0, 7, 48, 55))]
    hi, lo = shifted_floor_divmod(terms, (3, 4), 48, offset=12345)
    total = 12345 + sum(obj(v) * (1 << s) for v, s in zip(values, (0, 7, 48, 55)))
    assert same(hi, total // (1 << 48)) and same(lo, total % (1 << 48))
    bias = np.array([-(1 << 55), 3, (1 << 55) - 1, 0], dtype=np.int64)
    a, w = adversarial(rng, (3, 5), 31), adversarial(rng, (4, 5), 55)
    q, r = matmul_rescale(a, w.T, 48, (Term(bias, 16, 1 << 55),))
    pre = obj(a).dot(obj(w).T) + obj(bias) * (1 << 16)
    assert same(q, (pre + (1 << 47)) // (1 << 48))


def test_exact_matmul_refuses_what_it_cannot_represent():
    big = np.array([[1 << 62]], dtype=np.int64)
    with pytest.raises(OverflowError, match="left operand"):
        limb_products(big, np.ones((1, 1), dtype=np.int64))
    near = np.full((1, 4), (1 << 61) + 1, dtype=np.int64)
    with pytest.raises(OverflowError, match="beyond int64"):
        matmul_rescale(near, near.T, 48)
    with pytest.raises(ValueError, match="do not multiply"):
        limb_products(np.ones((2, 3), dtype=np.int64), np.ones((2, 3), dtype=np.int64))
    assert limb_products(np.zeros((2, 3), dtype=np.int64), np.ones((3, 2), dtype=np.int64)) == []


def test_wide_comparisons_and_conversion():
    values = [-(1 << 70) - 5, -(1 << 40), -1, 0, 1, (1 << 62) - 1, 1 << 62, (1 << 80) + 3]
    exact = np.array(values, dtype=object)
    hi, lo = [v >> 32 for v in values], [v & (2**32 - 1) for v in values]
    wide = Wide(np.array(hi, dtype=np.int64), np.array(lo, dtype=np.int64), 32)
    assert same(wide.to_object(), exact)
    for lo, hi in [(-1, 1), (-(1 << 62) + 1, (1 << 62) - 1), (-(1 << 200), 1 << 200), (5, 4)]:
        assert wide.fits(lo, hi).tolist() == [lo <= v <= hi for v in values]
    assert not wide.magnitude_below(1 << 62)
    with pytest.raises(OverflowError):
        wide.to_int64()
    small = Wide.of(np.array([-(1 << 61), -7, 0, (1 << 61) - 1], dtype=np.int64))
    assert small.to_int64().tolist() == [-(1 << 61), -7, 0, (1 << 61) - 1]
    assert small.magnitude_below((1 << 61) + 1) and not small.magnitude_below(1 << 61)


# --- the engine against the oracle ---------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_random_model_steps_match_the_oracle(bias):
    rng = np.random.default_rng(11 + bias)
    widths, batch = (5, 7, 6, 3), 4
    recipe = make_recipe(widths, bias=bias, batch=batch, lr=(17, 0, 64))
    weights = [rng.integers(-(1 << 50), 1 << 50, size=(widths[l], widths[l - 1])) for l in range(1, 4)]
    biases = [rng.integers(-(1 << 50), 1 << 50, size=widths[l]) if bias else None for l in range(1, 4)]
    xs = [rng.integers(0, 1 << 17, size=(batch, 5)) for _ in range(3)]
    ys = [one_hot(list(rng.integers(0, 3, size=batch)), 3) for _ in range(3)]
    run_and_compare(recipe, weights, biases, xs, ys)


def test_wide_operands_take_several_limbs_and_stay_exact():
    # Q = 40: 32-bit inputs against 51-bit weights over 50 terms need several limb products,
    # and G_W of the second layer (about 2^68) only exists as a Wide pair.
    rng = np.random.default_rng(2)
    recipe = make_recipe((50, 20, 3), batch=4, lr=(0, 0), input_bits=33, signed=True, value_bits=40)
    w1 = rng.integers(1 << 50, 1 << 51, size=(20, 50)) * rng.choice([-1, 1], size=(20, 50))
    w2 = rng.integers(-(1 << 40), 1 << 40, size=(3, 20))
    biases = [rng.integers(-(1 << 54), 1 << 54, size=20), rng.integers(-(1 << 54), 1 << 54, size=3)]
    xs = [rng.integers(-(1 << 31), 1 << 31, size=(4, 50)) for _ in range(2)]
    ys = [one_hot([0, 1, 2, 0], 3) for _ in range(2)]
    assert len(limb_products(xs[0], w1.T)) > 1
    run_and_compare(recipe, [w1, w2], biases, xs, ys)
    trace = FixedPointMLP(recipe, [w1, w2], biases).step(xs[0], ys[0], 0, 0, np.arange(4))
    assert not trace.layers[1].g_w.magnitude_below(1 << 62)


def test_digits_steps_match_the_oracle():
    from zktrain.data import load_dataset

    recipe = Recipe(
        name="digits",
        seed=1,
        data=DataSpec(),
        model=ModelSpec(widths=(64, 32, 10)),
        train=TrainSpec(batch_size=64, steps=2, lr_num=(205, 205)),
        quant=QuantSpec(),
    )
    data = encode_dataset(load_dataset({"source": "digits"}), recipe)
    model = FixedPointMLP.seeded(recipe)
    xs, ys = zip(*(data.batch(t) for t in range(2)))
    run_and_compare(recipe, model.weights, model.biases, list(xs), list(ys))
    trace = train(recipe, data.x_train, data.y_train, data.batches)
    assert [s.batch_indices.tolist() for s in trace.steps] == data.batches.tolist()
    assert trace.steps[0].x.flags.writeable is False


# --- declared widths: at the limit passes, one past raises ---------------------------------


@dataclass(frozen=True)
class Family:
    """A one-parameter scenario whose targeted value is monotone in p on [lo, hi]."""

    recipe: Recipe
    build: Callable[[int], tuple]  # p -> (weights, biases, x, y)
    value: Callable[[dict], int]  # oracle -> targeted value (negated for lower limits)
    limit: int
    lo: int
    hi: int
    tensor: str
    layer: int


W_MAX = (1 << 55) - 1
def i64(rows) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


def _families() -> dict[str, Family]:
    signed = dict(input_bits=32, signed=True, batch=1)
    hidden = make_recipe((1, 1, 2), bias=False, lr=(0,), **signed)
    out = make_recipe((1, 2), bias=False, lr=(0,), **signed)
    grad = make_recipe((1, 2, 2), bias=False, lr=(0,), **signed)
    upd = make_recipe((1, 2), bias=False, lr=(1,), **signed)
    upd_b = make_recipe((1, 2), bias=True, lr=(1,), **signed)
    y0, y1 = one_hot([0], 2), one_hot([1], 2)
    zero2 = i64([[0], [0]])
    x_30 = i64([[1 << 30]])

    def a_max_then(w2: np.ndarray) -> list[np.ndarray]:
        """W_1 giving A_1 = (2^31 - 1, 0) from x = 2^30, then W_2."""
        return [i64([[(1 << 49) - (1 << 18)], [0]]), w2]

    bias_p = (1 << 55) - (1 << 39) - (1 << 23)  # b_0 whose update lands near 2^55 ("b high")
    return {
        "hidden Z' high": Family(hidden, lambda p: ([i64([[p]]), zero2], [None, None], x_30, y0),
                                 lambda o: o["z"][1][0, 0], 1 << 31, 0, W_MAX, "Z'", 1),
        "hidden Z' low": Family(hidden, lambda p: ([i64([[p]]), zero2], [None, None], -x_30, y0),
                                lambda o: -o["z"][1][0, 0], (1 << 31) - 1, 0, W_MAX, "Z'", 1),
        "output Z' high": Family(out, lambda p: ([i64([[p], [0]])], [None], x_30, y0),
                                 lambda o: o["z"][1][0, 0], (1 << 31) - 1, 0, W_MAX, "Z'", 1),
        "output Z' low": Family(out, lambda p: ([i64([[p], [0]])], [None], -x_30, y0),
                                lambda o: -o["z"][1][0, 0], 1 << 31, 0, W_MAX, "Z'", 1),
        # A_1 = (2^31 - 1, 0); G_out = (-(2^31 - 1), -2^16); G'_A,1 = rescale(-(2^31 - 1) W_2[0, 1]).
        "G'_A high": Family(grad, lambda p: (a_max_then(i64([[-(1 << 48), -p], [0, 0]])), [None, None], x_30, y1),
                            lambda o: o["g_a"][1][0, 1], (1 << 31) - 1, 0, W_MAX, "G'_A", 1),
        "G'_A low": Family(grad, lambda p: (a_max_then(i64([[-(1 << 48), p], [0, 0]])), [None, None], x_30, y1),
                           lambda o: -o["g_a"][1][0, 1], 1 << 31, 0, W_MAX, "G'_A", 1),
        # x = +-1 (2^-16): G_W[1, 0] = +-(Z'_1 - 2^16), so W'[1, 0] = p + 2^16 - rescale(p).
        "W high": Family(upd, lambda p: ([i64([[0], [p]])], [None], i64([[1]]), y1),
                         lambda o: o["W"][0][1, 0], W_MAX, 0, W_MAX, "W", 1),
        "W low": Family(upd, lambda p: ([i64([[0], [-p]])], [None], i64([[-1]]), y1),
                        lambda o: -o["W"][0][1, 0], 1 << 55, 0, W_MAX, "W", 1),
        # Z'_0 = -+2^24 + rescale(2^16 b_0), constant on this window: b'_0 = b_0 - 2^16 Z'_0.
        "b high": Family(upd_b, lambda p: ([i64([[-(1 << 42)], [0]])], [i64([p, 0])], x_30, y1),
                         lambda o: o["b"][0][0], W_MAX, bias_p - (1 << 30), bias_p + (1 << 30), "b", 1),
        "b low": Family(upd_b, lambda p: ([i64([[1 << 42], [0]])], [i64([-p, 0])], x_30, y1),
                        lambda o: -o["b"][0][0], 1 << 55, bias_p - (1 << 30), bias_p + (1 << 30), "b", 1),
    }


FAMILIES = _families()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_value_at_its_width_passes_and_one_past_raises(name):
    f = FAMILIES[name]

    def value(p: int) -> int:
        weights, biases, x, y = f.build(p)
        return int(f.value(oracle_step(f.recipe, weights, biases, x, y, f.recipe.train.lr_num[0])))

    lo, hi = f.lo, f.hi
    assert value(lo) <= f.limit < value(hi)
    while hi - lo > 1:  # the last p inside the width
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if value(mid) > f.limit else (mid, hi)
    # Adversarial to the unit: the scenario reaches the limit exactly, then one past it.
    assert value(lo) == f.limit and value(hi) == f.limit + 1

    weights, biases, x, y = f.build(lo)
    run_and_compare(f.recipe, weights, biases, [x], [y])
    weights, biases, x, y = f.build(hi)
    model = FixedPointMLP(f.recipe, weights, biases)
    with pytest.raises(WidthError, match=rf"^{f.tensor} of layer {f.layer} at step 4: value -?\d+ at index"):
        model.step(x, y, f.recipe.train.lr_num[0], 4, np.arange(1))


def test_an_update_far_beyond_the_weight_width_is_caught_before_int64_arithmetic():
    recipe = make_recipe((1, 2), bias=False, batch=1, lr=((1 << 31) - 1,), input_bits=32, signed=True)
    model = FixedPointMLP(recipe, [i64([[0], [0]])], [None])
    # G_W[0, 0] = -2^16 * 2^30: lr_num G_W is about 2^77.
    with pytest.raises(WidthError, match=r"^W of layer 1 at step 0: the update lr_num \* gradient at index \(0, 0\)"):
        model.step(i64([[1 << 30]]), one_hot([0], 2), recipe.train.lr_num[0], 0, np.arange(1))


def test_inputs_labels_and_initial_weights_are_checked():
    recipe = make_recipe((2, 2), bias=True, batch=1)
    w, b = i64([[1, 2], [3, 4]]), i64([5, 6])
    model = FixedPointMLP(recipe, [w], [b])
    model.step(i64([[(1 << 17) - 1, 0]]), i64([[(1 << 17) - 1, 0]]), 0, 0, [0])
    with pytest.raises(WidthError, match=r"^X at step 0: value 131072 at index \(0, 1\)"):
        model.step(i64([[0, 1 << 17]]), one_hot([0], 2), 0, 0, [0])
    with pytest.raises(WidthError, match=r"^X at step 2: value -1"):
        model.step(i64([[0, -1]]), one_hot([0], 2), 0, 2, [0])
    with pytest.raises(WidthError, match=r"^Y at step 1: value 131072"):
        model.step(i64([[0, 0]]), i64([[0, 1 << 17]]), 0, 1, [0])
    with pytest.raises(WidthError, match=r"^X in inference"):
        model.forward(i64([[0, -1]]))
    FixedPointMLP(recipe, [i64([[W_MAX, -W_MAX - 1], [0, 0]])], [b])
    with pytest.raises(WidthError, match=r"^W of layer 1 at step 0: value 36028797018963968"):
        FixedPointMLP(recipe, [i64([[W_MAX + 1, 0], [0, 0]])], [b])
    with pytest.raises(WidthError, match=r"^b of layer 1 at step 0: value -36028797018963969"):
        FixedPointMLP(recipe, [w], [i64([-W_MAX - 2, 0])])


def test_construction_rejects_wrong_shapes_and_recipes():
    recipe = make_recipe((2, 2), bias=True, batch=1)
    with pytest.raises(ValueError, match="W_1: expected int64 of shape"):
        FixedPointMLP(recipe, [np.zeros((2, 3), dtype=np.int64)], [np.zeros(2, dtype=np.int64)])
    with pytest.raises(ValueError, match="W_1: expected int64"):
        FixedPointMLP(recipe, [np.zeros((2, 2))], [np.zeros(2, dtype=np.int64)])
    with pytest.raises(ValueError, match="b_1: the recipe has no bias"):
        FixedPointMLP(make_recipe((2, 2), bias=False), [i64([[0, 0], [0, 0]])], [i64([0, 0])])
    with pytest.raises(ValueError, match="model.init"):
        FixedPointMLP.seeded(recipe)
    # G_W of layer 2 reaches 4096 x 2^45 x 2^45 > 2^94: not even a Wide pair holds it.
    wide = make_recipe((2, 2, 2), bias=False, batch=4096, value_bits=46, input_bits=17)
    with pytest.raises(ValueError, match="weight_gradient may reach"):
        FixedPointMLP(wide, [np.zeros((2, 2), dtype=np.int64)] * 2, [None, None])
    with pytest.raises(ValueError, match="step 0: expected int64 X"):
        FixedPointMLP(recipe, [np.zeros((2, 2), dtype=np.int64)], [np.zeros(2, dtype=np.int64)]).step(
            np.zeros((2, 2), dtype=np.int64), np.zeros((1, 2), dtype=np.int64), 0, 0, [0]
        )


def test_relu_indicator_at_zero_matches_pytorch():
    # Z' = 0 gives s = 1: A = 0 and the gradient through the unit is 0, as torch.relu's.
    recipe = make_recipe((1, 1, 2), bias=False, batch=1, lr=(0,))
    model = FixedPointMLP(recipe, [i64([[0]]), i64([[1 << 48], [1 << 48]])], [None, None])
    trace = model.step(i64([[1 << 16]]), one_hot([0], 2), 0, 0, [0])
    hidden = trace.layers[0]
    assert hidden.z.tolist() == [[0]] and hidden.sign.tolist() == [[1]] and hidden.g_z.tolist() == [[0]]
    assert hidden.g_a.tolist() == [[-(1 << 16)]]  # the incoming gradient was not zero


# --- data encoding and batch order ---------------------------------------------------------


def test_inputs_round_half_up_exactly():
    u = 2.0**-16
    x = np.array([0.0, 0.5 * u, -0.5 * u, 1.5 * u, -1.5 * u, 0.49999 * u, 1.0, -1.0, 3 / 16])
    assert encode_inputs(x, 16).tolist() == [0, 1, 0, 2, -1, 0, 65536, -65536, 12288]
    big = np.array([2.0**52 + 1.0, -(2.0**52) - 1.0])  # adding 0.5 in float64 would round these
    assert encode_inputs(big, 0).tolist() == [2**52 + 1, -(2**52) - 1]
    with pytest.raises(ValueError, match="non-finite"):
        encode_inputs(np.array([np.nan]), 16)


def test_labels_are_one_hot_at_2_r():
    assert encode_labels(np.array([2, 0]), 3, 4).tolist() == [[0, 0, 16], [16, 0, 0]]
    with pytest.raises(ValueError, match="labels"):
        encode_labels(np.array([3]), 3, 4)


def test_batch_order_is_seeded_permutations_with_drop_last():
    order = batch_order(samples=10, batch_size=3, steps=7, seed=5)
    assert order.shape == (7, 3)
    for epoch in range(2):  # 3 batches per epoch: 9 of the 10 rows, no repeats
        rows = order[3 * epoch : 3 * epoch + 3].reshape(-1)
        assert len(set(rows.tolist())) == 9 and rows.max() < 10
    assert not np.array_equal(order[0], order[3])  # each epoch its own permutation
    assert np.array_equal(order, batch_order(10, 3, 7, 5))
    assert not np.array_equal(order, batch_order(10, 3, 7, 6))
    assert hashlib.sha3_256(order.astype("<i8").tobytes()).hexdigest()[:16] == PINNED_ORDER
    with pytest.raises(ValueError, match="exceeds"):
        batch_order(2, 3, 1, 0)


PINNED_ORDER = "48dd9a302199bf2a"
