"""Conformance of every FieldBackend: one test body per operation, run over each backend.

The oracles are plain Python ints, galois (an independent GF(r) implementation) and the
verifier's polynomial module, which fixes the little-endian variable order (DESIGN
section 9). ``rng`` and ``gf`` (galois' GF(r)) come from conftest.py; ``backend`` here
extends conftest's with a CPU backend that runs its kernels multi-threaded even on these
small vectors, a cuda backend (numba.cuda kernels; on numba's CUDA simulator where there is no
GPU, see conftest.py) whose grid is capped at 4 blocks so that small vectors take several
grid-stride iterations per thread, and "cuda-njit": the same backend with the same kernels'
bodies compiled for the CPU by @njit (prover/backends/cuda/emulate.py), because the simulator
types integers differently from compiled numba. The cuda field arithmetic also runs compiled
against Python ints on edge values below.
"""

from __future__ import annotations

import operator
import os

import numpy as np
import pytest

from prover.backends import get_backend
from verifier.field import MODULUS as R
from verifier import polynomial

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: int64 inputs at the boundaries of the signed embedding.
EDGE_INT64 = [0, 1, -1, 2, -2, INT64_MAX, INT64_MIN, INT64_MIN + 1, 2**32, -(2**32)]

#: Python ints of any sign and size, each reduced mod r on the way in.
EDGE_INTS = [
    0, 1, 2, R - 1, R - 2, R // 2, R // 2 + 1, R, R + 1, 2 * R + 5, -1, -R, -R - 1,
    INT64_MAX, INT64_MIN, 2**63, 2**64 - 1, 2**64, 2**255, 2**256 - 1, -(2**256 - 1),
]


@pytest.fixture(scope="module")
def compiled_cuda_runtime():
    """The cuda backend's kernel bodies compiled for the CPU by @njit (emulate.py), once."""
    from prover.backends.cuda import runtime

    if not runtime.available():
        pytest.skip("no CUDA device and the simulator is off")
    from prover.backends.cuda.emulate import CompiledCpuRuntime

    return CompiledCpuRuntime()


@pytest.fixture(params=["reference", "cpu", "cpu-parallel", "cuda", "cuda-njit"])
def backend(request):
    if request.param == "cpu-parallel":
        from prover.backends.cpu import CpuBackend

        return CpuBackend(parallel_min_rows=0)
    if request.param.startswith("cuda"):
        from prover.backends.cuda import runtime

        if not runtime.available():
            pytest.skip("no CUDA device and the simulator is off")
        from prover.backends.cuda import CudaBackend

        if request.param == "cuda-njit":
            return CudaBackend(runtime=request.getfixturevalue("compiled_cuda_runtime"))
        return CudaBackend(max_blocks=4)
    return get_backend(request.param)


def random_ints(rng, n):
    return [rng.randrange(R) for _ in range(n)]


def operands(rng):
    """Pairs covering every edge value against every other, plus random values."""
    edges = [x % R for x in EDGE_INTS]
    xs = [x for x in edges for _ in edges] + random_ints(rng, 16)
    ys = [y for _ in edges for y in edges] + random_ints(rng, 16)
    return xs, ys


# --- conversions --------------------------------------------------------------------------


def test_from_int64_embeds_v_mod_r(backend, rng):
    values = EDGE_INT64 + [rng.randrange(INT64_MIN, INT64_MAX + 1) for _ in range(64)]
    got = backend.to_ints(backend.from_int64(np.array(values, dtype=np.int64)))
    assert got == [v % R for v in values]
    assert all(type(x) is int for x in got)


def test_from_int64_accepts_narrower_integer_dtypes(backend):
    values = np.array([-128, -1, 0, 127], dtype=np.int8)
    assert backend.to_ints(backend.from_int64(values)) == [-128 % R, R - 1, 0, 127]


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.array([1, 2], dtype=np.uint64), TypeError),  # 2^64 - 1 would not survive
        (np.array([1.0]), TypeError),
        (np.zeros((2, 2), dtype=np.int64), ValueError),
    ],
)
def test_from_int64_rejects_lossy_inputs(backend, bad, error):
    with pytest.raises(error):
        backend.from_int64(bad)


def test_from_ints_reduces_any_int(backend, rng):
    values = EDGE_INTS + [rng.randrange(-(2**300), 2**300) for _ in range(32)]
    assert backend.to_ints(backend.from_ints(values)) == [v % R for v in values]


def test_from_ints_takes_numpy_integers_but_not_floats(backend):
    assert backend.to_ints(backend.from_ints([np.int64(-3), np.uint64(2**64 - 1)])) == [
        R - 3,
        2**64 - 1,
    ]
    with pytest.raises(TypeError):
        backend.from_ints([1.5])


def test_empty_vectors(backend):
    v = backend.from_ints([])
    assert backend.length(v) == 0
    assert backend.to_ints(v) == []
    assert backend.to_ints(backend.from_int64(np.array([], dtype=np.int64))) == []
    assert backend.to_int64(v).tolist() == []
    assert backend.sum(v) == 0
    assert backend.inner_product(v, v) == 0


def test_to_int64_inverts_from_int64(backend, rng):
    values = EDGE_INT64 + [rng.randrange(INT64_MIN, INT64_MAX + 1) for _ in range(64)]
    out = backend.to_int64(backend.from_int64(np.array(values, dtype=np.int64)))
    assert out.dtype == np.int64
    assert out.tolist() == values


def test_to_int64_picks_the_representative_in_minus_half_r_to_half_r(backend):
    # Field elements given as ints in [0, r): r - 5 is -5, and the int64 extremes survive.
    v = backend.from_ints([R - 5, INT64_MAX, R - 2**63, R - 1, 0])
    assert backend.to_int64(v).tolist() == [-5, INT64_MAX, INT64_MIN, -1, 0]


