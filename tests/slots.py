"""The slot relation checked outside a walk, for the gadget tests (``tests/test_gadgets.py``,
``tests/test_logup.py``): what ``verifier.training.TrainingWalk.slice_value`` checks of the slot
values v_i = B~(i, u) a prover sends for a claim V~(u) on a range-decomposed value, before it
folds them into one claim on the slots tensor (``verifier.gadgets.fold_slices``)."""

from __future__ import annotations

from typing import Sequence

from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.gadgets import fold_slices
from verifier.transcript import Transcript


def slices_defect(decomposition, claim_value: int, slices: Sequence[int]) -> str | None:
    """Why the slot values fail to support V~(u) = claim_value, or None: they must recompose,
    offset + sum_i c_i v_i = V~(u) (sum_x eq(u, x) = 1), and vanish on the padding slots."""
    weights = decomposition.weights()
    if len(slices) != decomposition.padded_width or any(not 0 <= v < R for v in slices):
        return "malformed slot values"
    if (decomposition.offset + sum(c * v for c, v in zip(weights, slices)) - claim_value) % R:
        return "slots do not recompose to the claimed value"
    if any(v for c, v in zip(weights, slices) if c == 0):
        return "a padding slot is not zero"
    return None


def reduce_slices(transcript: Transcript, tensor: str, decomposition, claim_value: int, u: Sequence[int],
                  slices: Sequence[int]):
    """The claim V~(u) as one claim on the slots tensor (the slot index innermost)."""
    defect = slices_defect(decomposition, claim_value, slices)
    if defect:
        raise VerifyError(f"{tensor}: {defect}")
    transcript.absorb_scalars(b"slot-values", slices)
    return fold_slices(transcript, tensor, decomposition, u, slices)
