"""numba.cuda kernels over Fr vectors held on the device as uint32[n, 8] Montgomery rows.

Importing this module imports ``numba.cuda``: the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)
must be chosen before that (see ``runtime.py``). The field arithmetic is ``field.py``'s,
compiled here as CUDA device functions.

Every kernel walks a grid-stride loop (``for i in range(cuda.grid(1), n, cuda.gridsize(1))``),
so any grid covers any length. Kernels that produce vectors write into an ``out`` array the
caller allocates; none works in place across threads (a fold writes slot i while another
block may still read slot 2i: ping-pong buffers instead, gpu-backend notes section 2).

Reductions are two-level: each thread adds its elements' terms mod r in registers, the block
combines its threads by a tree in shared memory (log2(BLOCK) levels, ``syncthreads`` between
levels) and writes one partial per block and per point to ``partial`` (rows b K + k for K
points); ``reduce_partials`` then sums those rows with one block into ``out[K, 8]``, and only
those K rows (at most 4 x 32 bytes, the round polynomial) go back to the host. Modular
additions keep every value reduced, so the result is canonical Montgomery limbs.

Sumcheck rounds follow Thaler, "Proofs, Arguments, and Zero-Knowledge", section 4.1:
binding variable 0 to t turns the pair (f[2i], f[2i+1]) into f[2i] + t (f[2i+1] - f[2i]), and
each further point t + 1 costs one addition per factor. The kernels compute s(0..k) for k
factors; the backend extends to more points by interpolation.
"""

from __future__ import annotations

import numpy as np
from numba import cuda, uint32
from numba.core import config

from . import field

#: True when numba.cuda is the simulator (kernels run as Python threads on the CPU).
SIMULATOR = bool(config.ENABLE_CUDASIM)
#: Threads per block, a power of two (the block trees halve it). The simulator runs one OS
#: thread per CUDA thread and its syncthreads is slow: small blocks there. On a device, 128:
#: the round kernels take 150-255 registers per thread (``make cuda-check``), and 256 threads
#: at 255 registers would need the whole register file of an SM for one block.
BLOCK = 32 if SIMULATOR else 128
#: Most points a reduction kernel produces (a 3-factor round: s(0..3)).
POINTS = 4
#: Shared-memory rows of a block tree: BLOCK threads x POINTS values (16 KiB at BLOCK 128).
SHARED_ROWS = BLOCK * POINTS
LIMBS = field.LIMBS

_F = field.build(cuda.jit(device=True))
fr_add = _F.fr_add
fr_sub = _F.fr_sub
fr_mul = _F.fr_mul
fr_load = _F.fr_load
fr_store = _F.fr_store

ZERO = field.ZERO
ONE = field.ONE
R2 = field.R2
CANONICAL_ONE = field.CANONICAL_ONE
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_UZERO = np.uint64(0)
_UONE = np.uint64(1)
_SIGN = np.uint64(0x80000000)


# --- block reduction (shared by every reduction kernel) -------------------------------------


@cuda.jit(device=True)
def _tree_level(sh, tid, half, k_points):
    """One level of the block tree: row tid += row tid + half, for each of k_points values."""
    for k in range(k_points):
        lo = tid * POINTS + k
        fr_store(sh, lo, fr_add(fr_load(sh, lo), fr_load(sh, lo + half * POINTS)))


@cuda.jit(device=True)
def _block_reduce(sh, partial, k_points):
    """Sum the block's shared rows (thread t's values at rows t POINTS + k) by a tree and
    write the block's k_points sums to partial rows blockIdx.x k_points + k."""
    tid = cuda.threadIdx.x
    cuda.syncthreads()
    half = BLOCK // 2
    while half > 0:
        if tid < half:
            _tree_level(sh, tid, half, k_points)
        cuda.syncthreads()
        half //= 2
    # The block's sum of value k is row k (thread 0's); threads k < k_points write them out
    # (a loop, not an if, so that a block of fewer threads than points stays correct).
    for k in range(tid, k_points, BLOCK):
        fr_store(partial, cuda.blockIdx.x * k_points + k, fr_load(sh, k))


