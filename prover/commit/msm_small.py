"""Row MSMs with small unsigned scalars on BLS12-381 G1: a batch-affine bucket method in numba.

Hyrax commits a matrix row by row, C_i = sum_j s_ij G_j, with one generator vector G shared
by every row and scalars s_ij < 2^b, b <= 17 in the hot path (DESIGN section 3, offset
trick). ``msm_rows`` computes all those row MSMs at once:

* **Windows over precomputed shifts.** With c-bit windows and W = ceil(b / c) of them, the
  table holds 2^(c w) G_j for every generator j and window w, so digit w of s_ij puts the
  point 2^(c w) G_j into bucket ``digit`` of row i. One bucket set per row serves every
  window: no doublings per row, and each row costs about n W + 2^c additions. ``window_bits``
  picks the c that minimises that count (b = 16, n = 1024: c = 8, W = 2).
* **Bucket sums by trees of affine additions.** The (row, digit) items are counting-sorted
  by bucket; each bucket is summed by a binary tree, one level at a time over every bucket of
  every row in the batch, so each level is one batch of independent additions.
* **Bucket reduction by running sums.** sum_d d S_d = sum_d R_d with R_d = sum_{e >= d} S_e,
  computed from the top bucket down; the step d of every row of the batch (total += R_{d+1},
  R_d = R_{d+1} + S_d) forms one batch of 2 x rows independent additions. The bucket sums
  are gathered digit-major first, so a step reads one contiguous block (scattered reads
  from the item pool made this phase three times slower, measured).
* **Batch-affine additions.** Each batch of independent additions P + Q pays a single field
  inversion (Montgomery's trick, "Speeding the Pollard and elliptic curve methods of
  factorization", Math. Comp. 1987) and about six multiplications per addition, against
  eleven for a mixed Jacobian addition. The exceptional cases are exact, not assumed away:
  an identity operand (empty buckets, running sums that cancel) copies the other one, P + P
  doubles (an empty bucket makes R_d = R_{d+1}, so the next step doubles), P + (-P) gives
  the identity. No point of G1 has y = 0 (E(Fp) has odd order), so a doubling's
  denominator 2y never vanishes.
* **Threads over row batches** (``prange``): rows are independent MSMs; a batch holds enough
  rows that the reduction's inversion is shared by hundreds of additions.

Points are affine in Montgomery form (``fp381``), x and y as uint64[m, 6] arrays with an
identity flag per point. Inputs and outputs are arkworks points, converted through their
96-byte uncompressed encoding; the identity is encoded there as x = y = 0 (not on the curve).
"""

from __future__ import annotations

from math import ceil
from typing import Sequence

import numba
import numpy as np
from numba import prange

from . import fp381 as fp
from .group import G1

#: Scalars are uint64: at most 64 bits.
MAX_BITS = 64
#: Largest window considered; beyond it the 2^c buckets per row cost more than they save.
MAX_WINDOW_BITS = 16
#: A batch's bucket items (rows x generators x windows points, about 130 bytes each with the
#: addition scratch) are kept under this count, about 34 MB per thread.
MAX_BATCH_ITEMS = 1 << 18
#: Rows per batch at most: beyond a few hundred, the shared inversion is already negligible.
MAX_BATCH_ROWS = 256

# How one addition of a batch is carried out (``_batch_add``).
_ADD, _DOUBLE, _COPY_LHS, _COPY_RHS, _IDENTITY = range(5)


def window_bits(num_points: int, bits: int) -> int:
    """The window c minimising the additions per row, n ceil(b / c) + 2^c.

    n ceil(b / c) points enter the buckets and the running-sum reduction adds each of the
    2^c - 1 buckets twice, while each nonempty bucket saves one addition (its first point is
    a copy): about n W + 2^c in all. Ties go to the smaller window (less memory).
    """
    if num_points < 1:
        raise ValueError(f"num_points must be at least 1, got {num_points}")
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must lie in [1, {MAX_BITS}], got {bits}")
    candidates = range(1, min(bits, MAX_WINDOW_BITS) + 1)
    return min(candidates, key=lambda c: (num_points * ceil(bits / c) + (1 << c), c))


