"""Prover side of the gadgets: the tables behind each reduction of ``verifier/gadgets.py``.

Witness tensors arrive as integer numpy arrays in C order (int64, or object arrays of Python
ints for values beyond int64, e.g. biases at scale 2^(3R+k)). Binding an axis to a point is a
sequence of folds after moving that axis innermost, so every table is built by the backend's
O(n) kernels, never by a Python loop over entries.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from circuits.bits import BitDecomposition
from prover.backends.base import FieldBackend, Vec
from prover.sumcheck import Instance, product_instance
from verifier.field import MODULUS as R
from verifier.sumcheck import Term

INT64_SAFE = 1 << 62


def to_field(backend: FieldBackend, values: np.ndarray) -> Vec:
    """Flatten an integer array (C order) into a field vector."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if flat.dtype == object:
        return backend.from_ints([int(v) for v in flat])
    return backend.from_int64(flat.astype(np.int64, copy=False))


def bind_axis(backend: FieldBackend, values: np.ndarray, axis: int, point: Sequence[int]) -> Vec:
    """The table of ``values`` with ``axis`` bound to ``point``; other axes keep C order."""
    if values.shape[axis] != 1 << len(point):
        raise ValueError(f"axis of size {values.shape[axis]} bound to {len(point)} coordinates")
    table = to_field(backend, np.moveaxis(values, axis, -1))
    for r in point:
        table = backend.fold(table, r)
    return table


def broadcast_low(backend: FieldBackend, outer: Sequence[int], low_vars: int) -> Vec:
    """A table over (low, outer) variables that ignores the low ones: outer[h] at h*2^low + l."""
    return backend.from_ints([v for v in outer for _ in range(1 << low_vars)])


def combined_eq(backend: FieldBackend, points: Sequence[Sequence[int]], rho: Sequence[int]) -> Vec:
    """E(x) = sum_j rho_j eq(u_j, x)."""
    table = None
    for u, r in zip(points, rho, strict=True):
        term = backend.scalar_mul(backend.eq_table(u), r)
        table = term if table is None else backend.add(table, term)
    return table


def matmul_instance(backend: FieldBackend, u_t, a_bound: Vec, b_bound: Vec, k_vars: int) -> Instance:
    """Tables [eq_t, A(., u_m, .), B(., u_n, .)] over (k, t) for verifier.gadgets.matmul_reduction."""
    eq_t = broadcast_low(backend, backend.to_ints(backend.eq_table(u_t)), k_vars)
    return product_instance(eq_t, a_bound, b_bound)


def masked_hadamard_instance(backend: FieldBackend, points, rho, s: Vec, x: Vec) -> Instance:
    """Tables [E, S, X] with terms E X - E S X (verifier.gadgets.masked_hadamard_reduction)."""
    e = combined_eq(backend, points, rho)
    return Instance([e, s, x], (Term(1, (0, 2)), Term(R - 1, (0, 1, 2))))


def booleanity_instance(backend: FieldBackend, w, bits: Vec) -> Instance:
    return Instance([backend.eq_table(w), bits], (Term(1, (0, 1, 1)), Term(R - 1, (0, 1))))


def step_functional_instance(
    backend: FieldBackend, kappa: Sequence[int], b_vars: int, operands: Sequence[Vec], coeff: int = 1
) -> Instance:
    k = broadcast_low(backend, kappa, b_vars)
    return Instance([k, *operands], (Term(coeff % R, tuple(range(1 + len(operands)))),))


def multipoint_instance(backend: FieldBackend, points, rho, tensor: Vec) -> Instance:
    return product_instance(combined_eq(backend, points, rho), tensor)


def bit_slices(backend: FieldBackend, bits: np.ndarray, decomposition: BitDecomposition, u) -> list[int]:
    """v_i = B~(i, u) for every bit slot: bind the value axes at u, keep the bit axis.

    Transposed, the bit index is the outermost axis, so the value axes are the low variables
    and ``len(u)`` folds leave exactly the padded_width slot values.
    """
    table = to_field(backend, np.asarray(bits).reshape(-1, decomposition.padded_width).T)
    for r in u:
        table = backend.fold(table, r)
    return backend.to_ints(table)
