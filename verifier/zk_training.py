"""The zero-knowledge mode of the training proof, verifier side (DESIGN sections 3 and 9).

The walk is ``verifier.training.TrainingWalk`` unchanged; only the messages change. Where the
clear mode sends a field element, the zero-knowledge mode sends a Pedersen commitment to it
(Hyrax, Wahby et al. S&P 2018) and the walk computes on commitments (``verifier/values.py``):

* evaluations of W_T, b_T and the stacked bias, the slot values v_i = L~(i, u) for the real
  slots i < num_slots, and the limb gadget's roots are 48-byte commitments. The padding slots
  are not sent: they are the public constant 0, so the claim folded from the slot values,
  L~(rho, u) = sum_i eq(rho, i) v_i, asserts them to be zero, and the opening of L checks it;
* each equality the walk requires between two committed values (bits recomposing to a
  claimed value, the output gradient Y_hat - Y) is a proof of equality
  (``nizk.equality``: knowledge of the blinding of the difference);
* every phase is a batched ZK sumcheck (``verifier/zk_sumcheck.py``) over the same
  reductions: the public tables (eq, combined eq, step weights kappa, padding predicate)
  enter as the verifier's own values, products of committed values get proofs of product;
* the ledger's claims on one committed tensor are reduced to one point inside the batched
  ledger phase (the multipoint reduction as a gadget, all tensors in one sumcheck), and each
  tensor is opened by a Hyrax ZK opening: the log-size blinded inner-product argument
  (``nizk.ipa``) against the claim's value commitment.

Which values are committed and which are public depends on the walk alone, so the proof's
layout and length depend on the recipe only.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from circuits.mlp import Decomposition

from .claims import Claim
from .errors import VerifyError
from .field import MODULUS as R
from .hyrax import HyraxCommitment, verify_zk_opening
from .nizk import equality
from .nizk.batch import Equations
from .nizk.equality import EqualityProof
from .nizk.ipa import InnerProductProof
from .phase import Reduction, claim_commitment, read_zk_proof, verify_zk_phase
from .training import TrainingStatement, VerifierChannel, verify_with
from .values import Committed, Value, is_public

T = TypeVar("T")

#: The proof of dot product closing every ZK opening (DESIGN section 9: the blinded IPA).
OPENING_ARGUMENT = "log"


class ZkVerifierChannel(VerifierChannel):
    """Reads commitments and Sigma-protocol proofs where the clear channel reads values."""

    mode = b"zk"

    def __init__(self, statement, public, proof: bytes, gens, defer: bool = False):
        super().__init__(statement, public, proof, gens)
        #: The group equations of the phases and openings (deferred to ``finish`` if ``defer``).
        self.equations = Equations(gens.curve, defer)

    def _committed(self, encoded: bytes) -> Committed:
        return Committed(self.gens.curve.decode(encoded), self.gens)

    def evaluation(self, tensor: str, point: Sequence[int]) -> Committed:
        encoded = self.reader.point()
        self.transcript.absorb_point(f"evaluation:{tensor}".encode(), encoded)
        return self._committed(encoded)

    def slices(self, tensor: str, decomposition: Decomposition, point: Sequence[int]) -> list[Value]:
        encoded = self.reader.points(decomposition.num_slots)
        self.transcript.absorb_points(b"slot-values", encoded)
        padding = [0] * (decomposition.padded_width - decomposition.num_slots)
        return [self._committed(e) for e in encoded] + padding

    def values(self, label: bytes, keys: Sequence[str]) -> list[Committed]:
        encoded = self.reader.points(len(keys))
        self.transcript.absorb_points(label, encoded)
        return [self._committed(e) for e in encoded]

    def equal(self, a: Value, b: Value) -> bool:
        if is_public(a) and is_public(b):
            return (a - b) % R == 0
        proof = EqualityProof(self.reader.point(), self.reader.scalar())
        try:
            equality.verify(
                self.gens, claim_commitment(self.gens, a), claim_commitment(self.gens, b), proof, self.transcript
            )
        except VerifyError:
            return False
        return True

    def phase(self, label: bytes, reductions: Sequence[Reduction]) -> list[Claim]:
        if not any(red.shapes for red in reductions):
            return []
        proof = read_zk_proof(self.reader, reductions)
        return verify_zk_phase(self.gens, self.transcript, label, reductions, proof, self.equations)

    def open(self, tensor: str, point: Sequence[int], value: Value) -> None:
        layout = self._layout(tensor)
        size = InnerProductProof.size(layout.num_cols)
        # Reader has no public slicing method; the bundle parser takes chunks the same way.
        proof = InnerProductProof.from_bytes(self.reader.take(size), layout.num_cols)
        rows = self._rows[tensor].decode(self.gens, layout)
        verify_zk_opening(
            self.gens, rows, layout, point, claim_commitment(self.gens, value), proof, self.transcript, self.equations
        )

    def finish(self) -> None:
        """After the walk: the deferred group equations (the first false one's rejection), then
        the clear channel's end (no byte left over)."""
        self.equations.check()
        super().finish()


def verify_training_zk(
    statement: TrainingStatement, public: dict[str, HyraxCommitment], proof: bytes, curve: str = "blst"
) -> int:
    """Accept (return the proof's challenge degree sum, ``verifier.training.verify_with``) or
    reject (raise VerifyError with the reason) a ZK training proof. The group equations are
    checked in one batch (module docstring); the rejection is the per-equation verifier's."""
    return with_deferred_equations(lambda channel_type: verify_with(channel_type, statement, public, proof, curve))


def with_deferred_equations(verify: Callable[[Callable[..., ZkVerifierChannel]], T]) -> T:
    """``verify(channel_type)`` over ZK channels that defer their group equations to one batch
    (``verifier/nizk/batch.py``), checked at each channel's ``finish``. On any rejection the
    per-equation verifier's is raised: it would have stopped at a false equation recorded
    before this refusal, so that one's rejection if there is one, else this refusal."""
    channels: list[ZkVerifierChannel] = []

    def deferred(*args) -> ZkVerifierChannel:
        channels.append(ZkVerifierChannel(*args, defer=True))
        return channels[-1]

    try:
        return verify(deferred)
    except Exception:
        for channel in channels:
            channel.equations.check()
        raise
