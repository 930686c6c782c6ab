"""Several claims on one committed tensor reduced to one, ZK mode (see verifier/multipoint.py)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from prover.backends.base import FieldBackend
from prover.nizk.randomness import RandomSource
from prover.sumcheck import product_instance
from prover.zk_sumcheck import ZkTableValue, prove_zk_sumcheck
from verifier.field import inner_product
from verifier.multipoint import PUBLIC_INDICES, begin
from verifier.transcript import Transcript
from verifier.zk_sumcheck import ZkSumcheckProof

from . import group
from .generators import ProverGenerators


def prove_zk_multipoint(
    transcript: Transcript,
    backend: FieldBackend,
    gens: ProverGenerators,
    values: np.ndarray,
    points: Sequence[Sequence[int]],
    values_at_points: Sequence[int],
    blinds: Sequence[int],
    rng: RandomSource | None = None,
) -> tuple[ZkSumcheckProof, ZkTableValue]:
    """Claims T~(points[j]) = values_at_points[j], committed with ``blinds``, on the tensor
    ``values`` (int64, 2^n entries): one sumcheck, ending in one claim on T."""
    claims = [group.to_bytes(gens.commit_value(v, b)) for v, b in zip(values_at_points, blinds)]
    powers = begin(transcript, points, claims)
    combined_table = None
    for u, p in zip(points, powers):
        term = backend.scalar_mul(backend.eq_table(list(u)), p)
        combined_table = term if combined_table is None else backend.add(combined_table, term)
    tensor = backend.from_int64(np.ascontiguousarray(values, dtype=np.int64).reshape(-1))
    instance = product_instance(combined_table, tensor)
    proof, _, tables = prove_zk_sumcheck(
        transcript,
        backend,
        gens,
        [instance],
        [inner_product(powers, values_at_points)],
        [inner_product(powers, blinds)],
        PUBLIC_INDICES,
        rng,
    )
    return proof, tables[0][1]
