"""Argument checks shared by every FieldBackend, so all backends reject the same inputs alike."""

from __future__ import annotations

import operator

import numpy as np

#: Sumcheck round polynomials here are products of at most this many multilinear factors.
MAX_FACTORS = 3


def machine_integers(dtype) -> bool:
    """An integer dtype whose every value converts to int64 without loss (all but uint64):
    what the ``*_int64`` operations accept."""
    dtype = np.dtype(dtype)
    return dtype.kind in "iu" and np.can_cast(dtype, np.int64, casting="safe")


def int64_vector(a) -> np.ndarray:
    """A 1-D int64 array from any integer array-like that converts to int64 without loss."""
    return _integer_vector(a).astype(np.int64, copy=False)


#: The dtypes the CPU kernels read as they are (the limbs are int32): a copy of a limbs tensor
#: as int64 would be 8 bytes an entry more, held for as long as the kernel's caller holds it.
KERNEL_INTEGERS = (np.dtype(np.int32), np.dtype(np.int64))


def kernel_integers(a) -> np.ndarray:
    """A 1-D int32 or int64 array for a CPU kernel: int32 and int64 as they are, other
    machine integers converted to int64 (each dtype is one more compiled specialization)."""
    arr = _integer_vector(a)
    return arr if arr.dtype in KERNEL_INTEGERS else arr.astype(np.int64)


def _integer_vector(a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"from_int64 expects a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"from_int64 expects integers, got dtype {arr.dtype} (use from_ints)")
    if not machine_integers(arr.dtype):
        raise TypeError(f"from_int64: dtype {arr.dtype} does not convert to int64 without loss")
    return arr


def same_length(op: str, *lengths: int) -> int:
    if len(set(lengths)) != 1:
        raise ValueError(f"{op}: vectors of different lengths {list(lengths)}")
    return lengths[0]


def halved(op: str, n: int) -> int:
    """Half of a fraction tree layer's length: a positive even length (its two halves)."""
    foldable(op, n)
    return n // 2


def foldable(op: str, n: int) -> None:
    """A vector with at least one variable left to bind: a positive even length."""
    if n == 0 or n % 2:
        raise ValueError(f"{op}: length must be positive and even, got {n}")


def mle_length(n: int, num_vars: int) -> None:
    if n != 1 << num_vars:
        raise ValueError(f"mle_evaluate: {n} values for {num_vars} variables")


def round_args(lengths: list[int], num_points: int) -> None:
    if not 1 <= len(lengths) <= MAX_FACTORS:
        raise ValueError(f"round_evals: 1 to {MAX_FACTORS} factors, got {len(lengths)}")
    _round_tables("round_evals", lengths, num_points)


def gkr_round_args(lengths: list[int], num_points: int) -> None:
    if len(lengths) != 5:
        raise ValueError(f"gkr_round_evals: a logUp-GKR layer has 5 tables, got {len(lengths)}")
    _round_tables("gkr_round_evals", lengths, num_points)


def repetitions(reps: int) -> int:
    """``tile``'s count: a nonnegative int."""
    reps = operator.index(reps)
    if reps < 0:
        raise ValueError(f"tile: reps must be >= 0, got {reps}")
    return reps


def periods(pattern_length: int, n: int) -> int:
    """``tile_sub_int64``'s count of whole periods: a nonempty pattern dividing n."""
    if pattern_length == 0 or n % pattern_length:
        raise ValueError(f"tile_sub_int64: {n} values are not whole periods of a pattern of {pattern_length}")
    return n // pattern_length


def axis_to_bind(a: np.ndarray, num_vars: int) -> np.ndarray:
    """``bind_axis_int64``'s array: [pre, 2^num_vars, post] integers, as C-contiguous int64."""
    a = np.asarray(a)
    if a.ndim != 3 or a.shape[1] != 1 << num_vars:
        raise ValueError(f"bind_axis_int64: shape {a.shape} is not [pre, 2^{num_vars}, post]")
    if not machine_integers(a.dtype):
        raise TypeError(f"bind_axis_int64: dtype {a.dtype} does not convert to int64 without loss")
    return np.ascontiguousarray(a, dtype=np.int64)


def gkr_leaf_round_args(lengths: list[int], num_points: int) -> None:
    if len(lengths) != 3:
        raise ValueError(f"gkr_leaf_round_evals: a unit-leaf logUp-GKR layer has 3 tables, got {len(lengths)}")
    _round_tables("gkr_leaf_round_evals", lengths, num_points)


def _round_tables(op: str, lengths: list[int], num_points: int) -> None:
    foldable(op, same_length(op, *lengths))
    if num_points < 1:
        raise ValueError(f"{op}: num_points must be >= 1, got {num_points}")
