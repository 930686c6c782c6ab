"""Integer square root and reciprocal square root (``circuits/sqrt.py``, ``verifier/sqrt.py``,
``prover/sqrt.py``): the semantics against big-integer references, the widths at their limits,
completeness in both modes with both range gadgets, and one malicious witness per check, each
rejected by the check meant for it (nonlinear-gadgets.md sections 0, 5 and 13).

isqrt: x = s^2 + e, RC(e), RC(u = 2s - e), s virtual. rsqrt: y = round_half_up(2^a / sqrt(V)),
V = x + eps, as t = y^2, lo = 4c^2 - (2y - 1)^2 V, hi = (2y + 1)^2 V - 4c^2 - 1, RC(y - 1),
RC(lo), RC(hi).
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, prove, rejected, verify

from circuits.semantics import MAX_RELATION_BITS
from circuits.sqrt import (
    MAX_WIDE_X_BITS,
    Rsqrt,
    Sqrt,
    WideBitDecomposition,
    WideLimbDecomposition,
    decomposition,
    isqrt_array,
    rsqrt_round,
)
from prover.backends import get_backend
from prover.sqrt import rsqrt_witness, sqrt_witness
from verifier import sqrt as vsqrt
from verifier.claims import Claim
from verifier.field import MODULUS as R
from verifier.sqrt import ranged, root_at, verify_rsqrt, verify_sqrt
from verifier.sumcheck import SumcheckProof

X_BITS, SHIFT, EPS = 10, 8, 1
# 0, 1, perfect squares and their neighbours, the widest 2^10 - 1 (s = 31, e = 2s: u = 0).
RADICANDS = np.array([0, 1, 2, 3, 4, 15, 16, 17, 99, 100, 1000, 1023, 500, 7, 8, 9])
I17, I99, I1 = 7, 8, 1  # positions: x = 17 (s = 4, e = 1), x = 99 (V = 100, y = 26), x = 1 (V = 2)
C4 = 4 << (2 * SHIFT)


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=["limbs", "bits"])
def range_kind(request):
    return request.param


def _limbs(range_kind):
    return None if range_kind == "bits" else 4  # 4-bit limbs: several limbs, tiny tables


def _sqrt(range_kind):
    return Sqrt("sq", 4, X_BITS, _limbs(range_kind))


def _rsqrt(range_kind, eps=EPS):
    return Rsqrt("rs", 4, X_BITS, SHIFT, eps=eps, limb_bits=_limbs(range_kind))


def _gadget(c):
    return (lambda walk: verify_sqrt(walk, c)) if isinstance(c, Sqrt) else (lambda walk: verify_rsqrt(walk, c))


def _rejected(mode, c, witness, match, **hooks):
    kind = "bits" if c.limb_bits is None else "limbs"
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), kind, witness, match, **hooks)


def _signed(v: int) -> int:
    v %= R
    return v - R if v > R // 2 else v


def fsqrt(a: int) -> int | None:
    """A square root of a in GF(r) (Tonelli-Shanks), None for a non-residue."""
    a %= R
    if a == 0:
        return 0
    if pow(a, (R - 1) // 2, R) != 1:
        return None
    q, s = R - 1, 0
    while q % 2 == 0:
        q, s = q // 2, s + 1
    z = next(z for z in range(2, 100) if pow(z, (R - 1) // 2, R) == R - 1)
    m, c, t, root = s, pow(z, q, R), pow(a, q, R), pow(a, (q + 1) // 2, R)
    while t != 1:
        i, t2 = 1, t * t % R
        while t2 != 1:
            t2, i = t2 * t2 % R, i + 1
        b = pow(c, 1 << (m - i - 1), R)
        m, c, t, root = i, b * b % R, t * b * b % R, root * b % R
    return root


# --- semantics ----------------------------------------------------------------------------------


def test_isqrt_exhaustive_and_wide():
    """floor(sqrt(x)) against math.isqrt for every x < 2^20 and at the int64 edges."""
    x = np.arange(1 << 20, dtype=np.int64)
    assert (isqrt_array(x) == np.array([math.isqrt(v) for v in range(1 << 20)])).all()
    rng = random.Random(16)
    k = (1 << 31) - 1
    wide = [0, 1, (1 << 62) - 1, k * k, k * k - 1, k * k + 1, (k - 1) ** 2 - 1]
    wide += [rng.randrange(1 << 62) for _ in range(2000)]
    assert isqrt_array(np.array(wide)).tolist() == [math.isqrt(v) for v in wide]
    with pytest.raises(ValueError, match="outside"):
        isqrt_array(np.array([1 << 62]))
    with pytest.raises(ValueError, match="outside"):
        isqrt_array(np.array([-1]))


def test_sqrt_relation_and_widths():
    """(S) holds with 0 <= e <= 2s and e, u within w_s + 1 bits for every x < 2^12."""
    c = Sqrt("sq", 12, 12)
    x = np.arange(1 << 12)
    s, e, u = c.witness_values(x)
    assert (s * s + e == x).all() and (e >= 0).all() and (u >= 0).all() and (u == 2 * s - e).all()
    assert max(e.max(), u.max()) == 2 * ((1 << 6) - 1) < 1 << (c.s_bits + 1)  # at x = 63^2 + 126
    assert (c.e_slots().width, c.u_slots().width, c.s_bits) == (7, 7, 6)
    assert Sqrt("sq", 0, 11).s_bits == 6


def test_rsqrt_semantics():
    """y = floor(2^a / sqrt(V) + 1/2) against Fraction bounds, V in [1, 2^12], several a."""
    for a in (1, 3, 6, 8):
        c = 1 << a
        for v in range(1, min(1 << 12, 4 * c * c) + 1):
            y = rsqrt_round(v, a)
            assert (2 * y - 1) ** 2 * v <= 4 * c * c < (2 * y + 1) ** 2 * v and y >= 1, (v, a)
            # y - 1/2 <= c / sqrt(V) < y + 1/2, checked on squares of rationals
            assert Fraction(2 * y - 1, 2) ** 2 * v <= c * c < Fraction(2 * y + 1, 2) ** 2 * v
    assert rsqrt_round(4 << 16, 8) == 1  # the one tie, c / sqrt(V) = 1/2, goes up
    assert rsqrt_round(1, 8) == 256 and rsqrt_round(256, 8) == 16 and rsqrt_round(100, 8) == 26
    with pytest.raises(ValueError, match="V must be >= 1"):
        rsqrt_round(0, 8)


def test_rsqrt_slack_widths_admit_every_honest_value():
    """Every x < 2^12 (eps 1 and 7): lo, hi fit w_sl, y - 1 fits a bits; the bound is tight
    at V = 4c^2 (hi = 2^(2a+5) - 1) for the widest admitted V."""
    for eps in (1, 7):
        c = Rsqrt("rs", 12, 12, 6, eps=eps)
        y, t, lo, hi = c.witness_values(np.arange(1 << 12))
        assert (t == y * y).all() and lo.min() >= 0 and hi.min() >= 0
        assert max(lo.max(), hi.max()) < 1 << c.slack_bits and 1 <= y.min() <= y.max() <= 1 << c.y_bits
    tight = Rsqrt("rs", 0, 14, 6, eps=1)  # V up to 2^14 = 4c^2
    assert tight.witness_values(np.array([(1 << 14) - 1]))[3].tolist() == [(1 << tight.slack_bits) - 1]


def test_widths_at_their_limits():
    """The widest declared widths are accepted, one bit more is refused, and every relation
    stays below 2^250."""
    assert Sqrt("sq", 0, 62).bound_bits() < MAX_RELATION_BITS
    assert Sqrt("sq", 0, MAX_WIDE_X_BITS).bound_bits() <= MAX_RELATION_BITS  # the wide mode's cap
    widest = Rsqrt("rs", 0, 60, 29, eps=1)  # V up to 2^60 = 4c^2, slack 63 bits
    assert widest.slack_bits == 63 and widest.bound_bits() < MAX_RELATION_BITS
    assert Rsqrt("rs", 0, 4, 57, eps=1).slack_bits == 63  # V up to 16: a + 4 + 2
    for bad, match in (({"x_bits": MAX_WIDE_X_BITS + 1}, "x_bits"), ({"x_bits": 0}, "x_bits")):
        with pytest.raises(ValueError, match=match):
            Sqrt("sq", 0, **bad)
    for bad, match in (
        ({"shift": 30}, "slack width 64"),  # one bit more of scale
        ({"x_bits": 61}, "too small"),  # one bit more of radicand: y would round to 0
        ({"eps": 2}, "too small"),  # V = 2^60 + 1
        ({"x_bits": 4, "shift": 58}, "slack width 64"),
        ({"shift": 0}, "shift"), ({"eps": -1}, "eps"), ({"x_bits": 63}, "x_bits"),
        ({"x_bits": 4, "shift": 3, "eps": (1 << 63) - 15}, "int64"),
    ):
        with pytest.raises(ValueError, match=match):
            Rsqrt("rs", 0, **{"x_bits": 60, "shift": 29, "eps": 1, **bad})


def test_witness_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="radicand lies outside"):
        sqrt_witness(_sqrt("limbs"), RADICANDS * 2)
    with pytest.raises(ValueError, match="radicand lies outside"):
        sqrt_witness(_sqrt("limbs"), RADICANDS - 1)
    with pytest.raises(ValueError, match="16 entries"):
        sqrt_witness(_sqrt("limbs"), RADICANDS[:8])
    with pytest.raises(ValueError, match="radicand lies outside"):
        rsqrt_witness(_rsqrt("limbs"), RADICANDS * 2)
    with pytest.raises(ValueError, match="V must be >= 1"):  # x = 0 with eps = 0
        rsqrt_witness(_rsqrt("limbs", eps=0), RADICANDS)


# --- completeness -------------------------------------------------------------------------------


def test_sqrt_completeness(backend, mode, range_kind):
    c = _sqrt(range_kind)
    witness = sqrt_witness(c, RADICANDS)
    assert witness[c.s].tolist() == [math.isqrt(int(v)) for v in RADICANDS]
    proof, prover_claims, truth = prove(mode, backend, _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert claims[0].tensor == c.radicand


def test_root_at(mode, range_kind):
    """A caller reads s at its own point from the slots of e and u: a true claim on s."""
    c = _sqrt(range_kind)

    def gadget(walk):
        claims = verify_sqrt(walk, c)
        p = tuple(walk.t.challenge_scalars(b"caller-point", c.num_vars))
        return claims + [Claim(c.s, p, root_at(walk, c, p))]

    witness = sqrt_witness(c, RADICANDS)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), gadget, ranged(c), range_kind, witness)
    claims = verify(mode, gadget, ranged(c), range_kind, proof)
    assert claims[1].tensor == c.s and claims_true(mode, prover_claims, claims, truth)


@pytest.mark.parametrize("eps", [1, 0])
def test_rsqrt_completeness(backend, mode, range_kind, eps):
    c = _rsqrt(range_kind, eps)
    x = np.maximum(RADICANDS, 1 - eps)  # V = x + eps >= 1
    witness = rsqrt_witness(c, x)
    assert witness[c.y].tolist() == [rsqrt_round(int(v) + eps, SHIFT) for v in x]
    proof, prover_claims, truth = prove(mode, backend, _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [x.tensor for x in claims[:2]] == [c.t, c.radicand]


def test_widest_completeness(range_kind):
    """x_bits = 62 for isqrt (s up to 2^31 - 1, e = 2s); x_bits = 60, a = 29, eps = 1 for rsqrt
    (V = 1 gives y = 2^29, V = 2^60 the tie y = 1 with hi = 2^63 - 1), 16-bit limbs or bits."""
    limb_bits = None if range_kind == "bits" else 16
    k = (1 << 31) - 1
    c = Sqrt("sq", 2, 62, limb_bits)
    x = np.array([0, (1 << 62) - 1, k * k - 1, k * k])
    witness = sqrt_witness(c, x)
    assert witness[c.e].tolist()[1] == 2 * k
    assert accepts("clear", get_backend("cpu"), _gadget(c), ranged(c), range_kind, witness)
    c = Rsqrt("rs", 2, 60, 29, eps=1, limb_bits=limb_bits)
    witness = rsqrt_witness(c, np.array([0, (1 << 60) - 1, 3, 1 << 40]))
    assert witness[c.y].tolist()[:2] == [1 << 29, 1] and witness[c.hi][1] == (1 << 63) - 1
    assert accepts("clear", get_backend("cpu"), _gadget(c), ranged(c), range_kind, witness)


def test_wide_decompositions():
    """Past 63 bits the decompositions are the narrow ones' rule on Python ints: the same slot
    widths and weights, round trips at both ends, out-of-range values refused."""
    from circuits.limbs import LimbDecomposition

    assert type(decomposition(63, False, 16)) is LimbDecomposition
    for d in (decomposition(76, False, 16), decomposition(130, True, 8, 5), decomposition(100, False, None),
              decomposition(70, True, None, -3)):
        assert isinstance(d, (WideLimbDecomposition, WideBitDecomposition))
        values = np.array([d.min_value, d.max_value, d.offset, d.min_value + 12345], dtype=object)
        slots = d.decompose(values)
        assert slots.shape == (4, d.padded_width) and d.compose(slots).tolist() == values.tolist()
        assert sum(c * int(v) for c, v in zip(d.weights(), slots[1])) + d.offset == d.max_value
        for bad in (d.min_value - 1, d.max_value + 1):
            with pytest.raises(ValueError, match="lies outside"):
                d.decompose(np.array([bad], dtype=object))
    narrow = LimbDecomposition(60, True, 0, 16)
    wide = WideLimbDecomposition(60, True, 0, 16)  # the same slots where both apply
    v = np.array([-(1 << 59), 123456789, (1 << 59) - 1])
    assert (narrow.decompose(v) == wide.decompose(v.astype(object))).all()


def test_wide_sqrt_completeness(mode, range_kind):
    """The wide mode (x_bits > 62: Python ints, e and u past 63 bits): x up to 2^150 - 1,
    perfect squares and their neighbours, zero."""
    c = Sqrt("sq", 2, 150, _limbs(range_kind))
    k = math.isqrt((1 << 150) - 1)
    x = np.array([(1 << 150) - 1, k * k, k * k - 1, 0], dtype=object)
    witness = sqrt_witness(c, x)
    assert c.wide and witness[c.s].tolist() == [math.isqrt(int(v)) for v in x]
    assert witness[c.e].tolist()[0] == 2 * k and c.e_slots().width == 76
    assert accepts(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, witness)
    with pytest.raises(ValueError, match="radicand lies outside"):
        sqrt_witness(c, np.array([1 << 150, 0, 0, 0], dtype=object))


def test_wide_root_off_by_one(mode):
    """s + 1 and s - 1 at x = k^2 + 3 ~ 2^149 (wide): RC(e), RC(u) as in the narrow mode."""
    c = Sqrt("sq", 2, 150, 8)
    k = math.isqrt(1 << 149) + 12345
    x = np.array([k * k + 3, 7, 0, 1], dtype=object)
    s0, e0, _ = c.witness_values(x)
    for delta, caught in ((1, "e"), (-1, "u")):
        s, e = s0.copy(), e0.copy()
        s[0] += delta
        e[0] = x[0] - s[0] ** 2
        witness = {c.radicand: x, c.s: s, c.e: e, c.slots("e"): forge(c.e_slots(), e),
                   c.slots("u"): forge(c.u_slots(), 2 * s - e)}
        _rejected(mode, c, witness, f"^range of sq.{caught}.slots: ")


def test_zk_layout_depends_on_the_gadget_only():
    """Two witnesses of one gadget give ZK proofs of the same length (DESIGN section 9)."""
    for c, make in ((_sqrt("limbs"), sqrt_witness), (_rsqrt("limbs"), rsqrt_witness)):
        lengths = {len(prove("zk", get_backend("reference"), _gadget(c), ranged(c), "limbs", make(c, x))[0])
                   for x in (RADICANDS, RADICANDS[::-1] // 3 + 1)}
        assert len(lengths) == 1


# --- isqrt soundness: each attack and the one check that catches it -------------------------------


def _sq_edited(c, edit, honest=(), x=RADICANDS):
    """The witness whose s, e (object arrays) ``edit(s, e)`` changed, u = 2s - e, every slots
    tensor forged to recompose to them except those named in ``honest`` ("e", "u")."""
    s0, e0, u0 = c.witness_values(x)
    s, e = s0.astype(object), e0.astype(object)
    edit(s, e)
    s = np.array([_signed(v) for v in s], dtype=object)
    e = np.array([_signed(v) for v in e], dtype=object)
    values = {"e": e, "u": np.array([_signed(2 * a - b) for a, b in zip(s, e)], dtype=object)}
    truths = {"e": e0, "u": u0}
    decompositions = {"e": c.e_slots(), "u": c.u_slots()}
    w = {c.radicand: x, c.s: s, c.e: e}
    for k in ("e", "u"):
        w[c.slots(k)] = forge(decompositions[k], truths[k] if k in honest else values[k])
    return w


def _root(delta):
    def edit(s, e):
        s[I17] += delta
        e[I17] = 17 - s[I17] ** 2

    return edit


def test_root_off_by_one_up(mode, range_kind):
    """s + 1 at x = 17 (s^2 = 25 > x): e = -8, u = 18 in range: RC(e) catches it."""
    c = _sqrt(range_kind)
    witness = _sq_edited(c, _root(1))
    assert witness[c.e][I17] == -8
    _rejected(mode, c, witness, "^range of sq.e.slots: ")


def test_square_one_above_the_radicand(mode, range_kind):
    """s = 10 at x = 99 = 10^2 - 1: the remainder is -1, the element r - 1 (rule 0.2), u = 21
    in range: RC(e) catches it."""
    c = _sqrt(range_kind)

    def edit(s, e):
        s[I99], e[I99] = 10, -1

    _rejected(mode, c, _sq_edited(c, edit), "^range of sq.e.slots: ")


def test_root_off_by_one_down(mode, range_kind):
    """s - 1 at x = 17: e = 8 in range, u = 2s - e = -2: RC(u) catches it (x < (s + 1)^2)."""
    c = _sqrt(range_kind)
    witness = _sq_edited(c, _root(-1))
    assert witness[c.e][I17] == 8
    _rejected(mode, c, witness, "^range of sq.u.slots: ")


def _fractions():
    """At x = 17, every wrong e in [0, 8) with x - e a quadratic residue that is not a perfect
    square: s = sqrt(x - e) in the field, a "fraction" (rule 0.3); and the negative root -4."""
    out = [(e, fsqrt(17 - e)) for e in range(8) if e != 1 and fsqrt(17 - e) is not None]
    assert len(out) >= 2 and all(math.isqrt(17 - e) ** 2 != 17 - e for e, _ in out)
    return out + [(1, R - 4)]


def _set_root(root, wrong_e):
    def edit(s, e):
        s[I17], e[I17] = root, wrong_e

    return edit


def test_fraction_root(range_kind):
    """s a field element that is not the integer root, e in range, x = s^2 + e in the field:
    only RC(u) stops it (a verifier without it accepts, every claim true). RC(s) would add
    nothing: RC(e) and RC(u) force s = (e + u)/2 to be the integer root."""
    c = _sqrt(range_kind)
    for wrong_e, root in _fractions():
        witness = _sq_edited(c, _set_root(root, wrong_e))
        assert (_signed(witness[c.s][I17]) ** 2 + wrong_e - 17) % R == 0
        assert accepts("clear", get_backend("reference"), _gadget(c), ranged(c), range_kind, witness,
                       skip={c.slots("u")})
        _rejected("clear", c, witness, "^range of sq.u.slots: ")


def test_fraction_root_zk(range_kind):
    c = _sqrt(range_kind)
    wrong_e, root = _fractions()[0]
    _rejected("zk", c, _sq_edited(c, _set_root(root, wrong_e)), "^range of sq.u.slots: ")


def test_remainder_off_by_one_alone(mode):
    """e + 1 with s kept (e, u in range): the identity fails, its zero-check catches it."""
    c = _sqrt("limbs")

    def edit(s, e):
        e[I17] += 1

    _rejected(mode, c, _sq_edited(c, edit), "^sqrt:sq: ")


@pytest.mark.parametrize("value", ["e", "u"])
def test_sqrt_slots_tied_to_the_identity(mode, value):
    """The identity's tables hold a cheat (s + 1 or s - 1 at x = 17, which the range checks
    would refuse), the slots tensor holds the honest value: it does not recompose."""
    c = _sqrt("limbs")
    witness = _sq_edited(c, _root(1 if value == "e" else -1), honest={value})
    _rejected(mode, c, witness, f"^sq.{value}.slots: slots do not recompose")


def test_sqrt_identity_eq_is_the_verifiers():
    """The prover scales the eq table's final evaluation by 4, S by 1/2, E and X by 1/4 (every
    term keeps its value, so the sumcheck's final check holds): only the eq check sees it."""
    c = _sqrt("limbs")

    def tamper(label, proof):
        if label != b"sqrt:sq":
            return proof
        ((eq, s, e, x),) = proof.final_evals
        half, quarter = pow(2, -1, R), pow(4, -1, R)
        return SumcheckProof(proof.rounds, ((eq * 4 % R, s * half % R, e * quarter % R, x * quarter % R),))

    _rejected("clear", c, sqrt_witness(c, RADICANDS), "sq: identity eq: the prover's evaluation", tamper=tamper)


