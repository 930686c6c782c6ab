"""SGD with momentum and weight decay in exact fixed point (issue 15, item 3): both designs of
``circuits.momentum`` against a big-integer (Fraction) step-by-step reference, bit for bit;
against torch.optim.SGD in float64 within a derived tolerance; design (B)'s public period
weights; the 2^250 bit budget; hyperparameter validation. No wall-clock thresholds."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from circuits.limbs import LimbDecomposition
from circuits.momentum import (
    Dyadic,
    MomentumSpec,
    Shape,
    check_period,
    cost_per_step,
    fold_weight_decay,
    gradient_bounds,
    limb_slots,
    max_period,
    period_coefficients,
    period_relation_bounds,
    period_weight_mles,
    quantize,
    spec_from_torch,
)
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec
from zktrain.fixedpoint.momentum import (
    MomentumWidthError,
    close_period,
    period_start,
    period_step,
    rounded_start,
    rounded_step,
    torch_sgd_reference,
)

R, K = 16, 16  # frac_bits, lr_shift
W_SCALE, G_SCALE = 2 * R + K, 2 * R
MU_09 = Dyadic(29491, 15)
LAM = Dyadic(525, 14)  # 1e-4 ~ 105/2^20, folded by B n_out / 2 = 320 (MSE, B = 64, 10 outputs)
SPECS = {
    "mu": MomentumSpec(MU_09),
    "mu+wd": MomentumSpec(MU_09, LAM),
    "wd": MomentumSpec(Dyadic(0, 0), LAM),
    "7/8": MomentumSpec(Dyadic(7, 3), Dyadic(3, 6)),
    "plain": MomentumSpec(Dyadic(0, 0)),
}


def half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def random_run(rng, shape=(3, 5), steps=12, wide=False):
    """W_0 (at 2^(2R+k)), gradients (at 2^(2R)) and lr_nums; ``wide`` puts intermediates past int64."""
    gbits = 60 if wide else 40
    w0 = rng.integers(-(1 << 50), 1 << 50, size=shape)
    grads = [rng.integers(-(1 << gbits), 1 << gbits, size=shape) for _ in range(steps)]
    grads[0].flat[0], grads[1].flat[0] = (1 << gbits) - 1, -(1 << gbits)
    lrs = [int(x) for x in rng.integers(0, 40, size=steps)]
    return w0, grads, lrs


# --- big-integer step-by-step references (real-valued Fractions, rounded on the grids) ----------


def reference_rounded(w0, grads, lrs, spec):
    """Design (A) from its real-valued definition: buf = round_{2^-2R}(mu buf + g + lam w)."""
    mu, lam = spec.mu.value, spec.lam.value
    w = [Fraction(int(v), 1 << W_SCALE) for v in np.ravel(w0)]
    buf = [Fraction(0)] * len(w)
    out = []
    for g, lr in zip(grads, lrs):
        gs = [Fraction(int(v), 1 << G_SCALE) for v in np.ravel(g)]
        buf = [Fraction(half_up((mu * b + x + lam * wi) * (1 << G_SCALE)), 1 << G_SCALE) for b, x, wi in zip(buf, gs, w)]
        w = [wi - Fraction(lr, 1 << K) * b for wi, b in zip(w, buf)]
        out.append(([int(v * (1 << W_SCALE)) for v in w], [int(b * (1 << G_SCALE)) for b in buf]))
        assert all((v * (1 << W_SCALE)).denominator == 1 for v in w)
    return out


def reference_period(w0, grads, lrs, spec, period):
    """Design (B) from its definition: exact reals within a period, both rounded at its end."""
    mu, lam = spec.mu.value, spec.lam.value
    w = [Fraction(int(v), 1 << W_SCALE) for v in np.ravel(w0)]
    buf = [Fraction(0)] * len(w)
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs)):
        gs = [Fraction(int(v), 1 << G_SCALE) for v in np.ravel(g)]
        buf = [mu * b + x + lam * wi for b, x, wi in zip(buf, gs, w)]
        w = [wi - Fraction(lr, 1 << K) * b for wi, b in zip(w, buf)]
        if (t + 1) % period == 0 or t + 1 == len(grads):
            w = [Fraction(half_up(v * (1 << W_SCALE)), 1 << W_SCALE) for v in w]
            buf = [Fraction(half_up(b * (1 << G_SCALE)), 1 << G_SCALE) for b in buf]
        out.append((list(w), list(buf)))
    return out


def run_period(w0, grads, lrs, spec, period):
    state, states = period_start(w0), []
    for t, (g, lr) in enumerate(zip(grads, lrs)):
        state, _ = period_step(state, g, lr, spec, K, period, weight_bits=200, buf_bits=200)
        if t + 1 == len(grads) and state.j:
            state, _ = close_period(state, spec, K, weight_bits=200, buf_bits=200)
        states.append(state)
    return states


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("wide", [False, True])
def test_rounded_matches_big_integer_reference(name, wide):
    spec, rng = SPECS[name], np.random.default_rng(1)
    w0, grads, lrs = random_run(rng, wide=wide)
    state, ref = rounded_start(w0), reference_rounded(w0, grads, lrs, spec)
    K_A = spec.rounding_shift(K)
    for t, (g, lr) in enumerate(zip(grads, lrs)):
        prev = state
        state, rem = rounded_step(state, g, lr, spec, K, weight_bits=120, buf_bits=120)
        assert [int(v) for v in np.ravel(state.w)] == ref[t][0]
        assert [int(v) for v in np.ravel(state.buf)] == ref[t][1]
        # The relation the circuit checks, over the integers, and the remainder's range.
        lhs = [(int(b) << K_A) + int(r) for b, r in zip(np.ravel(state.buf), np.ravel(rem))]
        rhs = [
            (spec.mu.num << (K_A - spec.mu.shift) if spec.mu.num else 0) * int(pb)
            + (int(gv) << K_A)
            + (spec.lam.num << (K_A - K - spec.lam.shift) if spec.lam.num else 0) * int(pw)
            for pb, gv, pw in zip(np.ravel(prev.buf), np.ravel(g), np.ravel(prev.w))
        ]
        assert lhs == rhs
        if K_A:
            assert all(-(1 << (K_A - 1)) <= int(r) < 1 << (K_A - 1) for r in np.ravel(rem))
    assert wide or state.w.dtype == np.int64  # int64 where it fits, Python ints where it does not


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("period", [1, 3, 5])
@pytest.mark.parametrize("wide", [False, True])
def test_period_matches_big_integer_reference(name, period, wide):
    spec, rng = SPECS[name], np.random.default_rng(2)
    w0, grads, lrs = random_run(rng, steps=11, wide=wide)  # 11 steps: the last period is partial
    D = spec.growth_bits(K)
    ref = reference_period(w0, grads, lrs, spec, period)
    for t, state in enumerate(run_period(w0, grads, lrs, spec, period)):
        e = state.extra_bits
        assert e == state.j * D
        w_ref, b_ref = ref[t]
        assert [Fraction(int(v), 1 << (W_SCALE + e)) for v in np.ravel(state.w)] == w_ref
        assert [Fraction(int(v), 1 << (G_SCALE + e)) for v in np.ravel(state.buf)] == b_ref


@pytest.mark.parametrize("name", ["mu", "mu+wd", "7/8", "wd"])
def test_period_weights_are_a_linear_functional_of_the_gradients(name):
    """W_j = a_j W_t0 + b_j buf_t0-1 - sum_s C(j, s) G_s exactly (and buf_j likewise)."""
    spec, rng, P = SPECS[name], np.random.default_rng(3), 6
    w0, grads, lrs = random_run(rng, steps=P, wide=True)
    buf0 = rng.integers(-(1 << 45), 1 << 45, size=w0.shape)
    co = period_coefficients(lrs, spec, K)
    state = period_start(w0, buf0)
    for j in range(P):
        assert (state.w == co.a[j] * w0.astype(object) + co.b[j] * buf0.astype(object)
                - sum(c * g.astype(object) for c, g in zip(co.c[j], grads))).all()
        state, _ = period_step(state, grads[j], lrs[j], spec, K, P + 1, 400, 400)
        assert (state.buf == co.ba[j] * w0.astype(object) + co.bb[j] * buf0.astype(object)
                + sum(c * g.astype(object) for c, g in zip(co.bc[j], grads))).all()
    assert (state.w == co.a[P] * w0.astype(object) + co.b[P] * buf0.astype(object)
            - sum(c * g.astype(object) for c, g in zip(co.c[P], grads))).all()


def test_period_weights_without_decay_are_geometric():
    """lam = 0: a_j = 2^(jD), b_j and C(j, s) = lr ... the closed form of reference section 11."""
    spec, lrs = SPECS["mu"], [3, 7, 20, 1, 0, 9, 11]
    D, mu = spec.growth_bits(K), spec.mu.value
    co = period_coefficients(lrs, spec, K)
    for j in range(len(lrs) + 1):
        scale = 1 << (K + j * D)  # W_j's scale over G's, W_t0's is 2^(jD)
        assert co.a[j] == 1 << (j * D)
        assert Fraction(co.b[j], scale) == -sum(Fraction(lrs[u], 1 << K) * mu ** (u + 1) for u in range(j))
        for s in range(j):
            expected = sum(Fraction(lrs[u], 1 << K) * mu ** (u - s) for u in range(s, j))
            assert Fraction(co.c[j][s], scale) == expected


def test_period_weight_mles_are_the_verifiers_evaluation():
    """a~, b~, C~ at random field points equal the MLEs of the padded tables (little-endian)."""
    import random

    from verifier.field import MODULUS
    from verifier.polynomial import mle_evaluate

    co = period_coefficients([20, 7, 3, 20, 11], SPECS["mu+wd"], K)  # P = 5: padded to 8 x 8
    rnd = random.Random(6)
    tau, rho = [rnd.randrange(MODULUS) for _ in range(3)], [rnd.randrange(MODULUS) for _ in range(3)]
    a, b, c = period_weight_mles(co, tau, rho, MODULUS)
    assert a == mle_evaluate(list(co.a[:5]) + [0] * 3, tau)
    assert b == mle_evaluate(list(co.b[:5]) + [0] * 3, tau)
    table = [0] * 64  # index s + 8 j: rho the low variables, tau the high ones
    for j in range(5):
        for s_, x in enumerate(co.c[j]):
            table[s_ + 8 * j] = x
    assert c == mle_evaluate(table, rho + tau)
    with pytest.raises(ValueError, match="does not fit"):
        period_weight_mles(co, tau[:2], rho, MODULUS)


def test_plain_sgd_is_the_special_case():
    """mu = lam = 0: both designs are the engine's exact W - lr_num G, with no rounding."""
    rng = np.random.default_rng(4)
    w0, grads, lrs = random_run(rng)
    spec = SPECS["plain"]
    assert spec.rounding_shift(K) == spec.growth_bits(K) == 0
    a, b, w = rounded_start(w0), period_start(w0), w0.copy()
    for g, lr in zip(grads, lrs):
        w = w - lr * g
        a, rem = rounded_step(a, g, lr, spec, K, 120, 120)
        b, _ = period_step(b, g, lr, spec, K, 4, 120, 120)
        assert (a.w == w).all() and not rem.any()
        assert (b.w == w).all() and b.extra_bits == 0


