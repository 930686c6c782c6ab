"""SGD with momentum and weight decay wired into training (issue 15, items 3 and 4; design (A)
of docs/momentum.md, section 6): the recipe's ``optimizer: sgd_momentum`` and its validation,
the engine's trajectory against the kernel ``zktrain.fixedpoint.momentum.rounded_step`` step by
step, the float reference against ``torch.optim.SGD(momentum, weight_decay)`` on the same dyadic
values, a digits fidelity run (cross-entropy + momentum 0.9 + weight decay, fixed point vs
float PyTorch), run files, the Recorder, and the refusal to prove it by name.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import torch
from tiny_run import prove_and_infer, tiny_run
from torch import nn

import zktrain
from circuits.mlp import MlpCircuit
from circuits.momentum import Dyadic, MomentumSpec, fold_weight_decay, recipe_hyperparameters
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from circuits.semantics import MAX_RELATION_BITS, bit_bounds, ce_lr_num, declared_widths, momentum_spec, mse_lr_num
from zktrain.data import load_dataset
from zktrain.fixedpoint.data import encode_dataset
from zktrain.fixedpoint.engine import FixedPointMLP, WidthError, train
from zktrain.fixedpoint.exact import OPERAND_LIMIT
from zktrain.fixedpoint.momentum import RoundedState, rounded_step
from zktrain.fixedpoint.reference import compare, optimizer_options, train_float
from zktrain.provable import NotProvableError
from verifier.bundle import verify_bundle
from zktrain.prove import plan_segments, train_trace
from zktrain.run_config import ProveOptions, RunConfigError, parse_run
from zktrain.train.config import parse_run_config

R = 16
MU = Dyadic(29491, 15)  # 0.9 quantized (docs/momentum.md section 1)
LAM = Dyadic(105, 20)  # 1e-4 quantized


def recipe_for(steps: int = 300, lr: float = 0.04, loss: str = "cross_entropy", mu: Dyadic = MU, lam: Dyadic = LAM,
               widths=(64, 128, 128, 10), buf_bits: int = 48, **quant) -> Recipe:
    lr_num = ce_lr_num(lr, 64, 16) if loss == "cross_entropy" else mse_lr_num(lr, 64, widths[-1], 16)
    return Recipe(
        name="digits-momentum",
        seed=0,
        data=DataSpec(source="digits", features=widths[0], classes=widths[-1]),
        model=ModelSpec(widths=tuple(widths)),
        train=TrainSpec(batch_size=64, steps=steps, lr_num=(lr_num,) * steps, loss=loss, optimizer="sgd_momentum",
                        momentum=mu, weight_decay=lam, buf_bits=buf_bits),
        quant=QuantSpec(**quant),
    )


def shortened(recipe: Recipe, steps: int) -> Recipe:
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=steps,
                                                                 lr_num=recipe.train.lr_num[:steps]))


# --- the recipe ---------------------------------------------------------------------------------


def test_recipe_holds_momentum_only_when_set():
    recipe = recipe_for(steps=2)
    raw = recipe.to_canonical_json()
    assert b'"momentum":{"num":29491,"shift":15}' in raw and b'"weight_decay":{"num":105,"shift":20}' in raw
    assert b'"buf_bits":48' in raw and b'"optimizer":"sgd_momentum"' in raw
    assert Recipe.from_canonical_json(raw) == recipe
    plain = dataclasses.replace(recipe, train=TrainSpec(64, 2, recipe.train.lr_num, loss="cross_entropy"))
    plain_raw = plain.to_canonical_json()
    assert b'"momentum"' not in plain_raw and b'"weight_decay"' not in plain_raw and b'"buf_bits"' not in plain_raw
    assert Recipe.from_canonical_json(plain_raw) == plain
    # null is not "absent": the canonical form omits the key, so the bytes would not re-encode.
    with pytest.raises(RecipeError, match="not in canonical form"):
        Recipe.from_canonical_json(plain_raw.replace(b'"loss"', b'"buf_bits":null,"loss"'))
    with pytest.raises(RecipeError, match=r"train.momentum: dyadic: 2/2\^3 is not in lowest terms"):
        Recipe.from_canonical_json(raw.replace(b'{"num":29491,"shift":15}', b'{"num":2,"shift":3}'))
    with pytest.raises(RecipeError, match=r"train.momentum.den: unknown field"):
        Recipe.from_canonical_json(raw.replace(b'{"num":29491,"shift":15}', b'{"den":1,"num":29491,"shift":15}'))
    with pytest.raises(RecipeError, match=r"train.weight_decay.shift: must lie in \[0, 32\]"):
        Recipe.from_canonical_json(raw.replace(b'{"num":105,"shift":20}', b'{"num":105,"shift":40}'))


@pytest.mark.parametrize("change, message", [
    (dict(optimizer="sgd"), r"train.momentum: only with optimizer sgd_momentum"),
    (dict(buf_bits=None), r"train.buf_bits: optimizer sgd_momentum needs it"),
    (dict(momentum=None), r"train.momentum: optimizer sgd_momentum needs it"),
    (dict(momentum=Dyadic(1, 0)), r"train.momentum: must lie in \[0, 1\), got 1/2\^0"),
    (dict(momentum=(29491, 15)), r"train.momentum: must be a dyadic \{num, shift\}"),
    (dict(weight_decay=0.0001), r"train.weight_decay: must be a dyadic"),
    (dict(buf_bits=63), r"train.buf_bits: must lie in \[2, 62\]"),
    (dict(buf_bits=True), r"train.buf_bits: must be an integer"),
    (dict(momentum=Dyadic(0, 0), weight_decay=Dyadic(0, 0)), r"train.momentum: 0 without weight decay is plain SGD"),
    (dict(optimizer="adam"), r"train.optimizer: must be one of \['sgd', 'sgd_momentum', 'lars', 'lamb'\]"),
])
def test_recipe_validation_names_the_option(change, message):
    train_spec = recipe_for(steps=2).train
    fields = {f.name: getattr(train_spec, f.name) for f in dataclasses.fields(train_spec)}
    with pytest.raises(RecipeError, match=message):
        TrainSpec(**{**fields, **change})


def test_recipe_folds_the_decay_and_bounds_the_buffer():
    """lam_f = lam / c: c = 2 / (B n_out) for the mean MSE, 1 / B for the mean cross-entropy
    (docs/momentum.md section 1); the buffer and its relation enter the bit accounting."""
    ce, mse = recipe_for(steps=4), recipe_for(steps=4, loss="mse", lr=0.5)
    assert momentum_spec(ce) == MomentumSpec(MU, Dyadic(105, 14)) == MomentumSpec(MU, fold_weight_decay(LAM, 64))
    assert momentum_spec(mse) == MomentumSpec(MU, Dyadic(525, 14)) == MomentumSpec(MU, fold_weight_decay(LAM, 320))
    assert momentum_spec(ce).rounding_shift(16) == 30  # K_A = max(15, 16 + 14)
    widths = declared_widths(ce)
    assert (widths["momentum_buffer"].bits, widths["momentum_remainder"].bits) == (48, 30)
    bits = bit_bounds(ce)
    assert bits["momentum_buffer"] == 48 and bits["momentum"] < MAX_RELATION_BITS
    # W_t = W_0 - sum lr buf_s: the weight bound follows the buffer's width, not the gradient's.
    plain = bit_bounds(dataclasses.replace(ce, train=TrainSpec(64, 4, ce.train.lr_num, loss="cross_entropy")))
    assert "momentum" not in plain and bits["weight"] <= plain["weight"]
    assert momentum_spec(dataclasses.replace(ce, train=TrainSpec(64, 4, ce.train.lr_num))) is None


def test_run_file_quantization():
    """Torch's floats to the recipe's dyadics (``recipe_hyperparameters``): mu at 2^-15, lam at the
    coarsest 2^-s (s >= 20) within 1/512."""
    assert recipe_hyperparameters(0.9, 1e-4) == (MU, LAM)
    assert recipe_hyperparameters(0.9, 5e-4) == (MU, Dyadic(131, 18))
    assert recipe_hyperparameters(0, 1e-5) == (Dyadic(0, 0), Dyadic(21, 21))  # shift 20 is 4.6% off
    for bad, message in ((dict(momentum=1.0), "momentum: must lie in"),
                         (dict(momentum=0.9, weight_decay=1e-12), "weight_decay: 1e-12 is too small to quantize"),
                         (dict(momentum=0.9, nesterov=True), "nesterov"),
                         (dict(momentum=0.9, dampening=0.5), "dampening")):
        with pytest.raises(ValueError, match=message):
            recipe_hyperparameters(**bad)


# --- the engine ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits(single_threaded):
    recipe = recipe_for()
    return recipe, encode_dataset(load_dataset({"source": "digits"}), recipe)


@pytest.mark.parametrize("loss, lr, mu, lam", [
    ("cross_entropy", 0.03, MU, LAM),
    ("mse", 0.5, MU, Dyadic(0, 0)),
    ("mse", 0.5, Dyadic(0, 0), Dyadic(5243, 19)),  # weight decay alone (0.01): buf_t = round(G + lam_f W)
    ("cross_entropy", 0.03, Dyadic(7, 3), Dyadic(5243, 19)),
])
def test_engine_trajectory_is_the_kernels_step_by_step(digits, loss, lr, mu, lam):
    """Every step of the engine is ``rounded_step`` on its own gradients, for every weight and
    bias: W_{t+1}, buf_t and the remainder r_t, with buf carried across steps from zero."""
    _, data = digits
    recipe = recipe_for(steps=4, loss=loss, lr=lr, mu=mu, lam=lam, widths=(64, 32, 10))
    trace = train(recipe, data.x_train, data.y_train, data.batches[:4])
    spec, q = momentum_spec(recipe), recipe.quant
    states = {}
    for t, step in enumerate(trace.steps):
        assert step.momentum is not None and len(step.momentum) == 2
        after = trace.steps[t + 1].layers if t + 1 < len(trace.steps) else None
        for layer, mom in zip(step.layers, step.momentum):
            l = layer.layer
            g_w = layer.g_w.to_object()
            assert np.abs(g_w).max() < OPERAND_LIMIT
            for name, param, grad, buf, rem, nxt in (
                ("W", layer.weight, g_w.astype(np.int64), mom.buf, mom.buf_rem,
                 after[l - 1].weight if after else trace.final_weights[l - 1]),
                ("b", layer.bias, layer.g_b, mom.bias_buf, mom.bias_buf_rem,
                 after[l - 1].bias if after else trace.final_biases[l - 1]),
            ):
                state = states.get((name, l), RoundedState(param, np.zeros_like(param), 0))
                assert np.array_equal(state.w, param)
                state, expected_rem = rounded_step(state, grad, step.lr_num, spec, q.lr_shift, q.weight_bits, 48)
                assert np.array_equal(buf, state.buf) and np.array_equal(rem, expected_rem)
                assert np.array_equal(nxt, state.w)
                assert buf.dtype == rem.dtype == np.int64
                states[(name, l)] = state
    # Plain SGD has no momentum trace; the momentum run moves differently from it.
    plain = dataclasses.replace(recipe, train=TrainSpec(64, 4, recipe.train.lr_num, loss=loss))
    plain_trace = train(plain, data.x_train, data.y_train, data.batches[:4])
    assert plain_trace.steps[0].momentum is None
    assert not np.array_equal(plain_trace.final_weights[0], trace.final_weights[0])


def test_engine_carries_a_checkpoints_buffer_and_refuses_a_wide_one(digits):
    _, data = digits
    recipe = recipe_for(steps=4, widths=(64, 32, 10))
    whole = train(recipe, data.x_train, data.y_train, data.batches[:4])
    # Resume at step 2 from (W_2, buf_1): the same last two steps as the whole run.
    second = shortened(recipe, 2)
    w2 = [l.weight.copy() for l in whole.steps[2].layers]
    b2 = [l.bias.copy() for l in whole.steps[2].layers]
    bufs = [(m.buf.copy(), m.bias_buf.copy()) for m in whole.steps[1].momentum]
    model = FixedPointMLP(second, w2, b2, buffers=bufs)
    for t in (2, 3):
        rec = model.step(data.x_train[data.batches[t]], data.y_train[data.batches[t]], recipe.train.lr_num[t], t,
                         data.batches[t])
        for a, b in zip(rec.momentum, whole.steps[t].momentum):
            assert np.array_equal(a.buf, b.buf) and np.array_equal(a.bias_buf_rem, b.bias_buf_rem)
    for a, b in zip(model.weights, whole.final_weights):
        assert np.array_equal(a, b)
    wide = [(np.full_like(w, 1 << 50), np.zeros_like(b)) for w, b in zip(w2, b2)]
    with pytest.raises(WidthError, match="buf W of layer 1 at step 0: value 1125899906842624 .* 48-bit range"):
        FixedPointMLP(second, w2, b2, buffers=wide)
    with pytest.raises(ValueError, match="buffers: the recipe's optimizer has no momentum buffer"):
        FixedPointMLP(dataclasses.replace(second, train=TrainSpec(64, 2, second.train.lr_num, loss="cross_entropy")),
                      w2, b2, buffers=bufs)


def test_engine_refuses_a_buffer_beyond_its_width_and_keeps_the_model(digits):
    """buf beyond ``train.buf_bits`` is a WidthError naming the tensor, layer and step (never a
    saturation), and no layer has moved."""
    _, data = digits
    recipe = recipe_for(steps=1, widths=(64, 32, 10), buf_bits=34)
    model = FixedPointMLP.seeded(recipe)
    before = [w.copy() for w in model.weights]
    with pytest.raises(WidthError, match=r"W of layer \d at step 0: momentum buffer at step 0: value .* 34-bit range"):
        model.step(data.x_train[data.batches[0]], data.y_train[data.batches[0]], recipe.train.lr_num[0], 0,
                   data.batches[0])
    assert all(np.array_equal(a, b) for a, b in zip(model.weights, before))
    assert all(not buf.any() for buf, _ in model.buffers)


# --- the float reference -----------------------------------------------------------------------


def test_float_reference_is_torch_sgd_with_the_dyadic_values(digits):
    """The float reference is torch.optim.SGD(momentum=mu, weight_decay=lam) with the recipe's
    own dyadics (exact in float64): a few steps apart it agrees with the fixed point within
    1e-4, and a momentum or a weight decay 5% off breaks that (so the closeness checks both,
    the decay's folding included)."""
    _, data = digits
    recipe = recipe_for(steps=5, lr=0.05, lam=Dyadic(5243, 19))  # weight decay 0.01: visible in 5 steps
    assert optimizer_options(recipe) == {"momentum": 29491 / 2**15, "weight_decay": 5243 / 2**19}
    model = FixedPointMLP.seeded(recipe)
    w0, b0 = list(model.weights), list(model.biases)
    trace = train(recipe, data.x_train, data.y_train, data.batches[:5], model=model)
    scale = 2.0 ** recipe.scales.weight

    def distance(r):
        floats = train_float(r, data.x_train, data.y_train, data.batches[:5], w0, b0)
        return max(np.linalg.norm(w / scale - m.weight.detach().numpy()) / np.linalg.norm(m.weight.detach().numpy())
                   for w, m in zip(trace.final_weights, (m for m in floats.model if isinstance(m, nn.Linear))))

    assert distance(recipe) < 1e-4
    off_mu = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, momentum=Dyadic(30965, 15)))  # 0.945
    off_lam = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, weight_decay=Dyadic(5505, 19)))
    assert distance(off_mu) > 1e-4 and distance(off_lam) > 1e-4


