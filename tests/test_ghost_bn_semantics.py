"""Ghost Batch Norm in exact fixed point (issue 17 item 1; ``circuits.ghost_bn``,
``zktrain.fixedpoint.ghost_bn``, docs/ghost_bn.md): the kernel against the Python-int
reference entry by entry, the semantics against the float ``zktrain.nn.GhostBatchNorm1d`` (and
``nn.BatchNorm1d`` at v = B) within bounds derived from the scales, the constant feature, the
widths at their edges, and the spec's validation.

Tolerances (docs/ghost_bn.md section 2), with R = 16, R_s = 24, sigma = sqrt(var + eps), x_hat
the float normalized value, per element:

    |X / 2^R - x_hat|     <= e_x = 2^-(R+1) + |x_hat| sigma 2^-(R_s+1)
    |Y / 2^R - y|         <= 2^-(R+1) + |gamma| e_x             (+ |d gamma| |x_hat| + |d beta|)
    |dX / 2^R - dx|       <= 2^-(R+1) + |gamma| / v (2^-(R_s+1) |inner| + rstd (e_x |Bs| + |x_hat| e_x,max sum|dy|))
    |dgamma_q - dgamma|   <= sum_b |dy| e_x;   dbeta exact
    |RM, RV - running|    <= 2^-(2R+1) per ghost-batch update (each update rounds once)

plus 1e-12 relative for float64's own rounding.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from circuits import ghost_bn as ref
from circuits.momentum import Dyadic
from circuits.sqrt import rsqrt_round
from zktrain.fixedpoint import ghost_bn as ker
from zktrain.nn import GhostBatchNorm1d

R, RS = 16, ref.RSTD_BITS
SPEC = ref.spec_from_float(64, 32, momentum=0.1, eps=1e-5)
S = SPEC.param_shift


# --- helpers -------------------------------------------------------------------------------------------


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.astype(object).tolist() == b.astype(object).tolist()


def _assert_all_equal(expected, got) -> None:
    for name in expected.__dataclass_fields__:
        assert _same(getattr(expected, name), getattr(got, name)), name


def _params(spec: ref.GhostBnSpec, c: int, rng: np.random.Generator):
    """gamma in [0.5, 2], beta in [-1, 1], RM ~ 0.5, RV in [0.5, 3] at their scales."""
    gamma = np.round(rng.uniform(0.5, 2.0, c) * 2.0**spec.param_shift).astype(np.int64)
    beta = np.round(rng.uniform(-1.0, 1.0, c) * 2.0**spec.param_shift).astype(np.int64)
    rm = np.round(rng.normal(0, 0.5, c) * 2.0**spec.stat_shift).astype(np.int64)
    rv = np.round(rng.uniform(0.5, 3.0, c) * 2.0**spec.stat_shift).astype(np.int64)
    return gamma, beta, rm, rv


def _activations(spec: ref.GhostBnSpec, c: int, rng: np.random.Generator, scale: float = 2.0) -> np.ndarray:
    """Per-feature offset and spread, like pre-activations of a linear layer."""
    x = rng.normal(size=(spec.batch_size, c)) * rng.uniform(0.05, scale, c) + rng.normal(0, 1, c)
    return np.round(x * 2.0**R).astype(np.int64)


def _float_bn(spec: ref.GhostBnSpec, gamma, beta, rm, rv, cls=None) -> nn.Module:
    c = len(gamma)
    eps = spec.eps_int / 2.0**spec.stat_shift
    momentum = float(spec.momentum.value)
    if cls is None:
        bn = GhostBatchNorm1d(c, spec.virtual_batch_size, momentum=momentum, eps=eps).double()
    else:
        bn = cls(c, momentum=momentum, eps=eps).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(np.asarray(gamma, dtype=np.float64) / 2.0**spec.param_shift))
        bn.bias.copy_(torch.tensor(np.asarray(beta, dtype=np.float64) / 2.0**spec.param_shift))
        bn.running_mean.copy_(torch.tensor(np.asarray(rm, dtype=np.float64) / 2.0**spec.stat_shift))
        bn.running_var.copy_(torch.tensor(np.asarray(rv, dtype=np.float64) / 2.0**spec.stat_shift))
    return bn


def _float_stats(spec: ref.GhostBnSpec, x: np.ndarray):
    """Per-sample mean, sigma = sqrt(var + eps) and x_hat of the float semantics, [B, C]."""
    v = spec.virtual_batch_size
    xg = x.reshape(spec.ghosts, v, -1)
    mean = xg.mean(axis=1, keepdims=True)
    sigma = np.sqrt(((xg - mean) ** 2).mean(axis=1, keepdims=True) + spec.eps_int / 2.0**spec.stat_shift)
    xhat = (xg - mean) / sigma
    return np.broadcast_to(sigma, xg.shape).reshape(x.shape), xhat.reshape(x.shape)


def _e_x(spec, xhat_f, sigma):
    return 2.0 ** -(R + 1) + np.abs(xhat_f) * sigma * 2.0 ** -(spec.rstd_bits + 1)


def _run_both(spec, x_int, gamma, beta, rm, rv, dy_int, cls=None, bn=None):
    """Fixed point (kernel, checked against the reference) and float for one train step."""
    fwd = ker.forward_train(spec, x_int, gamma, beta)
    upd = ker.running_update(spec, rm, rv, fwd.s1, fwd.d)
    bwd = ker.backward(spec, fwd.xhat, fwd.rstd, gamma, dy_int)
    bn = bn or _float_bn(spec, gamma, beta, rm, rv, cls)
    x = torch.tensor(x_int / 2.0**R, requires_grad=True)
    out = bn(x)
    out.backward(torch.tensor(dy_int / 2.0**R))
    return fwd, upd, bwd, bn, x, out


def _check_against_float(spec, x_int, gamma_q, beta_q, dy_int, fwd, bwd, bn, x, out, gamma_f=None, beta_f=None):
    """Every bound of the module docstring; returns the largest error over its bound."""
    v = spec.virtual_batch_size
    gq = np.asarray(gamma_q, dtype=np.float64) / 2.0**spec.param_shift
    bq = np.asarray(beta_q, dtype=np.float64) / 2.0**spec.param_shift
    gf = gq if gamma_f is None else gamma_f
    bf = bq if beta_f is None else beta_f
    xf = x_int / 2.0**R
    sigma, xhat_f = _float_stats(spec, xf)
    e_x = _e_x(spec, xhat_f, sigma)
    worst = 0.0

    def within(got, want, bound, what):
        nonlocal worst
        err = np.abs(got - want)
        allowed = bound + 1e-12 * (1 + np.abs(want))
        assert (err <= allowed).all(), f"{what}: error {float((err - allowed).max()):.3g} beyond its bound"
        worst = max(worst, float((err / allowed).max()))

    xhat_q = fwd.xhat.astype(np.float64) / 2.0**R
    within(xhat_q, xhat_f, e_x, "x_hat")
    y_bound = 2.0 ** -(R + 1) + np.abs(gq) * e_x + np.abs(gq - gf) * np.abs(xhat_f) + np.abs(bq - bf)
    within(fwd.out.astype(np.float64) / 2.0**R, out.detach().numpy(), y_bound, "output")
    # backward
    dy = dy_int / 2.0**R
    dyg = dy.reshape(spec.ghosts, v, -1)
    r_f = 1.0 / sigma
    b_q = (dyg * xhat_q.reshape(dyg.shape)).sum(axis=1, keepdims=True)
    inner_q = v * dyg - dyg.sum(axis=1, keepdims=True) - xhat_q.reshape(dyg.shape) * b_q
    inner_f = v * dyg - dyg.sum(axis=1, keepdims=True) - xhat_f.reshape(dyg.shape) * (
        dyg * xhat_f.reshape(dyg.shape)).sum(axis=1, keepdims=True)
    eg = e_x.reshape(dyg.shape)
    d_inner = eg * np.abs(b_q) + np.abs(xhat_f.reshape(dyg.shape)) * (np.abs(dyg) * eg.max(axis=1, keepdims=True)).sum(
        axis=1, keepdims=True)
    dx_bound = 2.0 ** -(R + 1) + np.abs(gq) / v * (2.0 ** -(spec.rstd_bits + 1) * np.abs(inner_q)
                                                   + r_f.reshape(dyg.shape) * d_inner) \
        + np.abs(gq - gf) * r_f.reshape(dyg.shape) * np.abs(inner_f) / v
    within(bwd.g_in.astype(np.float64) / 2.0**R, x.grad.numpy(), dx_bound.reshape(dy.shape), "dx")
    within(np.asarray(bwd.g_gamma, dtype=np.float64) / 2.0 ** (2 * R), bn.weight.grad.numpy(),
           (np.abs(dy) * e_x).sum(axis=0), "dgamma")
    within(np.asarray(bwd.g_beta, dtype=np.float64) / 2.0 ** (2 * R), bn.bias.grad.numpy(), 0.0, "dbeta")
    return worst


# --- the kernel is the reference -----------------------------------------------------------------------


CONFIGS = [
    dict(batch_size=64, virtual_batch_size=32),
    dict(batch_size=64, virtual_batch_size=64),
    dict(batch_size=16, virtual_batch_size=2),
    dict(batch_size=24, virtual_batch_size=8, momentum=0.5, eps=1e-3, rstd_bits=20),
    dict(batch_size=8, virtual_batch_size=4, momentum=1.0),
    dict(batch_size=8, virtual_batch_size=4, momentum=0.0, frac_bits=12, lr_shift=8, value_bits=24, weight_bits=40),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_kernel_equals_reference(config):
    spec = ref.spec_from_float(**config)
    rng = np.random.default_rng(spec.batch_size + spec.virtual_batch_size)
    c = 6
    gamma, beta, rm, rv = _params(spec, c, rng)
    x = np.round(rng.normal(size=(spec.batch_size, c)) * rng.uniform(0.05, 40, c) * 2.0**spec.frac_bits)
    x = np.clip(x, -(1 << (spec.value_bits - 1)), (1 << (spec.value_bits - 1)) - 1).astype(np.int64)
    dy = rng.integers(-(1 << (spec.frac_bits - 2)), 1 << (spec.frac_bits - 2), size=x.shape)
    for step in range(3):  # running statistics carried over steps
        fwd_r, fwd_k = ref.forward_train(spec, x, gamma, beta), ker.forward_train(spec, x, gamma, beta, step=step)
        _assert_all_equal(fwd_r, fwd_k)
        upd_r = ref.running_update(spec, rm, rv, fwd_r.s1, fwd_r.d)
        upd_k = ker.running_update(spec, rm, rv, fwd_k.s1, fwd_k.d, step=step)
        _assert_all_equal(upd_r, upd_k)
        bwd_r = ref.backward(spec, fwd_r.xhat, fwd_r.rstd, gamma, dy)
        _assert_all_equal(bwd_r, ker.backward(spec, fwd_k.xhat, fwd_k.rstd, gamma, dy, step=step))
        _assert_all_equal(ref.forward_eval(spec, x[:5], gamma, beta, rm, rv),
                          ker.forward_eval(spec, x[:5], gamma, beta, rm, rv))
        rm, rv = upd_k.running_mean, upd_k.running_var
        x = x[::-1] + rng.integers(-(1 << spec.frac_bits), 1 << spec.frac_bits, size=x.shape)
        x = np.clip(x, -(1 << (spec.value_bits - 1)), (1 << (spec.value_bits - 1)) - 1)


def test_kernel_equals_reference_on_random_specs_and_magnitudes():
    """Random widths (Q 20-48, R 8-32, k, weight bits, R_s 12-48, v 2-32, momentum, eps) and
    magnitudes from a few bits to the full width, constant features included: the kernel's every
    field equals the reference's, or both raise the same width error."""
    rng = np.random.default_rng(123)
    checked = errors = 0
    while checked + errors < 40:
        v = int(2 ** rng.integers(1, 6))
        q = int(rng.integers(20, 49))
        r = int(rng.integers(max(8, v.bit_length() - 1), min(q - 2, 32) + 1))
        try:
            spec = ref.spec_from_float(v * int(rng.integers(1, 4)), v, momentum=float(rng.choice([0, 0.1, 0.5, 1])),
                                       eps=float(rng.choice([1e-5, 1e-3, 0.5])), frac_bits=r,
                                       lr_shift=int(rng.integers(0, 33)), value_bits=q,
                                       weight_bits=int(rng.integers(r + 2, 63)), rstd_bits=int(rng.integers(12, 49)))
        except ValueError:
            continue  # a combination the spec refuses (rstd too coarse, a relation past 2^250)
        mag, dmag, wb = int(rng.integers(1, q)), int(rng.integers(1, q)), spec.weight_bits
        x = rng.integers(-(1 << (mag - 1)), 1 << (mag - 1), size=(spec.batch_size, 3), dtype=np.int64)
        x[:, 0] = x[0, 0] if rng.random() < 0.3 else x[:, 0]
        gamma = rng.integers(-(1 << (wb - 1)), 1 << (wb - 1), size=3, dtype=np.int64) >> int(rng.integers(0, wb))
        beta = rng.integers(-(1 << (wb - 1)), 1 << (wb - 1), size=3, dtype=np.int64) >> int(rng.integers(0, wb))
        rm, rv = rng.integers(-(1 << 20), 1 << 20, size=3), rng.integers(0, 1 << 20, size=3)
        dy = rng.integers(-(1 << (dmag - 1)), 1 << (dmag - 1), size=x.shape, dtype=np.int64)
        outs = []
        for module in (ref, ker):
            try:
                f = module.forward_train(spec, x, gamma, beta)
                u = module.running_update(spec, rm, rv, f.s1, f.d)
                e = module.forward_eval(spec, x, gamma, beta, u.running_mean, u.running_var)
                outs.append((f, u, e, module.backward(spec, f.xhat, f.rstd, gamma, dy)))
            except ref.GhostBnWidthError as err:
                outs.append(str(err))
        if isinstance(outs[0], str) or isinstance(outs[1], str):
            assert outs[0] == outs[1]
            errors += 1
            continue
        for expected, got in zip(*outs):
            _assert_all_equal(expected, got)
        checked += 1
    assert checked >= 30


