"""LARS in exact fixed point (issue 16 item 2, ``circuits.lars``, ``zktrain.fixedpoint.lars``):
the integer algebra against exact rationals, the kernel against the semantics and against the
float ``zktrain.optim.LARS`` over a trajectory, and the width checks; the same for LARC's
clipped multiplier (``circuits.lars.larc_multiplier``, ``clip=True``)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from circuits.lars import (LarsSpec, buffer_terms, eps_integer, larc_multiplier, quantize_relative, spec_from_float,
                          trust_ratio, update_multiplier)
from circuits.momentum import Dyadic
from zktrain.fixedpoint.lars import LarsWidthError, lars_step, sum_of_squares
from zktrain.optim.lars import lars_update, local_rate_multiplier

R, K_LR = 16, 16  # frac_bits, lr_shift
INV_C = 64  # the mean cross-entropy at batch 64: c = 1/64


def _spec(**changes) -> LarsSpec:
    base = dict(momentum=0.9, weight_decay=1e-4, trust_coefficient=1e-3, eps=1e-8, inv_c=INV_C)
    return spec_from_float(**{**base, **changes})


# --- exact squared norms ---------------------------------------------------------------------------


@pytest.mark.parametrize("values", [
    np.array([2**63 - 1, -(2**63 - 1), -(2**63), 0, 1, -1], dtype=np.int64),
    np.random.default_rng(0).integers(-(1 << 62), 1 << 62, size=3000),
    np.zeros(0, dtype=np.int64),
])
def test_sum_of_squares_is_exact(values):
    assert sum_of_squares(values) == sum(int(v) ** 2 for v in values)
    assert sum_of_squares(values.astype(object)) == sum(int(v) ** 2 for v in values)


def test_sum_of_squares_spans_chunks():
    values = np.full((1 << 20) + 5, (1 << 62) + 12345, dtype=np.int64)
    assert sum_of_squares(values) == values.size * ((1 << 62) + 12345) ** 2


# --- the trust ratio ------------------------------------------------------------------------------


def _lambda_exact(n: int, m: int, spec: LarsSpec) -> Fraction:
    """eta ||P|| / (||g|| + beta ||P|| + eps) in exact rationals, with the norms floored as the
    semantics floors them (s_P, s_G) and eps as the recipe's integer E stands for it."""
    s_p, s_g = math.isqrt(n), math.isqrt(m)
    if s_p == 0 or s_g == 0:
        return Fraction(1)
    c = Fraction(1, spec.inv_c)
    norm_p = Fraction(s_p, 1 << (2 * R + K_LR))
    norm_g = c * Fraction(s_g, 1 << (2 * R))
    beta = spec.beta.value * c  # torch's beta (spec.beta is folded)
    eps = Fraction(spec.eps_int, (1 << (2 * R + K_LR + spec.beta.shift)) * spec.inv_c)
    return spec.eta.value * norm_p / (norm_g + beta * norm_p + eps)


@pytest.mark.parametrize("seed", range(20))
def test_trust_ratio_is_the_rounded_exact_ratio(seed):
    rng = np.random.default_rng(seed)
    spec = _spec(weight_decay=[0, 1e-4, 5e-4][seed % 3], eps=[0, 1e-8][seed % 2])
    n = int(rng.integers(1, 1 << 62)) << int(rng.integers(0, 60))
    m = int(rng.integers(1, 1 << 62)) << int(rng.integers(0, 80))
    _, _, den, lam_q = trust_ratio(n, m, spec, K_LR)
    exact = _lambda_exact(n, m, spec) * (1 << spec.trust_bits)
    assert lam_q == math.floor(exact + Fraction(1, 2))
    assert den >= 1


def test_zero_norms_take_a_plain_step():
    spec = _spec()
    for n, m in ((0, 5), (5, 0), (0, 0)):
        assert trust_ratio(n, m, spec, K_LR)[3] == 1 << spec.trust_bits


def test_buffer_terms_scale():
    """a 2^(k+k_b) G + a b P at 2^K is lr_num lambda (G + beta_f P / 2^k) at P's scale."""
    spec = _spec()
    K, mu, a, ab = buffer_terms(3 << spec.trust_bits, 7, spec, K_LR)
    assert K == max(spec.mu.shift, spec.trust_bits + K_LR + spec.beta.shift)
    assert Fraction(mu, 1 << K) == spec.mu.value
    assert Fraction(a << (K_LR + spec.beta.shift), 1 << K) == 3 * 7
    assert Fraction(ab, 1 << K) == 3 * 7 * spec.beta.value / (1 << K_LR)


# --- hyperparameters ----------------------------------------------------------------------------


