"""The limb range gadget, prover side: multiplicities and the batched logUp-GKR proof.

The protocol, its transcript order and the claims it ends in are specified in
``verifier/logup.py``; this module builds every tree's layers with the field backend (leaves
up, one multiplication pass per layer: p = p_0 q_1 + p_1 q_0, q = q_0 q_1 over the halves of
the layer below) and proves them root down with the batched sumcheck prover. It then hands
its own final evaluations to the verifier's ``next_claims`` / ``leaf_claims``, so both sides
derive the same claims by construction.

Cost: a tree of 2^n leaves has 2^(n+1) fractions in its layers, and the sumcheck of step k
costs O(2^k) per active tree, so the prover is linear in the number of lookups plus the table
sizes; it keeps every layer (twice the leaves, as field elements) until its step.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from prover.backends.base import FieldBackend, Vec
from prover.gadgets import bit_slices
from prover.sumcheck import Instance, prove_sumcheck
from verifier.claims import Claim
from verifier.field import MODULUS as R
from verifier.logup import (
    Challenges,
    LogupProof,
    LogupStatement,
    Tree,
    begin,
    layer_shape,
    leaf_claims,
    multiplicity_name,
    next_claims,
)
from verifier.sumcheck import Evaluation
from verifier.transcript import Transcript

Layers = list[tuple[Vec, Vec]]  # layer k (2^k fractions as numerators, denominators), root first


def slot_columns(statement: LogupStatement, limbs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each limbs tensor as a [2^value_vars, padded_width] int64 array, shapes checked."""
    out = {}
    for t in statement.tensors:
        a = np.asarray(limbs[t.name])
        width = t.decomposition.padded_width
        if a.size != (1 << t.value_vars) * width or (a.ndim and a.shape[-1] != width):
            raise ValueError(
                f"{t.name}: limbs of shape {a.shape}, expected 2^{t.value_vars} values x {width} slots"
            )
        out[t.name] = a.reshape(-1, width).astype(np.int64, copy=False)
    return out