# --- rsqrt soundness ---------------------------------------------------------------------------------


def _rs_edited(c, edit=None, honest=(), tweak=None, x=RADICANDS):
    """The witness whose y, t (object arrays) ``edit(y, t)`` changed, lo and hi recomputed from
    them (then changed by ``tweak(lo, hi)``), every slots tensor forged to recompose to its
    value except those named in ``honest`` ("y", "lo", "hi")."""
    y0, t0, lo0, hi0 = c.witness_values(x)
    y, t = y0.astype(object), t0.astype(object)
    if edit is not None:
        edit(y, t)
    v = [int(a) + c.eps for a in x]
    lo = np.array([_signed(C4 - (4 * tt - 4 * yy + 1) * vv) for yy, tt, vv in zip(y, t, v)], dtype=object)
    hi = np.array([_signed((4 * tt + 4 * yy + 1) * vv - C4 - 1) for yy, tt, vv in zip(y, t, v)], dtype=object)
    if tweak is not None:
        tweak(lo, hi)
    values = {"y": y, "lo": lo, "hi": hi}
    truths = {"y": y0, "lo": lo0, "hi": hi0}
    decompositions = {"y": c.y_slots(), "lo": c.lo_slots(), "hi": c.hi_slots()}
    w = {c.radicand: x, c.y: y, c.t: t, c.lo: lo, c.hi: hi}
    for k in ("y", "lo", "hi"):
        w[c.slots(k)] = forge(decompositions[k], truths[k] if k in honest else values[k])
    return w