def test_quantization_of_the_options():
    spec = _spec()
    assert spec.mu == Dyadic(29491, 15)
    assert abs(spec.eta.value - Fraction(1, 1000)) <= Fraction(1, 1000) / 512
    assert spec.beta.value == quantize_relative(1e-4, "weight_decay").value * INV_C  # folded by 1/c
    assert spec.eps_int == eps_integer(1e-8, R, K_LR, spec.beta.shift, INV_C) > 0


@pytest.mark.parametrize("changes, message", [
    (dict(momentum=1.0), r"^momentum: 1.0 quantizes to"),
    (dict(trust_coefficient=0), r"^trust_coefficient: must be > 0"),
    (dict(trust_coefficient=1e-15), r"^trust_coefficient: 1e-15 is too small to quantize"),
    (dict(weight_decay=-1e-4), r"^weight_decay: must be >= 0"),
    (dict(eps=-1.0), r"^eps: must be >= 0"),
])
def test_bad_options_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        _spec(**changes)


# --- the kernel ---------------------------------------------------------------------------------------


def test_kernel_follows_the_semantics_on_python_ints():
    rng = np.random.default_rng(1)
    spec = _spec()
    p = rng.integers(-(1 << 47), 1 << 47, size=(6, 5))
    v = rng.integers(-(1 << 30), 1 << 30, size=(6, 5))
    g = rng.integers(-(1 << 40), 1 << 40, size=(6, 5))
    new, v_t, rem, s = lars_step(p, v, g, 41, spec, K_LR)
    K, mu, a, ab = buffer_terms(s.trust, 41, spec, K_LR)
    for idx in np.ndindex(p.shape):
        total = mu * int(v[idx]) + (a << (K_LR + spec.beta.shift)) * int(g[idx]) + ab * int(p[idx])
        q = (total + (1 << (K - 1))) >> K
        assert (int(v_t[idx]), int(rem[idx])) == (q, total - (q << K))
        assert -(1 << (K - 1)) <= int(rem[idx]) < 1 << (K - 1)
        assert int(new[idx]) == int(p[idx]) - q
    assert (s.sum_p2, s.sum_g2) == (sum(int(x) ** 2 for x in p.flat), sum(int(x) ** 2 for x in g.flat))


def test_kernel_tracks_float_lars_over_a_trajectory():
    """50 steps on a least-squares objective, closed loop: each side computes its gradient from
    its own weights, the fixed point quantizing it at 2^-(2R) in folded units. The float side is
    ``zktrain.optim.LARS``'s update in float64 with the fixed point's own (quantized) options.
    Per step the fixed point rounds v to 2^-(2R+k), G to 2^-(2R) and lambda to 2^-24 relative
    to 1; the weights, which move by about 1 over the run, stay within 1e-6 of the float ones."""
    rng = np.random.default_rng(2)
    a_mat = rng.normal(size=(16, 8)) / 4
    target = rng.normal(size=16)
    spec = _spec(weight_decay=1e-3, trust_coefficient=0.02)
    w_scale, g_scale = 1 << (2 * R + K_LR), 1 << (2 * R)
    w_float = rng.normal(size=8)
    w_int = np.round(w_float * w_scale).astype(np.int64)
    w_float = w_int / w_scale
    v_int = np.zeros(8, dtype=np.int64)
    param = torch.tensor(w_float, dtype=torch.float64)
    buf = torch.zeros(8, dtype=torch.float64)
    lr = 0.5
    lr_num = round(lr / INV_C * (1 << K_LR))  # folded lr: lr c 2^k
    lr_exact = lr_num * INV_C / (1 << K_LR)
    c = 1 / INV_C
    options = dict(momentum=float(spec.mu.value), weight_decay=float(spec.beta.value) * c,
                   trust_coefficient=float(spec.eta.value),
                   eps=spec.eps_int / ((1 << (2 * R + K_LR + spec.beta.shift)) * INV_C))
    start = w_float.copy()
    for t in range(50):
        g_fixed = a_mat.T @ (a_mat @ (w_int / w_scale) - target)  # the true gradient at the fixed point's w
        g_int = np.round(g_fixed / c * g_scale).astype(np.int64)
        w_int, v_int, _, _ = lars_step(w_int, v_int, g_int, lr_num, spec, K_LR, step=t)
        grad = torch.tensor(a_mat.T @ (a_mat @ param.numpy() - target), dtype=torch.float64)
        lars_update([param], [grad], [buf], lr=lr_exact, nesterov=False, clip=False, lr_in_momentum=True,
                    adapt=True, **options)
    moved = np.abs(param.numpy() - start).max()
    assert moved > 0.05
    assert np.abs(w_int / w_scale - param.numpy()).max() < 1e-6