@cuda.jit
def reduce_partials(partial, k_points, out):
    """Second level, one block: out[k] = sum over b of partial[b k_points + k]."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    tid = cuda.threadIdx.x
    blocks = partial.shape[0] // k_points
    for k in range(k_points):
        acc = ZERO
        for b in range(tid, blocks, BLOCK):
            acc = fr_add(acc, fr_load(partial, b * k_points + k))
        fr_store(sh, tid * POINTS + k, acc)
    _block_reduce(sh, out, k_points)


# --- conversions ------------------------------------------------------------------------------


@cuda.jit
def from_int64(a, out):
    """out[i] = Montgomery form of the int64 a[i] mod r; a is the int64 data viewed as
    uint32[n, 2] (two's complement, little-endian), so no signed value enters the kernel."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        lo = np.uint64(a[i, 0])
        hi = np.uint64(a[i, 1])
        negative = hi >= _SIGN
        # |v| = (~v + 1) mod 2^64 for negative v (2^63 for int64 min), without wrapping.
        s = (_MASK - lo) + _UONE
        nlo = s & _MASK
        nhi = ((_MASK - hi) + (s >> _SHIFT)) & _MASK
        mlo = nlo if negative else lo
        mhi = nhi if negative else hi
        x = fr_mul((mlo, mhi, _UZERO, _UZERO, _UZERO, _UZERO, _UZERO, _UZERO), R2)
        y = fr_sub(ZERO, x)
        fr_store(out, i, y if negative else x)


@cuda.jit
def to_montgomery(a, out):
    """Canonical limbs (each row < r) -> Montgomery form (multiplication by R^2)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, fr_mul(fr_load(a, i), R2))


@cuda.jit
def from_montgomery(a, out):
    """Montgomery form -> canonical limbs in [0, r) (multiplication by the integer 1)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, fr_mul(fr_load(a, i), CANONICAL_ONE))


@cuda.jit
def to_int64(a, out, fits):
    """out[i] (uint32[n, 2], an int64 in two's complement) = the representative of a[i] in
    (-r/2, r/2]; fits[i] = 1 iff it lies in int64 (out is meaningless otherwise).

    x < 2^63 stands for itself; otherwise d = r - x and x stands for -d, which fits iff
    d <= 2^63 (a positive x >= 2^63 has d > r/2 and fails the same test).
    """
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        x = fr_mul(fr_load(a, i), CANONICAL_ONE)
        x_small = (x[2] | x[3] | x[4] | x[5] | x[6] | x[7]) == _UZERO
        if x_small and x[1] < _SIGN:
            out[i, 0] = np.uint32(x[0])
            out[i, 1] = np.uint32(x[1])
            fits[i] = np.uint8(1)
        else:
            d = fr_sub(ZERO, x)
            d_small = (d[2] | d[3] | d[4] | d[5] | d[6] | d[7]) == _UZERO
            fits[i] = np.uint8(1) if d_small and (d[1] < _SIGN or (d[1] == _SIGN and d[0] == _UZERO)) else np.uint8(0)
            # -d in two's complement: (~d + 1) mod 2^64.
            s = (_MASK - d[0]) + _UONE
            out[i, 0] = np.uint32(s & _MASK)
            out[i, 1] = np.uint32(((_MASK - d[1]) + (s >> _SHIFT)) & _MASK)


@cuda.jit
def fill_zero(out):
    """Zero every row (0 is its own Montgomery form)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, ZERO)


# --- elementwise ------------------------------------------------------------------------------


@cuda.jit
def vec_add(a, b, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, fr_add(fr_load(a, i), fr_load(b, i)))


@cuda.jit
def vec_sub(a, b, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, fr_sub(fr_load(a, i), fr_load(b, i)))


@cuda.jit
def vec_mul(a, b, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, fr_mul(fr_load(a, i), fr_load(b, i)))


@cuda.jit
def scalar_mul(a, c, out):
    """a * c for a scalar c passed by value as an 8-tuple of Montgomery limbs."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        fr_store(out, i, fr_mul(fr_load(a, i), c))