def _rstd(delta):
    def edit(y, t):
        y[I99] += delta
        t[I99] = y[I99] ** 2

    return edit


def test_rstd_off_by_one_up(mode, range_kind):
    """y + 1 = 27 at V = 100 (y = round(25.6) = 26), t = y^2: lo = 4c^2 - 53^2 V < 0, hi in
    range: RC(lo) catches it."""
    c = _rsqrt(range_kind)
    witness = _rs_edited(c, _rstd(1))
    assert witness[c.lo][I99] < 0 <= witness[c.hi][I99] < 1 << c.slack_bits
    _rejected(mode, c, witness, "^range of rs.lo.slots: ")


def test_rstd_off_by_one_down(mode, range_kind):
    """y - 1 = 25 at V = 100: lo in range, hi = 51^2 V - 4c^2 - 1 < 0: RC(hi) catches it."""
    c = _rsqrt(range_kind)
    witness = _rs_edited(c, _rstd(-1))
    assert 0 <= witness[c.lo][I99] < 1 << c.slack_bits and witness[c.hi][I99] < 0
    _rejected(mode, c, witness, "^range of rs.hi.slots: ")


def test_rstd_square_is_checked(mode, range_kind):
    """y + 1 with t not its square but chosen so that lo, hi are both in range (any y has such
    a t): only t = y^2, inside the zero-check, catches it."""
    c = _rsqrt(range_kind)
    y1, v = rsqrt_round(100, SHIFT) + 1, 100
    t1 = next(t for t in range(y1 * y1)
              if C4 - (4 * t - 4 * y1 + 1) * v >= 0 and (4 * t + 4 * y1 + 1) * v - C4 - 1 >= 0)

    def edit(y, t):
        y[I99], t[I99] = y1, t1

    witness = _rs_edited(c, edit)
    assert t1 != y1 * y1 and witness[c.lo][I99] >= 0 and witness[c.hi][I99] >= 0
    _rejected(mode, c, witness, "^rsqrt:rs: ")