def test_widths_are_checked():
    spec = _spec(weight_decay=0, eps=0)
    p = np.full(4, 1 << 40, dtype=np.int64)
    tiny = np.ones(4, dtype=np.int64)  # ||g|| ~ 0, no decay, no eps: lambda = eta ||P|| / ||g|| ~ 10^6
    with pytest.raises(LarsWidthError, match=r"^trust ratio at step 3: \d+/2\^24 exceeds 2\^16"):
        lars_step(p, np.zeros(4, dtype=np.int64), tiny, 1, spec, K_LR, step=3)
    g = np.full(4, 1 << 40, dtype=np.int64)
    with pytest.raises(LarsWidthError, match=r"^LARS buffer at step 0: value -?\d+ is outside its declared 8-bit range"):
        lars_step(p, np.zeros(4, dtype=np.int64), g, 1 << 10, spec, K_LR, buf_bits=8)


# --- LARC: the clipped multiplier -------------------------------------------------------------------


def _larc_exact(lam_q: int, lr_num: int, spec: LarsSpec) -> int:
    """min(round_half_up(lambda_q 2^k / (inv_c lr_num)), 2^K_l) in exact rationals."""
    q = math.floor(Fraction(lam_q << K_LR, spec.inv_c * lr_num) + Fraction(1, 2))
    return min(q, 1 << spec.trust_bits)


@pytest.mark.parametrize("seed", range(10))
def test_larc_multiplier_is_the_clipped_rounded_ratio(seed):
    """m_q against the exact rational over random ratios and rates: both sides of the clip, and
    m_q / 2^K_l within 2^-K_l of min(lambda / gamma_t, 1) with gamma_t = lr_num inv_c / 2^k."""
    rng = np.random.default_rng(seed)
    spec = _spec(clip=True)
    one = 1 << spec.trust_bits
    sides = set()
    for _ in range(200):
        lam_q = int(rng.integers(0, spec.trust_limit + 1)) >> int(rng.integers(0, 30))
        lr_num = int(rng.integers(1, 1 << 31)) >> int(rng.integers(0, 31))
        if lr_num == 0:
            continue
        m = larc_multiplier(lam_q, lr_num, spec, K_LR, zero_norm=False)
        assert m == _larc_exact(lam_q, lr_num, spec)
        gamma = Fraction(lr_num * spec.inv_c, 1 << K_LR)
        assert abs(Fraction(m, one) - min(Fraction(lam_q, one) / gamma, 1)) <= Fraction(1, one)
        sides.add(m == one)
    assert sides == {True, False}


def test_larc_multiplier_at_the_boundary_and_the_special_cases():
    """The clip binds from q = 2^K_l on (both sides give 2^K_l there); zero norms and lr_num = 0
    take multiplier 1 as the float's, even where 2^K_l / gamma_t < 1 (gamma_t = 2)."""
    spec = _spec(clip=True)
    one = 1 << spec.trust_bits
    lr = 2048  # gamma_t = 2048 * 64 / 2^16 = 2
    assert larc_multiplier(2 * one, lr, spec, K_LR, zero_norm=False) == one  # lambda = gamma exactly
    assert larc_multiplier(2 * one - 2, lr, spec, K_LR, zero_norm=False) == one - 1
    assert larc_multiplier(2 * one - 1, lr, spec, K_LR, zero_norm=False) == one  # q = 2^K_l - 1/2 rounds up
    assert larc_multiplier(one, lr, spec, K_LR, zero_norm=False) == one // 2
    assert larc_multiplier(one, lr, spec, K_LR, zero_norm=True) == one
    assert larc_multiplier(5, 0, spec, K_LR, zero_norm=False) == one
    weight, grad = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    assert float(local_rate_multiplier(weight, grad, lr=2.0, weight_decay=0, trust_coefficient=1e-3, eps=0,
                                       clip=True)) == 1.0
    assert float(local_rate_multiplier(grad, grad, lr=0.0, weight_decay=0, trust_coefficient=1e-3, eps=0,
                                       clip=True)) == 1.0
    with pytest.raises(ValueError, match=r"^larc_multiplier: lambda_q -1 and lr_num 3 must be >= 0$"):
        larc_multiplier(-1, 3, spec, K_LR, zero_norm=False)