def test_kernels_are_pure_and_refuse_overflow():
    rng = np.random.default_rng(5)
    w0, grads, lrs = random_run(rng)
    spec = SPECS["mu+wd"]
    s0 = rounded_start(w0)
    before = (s0.w.copy(), s0.buf.copy())
    rounded_step(s0, grads[0], lrs[0], spec, K, 120, 120)
    assert (s0.w == before[0]).all() and (s0.buf == before[1]).all()
    with pytest.raises(MomentumWidthError, match="momentum buffer at step 0"):
        rounded_step(s0, grads[0], lrs[0], spec, K, 120, 30)
    with pytest.raises(MomentumWidthError, match="weight at step 0"):
        rounded_step(s0, grads[0], 1 << 20, spec, K, 52, 120)
    p = period_start(w0)
    with pytest.raises(MomentumWidthError, match="weight checkpoint"):
        period_step(p, grads[0], 1 << 20, spec, K, 1, 52, 120)
    with pytest.raises(ValueError, match="shape"):
        rounded_step(s0, grads[0][:1], lrs[0], spec, K)


# --- torch.optim.SGD, float64 ----------------------------------------------------------------------


def mlp_gradient_sequence(steps=50):
    """The weight gradients of a small MLP's first layer over ``steps`` float64 SGD steps on a
    fixed random regression task: a realistic gradient sequence to feed every implementation."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    x, y = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 3, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    w0, grads = model[0].weight.detach().clone().numpy(), []
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        grads.append(model[0].weight.grad.detach().clone().numpy())
        opt.step()
    return w0, grads


def error_bound(spec, lrs, period=None):
    """The largest |w_fixed - w_exact| the rounding allows, by propagating the rounding errors
    (buf: 2^-(2R+1) per rounding; W: 2^-(2R+k+1) per period boundary) through the recurrence."""
    mu, lam = float(spec.mu.value), float(spec.lam.value)
    ew = eb = 0.0
    for t, lr in enumerate(lrs):
        lr = lr / 2**K
        eb = mu * eb + lam * ew + (2.0 ** -(G_SCALE + 1) if period is None else 0.0)
        ew = ew + lr * eb
        if period is not None and ((t + 1) % period == 0 or t + 1 == len(lrs)):
            eb += 2.0 ** -(G_SCALE + 1)
            ew += 2.0 ** -(W_SCALE + 1)
    return ew


@pytest.mark.parametrize("name", ["mu", "mu+wd", "7/8"])
def test_both_designs_track_torch_sgd(name):
    """Same gradient sequence (50 steps of a small MLP, quantized to 2^-2R) into (A), (B) and
    torch.optim.SGD(momentum=mu, weight_decay=lam) in float64 with the same dyadic values,
    torch in *unfolded* units (loss factor c = 1/320, as the mean MSE of B = 64, 10 outputs)."""
    torch = pytest.importorskip("torch")
    spec = SPECS[name]
    w0f, gf = mlp_gradient_sequence(50)
    W0 = np.array([half_up(Fraction(float(v)) * (1 << W_SCALE)) for v in w0f.ravel()]).reshape(w0f.shape)
    G = [np.array([half_up(Fraction(float(v)) * (1 << G_SCALE)) for v in g.ravel()]).reshape(g.shape) for g in gf]
    lrs = [3000] * 25 + [1500] * 25  # lr_num / 2^16 in folded units, a step schedule
    inv_c = 320
    # torch, unfolded: g_torch = c G / 2^2R, lr_torch = lr / c, weight_decay = lam c.
    p = torch.nn.Parameter(torch.tensor(W0 / 2.0**W_SCALE, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=1.0, momentum=float(spec.mu.value), weight_decay=float(spec.lam.value) / inv_c)
    a, b = rounded_start(W0), period_start(W0)
    ref = torch_sgd_reference(W0 / 2.0**W_SCALE, [g / 2.0**G_SCALE for g in G], [lr / 2**K for lr in lrs],
                              float(spec.mu.value), float(spec.lam.value))
    P = 5
    tol_a, tol_b = error_bound(spec, lrs), error_bound(spec, lrs, P)
    for t, (g, lr) in enumerate(zip(G, lrs)):
        for group in opt.param_groups:
            group["lr"] = lr / 2**K * inv_c
        p.grad = torch.tensor(g / 2.0**G_SCALE / inv_c, dtype=torch.float64)
        opt.step()
        a, _ = rounded_step(a, g, lr, spec, K)
        b, _ = period_step(b, g, lr, spec, K, P)
        if t + 1 == len(G) and b.j:
            b, _ = close_period(b, spec, K)
        wt = p.detach().numpy()
        slack = 1e-13 * (1 + np.abs(wt).max())  # float64 rounding of torch's 3 ops a step
        assert np.abs(wt - ref[t + 1]).max() <= slack  # the float reference is torch's semantics
        wa = a.w.astype(np.float64) / 2.0**W_SCALE
        assert np.abs(wa - wt).max() <= tol_a + slack
        if b.j == 0:  # at a period boundary W is back at 2^(2R+k)
            wb = b.w.astype(np.float64) / 2.0**W_SCALE
            assert np.abs(wb - wt).max() <= tol_b + slack
    # The comparison is not vacuous: training moved the weights far more than the tolerance.
    assert np.abs(ref[-1] - ref[0]).max() > 1e6 * max(tol_a, tol_b)


# --- the bit budget (DESIGN section 9) -------------------------------------------------------------


def _recipe(widths):
    return Recipe(name="m", seed=0, data=DataSpec(features=widths[0], classes=widths[-1]),
                  model=ModelSpec(widths=widths), train=TrainSpec(batch_size=64, steps=1, lr_num=(20,)),
                  quant=QuantSpec())


DIGITS = (64, 128, 128, 10)
ZKDL = (3072,) + (1024,) * 8 + (10,)


@pytest.mark.parametrize(
    "widths, mu, lam, expected",
    [
        (DIGITS, MU_09, Dyadic(0, 0), 9), (DIGITS, Dyadic(29, 5), Dyadic(0, 0), 27),
        (DIGITS, Dyadic(7, 3), Dyadic(0, 0), 44), (DIGITS, MU_09, LAM, 5),
        (ZKDL, MU_09, Dyadic(0, 0), 9), (ZKDL, Dyadic(29, 5), Dyadic(0, 0), 26),
        (ZKDL, Dyadic(7, 3), Dyadic(0, 0), 43), (ZKDL, Dyadic(7, 3), LAM, 5),
    ],
)
def test_period_budget(widths, mu, lam, expected):
    """P_max under 2^250 for the recipe's declared widths (lr_num = 20); P_max + 1 is refused."""
    shape, spec, grads = Shape(widths, 64), MomentumSpec(mu, lam), gradient_bounds(_recipe(widths))
    assert max_period(shape, spec, 20, grads) == expected
    check_period(shape, spec, 20, expected, grads)
    with pytest.raises(ValueError, match=rf"momentum period {expected + 1}: .* beyond 2\^250"):
        check_period(shape, spec, 20, expected + 1, grads)
    bounds = period_relation_bounds(shape, spec, 20, expected, grads)
    assert max(bounds.values()) < 1 << 250