def test_fidelity_against_float_pytorch_with_momentum(digits):
    """Issue 15 item 4: digits 64-128-128-10, batch 64, 300 steps on the mean cross-entropy with
    momentum 0.9 (29491/2^15) and weight decay 1e-4 (105/2^20) at lr 0.04 (lr_num 41: torch's
    rate 41 x 64 / 2^16 = 0.0400), fixed point against float64 PyTorch: test accuracies within 1
    point (both 95.8% when written; docs/momentum.md section 7), weights within 3% (1.1%)."""
    recipe, data = digits
    f = compare(recipe, data)
    fixed, reference = f.fixed_accuracy, f.float_accuracy
    assert fixed > 0.95 and reference > 0.95
    assert abs(fixed - reference) <= 0.01
    distances = f.distances
    assert distances[0] == 0.0 and distances[1] < 1e-4
    assert max(distances) < 0.03


# --- run files, zktrain train, the Recorder, prove ---------------------------------------------


def momentum_run(**train_keys) -> dict:
    cfg = tiny_run()
    cfg["train"].update(train_keys)
    return cfg


def test_run_file_momentum_is_quantized_into_the_recipe():
    for cfg in (momentum_run(momentum=0.9, weight_decay=1e-4),
                momentum_run(optimizer={"name": "sgd", "momentum": 0.9, "weight_decay": 1e-4})):
        t = parse_run(cfg).recipe.train
        assert (t.optimizer, t.momentum, t.weight_decay, t.buf_bits) == ("sgd_momentum", MU, LAM, 48)
    t = parse_run(momentum_run(weight_decay=5e-4)).recipe.train
    assert (t.momentum, t.weight_decay) == (Dyadic(0, 0), Dyadic(131, 18))
    for cfg in (momentum_run(momentum=0), momentum_run(optimizer={"name": "sgd", "momentum": 0.0})):
        assert parse_run(cfg).recipe.train.optimizer == "sgd"
    # zktrain train (float) takes the same keys as the optimizer's own options.
    assert parse_run_config(momentum_run(momentum=0.9, weight_decay=1e-4)).train.optimizer.options == {
        "lr": 0.5, "momentum": 0.9, "weight_decay": 1e-4}


