"""The limb range gadget, prover side: multiplicities, and every logUp tree's GKR layers.

The protocol, its order and the claims it ends in are ``verifier.logup.LogupWalk``, which the
prover runs over its own channel like the rest of the training walk. What only the prover
has is computed here: the multiplicities (committed with the other witness tensors, before
any challenge) and, once beta and alpha are drawn, the *derived tables*: every layer of every
tree (leaves up, one pass per layer: p = p_0 q_1 + p_1 q_0, q = q_0 q_1 over the halves of
the layer below, ``FieldBackend.gkr_parent_layer``), the roots the walk sends, and the top
tree over the roots.

Cost: a tree of 2^n leaves has 2^(n+1) fractions in its layers and the sumcheck of step k
costs O(2^k) per active tree, so the prover is linear in the number of lookups plus the table
sizes. Every layer above the leaves is kept until the phase that reads it (as many field
elements as leaves, p and q together); the channel drops each layer after that phase. A unit
tree's leaves (numerators 1: limbs, looked-up pairs) are not kept: the leaf step rebuilds them
from the committed limbs in one pass (``LeafLayer``, ``FieldBackend.tile_sub_int64``). A limbs
tensor's tree never holds them at all before that step: its layer 1 is computed from the limbs
(``FieldBackend.gkr_unit_parent_layer_int64``).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from prover.backends.base import FieldBackend, Vec
from prover.backends.validation import KERNEL_INTEGERS
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
    """A limbs tensor as a [2^value_vars, padded_width] int32 or int64 array (the kernels read
    int32 limbs as they are), its shape checked."""
    a = np.asarray(limbs)
    width = tensor.decomposition.padded_width
    if a.size != (1 << tensor.value_vars) * width or (a.ndim and a.shape[-1] != width):
        raise ValueError(f"{tensor.name}: limbs of shape {a.shape}, expected 2^{tensor.value_vars} values x {width} slots")
    # int32 and int64 as they are; anything else (a soundness test's object array) as int64,
    # which raises on a value outside int64.
    a = a.reshape(-1, width)
    return a if a.dtype in KERNEL_INTEGERS else a.astype(np.int64)


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


class LeafLayer:
    """A unit tree's leaf layer (None, q), rebuilt from the committed limbs when the walk's
    leaf step reads it (once: both halves come from one rebuild, dropped with the step's
    tables). The leaves are a third of a tree's fractions (2^n of 3 x 2^n field elements,
    counting p and q), and the layers above are built from them before any GKR step, so
    keeping them from then to the last step would make them the largest resident table."""

    def __init__(self, build: Callable[[], tuple[None, Vec]]):
        self._build = build
        self._layer: tuple[None, Vec] | None = None

    def layer(self) -> tuple[None, Vec]:
        if self._layer is None:
            self._layer = self._build()
        return self._layer


def half(layer: tuple[Vec, Vec] | LeafLayer, part: str) -> Vec:
    """``p0``, ``p1``, ``q0`` or ``q1`` of a layer (``verifier.logup.PARTS``)."""
    if isinstance(layer, LeafLayer):
        layer = layer.layer()
    return _halves(layer[0] if part[0] == "p" else layer[1])[int(part[1])]


def _constant(backend: FieldBackend, value: int, n: int) -> Vec:
    return backend.tile(backend.from_ints([value]), n)


def build_layers(backend: FieldBackend, numerators: Vec | None, denominators: Vec) -> list[tuple[Vec | None, Vec]]:
    """Every layer of one fraction tree, from its leaves up to the root; returned root first.

    ``numerators`` None: every leaf's numerator is 1 (a unit tree, ``verifier.logup.Tree.unit``);
    the leaf layer is then kept as (None, q), its parents' numerators are q_0 + q_1, and no
    numerator table of ones is ever built (the walk's leaf step does not read one). Each
    layer is one pass over the one below (``FieldBackend.gkr_parent_layer``)."""
    layers = [(numerators, denominators)]
    while backend.length(layers[-1][1]) > 1:
        layers.append(backend.gkr_parent_layer(*layers[-1]))
    return layers[::-1]


def leaves(
    backend: FieldBackend, tree: Tree, challenges: Challenges, witness: Mapping[str, np.ndarray]
) -> tuple[Vec, Vec]:
    """A tree's leaves: (1, beta - alpha b_i - L(x, i)) over a limbs tensor's (value, slot)
    entries, (1, beta - alpha t_f - X(x) - gamma Y(x)) over a looked-up pair, or
    (-m(j), beta - alpha tag - j [- gamma f(j)]) over a range [function] table.

    The numerators of ones are built here for the malicious-prover hooks (``derive_tables``'s
    ``leaves_of``); the honest prover takes a unit tree's denominators alone
    (``leaf_denominators``)."""
    if tree.unit:
        return _constant(backend, 1, 1 << tree.num_vars), leaf_denominators(backend, tree, challenges, witness)
    n = 1 << tree.num_vars
    m = np.asarray(witness[tree.key], dtype=np.int64).reshape(-1)
    if m.shape != (n,):
        raise ValueError(f"{tree.key}: {m.size} multiplicities, expected {n}")
    rows = backend.from_int64(np.arange(n, dtype=np.int64))
    q = backend.sub(_constant(backend, challenges.shift(tree.bits), n), rows)
    if tree.table is not None:
        q = backend.sub(q, backend.scalar_mul(backend.from_ints(list(tree.table.outputs)), challenges.gamma))
    return backend.from_int64(-m), q


def leaf_denominators(
    backend: FieldBackend, tree: Tree, challenges: Challenges, witness: Mapping[str, np.ndarray]
) -> Vec:
    """A unit tree's leaf denominators: beta - alpha b_i - L(x, i) over a limbs tensor's
    (value, slot) entries, beta - alpha t_f - X(x) - gamma Y(x) over a looked-up pair."""
    n = 1 << tree.num_vars
    if tree.lookup is not None:
        lk = tree.lookup
        x, y = _column(lk.value_vars, lk.input, witness[lk.input]), _column(lk.value_vars, lk.output, witness[lk.output])
        folded = backend.add(_field(backend, x), backend.scalar_mul(_field(backend, y), challenges.gamma))
        return backend.sub(_constant(backend, challenges.shift(tree.bits), n), folded)
    return backend.tile_sub_int64(*_slot_shifts_and_limbs(backend, tree, challenges, witness))


def _slot_shifts_and_limbs(backend: FieldBackend, tree: Tree, challenges: Challenges, witness: Mapping[str, np.ndarray]):
    """A limbs tensor tree's leaves as (pattern, limbs): leaf i is pattern[i mod width] - limbs[i].
    beta - alpha b_i is public and periodic in the slot (the innermost axis), so the leaves
    need no tiled copy of it."""
    t = tree.tensor
    slots = slot_matrix(t, witness[t.name]).reshape(-1)
    return backend.from_ints([challenges.shift(b) for b in t.slot_tags()]), slots


def derive_tables(
    backend: FieldBackend,
    statement: LogupStatement,
    challenges: Challenges,
    witness: Mapping[str, np.ndarray],
    leaves_of: Callable | None = None,
) -> Derived:
    """Every tree's layers, their roots and the top tree (``verifier.logup`` step 2), from the
    committed limbs and multiplicities in ``witness``. Soundness tests pass ``leaves_of`` (the
    malicious-prover hook, ``leaves``'s signature) to build trees of other leaves."""
    out: Derived = {}
    roots = []
    for tree in statement.trees():
        leaf_layer = LeafLayer(lambda tree=tree: (None, leaf_denominators(backend, tree, challenges, witness)))
        if leaves_of is not None:
            layers = build_layers(backend, *leaves_of(backend, tree, challenges, witness))
        elif tree.tensor is not None and tree.num_vars >= 1:
            # Layer 1 from the committed limbs in one pass: the leaves are never a table here.
            pattern, limbs = _slot_shifts_and_limbs(backend, tree, challenges, witness)
            layers = build_layers(backend, *backend.gkr_unit_parent_layer_int64(pattern, limbs)) + [leaf_layer]
        elif tree.unit:
            layers = build_layers(backend, None, leaf_denominators(backend, tree, challenges, witness))
            if len(layers) > 1:
                layers[-1] = leaf_layer
        else:
            layers = build_layers(backend, *leaves(backend, tree, challenges, witness))
        for k, layer in enumerate(layers):
            out[("gkr", tree.key, k)] = layer
        p, q = layers[0]
        roots.append((1 if p is None else backend.to_ints(p)[0], backend.to_ints(q)[0]))
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
