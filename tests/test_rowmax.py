"""Row max by a committed one-hot (``circuits/rowmax.py``, ``verifier/rowmax.py``,
``prover/rowmax.py``): the semantics, completeness in both modes with both range gadgets on the
rows the reference asks for (all equal, max first, max last, all negative beside padded
classes), and one malicious one-hot per check, each rejected by the check meant for it
(nonlinear-gadgets.md sections 2 and 13).
"""

from __future__ import annotations

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, prove, rejected, verify

from circuits.rowmax import RowMax, row_max
from prover.backends import get_backend
from prover.rowmax import rowmax_witness
from verifier.field import MODULUS as R
from verifier.rowmax import ranged, verify_rowmax
from verifier.sumcheck import SumcheckProof

Z_BITS = 8
HALF = (R + 1) // 2
# 5 real classes of 8; padded logits are 0 (their weight rows are forced to zero).
LOGITS = np.array([
    [7, 7, 7, 7, 7, 0, 0, 0],  # all equal
    [50, -3, 10, 49, -128, 0, 0, 0],  # max first
    [-5, 3, 3, 2, 127, 0, 0, 0],  # max last (127 - (-128) would be the widest gap)
    [-9, -2, -100, -2, -50, 0, 0, 0],  # all negative, a tie: the padded 0 must not win
])
FULL = np.array([  # no padded class
    [3, -1, 4, -1, 5, -9, 2, -6],
    [-128, -128, -128, -128, -128, -128, -128, -128],
    [1, 2, 3, 4, 5, 6, 7, 8],
    [-7, -8, -9, -10, -11, -12, -13, -14],
])


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=["limbs", "bits"])
def range_kind(request):
    return request.param


def _rowmax(range_kind, classes=5):
    return RowMax("rm", 2, 3, classes, Z_BITS, None if range_kind == "bits" else 4)


def _gadget(c):
    return lambda walk: verify_rowmax(walk, c)


def _edited(c, edit=None, m=None, z=LOGITS):
    """The witness with the one-hot edited by ``edit(e)`` (an object array of field elements),
    m = sum_j e_ij z_ij (or ``m``), D = M (m - z) and its slots forged to recompose to it."""
    e, _, _ = row_max(z, c.classes)
    e = e.astype(object)
    if edit is not None:
        edit(e)
    if m is None:
        m = np.array([sum(int(a) * int(b) for a, b in zip(er, zr)) % R for er, zr in zip(e, z)], dtype=object)
        m = np.array([v - R if v > R // 2 else v for v in m], dtype=object)
    mask = (np.arange(z.shape[1]) < c.classes).astype(object)
    gap = mask * (m[:, None] - z.astype(object))
    return {c.logits: z, c.e: e, c.m: m, c.gap: forge(c.gap_slots(), gap)}


def _rejected(mode, c, witness, match, **hooks):
    kind = "bits" if c.limb_bits is None else "limbs"
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), kind, witness, match, **hooks)


# --- semantics ----------------------------------------------------------------------------------


def _reference(row, classes):
    real = [int(v) for v in row[:classes]]
    m = max(real)
    return real.index(m), m


def test_semantics():
    rows = np.concatenate([LOGITS, np.random.default_rng(1).integers(-128, 128, size=(60, 8))])
    rows[4:, 5:] = 0
    e, m, gap = row_max(rows, 5)
    for row, er, mr, gr in zip(rows, e, m, gap):
        a, top = _reference(row, 5)
        assert mr == top and er.tolist() == [int(j == a) for j in range(8)]  # first index on ties
        assert gr.tolist() == [top - int(v) for v in row[:5]] + [0, 0, 0] and gr.min() >= 0
    assert m[3] == -2 and e[3].tolist() == [0, 1, 0, 0, 0, 0, 0, 0]  # the padded 0 does not win
    assert (gap < 1 << Z_BITS).all()  # D has exactly z_bits unsigned bits: 127 - (-128) = 2^8 - 1
    assert row_max(np.array([[127, -128]]), 2)[2].max() == (1 << Z_BITS) - 1


def test_validation():
    with pytest.raises(ValueError, match="classes"):
        RowMax("rm", 2, 3, 9, Z_BITS)
    with pytest.raises(ValueError, match="classes"):
        RowMax("rm", 2, 3, 0, Z_BITS)
    with pytest.raises(ValueError, match="z_bits"):
        RowMax("rm", 2, 3, 5, 64)
    with pytest.raises(ValueError, match="classes"):
        row_max(LOGITS, 9)
    c = _rowmax("limbs")
    assert c.logits == "rm.z" and c.gap_slots().width == Z_BITS and not c.gap_slots().signed
    bad = LOGITS.copy()
    bad[0, 6] = 1
    with pytest.raises(ValueError, match="padded class"):
        rowmax_witness(c, bad)
    bad = LOGITS.copy()
    bad[0, 0] = 128
    with pytest.raises(ValueError, match="outside 8 signed bits"):
        rowmax_witness(c, bad)
    with pytest.raises(ValueError, match="shape"):
        rowmax_witness(c, LOGITS[:2])