def test_reference_relations_hold():
    """Each stated relation, in exact integers, with its remainder in range."""
    spec = SPEC
    rng = np.random.default_rng(7)
    gamma, beta, rm, rv = _params(spec, 5, rng)
    x = _activations(spec, 5, rng)
    dy = rng.integers(-(1 << 18), 1 << 18, size=x.shape)
    f = ref.forward_train(spec, x, gamma, beta)
    u = ref.running_update(spec, rm, rv, f.s1, f.d)
    b = ref.backward(spec, f.xhat, f.rstd, gamma, dy)
    v, n, K, m, d = spec.virtual_batch_size, spec.ghost_bits, spec.mom_shift, spec.mom_num, spec.var_divisor
    a = spec.rsqrt_shift
    for g in range(spec.ghosts):
        for c in range(5):
            col = [int(t) for t in x[g * v:(g + 1) * v, c]]
            s1, s2 = sum(col), sum(t * t for t in col)
            assert (f.s1[g, c], f.s2[g, c], f.d[g, c]) == (s1, s2, v * s2 - s1 * s1)
            V, y = f.radicand[g, c], f.rstd[g, c]
            assert V == v * s2 - s1 * s1 + v * v * spec.eps_int
            assert (2 * y - 1) ** 2 * V <= 4 << (2 * a) < (2 * y + 1) ** 2 * V and y >= 1  # (Y)
            lo, hi = (4 << (2 * a)) - (2 * y - 1) ** 2 * V, (2 * y + 1) ** 2 * V - (4 << (2 * a)) - 1
            ref.check_width(spec, "rstd_slack", [lo, hi])  # circuits.sqrt.Rsqrt's slacks
            # rstd at 2^R_s: round(2^R_s / sqrt(var + eps)) with var + eps = V / (v^2 2^(2R))
            exact = Fraction(1 << RS) / Fraction(math.isqrt(V * 10**40), 10**20) * v * 2**R
            assert abs(y - exact) <= Fraction(1, 2) + Fraction(1, 10**6)
            for i in range(g * v, (g + 1) * v):
                xc = v * int(x[i, c]) - s1
                assert (1 << spec.xhat_shift) * f.xhat[i, c] + f.xhat_rem[i, c] == xc * y
                assert -(1 << (spec.xhat_shift - 1)) <= f.xhat_rem[i, c] < 1 << (spec.xhat_shift - 1)
                assert (1 << S) * f.out[i, c] + f.out_rem[i, c] == int(gamma[c]) * f.xhat[i, c] + (int(beta[c]) << R)
                inner = ((v * int(dy[i, c]) - b.a_sum[g, c]) << (2 * R)) - f.xhat[i, c] * b.b_sum[g, c]
                assert b.inner[i, c] == inner
                assert (1 << spec.dx_shift) * b.g_in[i, c] + b.g_in_rem[i, c] == int(gamma[c]) * y * inner
                assert -(1 << (spec.dx_shift - 1)) <= b.g_in_rem[i, c] < 1 << (spec.dx_shift - 1)
            # running statistics: the shift recurrence and the division by (v - 1) 2^(K + n)
            assert ((1 << K) * u.means[g + 1, c] + u.mean_rem[g, c]
                    == ((1 << K) - m) * u.means[g, c] + (m * s1 << (R - n)))
            num = ((1 << K) - m) * (v - 1) * (u.variances[g, c] << n) + m * f.d[g, c]
            assert 2 * u.variances[g + 1, c] * d + u.var_rem[g, c] == 2 * num + d
            assert 0 <= u.var_rem[g, c] < 2 * d
    # every value lies in its declared width (the ranges a proof checks)
    values = {"x": x, "rstd_minus_one": f.rstd - 1, "xhat": f.xhat, "xhat_remainder": f.xhat_rem, "out": f.out,
              "out_remainder": f.out_rem, "g_out": dy, "g_in": b.g_in, "g_in_remainder": b.g_in_rem,
              "running_mean": u.means, "running_mean_remainder": u.mean_rem, "running_var": u.variances,
              "running_var_remainder": u.var_rem}
    for name, value in values.items():
        ref.check_width(spec, name, value)
    assert list(b.g_gamma) == [sum(int(dy[i, c]) * f.xhat[i, c] for i in range(spec.batch_size)) for c in range(5)]
    assert list(b.g_beta) == [sum(int(dy[i, c]) for i in range(spec.batch_size)) << R for c in range(5)]