@pytest.mark.parametrize("keys, message", [
    (dict(momentum=0.9, optimizer={"name": "sgd", "momentum": 0.9}), r"train.momentum: given twice"),
    (dict(momentum=1.0), r"train.momentum: must lie in \[0, 1\), got 1.0 \(quantization: momentum rounded half up"),
    (dict(momentum=-0.5), r"train.momentum: must be a non-negative number"),
    (dict(momentum="0.9"), r"train.momentum: must be a non-negative number"),
    (dict(optimizer={"name": "sgd", "weight_decay": 1e-12}), r"train.optimizer.weight_decay: 1e-12 is too small to quantize"),
    (dict(optimizer={"name": "sgd", "momentum": 0.9, "nesterov": True}), r"train.optimizer.nesterov: True is not provable yet"),
    (dict(optimizer={"name": "sgd", "momentum": 0.9, "dampening": 0.5}), r"train.optimizer.dampening: 0.5 is not provable yet"),
])
def test_run_file_momentum_errors_name_the_option(keys, message):
    with pytest.raises(RunConfigError, match=message):
        parse_run(momentum_run(**keys))


@pytest.mark.parametrize("zk, segment_steps, loss", [(False, None, "mse"), (True, 2, "mse"), (True, None, "cross_entropy")])
def test_run_file_with_momentum_is_proven_and_verifies(zk, segment_steps, loss):
    """``zktrain prove`` on a run file with momentum and weight decay, on the MSE or the
    cross-entropy: the engine's trace is proven (in two segments chained by the buffers'
    checkpoint, in one ZK case) and the bundle verifies, with the model file's weights the
    trained ones (issue 15's done-when: cross-entropy with momentum and decay, both modes)."""
    cfg = momentum_run(momentum=0.9, weight_decay=1e-4, loss=loss)
    cfg["prove"].update(zk=zk, segment_steps=segment_steps)
    run = parse_run(cfg)
    trace, (train_acc, test_acc) = train_trace(run)
    assert len(trace.steps) == 3 and all(s.momentum is not None for s in trace.steps)
    assert 0 <= train_acc <= 1 and 0 <= test_acc <= 1
    _, summary = prove_and_infer(run, zk)  # and predictions from the trained model, proven
    assert summary.segments == (2 if segment_steps else 1)
    assert sorted(summary.model.tensors) == ["W1", "W2", "b1", "b2"]  # the buffers are not the model
    assert np.array_equal(summary.model.tensors["W2"], trace.final_weights[1])


