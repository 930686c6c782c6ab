"""Prover side of the gadgets: materializing the tables that ``verifier/gadgets.py`` describes.

Witness tensors arrive as integer numpy arrays in C order (int64, or object arrays of Python
ints for values beyond int64, e.g. biases at scale 2^(3R+k)). Binding an axis of machine
integers to a point is one pass of the backend over the array (``bind_axis_int64``: the axis's
eq table against it); of Python ints, a sequence of folds after moving that axis innermost. Every
table is built by the backend's O(n) kernels, never by a Python loop over entries.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from circuits.layout import Layout
from prover.backends.base import FieldBackend, Vec
from prover.backends.validation import machine_integers
from prover.logup import half
from verifier.field import MODULUS as R
from verifier.phase import Table
from verifier.polynomial import eq_table

Witness = Mapping[str, np.ndarray]


def to_field(backend: FieldBackend, values: np.ndarray) -> Vec:
    """Flatten an integer array (C order) into a field vector."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if flat.dtype == object:
        return backend.from_ints([int(v) for v in flat])
    return backend.from_int64(flat.astype(np.int64, copy=False))


def bind_axis(backend: FieldBackend, values: np.ndarray, axis: int, point: Sequence[int]) -> Vec:
    """The table of ``values`` with ``axis`` bound to ``point``; other axes keep C order.

    Machine integers (the witness's int64 weights, activations and gradients) are bound by
    ``FieldBackend.bind_axis_int64`` straight from the array: the stacked weights of a
    segment are its largest tensors, and a field copy of them (4x their int64 size, plus the
    moved axis's int64 copy) was the matmul phases' peak memory."""
    if values.shape[axis] != 1 << len(point):
        raise ValueError(f"axis of size {values.shape[axis]} bound to {len(point)} coordinates")
    if machine_integers(values.dtype):
        shape = values.shape
        middle = values.reshape(int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1:])))
        return backend.bind_axis_int64(middle, point)
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
        table = backend.eq_table_add(table, u, r)
    return table


def selection_table(backend: FieldBackend, rows, r_b: Sequence[int], r_t: Sequence[int], row_vars: int) -> Vec:
    """c(i) = sum_{t, b} eq(r_t, t) eq(r_b, b) [rows[t][b] = i] (``verifier.gadgets.selection_weight``),
    by scattering the step and batch weights onto the rows they select."""
    eq_t, eq_b = eq_table(r_t), eq_table(r_b)
    c = [0] * (1 << row_vars)
    for t, batch in enumerate(rows):
        for b, i in enumerate(batch):
            c[i] += eq_t[t] * eq_b[b]
    return backend.from_ints(c)


def padding_predicate(layout: Layout, real: Mapping[str, int]) -> np.ndarray:
    """1 on every slot outside the real extent of some axis, 0 inside (C order, int64)."""
    shape = [1 << v for _, v in reversed(layout.axes)]
    inside = np.ones(shape, dtype=bool)
    for dim, (axis, _) in enumerate(reversed(layout.axes)):
        n = real.get(axis, shape[dim])
        index = [None] * len(shape)
        index[dim] = slice(None)
        inside &= (np.arange(shape[dim]) < n)[tuple(index)]
    return (~inside).astype(np.int64)


def materialize(backend: FieldBackend, table: Table, witness: Witness) -> Vec:
    kind, args = table.kind, table.args
    if kind == "eq":
        return backend.eq_table(args[0])
    if kind == "eq_low":
        point, low_vars = args
        return broadcast_low(backend, backend.to_ints(backend.eq_table(point)), low_vars)
    if kind == "combined_eq":
        return combined_eq(backend, *args)
    if kind == "steps":
        kappa, low_vars = args
        return broadcast_low(backend, kappa, low_vars)
    if kind == "bind":
        tensor, axis, point = args
        return bind_axis(backend, witness[tensor], axis, point)
    if kind == "flat":
        return to_field(backend, witness[args[0]])
    if kind == "bind_broadcast":  # ``bind`` on the tensor with its axes from ``axis`` on flattened,
        tensor, axis, point, low_vars = args  # then constant over low_vars (a few steps' entries)
        values = np.asarray(witness[tensor])
        table = bind_axis(backend, values.reshape(values.shape[:axis] + (-1,)), axis, point)
        return broadcast_low(backend, backend.to_ints(table), low_vars)
    if kind == "weighted":  # a witness vector times public weights entrywise, constant over low_vars
        tensor, weights, low_vars = args
        values = np.asarray(witness[tensor]).reshape(-1)
        return broadcast_low(backend, [int(v) * w % R for v, w in zip(values, weights, strict=True)], low_vars)
    if kind == "broadcast":  # a witness vector over the high variables, constant over low_vars
        tensor, low_vars = args
        return to_field(backend, np.repeat(np.asarray(witness[tensor]).reshape(-1), 1 << low_vars))
    if kind == "gkr":  # a half of a logUp tree's layer (``prover.logup.derive_tables``)
        key, layer, part = args
        return half(witness[("gkr", key, layer)], part)
    if kind == "padding":
        layout, real = args
        return to_field(backend, padding_predicate(layout, dict(real)))
    if kind == "selection":
        return selection_table(backend, *args)
    raise ValueError(f"unknown table kind {kind!r}")


def slot_values(backend: FieldBackend, slots: np.ndarray, decomposition, u) -> list[int]:
    """v_i = L~(i, u) for every slot of a limbs or bits tensor: bind the value axes at u,
    keep the slot axis.

    Transposed, the slot index is the outermost axis, so the value axes are the low variables
    and ``len(u)`` folds leave exactly the padded_width slot values.
    """
    table = to_field(backend, np.asarray(slots).reshape(-1, decomposition.padded_width).T)
    for r in u:
        table = backend.fold(table, r)
    return backend.to_ints(table)