# --- fidelity against the float module -----------------------------------------------------------------


@pytest.mark.parametrize("batch,ghost", [(64, 32), (64, 8), (32, 2)])
def test_train_step_tracks_ghost_batchnorm1d(batch, ghost):
    spec = ref.spec_from_float(batch, ghost)
    rng = np.random.default_rng(ghost)
    gamma, beta, rm, rv = _params(spec, 16, rng)
    x_int = _activations(spec, 16, rng)
    dy_int = np.round(rng.normal(size=x_int.shape) * 0.01 * 2.0**R).astype(np.int64)
    fwd, upd, bwd, bn, x, out = _run_both(spec, x_int, gamma, beta, rm, rv, dy_int)
    worst = _check_against_float(spec, x_int, gamma, beta, dy_int, fwd, bwd, bn, x, out)
    assert worst <= 1.0
    # headline figure: outputs within 1e-4 relative to their scale, dx within 1e-3 of its scale
    y = out.detach().numpy()
    assert np.abs(fwd.out / 2.0**R - y).max() <= 1e-4 * max(1.0, np.abs(y).max())
    g = x.grad.numpy()
    assert np.abs(bwd.g_in / 2.0**R - g).max() <= 1e-3 * np.abs(g).max()
    updates = spec.ghosts
    for fixed, flt in ((upd.running_mean, bn.running_mean), (upd.running_var, bn.running_var)):
        err = np.abs(fixed / 2.0 ** (2 * R) - flt.numpy())
        assert (err <= updates * 2.0 ** -(2 * R + 1) + 1e-12 * np.abs(flt.numpy())).all()