def test_prove_plans_momentum_and_the_circuit_folds_the_decay():
    statements, _ = plan_segments(recipe_for(steps=2, loss="mse", lr=0.5), ProveOptions())
    c = statements[0].circuit
    assert (c.optimizer, c.momentum, c.buf_bits) == ("sgd_momentum", (MU.num, MU.shift), 48)
    # lam folded by 1/c = B n_out / 2 = 320 for the mean MSE (docs/momentum.md section 1).
    assert Dyadic(*c.weight_decay) == fold_weight_decay(LAM, 320)
    decay_only = MlpCircuit.from_recipe(recipe_for(steps=2, loss="mse", lr=0.5, mu=Dyadic(0, 0)))
    assert (decay_only.momentum, decay_only.momentum_shift) == ((0, 0), 16 + Dyadic(*decay_only.weight_decay).shift)


def test_recorder_records_momentum_and_proves_it(tmp_path):
    """``zktrain.Recorder`` with ``torch.optim.SGD(momentum=0.9, weight_decay=1e-4)``: the
    recipe's sgd_momentum with the quantized values, the engine's steps (buffers carried), the
    float replay agrees, and ``prove`` writes a bundle that verifies."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    initial = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss())
    rng = np.random.default_rng(3)
    batches = [(rng.normal(size=(8, 4)), rng.integers(0, 3, 8)) for _ in range(4)]
    for x, labels in batches:
        rec.step(x, labels)
    recipe = rec.recipe()
    t = recipe.train
    assert (t.optimizer, t.momentum, t.weight_decay, t.buf_bits) == ("sgd_momentum", MU, LAM, 48)
    trace = rec.trace()
    assert all(s.momentum is not None for s in trace.steps)
    # The same steps as the engine from the same W_0.
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        for p, v in zip(fresh.parameters(), initial):
            p.copy_(v)
    from zktrain.provable import check_model, master_parameters

    engine = FixedPointMLP(recipe, *master_parameters(check_model(fresh), recipe.scales.weight))
    for s in trace.steps:
        again = engine.step(s.x, s.y, s.lr_num, s.step, s.batch_indices)
        for a, b in zip(again.momentum, s.momentum):
            assert np.array_equal(a.buf, b.buf) and np.array_equal(a.bias_buf, b.bias_buf)
    assert all(np.array_equal(a, b) for a, b in zip(engine.weights, trace.final_weights))
    report = rec.fidelity()
    assert report.relative_weight_difference < 1e-3
    rec.prove(tmp_path / "momentum.zkp", zk=False)
    report = verify_bundle((tmp_path / "momentum.zkp").read_bytes(), weights=tmp_path / "momentum.model.npz")
    assert report.accepted, report.reason


@pytest.mark.parametrize("options, message", [
    (dict(momentum=0.9, nesterov=True), r"optimizer: torch.optim.SGD with nesterov=True \(param group 0\) is not provable"),
    (dict(momentum=0.9, dampening=0.1), r"optimizer: torch.optim.SGD with dampening=0.1 \(param group 0\) is not provable"),
    (dict(weight_decay=1e-12), r"optimizer: torch.optim.SGD weight_decay: 1e-12 is too small to quantize"),
])
def test_recorder_refuses_other_momentum_semantics_by_name(options, message):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(NotProvableError, match=message):
        zktrain.Recorder(model, torch.optim.SGD(model.parameters(), lr=0.1, **options), nn.MSELoss())


def test_recorder_refuses_param_groups_with_different_momentum():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    groups = [{"params": model[0].parameters(), "momentum": 0.9}, {"params": model[2].parameters(), "momentum": 0.5}]
    with pytest.raises(NotProvableError, match=r"param groups with different momentum \[0.5, 0.9\]"):
        zktrain.Recorder(model, torch.optim.SGD(groups, lr=0.1), nn.MSELoss())


def test_quantized_values_are_exact_floats():
    """The dyadics the recipe stores are exact in float64, so the float reference uses exactly
    the fixed point's mu and lam (no second rounding)."""
    for d in (MU, LAM, Dyadic(131, 18), Dyadic(21, 21)):
        assert Fraction(float(d.value)) == d.value


def test_recorder_proves_cross_entropy_with_momentum_in_zero_knowledge(tmp_path):
    """``zktrain.Recorder`` with ``nn.CrossEntropyLoss`` and ``torch.optim.SGD(momentum=0.9,
    weight_decay=1e-4)``: the recorded steps are proven in the zero-knowledge mode and the
    bundle verifies against the model file the Recorder writes."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    rec = zktrain.Recorder(model, optimizer, nn.CrossEntropyLoss())
    rng = np.random.default_rng(5)
    for _ in range(3):
        rec.step(rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    t = rec.recipe().train
    assert (t.loss, t.optimizer, t.momentum, t.weight_decay) == ("cross_entropy", "sgd_momentum", MU, LAM)
    rec.prove(tmp_path / "ce.zkp", zk=True)
    report = verify_bundle((tmp_path / "ce.zkp").read_bytes(), weights=tmp_path / "ce.model.npz")
    assert report.accepted, report.reason