# --- reductions -------------------------------------------------------------------------------


@cuda.jit
def vec_sum(a, partial):
    """Block partial sums of the residues a[i] (K = 1 point); see ``reduce_partials``."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    acc = ZERO
    for i in range(start, a.shape[0], stride):
        acc = fr_add(acc, fr_load(a, i))
    fr_store(sh, cuda.threadIdx.x * POINTS, acc)
    _block_reduce(sh, partial, 1)


@cuda.jit
def inner_product(a, b, partial):
    """Block partial sums of a[i] b[i] (K = 1 point)."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    acc = ZERO
    for i in range(start, a.shape[0], stride):
        acc = fr_add(acc, fr_mul(fr_load(a, i), fr_load(b, i)))
    fr_store(sh, cuda.threadIdx.x * POINTS, acc)
    _block_reduce(sh, partial, 1)


# --- multilinear extensions -------------------------------------------------------------------


@cuda.jit
def fold(v, r, out):
    """Bind variable 0 to r (an 8-tuple by value): out[i] = v[2i] + r (v[2i+1] - v[2i])."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        lo = fr_load(v, 2 * i)
        fr_store(out, i, fr_add(lo, fr_mul(r, fr_sub(fr_load(v, 2 * i + 1), lo))))


@cuda.jit
def eq_first(table, u):
    """The eq-table of one variable u: table[0] = 1 - u, table[1] = u (one thread)."""
    if cuda.grid(1) == 0:
        fr_store(table, 0, fr_sub(ONE, u))
        fr_store(table, 1, u)


@cuda.jit
def eq_double(table, size, u):
    """Extend the eq-table of u_0..u_{j-1} (rows < size) by u_j = u, in place: row x + size
    = t u and row x = t - t u for t = row x (Thaler, Lemma 3.8: one multiplication per new
    entry). Thread x reads and writes rows x and x + size only, so in place is race-free."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for x in range(start, size, stride):
        t = fr_load(table, x)
        high = fr_mul(t, u)
        fr_store(table, x + size, high)
        fr_store(table, x, fr_sub(t, high))


