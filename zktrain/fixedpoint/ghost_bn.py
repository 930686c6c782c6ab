"""Ghost Batch Normalization in exact fixed point: the vectorized kernel of ``circuits.ghost_bn``
(issue 17 item 1; docs/ghost_bn.md).

The same semantics as the Python-int reference (``circuits.ghost_bn.forward_train``,
``running_update``, ``forward_eval``, ``backward``), on numpy arrays shaped [G, v, C]. Every
product and sum runs in int64 when a bound from the operands' actual magnitudes keeps it below
2^62, and in Python ints (object arrays) otherwise, so it is exact for every input the declared
widths admit; results are narrowed back to int64 wherever they fit (the dx remainder, 109 bits
by default, stays an object array). The per-(ghost batch, feature) reciprocal square roots go
through ``circuits.sqrt.rsqrt_round`` (G C values a step). A value outside its declared width
raises :class:`circuits.ghost_bn.GhostBnWidthError` naming the tensor (and the step when given),
never a silent wrap or saturation.
"""

from __future__ import annotations

import numpy as np

from circuits.ghost_bn import (
    Backward,
    EvalForward,
    GhostBnSpec,
    GhostBnWidthError,
    RunningUpdate,
    TrainForward,
    check_width,
)
from circuits.sqrt import rsqrt_round

__all__ = ["GhostBnWidthError", "backward", "forward_eval", "forward_train", "running_update"]

#: int64 arithmetic is used only while every intermediate stays below this (headroom for + 2^(k-1)).
_INT64_SAFE = 1 << 62


def _max_abs(a: np.ndarray) -> int:
    if a.size == 0:
        return 0
    return max(abs(int(a.max())), abs(int(a.min())))


def _int(a) -> np.ndarray:
    """int64 when the values fit, else an object array of Python ints."""
    arr = np.asarray(a)
    if arr.dtype == object:
        return arr.astype(np.int64) if _max_abs(arr) < _INT64_SAFE else arr
    if arr.dtype.kind not in "iu":
        raise ValueError(f"ghost BN: expected an integer array, got {arr.dtype}")
    return arr.astype(np.int64) if arr.dtype.kind == "i" or _max_abs(arr) < _INT64_SAFE else arr.astype(object)


def _wide(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.astype(object) for a in arrays]


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a * b exactly (broadcast)."""
    if a.dtype != object and b.dtype != object and _max_abs(a) * _max_abs(b) < _INT64_SAFE:
        return a * b
    a, b = _wide(a, b)
    return a * b


def _lin(terms: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """sum coef * array exactly (broadcast)."""
    bound = sum(abs(c) * _max_abs(a) for c, a in terms)
    wide = bound >= _INT64_SAFE or any(a.dtype == object or abs(c) >= _INT64_SAFE for c, a in terms)
    out = None
    for c, a in terms:
        term = (a.astype(object) * c) if wide else a * np.int64(c)
        out = term if out is None else out + term
    return out


def _narrow(a: np.ndarray) -> np.ndarray:
    if a.dtype == object and _max_abs(a) < 1 << 63:
        return a.astype(np.int64)
    return a


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    if any(a.dtype == object for a in rows):
        return _narrow(np.stack([a.astype(object) for a in rows]))
    return np.stack(rows)


def _rescale(z: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(floor((z + 2^(shift-1)) / 2^shift), remainder in [-2^(shift-1), 2^(shift-1)))."""
    if z.dtype == object or shift > 61 or _max_abs(z) >= _INT64_SAFE:
        z = z.astype(object)
    q = (z + (1 << (shift - 1))) >> shift
    return _narrow(q), _narrow(z - (q << shift))


def _sum(a: np.ndarray, axis: int) -> np.ndarray:
    """Exact sum along ``axis``."""
    if a.dtype != object and _max_abs(a) * a.shape[axis] < _INT64_SAFE:
        return a.sum(axis=axis)
    return a.astype(object).sum(axis=axis)


def _rsqrt(radicand: np.ndarray, shift: int) -> np.ndarray:
    flat = [rsqrt_round(int(v), shift) for v in radicand.reshape(-1)]
    return _narrow(np.array(flat, dtype=object).reshape(radicand.shape))


def _where(step: int | None) -> str:
    return "" if step is None else f" at step {step}"


def _shape(spec: GhostBnSpec, x: np.ndarray) -> tuple[int, int]:
    if x.ndim != 2 or x.shape[0] != spec.batch_size:
        raise ValueError(f"ghost BN: expected a [{spec.batch_size}, C] input, got shape {x.shape}")
    return x.shape


def forward_train(spec: GhostBnSpec, x, gamma, beta, step: int | None = None) -> TrainForward:
    """Train-mode forward of one step (``circuits.ghost_bn.forward_train``)."""
    x, gamma, beta = _int(x), _int(gamma), _int(beta)
    b, c = _shape(spec, x)
    for name, val in (("gamma", gamma), ("beta", beta)):
        if val.shape != (c,):
            raise ValueError(f"ghost BN {name}: expected shape ({c},), got {val.shape}")
    where = _where(step)
    for name, val in (("x", x), ("gamma", gamma), ("beta", beta)):
        check_width(spec, name, val, where)
    v, R = spec.virtual_batch_size, spec.frac_bits
    xg = x.reshape(spec.ghosts, v, c)
    s1 = _sum(xg, 1)
    s2 = _sum(_mul(xg, xg), 1)
    d = _lin([(v, s2), (-1, _mul(s1, s1))])
    radicand = _lin([(1, d), (v * v * spec.eps_int, np.ones_like(d))])
    rstd = _rsqrt(radicand, spec.rsqrt_shift)
    xc = _lin([(v, xg), (-1, s1[:, None, :])])
    xhat, xhat_rem = _rescale(_mul(xc, rstd[:, None, :]), spec.xhat_shift)
    check_width(spec, "xhat", xhat, where)
    out, out_rem = _rescale(_lin([(1, _mul(gamma, xhat.reshape(b, c))), (1 << R, beta[None, :])]), spec.param_shift)
    check_width(spec, "out", out, where)
    flat = [_narrow(a) for a in (xc.reshape(b, c), xhat.reshape(b, c), xhat_rem.reshape(b, c))]
    return TrainForward(_narrow(s1), _narrow(s2), _narrow(d), _narrow(radicand), rstd, *flat, out, out_rem)


