"""Vector kernels over Fr in Montgomery form: numba, ``parallel=True``, disk-cached.

Vectors are C-contiguous uint64[n, 4] arrays (one element per row, see ``montgomery.py``).
Kernels that produce vectors write into an ``out`` array the caller allocates with numpy:
numpy asks for transparent huge pages on large arrays and numba's allocator does not, and
the page faults of a fresh 2^20-row result cost 8 to 11 ns more per element (measured).
Elementwise kernels split rows over threads with ``prange`` (the caller picks the thread
count). Reductions give each thread a contiguous chunk and return the chunks' exact integer
sums of residues (five limbs, see ``montgomery.accumulate``); the caller adds them and
reduces mod r once. Nothing is compiled at import: each kernel compiles, or loads from the
cache in ``__pycache__``, on its first call.

Sumcheck round evaluations follow Thaler, "Proofs, Arguments, and Zero-Knowledge", section
4.1: binding variable 0 to t turns the pair (f[2i], f[2i+1]) into f[2i] + t (f[2i+1] - f[2i]),
so s(t) = sum_i prod_k f_k,i(t), and f_k,i(t + 1) = f_k,i(t) + (f[2i+1] - f[2i]) gives each
further point for one addition per factor. A product of k factors has degree k in t, so the
kernels compute s(0..k) and the backend extends to more points by interpolation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit, prange
from numba.core.caching import FunctionCache

from . import montgomery as mg
from .montgomery import LIMBS, WIDE_LIMBS, accumulate, add, load, mul, store, store_wide, sub

# numba keys a function's disk cache on its own source file only (documented limitation:
# changes to functions in other files do not invalidate it). The kernels compile the
# arithmetic of montgomery.py into themselves, so a stale cache after an edit there would
# silently run the old arithmetic: key the kernels' cache on that file's contents as well.
_ARITHMETIC_DIGEST = hashlib.sha256(Path(mg.__file__).read_bytes()).hexdigest()


class _KernelCache(FunctionCache):
    """numba's per-function disk cache, with montgomery.py's digest in the index key."""

    def _index_key(self, sig, codegen):
        return super()._index_key(sig, codegen) + (_ARITHMETIC_DIGEST,)


def _jit(fn, parallel):
    dispatcher = njit(parallel=parallel)(fn)
    # What Dispatcher.enable_caching() does for cache=True, with our cache class.
    dispatcher._cache = _KernelCache(dispatcher.py_func)
    return dispatcher


def _kernel(fn):
    """``njit(parallel=True, cache=True)`` with the dependency-aware cache above."""
    return _jit(fn, parallel=True)


def _serial_kernel(fn):
    """``njit(cache=True)`` with the dependency-aware cache, for single-threaded work."""
    return _jit(fn, parallel=False)


@njit(inline="always", cache=True)
def _chunk_count(n, threads):
    """At least one chunk, and no more chunks than items."""
    return max(1, min(n, threads))


@njit(inline="always", cache=True)
def _chunk_bounds(c, chunks, n):
    return c * n // chunks, (c + 1) * n // chunks


# --- conversions ----------------------------------------------------------------------


@njit(inline="always", cache=True)
def _embed(v):
    """The Montgomery form of the signed int64 v mod r."""
    zero = np.uint64(0)
    # |v| as uint64 by wrapping negation: correct for int64 min too (2^63).
    magnitude = np.uint64(v) if v >= 0 else zero - np.uint64(v)
    x = mg.to_montgomery((magnitude, zero, zero, zero))
    return x if v >= 0 else sub(mg.ZERO, x)


@_kernel
def from_int64(a, out):
    """out[i] = Montgomery form of a[i] mod r for signed int64 values a[i]."""
    n = a.shape[0]
    for i in prange(n):
        store(out, i, _embed(a[i]))


@_kernel
def tile_sub_int64(pattern, a, out):
    """out[i] = pattern[i mod len(pattern)] - a[i] for signed int64 a[i] (``from_int64``'s
    embedding, subtracted in the same pass: a logUp leaf's beta - alpha b_slot - limb)."""
    n = a.shape[0]
    w = pattern.shape[0]
    for i in prange(n):
        store(out, i, sub(load(pattern, i % w), _embed(a[i])))


@_kernel
def to_montgomery(a, out):
    """Canonical limbs (each row < r) -> Montgomery form."""
    n = a.shape[0]
    for i in prange(n):
        store(out, i, mg.to_montgomery(load(a, i)))


@_kernel
def from_montgomery(a, out):
    """Montgomery form -> canonical limbs in [0, r)."""
    n = a.shape[0]
    for i in prange(n):
        store(out, i, mg.from_montgomery(load(a, i)))


@_kernel
def gkr_parent(p, q, out_p, out_q):
    """The layer above (p, q) in a fraction tree, children split by the top variable (halves):
    out_p[i] = p[i] q[i+h] + p[i+h] q[i], out_q[i] = q[i] q[i+h], h = len(out_q)."""
    h = out_q.shape[0]
    for i in prange(h):
        q0 = load(q, i)
        q1 = load(q, i + h)
        store(out_p, i, add(mul(load(p, i), q1), mul(load(p, i + h), q0)))
        store(out_q, i, mul(q0, q1))


@_kernel
def gkr_unit_parent(q, out_p, out_q):
    """``gkr_parent`` over unit numerators: out_p[i] = q[i] + q[i+h], out_q[i] = q[i] q[i+h]."""
    h = out_q.shape[0]
    for i in prange(h):
        q0 = load(q, i)
        q1 = load(q, i + h)
        store(out_p, i, add(q0, q1))
        store(out_q, i, mul(q0, q1))


@_kernel
def gkr_unit_parent_int64(pattern, a, out_p, out_q):
    """``gkr_unit_parent`` of the leaves d[i] = pattern[i mod len(pattern)] - a[i]
    (``tile_sub_int64``'s), read from the integers: the leaves are never stored."""
    h = out_q.shape[0]
    w = pattern.shape[0]
    for i in prange(h):
        q0 = sub(load(pattern, i % w), _embed(a[i]))
        q1 = sub(load(pattern, (i + h) % w), _embed(a[i + h]))
        store(out_p, i, add(q0, q1))
        store(out_q, i, mul(q0, q1))


@_kernel
def to_int64(a, out, fits):
    """out[i] = the representative of a[i] in (-r/2, r/2] as int64; fits[i] = whether it fits.

    x <= (r - 1)/2 stands for x itself, a larger x for x - r = -(r - x). An entry that does
    not fit in int64 is flagged in ``fits`` (its ``out`` slot is then meaningless).
    """
    n = a.shape[0]
    zero = np.uint64(0)
    int64_max = np.uint64(0x7FFFFFFFFFFFFFFF)
    for i in prange(n):
        x = mg.from_montgomery(load(a, i))
        if x[3] == zero and x[2] == zero and x[1] == zero:
            # x < 2^64, far below (r - 1)/2: x is its own representative.
            out[i] = np.int64(x[0] & int64_max)
            fits[i] = x[0] <= int64_max
        else:
            # x >= 2^64: either x - r with magnitude r - x (fits iff r - x <= 2^63), or a
            # positive x >= 2^64, whose r - x > r/2 fails the same test.
            d = sub(mg.ZERO, x)
            small = d[3] == zero and d[2] == zero and d[1] == zero
            fits[i] = small and d[0] <= int64_max + np.uint64(1)
            # Two's complement of the magnitude; 2^63 wraps to int64 min as it must.
            out[i] = np.int64(zero - d[0])


# --- elementwise ----------------------------------------------------------------------


@_kernel
def vec_add(a, b, out):
    n = a.shape[0]
    for i in prange(n):
        store(out, i, add(load(a, i), load(b, i)))


@_kernel
def vec_sub(a, b, out):
    n = a.shape[0]
    for i in prange(n):
        store(out, i, sub(load(a, i), load(b, i)))


@_kernel
def vec_mul(a, b, out):
    n = a.shape[0]
    for i in prange(n):
        store(out, i, mul(load(a, i), load(b, i)))


@_kernel
def scalar_mul(a, c, out):
    """a * c for a scalar c given as one Montgomery row (uint64[1, 4])."""
    n = a.shape[0]
    s = load(c, 0)
    for i in prange(n):
        store(out, i, mul(load(a, i), s))


# --- reductions -----------------------------------------------------------------------


@_kernel
def vec_sum(a, threads):
    """Per-chunk sums of the residues a[i] (uint64[chunks, 5]); sum them mod r."""
    n = a.shape[0]
    chunks = _chunk_count(n, threads)
    partial = np.empty((chunks, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, n)
        acc = mg.WIDE_ZERO
        for i in range(lo, hi):
            acc = accumulate(acc, load(a, i))
        store_wide(partial, c, acc)
    return partial


@_kernel
def inner_product(a, b, threads):
    """Per-chunk sums of the residues a[i] b[i] (uint64[chunks, 5]); sum them mod r."""
    n = a.shape[0]
    chunks = _chunk_count(n, threads)
    partial = np.empty((chunks, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, n)
        acc = mg.WIDE_ZERO
        for i in range(lo, hi):
            acc = accumulate(acc, mul(load(a, i), load(b, i)))
        store_wide(partial, c, acc)
    return partial


# --- multilinear extensions -----------------------------------------------------------


@_kernel
def fold(v, r, out):
    """Bind variable 0 to r (one Montgomery row): out[i] = v[2i] + r (v[2i+1] - v[2i]).

    The pairs are read as the rows of v viewed as [m, 8] (row i is v[2i], v[2i+1]): the same
    loads, but LLVM compiles this form faster than rows 2i and 2i + 1 of the [n, 4] array
    (``bench_field.py``'s fold row, 2^20 -> 2^19, 2026-12-08: 21-25 against 30-39 ns per
    output on one thread, 11.2-11.5 against 12.9-13.2 on two)."""
    m = v.shape[0] // 2
    pairs = v.reshape(m, 2 * LIMBS)
    s = load(r, 0)
    for i in prange(m):
        lo = (pairs[i, 0], pairs[i, 1], pairs[i, 2], pairs[i, 3])
        hi = (pairs[i, 4], pairs[i, 5], pairs[i, 6], pairs[i, 7])
        store(out, i, add(lo, mul(s, sub(hi, lo))))


@_kernel
def fold_int64(a, r, out):
    """``fold`` of the int64 vector a's embedding: out[i] = a[2i] + r (a[2i+1] - a[2i]) mod r
    (the difference taken in the field: a[2i+1] - a[2i] may overflow int64)."""
    m = a.shape[0] // 2
    s = load(r, 0)
    for i in prange(m):
        lo = _embed(a[2 * i])
        store(out, i, add(lo, mul(s, sub(_embed(a[2 * i + 1]), lo))))


@_kernel
def split_inner_products_int64(v, a, threads):
    """Per-chunk sums of v[i] a[2i] and v[i] a[2i+1] for int64 (or int32) a, as exact integer
    sums of residues times magnitudes: uint64[chunks, 4, 6] holds the sums over a[2i] >= 0,
    a[2i] < 0, a[2i+1] >= 0, a[2i+1] < 0 (``accumulate_scaled``: no embedding of a, no
    Montgomery product); the caller subtracts and reduces mod r once."""
    m = v.shape[0]
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 4, mg.SCALED_LIMBS), np.uint64)
    zero = np.uint64(0)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        acc0p = mg.SCALED_ZERO
        acc0n = mg.SCALED_ZERO
        acc1p = mg.SCALED_ZERO
        acc1n = mg.SCALED_ZERO
        for i in range(lo, hi):
            e = load(v, i)
            x0 = a[2 * i]
            x1 = a[2 * i + 1]
            # |x| by wrapping negation (int64 min included), into the sum of its sign.
            if x0 >= 0:
                acc0p = mg.accumulate_scaled(acc0p, e, np.uint64(x0))
            else:
                acc0n = mg.accumulate_scaled(acc0n, e, zero - np.uint64(x0))
            if x1 >= 0:
                acc1p = mg.accumulate_scaled(acc1p, e, np.uint64(x1))
            else:
                acc1n = mg.accumulate_scaled(acc1n, e, zero - np.uint64(x1))
        for k in range(mg.SCALED_LIMBS):
            partial[c, 0, k] = acc0p[k]
            partial[c, 1, k] = acc0n[k]
            partial[c, 2, k] = acc1p[k]
            partial[c, 3, k] = acc1n[k]
    return partial


@njit(inline="always", cache=True)
def _load_scaled(x, i):
    return (x[i, 0], x[i, 1], x[i, 2], x[i, 3], x[i, 4], x[i, 5])


@njit(inline="always", cache=True)
def _store_scaled(x, i, v):
    for k in range(mg.SCALED_LIMBS):
        x[i, k] = v[k]


@njit(inline="always", cache=True)
def _residue_of_scaled(v):
    """v mod r for a 6-limb v (an ``accumulate_scaled`` sum), as a reduced residue: with
    v = lo + 2^256 hi, hi < 2^128 < r, it is lo mod r (lo < 3r: two conditional
    subtractions, ``add`` of 0) plus hi 2^256 = mul(hi, R^2) (a Montgomery product
    divides by 2^256 once)."""
    lo = (v[0], v[1], v[2], v[3])
    hi = (v[4], v[5], np.uint64(0), np.uint64(0))
    return add(add(add(lo, mg.ZERO), mg.ZERO), mul(hi, mg.R2))


@_kernel
def bind_axis_int64(a, eq, out):
    """out[p post + q] = sum_t eq[t] a[p, t, q] for int64 (or int32) a [pre, n, post] (the
    middle axis bound by its eq table). Blocks of an output row (p fixed, a range of q) go to
    the threads, so that a few long rows still spread; within a block t runs outside q,
    reading a in order while the block's partial sums stay in cache. The partial sums are
    exact integer sums of residues times magnitudes (``accumulate_scaled``: four 64-bit
    products a term, against an embedding and a Montgomery product), one for each sign,
    reduced once per output."""
    pre, n, post = a.shape
    width = min(post, 1024)
    per_row = (post + width - 1) // width
    zero = np.uint64(0)
    for block in prange(pre * per_row):
        p = block // per_row
        lo = (block % per_row) * width
        hi = min(post, lo + width)
        positive = np.zeros((hi - lo, mg.SCALED_LIMBS), np.uint64)
        negative = np.zeros((hi - lo, mg.SCALED_LIMBS), np.uint64)
        for t in range(n):
            e = load(eq, t)
            for q in range(lo, hi):
                x = a[p, t, q]
                if x >= 0:
                    _store_scaled(positive, q - lo, mg.accumulate_scaled(_load_scaled(positive, q - lo), e, np.uint64(x)))
                else:  # |x| by wrapping negation, int64 min included
                    _store_scaled(negative, q - lo, mg.accumulate_scaled(_load_scaled(negative, q - lo), e, zero - np.uint64(x)))
        base = p * post
        for q in range(lo, hi):
            store(out, base + q, sub(_residue_of_scaled(_load_scaled(positive, q - lo)),
                                     _residue_of_scaled(_load_scaled(negative, q - lo))))


@_serial_kernel
def eq_table_doubling(point, out):
    """out[x] = eq(u, x) for all x in {0,1}^k (u = point, k rows), index x = sum_j x_j 2^j.

    Doubling per variable (Thaler, "Proofs, Arguments, and Zero-Knowledge", Lemma 3.8): the
    table for u_0..u_j is the one for u_0..u_{j-1} times (1 - u_j) in its lower half and
    times u_j in its upper half (bit j set), one multiplication per new entry since
    t (1 - u_j) = t - t u_j. Single-threaded: it builds the half-size factor tables of
    ``eq_table_product``, whose early levels are too small to share out.
    """
    store(out, 0, mg.ONE)
    size = 1
    for j in range(point.shape[0]):
        u = load(point, j)
        for x in range(size):
            t = load(out, x)
            high = mul(t, u)
            store(out, x + size, high)
            store(out, x, sub(t, high))
        size *= 2


@_kernel
def eq_table_product(low, high, out):
    """out[x_low + |low| x_high] = low[x_low] high[x_high]: the eq-table of (u_low, u_high)
    from those of its low and high variables, since eq factors over the variables."""
    size = low.shape[0]
    for h in prange(high.shape[0]):
        e = load(high, h)
        for x in range(size):
            store(out, h * size + x, mul(load(low, x), e))


@_kernel
def eq_table_product_add(low, high, acc):
    """acc[x_low + |low| x_high] += low[x_low] high[x_high], in place (``eq_table_product``
    accumulated: the claims ledger's combined eq, one claim at a time)."""
    size = low.shape[0]
    for h in prange(high.shape[0]):
        e = load(high, h)
        for x in range(size):
            i = h * size + x
            store(acc, i, add(load(acc, i), mul(load(low, x), e)))


@_kernel
def round_evals_1(f, num_points, threads):
    """s(t) = sum_i f_i(t) for t < num_points <= 2 (sums of the even and odd entries).

    Like every round kernel, returns the per-chunk sums partial[c, t] (uint64[chunks, k + 1,
    5] for k factors): s(t) = sum_c partial[c, t] mod r for t < num_points; rows t beyond
    num_points hold zeros.
    """
    m = f.shape[0] // 2
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 2, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        for i in range(lo, hi):
            s0 = accumulate(s0, load(f, 2 * i))
            if num_points > 1:
                s1 = accumulate(s1, load(f, 2 * i + 1))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
    return partial


@_kernel
def round_evals_2(f, g, num_points, threads):
    """s(t) = sum_i f_i(t) g_i(t) for t < num_points <= 3."""
    m = f.shape[0] // 2
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 3, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        s2 = mg.WIDE_ZERO
        for i in range(lo, hi):
            f0 = load(f, 2 * i)
            g0 = load(g, 2 * i)
            s0 = accumulate(s0, mul(f0, g0))
            if num_points > 1:
                f1 = load(f, 2 * i + 1)
                g1 = load(g, 2 * i + 1)
                s1 = accumulate(s1, mul(f1, g1))
                if num_points > 2:
                    f2 = add(f1, sub(f1, f0))
                    g2 = add(g1, sub(g1, g0))
                    s2 = accumulate(s2, mul(f2, g2))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
        store_wide(partial[c], 2, s2)
    return partial


@_kernel
def round_evals_3(f, g, h, num_points, threads):
    """s(t) = sum_i f_i(t) g_i(t) h_i(t) for t < num_points <= 4 (eq x a x b and kin)."""
    m = f.shape[0] // 2
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 4, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        s2 = mg.WIDE_ZERO
        s3 = mg.WIDE_ZERO
        for i in range(lo, hi):
            f0 = load(f, 2 * i)
            g0 = load(g, 2 * i)
            h0 = load(h, 2 * i)
            s0 = accumulate(s0, mul(mul(f0, g0), h0))
            if num_points > 1:
                f1 = load(f, 2 * i + 1)
                g1 = load(g, 2 * i + 1)
                h1 = load(h, 2 * i + 1)
                s1 = accumulate(s1, mul(mul(f1, g1), h1))
                if num_points > 2:
                    df = sub(f1, f0)
                    dg = sub(g1, g0)
                    dh = sub(h1, h0)
                    f2 = add(f1, df)
                    g2 = add(g1, dg)
                    h2 = add(h1, dh)
                    s2 = accumulate(s2, mul(mul(f2, g2), h2))
                    if num_points > 3:
                        s3 = accumulate(s3, mul(mul(add(f2, df), add(g2, dg)), add(h2, dh)))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
        store_wide(partial[c], 2, s2)
        store_wide(partial[c], 3, s3)
    return partial


@_kernel
def round_evals_gkr(e, p0, p1, q0, q1, gamma, num_points, threads):
    """s(t) = sum_i e_i(t) (p0_i(t) q1_i(t) + q0_i(t) (p1_i(t) + gamma q1_i(t))) for t < num_points
    <= 4: a logUp-GKR layer's round (``verifier.logup.layer_shape``) in one pass over its five
    tables. Three separate products cost 24 multiplications per pair; this form costs 14
    (u = p1 + gamma q1 is linear in t, so it is multiplied out at t = 0, 1 only)."""
    m = e.shape[0] // 2
    g = load(gamma, 0)
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 4, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        s2 = mg.WIDE_ZERO
        s3 = mg.WIDE_ZERO
        for i in range(lo, hi):
            e0 = load(e, 2 * i)
            a0 = load(p0, 2 * i)
            c0 = load(q0, 2 * i)
            d0 = load(q1, 2 * i)
            u0 = add(load(p1, 2 * i), mul(g, d0))
            s0 = accumulate(s0, mul(e0, add(mul(a0, d0), mul(c0, u0))))
            if num_points > 1:
                e1 = load(e, 2 * i + 1)
                a1 = load(p0, 2 * i + 1)
                c1 = load(q0, 2 * i + 1)
                d1 = load(q1, 2 * i + 1)
                u1 = add(load(p1, 2 * i + 1), mul(g, d1))
                s1 = accumulate(s1, mul(e1, add(mul(a1, d1), mul(c1, u1))))
                if num_points > 2:
                    de = sub(e1, e0)
                    da = sub(a1, a0)
                    dc = sub(c1, c0)
                    dd = sub(d1, d0)
                    du = sub(u1, u0)
                    e2 = add(e1, de)
                    a2 = add(a1, da)
                    c2 = add(c1, dc)
                    d2 = add(d1, dd)
                    u2 = add(u1, du)
                    s2 = accumulate(s2, mul(e2, add(mul(a2, d2), mul(c2, u2))))
                    if num_points > 3:
                        e3 = add(e2, de)
                        a3 = add(a2, da)
                        c3 = add(c2, dc)
                        d3 = add(d2, dd)
                        u3 = add(u2, du)
                        s3 = accumulate(s3, mul(e3, add(mul(a3, d3), mul(c3, u3))))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
        store_wide(partial[c], 2, s2)
        store_wide(partial[c], 3, s3)
    return partial


@_kernel
def round_sums_gkr_split_eq(e, p0, p1, q0, q1, gamma, threads):
    """h(t) = sum_i (e[2i] + e[2i+1]) (p0_i(t) q1_i(t) + q0_i(t) u_i(t)), u = p1 + gamma q1, at
    t = 0, 1, 2 (uint64[chunks, 3, 5]): ``round_evals_gkr`` with the eq table's factor in the
    bound variable split off (Gruen, "Some Improvements for the PIOP for ZeroCheck", ePrint
    2024/108, section 3). For e = c eq1(u_0, x_0) e'(x'), the round is s(t) = eq1(u_0, t) h(t)
    (``CpuBackend.gkr_round_evals``): h has degree 2, so 11 multiplications per pair, not 14."""
    m = e.shape[0] // 2
    g = load(gamma, 0)
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 3, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        s2 = mg.WIDE_ZERO
        for i in range(lo, hi):
            w = add(load(e, 2 * i), load(e, 2 * i + 1))
            a0 = load(p0, 2 * i)
            c0 = load(q0, 2 * i)
            d0 = load(q1, 2 * i)
            u0 = add(load(p1, 2 * i), mul(g, d0))
            a1 = load(p0, 2 * i + 1)
            c1 = load(q0, 2 * i + 1)
            d1 = load(q1, 2 * i + 1)
            u1 = add(load(p1, 2 * i + 1), mul(g, d1))
            s0 = accumulate(s0, mul(w, add(mul(a0, d0), mul(c0, u0))))
            s1 = accumulate(s1, mul(w, add(mul(a1, d1), mul(c1, u1))))
            a2 = sub(add(a1, a1), a0)
            c2 = sub(add(c1, c1), c0)
            d2 = sub(add(d1, d1), d0)
            u2 = sub(add(u1, u1), u0)
            s2 = accumulate(s2, mul(w, add(mul(a2, d2), mul(c2, u2))))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
        store_wide(partial[c], 2, s2)
    return partial


@_kernel
def round_sums_gkr_leaf_split_eq(e, q0, q1, gamma, one, threads):
    """h(t) = sum_i (e[2i] + e[2i+1]) (q1_i(t) + q0_i(t) (1 + gamma q1_i(t))) at t = 0, 1, 2
    (uint64[chunks, 3, 5]): ``round_evals_gkr_leaf`` with the eq factor split off, as
    ``round_sums_gkr_split_eq`` (8 multiplications per pair, not 10)."""
    m = e.shape[0] // 2
    g = load(gamma, 0)
    o = load(one, 0)
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 3, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        s2 = mg.WIDE_ZERO
        for i in range(lo, hi):
            w = add(load(e, 2 * i), load(e, 2 * i + 1))
            c0 = load(q0, 2 * i)
            d0 = load(q1, 2 * i)
            u0 = add(o, mul(g, d0))
            c1 = load(q0, 2 * i + 1)
            d1 = load(q1, 2 * i + 1)
            u1 = add(o, mul(g, d1))
            s0 = accumulate(s0, mul(w, add(d0, mul(c0, u0))))
            s1 = accumulate(s1, mul(w, add(d1, mul(c1, u1))))
            c2 = sub(add(c1, c1), c0)
            d2 = sub(add(d1, d1), d0)
            u2 = sub(add(u1, u1), u0)
            s2 = accumulate(s2, mul(w, add(d2, mul(c2, u2))))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
        store_wide(partial[c], 2, s2)
    return partial


@_kernel
def round_evals_gkr_leaf(e, q0, q1, gamma, one, num_points, threads):
    """s(t) = sum_i e_i(t) (q1_i(t) + q0_i(t) (1 + gamma q1_i(t))) for t < num_points <= 4: the
    round of a logUp-GKR layer whose children are unit leaves (``verifier.logup.leaf_layer_shape``,
    p0 = p1 = 1), in one pass over its three tables; ``round_evals_gkr``'s form without the
    numerators (10 multiplications per pair instead of 14, three tables read instead of five)."""
    m = e.shape[0] // 2
    g = load(gamma, 0)
    o = load(one, 0)
    chunks = _chunk_count(m, threads)
    partial = np.empty((chunks, 4, WIDE_LIMBS), np.uint64)
    for c in prange(chunks):
        lo, hi = _chunk_bounds(c, chunks, m)
        s0 = mg.WIDE_ZERO
        s1 = mg.WIDE_ZERO
        s2 = mg.WIDE_ZERO
        s3 = mg.WIDE_ZERO
        for i in range(lo, hi):
            e0 = load(e, 2 * i)
            c0 = load(q0, 2 * i)
            d0 = load(q1, 2 * i)
            u0 = add(o, mul(g, d0))
            s0 = accumulate(s0, mul(e0, add(d0, mul(c0, u0))))
            if num_points > 1:
                e1 = load(e, 2 * i + 1)
                c1 = load(q0, 2 * i + 1)
                d1 = load(q1, 2 * i + 1)
                u1 = add(o, mul(g, d1))
                s1 = accumulate(s1, mul(e1, add(d1, mul(c1, u1))))
                if num_points > 2:
                    de = sub(e1, e0)
                    dc = sub(c1, c0)
                    dd = sub(d1, d0)
                    du = sub(u1, u0)
                    e2 = add(e1, de)
                    c2 = add(c1, dc)
                    d2 = add(d1, dd)
                    u2 = add(u1, du)
                    s2 = accumulate(s2, mul(e2, add(d2, mul(c2, u2))))
                    if num_points > 3:
                        e3 = add(e2, de)
                        c3 = add(c2, dc)
                        d3 = add(d2, dd)
                        u3 = add(u2, du)
                        s3 = accumulate(s3, mul(e3, add(d3, mul(c3, u3))))
        store_wide(partial[c], 0, s0)
        store_wide(partial[c], 1, s1)
        store_wide(partial[c], 2, s2)
        store_wide(partial[c], 3, s3)
    return partial
