"""Multilinear and univariate polynomial helpers over Fr (reference, Python ints).

Variable order is little-endian (DESIGN section 9): variable j of a multilinear extension is
bit j of the index, and ``point[j]`` is the value of variable j. These functions define the
convention that the backends' eq-tables, folds and MLE evaluations must match.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .field import MODULUS as R, inv


def eq_eval(u: Sequence[int], x: Sequence[int]) -> int:
    """eq(u, x) = prod_j (u_j x_j + (1 - u_j)(1 - x_j)), the Lagrange kernel of the hypercube."""
    if len(u) != len(x):
        raise ValueError("eq_eval: points of different dimensions")
    acc = 1
    for a, b in zip(u, x):
        acc = acc * ((a * b + (1 - a) * (1 - b)) % R) % R
    return acc


def eq_table(u: Sequence[int]) -> list[int]:
    """The 2^n values eq(u, x) for x in {0,1}^n, entry index sum_j x_j 2^j."""
    table = [1]
    for uj in u:
        # Variable j is bit j: the new entries with bit j set follow the old ones.
        table = [t * (1 - uj) % R for t in table] + [t * uj % R for t in table]
    return table


def mle_evaluate(values: Sequence[int], point: Sequence[int]) -> int:
    """Evaluate the multilinear extension of ``values`` (length 2^len(point)) at ``point``.

    Binds variable 0 first: v'[i] = v[2i] + r_0 (v[2i+1] - v[2i]), exactly like a sumcheck.
    """
    if len(values) != 1 << len(point):
        raise ValueError(f"mle_evaluate: {len(values)} values for {len(point)} variables")
    v = [x % R for x in values]
    for r in point:
        v = [(v[2 * i] + r * (v[2 * i + 1] - v[2 * i])) % R for i in range(len(v) // 2)]
    return v[0]


#: Column variables of ``mle_evaluate_int64``'s split: sums of 2^13 products below 2^48 stay
#: below 2^61, inside int64.
_INT64_COLUMN_VARS = 13


def mle_evaluate_int64(values: np.ndarray, point: Sequence[int]) -> int:
    """``mle_evaluate`` of an int64 tensor (a public one: the seeded W_0), in int64 products.

    With the index split as (row, column), the column the low k <= 13 variables,
    MLE(point) = sum_row eq(hi, row) sum_col eq(lo, col) V[row, col]. The inner sums run as
    exact int64 matrix products: eq(lo, col) is split into sixteen 16-bit limbs and V into a
    signed high and an unsigned low 32-bit half, so each product is below 2^48 and each sum of
    2^k of them below 2^61; the verifier recombines the 2^(n-k) row sums as integers. Same
    value as ``mle_evaluate``, about a hundred times faster on a 2^20-entry weight matrix.
    """
    v = np.asarray(values)
    if v.dtype.kind not in "iu" or (v.dtype.kind == "u" and v.dtype.itemsize >= 8):
        raise ValueError(f"mle_evaluate_int64: needs an integer array that fits int64, got {v.dtype}")
    n = len(point)
    if v.size != 1 << n:
        raise ValueError(f"mle_evaluate_int64: {v.size} values for {n} variables")
    k = min(n, _INT64_COLUMN_VARS)
    m = v.astype(np.int64).reshape(1 << (n - k), 1 << k)
    limbs = np.array([[(e >> (16 * j)) & 0xFFFF for j in range(16)] for e in eq_table(point[:k])], dtype=np.int64)
    low = (m & 0xFFFFFFFF) @ limbs  # m = 2^32 high + low, low in [0, 2^32)
    high = (m >> 32) @ limbs
    scales = np.array([1 << (16 * j) for j in range(16)], dtype=object)
    rows = (low.astype(object) + (high.astype(object) << 32)) @ scales
    return sum(e * int(s) for e, s in zip(eq_table(point[k:]), rows)) % R


def univariate_evaluate(coeffs: Sequence[int], x: int) -> int:
    """Horner evaluation of sum_i coeffs[i] x^i."""
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % R
    return acc


def interpolate_from_evals(evals: Sequence[int]) -> list[int]:
    """Coefficients of the polynomial of degree < len(evals) taking evals[i] at x = i.

    Lagrange interpolation on the nodes 0..d (d <= 3 in sumchecks); O(d^2) Python ints.
    """
    d = len(evals)
    coeffs = [0] * d
    for i in range(d):
        # Basis polynomial L_i(x) = prod_{j != i} (x - j) / (i - j), built by multiplying out.
        basis = [1]
        denom = 1
        for j in range(d):
            if j == i:
                continue
            basis = [0] + basis  # multiply by x
            for k in range(len(basis) - 1):
                basis[k] = (basis[k] - j * basis[k + 1]) % R
            denom = denom * (i - j) % R
        scale = evals[i] * inv(denom) % R
        for k in range(d):
            coeffs[k] = (coeffs[k] + scale * basis[k]) % R
    return coeffs