@pytest.mark.parametrize("value", [2**63, INT64_MIN - 1, 2**64, -(2**64), R // 2, R // 2 + 1])
def test_to_int64_raises_outside_int64(backend, value):
    v = backend.from_ints([0, value, 1])
    with pytest.raises(OverflowError, match="element 1"):
        backend.to_int64(v)


def test_length_and_zeros(backend):
    z = backend.zeros(5)
    assert backend.length(z) == 5
    assert backend.to_ints(z) == [0] * 5


def test_tile_sub_int64_subtracts_from_the_repeated_pattern(backend, rng):
    """pattern[i mod w] - a[i]: edge int64 values (both signs, int64 min) against edge
    pattern entries, every value at every position of the period."""
    pattern = [x % R for x in (0, 1, R - 1, 2**64 + 3)]
    values = [v for v in EDGE_INT64 for _ in pattern] + [rng.randrange(-(2**40), 2**40) for _ in range(8)]
    got = backend.to_ints(backend.tile_sub_int64(backend.from_ints(pattern), np.array(values, dtype=np.int64)))
    assert got == [(pattern[i % 4] - v) % R for i, v in enumerate(values)]
    assert backend.to_ints(backend.tile_sub_int64(backend.from_ints(pattern), np.zeros(0, dtype=np.int64))) == []


@pytest.mark.parametrize("n", [3, 5])
def test_tile_sub_int64_rejects_a_partial_period(backend, n):
    with pytest.raises(ValueError, match="whole periods"):
        backend.tile_sub_int64(backend.from_ints([1, 2]), np.arange(n, dtype=np.int64))


@pytest.mark.parametrize("unit", [False, True], ids=["fractions", "unit"])
@pytest.mark.parametrize("half", [1, 37, 1 << 14])
def test_gkr_parent_layer_is_the_fraction_sums_of_the_halves(backend, rng, unit, half):
    """p' = p_0 q_1 + p_1 q_0, q' = q_0 q_1 over the halves split by the top variable (p None:
    numerators 1); the last size runs on both threads."""
    if backend.name in ("reference", "cuda"):
        half = min(half, 64)
    p, q = None if unit else random_ints(rng, 2 * half), random_ints(rng, 2 * half)
    got_p, got_q = backend.gkr_parent_layer(None if unit else backend.from_ints(p), backend.from_ints(q))
    p = p or [1] * (2 * half)
    assert backend.to_ints(got_p) == [(p[i] * q[i + half] + p[i + half] * q[i]) % R for i in range(half)]
    assert backend.to_ints(got_q) == [q[i] * q[i + half] % R for i in range(half)]


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_gkr_unit_parent_layer_int64_reads_the_leaves_from_the_integers(backend, rng, dtype):
    """The unit parent layer of the leaves pattern[i mod w] - a[i], edge values included."""
    pattern = [x % R for x in (0, 1, R - 1, 2**64 + 3)]
    edges = [v for v in EDGE_INT64 if np.iinfo(dtype).min <= v <= np.iinfo(dtype).max]
    values = [v for v in edges for _ in pattern]
    values += [rng.randrange(-(2**30), 2**30) for _ in range(-len(values) % 8 + 8)]
    a = np.array(values, dtype=dtype)
    got_p, got_q = backend.gkr_unit_parent_layer_int64(backend.from_ints(pattern), a)
    d = [(pattern[i % 4] - v) % R for i, v in enumerate(values)]
    h = len(d) // 2
    assert backend.to_ints(got_p) == [(d[i] + d[i + h]) % R for i in range(h)]
    assert backend.to_ints(got_q) == [d[i] * d[i + h] % R for i in range(h)]


@pytest.mark.parametrize("n", [0, 3])
def test_gkr_parent_layers_reject_a_layer_without_two_halves(backend, n):
    with pytest.raises(ValueError, match="positive and even"):
        backend.gkr_parent_layer(None, backend.from_ints(list(range(n))))
    with pytest.raises(ValueError, match="positive and even|whole periods"):
        backend.gkr_unit_parent_layer_int64(backend.from_ints([1]), np.arange(n, dtype=np.int64))


# --- elementwise --------------------------------------------------------------------------

ELEMENTWISE = {
    "add": (operator.add, operator.add),
    "sub": (operator.sub, operator.sub),
    "mul": (operator.mul, operator.mul),
}


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_elementwise_matches_python_ints_and_galois(backend, rng, gf, op):
    int_op, gf_op = ELEMENTWISE[op]
    xs, ys = operands(rng)
    got = backend.to_ints(getattr(backend, op)(backend.from_ints(xs), backend.from_ints(ys)))
    assert got == [int_op(x, y) % R for x, y in zip(xs, ys)]
    assert got == [int(z) for z in gf_op(gf(xs), gf(ys))]


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_elementwise_rejects_different_lengths(backend, op):
    with pytest.raises(ValueError, match="different lengths"):
        getattr(backend, op)(backend.from_ints([1, 2]), backend.from_ints([1, 2, 3]))


def test_scalar_mul_matches_python_ints_and_galois(backend, rng, gf):
    xs = [x % R for x in EDGE_INTS] + random_ints(rng, 16)
    for c in [0, 1, 2, R - 1, R // 2 + 1, rng.randrange(R)]:
        got = backend.to_ints(backend.scalar_mul(backend.from_ints(xs), c))
        assert got == [x * c % R for x in xs]
        assert got == [int(z) for z in gf(xs) * gf(c)]


# --- reductions ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 33, 1000])
def test_sum_and_inner_product_match_python_ints_and_galois(backend, rng, gf, n):
    # Lengths not divisible by the thread count exercise the chunk boundaries.
    xs, ys = random_ints(rng, n), random_ints(rng, n)
    a, b = backend.from_ints(xs), backend.from_ints(ys)
    assert backend.sum(a) == sum(xs) % R == int(np.sum(gf(xs)))
    assert backend.inner_product(a, b) == sum(x * y for x, y in zip(xs, ys)) % R
    assert backend.inner_product(a, b) == int(np.sum(gf(xs) * gf(ys)))


def test_reductions_stay_exact_mod_r_near_the_modulus(backend):
    # Sums of r - 1 wrap around r again and again; a lost carry would show.
    a = backend.from_ints([R - 1] * 1001)
    assert backend.sum(a) == -1001 % R
    assert backend.inner_product(a, a) == 1001  # (-1)(-1) summed


def test_inner_product_rejects_different_lengths(backend):
    with pytest.raises(ValueError, match="different lengths"):
        backend.inner_product(backend.from_ints([1, 2]), backend.from_ints([1]))


# --- multilinear extensions ---------------------------------------------------------------


def test_fold_binds_variable_zero(backend, rng):
    xs, r = random_ints(rng, 16), rng.randrange(R)
    folded = backend.fold(backend.from_ints(xs), r)
    assert backend.to_ints(folded) == [
        (xs[2 * i] + r * (xs[2 * i + 1] - xs[2 * i])) % R for i in range(8)
    ]
    # Folding variable 0 first is how the verifier's MLE evaluation proceeds.
    rest = random_ints(rng, 3)
    assert backend.mle_evaluate(folded, rest) == polynomial.mle_evaluate(xs, [r] + rest)


@pytest.mark.parametrize("n", [0, 3])
def test_fold_rejects_lengths_without_a_variable_to_bind(backend, n):
    with pytest.raises(ValueError, match="positive and even"):
        backend.fold(backend.from_ints(list(range(n))), 5)


def test_fold_int64_is_fold_of_the_embedding(backend, rng):
    """Edge int64 values in both positions of a pair: the difference a[2i+1] - a[2i] overflows
    int64 for (INT64_MIN, INT64_MAX), so the kernel must take it in the field."""
    values = [x for a in EDGE_INT64 for b in EDGE_INT64 for x in (a, b)]
    a = np.array(values, dtype=np.int64)
    r = rng.randrange(R)
    assert backend.to_ints(backend.fold_int64(a, r)) == backend.to_ints(backend.fold(backend.from_int64(a), r))
    assert backend.to_ints(backend.fold_int64(a, r)) == [(x + r * (y - x)) % R for x, y in zip(values[0::2], values[1::2])]
    with pytest.raises(ValueError, match="positive and even"):
        backend.fold_int64(np.arange(3, dtype=np.int64), r)


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 4, 3), (3, 8, 1), (1, 2, 1500)])
def test_bind_axis_int64_is_the_moved_axis_folded(backend, rng, shape):
    """Against the generic path: the middle axis moved innermost, embedded and folded once per
    coordinate (post 1500 spans two of the CPU kernel's row blocks); edge int64 values."""
    pre, n, post = shape
    values = [EDGE_INT64[i % len(EDGE_INT64)] if i % 3 else rng.randrange(-(2**62), 2**62) for i in range(pre * n * post)]
    a = np.array(values, dtype=np.int64).reshape(shape)
    point = [rng.randrange(R) for _ in range(n.bit_length() - 1)]
    table = backend.from_int64(np.moveaxis(a, 1, 2).reshape(-1))
    for r in point:
        table = backend.fold(table, r)
    assert backend.to_ints(backend.bind_axis_int64(a, point)) == backend.to_ints(table)
    small = (a % 2001 - 1000).astype(np.int32)  # narrower integers (the limbs are int32) bind alike
    assert backend.to_ints(backend.bind_axis_int64(small, point)) == backend.to_ints(backend.bind_axis_int64(small.astype(np.int64), point))


