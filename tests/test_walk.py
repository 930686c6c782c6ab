"""The walk's own checks and the channels' verdicts, unit by unit (``verifier/walk.py``,
``verifier/training.py``, ``verifier/zk_training.py``): what the end-to-end proofs cannot reach
because the channels always hand the walk well-formed messages."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from circuits.limbs import LimbDecomposition
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.training import VerifierChannel
from verifier.transcript import Transcript
from verifier.walk import Walk
from verifier.zk_training import ZkVerifierChannel


class _ShortChannel:
    """A channel that returns one slot value too few (both real channels return the
    decomposition's padded width: the verifier's reads exactly that many)."""

    def __init__(self):
        self.transcript = Transcript(b"zktrain/test/walk")

    def slices(self, tensor, decomposition, point):
        return [0] * (decomposition.padded_width - 1)


def test_slot_values_of_another_count_are_refused():
    """The recomposition zips weights with values: one value short would recompose from fewer
    slots (a limb left out of the range argument). The walk refuses it by name."""
    walk = Walk(SimpleNamespace(circuit=None), _ShortChannel())
    with pytest.raises(VerifyError, match=r"^X\.limbs: wrong number of slot values$"):
        walk.slice_value("X.limbs", LimbDecomposition(32, signed=True), (1, 2))


@pytest.mark.parametrize("channel", [VerifierChannel, ZkVerifierChannel])
def test_public_values_are_compared_not_trusted(channel):
    """Two public values (a padding slot against 0, say) are compared in both modes; no proof
    is read for them, and unequal ones are unequal."""
    ch = channel.__new__(channel)
    ch.gens = pedersen_generators("blst")
    assert ch.equal(5, 5 + R) and not ch.equal(3, 4)  # equal as field elements
