"""The shared fixed-point semantics: rescale, scales, widths, learning rate, seeded W_0, bounds."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from fractions import Fraction

import numpy as np
import pytest

from circuits import semantics
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec
from circuits.semantics import (
    Scales,
    Width,
    bit_bounds,
    declared_widths,
    init_bound,
    mse_lr_num,
    mse_torch_lr,
    relation_bounds,
    rescale,
    seeded_parameters,
)


def recipe(widths=(64, 32, 10), bias=True, init="seeded", lr=(205, 205, 100), batch=64, data=(), **quant) -> Recipe:
    return Recipe(
        name="t",
        seed=7,
        data=DataSpec(features=widths[0], classes=widths[-1], **dict(data)),
        model=ModelSpec(widths=widths, bias=bias, init=init),
        train=TrainSpec(batch_size=batch, steps=len(lr), lr_num=lr),
        quant=QuantSpec(**quant),
    )


# --- rescale ---------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 5, 48])
def test_rescale_rounds_half_up_with_remainder_in_range(k):
    span = 5 << min(k, 5)
    ties = [(m << k) + s * (1 << (k - 1)) + d for m in (-3, 0, 7) for s in (-1, 1) for d in (-1, 0, 1)]
    for z in list(range(-span, span + 1)) + ties + [(1 << 100) + 12345, -(1 << 100) - 1]:
        q, r = rescale(z, k)
        exact = Fraction(z, 1 << k)
        assert q == math.floor(exact + Fraction(1, 2))  # round half up, also for negatives
        assert z == (q << k) + r
        assert -(1 << (k - 1)) <= r < 1 << (k - 1)


def test_rescale_of_int64_arrays_matches_python_ints():
    z = np.array([-(1 << 60), -3, -2, -1, 0, 1, 2, 3, (1 << 60) + 7], dtype=np.int64)
    q, r = rescale(z, 2)
    assert [(int(a), int(b)) for a, b in zip(q, r)] == [rescale(int(v), 2) for v in z]
    assert rescale(-2, 2) == (0, -2) and rescale(2, 2) == (1, -2)  # ties go up
    with pytest.raises(ValueError, match="shift"):
        rescale(5, 0)


# --- scales and widths -----------------------------------------------------------------------


def test_scales_of_the_default_recipe():
    s = Scales(frac_bits=16, lr_shift=16)
    assert (s.activation, s.weight, s.product, s.weight_gradient, s.rescale_shift) == (16, 48, 64, 32, 48)
    assert recipe().scales == s


def test_width_intervals():
    assert (Width(8, True).lo, Width(8, True).hi) == (-128, 127)
    assert (Width(8, False).lo, Width(8, False).hi) == (0, 255)
    hidden = Width(8, True, offset=1)  # Z' - 1 in 8 bits: Z' in [-127, 128]
    assert (hidden.lo, hidden.hi) == (-127, 128)
    assert hidden.contains(128) and not hidden.contains(129) and not hidden.contains(-128)


def test_declared_widths_of_the_default_recipe():
    w = declared_widths(recipe())
    assert w["hidden_pre_activation"] == Width(32, True, offset=1)
    assert (w["hidden_pre_activation"].lo, w["hidden_pre_activation"].hi) == (1 - 2**31, 2**31)
    assert (w["output"].lo, w["output"].hi) == (-(2**31), 2**31 - 1)
    assert (w["remainder"].lo, w["remainder"].hi) == (-(2**47), 2**47 - 1)
    assert (w["input"].lo, w["input"].hi) == (0, 2**17 - 1)
    assert (w["label"].lo, w["label"].hi) == (0, 2**17 - 1)
    assert w["gradient"] == Width(32, True) and w["weight"] == Width(56, True)


# --- learning rate ---------------------------------------------------------------------------


def test_mse_learning_rate_folds_2_over_b_n_out():
    # 1.0 * 2 / (64 * 10) * 2^16 = 204.8 -> 205; 0.1 -> 20.48 -> 20.
    assert mse_lr_num(1.0, 64, 10, 16) == 205
    assert mse_lr_num(0.1, 64, 10, 16) == 20
    assert mse_lr_num("0.1", 64, 10, 16) == 20
    # Exactly half an lr unit rounds up.
    assert mse_lr_num(Fraction(640, 1 << 18), 64, 10, 16) == 1
    assert mse_lr_num(Fraction(639, 1 << 18), 64, 10, 16) == 0
    assert mse_torch_lr(205, 64, 10, 16) == Fraction(205 * 640, 1 << 17)
    assert mse_lr_num(mse_torch_lr(123, 32, 7, 12), 32, 7, 12) == 123
    with pytest.raises(ValueError, match="learning rate"):
        mse_lr_num(-0.5, 64, 10, 16)


def test_folded_rate_gives_the_torch_sgd_step_on_mean_mse():
    torch = pytest.importorskip("torch")
    y_hat = torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    torch.nn.MSELoss()(y_hat, y).backward()
    lr_num, k = 3, 4
    torch_step = float(mse_torch_lr(lr_num, 2, 2, k)) * y_hat.grad
    engine_step = lr_num / 2**k * (y_hat - y)  # the engine's G_out = Y_hat - Y
    assert torch.allclose(torch_step, engine_step.detach(), rtol=0, atol=1e-15)


# --- seeded initial weights ------------------------------------------------------------------


def test_init_bound_is_exact_floor_of_scale_over_sqrt_fan_in():
    assert init_bound(64, 48) == 1 << 45
    assert init_bound(3, 2) == 2  # 4 / 1.732 = 2.31
    assert init_bound(1, 5) == 32
    for fan_in in (2, 3, 1000, 3072):
        b = init_bound(fan_in, 48)
        assert b * b * fan_in <= 1 << 96 < (b + 1) * (b + 1) * fan_in
    with pytest.raises(ValueError, match="fan_in"):
        init_bound(0, 48)


def _python_reference(label: bytes, count: int, bound: int) -> list[int]:
    """Rejection sampling over the SHAKE256 stream, written plainly with Python ints."""
    span = 2 * bound + 1
    mask = (1 << span.bit_length()) - 1
    stream = hashlib.shake_256(label).digest(8 * (4 * count + 64))
    out = []
    for i in range(0, len(stream), 8):
        candidate = int.from_bytes(stream[i : i + 8], "little") & mask
        if candidate < span:
            out.append(candidate - bound)
            if len(out) == count:
                return out
    raise AssertionError("stream too short")


def test_seeded_parameters_follow_the_documented_stream():
    r = recipe(widths=(5, 3, 2))
    weights, biases = seeded_parameters(r)
    assert [w.shape for w in weights] == [(3, 5), (2, 3)] and [b.shape for b in biases] == [(3,), (2,)]
    for layer, (w, b) in enumerate(zip(weights, biases), start=1):
        fan_in = r.model.widths[layer - 1]
        bound = init_bound(fan_in, 48)
        for kind, values in ((b"weight", w), (b"bias", b)):
            label = b"|".join([b"zktrain.init.v1", kind, layer.to_bytes(4, "little"), (7).to_bytes(8, "little")])
            assert values.dtype == np.int64
            assert values.reshape(-1).tolist() == _python_reference(label, values.size, bound)


PINNED_INIT_DIGEST = "5910a043dd4238a11f79fb9bf42949d1a51c4f7970d8adec3ace41e835ef093a"


def test_seeded_parameters_are_pinned_and_seed_dependent():
    weights, biases = seeded_parameters(recipe())
    digest = hashlib.sha3_256(b"".join(a.astype("<i8").tobytes() for a in weights + biases)).hexdigest()
    # Pinned: any change of the generator changes every W_0 a verifier recomputes.
    assert digest == PINNED_INIT_DIGEST
    again, _ = seeded_parameters(recipe())
    assert all(np.array_equal(a, b) for a, b in zip(weights, again))
    other = dataclasses.replace(recipe(), seed=8)
    assert not np.array_equal(seeded_parameters(other)[0][0], weights[0])
    assert seeded_parameters(recipe(bias=False))[1] == [None, None]


def test_seeded_parameters_are_uniform_on_the_whole_range():
    # R = k = 1: scale 2^3, fan_in 1 -> bound 8, so the 17 values -8..8 must all appear evenly.
    small_data = {"input_bits": 2, "label_bits": 2}
    r = recipe(widths=(1, 4000, 2), frac_bits=1, lr_shift=1, value_bits=4, weight_bits=8, lr=(1,), data=small_data)
    w = seeded_parameters(r)[0][0]
    counts = np.bincount(w.reshape(-1) + 8, minlength=17)
    assert w.min() == -8 and w.max() == 8 and len(counts) == 17
    expected = w.size / 17
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 50  # 16 degrees of freedom: p < 1e-4 beyond 40


# --- bounds ------------------------------------------------------------------------------------


def test_relation_bounds_of_the_default_recipe_by_hand():
    r = recipe()  # widths 64-32-10, B = 64, Sigma lr = 510, Q = 32, S = 48, R = 16
    b = relation_bounds(r)
    q, y, batch, lr_sum = 2**31, 2**17 - 1, 64, 510
    w0 = [init_bound(64, 48), init_bound(32, 48)]
    gz = [q, q + y]
    a = [2**17 - 1, q]
    gw = [batch * gz[l] * a[l] for l in range(2)]
    gb = [batch * gz[l] * 2**16 for l in range(2)]
    w = [w0[l] + lr_sum * gw[l] for l in range(2)]
    bb = [w0[l] + lr_sum * gb[l] for l in range(2)]
    assert b["output_gradient"] == q + y
    assert b["weight_gradient"] == max(gw)
    assert b["weight"] == max(w) and b["bias"] == max(bb)
    assert b["product"] == max(64 * a[0] * w[0] + bb[0] * 2**16, 32 * a[1] * w[1] + bb[1] * 2**16)
    assert b["backward_product"] == 10 * gz[1] * w[1]
    assert b["remainder"] == 2**47 and b["pre_activation"] == q
    assert bit_bounds(r)["remainder"] == 48


def test_committed_init_bounds_use_the_declared_weight_width():
    seeded, committed = relation_bounds(recipe()), relation_bounds(recipe(init="committed"))
    assert seeded["initial_weight"] == init_bound(32, 48)  # the narrower layer has the wider range
    assert committed["initial_weight"] == 2**55
    assert committed["weight"] > seeded["weight"]


def test_bounds_grow_with_the_learning_rate_sum():
    small, large = relation_bounds(recipe(lr=(1, 1, 1))), relation_bounds(recipe(lr=(1000, 1000, 1000)))
    assert large["weight"] > small["weight"] and large["product"] > small["product"]
    assert semantics.MAX_RELATION_BITS == 250
