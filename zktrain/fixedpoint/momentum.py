"""SGD with momentum and weight decay in exact fixed point: the witness kernels of both designs
of ``circuits.momentum`` (issue 15, item 3), and a float64 reference of torch's semantics.

    torch.optim.SGD(momentum=mu, dampening=0, nesterov=False, weight_decay=lam):
        g' = g + lam w;  buf = mu buf + g' (buf_1 = g'_1);  w -= lr buf

Units (DESIGN section 4, ``circuits.momentum``): W at 2^(2R+k), G = G_Z^T A at 2^(2R),
lr_t = lr_num_t / 2^k, mu = mu_num / 2^k_mu, lam = lam_num / 2^k_lam (folded units).

- (A) ``rounded_step``: buf at 2^(2R), rounded every step by K_A bits (the relation
  ``2^K_A buf_t + r_t = mu_num 2^(K_A-k_mu) buf_{t-1} + 2^K_A G_t + lam_num 2^(K_A-k-k_lam) W_t``),
  then ``W_{t+1} = W_t - lr_num_t buf_t`` exactly. State: (W_t, buf_{t-1}).
- (B) ``period_step``: W_j at 2^(2R+k+jD) and buf_j at 2^(2R+(j+1)D) exact within a period of
  P steps, both rounded by P D bits at its end. State: (W_t0, buf_t0-1, j, W_j, buf_{j-1}).

Every kernel is pure (returns a new state, never mutates its input) and exact: a linear
combination runs in int64 only when its bound (sum of |coefficient| x max|operand|) is below
2^63, and in Python integers (object arrays) otherwise. A value beyond its declared width raises
:class:`MomentumWidthError`, never a silent saturation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from circuits.momentum import MomentumSpec

__all__ = [
    "MomentumWidthError",
    "PeriodState",
    "RoundedState",
    "close_period",
    "period_start",
    "period_step",
    "rounded_start",
    "rounded_step",
    "torch_sgd_reference",
]


class MomentumWidthError(ValueError):
    """A value outside its declared width: the run does not fit the recipe's semantics."""


def _max_abs(a: np.ndarray) -> int:
    if a.size == 0:
        return 0
    return max(abs(int(a.max())), abs(int(a.min())))


def _lincomb(terms: Sequence[tuple[int, np.ndarray]]) -> np.ndarray:
    """sum coef * array, exactly: int64 when the bound allows it, Python ints otherwise."""
    bound = sum(abs(c) * _max_abs(np.asarray(a)) for c, a in terms)
    wide = bound >= 1 << 63 or any(abs(c) >= 1 << 63 for c, _ in terms)
    out = None
    for c, a in terms:
        a = np.asarray(a)
        if wide:
            a = a.astype(object)
            term = a * c if c != 1 else a
        else:
            term = a.astype(np.int64) * np.int64(c)
        out = term if out is None else out + term
    return out