def _half_integer(c, index):
    """y = h/2, t = h^2/4 in the field, h the odd integer with h - 1 <= 2c/sqrt(V) < h + 1:
    lo = 4c^2 - (h - 1)^2 V and hi = (h + 1)^2 V - 4c^2 - 1 are in-range integers."""
    v = int(RADICANDS[index]) + c.eps
    h = next(h for h in range(1, 4 << SHIFT, 2) if (h - 1) ** 2 * v <= C4 < (h + 1) ** 2 * v)
    inv2 = pow(2, -1, R)

    def edit(y, t):
        y[index], t[index] = h * inv2 % R, h * h * inv2 * inv2 % R

    return _rs_edited(c, edit)


@pytest.mark.parametrize("index", [I99, I1, 0])
def test_fraction_rstd(range_kind, index):
    """The half-integer y = h/2 (rule 0.3): every identity holds in the field and lo, hi are in
    range; only RC(y - 1) stops it (a verifier without it accepts, every claim true)."""
    c = _rsqrt(range_kind)
    witness = _half_integer(c, index)
    assert all(0 <= witness[k][index] < 1 << c.slack_bits for k in (c.lo, c.hi))
    assert accepts("clear", get_backend("reference"), _gadget(c), ranged(c), range_kind, witness, skip={c.slots("y")})
    _rejected("clear", c, witness, "^range of rs.y.slots: ")