def test_period_budget_refuses_a_long_period_clearly():
    shape, grads = Shape(DIGITS, 64), gradient_bounds(_recipe(DIGITS))
    with pytest.raises(ValueError, match=r"momentum period 64: (product|weight|backward_product|boundary|buffer) "
                                         r"values could reach 2\^\d+ or more, beyond 2\^250.*growth 15 bits"):
        check_period(shape, SPECS["mu"], 20, 64, grads)
    with pytest.raises(ValueError, match="period: must be >= 1"):
        check_period(shape, SPECS["mu"], 20, 0, grads)


# --- hyperparameters -----------------------------------------------------------------------------------


def test_quantization_of_the_usual_values():
    assert quantize(0.9, 15) == MU_09 and abs(MU_09.value - Fraction(9, 10)) <= Fraction(1, 1 << 16)
    assert quantize(1e-4, 20) == Dyadic(105, 20)
    assert fold_weight_decay(Dyadic(105, 20), 320) == LAM  # B n_out / 2 for the mean MSE
    assert fold_weight_decay(Dyadic(105, 20), 64) == Dyadic(105, 14)  # B for the mean cross-entropy
    assert fold_weight_decay(Dyadic(105, 20), Fraction(15, 2)) == Dyadic(1575, 21)
    spec = spec_from_torch(0.9, 1e-4, inverse_loss_scale=320)
    assert spec == MomentumSpec(MU_09, LAM) and spec.rounding_shift(16) == 30
    assert spec_from_torch(Fraction(29, 32)).mu == Dyadic(29, 5) and spec_from_torch(0.875).mu == Dyadic(7, 3)
    assert spec_from_torch(0).mu == Dyadic(0, 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(momentum=0.9, nesterov=True), "nesterov"),
        (dict(momentum=0.9, dampening=0.1), "dampening"),
        (dict(momentum=1.0), "momentum: must lie in"),
        (dict(momentum=-0.1), "momentum: must lie in"),
        (dict(momentum=0.99999, mu_shift=8), "momentum"),
        (dict(momentum=0.9, weight_decay=-1e-4), "weight_decay: must be >= 0"),
        (dict(momentum=0.9, mu_shift=4), "momentum: 9/10 quantized to 7/2\\^3 has relative error"),
        (dict(momentum=0.9, weight_decay=1e-4, lam_shift=12), "weight_decay: .* relative error"),
        (dict(momentum=0.9, weight_decay=1e-4, inverse_loss_scale=Fraction(1, 3)), "inverse loss scale: .* not a dyadic"),
    ],
)
def test_hyperparameter_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spec_from_torch(**kwargs)


