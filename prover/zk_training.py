"""The zero-knowledge mode of the training proof, prover side (specification:
``verifier/zk_training.py``).

Where the clear channel writes a field element, this channel writes a Pedersen commitment with
fresh blinding and keeps its opening (``prover.values.Opened``) as the walk's value; equalities
become proofs of equality, phases ZK sumchecks, openings blinded inner-product arguments.
Blinding comes from ``rng``: the OS RNG unless a test passes a seeded one.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from circuits.mlp import Decomposition
from prover.backends.base import FieldBackend
from prover.commit import group, hyrax
from prover.gadgets import slot_values, to_field
from prover.nizk import equality
from prover.nizk.randomness import RandomSource, blinding
from prover.phase import prove_zk_phase
from prover.training import ProverChannel, Witness, prove_with
from prover.values import Opened, opened
from verifier.field import MODULUS as R
from verifier.hyrax import HyraxCommitment
from verifier.phase import Reduction
from verifier.training import TrainingStatement
from verifier.values import Value, is_public
from verifier.zk_training import OPENING_ARGUMENT


class ZkProverChannel(ProverChannel):
    """Writes commitments and Sigma-protocol proofs where the clear channel writes values."""

    mode = b"zk"

    def _send(self, label: bytes, values: Sequence[int]) -> list[Opened]:
        """Commit to each value with fresh blinding, write and absorb the commitments."""
        out = [Opened(v % R, b) for v, b in zip(values, blinding(self.rng, len(values)))]
        encoded = [group.to_bytes(o.commitment(self.gens)) for o in out]
        self._chunks.append(b"".join(encoded))
        self.transcript.absorb_points(label, encoded)
        return out

    def evaluation(self, tensor: str, point: Sequence[int]) -> Opened:
        value = self.backend.mle_evaluate(to_field(self.backend, self.witness[tensor]), list(point))
        (out,) = self._send(f"evaluation:{tensor}".encode(), [value])
        return out

    def slices(self, tensor: str, decomposition: Decomposition, point: Sequence[int]) -> list[Value]:
        start = time.perf_counter()
        values = slot_values(self.backend, self.witness[tensor], decomposition, point)
        n = decomposition.num_slots
        # The padding slots are not sent (the verifier takes them as 0); returning their true
        # values lets the walk's own check refuse a witness whose padding slots are not zero.
        out = self._send(b"slot-values", values[:n]) + values[n:]
        self.timings["messages"] += time.perf_counter() - start
        return out

    def values(self, label: bytes, keys: Sequence[str]) -> list[Opened]:
        return self._send(label, [self.derived[k] for k in keys])

    def equal(self, a: Value, b: Value) -> bool:
        if is_public(a) and is_public(b):
            return (a - b) % R == 0
        a, b = opened(a), opened(b)
        proof = equality.prove(
            self.gens, a.commitment(self.gens), b.commitment(self.gens), a.blind, b.blind, self.transcript, self.rng
        )
        self._chunks.append(proof.to_bytes())
        return a.value == b.value

    sumcheck_kind = "ZK sumcheck"

    def _prove_phase(self, label: bytes, reductions: Sequence[Reduction]):
        return prove_zk_phase(self.transcript, label, self.backend, self.gens, reductions, self._tables(), self.rng)

    def _open(self, tensor: str, point: Sequence[int], value: Value):
        return hyrax.open_zk(
            self.gens, self._hyrax[tensor], point, opened(value).blind, self.transcript, OPENING_ARGUMENT, self.rng
        )


def prove_training_zk(
    statement: TrainingStatement,
    witness: Witness,
    backend: FieldBackend,
    precommitted=None,
    rng: RandomSource | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, HyraxCommitment], bytes]:
    """A zero-knowledge proof of training: the public commitments and the proof bytes."""
    channel = prove_with(ZkProverChannel, statement, witness, backend, precommitted, rng, progress)
    return channel.public, channel.proof_bytes()
