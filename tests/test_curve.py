"""BLS12-381 G1 behind verifier.curve: one test body over both implementations (blst, py_ecc).

py_ecc is pure Python (tens of microseconds per addition, ~10 ms per subgroup check), so
the sizes here stay tiny; the large MSM is exercised through blst only.
"""

from __future__ import annotations

import random

import pytest

from verifier import msm
from verifier.curve import CURVE_NAMES, IDENTITY_BYTES, P, POINT_BYTES, get_curve
from verifier.errors import VerifyError
from verifier.field import MODULUS as R

DST = b"zktrain-test-curve"


@pytest.fixture(params=CURVE_NAMES)
def curve(request):
    return get_curve(request.param)


def _points(curve, n):
    return [curve.hash_to_curve(i.to_bytes(4, "little"), DST) for i in range(n)]


def _compressed(x: int, sign: bool) -> bytes:
    data = bytearray(x.to_bytes(POINT_BYTES, "big"))
    data[0] |= 0x80 | (0x20 if sign else 0)
    return bytes(data)


def _non_residue_x() -> int:
    """The smallest x for which x^3 + 4 has no square root mod p (no point has this x)."""
    x = 1
    while pow((x**3 + 4) % P, (P - 1) // 2, P) == 1:
        x += 1
    return x


def test_group_laws(curve):
    a, b = _points(curve, 2)
    assert a + b == b + a
    assert (a + b) - b == a
    assert a + curve.identity() == a
    assert a - a == curve.identity()
    assert 3 * a == a + a + a
    assert (R + 5) * a == 5 * a  # scalars act mod r: every point has order r
    assert -1 * a == -a
    assert R * a == curve.identity()
    assert a != b


def test_encode_decode_roundtrip(curve):
    (a,) = _points(curve, 1)
    for point in (a, -a, 7 * a, curve.identity()):
        data = point.to_bytes()
        assert len(data) == POINT_BYTES and data[0] & 0x80
        assert curve.decode(data) == point
    assert curve.identity().to_bytes() == IDENTITY_BYTES
    # -a differs from a only in the sign flag.
    assert a.to_bytes()[1:] == (-a).to_bytes()[1:] and a.to_bytes()[0] ^ (-a).to_bytes()[0] == 0x20


def test_implementations_agree_byte_for_byte():
    blst, pyecc = get_curve("blst"), get_curve("py_ecc")
    a_blst = blst.hash_to_curve(b"agree", DST)
    a_pyecc = pyecc.hash_to_curve(b"agree", DST)
    assert a_blst.to_bytes() == a_pyecc.to_bytes()
    k = random.Random(1).randrange(R)
    assert (k * a_blst).to_bytes() == (k * a_pyecc).to_bytes()
    assert pyecc.decode((k * a_blst).to_bytes()) == k * a_pyecc


def _small_x_point() -> tuple[bytes, int]:
    """A valid point whose x + p still fits in 381 bits (about one point in five)."""
    for i in range(100):
        a = get_curve("blst").hash_to_curve(b"bad%d" % i, DST).to_bytes()
        x = int.from_bytes(a, "big") & ((1 << 381) - 1)
        if x + P < 1 << 381:
            return a, x
    raise AssertionError("no small-x point among 100")


def _bad_encodings():
    a, x = _small_x_point()
    cases = {
        "short": a[:-1],
        "long": a + b"\x00",
        "no compression flag": bytes([a[0] & 0x7F]) + a[1:],
        "identity with sign flag": bytes([0xE0]) + bytes(47),
        "identity with nonzero x": bytes([0xC0]) + bytes(46) + b"\x01",
        "identity without compression flag": bytes([0x40]) + bytes(47),
        "x + p (non-reduced x)": _compressed(x + P, bool(a[0] & 0x20)),
        "x = p": _compressed(P, False),
        "not on the curve": _compressed(_non_residue_x(), False),
        # (0, 2) lies on y^2 = x^3 + 4 but has order 3: outside the order-r subgroup.
        "off the subgroup": _compressed(0, False),
    }
    return cases


#: The check that refuses each malformed encoding (``verifier.curve.parse_compressed``, the
#: same for both implementations, then the implementation's curve and subgroup checks).
REASONS = {
    "short": "a G1 point is 48 bytes",
    "long": "a G1 point is 48 bytes",
    "no compression flag": "compression flag not set",
    "identity with sign flag": "non-canonical encoding of the identity",
    "identity with nonzero x": "non-canonical encoding of the identity",
    "identity without compression flag": "compression flag not set",
    "x + p (non-reduced x)": "x coordinate is not reduced mod p",
    "x = p": "x coordinate is not reduced mod p",
    "not on the curve": r"not on the curve y\^2 = x\^3 \+ 4",
    "off the subgroup": "not in the prime-order subgroup",
}


@pytest.mark.parametrize("case", list(_bad_encodings()))
def test_decode_rejects_malformed(curve, case):
    with pytest.raises(VerifyError, match=f"^G1 point: {REASONS[case]}$|^{REASONS[case]}$"):
        curve.decode(_bad_encodings()[case])


@pytest.mark.parametrize(
    "case, reason",
    [("not on the curve", "not on the curve"), ("off the subgroup", "not in the prime-order subgroup")],
)
def test_both_implementations_give_the_same_reason(curve, case, reason):
    with pytest.raises(VerifyError, match=reason):
        curve.decode(_bad_encodings()[case])


def test_decode_rejects_non_bytes(curve):
    """Not bytes, even of the right length: a list of the 48 byte values of a valid point
    would otherwise parse (int.from_bytes takes lists)."""
    valid = list(curve.hash_to_curve(b"p", DST).to_bytes())
    for data in ("00" * 24, valid):
        with pytest.raises(VerifyError, match="^a G1 point is 48 bytes$"):
            curve.decode(data)


def test_off_subgroup_point_is_on_the_curve():
    """The subgroup case above really exercises the subgroup check, not the curve check."""
    assert (0**3 + 4 - 2**2) % P == 0


def test_msm_matches_naive_sum(curve):
    rng = random.Random(7)
    n = 5 if curve.name == "py_ecc" else 40
    points = _points(curve, n)
    scalars = [rng.randrange(R) for _ in range(n)]
    scalars[0] = 0
    scalars[1] = -3  # negative and >= r scalars are taken mod r
    scalars[2] = R + 2
    expected = curve.identity()
    for p, k in zip(points, scalars):
        expected = expected + k * p
    assert curve.msm(points, scalars) == expected
    assert curve.msm([], []) == curve.identity()
    assert curve.msm(points[:2], [0, R]) == curve.identity()
    with pytest.raises(ValueError, match="points but"):
        curve.msm(points, scalars[:-1])
    with pytest.raises(ValueError, match="2 points but 1 scalars"):  # the few-point path too
        curve.msm(points[:2], scalars[:1])


def test_msm_large_blst_matches_py_ecc_on_few_points():
    """A window size > 1 and the signed-digit borrow chain, cross-checked on scalars near r."""
    blst = get_curve("blst")
    points = _points(blst, 300)
    rng = random.Random(3)
    scalars = [R - 1 - rng.randrange(1000) for _ in range(300)]
    expected = blst.identity()
    for p, k in zip(points, scalars):
        expected = expected + k * p
    assert msm.window_bits(300) > 1
    assert blst.msm(points, scalars) == expected


@pytest.mark.parametrize("c", [2, 3, 5, 8, 13])
def test_signed_digits_recompose(c):
    rng = random.Random(c)
    windows = -(-255 // c) + 1
    for k in [0, 1, R - 1, (1 << 255) - 1] + [rng.randrange(R) for _ in range(20)]:
        digits = msm.signed_digits(k, c, windows)
        assert all(-(1 << (c - 1)) <= d < 1 << (c - 1) for d in digits)
        assert sum(d << (c * w) for w, d in enumerate(digits)) == k


def test_signed_digits_reject_one_bit_windows():
    with pytest.raises(ValueError, match="1"):
        msm.signed_digits(5, 1, 300)


def test_implementations_do_not_mix():
    a = get_curve("blst").hash_to_curve(b"x", DST)
    b = get_curve("py_ecc").hash_to_curve(b"x", DST)
    assert a != b
    for x, y in ((a, b), (b, a)):
        with pytest.raises(TypeError, match="cannot combine"):
            x + y
    with pytest.raises(TypeError, match="expected a _BlstPoint"):
        get_curve("blst").msm([b], [1])


def test_unknown_curve_name():
    with pytest.raises(ValueError, match="nope"):
        get_curve("nope")


# --- msm: the vectorized signed digits, the +-1 shortcut -----------------------------------------


@pytest.mark.parametrize("c", [2, 3, 7, 10, 13, 16])
def test_signed_digit_columns_are_signed_digits(c):
    rng = random.Random(c)
    windows = -(-255 // c) + 1
    scalars = [0, 1, R - 1, (1 << 255) - 1] + [rng.randrange(R) for _ in range(30)]
    columns = msm.signed_digit_columns(scalars, c, windows)
    assert columns.shape == (windows, len(scalars))
    for j, k in enumerate(scalars):
        assert columns[:, j].tolist() == msm.signed_digits(k, c, windows)


def test_signed_digit_columns_reject_one_bit_windows():
    with pytest.raises(ValueError, match="1"):
        msm.signed_digit_columns([5], 1, 300)


def test_few_point_msm_plus_and_minus_one():
    """The few-point path adds or subtracts a point whose scalar is +-1 (mod r)."""
    BLST = get_curve("blst")
    A, B = BLST.hash_to_curve(b"A", DST), BLST.hash_to_curve(b"B", DST)
    assert BLST.msm([A, B, A], [1, -1, R - 1]) == -B
    assert BLST.msm([A, B], [R + 1, 2 * R - 1]) == A - B