@fp.kernel
def _batch_add(px, py, pinf, dst, lhs, rhs, count, prefix, kind):
    """P[dst[k]] = P[lhs[k]] + P[rhs[k]] for k < count, with one inversion (Montgomery's trick).

    The additions must be independent: no dst[k] may be an operand of another addition
    (dst[k] = lhs[k] = rhs[k] is fine: a doubling in place). ``prefix`` (uint64[>= count, 6])
    and ``kind`` (uint8[>= count]) are scratch. Affine formulas: lambda = (y2 - y1)/(x2 - x1),
    or 3 x1^2 / (2 y1) when P = Q; x3 = lambda^2 - x1 - x2, y3 = lambda (x1 - x3) - y1.
    """
    # Forward: classify each addition and accumulate the product of its denominators.
    acc = fp.ONE
    for k in range(count):
        a, b = lhs[k], rhs[k]
        if pinf[a]:
            kind[k] = _COPY_RHS
        elif pinf[b]:
            kind[k] = _COPY_LHS
        else:
            xa, xb = fp.load(px, a), fp.load(px, b)
            if xa != xb:
                kind[k] = _ADD
                acc = fp.mul(acc, fp.sub(xb, xa))
            elif fp.load(py, a) == fp.load(py, b):
                kind[k] = _DOUBLE
                ya = fp.load(py, a)
                acc = fp.mul(acc, fp.add(ya, ya))
            else:
                kind[k] = _IDENTITY  # x equal, y opposite: P + (-P)
        fp.store(prefix, k, acc)
    inverse = fp.inv(acc)
    # Backward: inverse = 1 / (d_0 ... d_k), so 1 / d_k = inverse * prefix[k - 1].
    for k in range(count - 1, -1, -1):
        a, b, c = lhs[k], rhs[k], dst[k]
        how = kind[k]
        if how == _ADD or how == _DOUBLE:
            x1, y1 = fp.load(px, a), fp.load(py, a)
            if how == _ADD:
                x2 = fp.load(px, b)
                denominator = fp.sub(x2, x1)
                numerator = fp.sub(fp.load(py, b), y1)
            else:
                x2 = x1
                denominator = fp.add(y1, y1)
                square = fp.mul(x1, x1)
                numerator = fp.add(fp.add(square, square), square)
            before = fp.load(prefix, k - 1) if k > 0 else fp.ONE
            slope = fp.mul(numerator, fp.mul(inverse, before))
            inverse = fp.mul(inverse, denominator)
            x3 = fp.sub(fp.sub(fp.mul(slope, slope), x1), x2)
            y3 = fp.sub(fp.mul(slope, fp.sub(x1, x3)), y1)
            fp.store(px, c, x3)
            fp.store(py, c, y3)
            pinf[c] = 0
        elif how == _IDENTITY:
            pinf[c] = 1
        else:
            src = a if how == _COPY_LHS else b
            if src != c:
                fp.store(px, c, fp.load(px, src))
                fp.store(py, c, fp.load(py, src))
                pinf[c] = pinf[src]


@fp.kernel
def _shift_window(px, py, pinf, num_points, window, first):
    """Rows first + j (j < num_points) become 2^window times rows first - num_points + j.

    ``window`` in-place doublings of the whole block per level, one batch each.
    """
    dst = np.arange(first, first + num_points)
    prefix = np.empty((num_points, fp.LIMBS), np.uint64)
    kind = np.empty(num_points, np.uint8)
    for j in range(num_points):
        fp.store(px, first + j, fp.load(px, first - num_points + j))
        fp.store(py, first + j, fp.load(py, first - num_points + j))
        pinf[first + j] = pinf[first - num_points + j]
    for _ in range(window):
        _batch_add(px, py, pinf, dst, dst, dst, num_points, prefix, kind)


@fp.kernel
def _sort_items(tx, ty, tinf, scalars, row0, row1, window, windows):
    """The points of rows row0..row1-1, counting-sorted by bucket: (x, y, identity, start).

    Bucket b = r * (2^c - 1) + digit - 1 of local row r holds the points 2^(c w) G_j whose
    digit w of scalars[row0 + r, j] is ``digit``, at entries start[b] .. start[b + 1] - 1.
    Zero digits and identity generators contribute nothing and are left out.
    """
    rows = row1 - row0
    n = scalars.shape[1]
    buckets = (1 << window) - 1
    mask = np.uint64(buckets)
    start = np.zeros(rows * buckets + 1, np.int64)
    for r in range(rows):
        for w in range(windows):
            shift = np.uint64(window * w)
            for j in range(n):
                digit = np.int64((scalars[row0 + r, j] >> shift) & mask)
                if digit != 0 and not tinf[w * n + j]:
                    start[r * buckets + digit] += 1
    for b in range(rows * buckets):
        start[b + 1] += start[b]
    items = start[rows * buckets]
    px = np.empty((items, fp.LIMBS), np.uint64)
    py = np.empty((items, fp.LIMBS), np.uint64)
    fill = start[:-1].copy()
    for r in range(rows):
        for w in range(windows):
            shift = np.uint64(window * w)
            for j in range(n):
                digit = np.int64((scalars[row0 + r, j] >> shift) & mask)
                if digit != 0 and not tinf[w * n + j]:
                    b = r * buckets + digit - 1
                    k = fill[b]
                    fill[b] += 1
                    fp.store(px, k, fp.load(tx, w * n + j))
                    fp.store(py, k, fp.load(ty, w * n + j))
    return px, py, np.zeros(items, np.uint8), start


