"""The limb range gadget, prover side: multiplicities, and every logUp tree's GKR layers.

The protocol, its order and the claims it ends in are ``verifier.logup.LogupWalk``, which the
prover runs over its own channel like the rest of the training walk. What only the prover
has is computed here: the multiplicities (committed with the other witness tensors, before
any challenge) and, once beta and alpha are drawn, the *derived tables*: every layer of every
tree (leaves up, one multiplication pass per layer: p = p_0 q_1 + p_1 q_0, q = q_0 q_1 over
the halves of the layer below), the roots the walk sends, and the top tree over the roots.

Cost: a tree of 2^n leaves has 2^(n+1) fractions in its layers and the sumcheck of step k
costs O(2^k) per active tree, so the prover is linear in the number of lookups plus the table
sizes. Every layer is kept until the phase that reads it (twice the leaves, as field
elements); the channel drops each layer after that phase.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from prover.backends.base import FieldBackend, Vec
from verifier.field import MODULUS as R
from verifier.logup import (
    TOP,
    Challenges,
    LogupStatement,
    RangeTensor,
    Tree,
    function_multiplicity_name,
    multiplicity_name,
)

#: Derived tables: ("gkr", tree key, layer) -> (p, q) vectors, and "key.root.p" etc. -> int.
Derived = dict


def slot_matrix(tensor: RangeTensor, limbs: np.ndarray) -> np.ndarray:
    """A limbs tensor as a [2^value_vars, padded_width] int64 array, its shape checked."""
    a = np.asarray(limbs)
    width = tensor.decomposition.padded_width
    if a.size != (1 << tensor.value_vars) * width or (a.ndim and a.shape[-1] != width):
        raise ValueError(f"{tensor.name}: limbs of shape {a.shape}, expected 2^{tensor.value_vars} values x {width} slots")
    return a.reshape(-1, width).astype(np.int64, copy=False)


def multiplicities(statement: LogupStatement, witness: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """m_b(j) = how often j is looked up in the table of b bits, m_f(j) how often the row
    (j, f(j)) of a function table (int64), keyed by the multiplicity tensor's name; the caller
    commits them before the gadget runs.

    Raises ValueError on a slot outside its table (padding slots: the table {0}) or a pair that
    is not a row of its function table; an honest witness never has one.
    """
    counts = {b: np.zeros(1 << b, dtype=np.int64) for b in statement.table_bits()}
    for t in statement.tensors:
        slots = slot_matrix(t, witness[t.name])
        for i, b in enumerate(t.slot_tags()):
            column = slots[:, i]
            if column.min() < 0 or column.max() >= 1 << b:
                raise ValueError(f"{t.name}: slot {i} holds a value outside [0, 2^{b})")
            if b:
                counts[b] += np.bincount(column, minlength=1 << b)
    out = {multiplicity_name(b): m for b, m in counts.items()}
    for table in statement.function_tables():
        out[function_multiplicity_name(table)] = np.zeros(1 << table.index_bits, dtype=np.int64)
    for lk in statement.lookups:
        x, y = _column(lk.value_vars, lk.input, witness[lk.input]), _column(lk.value_vars, lk.output, witness[lk.output])
        if x.min() < 0 or x.max() >= 1 << lk.table.index_bits:
            raise ValueError(f"{lk.input}: an index outside the table {lk.table.name}")
        x = x.astype(np.int64)
        if not np.array_equal(np.asarray(lk.table.outputs)[x], y):
            raise ValueError(f"{lk.output}: not {lk.table.name} of {lk.input}")
        out[function_multiplicity_name(lk.table)] += np.bincount(x, minlength=1 << lk.table.index_bits)
    return out


def _column(value_vars: int, name: str, values: np.ndarray) -> np.ndarray:
    """A looked-up tensor as a flat integer array of 2^value_vars entries."""
    a = np.asarray(values).reshape(-1)
    if a.size != 1 << value_vars:
        raise ValueError(f"{name}: {a.size} values, expected 2^{value_vars}")
    return a if a.dtype == object else a.astype(np.int64, copy=False)


def _field(backend: FieldBackend, a: np.ndarray) -> Vec:
    return backend.from_ints([int(v) for v in a]) if a.dtype == object else backend.from_int64(a)


def _halves(v: Vec) -> tuple[Vec, Vec]:
    """The children split by the top variable. Both backends' vectors (lists, and C-contiguous
    (n, 4) arrays) slice along their first axis into contiguous halves."""
    h = len(v) // 2
    return v[:h], v[h:]


def half(layer: tuple[Vec, Vec], part: str) -> Vec:
    """``p0``, ``p1``, ``q0`` or ``q1`` of a layer (``verifier.logup.PARTS``)."""
    return _halves(layer[0] if part[0] == "p" else layer[1])[int(part[1])]


def _constant(backend: FieldBackend, value: int, n: int) -> Vec:
    return backend.scalar_mul(backend.from_int64(np.ones(n, dtype=np.int64)), value)


def build_layers(backend: FieldBackend, numerators: Vec, denominators: Vec) -> list[tuple[Vec, Vec]]:
    """Every layer of one fraction tree, from its leaves up to the root; returned root first."""
    layers = [(numerators, denominators)]
    while backend.length(layers[-1][0]) > 1:
        (p0, p1), (q0, q1) = _halves(layers[-1][0]), _halves(layers[-1][1])
        p = backend.add(backend.mul(p0, q1), backend.mul(p1, q0))
        layers.append((p, backend.mul(q0, q1)))
    return layers[::-1]


def leaves(
    backend: FieldBackend, tree: Tree, challenges: Challenges, witness: Mapping[str, np.ndarray]
) -> tuple[Vec, Vec]:
    """A tree's leaves: (1, beta - alpha b_i - L(x, i)) over a limbs tensor's (value, slot)
    entries, (1, beta - alpha t_f - X(x) - gamma Y(x)) over a looked-up pair, or
    (-m(j), beta - alpha tag - j [- gamma f(j)]) over a range [function] table."""
    n = 1 << tree.num_vars
    shift = _constant(backend, challenges.shift(tree.bits), n)
    if tree.lookup is not None:
        lk = tree.lookup
        x, y = _column(lk.value_vars, lk.input, witness[lk.input]), _column(lk.value_vars, lk.output, witness[lk.output])
        folded = backend.add(_field(backend, x), backend.scalar_mul(_field(backend, y), challenges.gamma))
        return _constant(backend, 1, n), backend.sub(shift, folded)
    if tree.tensor is None:
        m = np.asarray(witness[tree.key], dtype=np.int64).reshape(-1)
        if m.shape != (n,):
            raise ValueError(f"{tree.key}: {m.size} multiplicities, expected {n}")
        q = backend.sub(shift, backend.from_int64(np.arange(n, dtype=np.int64)))
        if tree.table is not None:
            q = backend.sub(q, backend.scalar_mul(backend.from_ints(list(tree.table.outputs)), challenges.gamma))
        return backend.from_int64(-m), q
    t = tree.tensor
    slots = slot_matrix(t, witness[t.name]).reshape(-1)
    tags = np.tile(np.array(t.slot_tags(), dtype=np.int64), 1 << t.value_vars)
    looked_up = backend.add(backend.scalar_mul(backend.from_int64(tags), challenges.alpha), backend.from_int64(slots))
    return _constant(backend, 1, n), backend.sub(_constant(backend, challenges.beta, n), looked_up)


def derive_tables(
    backend: FieldBackend,
    statement: LogupStatement,
    challenges: Challenges,
    witness: Mapping[str, np.ndarray],
    leaves_of: Callable = leaves,
) -> Derived:
    """Every tree's layers, their roots and the top tree (``verifier.logup`` step 2), from the
    committed limbs and multiplicities in ``witness``. Soundness tests pass ``leaves_of`` (the
    malicious-prover hook) to build trees of other leaves."""
    out: Derived = {}
    roots = []
    for tree in statement.trees():
        for k, layer in enumerate(build_layers(backend, *leaves_of(backend, tree, challenges, witness))):
            out[("gkr", tree.key, k)] = layer
        p, q = out[("gkr", tree.key, 0)]
        roots.append((backend.to_ints(p)[0], backend.to_ints(q)[0]))
        out[f"{tree.key}.root.p"], out[f"{tree.key}.root.q"] = roots[-1]
    if statement.padding_lookups:
        roots.append((-statement.padding_lookups % R, challenges.beta))
    roots += [(0, 1)] * ((1 << statement.top_vars) - len(roots))
    top = build_layers(backend, backend.from_ints([p for p, _ in roots]), backend.from_ints([q for _, q in roots]))
    for k, layer in enumerate(top):
        out[("gkr", TOP, k)] = layer
    # The walk takes the top numerator to be 0 (the logUp identity); a witness out of its
    # tables makes it nonzero, and the verifier's first GKR step rejects.
    out[f"{TOP}.q"] = backend.to_ints(top[0][1])[0]
    return out