@pytest.mark.parametrize("shape, k, error", [((2, 4), 2, "is not \\[pre"), ((2, 4, 1), 1, "is not \\[pre")])
def test_bind_axis_int64_rejects_other_shapes(backend, shape, k, error):
    with pytest.raises(ValueError, match=error):
        backend.bind_axis_int64(np.zeros(shape, dtype=np.int64), [1] * k)


def test_bind_axis_int64_rejects_lossy_dtypes(backend):
    with pytest.raises(TypeError, match="without loss"):
        backend.bind_axis_int64(np.zeros((1, 2, 1), dtype=np.uint64), [1])


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("n", [1, 3, 64])
def test_split_inner_products_int64_pair_v_with_even_and_odd_entries(backend, rng, n, dtype):
    """Edge values of both signs (int64 min's magnitude is 2^63), in every position."""
    edges = [x for x in EDGE_INT64 if np.iinfo(dtype).min <= x <= np.iinfo(dtype).max] + [np.iinfo(dtype).min]
    values = (edges * 32)[: 2 * n]
    v = random_ints(rng, n)
    got = backend.split_inner_products_int64(backend.from_ints(v), np.array(values, dtype=dtype))
    assert got == tuple(sum(x * y for x, y in zip(v, values[k::2])) % R for k in (0, 1))
    with pytest.raises(ValueError, match="different lengths"):
        backend.split_inner_products_int64(backend.from_ints(v), np.zeros(2 * n + 2, dtype=np.int64))


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_eq_table_matches_the_verifier(backend, rng, k):
    u = random_ints(rng, k)
    table = backend.to_ints(backend.eq_table(u))
    assert table == polynomial.eq_table(u)
    for x in range(1 << k):
        bits = [(x >> j) & 1 for j in range(k)]  # little-endian: variable j is bit j
        assert table[x] == polynomial.eq_eval(u, bits)


@pytest.mark.parametrize("k", [0, 1, 3, 6])
def test_eq_table_add_accumulates_scaled_tables(backend, rng, k):
    """The claims ledger's combined eq: sum_j rho_j eq(u_j, .), one eq_table_add per claim."""
    points, rho = [random_ints(rng, k) for _ in range(3)], random_ints(rng, 3)
    acc = None
    for u, r in zip(points, rho):
        acc = backend.eq_table_add(acc, u, r)
    expected = [sum(r * e for r, e in zip(rho, es)) % R for es in zip(*(polynomial.eq_table(u) for u in points))]
    assert backend.to_ints(acc) == expected


@pytest.mark.parametrize("k", [0, 1, 3, 6])
def test_mle_evaluate_matches_the_verifier(backend, rng, k):
    xs, point = random_ints(rng, 1 << k), random_ints(rng, k)
    v = backend.from_ints(xs)
    assert backend.mle_evaluate(v, point) == polynomial.mle_evaluate(xs, point)
    # MLE(v) at u is the inner product with the eq-table of u.
    assert backend.mle_evaluate(v, point) == backend.inner_product(v, backend.eq_table(point))