@fp.kernel
def _sum_buckets(px, py, pinf, start):
    """Sum every bucket of ``_sort_items`` into its first entry, by trees of batched additions.

    At level ``stride`` entry k absorbs entry k + stride, for k a multiple of 2 stride from
    the bucket's start; each level, over all buckets at once, is one batch.
    """
    capacity = max(px.shape[0] // 2, 1)
    dst = np.empty(capacity, np.int64)
    rhs = np.empty(capacity, np.int64)
    prefix = np.empty((capacity, fp.LIMBS), np.uint64)
    kind = np.empty(capacity, np.uint8)
    stride = 1
    while True:
        count = 0
        for b in range(start.shape[0] - 1):
            for k in range(start[b], start[b + 1] - stride, 2 * stride):
                dst[count] = k
                rhs[count] = k + stride
                count += 1
        if count == 0:
            return
        _batch_add(px, py, pinf, dst, dst, rhs, count, prefix, kind)
        stride *= 2


@fp.kernel
def _reduce_buckets(px, py, pinf, start, rows, buckets, row0, out_x, out_y, out_inf):
    """out[row0 + r] = sum_d d S_(r, d) from the bucket sums S, by running sums over all rows.

    The sums are first gathered digit-major (sum (r, d) at (d - 1) rows + r), so that each
    step reads one contiguous block, followed by two running-sum blocks and the totals. Row
    r's running sum alternates between its two slots: a step reads one and writes the other,
    so the additions of a step stay independent.
    """
    sums = buckets * rows
    qx = np.empty((sums + 3 * rows, fp.LIMBS), np.uint64)
    qy = np.empty_like(qx)
    qinf = np.ones(sums + 3 * rows, np.uint8)  # the running sums and totals start at O
    for r in range(rows):
        for digit in range(1, buckets + 1):
            b = r * buckets + digit - 1
            k = (digit - 1) * rows + r
            if start[b + 1] > start[b]:
                fp.store(qx, k, fp.load(px, start[b]))
                fp.store(qy, k, fp.load(py, start[b]))
                qinf[k] = pinf[start[b]]
    running = (sums, sums + rows)
    totals = sums + 2 * rows
    dst = np.empty(2 * rows, np.int64)
    lhs = np.empty(2 * rows, np.int64)
    rhs = np.empty(2 * rows, np.int64)
    prefix = np.empty((2 * rows, fp.LIMBS), np.uint64)
    kind = np.empty(2 * rows, np.uint8)
    current = 0
    for digit in range(buckets, 0, -1):
        for r in range(rows):
            dst[2 * r] = totals + r  # total += R_{d+1}
            lhs[2 * r] = totals + r
            rhs[2 * r] = running[current] + r
            dst[2 * r + 1] = running[1 - current] + r  # R_d = R_{d+1} + S_d
            lhs[2 * r + 1] = running[current] + r
            rhs[2 * r + 1] = (digit - 1) * rows + r
        _batch_add(qx, qy, qinf, dst, lhs, rhs, 2 * rows, prefix, kind)
        current = 1 - current
    for r in range(rows):  # total += R_1
        dst[r] = totals + r
        lhs[r] = totals + r
        rhs[r] = running[current] + r
    _batch_add(qx, qy, qinf, dst, lhs, rhs, rows, prefix, kind)
    for r in range(rows):
        fp.store(out_x, row0 + r, fp.load(qx, totals + r))
        fp.store(out_y, row0 + r, fp.load(qy, totals + r))
        out_inf[row0 + r] = qinf[totals + r]


@fp.kernel
def _msm_batch(tx, ty, tinf, scalars, row0, row1, window, windows, out_x, out_y, out_inf):
    """The row MSMs of rows row0..row1-1 (see the module docstring), into out_*[row]."""
    px, py, pinf, start = _sort_items(tx, ty, tinf, scalars, row0, row1, window, windows)
    _sum_buckets(px, py, pinf, start)
    _reduce_buckets(px, py, pinf, start, row1 - row0, (1 << window) - 1, row0, out_x, out_y, out_inf)


@fp.kernel(parallel=True)
def _msm_rows(tx, ty, tinf, scalars, window, windows, batch_rows, out_x, out_y, out_inf):
    """Every row's MSM, batches of ``batch_rows`` rows spread over the threads."""
    rows = scalars.shape[0]
    batches = (rows + batch_rows - 1) // batch_rows
    for t in prange(batches):
        row0 = t * batch_rows
        _msm_batch(tx, ty, tinf, scalars, row0, min(rows, row0 + batch_rows), window, windows, out_x, out_y, out_inf)


def _to_affine(points: Sequence[G1]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, identity flags) in Montgomery form, from the points' uncompressed encodings."""
    encoded = b"".join(bytes(point.to_xy_bytes_le()) for point in points)
    coords = fp.from_le_bytes(encoded, 2 * len(points)).reshape(len(points), 2 * fp.LIMBS)
    identity = ~coords.any(axis=1)  # (0, 0) is not on the curve: arkworks' identity
    return fp.to_montgomery(coords[:, : fp.LIMBS]), fp.to_montgomery(coords[:, fp.LIMBS :]), identity.astype(np.uint8)


def _from_affine(x: np.ndarray, y: np.ndarray, identity: np.ndarray) -> list[G1]:
    coords = np.concatenate([fp.from_montgomery(x), fp.from_montgomery(y)], axis=1)
    coords[identity.astype(bool)] = 0
    encoded = fp.to_le_bytes(coords)
    step = 2 * fp.BYTES
    return [G1.from_xy_bytes_unchecked_le(encoded[i : i + step]) for i in range(0, len(encoded), step)]


def generator_table(generators: Sequence[G1], window: int, windows: int):
    """2^(window w) G_j at row w n + j, for w < windows: (x, y, identity flags), Montgomery form."""
    n = len(generators)
    x0, y0, inf0 = _to_affine(generators)
    x = np.empty((windows * n, fp.LIMBS), np.uint64)
    y = np.empty_like(x)
    inf = np.empty(windows * n, np.uint8)
    x[:n], y[:n], inf[:n] = x0, y0, inf0
    for w in range(1, windows):
        _shift_window(x, y, inf, n, window, w * n)
    return x, y, inf


def _batch_rows(rows: int, items_per_row: int) -> int:
    """Rows per batch: spread over the threads, within the memory budget and the row cap."""
    per_thread = -(-rows // numba.get_num_threads())
    return max(1, min(per_thread, MAX_BATCH_ROWS, MAX_BATCH_ITEMS // items_per_row))


def msm_rows(generators: Sequence[G1], scalars: np.ndarray, bits: int, window: int | None = None) -> list[G1]:
    """[sum_j scalars[i, j] G_j for each row i], for unsigned scalars below 2^bits.

    ``scalars`` is an unsigned (or nonnegative signed) integer array [rows, len(generators)].
    The result is the same group element as arkworks' ``multiexp_unchecked`` of the row.
    ``window`` overrides ``window_bits`` (tests use it to run large windows on few points).
    """
    scalars = np.asarray(scalars)
    if scalars.ndim != 2:
        raise ValueError(f"scalars must be a [rows, columns] matrix, got shape {scalars.shape}")
    if scalars.dtype.kind not in "iu":
        raise ValueError(f"scalars must be an integer array, got dtype {scalars.dtype}")
    rows, n = scalars.shape
    if n != len(generators):
        raise ValueError(f"{n} scalar columns but {len(generators)} generators")
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must lie in [1, {MAX_BITS}], got {bits}")
    if window is not None and not 1 <= window <= MAX_WINDOW_BITS:
        raise ValueError(f"window must lie in [1, {MAX_WINDOW_BITS}], got {window}")
    if scalars.size:
        low, high = scalars.min(), scalars.max()
        if low < 0 or int(high) >> bits:
            bad = low if low < 0 else high
            raise ValueError(f"scalar {bad} is not an unsigned {bits}-bit integer")
    if rows == 0:
        return []
    if n == 0:
        return [G1.identity() for _ in range(rows)]
    if window is None:
        window = window_bits(n, bits)
    windows = ceil(bits / window)
    tx, ty, tinf = generator_table(generators, window, windows)
    out_x = np.zeros((rows, fp.LIMBS), np.uint64)
    out_y = np.zeros_like(out_x)
    out_inf = np.zeros(rows, np.uint8)
    matrix = np.ascontiguousarray(scalars, dtype=np.uint64)
    batch = _batch_rows(rows, n * windows)
    _msm_rows(tx, ty, tinf, matrix, window, windows, batch, out_x, out_y, out_inf)
    return _from_affine(out_x, out_y, out_inf)