def test_several_steps_running_stats_and_sgd_on_gamma_beta():
    """Six steps: the running statistics evolve on each side independently, gamma and beta are
    trained by exact SGD (Gamma -= lr_num dgamma at 2^(2R+k)) and by torch.optim.SGD at
    lr = lr_num / 2^k; each step's outputs and gradients stay within their bounds (which
    include the gamma/beta drift), and the running statistics within one 2^-(2R+1) per update."""
    spec = SPEC
    rng = np.random.default_rng(11)
    gamma, beta, rm, rv = ref.initial_parameters(spec, 12)
    bn = _float_bn(spec, gamma, beta, rm, rv)
    lr_num = 3 << 14  # lr 0.75
    opt = torch.optim.SGD(bn.parameters(), lr=lr_num / 2.0**spec.lr_shift)
    updates = 0
    for step in range(6):
        x_int = _activations(spec, 12, rng, scale=3.0)
        dy_int = np.round(rng.normal(size=x_int.shape) * 0.02 * 2.0**R).astype(np.int64)
        gamma_f, beta_f = bn.weight.detach().numpy().copy(), bn.bias.detach().numpy().copy()
        opt.zero_grad()
        fwd, upd, bwd, bn, x, out = _run_both(spec, x_int, gamma, beta, rm, rv, dy_int, bn=bn)
        _check_against_float(spec, x_int, gamma, beta, dy_int, fwd, bwd, bn, x, out, gamma_f, beta_f)
        updates += spec.ghosts
        for fixed, flt in ((upd.running_mean, bn.running_mean), (upd.running_var, bn.running_var)):
            err = np.abs(fixed / 2.0 ** (2 * R) - flt.numpy())
            assert (err <= updates * 2.0 ** -(2 * R + 1) + 1e-12 * np.abs(flt.numpy())).all(), step
        opt.step()
        gamma = gamma - lr_num * bwd.g_gamma  # exact SGD at the master scale
        beta = beta - lr_num * bwd.g_beta
        rm, rv = upd.running_mean, upd.running_var
    assert np.abs(gamma / 2.0**S - bn.weight.detach().numpy()).max() < 1e-4
    assert np.abs(gamma / 2.0**S - 1).max() > 0.01  # gamma did move
    # eval mode after training: the fixed point's running stats loaded on both sides
    x_int = _activations(spec, 12, rng)
    ev = ker.forward_eval(spec, x_int, gamma, beta, rm, rv)
    bn_eval = _float_bn(spec, gamma, beta, rm, rv).eval()
    y = bn_eval(torch.tensor(x_int / 2.0**R)).detach().numpy()
    sigma = np.sqrt(rv / 2.0 ** (2 * R) + spec.eps_int / 2.0 ** (2 * R))
    xhat = (x_int / 2.0**R - rm / 2.0 ** (2 * R)) / sigma
    bound = 2.0 ** -(R + 1) + np.abs(gamma / 2.0**S) * (2.0 ** -(R + 1) + np.abs(xhat) * sigma * 2.0 ** -(RS + 1))
    assert (np.abs(ev.out / 2.0**R - y) <= bound + 1e-12 * (1 + np.abs(y))).all()