def test_mle_evaluate_at_a_hypercube_point_reads_the_little_endian_entry(backend):
    xs = list(range(100, 108))
    v = backend.from_ints(xs)
    for index in range(8):
        bits = [(index >> j) & 1 for j in range(3)]
        assert backend.mle_evaluate(v, bits) == xs[index]


def test_mle_evaluate_rejects_a_point_of_the_wrong_dimension(backend):
    with pytest.raises(ValueError, match="8 values for 2 variables"):
        backend.mle_evaluate(backend.from_ints(list(range(8))), [1, 2])


def round_poly_by_definition(factors, t):
    """s(t) = sum_i prod_k (f_k[2i] + t (f_k[2i+1] - f_k[2i])), straight from Python ints."""
    total = 0
    for i in range(len(factors[0]) // 2):
        term = 1
        for f in factors:
            term *= f[2 * i] + t * (f[2 * i + 1] - f[2 * i])
        total += term
    return total % R


@pytest.mark.parametrize("num_factors", [1, 2, 3])
@pytest.mark.parametrize("num_points", [1, 2, 3, 4, 5])
def test_round_evals_match_the_definition(backend, rng, num_factors, num_points):
    n = 2 * 37  # an odd number of pairs, split unevenly over threads
    factors = [random_ints(rng, n) for _ in range(num_factors)]
    got = backend.round_evals([backend.from_ints(f) for f in factors], num_points)
    assert got == [round_poly_by_definition(factors, t) for t in range(num_points)]


@pytest.mark.parametrize("pairs, num_points", [(1, 4), (37, 2), (37, 4), (37, 6), (1 << 14, 4)])
def test_gkr_round_evals_match_the_definition(backend, rng, pairs, num_points):
    """The fused logUp-GKR layer round is eq (p0 q1 + p1 q0 + gamma q0 q1), term by term; the
    last size runs on both threads."""
    if backend.name in ("reference", "cuda"):
        # Pure Python (the cuda backend on the simulator): the threaded size matters for the
        # CPU kernel only.
        pairs = min(pairs, 64)
    e, p0, p1, q0, q1 = (random_ints(rng, 2 * pairs) for _ in range(5))
    gamma = rng.randrange(R)
    got = backend.gkr_round_evals([backend.from_ints(v) for v in (e, p0, p1, q0, q1)], gamma, num_points)
    want = [
        (round_poly_by_definition([e, p0, q1], t) + round_poly_by_definition([e, p1, q0], t)
         + gamma * round_poly_by_definition([e, q0, q1], t)) % R
        for t in range(num_points)
    ]
    assert got == want


@pytest.mark.parametrize("leaf", [False, True], ids=["layer", "leaf"])
@pytest.mark.parametrize("pairs, num_points", [(1, 4), (37, 2), (37, 4), (37, 6), (1 << 14, 4)])
@pytest.mark.parametrize("u0", ["random", 0, 1])
def test_gkr_round_evals_with_the_eq_factor_split_off_match_the_definition(backend, rng, leaf, pairs, num_points, u0):
    """``eq_coordinate``: the first table is c eq((u0, u'), .), as a folded eq table is, and the
    round (Gruen's split: s(t) = eq1(u0, t) h(t)) is the definition's, for u0 = 0 and 1 too
    (where one of the eq table's halves vanishes). The table has an odd pair count, so it is
    c eq1(u0, x_0) e'(x') with e' random rather than an eq table: the split needs only that."""
    if backend.name in ("reference", "cuda"):
        pairs = min(pairs, 64)
    u = rng.randrange(R) if u0 == "random" else u0
    c, e_rest = rng.randrange(R), random_ints(rng, pairs)
    e = [c * ((1 - u) if b == 0 else u) * w % R for w in e_rest for b in (0, 1)]
    others = [random_ints(rng, 2 * pairs) for _ in range(2 if leaf else 4)]
    gamma = rng.randrange(R)
    op = backend.gkr_leaf_round_evals if leaf else backend.gkr_round_evals
    tables = [backend.from_ints(v) for v in (e, *others)]
    got = op(tables, gamma, num_points, eq_coordinate=u)
    if leaf:
        q0, q1 = others
        terms = ([e, q0], [e, q1], [e, q0, q1])
    else:
        p0, p1, q0, q1 = others
        terms = ([e, p0, q1], [e, p1, q0], [e, q0, q1])
    want = [
        (round_poly_by_definition(terms[0], t) + round_poly_by_definition(terms[1], t)
         + gamma * round_poly_by_definition(terms[2], t)) % R
        for t in range(num_points)
    ]
    assert got == want


@pytest.mark.parametrize("num_factors", [1, 2, 3])
def test_round_polynomial_is_the_sum_over_the_folded_tables(backend, rng, num_factors):
    # The sumcheck identities: s(0) + s(1) is the sum over the hypercube, and s(r) is the
    # sum over the tables folded at r (checked through the interpolated polynomial).
    factors = [random_ints(rng, 16) for _ in range(num_factors)]
    vecs = [backend.from_ints(f) for f in factors]
    evals = backend.round_evals(vecs, num_factors + 1)
    product = vecs[0]
    for v in vecs[1:]:
        product = backend.mul(product, v)
    assert (evals[0] + evals[1]) % R == backend.sum(product)
    r = rng.randrange(R)
    folded = [backend.fold(v, r) for v in vecs]
    folded_product = folded[0]
    for v in folded[1:]:
        folded_product = backend.mul(folded_product, v)
    s = polynomial.interpolate_from_evals(evals)
    assert polynomial.univariate_evaluate(s, r) == backend.sum(folded_product)


@pytest.mark.parametrize(
    "lengths, num_points, message",
    [
        ([], 2, "1 to 3 factors"),
        ([4, 4, 4, 4], 5, "1 to 3 factors"),
        ([4, 6], 3, "different lengths"),
        ([5], 2, "positive and even"),
        ([4, 4], 0, "num_points must be >= 1"),
    ],
)
def test_round_evals_rejects_bad_arguments(backend, lengths, num_points, message):
    factors = [backend.from_ints(list(range(n))) for n in lengths]
    with pytest.raises(ValueError, match=message):
        backend.round_evals(factors, num_points)


@pytest.mark.parametrize(
    "lengths, num_points, message",
    [([4] * 4, 4, "5 tables"), ([4, 4, 4, 4, 2], 4, "different lengths"), ([3] * 5, 4, "even"), ([4] * 5, 0, "num_points")],
)
def test_gkr_round_evals_rejects_bad_arguments(backend, lengths, num_points, message):
    tables = [backend.from_ints(list(range(n))) for n in lengths]
    with pytest.raises(ValueError, match=message):
        backend.gkr_round_evals(tables, 3, num_points)


# --- registry and the CPU vector type -----------------------------------------------------


def test_get_backend_names(monkeypatch):
    from prover.backends.cuda import runtime

    assert get_backend("reference").name == "reference"
    assert get_backend("cpu").name == "cpu"
    # auto stays on the CPU until the cuda backend has run its conformance suite on a device.
    assert get_backend("auto").name == "cpu"
    if runtime.available():
        assert get_backend("cuda").name == "cuda"
    monkeypatch.setattr(runtime, "available", lambda: False)
    with pytest.raises(ValueError, match="NUMBA_ENABLE_CUDASIM=1"):
        get_backend("cuda")
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        get_backend("gpu")


@pytest.mark.parametrize(
    "foreign",
    [
        [1, 2, 3],
        np.zeros((3, 4), dtype=np.int64),
        np.zeros((3, 3), dtype=np.uint64),
        np.zeros((4, 4), dtype=np.uint64)[::2],  # strided view
    ],
)
def test_cpu_backend_rejects_foreign_vectors(foreign):
    cpu = get_backend("cpu")
    with pytest.raises(TypeError, match="uint64 arrays of shape"):
        cpu.sum(foreign)


def test_cpu_backend_restores_the_thread_count_after_a_single_threaded_call():
    import numba

    cpu = get_backend("cpu")
    before = numba.get_num_threads()
    v = cpu.from_ints([1, 2, 3])  # far below the parallel threshold
    assert cpu.sum(v) == 6
    assert numba.get_num_threads() == before


def test_cpu_backend_rejects_a_negative_parallel_threshold():
    from prover.backends.cpu import CpuBackend

    with pytest.raises(ValueError, match="parallel_min_rows must be >= 0, got -1"):
        CpuBackend(parallel_min_rows=-1)


def test_kernel_cache_is_keyed_on_the_arithmetic_module(monkeypatch):
    # numba invalidates a disk cache only when the function's own file changes; the kernels
    # compile montgomery.py's arithmetic into themselves, so their key must cover it too.
    import inspect

    from numba.core import caching

    from prover.backends.cpu import kernels

    assert "self._index_key(" in inspect.getsource(caching.Cache)  # numba still uses it
    cache = kernels.vec_mul._cache
    codegen = kernels.vec_mul.targetctx.codegen()
    key = cache._index_key((), codegen)
    monkeypatch.setattr(kernels, "_ARITHMETIC_DIGEST", "montgomery.py edited")
    assert cache._index_key((), codegen) != key


def test_montgomery_constants():
    from prover.backends.cpu import montgomery as mg

    assert mg.limbs_to_int(mg.ONE) == 2**256 % R
    assert mg.limbs_to_int(mg.R2) == pow(2, 512, R)
    assert mg.limbs_to_int(mg.CANONICAL_ONE) == 1
    assert mg.N_PRIME * R % 2**64 == 2**64 - 1  # N' = -r^-1 mod 2^64
    assert mg.from_montgomery_int(mg.int_to_limbs(mg.to_montgomery_int(-7))) == R - 7


# --- the cuda backend -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cuda_backend():
    from prover.backends.cuda import runtime

    if not runtime.available():
        pytest.skip("no CUDA device and the simulator is off")
    from prover.backends.cuda import CudaBackend

    return CudaBackend(max_blocks=4)


def field_edge_values(rng):
    """Residues at the edges of the 8 x 32-bit representation: 0, 1, r - 1, r - 2, runs of
    2^32 - 1 limbs, R and R^2 mod r (Montgomery 1 and the entry constant), the largest value
    below r with every low limb 2^32 - 1, single limbs, and random values."""
    values = [0, 1, 2, R - 1, R - 2, R // 2, 2**256 % R, 2**512 % R, 2**255 % R]
    values += [2 ** (32 * k) - 1 for k in range(1, 8)]  # limbs 0..k-1 all 2^32 - 1
    values += [(2**32 - 1) << (32 * k) for k in range(7)]  # one full limb in each position
    values += [(R >> 224 << 224) - 1, (R >> 224 << 224) - 2**32, R - 2**224]
    values += [rng.randrange(R) for _ in range(24)]
    assert all(0 <= v < R for v in values)
    return values


@pytest.mark.parametrize("path", ["njit", "python"])
def test_cuda_field_arithmetic_matches_python_ints(rng, path):
    """The device functions compiled by numba for the CPU (numba's real integer typing: the
    typing of the CUDA target) and run as plain Python on NumPy scalars (the simulator's
    typing), on every pair of edge values: a + b, a - b and the Montgomery product a b / R."""
    from numba import njit

    from prover.backends.cuda import field

    f = field.build(njit if path == "njit" else None)
    values = field_edge_values(rng)
    r_inv = field.MONTGOMERY_R_INV
    for a in values:
        ta = field.limb_tuple(a)
        for b in values:
            tb = field.limb_tuple(b)
            assert field.limbs_to_int(f.fr_add(ta, tb)) == (a + b) % R
            assert field.limbs_to_int(f.fr_sub(ta, tb)) == (a - b) % R
            assert field.limbs_to_int(f.fr_mul(ta, tb)) == a * b * r_inv % R
    # Montgomery entry and exit, as the conversion kernels use them.
    for a in values:
        mont = f.fr_mul(field.limb_tuple(a), field.R2)
        assert field.limbs_to_int(mont) == field.to_montgomery_int(a)
        assert field.limbs_to_int(f.fr_mul(mont, field.CANONICAL_ONE)) == a


def test_cuda_field_load_store_compiled(rng):
    """fr_load/fr_store compiled with @njit over uint32[n, 8] rows, in a kernel-shaped loop
    (out[i] = a[i] b[i] + a[i] - b[i]), against Python ints."""
    from numba import njit

    from prover.backends.cuda import field

    f = field.build(njit)
    fr_add, fr_sub, fr_mul, fr_load, fr_store = f.fr_add, f.fr_sub, f.fr_mul, f.fr_load, f.fr_store

    @njit
    def kernel(a, b, out):
        for i in range(a.shape[0]):
            x = fr_load(a, i)
            y = fr_load(b, i)
            fr_store(out, i, fr_sub(fr_add(fr_mul(x, y), x), y))

    values = field_edge_values(rng)
    xs = [x for x in values for _ in values]
    ys = [y for _ in values for y in values]
    rows = lambda vs: np.array([field.int_to_limbs(v) for v in vs], dtype=np.uint32)
    out = np.zeros((len(xs), field.LIMBS), dtype=np.uint32)
    kernel(rows(xs), rows(ys), out)
    r_inv = field.MONTGOMERY_R_INV
    assert [field.limbs_to_int(row) for row in out] == [(x * y * r_inv + x - y) % R for x, y in zip(xs, ys)]


def test_cuda_field_constants():
    from prover.backends.cuda import field

    assert field.limbs_to_int(field.ONE) == 2**256 % R
    assert field.limbs_to_int(field.R2) == pow(2, 512, R)
    assert field.N_PRIME * R % 2**32 == 2**32 - 1  # N' = -r^-1 mod 2^32
    assert field.int_to_limbs(R)[-1] == 0x73EDA753  # top limb: the no-carry condition holds


def test_cuda_vectors_are_the_cpu_backends_bytes(cuda_backend, rng):
    """uint32[n, 8] Montgomery rows on the device are the CPU backend's uint64[n, 4] rows."""
    xs = [x % R for x in EDGE_INTS] + random_ints(rng, 8)
    on_device = cuda_backend.from_ints(xs).copy_to_host()
    cpu = get_backend("cpu").from_ints(xs)
    assert on_device.dtype == np.uint32 and on_device.shape == (len(xs), 8)
    assert np.array_equal(on_device.view(np.uint64), cpu)


@pytest.mark.parametrize("max_blocks", [1, 3])
def test_cuda_reductions_over_other_grids(rng, max_blocks):
    """One block, and a grid that does not divide the work: every thread's share, the block
    trees and the second level agree with the definition."""
    from prover.backends.cuda import CudaBackend, runtime

    if not runtime.available():
        pytest.skip("no CUDA device and the simulator is off")
    backend = CudaBackend(max_blocks=max_blocks)
    n = 2 * 53
    factors = [random_ints(rng, n) for _ in range(3)]
    vecs = [backend.from_ints(f) for f in factors]
    assert backend.sum(vecs[0]) == sum(factors[0]) % R
    assert backend.inner_product(vecs[0], vecs[1]) == sum(x * y for x, y in zip(*factors[:2])) % R
    assert backend.round_evals(vecs, 4) == [round_poly_by_definition(factors, t) for t in range(4)]


def test_cuda_backend_rejects_foreign_vectors(cuda_backend):
    with pytest.raises(TypeError, match="uint32 device arrays of shape"):
        cuda_backend.sum(np.zeros((3, 8), dtype=np.uint32))
    with pytest.raises(TypeError, match="uint32 device arrays of shape"):
        cuda_backend.sum(get_backend("cpu").from_ints([1, 2]))


def test_cuda_backend_rejects_a_grid_without_blocks():
    from prover.backends.cuda import CudaBackend, runtime

    if not runtime.available():
        pytest.skip("no CUDA device and the simulator is off")
    with pytest.raises(ValueError, match="max_blocks must be >= 1, got 0"):
        CudaBackend(max_blocks=0)


# --- the cuda backend's G1 arithmetic and row MSM --------------------------------------------


def fp_edge_values(rng):
    from verifier.curve import P

    values = [0, 1, 2, P - 1, P - 2, P // 2, 2**384 % P, 2**768 % P, 2**381 % P]
    values += [2 ** (32 * k) - 1 for k in range(1, 12)]
    values += [(2**32 - 1) << (32 * k) for k in range(11)]
    values += [(P >> 352 << 352) - 1, P - 2**352]
    values += [rng.randrange(P) for _ in range(12)]
    assert all(0 <= v < P for v in values)
    return values


@pytest.mark.parametrize("path", ["njit", "python"])
def test_cuda_fp_arithmetic_matches_python_ints(rng, path):
    """BLS12-381's Fp on 12 x 32-bit limbs (the MSM's coordinates), from the same generator as
    Fr's: compiled by @njit and as plain Python, on every pair of edge values."""
    from numba import njit

    from prover.backends.cuda import field, g1
    from verifier.curve import P

    f = field.compile_functions("fp", P, g1.LIMBS, njit if path == "njit" else None)
    values = fp_edge_values(rng)
    r_inv = g1.MONTGOMERY_R_INV
    for a in values:
        ta = g1.limb_tuple(a)
        assert bool(f.fp_is_zero(ta)) == (a == 0)
        for b in values:
            tb = g1.limb_tuple(b)
            assert field.limbs_to_int(f.fp_add(ta, tb)) == (a + b) % P
            assert field.limbs_to_int(f.fp_sub(ta, tb)) == (a - b) % P
            assert field.limbs_to_int(f.fp_mul(ta, tb)) == a * b * r_inv % P


def _affine(point):
    raw = bytes(point.to_xy_bytes_le())
    return int.from_bytes(raw[:48], "little"), int.from_bytes(raw[48:], "little")


def test_cuda_xyzz_formulas_match_arkworks(pg):
    """Mixed and general XYZZ additions and doublings, every exceptional case (identity
    operands, P + P, P + (-P)), against arkworks; the plain-Python build (the simulator's)."""
    from prover.backends.cuda import g1
    from prover.commit.group import G1
    from verifier.curve import P

    f = g1.build()

    def affine_limbs(point):
        return tuple(g1.limb_tuple(g1.to_montgomery_int(c)) for c in _affine(point))

    def back(p):
        x, y, zz, zzz = (g1.from_montgomery_int(c) for c in p)
        if zz == 0:
            return G1.identity()
        x, y = x * pow(zz, -1, P) % P, y * pow(zzz, -1, P) % P
        return G1.from_xy_bytes_unchecked_le(x.to_bytes(48, "little") + y.to_bytes(48, "little"))

    a, b = pg.vector(2)
    pa = f.xyzz_madd(g1.IDENTITY, *affine_limbs(a))  # O + a
    assert back(pa) == a
    pab = f.xyzz_madd(pa, *affine_limbs(b))
    assert back(pab) == a + b
    assert back(f.xyzz_madd(pa, *affine_limbs(a))) == a + a  # doubling case
    assert back(f.xyzz_madd(pa, *affine_limbs(G1.identity() - a))) == G1.identity()
    p2a = f.xyzz_dbl(pab)
    assert back(p2a) == (a + b) + (a + b)
    assert back(f.xyzz_add(pab, p2a)) == (a + b) + (a + b) + (a + b)
    assert back(f.xyzz_add(pab, pab)) == (a + b) + (a + b)  # doubling case
    minus = f.xyzz_madd(g1.IDENTITY, *affine_limbs(G1.identity() - a - b))
    assert back(f.xyzz_add(pab, minus)) == G1.identity()
    assert back(f.xyzz_add(g1.IDENTITY, pab)) == a + b
    assert back(f.xyzz_add(pab, g1.IDENTITY)) == a + b
    assert back(f.xyzz_dbl(g1.IDENTITY)) == G1.identity()


def test_cuda_bucket_items_are_sorted_by_row_and_digit():
    from prover.backends.cuda import msm

    scalars = np.array([[5, 0, 7], [1, 5, 4]], dtype=np.uint64)  # 3-bit windows, one window
    order, start = msm.bucket_items(scalars, window=2, windows=2)
    # Row 0: digits (w0) 1, 0, 3 and (w1) 1, 0, 1; row 1: (w0) 1, 1, 0 and (w1) 0, 1, 1.
    buckets = {k: order[start[k] : start[k + 1]].tolist() for k in range(8) if start[k + 1] > start[k]}
    assert buckets == {1: [0, 3, 5], 3: [2], 5: [0, 1, 4, 5]}


def _cuda_msm():
    from prover.backends.cuda import runtime

    if not runtime.available():
        pytest.skip("no CUDA device and the simulator is off")
    from prover.backends.cuda import msm

    return msm


@pytest.mark.parametrize("bits, window", [(6, 3), (5, 2)])
def test_cuda_msm_rows_match_the_cpu_and_arkworks(pg, bits, window):
    """The GPU row MSM (simulator-sized) equals the CPU one, arkworks' and double-and-add;
    a top window narrower than c (5 bits in windows of 2), a zero row and the top scalar."""
    from prover.commit import group, msm_small
    from prover.commit.group import G1

    msm = _cuda_msm()
    points = pg.vector(5)
    scalars = np.random.default_rng(bits).integers(0, 1 << bits, size=(3, 5), dtype=np.uint64)
    scalars[0, :2] = (1 << bits) - 1
    scalars[2] = 0
    got = msm.msm_rows(points, scalars, bits, window=window)
    assert got == msm_small.msm_rows(points, scalars, bits, window=window)
    assert got == [G1.multiexp_unchecked(list(points), group.scalars_from_uint64(row)) for row in scalars]
    assert got[2] == G1.identity()


def test_cuda_msm_handles_repeated_opposite_and_identity_generators(pg):
    """A bucket holding G, G, -G and O: mixed additions meet P + P, P + (-P) and O."""
    from prover.commit import msm_small
    from prover.commit.group import G1

    msm = _cuda_msm()
    g0, g1_ = pg.vector(2)
    minus = G1.identity() - g0
    points = [g0, g0, minus, G1.identity(), g1_, minus]
    scalars = np.array([[3] * 6, [3, 0, 3, 0, 0, 0], [1, 2, 2, 1, 3, 3]], dtype=np.uint64)
    got = msm.msm_rows(points, scalars, 2, window=2)
    assert got == msm_small.msm_rows(points, scalars, 2, window=2)
    assert got[1] == G1.identity()


def test_cuda_msm_empty_shapes_and_bad_inputs(pg):
    from prover.commit.group import G1

    msm = _cuda_msm()
    assert msm.msm_rows(pg.vector(3), np.zeros((0, 3), np.uint64), 8) == []
    assert msm.msm_rows([], np.zeros((2, 0), np.uint64), 8) == [G1.identity()] * 2
    with pytest.raises(ValueError, match="not an unsigned 4-bit integer"):
        msm.msm_rows(pg.vector(2), np.array([[1, 16]], np.uint64), 4)
    with pytest.raises(ValueError, match="3 scalar columns but 2 generators"):
        msm.msm_rows(pg.vector(2), np.zeros((1, 3), np.uint64), 4)


# --- end to end: a training proof with the cuda backend ----------------------------------------


def _tiny_training():
    """The tiny clear/zk training instance of test_training_proof.py (4-8-3 MLP, batch 4, 3
    steps), with its published commitments."""
    import random

    from circuits.mlp import MlpCircuit
    from prover.training import commit_tensor, mlp_witness
    from verifier.training import TrainingStatement

    c = MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(3, 2, 1), range_check="limbs", limb_bits=8)
    data = np.random.default_rng(0)
    x = data.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], data.integers(0, 3, size=(3, 4))] = 1 << 16
    w0 = (data.integers(-(1 << 44), 1 << 44, size=(8, 4)), data.integers(-(1 << 44), 1 << 44, size=(3, 8)))
    b0 = (data.integers(-(1 << 40), 1 << 40, size=8), data.integers(-(1 << 40), 1 << 40, size=3))
    statement = TrainingStatement(c, b'{"run":"tiny"}', w0, b0)
    witness = mlp_witness(c, x, y, w0, b0)
    blinding = random.Random(0)
    published = {n: commit_tensor(statement, n, witness[n], blinding) for n in statement.public_tensors()}
    return statement, witness, published