def running_update(spec: GhostBnSpec, running_mean, running_var, s1, d, step: int | None = None) -> RunningUpdate:
    """The sequential running-statistics update over the G ghost batches, in order. The loop runs
    over ghost batches (G a step), each update vectorized over the features."""
    where = _where(step)
    rm, rv, s1, d = _int(running_mean), _int(running_var), _int(s1), _int(d)
    check_width(spec, "running_mean", rm, where)
    check_width(spec, "running_var", rv, where)
    v, n, R, K, m = spec.virtual_batch_size, spec.ghost_bits, spec.frac_bits, spec.mom_shift, spec.mom_num
    keep, div = (1 << K) - m, spec.var_divisor
    means, variances, mean_rem, var_rem = [rm], [rv], [], []
    for g in range(s1.shape[0]):
        qm, r = _rescale(_lin([(keep, means[-1]), (m << (R - n), s1[g])]), K)
        num = _lin([(keep * (v - 1) << n, variances[-1]), (m, d[g])])
        top = _lin([(2, num), (div, np.ones_like(num))])
        top = top.astype(object) if 2 * div >= _INT64_SAFE else top  # 2 d q below needs headroom too
        qv = top // (2 * div)  # in top's dtype: int64 only when top is below 2^62
        means.append(qm), variances.append(_narrow(qv)), mean_rem.append(r), var_rem.append(_narrow(top - 2 * div * qv))
    result = RunningUpdate(*(_stack(rows) for rows in (means, variances, mean_rem, var_rem)))
    check_width(spec, "running_mean", result.means, where)
    check_width(spec, "running_var", result.variances, where)
    return result


def forward_eval(spec: GhostBnSpec, x, gamma, beta, running_mean, running_var, step: int | None = None) -> EvalForward:
    """Eval mode with the running statistics (``circuits.ghost_bn.forward_eval``); any number of rows."""
    x, gamma, beta, rm, rv = (_int(a) for a in (x, gamma, beta, running_mean, running_var))
    if x.ndim != 2:
        raise ValueError(f"ghost BN: expected a [rows, C] input, got shape {x.shape}")
    c = x.shape[1]
    where = _where(step)
    for name, val in (("gamma", gamma), ("beta", beta), ("running_mean", rm), ("running_var", rv)):
        if val.shape != (c,):
            raise ValueError(f"ghost BN {name}: expected shape ({c},), got {val.shape}")
    for name, val in (("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", rm), ("running_var", rv)):
        check_width(spec, name, val, where)
    R = spec.frac_bits
    rstd = _rsqrt(_lin([(1, rv), (spec.eps_int, np.ones_like(rv))]), spec.eval_rsqrt_shift)
    xc = _lin([(1 << R, x), (-1, rm[None, :])])
    xhat, xhat_rem = _rescale(_mul(xc, rstd[None, :]), spec.eval_xhat_shift)
    out, out_rem = _rescale(_lin([(1, _mul(gamma[None, :], xhat)), (1 << R, beta[None, :])]), spec.param_shift)
    check_width(spec, "out", out, where)
    return EvalForward(rstd, _narrow(xc), xhat, xhat_rem, out, out_rem)


def backward(spec: GhostBnSpec, xhat, rstd, gamma, g_out, step: int | None = None) -> Backward:
    """The backward (``circuits.ghost_bn.backward``) from the forward's X and y_r."""
    xhat, rstd, gamma, g_out = (_int(a) for a in (xhat, rstd, gamma, g_out))
    b, c = _shape(spec, g_out)
    where = _where(step)
    check_width(spec, "g_out", g_out, where)
    check_width(spec, "gamma", gamma, where)
    v, R = spec.virtual_batch_size, spec.frac_bits
    dy = g_out.reshape(spec.ghosts, v, c)
    xh = xhat.reshape(spec.ghosts, v, c)
    a_sum = _sum(dy, 1)
    b_sum = _sum(_mul(dy, xh), 1)
    inner = _lin([(v << (2 * R), dy), (-(1 << (2 * R)), a_sum[:, None, :]), (-1, _mul(xh, b_sum[:, None, :]))])
    coef = _mul(gamma[None, :].astype(object), rstd.astype(object))  # per (g, c): wide in general
    g_in, g_rem = _rescale(_mul(coef[:, None, :], inner), spec.dx_shift)
    g_in = _narrow(g_in.reshape(b, c))
    check_width(spec, "g_in", g_in, where)
    g_gamma = _narrow(_sum(b_sum, 0))
    g_beta = _narrow(_lin([(1 << R, _sum(a_sum, 0))]))
    return Backward(_narrow(a_sum), _narrow(b_sum), _narrow(coef), _narrow(inner.reshape(b, c)), g_in,
                    _narrow(g_rem.reshape(b, c)), g_gamma, g_beta)