def _rescale(z: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """(round_half_up(z / 2^shift), remainder in [-2^(shift-1), 2^(shift-1))); identity at 0."""
    if shift == 0:
        return z, np.zeros_like(z)
    z = z.astype(object) if z.dtype == object or _max_abs(z) >= 1 << 62 else z
    q = (z + (1 << (shift - 1))) >> shift
    return q, z - (q << shift)


def _narrow(a: np.ndarray) -> np.ndarray:
    """int64 when every value fits, the same object array otherwise."""
    if a.dtype != object:
        return a
    return a.astype(np.int64) if _max_abs(a) < 1 << 63 else a


def _check(a: np.ndarray, bits: int, what: str, step: int) -> None:
    lim = 1 << (bits - 1)
    if a.size and (int(a.max()) >= lim or int(a.min()) < -lim):
        bad = int(a.max()) if int(a.max()) >= lim else int(a.min())
        raise MomentumWidthError(f"{what} at step {step}: value {bad} is outside its declared {bits}-bit range")


# --- (A) per-step rounding -----------------------------------------------------------------


@dataclass(frozen=True)
class RoundedState:
    """(W_t at 2^(2R+k), buf_{t-1} at 2^(2R)) of design (A); ``step`` = t."""

    w: np.ndarray
    buf: np.ndarray
    step: int = 0


def rounded_start(w0: np.ndarray) -> RoundedState:
    """The state before the first step: buf_{-1} = 0, so buf_0 = g'_0 (torch's first step)."""
    w0 = np.asarray(w0)
    if w0.dtype.kind not in "iO":
        raise ValueError(f"w0: expected an integer array, got {w0.dtype}")
    return RoundedState(w0.copy(), np.zeros(w0.shape, dtype=np.int64))


def rounded_step(
    state: RoundedState,
    grad: np.ndarray,
    lr_num: int,
    spec: MomentumSpec,
    lr_shift: int,
    weight_bits: int = 56,
    buf_bits: int = 48,
) -> tuple[RoundedState, np.ndarray]:
    """One step of design (A) (``circuits.momentum`` module docstring): returns the new state
    and the remainder r_t of buf's rescale by K_A = ``spec.rounding_shift(lr_shift)``."""
    grad = np.asarray(grad)
    if grad.shape != state.w.shape:
        raise ValueError(f"grad: shape {grad.shape} differs from the weights' {state.w.shape}")
    K = spec.rounding_shift(lr_shift)
    m, n = spec.mu.num, spec.lam.num
    terms = [(1 << K, grad)]
    if m:
        terms.append((m << (K - spec.mu.shift), state.buf))
    if n:
        terms.append((n << (K - lr_shift - spec.lam.shift), state.w))
    buf, rem = _rescale(_lincomb(terms), K)
    buf = _narrow(buf)
    _check(buf, buf_bits, "momentum buffer", state.step)
    w = _narrow(_lincomb([(1, state.w), (-lr_num, buf)]))
    _check(w, weight_bits, "weight", state.step)
    return RoundedState(w, buf, state.step + 1), _narrow(rem)


# --- (B) exact within a rounding period ----------------------------------------------------


@dataclass(frozen=True)
class PeriodState:
    """Design (B): the period's committed start (W_t0 at 2^(2R+k), buf_t0-1 at 2^(2R)), the
    position j = t - t0, and the exact W_j (at 2^(2R+k+jD)) and buf_{j-1} (at 2^(2R+jD))."""

    w0: np.ndarray
    buf0: np.ndarray
    j: int
    w: np.ndarray
    buf: np.ndarray
    step: int = 0
    extra_bits: int = 0  # j D: W_j sits at 2^(2R+k+extra_bits), buf_{j-1} at 2^(2R+extra_bits)

    def weights(self) -> tuple[np.ndarray, int]:
        """(W_t, e): the exact weights the step's products consume, at 2^(2R+k+e)."""
        return self.w, self.extra_bits


def period_start(w0: np.ndarray, buf0: np.ndarray | None = None, step: int = 0) -> PeriodState:
    """A period starting at ``step`` from W_t0 and buf_t0-1 (zero before the first step)."""
    w0 = np.asarray(w0)
    buf0 = np.zeros(w0.shape, dtype=np.int64) if buf0 is None else np.asarray(buf0)
    if buf0.shape != w0.shape:
        raise ValueError(f"buf0: shape {buf0.shape} differs from the weights' {w0.shape}")
    return PeriodState(w0.copy(), buf0.copy(), 0, w0.copy(), buf0.copy(), step, 0)


def period_step(
    state: PeriodState,
    grad: np.ndarray,
    lr_num: int,
    spec: MomentumSpec,
    lr_shift: int,
    period: int,
    weight_bits: int = 56,
    buf_bits: int = 48,
) -> tuple[PeriodState, tuple[np.ndarray, np.ndarray] | None]:
    """One step of design (B); at the period's last step (j + 1 = ``period``) the state is
    rounded (``close_period``) and the two remainders (W's, buf's) are returned, else None."""
    grad = np.asarray(grad)
    if grad.shape != state.w.shape:
        raise ValueError(f"grad: shape {grad.shape} differs from the weights' {state.w.shape}")
    if not 1 <= period or state.j >= period:
        raise ValueError(f"period: step {state.j} of a period of {period}")
    D, j = spec.growth_bits(lr_shift), state.j
    m, n = spec.mu.num, spec.lam.num
    terms = [(1 << ((j + 1) * D), grad)]
    if m:
        terms.append((m << (D - spec.mu.shift), state.buf))
    if n:
        terms.append((n << (D - lr_shift - spec.lam.shift), state.w))
    buf = _narrow(_lincomb(terms))  # buf_j at 2^(2R+(j+1)D)
    w = _narrow(_lincomb([(1 << D, state.w), (-lr_num, buf)]))  # W_{j+1} at 2^(2R+k+(j+1)D)
    nxt = PeriodState(state.w0, state.buf0, j + 1, w, buf, state.step + 1, (j + 1) * D)
    if j + 1 < period:
        return nxt, None
    return close_period(nxt, spec, lr_shift, weight_bits, buf_bits)


def close_period(
    state: PeriodState, spec: MomentumSpec, lr_shift: int, weight_bits: int = 56, buf_bits: int = 48
) -> tuple[PeriodState, tuple[np.ndarray, np.ndarray]]:
    """Round W_j and buf_{j-1} by j D bits (round half up) to the committed scales and start the
    next period there; returns it with the two remainders. A run that ends inside a period
    closes it early (j < P): the final W_T is rounded the same way."""
    shift = state.j * spec.growth_bits(lr_shift)
    w, rw = _rescale(state.w, shift)
    buf, rb = _rescale(state.buf, shift)
    w, buf = _narrow(w), _narrow(buf)
    _check(w, weight_bits, "weight checkpoint", state.step)
    _check(buf, buf_bits, "momentum buffer checkpoint", state.step)
    return period_start(w, buf, state.step), (_narrow(rw), _narrow(rb))


# --- float64 reference -----------------------------------------------------------------------


def torch_sgd_reference(
    w0: np.ndarray, grads: Sequence[np.ndarray], lrs: Sequence[float], mu: float, lam: float
) -> list[np.ndarray]:
    """[w_0, w_1, ..., w_T] of torch.optim.SGD(lr_t, momentum=mu, dampening=0, nesterov=False,
    weight_decay=lam) in float64, with the gradients given (not computed from w): the semantics
    of torch/optim/sgd.py (``_single_tensor_sgd``) written out."""
    if len(lrs) != len(grads):
        raise ValueError(f"lrs: one per step ({len(grads)}), got {len(lrs)}")
    w = np.array(w0, dtype=np.float64)
    out, buf = [w.copy()], None
    for g, lr in zip(grads, lrs):
        d = np.asarray(g, dtype=np.float64) + lam * w if lam else np.asarray(g, dtype=np.float64)
        if mu:
            buf = d.copy() if buf is None else mu * buf + d
            d = buf
        w = w - lr * d
        out.append(w.copy())
    return out