@pytest.mark.parametrize(
    "runtime",
    [
        "njit",
        pytest.param("simulator", marks=pytest.mark.skipif(
            os.environ.get("ZKTRAIN_CUDA_E2E") != "1",
            reason="about 4 minutes per mode on the simulator: set ZKTRAIN_CUDA_E2E=1")),
    ],
)
@pytest.mark.parametrize("mode", ["clear", "zk"])
def test_training_proof_with_the_cuda_backend_equals_the_cpu_proof(request, runtime, mode):
    """A whole training proof through the cuda backend (its kernels compiled for the CPU, or
    on the simulator) verifies and equals the cpu backend's byte for byte, same randomness."""
    import random

    from prover.backends.cuda import CudaBackend
    from prover.training import prove_training
    from prover.zk_training import prove_training_zk
    from verifier.training import verify_training
    from verifier.zk_training import verify_training_zk

    if runtime == "njit":
        cuda_backend = CudaBackend(runtime=request.getfixturevalue("compiled_cuda_runtime"))
    else:
        from prover.backends.cuda import runtime as cuda_runtime

        if not cuda_runtime.available():
            pytest.skip("no CUDA device and the simulator is off")
        cuda_backend = CudaBackend()
    prove, verify = (prove_training, verify_training) if mode == "clear" else (prove_training_zk, verify_training_zk)
    statement, witness, published = _tiny_training()
    public, proof = prove(statement, witness, cuda_backend, published, random.Random(7))
    verify(statement, public, proof)
    assert proof == prove(statement, witness, get_backend("cpu"), published, random.Random(7))[1]