def test_fraction_rstd_zk(range_kind):
    c = _rsqrt(range_kind)
    _rejected("zk", c, _half_integer(c, I99), "^range of rs.y.slots: ")


@pytest.mark.parametrize("which", ["lo", "hi"])
def test_slack_off_by_one_alone(mode, which):
    """lo + 1 (or hi + 1) with y, t honest, every value in range: the zero-check catches it."""
    c = _rsqrt("limbs")

    def tweak(lo, hi):
        (lo if which == "lo" else hi)[I99] += 1

    _rejected(mode, c, _rs_edited(c, tweak=tweak), "^rsqrt:rs: ")


@pytest.mark.parametrize("value", ["y", "lo", "hi"])
def test_rsqrt_slots_tied_to_the_identity(mode, value):
    """The identity's tables hold a cheat the range checks would refuse (y + 1, or y - 1 for
    hi), the slots tensor holds the honest value: it does not recompose."""
    c = _rsqrt("limbs")
    witness = _rs_edited(c, _rstd(-1 if value == "hi" else 1), honest={value})
    _rejected(mode, c, witness, f"^rs.{value}.slots: slots do not recompose")


def test_rsqrt_identity_eq_is_the_verifiers(monkeypatch):
    """The prover doubles the eq table's final evaluation and moves lo's so that the combined
    polynomial keeps its value (the sumcheck's final check holds): only the eq check sees it."""
    c = _rsqrt("limbs")
    built, original = [], vsqrt.rsqrt_reduction

    def spy(*args):  # the reduction the prover builds, for its shape (its challenges inside)
        built.append(original(*args))
        return built[-1]

    monkeypatch.setattr(vsqrt, "rsqrt_reduction", spy)

    def tamper(label, proof):
        if label != b"rsqrt:rs":
            return proof
        (finals,) = proof.final_evals
        shape = built[-1].shapes[0]
        target = shape.evaluate(finals)
        eq, y, t, x, lo, hi = finals
        p0 = shape.evaluate((2 * eq % R, y, t, x, 0, hi))
        slope = (shape.evaluate((2 * eq % R, y, t, x, 1, hi)) - p0) % R
        lo = (target - p0) * pow(slope, -1, R) % R
        assert shape.evaluate((2 * eq % R, y, t, x, lo, hi)) == target
        return SumcheckProof(proof.rounds, ((2 * eq % R, y, t, x, lo, hi),))

    _rejected("clear", c, rsqrt_witness(c, RADICANDS), "rs: identity eq: the prover's evaluation", tamper=tamper)