def multiplicities(statement: LogupStatement, limbs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """m_b(j) = how often j is looked up in the table of b bits, per table (int64), keyed by
    the multiplicity tensor's name; the caller commits them before the gadget runs.

    Raises ValueError on a slot outside its table: an honest witness never has one.
    """
    counts = {b: np.zeros(1 << b, dtype=np.int64) for b in statement.table_bits()}
    columns = slot_columns(statement, limbs)
    for t in statement.tensors:
        for i, b in enumerate(t.decomposition.slot_widths):
            column = columns[t.name][:, i]
            if column.min() < 0 or column.max() >= 1 << b:
                raise ValueError(f"{t.name}: slot {i} holds a value outside [0, 2^{b})")
            counts[b] += np.bincount(column, minlength=1 << b)
    return {multiplicity_name(b): m for b, m in counts.items()}


def _halves(v: Vec) -> tuple[Vec, Vec]:
    """The children split by the top variable. Both backends' vectors (lists, and C-contiguous
    (n, 4) arrays) slice along their first axis into contiguous halves."""
    h = len(v) // 2
    return v[:h], v[h:]


def _constant(backend: FieldBackend, value: int, n: int) -> Vec:
    return backend.scalar_mul(backend.from_int64(np.ones(n, dtype=np.int64)), value)


def build_layers(backend: FieldBackend, numerators: Vec, denominators: Vec) -> Layers:
    """Every layer of one fraction tree, from its leaves up to the root; returned root first."""
    layers = [(numerators, denominators)]
    while backend.length(layers[-1][0]) > 1:
        (p0, p1), (q0, q1) = _halves(layers[-1][0]), _halves(layers[-1][1])
        p = backend.add(backend.mul(p0, q1), backend.mul(p1, q0))
        layers.append((p, backend.mul(q0, q1)))
    return layers[::-1]


def leaves(
    backend: FieldBackend, tree: Tree, challenges: Challenges, columns: Mapping[str, np.ndarray],
    mults: Mapping[str, np.ndarray],
) -> tuple[Vec, Vec]:
    """(numerators, denominators) of a tree's leaves: (1, beta - alpha b - L) for a lookup
    column, (m_b(j), beta - alpha b - j) for a table."""
    n = 1 << tree.num_vars
    shift = _constant(backend, challenges.shift(tree.bits), n)
    if tree.is_table:
        m = np.asarray(mults[multiplicity_name(tree.bits)], dtype=np.int64)
        if m.shape != (n,):
            raise ValueError(f"{multiplicity_name(tree.bits)}: shape {m.shape}, expected ({n},)")
        return backend.from_int64(m), backend.sub(shift, backend.from_int64(np.arange(n, dtype=np.int64)))
    column = np.ascontiguousarray(columns[tree.tensor][:, tree.slot])
    return _constant(backend, 1, n), backend.sub(shift, backend.from_int64(column))


def prove_range_limbs(
    transcript: Transcript,
    backend: FieldBackend,
    statement: LogupStatement,
    limbs: Mapping[str, np.ndarray],
    mults: Mapping[str, np.ndarray],
) -> tuple[LogupProof, list[Claim]]:
    """Prove that every real slot of every limbs tensor lies in its table.

    ``limbs`` (by tensor name) and ``mults`` (by multiplicity name, from
    :func:`multiplicities`) must already be committed and absorbed. Returns the proof and the
    claims of :func:`verifier.logup.verify_range_limbs`, which the caller must consume.
    """
    challenges = begin(transcript, statement)
    columns = slot_columns(statement, limbs)
    tree_leaves = [leaves(backend, tree, challenges, columns, mults) for tree in statement.trees()]
    proof, leaf_layer = prove_trees(transcript, backend, statement, tree_leaves)
    return proof, leaf_claims(transcript, statement, challenges, leaf_layer)


def prove_trees(
    transcript: Transcript,
    backend: FieldBackend,
    statement: LogupStatement,
    tree_leaves: Sequence[tuple[Vec, Vec]],
) -> tuple[LogupProof, list[tuple[tuple[int, ...], int, int]]]:
    """The GKR part of :func:`prove_range_limbs`, from every tree's (numerators,
    denominators) leaves in ``statement.trees()`` order: the proof, and every tree's claims
    (point, p, q) on its leaf layer. Soundness tests pass leaves of their own here (the
    malicious-prover hook)."""
    trees = statement.trees()
    layers = [build_layers(backend, p, q) for p, q in tree_leaves]
    roots = tuple((backend.to_ints(p)[0], backend.to_ints(q)[0]) for p, q in (tree[0] for tree in layers))
    transcript.absorb_scalars(b"roots", [v for pq in roots for v in pq])
    claims = list(roots)
    point: tuple[int, ...] = ()
    found: list = [None] * len(trees)
    proofs = []
    for k in range(statement.depth()):
        for i, tree in enumerate(trees):
            if tree.num_vars == k:
                found[i] = (point, *claims[i])
                layers[i] = None  # this tree is done: free its layers
            elif tree.num_vars > k:
                layers[i][k] = None  # layer k is reduced below: free it
        active = statement.active(k)
        gamma = transcript.challenge_scalar(b"gamma")
        eq = backend.eq_table(point)
        terms = layer_shape(k, gamma).terms
        instances = []
        for i in active:
            p, q = layers[i][k + 1]
            instances.append(Instance([eq, *_halves(p), *_halves(q)], terms))
        combined = [(claims[i][0] + gamma * claims[i][1]) % R for i in active]
        proof, rho = prove_sumcheck(transcript, backend, instances, combined)
        proofs.append(proof)
        evaluations = [[Evaluation(rho, v) for v in final] for final in proof.final_evals]
        point, reduced = next_claims(point, evaluations, transcript.challenge_scalar(b"lambda"))
        for i, pq in zip(active, reduced):
            claims[i] = pq
    for i, tree in enumerate(trees):
        if tree.num_vars == statement.depth():
            found[i] = (point, *claims[i])
    return LogupProof(roots, tuple(proofs)), found


def slot_values(backend: FieldBackend, slots: np.ndarray, decomposition, u: Sequence[int]) -> list[int]:
    """v_i = L~(i, u) for every slot of a limbs (or bits) tensor: the prover's message for
    :func:`verifier.gadgets.reduce_slices` (the bit gadget's slicing, which only needs the
    slot axis innermost)."""
    return bit_slices(backend, slots, decomposition, u)
