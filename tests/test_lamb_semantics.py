"""LAMB in exact fixed point (issue 16 item 2, ``circuits.lamb``, ``zktrain.fixedpoint.lamb``): the
bias corrections and the trust ratio against exact rationals, the kernel against the semantics
entry by entry, and a trajectory against the float ``zktrain.optim.LAMB`` update."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from circuits.lamb import KA, KB, KP, KR, KS, SV, bias_corrections, spec_from_float, trust
from zktrain.fixedpoint.lamb import LambState, LambWidthError, lamb_step
from zktrain.optim.lamb import lamb_update

R, K_LR = 16, 16
INV_C = 64


def _spec(**changes):
    return spec_from_float(**{"betas": (0.9, 0.999), "eps": 1e-6, "weight_decay": 0.01, "inv_c": INV_C, **changes})


def test_quantization_of_the_options():
    spec = _spec()
    assert spec.one_minus_b1.value == Fraction(205, 2048)  # 0.1 within 1/512
    assert abs(spec.one_minus_b2.value - Fraction(1, 1000)) <= Fraction(1, 1000) / 512
    assert spec.adapt and not _spec(weight_decay=0).adapt and _spec(weight_decay=0, always_adapt=True).adapt
    assert spec.eps_int == math.floor(Fraction(1, 10**6) * (1 << (2 * R + KS)) * INV_C + Fraction(1, 2))


@pytest.mark.parametrize("changes, message", [
    (dict(betas=(1.0, 0.999)), r"^betas\[0\]: must lie in \[0, 1\)"),
    (dict(betas=(0.9, -0.1)), r"^betas\[1\]: must lie in \[0, 1\)"),
    (dict(eps=0), r"^eps: must be > 0"),
    (dict(weight_decay=-1.0), r"^weight_decay: must be >= 0"),
])
def test_bad_options_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        _spec(**changes)


@pytest.mark.parametrize("t", [1, 2, 3, 10, 1000, 20000])
def test_bias_corrections_are_the_rounded_exact_rationals(t):
    spec = _spec()
    a, b = bias_corrections(spec, t)
    b1 = 1 - spec.one_minus_b1.value
    b2 = 1 - spec.one_minus_b2.value
    assert a == math.floor(Fraction(1 << KA) / (1 - b1**t) + Fraction(1, 2))
    assert b == math.floor(Fraction(1 << KB) / (1 - b2**t) + Fraction(1, 2))
    with pytest.raises(ValueError, match="start at step 1"):
        bias_corrections(spec, 0)


@pytest.mark.parametrize("seed", range(20))
def test_trust_ratio_is_the_rounded_exact_root(seed):
    rng = np.random.default_rng(seed)
    n_p = int(rng.integers(1, 1 << 62)) << int(rng.integers(0, 70))
    n_u = int(rng.integers(1, 1 << 62)) << int(rng.integers(0, 70))
    ku = 2 * R + K_LR + int(rng.integers(0, 20))
    phi = trust(n_p, n_u, R, K_LR, ku)
    z = Fraction(n_p << (2 * (KP + ku - 2 * R - K_LR)), n_u)
    assert (2 * phi - 1) ** 2 <= 4 * z < (2 * phi + 1) ** 2  # phi = round_half_up(sqrt(z))
    assert trust(0, n_u, R, K_LR, ku) == trust(n_p, 0, R, K_LR, ku) == 1 << KP


def test_kernel_follows_the_semantics_on_python_ints():
    rng = np.random.default_rng(3)
    spec = _spec()
    (b1, k1), (b2, k2) = spec.betas()
    p = rng.integers(-(1 << 47), 1 << 47, size=(5, 4))
    m0 = rng.integers(-(1 << 36), 1 << 36, size=(5, 4))
    v0 = rng.integers(0, 1 << 50, size=(5, 4))
    g = rng.integers(-(1 << 37), 1 << 37, size=(5, 4))
    state = LambState(p, m0, v0, steps=4)
    out, dp, s = lamb_step(state, g, 41, spec, R, K_LR)
    a, b = bias_corrections(spec, 5)
    ku = 2 * R + K_LR + spec.lam.shift
    us = []
    for idx in np.ndindex(p.shape):
        mt = (b1 * int(m0[idx]) + ((1 << k1) - b1) * int(g[idx]) + (1 << (k1 - 1))) >> k1
        vt = ((b2 << SV) * int(v0[idx]) + ((1 << k2) - b2) * int(g[idx]) ** 2 + (1 << (k2 + SV - 1))) >> (k2 + SV)
        assert (int(out.m[idx]), int(out.v[idx])) == (mt, vt)
        root = math.isqrt(vt * (b << (SV + 2 * KS - KB)))
        d = root + spec.eps_int
        r = (2 * (mt * (a << (KS + KR - KA))) + d) // (2 * d)
        us.append(r * (1 << (ku - KR)) + spec.lam.num * int(p[idx]))
    assert s.sum_u2 == sum(u * u for u in us) and s.sum_p2 == sum(int(x) ** 2 for x in p.flat)
    assert s.trust == trust(s.sum_p2, s.sum_u2, R, K_LR, ku)
    shift = KP + ku - 2 * R
    for idx, u in zip(np.ndindex(p.shape), us):
        step = (41 * INV_C * s.trust * u + (1 << (shift - 1))) >> shift
        assert int(dp[idx]) == step and int(out.p[idx]) == int(p[idx]) - step


def test_kernel_tracks_float_lamb_over_a_trajectory():
    """60 steps of least squares, closed loop (as tests/test_lars_semantics.py's): each side
    its own gradient, the float side ``lamb_update`` in float64 with the kernel's quantized
    options (betas, decay, eps as E stands for it). The weights move by about 0.5 and stay
    within 1e-5 of the float ones: per step the fixed point rounds the moments, r and the step."""
    rng = np.random.default_rng(4)
    a_mat = rng.normal(size=(16, 8)) / 4
    target = rng.normal(size=16)
    spec = _spec()
    w_scale, g_scale, c = 1 << (2 * R + K_LR), 1 << (2 * R), 1 / INV_C
    w_int = np.round(rng.normal(size=8) * w_scale).astype(np.int64)
    param = torch.tensor(w_int / w_scale, dtype=torch.float64)
    start = param.clone()
    m_f, v_f = torch.zeros(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    lr = 0.01
    lr_num = round(lr * c * (1 << K_LR))
    state = LambState(w_int, np.zeros(8, dtype=np.int64), np.zeros(8, dtype=np.int64))
    eps = spec.eps_int / ((1 << (2 * R + KS)) * INV_C)
    b1, b2 = 1 - float(spec.one_minus_b1.value), 1 - float(spec.one_minus_b2.value)
    for t in range(1, 61):
        g_fixed = a_mat.T @ (a_mat @ (state.p.astype(np.float64) / w_scale) - target)
        state, _, _ = lamb_step(state, np.round(g_fixed / c * g_scale).astype(np.int64), lr_num, spec, R, K_LR)
        grad = torch.tensor(a_mat.T @ (a_mat @ param.numpy() - target), dtype=torch.float64)
        lamb_update([param], [grad], [m_f], [v_f], [t], lr=lr_num / c / (1 << K_LR), beta1=b1, beta2=b2, eps=eps,
                    weight_decay=float(spec.lam.value), bias_correction=True, trust_clip=False, always_adapt=False)
    assert (param - start).abs().max() > 0.1
    assert np.abs(state.p.astype(np.float64) / w_scale - param.numpy()).max() < 1e-5


def test_widths_are_checked():
    spec = _spec()
    state = LambState(np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64))
    with pytest.raises(LambWidthError, match=r"^LAMB second moment at step 0: outside its declared 62-bit range"):
        lamb_step(state, np.full(3, 1 << 45, dtype=np.int64), 1, spec, R, K_LR)
    with pytest.raises(LambWidthError, match=r"^LAMB first moment at step 0: value -?\d+ is outside its declared 8-bit"):
        lamb_step(state, np.full(3, 1 << 20, dtype=np.int64), 1, spec, R, K_LR, m_bits=8)