# --- the wide rsqrt (Ghost BN's radicand, docs/ghost_bn.md section 3) ---------------------------------

#: Ghost BN at v = 32, Q = 32, R_s = 24: V = D + 1024 eps_int up to 2^72, a = 45, slacks 85 bits.
WIDE_D_MAX = (1024 * ((1 << 32) - 1) ** 2) >> 2
WIDE_EPS = 1024 * 42950


def _wide_rsqrt(range_kind="bits", num_vars=2):
    return Rsqrt("rs", num_vars, WIDE_D_MAX.bit_length(), 45, WIDE_EPS, _limbs(range_kind), wide=True,
                 x_max=WIDE_D_MAX)


def test_wide_rsqrt_widths_and_refusals():
    """The wide mode's widths (ghost BN's: V < 2^72 declared through x_max, slacks 85 bits, t - 1
    in 90), its relation bound, the x_max check, and the caps it refuses by name; the narrow
    mode keeps refusing the same widths (the narrow witness is int64)."""
    c = _wide_rsqrt()
    assert c.v_max < 1 << 72 and (c.slack_bits, c.t_slots().width, c.y_slots().width) == (85, 90, 45)
    assert c.bound_bits() == 164 and Rsqrt("rs", 0, 72, 45, WIDE_EPS, wide=True).slack_bits == 86
    assert [name for name, _, _ in ranged(c)] == ["rs.y.slots", "rs.lo.slots", "rs.hi.slots", "rs.t.slots"]
    assert [label.split()[0] for label, _ in c.identities()] == ["(T)", "(LO)", "(HI)"]
    for bad, match in (({"x_max": 1 << 72}, "x_max must lie"), ({"shift": 34}, "too small"),
                       ({"x_bits": 245, "x_max": None}, "x_bits must lie"),
                       ({"x_bits": 200, "x_max": None, "shift": 110}, "the relation needs 423 bits")):
        with pytest.raises(ValueError, match=match):
            Rsqrt("rs", 0, **{"x_bits": 72, "shift": 45, "eps": WIDE_EPS, "wide": True, "x_max": WIDE_D_MAX, **bad})
    with pytest.raises(ValueError, match="x_bits must lie in \\[1, 62\\] \\(int64 witness\\)"):
        Rsqrt("rs", 0, 72, 45, WIDE_EPS)
    with pytest.raises(ValueError, match="radicand lies outside \\[0, x_max"):
        rsqrt_witness(c, np.array([WIDE_D_MAX + 1, 0, 0, 0], dtype=object))


