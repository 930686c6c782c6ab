"""The reference field Fr (verifier/field.py) and the polynomial conventions built on it."""

from __future__ import annotations

import numpy as np
import pytest

from verifier import field
from verifier.field import MODULUS as R
from verifier.polynomial import (
    eq_eval,
    eq_table,
    interpolate_from_evals,
    mle_evaluate,
    mle_evaluate_int64,
    univariate_evaluate,
)

EDGES = [0, 1, 2, R - 1, R - 2, R // 2, R // 2 + 1, 2**63 - 1, 2**64, 2**254]


def test_modulus_is_the_bls12_381_group_order():
    # r = x^4 - x^2 + 1 for the BLS parameter x = -0xd201000000010000.
    x = -0xD201000000010000
    assert R == x**4 - x**2 + 1
    assert R.bit_length() == field.BITS
    assert pow(5, R - 1, R) == 1


@pytest.mark.parametrize("a", EDGES)
@pytest.mark.parametrize("b", EDGES)
def test_arithmetic_matches_galois(gf, a, b):
    fa, fb = gf(a), gf(b)
    assert field.add(a, b) == int(fa + fb)
    assert field.sub(a, b) == int(fa - fb)
    assert field.mul(a, b) == int(fa * fb)
    assert field.neg(a) == int(-fa)
    if a:
        assert field.inv(a) == int(fa**-1)


def test_inverse_of_zero_raises():
    with pytest.raises(ZeroDivisionError):
        field.inv(0)
    with pytest.raises(ZeroDivisionError):
        field.batch_inv([1, R, 2])


def test_batch_inverse(rng):
    xs = [rng.randrange(1, R) for _ in range(33)]
    assert field.batch_inv(xs) == [field.inv(x) for x in xs]


@pytest.mark.parametrize("v", [0, 1, -1, 2**63, -(2**63), R, -R - 5, 3 * R + 7])
def test_signed_embedding(v):
    x = field.from_int(v)
    assert 0 <= x < R and (x - v) % R == 0
    if abs(v) < R // 2:
        assert field.to_signed(x) == v


def test_encoding_is_canonical(rng):
    for x in [0, 1, R - 1, rng.randrange(R)]:
        data = field.to_bytes(x)
        assert len(data) == 32 and field.from_bytes(data) == x
    with pytest.raises(field.FieldError):
        field.from_bytes(R.to_bytes(32, "little"))  # r itself: the non-canonical zero
    with pytest.raises(field.FieldError):
        field.from_bytes((2**256 - 1).to_bytes(32, "little"))
    with pytest.raises(field.FieldError):
        field.from_bytes(b"\x00" * 31)
    with pytest.raises(field.FieldError):
        field.to_bytes(R)


def test_eq_table_is_little_endian(rng):
    u = [rng.randrange(R) for _ in range(3)]
    table = eq_table(u)
    for index in range(8):
        bits = [(index >> j) & 1 for j in range(3)]  # variable j is bit j of the index
        assert table[index] == eq_eval(u, bits)
    assert sum(table) % R == 1


def test_mle_agrees_with_eq_table_and_hypercube(rng):
    values = [rng.randrange(R) for _ in range(16)]
    point = [rng.randrange(R) for _ in range(4)]
    assert mle_evaluate(values, point) == sum(e * v for e, v in zip(eq_table(point), values)) % R
    # On a hypercube point the MLE is the table entry: bit j of 11 = 0b1011 is variable j.
    assert mle_evaluate(values, [1, 1, 0, 1]) == values[11]
    with pytest.raises(ValueError):
        mle_evaluate(values, point[:3])


@pytest.mark.parametrize("num_vars", [0, 1, 2, 12, 13, 14, 16])
def test_mle_evaluate_int64_matches_mle_evaluate_at_int64_extremes(rng, num_vars):
    """The split int64 evaluator (both sides of its 13-column-variable split) is exact for
    every int64, the extremes included, where a wrapped partial sum would show."""
    np_rng = np.random.default_rng(num_vars)
    values = np_rng.integers(-(2**63), 2**63 - 1, size=1 << num_vars, dtype=np.int64, endpoint=True)
    extremes = np.array([-(2**63), 2**63 - 1, -1, 0], dtype=np.int64)
    values[: min(4, values.size)] = extremes[: min(4, values.size)]
    if num_vars >= 13:  # a whole column block of maxima: the largest int64 partial sums
        values[: 1 << 13] = 2**63 - 1
    point = [rng.randrange(R) for _ in range(num_vars)]
    assert mle_evaluate_int64(values, point) == mle_evaluate([int(v) for v in values], point)


def test_mle_evaluate_int64_rejects_bad_input():
    with pytest.raises(ValueError, match="values for"):
        mle_evaluate_int64(np.zeros(8, dtype=np.int64), [1, 2])
    with pytest.raises(ValueError, match="fits int64"):
        mle_evaluate_int64(np.zeros(4, dtype=np.uint64), [1, 2])
    with pytest.raises(ValueError, match="fits int64"):
        mle_evaluate_int64(np.zeros(4), [1, 2])


def test_interpolation_roundtrip(rng):
    for degree in range(4):
        coeffs = [rng.randrange(R) for _ in range(degree + 1)]
        evals = [univariate_evaluate(coeffs, x) for x in range(degree + 1)]
        assert interpolate_from_evals(evals) == coeffs