# --- the CUDA C sources (cuda/*.cu), compiled for the host ------------------------------------


@pytest.fixture(scope="module")
def fr_cu(tmp_path_factory):
    """cuda/fr.cu built for the host (-DFR_HOST_TEST: its field functions behind extern "C"
    loops) by nvcc, loaded with ctypes; the device build is `make cuda-check`'s."""
    import ctypes
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not installed")
    source = Path(__file__).resolve().parents[1] / "cuda" / "fr.cu"
    lib = tmp_path_factory.mktemp("fr_cu") / "libfr.so"
    subprocess.run(["nvcc", "-Xcompiler", "-fPIC", "-shared", "-DFR_HOST_TEST", "-o", str(lib), str(source)],
                   check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


def _rows32(values) -> np.ndarray:
    from prover.backends.cuda import field

    return np.ascontiguousarray(np.array([field.int_to_limbs(v) for v in values], dtype=np.uint32).reshape(-1, 8))


def _call(fn, *arrays_and_ints):
    import ctypes

    args = [a.ctypes.data_as(ctypes.c_void_p) if isinstance(a, np.ndarray) else ctypes.c_uint64(a)
            for a in arrays_and_ints]
    fn(*args)


def test_cuda_c_field_arithmetic_matches_python_ints(fr_cu, rng):
    """fr.cu's add, sub and Montgomery mul (the CUDA C port of field.py) on every pair of edge
    values, against Python ints."""
    from prover.backends.cuda import field

    values = field_edge_values(rng)
    xs = [x for x in values for _ in values]
    ys = [y for _ in values for y in values]
    a, b = _rows32(xs), _rows32(ys)
    r_inv = field.MONTGOMERY_R_INV
    for name, want in [
        ("fr_host_add", [(x + y) % R for x, y in zip(xs, ys)]),
        ("fr_host_sub", [(x - y) % R for x, y in zip(xs, ys)]),
        ("fr_host_mul", [x * y * r_inv % R for x, y in zip(xs, ys)]),
    ]:
        out = np.zeros_like(a)
        _call(getattr(fr_cu, name), a, b, out, len(xs))
        assert [field.limbs_to_int(row) for row in out] == want, name


def test_cuda_c_fold_and_round_match_the_cpu_backend(fr_cu, rng):
    """fr.cu's fold (scalar as four 64-bit Montgomery limbs, the CPU layout) and 3-factor
    round terms on Montgomery rows made by the CPU backend, against the CPU backend."""
    cpu = get_backend("cpu")
    n = 2 * 19
    f, g, h = (cpu.from_ints(random_ints(rng, n)) for _ in range(3))
    rows = lambda v: np.ascontiguousarray(v).view(np.uint32).reshape(-1, 8)
    r = rng.randrange(R)
    out = np.zeros((n // 2, 8), dtype=np.uint32)
    _call(fr_cu.fr_host_fold, rows(f), *(int(w) for w in cpu.from_ints([r])[0]), out, n // 2)
    assert np.array_equal(out.view(np.uint64), cpu.fold(f, r))
    evals = np.zeros((4, 8), dtype=np.uint32)
    _call(fr_cu.fr_host_round_evals_3, rows(f), rows(g), rows(h), evals, n // 2)
    from prover.backends.cuda import field

    assert [field.from_montgomery_int(row) for row in evals] == cpu.round_evals([f, g, h], 4)


def test_cli_prove_takes_the_backend(tmp_path, monkeypatch):
    """``zktrain prove --backend NAME`` overrides the run file's prove.backend: the proof is
    made by that backend (here a recording wrapper around the cpu one) and verifies."""
    import yaml
    from click.testing import CliRunner
    from tiny_run import tiny_run

    import zktrain.prove as prove_module
    from verifier.bundle import verify_bundle
    from zktrain.cli import main

    asked = []

    def recording_get_backend(name):
        asked.append(name)
        return get_backend("cpu")

    monkeypatch.setattr(prove_module, "get_backend", recording_get_backend)
    run = tmp_path / "tiny.yaml"
    run.write_text(yaml.safe_dump(tiny_run({}, name="tiny-backend")))
    out = tmp_path / "tiny.zkp"
    result = CliRunner().invoke(main, ["prove", "--run", str(run), "--out", str(out), "--backend", "reference"])
    assert result.exit_code == 0, result.output
    assert asked == ["reference"] and "backend reference" in result.output
    assert verify_bundle(out.read_bytes()).accepted
    result = CliRunner().invoke(main, ["prove", "--run", str(run), "--backend", "gpu"])
    assert result.exit_code != 0 and "'gpu' is not one of" in result.output