def test_dyadic_validation():
    with pytest.raises(ValueError, match="not in lowest terms"):
        Dyadic(2, 3)
    with pytest.raises(ValueError, match="not in lowest terms"):
        Dyadic(0, 4)
    with pytest.raises(ValueError, match="not a dyadic rational"):
        Dyadic.exact(0.1, "momentum")
    with pytest.raises(ValueError, match="must be >= 0"):
        Dyadic(-1, 0)
    with pytest.raises(ValueError, match=r"mu must lie in \[0, 1\)"):
        MomentumSpec(Dyadic(1, 0))
    assert Dyadic.exact(0.875) == Dyadic(7, 3) and Dyadic.reduced(12, 4) == Dyadic(3, 2)


# --- the cost model ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 2, 15, 16, 17, 31, 32, 33, 48, 49, 56, 63])
@pytest.mark.parametrize("signed", [False, True])
def test_limb_slots_follow_the_limb_gadget(width, signed):
    d = LimbDecomposition(width, signed)
    assert limb_slots(width, signed) == (d.num_slots, d.padded_width)


def test_cost_per_step():
    shape, spec = Shape(DIGITS, 64), SPECS["mu"]
    n = shape.parameters
    assert n == 64 * 128 + 128 * 128 + 128 * 10 + 128 + 128 + 10
    a = cost_per_step(shape, spec, "A")
    assert a.limbs == n * (4 + 1) and a.slots == n * (4 + 1)  # buf: 48-bit signed; remainder: 15 bits
    b1 = cost_per_step(shape, spec, "B", 1)
    assert b1.detail["hidden: wider rescale remainders"] == (0, 0)  # P = 1: W_j is always W_t0
    b9 = cost_per_step(shape, spec, "B", 9)
    # Extra remainder bits j D for j = 0..8: 0..120 bits over S = 48.
    extra = sum(limb_slots(48 + 15 * j, False)[0] - 3 for j in range(9)) / 9
    assert b9.detail["hidden: wider rescale remainders"][0] == pytest.approx(
        extra * (shape.forward_rescales + shape.backward_rescales))
    with pytest.raises(ValueError, match="design"):
        cost_per_step(shape, spec, "C")
