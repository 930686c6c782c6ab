"""What every walk of claim reductions shares: the training walk (``verifier.training``) and
the inference walk (``verifier.inference``) are both a :class:`Walk` over a channel.

A walk holds a statement (its circuit, its public and witness tensors), a channel (the
verifier's reads and checks the prover's messages, the prover's computes and writes them:
``verifier.training.Channel``) and a claims ledger (DESIGN section 9). This base supplies the
pieces both walks use in the same way:

* ``_require`` / ``require_equal``: every check of a walk outside the sumchecks and openings;
* ``slice_value``: a claim on a range-checked value becomes slot values, their recomposition
  and one folded claim on the committed slots tensor;
* ``masked``: the zkReLU relation V = (1 - S) X as a masked Hadamard reduction;
* ``relu_operands``: the claims that reduction leaves on the ReLU indicator S and on Z'
  become claims on Z's committed slots (S is Z' - 1's sign slot);
* ``_ledger_and_openings``: every claim on a committed tensor reduced to one point and opened.

A statement the base serves (:class:`CommittedTensors`) names its public and witness tensors
and their variable counts; ``min_proof_bytes`` follows from those alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from .claims import Claim, ClaimLedger
from .curve import POINT_BYTES
from .errors import VerifyError
from .gadgets import fold_slices, masked_hadamard_reduction, multipoint_reduction, slot_point
from .hyrax import HyraxLayout, HyraxOpening
from .nizk.ipa import InnerProductProof
from .phase import Reduction, Table
from .values import Value, linear_combination


class CommittedTensors(ABC):
    """Base of a walk's statement: its committed tensors are ``public_tensors()`` (published
    before the proof) then ``witness_tensors()`` (committed in the proof body), each of
    ``tensor_vars(name)`` variables in a square Hyrax layout."""

    @abstractmethod
    def public_tensors(self) -> list[str]: ...

    @abstractmethod
    def witness_tensors(self) -> list[str]: ...

    @abstractmethod
    def tensor_vars(self, name: str) -> int: ...

    def committed_tensors(self) -> list[str]:
        return self.public_tensors() + self.witness_tensors()

    def min_proof_bytes(self, zk: bool) -> int:
        """A lower bound on the proof body's length, from the statement alone: the row
        commitments of the witness tensors, which open the body, and one opening per committed
        tensor (the walk's last phase opens each exactly once). Bundle parsers check it
        before any work the statement sizes (issue 12: bounded work before allocation)."""
        layouts = {name: HyraxLayout.square(self.tensor_vars(name)) for name in self.committed_tensors()}
        rows = sum(layouts[name].num_rows for name in self.witness_tensors())
        if zk:
            openings = sum(InnerProductProof.size(layout.num_cols) for layout in layouts.values())
        else:
            openings = sum(HyraxOpening.size(layout) for layout in layouts.values())
        return POINT_BYTES * rows + openings


class Walk:
    """A walk of claim reductions over a channel (see the module docstring)."""

    def __init__(self, statement, channel):
        self.st = statement
        self.c = statement.circuit
        self.ch = channel
        self.t = channel.transcript
        self.ledger = ClaimLedger()

    def _require(self, ok: bool, reason: str) -> None:
        """Every check of the walk outside the sumchecks and openings goes through here."""
        if not ok:
            raise VerifyError(reason)

    def require_equal(self, a: Value, b: Value, reason: str) -> None:
        self._require(self.ch.equal(a, b), reason)

    def slice_value(self, tensor, decomposition, u, claimed=None) -> Value:
        """Read slot values at u; derive V~(u) = offset + sum_i c_i v_i (or check it against
        ``claimed``); require the padding slots i >= num_slots to be zero; ledger the folded
        claim on the slots tensor (limbs or bits, ``circuits/limbs.py``, ``circuits/bits.py``)."""
        slices = self.ch.slices(tensor, decomposition, u)
        if len(slices) != decomposition.padded_width:
            raise VerifyError(f"{tensor}: wrong number of slot values")
        recomposed = linear_combination(decomposition.weights(), slices, decomposition.offset)
        if claimed is None:
            claimed = recomposed
        else:
            self.require_equal(recomposed, claimed, f"{tensor}: slots do not recompose to the claimed value")
        for v in slices[decomposition.num_slots :]:
            self.require_equal(v, 0, f"{tensor}: a padding slot is not zero")
        self.ledger.add(fold_slices(self.t, tensor, decomposition, u, slices))
        return claimed

    def masked(self, name: str, claims: Sequence[Claim], num_vars: int, s_tensor: str, x_tensor: str) -> Reduction:
        """V = (1 - S) X over ``num_vars`` variables for the claims on V (zkReLU: V the
        activation A and X the pre-activation Z', or V the gradient G_Z and X its G'_A), folded
        by a challenge (``verifier.gadgets.masked_hadamard_reduction``); it ends in claims on
        S and X at one point."""
        rho = self.t.challenge_scalars(b"combine", len(claims))
        return masked_hadamard_reduction(
            name, claims, rho, num_vars, Table("flat", (s_tensor,)), Table("flat", (x_tensor,)),
            lambda p: (s_tensor, p), lambda p: (x_tensor, p),
        )

    def relu_operands(self, z: str, z_slots, s_tensor: str, zp_tensor: str) -> None:
        """The zkReLU's claims on S = [Z' <= 0] and Z' (virtual, layout [.., j]) become claims
        on Z's committed slots [.., j, slot] (``z``, of Z' - 1, ``circuits.mlp.MlpCircuit.z_slots``):
        a claim S~(p) = v is the claim on the sign slot at p, slots~(sign, p) = v; a claim
        Z'~(p) = v must be what the slot values at p recompose to (``slice_value``)."""
        sign = slot_point(z_slots, z_slots.sign_slot)
        for claim in self.ledger.take(s_tensor):
            self.ledger.add(Claim(z, sign + claim.point, claim.value))
        for claim in self.ledger.take(zp_tensor):
            self.slice_value(z, z_slots, claim.point, claim.value)

    def _ledger_and_openings(self) -> None:
        """Claims ledger (DESIGN section 9): every committed tensor has claims. A tensor with
        one claim is opened at it; the claims on each other tensor are reduced to one point
        by one batched sumcheck (``verifier.gadgets.multipoint_reduction``) and opened there.
        No claim is left over.

        Opening a lone claim directly is what the reduction would have ended in anyway (a
        Hyrax opening at a point drawn after the commitment), without its sumcheck over the
        whole tensor: for the final weights W_T, the largest tensor of a segment and always
        claimed once (by the update), that sumcheck was the ledger's biggest table."""
        reductions, lone = [], []
        self.t.domain_separate(b"ledger")
        for name in self.st.committed_tensors():
            claims = self.ledger.take(name)
            if not claims:
                raise VerifyError(f"no claim reaches committed tensor {name}")
            if len(claims) == 1:
                lone.append(claims[0])
                continue
            rho = self.t.challenge_scalars(b"combine", len(claims))
            reductions.append(multipoint_reduction(name, claims, rho))
        self.ledger.assert_consumed()  # every virtual claim was reduced before this point
        for claim in lone + self.ch.phase(b"phase-ledger", reductions):
            self.ch.open(claim.tensor, claim.point, claim.value)
