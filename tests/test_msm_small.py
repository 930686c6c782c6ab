"""The numba small-scalar MSM (prover/commit/msm_small.py) and its field Fp (fp381.py).

Fp against Python ints on edge values; row MSMs against arkworks' ``multiexp_unchecked`` and
against a plain double-and-add on arkworks' point addition, including generator vectors with
repeated, opposite and identity points, which force the doublings and cancellations that
real (independent) generators only reach through empty buckets.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from numba import njit

from prover.commit import fp381 as fp
from prover.commit import group, msm_small
from prover.commit.group import G1

P = fp.MODULUS
FP_EDGES = [0, 1, 2, P - 1, P - 2, (P - 1) // 2, (P + 1) // 2, 2**64 - 1, 2**64, 2**380]


# --- Fp --------------------------------------------------------------------------------------


@njit(cache=True)
def _fp_ops(a, b, out):
    for i in range(a.shape[0]):
        x, y = fp.load(a, i), fp.load(b, i)
        fp.store(out, 4 * i, fp.add(x, y))
        fp.store(out, 4 * i + 1, fp.sub(x, y))
        fp.store(out, 4 * i + 2, fp.mul(x, y))
        fp.store(out, 4 * i + 3, fp.inv(x))


def _residues(values):
    return fp.to_montgomery(np.array([fp.int_to_limbs(v) for v in values], dtype=np.uint64))


def test_fp_arithmetic_matches_python_ints():
    rng = random.Random(381)
    edges = [v % P for v in FP_EDGES] + [rng.randrange(P) for _ in range(6)]
    pairs = [(a, b) for a in edges for b in edges]
    out = np.empty((4 * len(pairs), fp.LIMBS), np.uint64)
    _fp_ops(_residues([a for a, _ in pairs]), _residues([b for _, b in pairs]), out)
    got = [fp.from_montgomery_int(row) for row in out]
    for i, (a, b) in enumerate(pairs):
        assert got[4 * i : 4 * i + 4] == [(a + b) % P, (a - b) % P, a * b % P, pow(a, -1, P) if a else 0]


def test_fp_montgomery_round_trip_and_bytes():
    values = [v % P for v in FP_EDGES]
    canonical = np.array([fp.int_to_limbs(v) for v in values], dtype=np.uint64)
    residues = fp.to_montgomery(canonical)
    assert [fp.from_montgomery_int(row) for row in residues] == values
    assert [fp.limbs_to_int(row) for row in residues] == [fp.to_montgomery_int(v) for v in values]
    assert np.array_equal(fp.from_montgomery(residues), canonical)
    encoded = b"".join(v.to_bytes(fp.BYTES, "little") for v in values)
    assert fp.to_le_bytes(fp.from_le_bytes(encoded, len(values))) == encoded
    with pytest.raises(ValueError, match="47 bytes"):
        fp.from_le_bytes(encoded[:47], 1)


# --- row MSMs --------------------------------------------------------------------------------


def _ark_rows(points, scalars):
    return [G1.multiexp_unchecked(list(points), group.scalars_from_uint64(row)) for row in scalars]


def _double_and_add(points, row):
    total = G1.identity()
    for point, k in zip(points, row):
        acc = G1.identity()
        for bit in bin(int(k))[2:]:
            acc = acc + acc
            if bit == "1":
                acc = acc + point
        total = total + acc
    return total


def _random(rows, cols, bits, seed):
    return np.random.default_rng(seed).integers(0, 1 << bits, size=(rows, cols), dtype=np.uint64)


@pytest.mark.parametrize("bits", [1, 8, 16, 17])
def test_random_rows_match_arkworks_and_double_and_add(pg, bits):
    points = pg.vector(10)
    scalars = _random(5, 10, bits, seed=bits)
    scalars[0, :3] = (1 << bits) - 1  # the top scalar
    got = msm_small.msm_rows(points, scalars, bits)
    assert got == _ark_rows(points, scalars)
    assert got[:2] == [_double_and_add(points, row) for row in scalars[:2]]


@pytest.mark.parametrize(("bits", "window"), [(16, 8), (17, 9), (17, 5), (12, 12)])
def test_production_windows_on_few_points(pg, bits, window):
    """The windows chosen for 1024 points (c = 8, 9), a top window narrower than c, c = b."""
    points = pg.vector(24)
    scalars = _random(6, 24, bits, seed=window)
    assert msm_small.msm_rows(points, scalars, bits, window=window) == _ark_rows(points, scalars)


@pytest.mark.parametrize(
    "case",
    ["zero rows", "single column", "all equal", "top scalar", "one-hot"],
)
def test_special_matrices(pg, case):
    bits = 16
    top = (1 << bits) - 1
    cols = 1 if case == "single column" else 9
    points = pg.vector(cols)
    scalars = _random(4, cols, bits, seed=7)
    if case == "zero rows":
        scalars[[0, 2]] = 0
    elif case == "all equal":
        scalars[:] = 4660
    elif case == "top scalar":
        scalars[:] = top
    elif case == "one-hot":
        scalars[:] = 0
        scalars[np.arange(4), np.arange(4)] = [1, 2, 256, top]
    got = msm_small.msm_rows(points, scalars, bits, window=8)
    assert got == _ark_rows(points, scalars)
    if case == "zero rows":
        assert got[0] == got[2] == G1.identity()


def test_repeated_opposite_and_identity_generators_force_every_exceptional_case(pg):
    """Equal scalars put G, G, -G, O, ... into one bucket: P + P, P + (-P) and O + P all occur."""
    g0, g1 = pg.vector(2)
    minus = G1.identity() - g0
    points = [g0, g0, minus, G1.identity(), g1, minus, g0, g1]
    rows = [
        [5] * 8,  # bucket 5: 2 g0 (doubling), then 2 g1 ... every pair kind
        [5, 0, 5, 0, 0, 0, 0, 0],  # g0 + (-g0): the row sums to the identity
        [3, 3, 0, 7, 0, 0, 3, 0],  # 3 g0 tree of doublings; an identity generator
        [1, 2, 2, 1, 9, 9, 0, 9],
    ]
    scalars = np.array(rows, dtype=np.uint64)
    got = msm_small.msm_rows(points, scalars, 4, window=4)
    assert got == [_double_and_add(points, row) for row in scalars]
    assert got[1] == G1.identity()
    assert got == _ark_rows(points, scalars)


def test_rows_split_across_batches(pg, monkeypatch):
    """Seven rows in batches of three (the last one partial) give every row its own sum."""
    monkeypatch.setattr(msm_small, "MAX_BATCH_ROWS", 3)
    assert msm_small._batch_rows(7, 10) == 3
    points = pg.vector(6)
    scalars = _random(7, 6, 16, seed=3)
    assert msm_small.msm_rows(points, scalars, 16) == _ark_rows(points, scalars)


def test_generator_table_holds_the_window_shifts(pg):
    points = pg.vector(3) + [G1.identity()]
    x, y, inf = msm_small.generator_table(points, window=5, windows=3)
    shifted = msm_small._from_affine(x, y, inf)
    for w in range(3):
        factor = group.scalar(1 << (5 * w))
        assert shifted[4 * w : 4 * w + 4] == [p * factor for p in points]
    assert list(inf) == [0, 0, 0, 1] * 3


def test_window_choice():
    """c minimising n ceil(b / c) + 2^c: one bit per window for b = 1, c = 8 / 9 at n = 1024."""
    assert msm_small.window_bits(1024, 1) == 1
    assert msm_small.window_bits(1024, 16) == 8
    assert msm_small.window_bits(1024, 17) == 9
    assert msm_small.window_bits(4, 16) == 3
    with pytest.raises(ValueError, match="num_points must be at least 1, got 0"):
        msm_small.window_bits(0, 16)


def test_empty_shapes(pg):
    assert msm_small.msm_rows(pg.vector(3), np.zeros((0, 3), np.uint64), 8) == []
    assert msm_small.msm_rows([], np.zeros((2, 0), np.uint64), 8) == [G1.identity()] * 2


@pytest.mark.parametrize(
    ("scalars", "bits", "window", "message"),
    [
        (np.full((1, 3), 256, np.uint64), 8, None, "scalar 256 is not an unsigned 8-bit integer"),
        (np.full((1, 3), -1, np.int64), 8, None, "scalar -1 is not an unsigned 8-bit integer"),
        (np.zeros((1, 3), np.float64), 8, None, "integer array, got dtype float64"),
        (np.zeros(3, np.uint64), 8, None, r"\[rows, columns\] matrix, got shape \(3,\)"),
        (np.zeros((1, 2), np.uint64), 8, None, "2 scalar columns but 3 generators"),
        (np.zeros((1, 3), np.uint64), 0, None, "bits must lie in \\[1, 64\\], got 0"),
        (np.zeros((1, 3), np.uint64), 65, None, "bits must lie in \\[1, 64\\], got 65"),
        (np.zeros((1, 3), np.uint64), 8, 17, "window must lie in \\[1, 16\\], got 17"),
        (np.zeros((1, 3), np.uint64), 8, 0, "window must lie in \\[1, 16\\], got 0"),
    ],
)
def test_invalid_inputs_are_rejected(pg, scalars, bits, window, message):
    with pytest.raises(ValueError, match=message):
        msm_small.msm_rows(pg.vector(3), scalars, bits, window=window)
