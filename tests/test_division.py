"""Exact division with rounding (``circuits/division.py``, ``verifier/division.py``,
``prover/division.py``): the semantics against a big-integer reference, completeness in both
modes with both range gadgets, and one malicious witness per check, each rejected by the check
meant for it (nonlinear-gadgets.md sections 1 and 13).

In the witness-divisor form 2qd + r' = 2sn + d (r' = 2r + (d mod 2)), the attacks of the
reference's form q d + r = n s + floor(d/2) read: (q - 1, r + d) is (q - 1, r' + 2d), (q + 1,
r - d) is (q + 1, r' - 2d), r = d is r' = 2d.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, prove, rejected, verify

from circuits.division import Division, divide, round_div
from circuits.semantics import MAX_RELATION_BITS
from prover.backends import get_backend
from prover.division import division_witness
from verifier.division import ranged, verify_division
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.sumcheck import SumcheckProof

N_BITS, D_BITS, SHIFT = 11, 6, 2
DIVISORS = np.array([1, 3, 8, 64])
# Rows by divisor: extremes at d = 1; ties at d = 8 (n s / d = +-0.5, +-1.5); d = 64 the widest.
NUMERATORS = np.array([
    [-1024, 1023, 0, 7],
    [5, -5, 1, -1],
    [1, -1, 3, -3],
    [1000, -1000, 16, 0],
])
RANGES = ["limbs", "bits"]


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=RANGES)
def range_kind(request):
    return request.param


@pytest.fixture(scope="module")
def ref():
    return get_backend("reference")


def _division(range_kind, public=False, **kw):
    divisor = tuple(int(d) for d in DIVISORS) if public else None
    limb_bits = None if range_kind == "bits" else 4  # 4-bit limbs: several limbs, tiny tables
    return Division("div", 2, 2, N_BITS, D_BITS, SHIFT, divisor=divisor, limb_bits=limb_bits, **kw)


def _gadget(c):
    return lambda walk: verify_division(walk, c)


def _edited(c, edit, honest=(), n=NUMERATORS, d=DIVISORS):
    """The witness whose values q, r', d (object arrays) ``edit(q, r, d)`` changed, every slots
    tensor forged to recompose to them, except those named in ``honest`` (of "q", "r", "u",
    "d"), decomposed from the honest values."""
    q0, r0 = divide(n, np.asarray(d)[:, None], c.shift)
    q, r, dd = q0.astype(object), r0.astype(object), np.array(d, dtype=object)
    edit(q, r, dd)
    values = {"q": q, "r": r, "u": 2 * dd[:, None] - 1 - r, "d": dd}
    truths = {"q": q0, "r": r0, "u": 2 * np.asarray(d)[:, None] - 1 - r0, "d": np.asarray(d)}
    decompositions = {"q": c.q_slots(), "r": c.r_slots(), "u": c.u_slots(), "d": c.d_slots()}
    w = {c.numerator: n, c.q: q, c.r: r}
    if c.committed_divisor:
        w[c.d] = dd
    for k in ("q", "r", "u", "d") if c.committed_divisor else ("q", "r", "u"):
        w[c.slots(k)] = forge(decompositions[k], truths[k] if k in honest else values[k])
    return w


def _rejected(mode, c, witness, match, **hooks):
    kind = "bits" if c.limb_bits is None else "limbs"
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), kind, witness, match, **hooks)


# --- semantics ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [0, 5])
def test_semantics_exhaustive(shift):
    """n in [-2^10, 2^10] x d in [1, 64] against Fraction: q = floor(n s / d + 1/2) (round half
    up), and (q, r') satisfies 2qd + r' = 2sn + d with 0 <= r' < 2d."""
    n = np.arange(-(1 << 10), (1 << 10) + 1, dtype=np.int64)
    d = np.arange(1, 65, dtype=np.int64)
    q, r = divide(n[None, :], d[:, None], shift)
    for i, dv in enumerate(d.tolist()):
        for j, nv in enumerate(n.tolist()):
            expected = math.floor(Fraction(nv << shift, dv) + Fraction(1, 2))
            assert q[i, j] == expected == round_div(nv, dv, shift), (nv, dv)
    assert (2 * q * d[:, None] + r == 2 * (n[None, :] << shift) + d[:, None]).all()
    assert (r >= 0).all() and (r < 2 * d[:, None]).all()


def test_ties_round_half_up():
    assert [round_div(n, 2, 0) for n in (-5, -3, -1, 1, 3, 5)] == [-2, -1, 0, 1, 2, 3]  # -2.5 -> -2
    assert round_div(-5, 4, 1) == -2 and round_div(3, 8, 2) == 2  # -2.5 -> -2, 1.5 -> 2
    with pytest.raises(ValueError, match="divisor"):
        round_div(1, 0, 0)
    with pytest.raises(ValueError, match="divisor"):
        divide(np.array([1]), np.array([0]), 0)


def test_widths_and_bit_accounting():
    c = Division("div", 2, 2, N_BITS, D_BITS, SHIFT)
    assert c.q_bits == N_BITS + SHIFT and c.numerator == "div.n"
    q, _ = divide(np.array([-(1 << (N_BITS - 1)), (1 << (N_BITS - 1)) - 1]), np.array([1]), SHIFT)
    assert q.tolist() == [c.q_slots().min_value, c.q_slots().max_value - (1 << SHIFT) + 1]  # w_q is exact
    assert (c.r_slots().width, c.u_slots().width, c.d_slots().width) == (D_BITS + 1, D_BITS + 1, D_BITS)
    assert (c.d_slots().min_value, c.d_slots().max_value) == (1, 1 << D_BITS)
    widest = Division("w", 0, 0, 61 - 20, 61, 20, q_bits=63)
    assert widest.bound_bits() == 125 < MAX_RELATION_BITS  # every relation lifts to the integers
    base = {"n_bits": N_BITS, "d_bits": D_BITS, "shift": SHIFT}
    for bad in ({"n_bits": 0}, {"shift": -1}, {"n_bits": 50, "shift": 12}, {"d_bits": 62}, {"q_bits": 64},
                {"divisor": (1, 2)}, {"divisor": (1, 2, 0, 4)}, {"divisor": (1, 2, 65, 4)}):
        with pytest.raises(ValueError):
            Division("div", 2, 2, **{**base, **bad})


def test_witness_refuses_what_does_not_fit():
    c = _division("limbs")
    with pytest.raises(ValueError, match="numerator lies outside"):
        division_witness(c, NUMERATORS * 2, DIVISORS)
    with pytest.raises(ValueError, match="divisors must be given"):
        division_witness(c, NUMERATORS)
    with pytest.raises(ValueError, match="quotient"):  # a declared w_q too small is a hard error
        division_witness(_division("limbs", q_bits=8), NUMERATORS, DIVISORS)
    with pytest.raises(ValueError, match="divisor"):
        division_witness(c, NUMERATORS, np.array([1, 3, 8, 65]))


# --- completeness -------------------------------------------------------------------------------


@pytest.mark.parametrize("public", [False, True], ids=["committed-d", "public-d"])
def test_completeness(backend, mode, range_kind, public):
    c = _division(range_kind, public)
    witness = division_witness(c, NUMERATORS, None if public else DIVISORS)
    assert witness[c.q].tolist() == [[round_div(int(n), int(d), SHIFT) for n in row]
                                     for row, d in zip(NUMERATORS, DIVISORS)]
    proof, prover_claims, truth = prove(mode, backend, _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    handed_back = [c.numerator] + ([c.d] if not public else [])
    assert [x.tensor for x in claims[: len(handed_back)]] == handed_back


def test_zk_layout_depends_on_the_gadget_only():
    """Two witnesses of one gadget give ZK proofs of the same length (DESIGN section 9)."""
    c = _division("limbs")
    lengths = {len(prove("zk", get_backend("reference"), _gadget(c), ranged(c), "limbs",
                         division_witness(c, n, d))[0])
               for n, d in ((NUMERATORS, DIVISORS), (-NUMERATORS // 3, np.array([64, 1, 2, 5])))}
    assert len(lengths) == 1


def test_completeness_16_bit_limbs():
    c = Division("div", 2, 2, N_BITS, D_BITS, SHIFT)
    witness = division_witness(c, NUMERATORS, DIVISORS)
    assert accepts("clear", get_backend("cpu"), _gadget(c), ranged(c), "limbs", witness)


# --- soundness: each attack and the one check that catches it ------------------------------------


def test_quotient_down_remainder_up(mode, range_kind):
    """(q - 1, r' + 2d) at d = 3: the identity holds, r' + 2d < 2^7 still fits, u = 2d - 1 - r'
    turns negative: RC(2d - 1 - r') catches it."""
    c = _division(range_kind)

    def edit(q, r, d):
        q[1, 0] -= 1
        r[1, 0] += 2 * d[1]

    _rejected(mode, c, _edited(c, edit), "^range of div.u.slots: ")


def test_quotient_up_remainder_down(mode, range_kind):
    """(q + 1, r' - 2d) at d = 3: r' turns negative, u < 4d still fits: RC(r') catches it."""
    c = _division(range_kind)

    def edit(q, r, d):
        q[1, 1] += 1
        r[1, 1] -= 2 * d[1]

    _rejected(mode, c, _edited(c, edit), "^range of div.r.slots: ")


def test_remainder_equal_to_divisor(range_kind):
    """r = d (r' = 2d) at the tie n s / d = 0.5: q = 0 instead of 1 satisfies the identity. A
    check RC(2d - r') (r <= d, rule 0.1) would pass it; RC(2d - 1 - r') does not."""
    c = _division(range_kind)
    assert divide(NUMERATORS[2, 0], DIVISORS[2], SHIFT) == (1, 0)

    def edit(q, r, d):
        q[2, 0], r[2, 0] = 0, 2 * d[2]

    witness = _edited(c, edit)
    assert 2 * DIVISORS[2] - witness[c.r][2, 0] == 0  # RC(2d - r') would accept
    _rejected("clear", c, witness, "^range of div.u.slots: ")


def test_remainder_minus_one(mode, range_kind):
    """r' = -1 at d = 1 (q + 1): RC(r') catches the element p - 1."""
    c = _division(range_kind)

    def edit(q, r, d):
        assert r[0, 3] == 1
        q[0, 3] += 1
        r[0, 3] = -1

    _rejected(mode, c, _edited(c, edit), "^range of div.r.slots: ")


def test_zero_divisor(mode, range_kind):
    """d = 0 on a row of zero numerators: the identity reads r' = 0 with q free. RC(d - 1)
    catches it (and RC(2d - 1 - r') would too: 0 <= r' < 2d is empty for d = 0)."""
    c = _division(range_kind)
    n = NUMERATORS.copy()
    n[1] = 0

    def edit(q, r, d):
        d[1] = 0
        q[1] = [5, -7, 0, 1]  # anything
        r[1] = 0

    _rejected(mode, c, _edited(c, edit, n=n), "^range of div.d.slots: ")


def test_divisor_past_its_width(range_kind):
    """d = 2^6 + 1: a correct division (n = 0, q = 0, r' = d, u = d - 1, both within 7 bits)
    by a divisor beyond its declared width, whose bound the integer lift needs: only RC(d - 1)
    catches it."""
    c = _division(range_kind)
    n, d = NUMERATORS.copy(), DIVISORS.copy()
    n[3], d[3] = 0, 65
    witness = _edited(c, lambda q, r, dd: None, n=n, d=d)
    assert witness[c.r][3, 0] == 65 <= c.r_slots().max_value
    _rejected("clear", c, witness, "^range of div.d.slots: ")


def _fraction(c, wrong):
    """At n = 5, d = 3 (q = 7, r' = 1): a wrong r' in [0, 2d) and q = (2sn + d - r') (2d)^(-1)
    mod r, which satisfies the identity in the field (rule 0.3)."""

    def edit(q, r, d):
        assert (q[1, 0], r[1, 0]) == (7, 1)
        r[1, 0] = wrong
        q[1, 0] = (2 * 5 * (1 << SHIFT) + 3 - wrong) * pow(6, -1, R) % R

    return _edited(c, edit)


@pytest.mark.parametrize("wrong", [0, 2, 3, 4, 5])
def test_fraction_quotient(range_kind, wrong):
    """Only RC(q + 2^(w_q - 1)) stands between the fraction and acceptance: a verifier without
    it accepts (every claim true), the gadget rejects at q's range check."""
    c = _division(range_kind)
    witness = _fraction(c, wrong)
    assert accepts("clear", get_backend("reference"), _gadget(c), ranged(c), range_kind, witness, skip={c.slots("q")})
    _rejected("clear", c, witness, "^range of div.q.slots: ")


def test_fraction_quotient_zk(range_kind):
    c = _division(range_kind)
    _rejected("zk", c, _fraction(c, 4), "^range of div.q.slots: ")


def test_quotient_off_by_one_alone(mode):
    """q + 1 with r' kept: every value in range, the identity fails (its zero-check)."""
    c = _division("limbs")

    def edit(q, r, d):
        q[3, 0] += 1

    _rejected(mode, c, _edited(c, edit), "^division:div: ")


# --- soundness: the ties between the identity's values and the committed slots --------------------


@pytest.mark.parametrize("value", ["q", "r", "u", "d"])
def test_slots_tied_to_the_identity(mode, value):
    """The identity's tables hold a cheat the range checks would refuse, the slots tensor holds
    the honest (in-range) value: the slot values at the zero-check's point do not recompose."""
    c = _division("limbs")
    n = NUMERATORS.copy()
    if value == "d":  # divide a zero row by d + 1 (r' = d + 1, u = d: in range); slots say d
        n[1] = 0

        def edit(q, r, d):
            d[1] += 1
            r[1] = d[1]
    elif value == "u":  # (q - 1, r' + 2d), u kept in range
        def edit(q, r, d):
            q[1, 0] -= 1
            r[1, 0] += 2 * d[1]
    else:  # (q + 1, r' - 2d) with the slots of q (or of r') honest
        def edit(q, r, d):
            q[1, 1] += 1
            r[1, 1] -= 2 * d[1]

    honest = {value} if value != "r" else {"r", "u"}
    _rejected(mode, c, _edited(c, edit, honest, n=n), f"^div.{value}.slots: slots do not recompose")


# --- soundness: the public tables ------------------------------------------------------------------


def test_public_divisors_are_the_verifiers(mode):
    """A prover dividing by other public divisors (here 2 in place of 3, a correct division by
    2): in the clear mode the verifier's evaluation of the divisors' table refuses the prover's;
    in the ZK mode the table enters as the verifier's own value and the sumcheck fails."""
    c = _division("limbs", public=True)
    d = DIVISORS.copy()
    d[1] = 2
    cheat = Division("div", 2, 2, N_BITS, D_BITS, SHIFT, divisor=tuple(int(v) for v in d), limb_bits=4)
    witness = division_witness(cheat, NUMERATORS)
    assert ranged(cheat) == ranged(c)
    proof, _, _ = prove(mode, get_backend("reference"), _gadget(cheat), ranged(c), "limbs", witness)
    match = "div: public divisors: the prover's evaluation" if mode == "clear" else "^division:div: "
    with pytest.raises(VerifyError, match=match):
        verify(mode, _gadget(c), ranged(c), "limbs", proof)


def test_identity_eq_is_the_verifiers():
    """The prover scales the eq table's final evaluation by 2 and D, R', N by 1/2 (every term
    has one eq factor, so the sumcheck's final check still holds): only the eq check sees it."""
    c = _division("limbs")

    def tamper(label, proof):
        if label != b"division:div":
            return proof
        (finals,) = proof.final_evals
        half = pow(2, -1, R)
        eq, d, q, r, n = finals
        return SumcheckProof(proof.rounds, ((eq * 2 % R, d * half % R, q, r * half % R, n * half % R),))

    witness = division_witness(c, NUMERATORS, DIVISORS)
    _rejected("clear", c, witness, "div: identity eq: the prover's evaluation", tamper=tamper)