def test_update_multiplier_is_the_ratio_or_the_clipped_one():
    """LARS multiplies lr_num by lambda_q, LARC by m_q; a zero norm gives 2^K_l in both."""
    plain, clip = _spec(), _spec(clip=True)
    n, m = 1 << 100, 1 << 64
    lam = trust_ratio(n, m, plain, K_LR)[3]
    assert update_multiplier(n, m, 2048, plain, K_LR) == lam
    assert update_multiplier(n, m, 2048, clip, K_LR) == larc_multiplier(lam, 2048, clip, K_LR, zero_norm=False)
    assert update_multiplier(0, m, 2048, clip, K_LR) == 1 << clip.trust_bits
    with pytest.raises(ValueError, match=r"^clip: must be True or False, got 1$"):
        LarsSpec(plain.mu, plain.beta, plain.eta, plain.eps_int, plain.inv_c, clip=1)


def test_kernel_applies_the_clipped_multiplier():
    """With ``clip`` the kernel's update is the buffer relation with m_q in place of lambda_q;
    the scalars keep lambda_q beside it."""
    rng = np.random.default_rng(4)
    spec = _spec(clip=True, trust_coefficient=0.02)
    p = rng.integers(-(1 << 47), 1 << 47, size=(6, 5))
    v = rng.integers(-(1 << 30), 1 << 30, size=(6, 5))
    g = rng.integers(-(1 << 40), 1 << 40, size=(6, 5))
    for lr_num in (1, 41):  # lambda ~ 0.0024: gamma_t ~ 0.001 (clipped), 0.04 (not)
        new, v_t, _, s = lars_step(p, v, g, lr_num, spec, K_LR)
        assert s.multiplier == larc_multiplier(s.trust, lr_num, spec, K_LR, zero_norm=False)
        K, mu, a, ab = buffer_terms(s.multiplier, lr_num, spec, K_LR)
        total = mu * int(v[0, 0]) + (a << (K_LR + spec.beta.shift)) * int(g[0, 0]) + ab * int(p[0, 0])
        assert int(v_t[0, 0]) == (total + (1 << (K - 1))) >> K
    assert lars_step(p, v, g, 1, spec, K_LR)[3].multiplier == 1 << spec.trust_bits
    assert lars_step(p, v, g, 41, spec, K_LR)[3].multiplier < 1 << spec.trust_bits
    plain = lars_step(p, v, g, 41, _spec(trust_coefficient=0.02), K_LR)[3]
    assert plain.multiplier == plain.trust


def test_kernel_tracks_float_larc_over_a_trajectory():
    """As the LARS trajectory test, with ``clip``: 50 steps of least squares, lr 0.5 and eta
    0.02, closed loop, against ``zktrain.optim.LARS``'s update with ``clip=True`` in float64 on
    the fixed point's quantized options. The clip binds on some steps (multiplier 2^K_l, the
    ratio past gamma_t as the gradient shrinks) and not on others, and the weights, which move
    by several units, stay within 1e-6 of the float ones."""
    rng = np.random.default_rng(2)
    a_mat = rng.normal(size=(16, 8)) / 4
    target = rng.normal(size=16)
    spec = _spec(weight_decay=1e-3, trust_coefficient=0.02, clip=True)
    w_scale, g_scale = 1 << (2 * R + K_LR), 1 << (2 * R)
    w_int = np.round(np.random.default_rng(3).normal(size=8) * w_scale).astype(np.int64)
    w_float = w_int / w_scale
    v_int = np.zeros(8, dtype=np.int64)
    param = torch.tensor(w_float, dtype=torch.float64)
    buf = torch.zeros(8, dtype=torch.float64)
    lr_num = round(0.5 / INV_C * (1 << K_LR))
    lr_exact = lr_num * INV_C / (1 << K_LR)
    c = 1 / INV_C
    options = dict(momentum=float(spec.mu.value), weight_decay=float(spec.beta.value) * c,
                   trust_coefficient=float(spec.eta.value),
                   eps=spec.eps_int / ((1 << (2 * R + K_LR + spec.beta.shift)) * INV_C))
    clipped = []
    for t in range(50):
        g_fixed = a_mat.T @ (a_mat @ (w_int / w_scale) - target)
        g_int = np.round(g_fixed / c * g_scale).astype(np.int64)
        w_int, v_int, _, s = lars_step(w_int, v_int, g_int, lr_num, spec, K_LR, step=t)
        clipped.append(s.multiplier == 1 << spec.trust_bits)
        grad = torch.tensor(a_mat.T @ (a_mat @ param.numpy() - target), dtype=torch.float64)
        lars_update([param], [grad], [buf], lr=lr_exact, nesterov=False, clip=True, lr_in_momentum=True,
                    adapt=True, **options)
    assert 5 <= sum(clipped) <= 45  # both sides of the clip
    assert np.abs(param.numpy() - w_float).max() > 1
    assert np.abs(w_int / w_scale - param.numpy()).max() < 1e-6