def test_virtual_batch_equal_to_the_batch_is_batchnorm1d():
    spec = ref.spec_from_float(32, 32)
    rng = np.random.default_rng(3)
    gamma, beta, rm, rv = _params(spec, 10, rng)
    x_int = _activations(spec, 10, rng)
    dy_int = np.round(rng.normal(size=x_int.shape) * 0.05 * 2.0**R).astype(np.int64)
    fwd, upd, bwd, bn, x, out = _run_both(spec, x_int, gamma, beta, rm, rv, dy_int, cls=nn.BatchNorm1d)
    assert isinstance(bn, nn.BatchNorm1d)
    assert _check_against_float(spec, x_int, gamma, beta, dy_int, fwd, bwd, bn, x, out) <= 1.0
    for fixed, flt in ((upd.running_mean, bn.running_mean), (upd.running_var, bn.running_var)):
        assert (np.abs(fixed / 2.0 ** (2 * R) - flt.numpy()) <= 2.0 ** -(2 * R + 1) + 1e-12 * np.abs(flt.numpy())).all()


def test_running_var_is_the_unbiased_variance():
    """momentum 1: the running statistics become the last ghost batch's mean and unbiased
    variance (torch's rule), each within half a unit at 2^-(2R)."""
    spec = ref.spec_from_float(12, 4, momentum=1.0)
    rng = np.random.default_rng(5)
    x = _activations(spec, 3, rng)
    f = ref.forward_train(spec, x, *ref.initial_parameters(spec, 3)[:2])
    u = ref.running_update(spec, *ref.initial_parameters(spec, 3)[2:], f.s1, f.d)
    last = x[-4:].astype(object)
    mean = [Fraction(int(sum(last[:, c])), 4) for c in range(3)]
    var_u = [sum((Fraction(int(t)) - mean[c]) ** 2 for t in last[:, c]) / 3 for c in range(3)]
    for c in range(3):
        assert abs(u.running_mean[c] - mean[c] * 2**R) <= Fraction(1, 2)  # 2^(2R) / 2^R units
        assert abs(u.running_var[c] - var_u[c]) <= Fraction(1, 2)  # x at 2^R: var at 2^(2R) already