def test_wide_rsqrt_semantics_and_identities():
    """The wide witness is rsqrt_round on Python ints at both ends of V (eps alone, the largest
    D), each identity of ``Rsqrt.identities`` is 0 on it, lo and hi fit 85 bits; the narrow
    mode's witness is unchanged (int64 y, lo, hi)."""
    c = _wide_rsqrt()
    x = np.array([0, WIDE_D_MAX, 12345678901234567890, 1 << 40], dtype=object)
    w = rsqrt_witness(c, x)
    assert w[c.y].tolist() == [rsqrt_round(int(v) + WIDE_EPS, 45) for v in x] and w[c.y].dtype == object
    values = {c.y: w[c.y], c.t: w[c.t], c.radicand: x, c.lo: w[c.lo], c.hi: w[c.hi]}
    assert all((poly.evaluate(values) == 0).all() for _, poly in c.identities())
    assert 0 <= min(w[c.lo].min(), w[c.hi].min()) and max(w[c.lo].max(), w[c.hi].max()) < 1 << c.slack_bits
    narrow = rsqrt_witness(_rsqrt("limbs"), RADICANDS)
    assert narrow["rs.y"].dtype == np.int64 and narrow["rs.lo"].dtype == np.int64 and "rs.t.slots" not in narrow


def test_wide_rsqrt_completeness(mode, range_kind):
    """Accepted in both modes with limbs and bits; t is tied to its slots and only the claim on
    x is returned."""
    c = _wide_rsqrt(range_kind)
    witness = rsqrt_witness(c, np.array([0, WIDE_D_MAX, 12345678901234567890, 1 << 40], dtype=object))
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth) and claims[0].tensor == c.radicand
    assert "rs.t.slots" in {x.tensor for x in claims}


