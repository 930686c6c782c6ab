"""Conformance of every FieldBackend: one test body per operation, run over each backend.

The oracles are plain Python ints, galois (an independent GF(r) implementation) and the
verifier's polynomial module, which fixes the little-endian variable order (DESIGN
section 9). ``rng`` and ``gf`` (galois' GF(r)) come from conftest.py; ``backend`` here
extends conftest's with a CPU backend that runs its kernels multi-threaded even on these
small vectors.
"""

from __future__ import annotations

import operator

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


@pytest.fixture(params=["reference", "cpu", "cpu-parallel"])
def backend(request):
    if request.param == "cpu-parallel":
        from prover.backends.cpu import CpuBackend

        return CpuBackend(parallel_min_rows=0)
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


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_eq_table_matches_the_verifier(backend, rng, k):
    u = random_ints(rng, k)
    table = backend.to_ints(backend.eq_table(u))
    assert table == polynomial.eq_table(u)
    for x in range(1 << k):
        bits = [(x >> j) & 1 for j in range(k)]  # little-endian: variable j is bit j
        assert table[x] == polynomial.eq_eval(u, bits)


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
    if backend.name == "reference":
        pairs = min(pairs, 64)  # pure Python: the threaded size matters for the CPU kernel only
    e, p0, p1, q0, q1 = (random_ints(rng, 2 * pairs) for _ in range(5))
    gamma = rng.randrange(R)
    got = backend.gkr_round_evals([backend.from_ints(v) for v in (e, p0, p1, q0, q1)], gamma, num_points)
    want = [
        (round_poly_by_definition([e, p0, q1], t) + round_poly_by_definition([e, p1, q0], t)
         + gamma * round_poly_by_definition([e, q0, q1], t)) % R
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


def test_get_backend_names():
    assert get_backend("reference").name == "reference"
    assert get_backend("cpu").name == "cpu"
    assert get_backend("auto").name == "cpu"  # no CUDA backend yet
    with pytest.raises(ValueError, match="'cuda' is not implemented"):
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