def test_constant_feature_eps_decides():
    """Variance 0: D = 0, V = v^2 eps_int, rstd = round(2^R_s / sqrt(eps)), x_hat = 0 exactly,
    the output is beta and dx = gamma rstd (dy - mean dy): as the float module."""
    spec = SPEC
    rng = np.random.default_rng(9)
    gamma, beta, rm, rv = _params(spec, 4, rng)
    x_int = _activations(spec, 4, rng)
    x_int[:, 0] = 3 * 2**R + 123  # one constant feature (in both ghost batches)
    x_int[:32, 2] = -5  # constant in the first ghost batch only
    dy_int = np.round(rng.normal(size=x_int.shape) * 0.05 * 2.0**R).astype(np.int64)
    fwd, upd, bwd, bn, x, out = _run_both(spec, x_int, gamma, beta, rm, rv, dy_int)
    assert (fwd.d[:, 0] == 0).all() and fwd.d[0, 2] == 0 and fwd.d[1, 2] > 0
    assert (fwd.rstd[:, 0] == rsqrt_round(spec.eps_int, spec.rstd_bits + R)).all()
    assert (fwd.xhat[:, 0] == 0).all() and (fwd.xhat[:32, 2] == 0).all()
    expected_beta = (int(beta[0]) << R) + (1 << (S - 1)) >> S
    assert (fwd.out[:, 0] == expected_beta).all()
    assert _check_against_float(spec, x_int, gamma, beta, dy_int, fwd, bwd, bn, x, out) <= 1.0
    assert fwd.rstd[0, 0] / 2.0**RS == pytest.approx(1 / math.sqrt(spec.eps_int / 2.0**32), rel=1e-6)