@cuda.jit
def round_evals_1(f, partial):
    """Block partials of s(0) = sum f[2i], s(1) = sum f[2i+1] (K = 2 points)."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    s0 = ZERO
    s1 = ZERO
    for i in range(start, f.shape[0] // 2, stride):
        s0 = fr_add(s0, fr_load(f, 2 * i))
        s1 = fr_add(s1, fr_load(f, 2 * i + 1))
    row = cuda.threadIdx.x * POINTS
    fr_store(sh, row, s0)
    fr_store(sh, row + 1, s1)
    _block_reduce(sh, partial, 2)


@cuda.jit
def round_evals_2(f, g, partial):
    """Block partials of s(t) = sum f_i(t) g_i(t), t = 0, 1, 2 (K = 3 points)."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    s0 = ZERO
    s1 = ZERO
    s2 = ZERO
    for i in range(start, f.shape[0] // 2, stride):
        f0 = fr_load(f, 2 * i)
        g0 = fr_load(g, 2 * i)
        f1 = fr_load(f, 2 * i + 1)
        g1 = fr_load(g, 2 * i + 1)
        s0 = fr_add(s0, fr_mul(f0, g0))
        s1 = fr_add(s1, fr_mul(f1, g1))
        s2 = fr_add(s2, fr_mul(fr_add(f1, fr_sub(f1, f0)), fr_add(g1, fr_sub(g1, g0))))
    row = cuda.threadIdx.x * POINTS
    fr_store(sh, row, s0)
    fr_store(sh, row + 1, s1)
    fr_store(sh, row + 2, s2)
    _block_reduce(sh, partial, 3)


@cuda.jit
def round_evals_3(f, g, h, partial):
    """Block partials of s(t) = sum f_i(t) g_i(t) h_i(t), t = 0..3 (K = 4 points)."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    s0 = ZERO
    s1 = ZERO
    s2 = ZERO
    s3 = ZERO
    for i in range(start, f.shape[0] // 2, stride):
        f0 = fr_load(f, 2 * i)
        g0 = fr_load(g, 2 * i)
        h0 = fr_load(h, 2 * i)
        f1 = fr_load(f, 2 * i + 1)
        g1 = fr_load(g, 2 * i + 1)
        h1 = fr_load(h, 2 * i + 1)
        s0 = fr_add(s0, fr_mul(fr_mul(f0, g0), h0))
        s1 = fr_add(s1, fr_mul(fr_mul(f1, g1), h1))
        df = fr_sub(f1, f0)
        dg = fr_sub(g1, g0)
        dh = fr_sub(h1, h0)
        f2 = fr_add(f1, df)
        g2 = fr_add(g1, dg)
        h2 = fr_add(h1, dh)
        s2 = fr_add(s2, fr_mul(fr_mul(f2, g2), h2))
        s3 = fr_add(s3, fr_mul(fr_mul(fr_add(f2, df), fr_add(g2, dg)), fr_add(h2, dh)))
    row = cuda.threadIdx.x * POINTS
    fr_store(sh, row, s0)
    fr_store(sh, row + 1, s1)
    fr_store(sh, row + 2, s2)
    fr_store(sh, row + 3, s3)
    _block_reduce(sh, partial, 4)


@cuda.jit(device=True)
def _gkr_term(e, a, c, d, u):
    """e (a d + c u) with u = p1 + gamma q1: the logUp-GKR summand at one point."""
    return fr_mul(e, fr_add(fr_mul(a, d), fr_mul(c, u)))


@cuda.jit
def round_evals_gkr(e, p0, p1, q0, q1, gamma, partial):
    """Block partials of s(t) = sum e (p0 q1 + p1 q0 + gamma q0 q1) at t = 0..3 for a logUp-GKR
    layer (``verifier.logup.layer_shape``), in one pass over the five tables. Written as
    e (p0 q1 + q0 u) with u = p1 + gamma q1, linear in t, so gamma q1 is multiplied out at
    t = 0, 1 only (14 multiplications per pair, as the CPU kernel)."""
    sh = cuda.shared.array((SHARED_ROWS, LIMBS), dtype=uint32)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    s0 = ZERO
    s1 = ZERO
    s2 = ZERO
    s3 = ZERO
    for i in range(start, e.shape[0] // 2, stride):
        e0 = fr_load(e, 2 * i)
        a0 = fr_load(p0, 2 * i)
        c0 = fr_load(q0, 2 * i)
        d0 = fr_load(q1, 2 * i)
        u0 = fr_add(fr_load(p1, 2 * i), fr_mul(gamma, d0))
        e1 = fr_load(e, 2 * i + 1)
        a1 = fr_load(p0, 2 * i + 1)
        c1 = fr_load(q0, 2 * i + 1)
        d1 = fr_load(q1, 2 * i + 1)
        u1 = fr_add(fr_load(p1, 2 * i + 1), fr_mul(gamma, d1))
        s0 = fr_add(s0, _gkr_term(e0, a0, c0, d0, u0))
        s1 = fr_add(s1, _gkr_term(e1, a1, c1, d1, u1))
        de = fr_sub(e1, e0)
        da = fr_sub(a1, a0)
        dc = fr_sub(c1, c0)
        dd = fr_sub(d1, d0)
        du = fr_sub(u1, u0)
        e2 = fr_add(e1, de)
        a2 = fr_add(a1, da)
        c2 = fr_add(c1, dc)
        d2 = fr_add(d1, dd)
        u2 = fr_add(u1, du)
        s2 = fr_add(s2, _gkr_term(e2, a2, c2, d2, u2))
        s3 = fr_add(s3, _gkr_term(fr_add(e2, de), fr_add(a2, da), fr_add(c2, dc), fr_add(d2, dd), fr_add(u2, du)))
    row = cuda.threadIdx.x * POINTS
    fr_store(sh, row, s0)
    fr_store(sh, row + 1, s1)
    fr_store(sh, row + 2, s2)
    fr_store(sh, row + 3, s3)
    _block_reduce(sh, partial, 4)