def _wide_edited(c, y_of, t_of=lambda y: y * y, honest=()):
    """The wide witness at x = 2^40 (index 3) with y = y_of(y), t = t_of(y), lo, hi solved,
    every slots tensor forged to its value but those in ``honest``."""
    x = np.array([0, WIDE_D_MAX, 12345678901234567890, 1 << 40], dtype=object)
    w = rsqrt_witness(c, x)
    y, t = w[c.y].copy(), w[c.t].copy()
    y[3] = y_of(int(y[3]))
    t[3] = t_of(y[3])
    v = int(x[3]) + c.eps
    lo, hi = w[c.lo].copy(), w[c.hi].copy()
    lo[3] = _signed(c.four_c2 - (4 * t[3] - 4 * y[3] + 1) * v)
    hi[3] = _signed((4 * t[3] + 4 * y[3] + 1) * v - c.four_c2 - 1)
    out = dict(w) | {c.y: y, c.t: t, c.lo: lo, c.hi: hi}
    for k, d in (("y", c.y_slots()), ("t", c.t_slots()), ("lo", c.lo_slots()), ("hi", c.hi_slots())):
        if k not in honest:
            out[c.slots(k)] = forge(d, out[getattr(c, k)])
    return out


@pytest.mark.parametrize("delta, caught", [(1, "lo"), (-1, "hi")])
def test_wide_rstd_off_by_one(mode, delta, caught):
    """y + 1: RC(lo); y - 1: RC(hi), as in the narrow mode."""
    c = _wide_rsqrt()
    _rejected(mode, c, _wide_edited(c, lambda y: y + delta), f"^range of rs.{caught}.slots: ")


def test_wide_square_tied(mode):
    """t's slots not what its table holds (the table t = y^2, every identity holding; the slots
    t + 1, in range): the tie at the zero-check's point rejects."""
    c = _wide_rsqrt()
    w = _wide_edited(c, lambda y: y)
    w[c.slots("t")] = forge(c.t_slots(), w[c.t] + np.array([0, 0, 0, 1], dtype=object))
    _rejected(mode, c, w, "^rs.t.slots: slots do not recompose")