# --- widths at their edges ----------------------------------------------------------------------------


def test_extreme_activations_are_exact_and_tracked():
    """x at both ends of the Q-bit range (the int64 paths give way to Python ints): the kernel is
    the reference, and the float bound still holds (rstd ~ 2^-15 has 10 bits left)."""
    spec = SPEC
    lo, hi = -(1 << 31), (1 << 31) - 1
    rng = np.random.default_rng(13)
    x = rng.choice([lo, hi], size=(64, 3))
    x[:, 1] = rng.integers(lo, hi, size=64, endpoint=True)
    x[:, 2] = hi
    x[0, 2] = lo  # one outlier: x_hat = -sqrt(v - 1), the largest |x_hat| there is
    gamma = np.array([(1 << 55) - 1, -(1 << 55), 1 << S], dtype=np.int64)
    beta = np.array([-(1 << 55), (1 << 55) - 1, 0], dtype=np.int64)
    dy = np.full(x.shape, (1 << 20) - 3, dtype=np.int64)
    fwd_r, fwd_k = ref.forward_train(spec, x, gamma, beta), ker.forward_train(spec, x, gamma, beta)
    _assert_all_equal(fwd_r, fwd_k)
    assert abs(int(fwd_k.xhat[0, 2])) <= spec.xhat_max
    # -sqrt(31) up to rstd's resolution: sigma ~ 2^12.5 leaves y_r ~ 2^11.5, 2^-12.5 relative
    assert int(fwd_k.xhat[0, 2]) == pytest.approx(-math.sqrt(31) * 2**R, rel=2.0**-12)
    bwd_r, bwd_k = (m.backward(spec, fwd_r.xhat, fwd_r.rstd, gamma, dy) for m in (ref, ker))
    _assert_all_equal(bwd_r, bwd_k)
    _, upd, _, bn, xt, out = _run_both(spec, x, gamma, beta, *ref.initial_parameters(spec, 3)[2:], dy)
    _check_against_float(spec, x, gamma, beta, dy, fwd_k, bwd_k, bn, xt, out)
    _assert_all_equal(ref.running_update(spec, *ref.initial_parameters(spec, 3)[2:], fwd_r.s1, fwd_r.d), upd)


@pytest.mark.parametrize("module", [ref, ker], ids=["reference", "kernel"])
def test_width_errors_name_the_tensor(module):
    spec = SPEC
    gamma, beta, rm, rv = ref.initial_parameters(spec, 2)
    x = np.zeros((64, 2), dtype=np.int64)
    step = {"step": 3}
    x[5, 1] = 1 << 31
    with pytest.raises(ref.GhostBnWidthError, match=r"^ghost BN x at step 3: value 2147483648 is outside its "
                                                    r"declared 32-bit signed range"):
        module.forward_train(spec, x, gamma, beta, **step)
    x[5, 1] = 0
    with pytest.raises(ref.GhostBnWidthError, match=r"^ghost BN gamma at step 3: value 36028797018963968"):
        module.forward_train(spec, x, np.array([1 << 55, 0]), beta, **step)
    # dx beyond Q bits: a constant feature (rstd = 1/sqrt(eps) ~ 316), gamma = 100, dy = 2^14
    fwd = module.forward_train(spec, x, gamma * 100, beta)
    dy = np.zeros((64, 2), dtype=np.int64)
    dy[0, 0] = 1 << 30
    with pytest.raises(ref.GhostBnWidthError, match=r"^ghost BN g_in at step 3: value -?\d+ is outside its declared "
                                                    r"32-bit signed range"):
        module.backward(spec, fwd.xhat, fwd.rstd, gamma * 100, dy, **step)
    dy[0, 0] = -(1 << 31) - 1
    with pytest.raises(ref.GhostBnWidthError, match=r"^ghost BN g_out at step 3"):
        module.backward(spec, fwd.xhat, fwd.rstd, gamma, dy, **step)
    # eval with a zero running variance: (x - rm) / sqrt(eps) overflows the output
    xe = np.full((1, 2), 1 << 30, dtype=np.int64)
    with pytest.raises(ref.GhostBnWidthError, match=r"^ghost BN out at step 3"):
        module.forward_eval(spec, xe, gamma, beta, rm, np.zeros(2, dtype=np.int64), **step)
    with pytest.raises(ref.GhostBnWidthError, match=r"^ghost BN running_var at step 3: value -1"):
        module.running_update(spec, rm, np.array([-1, 0]), np.zeros((2, 2), dtype=np.int64),
                              np.zeros((2, 2), dtype=np.int64), **step)