# --- completeness -------------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [5, 8])
def test_completeness(backend, mode, range_kind, classes):
    c = _rowmax(range_kind, classes)
    witness = rowmax_witness(c, LOGITS if classes == 5 else FULL)
    proof, prover_claims, truth = prove(mode, backend, _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    checks_on_e = 3 if classes == 5 else 2  # booleanity, padding (with padded classes only), row sum
    # then the max's claims on e and z, and (d)'s claim on z at the gap's point
    assert [x.tensor for x in claims[: checks_on_e + 3]] == ["rm.e"] * checks_on_e + ["rm.e", "rm.z", "rm.z"]


def test_zk_layout_depends_on_the_gadget_only():
    """Two witnesses of one gadget give ZK proofs of the same length (DESIGN section 9)."""
    c = _rowmax("limbs")
    other = LOGITS.copy()
    other[:, :5] = -other[:, :5] // 2
    lengths = {len(prove("zk", get_backend("reference"), _gadget(c), ranged(c), "limbs", rowmax_witness(c, z))[0])
               for z in (LOGITS, other)}
    assert len(lengths) == 1


def test_completeness_16_bit_limbs():
    c = RowMax("rm", 2, 3, 5, 16)
    assert accepts("clear", get_backend("cpu"), _gadget(c), ranged(c), "limbs", rowmax_witness(c, LOGITS * 200))


# --- soundness: each attack and the one check that catches it ------------------------------------


def test_zero_row(mode, range_kind):
    """An all-zero row of e makes m = 0, above every logit of an all-negative row (D = -z >= 0
    fits): only the row sum catches it."""

    def edit(e):
        e[3] = 0

    c = _rowmax(range_kind)
    _rejected(mode, c, _edited(c, edit), "^rowmax:rm:row-sum: ")


def test_two_ones(mode, range_kind):
    """Two ones make m = z_a + z_b = 99 above the max 50 (D fits): only the row sum catches it."""

    def edit(e):
        e[1, 3] = 1

    c = _rowmax(range_kind)
    witness = _edited(c, edit)
    assert witness[c.m][1] == 99
    _rejected(mode, c, witness, "^rowmax:rm:row-sum: ")


def test_halves(mode, range_kind):
    """(1/2, 1/2) on the two tied maxima of row 3: the row sum is 1 and m the true max, every
    gap in range; only booleanity refuses e."""

    def edit(e):
        e[3, 1] = e[3, 3] = HALF

    c = _rowmax(range_kind)
    witness = _edited(c, edit)
    assert witness[c.m][3] == -2
    _rejected(mode, c, witness, "^rowmax:rm:booleanity: ")


def test_two_minus_one(mode, range_kind):
    """e = (2, .., -1, ..): row sum 1, m = 2 z_a - z_b = 51 above the max 50, every gap >= 0:
    a shift that is not the max, which only booleanity refuses."""

    def edit(e):
        e[1, 0], e[1, 3] = 2, -1

    c = _rowmax(range_kind)
    witness = _edited(c, edit)
    assert witness[c.m][1] == 51
    _rejected(mode, c, witness, "^rowmax:rm:booleanity: ")


def test_one_at_a_non_max_position(mode, range_kind):
    """e picks 49 in a row whose max is 50: the gap m - z_max = -1 is negative, and only the
    range check of D (nonnegativity) catches it."""

    def edit(e):
        e[1, 0], e[1, 3] = 0, 1

    c = _rowmax(range_kind)
    _rejected(mode, c, _edited(c, edit), "^range of rm.D.slots: ")


def test_padded_class_wins(mode, range_kind):
    """The padded class 6 (logit 0) wins the all-negative row 3: m = 0, every real gap
    -z >= 0, the padded gaps masked to 0. Only the forced padding of e catches it."""

    def edit(e):
        e[3] = 0
        e[3, 6] = 1

    c = _rowmax(range_kind)
    _rejected(mode, c, _edited(c, edit), "^rowmax:rm:padding: ")


def test_shift_above_the_max(mode, range_kind):
    """An honest one-hot, but the prover's m is the max + 1 (every gap >= 1, in range): the
    max's sumcheck against the sent m~(rho) catches it."""
    c = _rowmax(range_kind)
    _, m, _ = row_max(LOGITS, c.classes)
    m = m.astype(object)
    m[2] += 1
    _rejected(mode, c, _edited(c, m=m), "^rowmax:rm:max: ")


def test_gap_is_tied_to_the_logits(mode):
    """D one larger somewhere (still in range): the claim (d) hands the caller, z~ = M~ m~ - D~
    at the gap's point, is then false, which the caller's check of z refuses."""
    c = _rowmax("limbs")
    witness = rowmax_witness(c, LOGITS)
    assert accepts(mode, get_backend("reference"), _gadget(c), ranged(c), "limbs", witness)
    gap = c.gap_slots().compose(witness[c.gap])
    gap[1, 2] += 1
    witness[c.gap] = c.gap_slots().decompose(gap)
    assert not accepts(mode, get_backend("reference"), _gadget(c), ranged(c), "limbs", witness)


@pytest.mark.parametrize("what", ["row-sum", "max"])
def test_row_eq_is_the_verifiers(what):
    """The prover scales the eq table's final evaluation by 2 and e's by 1/2 (the product, and
    so the sumcheck's final check, unchanged): only the check of the public eq sees it."""
    c = _rowmax("limbs")

    def tamper(label, proof):
        if label != f"rowmax:rm:{what}".encode():
            return proof
        ((eq, e, *rest),) = proof.final_evals
        return SumcheckProof(proof.rounds, ((eq * 2 % R, e * pow(2, -1, R) % R, *rest),))

    _rejected("clear", c, rowmax_witness(c, LOGITS), f"rm: {what} eq: the prover's evaluation", tamper=tamper)
