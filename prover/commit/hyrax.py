"""Hyrax commitments to small signed tensors, and their openings (see verifier/hyrax.py).

Commit (DESIGN section 3, offset trick). Entries are int64 values v with
-2^(b-1) <= v < 2^(b-1). Mapping them to v mod r would make every negative entry a 255-bit
scalar and the MSM about 4x slower, so row i is committed as

    C_i = MSM(G, v_i + 2^(b-1)) - 2^(b-1) sum_j G_j + r_i h,

where the shifted entries are unsigned b-bit scalars, the correction point 2^(b-1) sum_j G_j
is computed once per (row length, b), and r_i h is added outside the MSM, through a
fixed-base table for h. Every slot gets the offset, padding included, so a padded zero stays
zero. A nonnegative tensor (limbs, bits, multiplicities) skips the offset: its entries are
unsigned scalars already, one bit narrower, and its zero entries (padding slots, the top
limbs of small values) cost nothing in the buckets. The row MSMs of the whole matrix run in one call of ``msm_small.msm_rows`` (numba,
batch-affine buckets over all rows at once): at 1024 x 1024 and 16 bits it measured 1.0 us
per element on one thread and 0.5-0.6 on two, against 3.1-3.6 for arkworks'
``multiexp_unchecked`` row by row (benchmarks/commitments.md). It gives the same points, so
the same bytes; arkworks stays the reference in tests/test_msm_small.py.

Open at a point x = (x_col, x_row): the combined row t = L^T M (``linalg.combine_rows``)
and the combined blinding sum_i L_i r_i; in the clear (non-ZK) or through a proof of dot
product (ZK). Batching claims on several tensors at one point combines these linearly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from verifier.field import MODULUS as R, inner_product
from verifier.hyrax import (
    DOMAIN_OPEN,
    DOMAIN_OPEN_ZK,
    ZK_ARGUMENTS,
    HyraxCommitment,
    HyraxLayout,
    HyraxOpening,
)
from verifier.polynomial import eq_table
from verifier.transcript import Transcript

from ..nizk import dot_product, ipa
from ..nizk.randomness import RandomSource, blinding
from . import group, msm_small
from .generators import ProverGenerators
from .linalg import combine_rows

MAX_BITS = 63


@dataclass
class HyraxWitness:
    """What the prover keeps: the matrix (int64, rows x cols), its bit bound, the row blinds."""

    layout: HyraxLayout
    matrix: np.ndarray
    bits: int
    blinds: list[int]

    def combined_row(self, point: Sequence[int]) -> tuple[list[int], int]:
        """(t, sum_i L_i r_i) for L = eq-table(x_row)."""
        _, x_row = self.layout.split(point)
        weights = eq_table(x_row)
        return combine_rows(weights, self.matrix, self.bits), inner_product(weights, self.blinds)

    def evaluate(self, point: Sequence[int]) -> int:
        """The MLE of the tensor at ``point`` (little-endian variables)."""
        x_col, _ = self.layout.split(point)
        row, _ = self.combined_row(point)
        return inner_product(row, eq_table(x_col))


def _check_values(values: np.ndarray, layout: HyraxLayout, bits: int) -> np.ndarray:
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must lie in [1, {MAX_BITS}], got {bits}")
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        raise ValueError(f"values must be an integer array, got dtype {values.dtype}")
    if values.size != 1 << layout.num_vars:
        raise ValueError(f"{values.size} values for a layout of 2^{layout.num_vars} entries")
    # Range-check before any cast: a uint64 above 2^63 must not wrap into a small negative.
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    outside = (values < low) | (values > high)
    if outside.any():
        raise ValueError(f"value {values[outside].flat[0]} does not fit in {bits} signed bits")
    return values.astype(np.int64).reshape(layout.num_rows, layout.num_cols)


def commit(
    gens: ProverGenerators,
    values: np.ndarray,
    layout: HyraxLayout,
    bits: int,
    rng: RandomSource | None = None,
) -> tuple[HyraxCommitment, HyraxWitness]:
    """Commit to a tensor of 2^num_vars signed ``bits``-bit integers, one commitment per row.

    C_i = MSM(G, M_i + 2^(b-1)) - 2^(b-1) sum_j G_j + r_i h (the offset trick, module
    docstring), the unsigned b-bit row MSMs all computed by ``msm_small.msm_rows``.
    """
    matrix = _check_values(values, layout, bits)
    generators = gens.vector(layout.num_cols)
    blinds = blinding(rng, layout.num_rows)
    if matrix.size and matrix.min() < 0:
        offset = 1 << (bits - 1)
        correction = group.mul(gens.vector_sum(layout.num_cols), offset)
        sums = msm_small.msm_rows(generators, (matrix + offset).astype(np.uint64), bits)
    else:
        correction = group.G1.identity()
        unsigned_bits = max(1, int(matrix.max(initial=0)).bit_length())
        sums = msm_small.msm_rows(generators, matrix.astype(np.uint64), unsigned_bits)
    rows = tuple(group.to_bytes(row - correction + gens.blinding_term(r)) for row, r in zip(sums, blinds))
    return HyraxCommitment(rows), HyraxWitness(layout, matrix, bits, blinds)


def open_clear(witness: HyraxWitness, point: Sequence[int], transcript: Transcript) -> tuple[int, HyraxOpening]:
    """Non-ZK opening: returns the value and the proof (the combined row in the clear)."""
    row, blind = witness.combined_row(point)
    return _open_clear_row(witness.layout, row, blind, point, transcript)


def open_zk(
    gens: ProverGenerators,
    witness: HyraxWitness,
    point: Sequence[int],
    value_blind: int,
    transcript: Transcript,
    argument: str = "log",
    rng: RandomSource | None = None,
):
    """ZK opening of the claim (point, C_v = f~(point) g + value_blind h): a proof of dot product."""
    row, row_blind = witness.combined_row(point)
    return _open_zk_row(gens, witness.layout, row, row_blind, point, value_blind, transcript, argument, rng)


def _open_clear_row(layout, row, blind, point, transcript: Transcript) -> tuple[int, HyraxOpening]:
    x_col, _ = layout.split(point)
    value = inner_product(row, eq_table(x_col))
    transcript.domain_separate(DOMAIN_OPEN)
    transcript.absorb_scalars(b"point", point)
    transcript.absorb_scalar(b"value", value)
    transcript.absorb_scalars(b"row", [*row, blind])
    return value, HyraxOpening(tuple(row), blind)


def prove_dot_product(
    gens: ProverGenerators,
    row: Sequence[int],
    row_blind: int,
    weights: Sequence[int],
    value_blind: int,
    transcript: Transcript,
    argument: str,
    rng: RandomSource | None = None,
):
    """Proof that C_v = <row, weights> g + value_blind h for C_T = <row, G> + row_blind h."""
    if argument == "sqrt":
        return dot_product.prove(gens, row, row_blind, weights, value_blind, transcript, rng)
    if argument == "log":
        return ipa.prove(gens, row, row_blind, weights, value_blind, transcript, rng)
    raise ValueError(f"argument must be one of {ZK_ARGUMENTS}, got {argument!r}")


def _open_zk_row(gens, layout, row, row_blind, point, value_blind, transcript, argument, rng):
    x_col, _ = layout.split(point)
    weights = eq_table(x_col)
    value_commitment = gens.commit_value(inner_product(row, weights), value_blind)
    transcript.domain_separate(DOMAIN_OPEN_ZK)
    transcript.absorb_scalars(b"point", point)
    transcript.absorb_point(b"value", group.to_bytes(value_commitment))
    return prove_dot_product(gens, row, row_blind, weights, value_blind, transcript, argument, rng)


def _combined_rows(witnesses: Sequence[HyraxWitness], point: Sequence[int]):
    """Per tensor: its combined row, blinding and value at the point (one shared layout)."""
    layouts = {w.layout for w in witnesses}
    if len(layouts) != 1:
        raise ValueError(f"batched tensors must share one layout, got {len(layouts)} layouts")
    (layout,) = layouts
    x_col, _ = layout.split(point)
    weights = eq_table(x_col)
    rows, blinds = zip(*(w.combined_row(point) for w in witnesses))
    values = [inner_product(row, weights) for row in rows]
    return layout, list(rows), list(blinds), values


def _linear_combination(rows, blinds, coeffs) -> tuple[list[int], int]:
    combined = [0] * len(rows[0])
    for rho, row in zip(coeffs, rows):
        combined = [(acc + rho * v) % R for acc, v in zip(combined, row)]
    return combined, inner_product(coeffs, blinds)