def test_widths_and_relation_bounds_of_the_default():
    w = SPEC.widths()
    assert w["rstd_minus_one"] == (45, False) and w["xhat"] == (20, True) and w["xhat_remainder"] == (29, True)
    assert w["out_remainder"] == (48, True) and w["g_in_remainder"] == (109, True)
    assert w["running_mean"] == (49, True) and w["running_var"] == (64, False)
    assert w["running_mean_remainder"] == (15, True)
    bounds = SPEC.relation_bounds()
    assert max(bounds.values()) == bounds["ghost_bn_dx"] == 175
    assert bounds["ghost_bn_rsqrt"] == 166


# --- the spec -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=64, virtual_batch_size=24), r"^ghost BN virtual_batch_size: must be a power of two >= 2, got 24"),
    (dict(batch_size=64, virtual_batch_size=1), r"^ghost BN virtual_batch_size: must be a power of two"),
    (dict(batch_size=48, virtual_batch_size=32), r"^ghost BN virtual_batch_size: 32 must divide the batch size 48"),
    (dict(batch_size=64, virtual_batch_size=32, momentum=1.5), r"^ghost BN momentum: must lie in \[0, 1\]"),
    (dict(batch_size=64, virtual_batch_size=32, momentum=1e-6), r"^ghost BN momentum: 1e-06 quantized to"),
    (dict(batch_size=64, virtual_batch_size=32, eps=0), r"^ghost BN eps: eps_int = 0; eps must be > 0 and repr"),
    (dict(batch_size=64, virtual_batch_size=32, eps=1e-11), r"^ghost BN eps: eps_int = 0"),
    (dict(batch_size=64, virtual_batch_size=32, eps=-1e-5), r"^ghost BN eps: must be > 0"),
    (dict(batch_size=64, virtual_batch_size=32, rstd_bits=8), r"^ghost BN rstd_bits: 2\^-8 is too coarse"),
    (dict(batch_size=1 << 17, virtual_batch_size=1 << 17), r"^ghost BN virtual_batch_size: 2\^17 exceeds"),
    (dict(batch_size=1 << 16, virtual_batch_size=1 << 16, frac_bits=32, lr_shift=32, value_bits=48,
          weight_bits=62, rstd_bits=48), r"^ghost BN ghost_bn_rsqrt: the relation needs 322 bits > 250"),
])
def test_spec_refuses_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ref.spec_from_float(**kwargs)


def test_spec_direct_construction():
    with pytest.raises(ValueError, match=r"^ghost BN momentum: must be a Dyadic"):
        ref.GhostBnSpec(64, 32, 0.1, 42950)
    with pytest.raises(ValueError, match=r"^ghost BN momentum: must lie in \[0, 1\], got 3/2\^1"):
        ref.GhostBnSpec(64, 32, Dyadic(3, 1), 42950)
    with pytest.raises(ValueError, match=r"^ghost BN virtual_batch_size: must be an integer"):
        ref.GhostBnSpec(64, 32.0, Dyadic(1, 3), 42950)
    spec = ref.GhostBnSpec(64, 32, Dyadic(1, 0), 1)  # momentum 1, the smallest eps
    assert (spec.mom_shift, spec.mom_num) == (1, 2)
    assert ref.spec_from_float(64, 32).momentum == Dyadic(3277, 15)
    assert ref.spec_from_float(64, 32).eps_int == 42950  # 1e-5 at 2^-32
    assert ref.spec_from_float(64, 32, momentum=0).momentum == Dyadic(0, 0)
