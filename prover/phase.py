"""Prover side of a phase: one batched sumcheck over the instances of several reductions.

The reductions are the verifier's own objects (``verifier/phase.py``): the prover
materializes the tables they describe from its witness, proves, and then runs their
``finish`` on its final evaluations to obtain exactly the claims the verifier will hold (in
the clear mode a wrong public table of its own surfaces there as a VerifyError). The
zero-knowledge variant proves the same instances with committed claims and hands back
committed evaluations as openings (``prover.values.Opened``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from prover.backends.base import FieldBackend, Vec
from prover.backends.validation import machine_integers
from prover.commit.generators import ProverGenerators
from prover.gadgets import Witness, materialize
from prover.ledger import TERMS as LEDGER_TERMS, CombinedEqInstance
from prover.nizk.randomness import RandomSource
from prover.sumcheck import Instance, prove_sumcheck
from prover.values import Opened, opened
from prover.zk_sumcheck import prove_zk_sumcheck
from verifier.claims import Claim
from verifier.phase import Reduction, Table, finish_reductions, public_indices, split_and_finish
from verifier.sumcheck import Evaluation, SumcheckProof
from verifier.transcript import Transcript
from verifier.zk_sumcheck import ZkSumcheckProof


def _instances(backend: FieldBackend, reductions: Sequence[Reduction], witness: Witness) -> list[Instance | CombinedEqInstance]:
    """The instances' tables, materialized; an eq table of one point is built once and shared
    by every instance that names it (the trees of a logUp-GKR step all have the step's eq), and
    ``SumcheckState`` folds a shared table once per round. A claims-ledger instance over an
    integer tensor is not materialized at all (``prover.ledger``)."""
    shared: dict[Table, Vec] = {}

    def table(t: Table) -> Vec:
        if t.kind != "eq" or not _hashable(t):
            return materialize(backend, t, witness)
        if t not in shared:
            shared[t] = materialize(backend, t, witness)
        return shared[t]

    def instance(shape, tables) -> Instance | CombinedEqInstance:
        ledger = _ledger_instance(shape, tables, witness)
        eq_point = tuple(tables[0].args[0]) if tables and tables[0].kind == "eq" else None
        return ledger or Instance([table(t) for t in tables], shape.terms, eq_point)

    return [instance(shape, tables) for red in reductions for shape, tables in zip(red.shapes, red.tables, strict=True)]


def _ledger_instance(shape, tables: Sequence[Table], witness: Witness) -> CombinedEqInstance | None:
    """The ledger's [combined eq, committed tensor] product (``verifier.gadgets.multipoint_reduction``)
    over a machine-integer tensor (the limbs are int32) of at least one variable, as a
    ``CombinedEqInstance``; None otherwise (a tensor of Python ints is materialized)."""
    if [t.kind for t in tables] != ["combined_eq", "flat"] or shape.terms != LEDGER_TERMS or shape.num_vars < 1:
        return None
    values = np.asarray(witness[tables[1].args[0]])
    if not machine_integers(values.dtype):
        return None
    return CombinedEqInstance(*tables[0].args, values)


def _hashable(t: Table) -> bool:
    try:
        hash(t)
    except TypeError:  # a point given as a list: built on its own, as before
        return False
    return True


def prove_phase(
    transcript: Transcript,
    label: bytes,
    backend: FieldBackend,
    reductions: Sequence[Reduction],
    witness: Witness,
) -> tuple[SumcheckProof, list[Claim]]:
    transcript.domain_separate(label)
    instances = _instances(backend, reductions, witness)
    claims = [c for red in reductions for c in red.claims]
    proof, point = prove_sumcheck(transcript, backend, instances, claims)
    shapes = [s for red in reductions for s in red.shapes]
    evaluations = [
        [Evaluation(point[: shape.num_vars], v) for v in values]
        for shape, values in zip(shapes, proof.final_evals)
    ]
    return proof, split_and_finish(reductions, evaluations)


def prove_zk_phase(
    transcript: Transcript,
    label: bytes,
    backend: FieldBackend,
    gens: ProverGenerators,
    reductions: Sequence[Reduction],
    witness: Witness,
    rng: RandomSource | None = None,
) -> tuple[ZkSumcheckProof, list[Claim]]:
    """The ZK counterpart of ``prove_phase`` (``verifier.phase.verify_zk_phase``): claims are
    openings, and so are the returned claims' values (public tables at their public value)."""
    transcript.domain_separate(label)
    instances = _instances(backend, reductions, witness)
    claims = [opened(c) for red in reductions for c in red.claims]
    proof, point, values = prove_zk_sumcheck(
        transcript, backend, gens, instances,
        [c.value for c in claims], [c.blind for c in claims], public_indices(reductions), rng,
    )
    public = [pub for red in reductions for pub in red.public]
    evaluations = []
    for inst, pub, committed in zip(instances, public, values):
        prefix = point[: inst.shape(backend).num_vars]
        evaluations.append([
            Evaluation(prefix, Opened(committed[j].value, committed[j].blind) if j in committed else pub[j].at(prefix))
            for j in range(inst.shape(backend).num_tables)
        ])
    return proof, finish_reductions(reductions, evaluations)
