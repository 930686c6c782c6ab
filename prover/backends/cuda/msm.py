"""Row MSMs with small unsigned scalars on the GPU: the bucket method of ``prover/commit/msm_small``
with XYZZ buckets, as numba.cuda kernels.

``msm_rows(generators, scalars, bits)`` returns the same points as
``prover.commit.msm_small.msm_rows`` (and arkworks' MSM of each row), by the same plan:

* **Windows over precomputed shifts** (``msm_small.generator_table``): with c-bit windows the
  table holds 2^(c w) G_j, so digit w of s_ij puts the table point (w, j) into bucket
  ``digit`` of row i; one bucket set per row serves every window.
* **Bucketing** (host, NumPy): the (row, digit) keys of all items, digit 0 dropped, sorted
  stably; ``start`` gives each bucket's slice of the sorted point indices (CSR).
* **Bucket sums** (kernel ``bucket_accumulate``): one thread per (row, bucket) adds its
  points serially in XYZZ coordinates with affine inputs (mixed additions, 8M + 2S), as
  sppark, era-bellman-cuda and yrrid do (gpu-backend reference notes, section 3).
* **Bucket reduction by running sums** (kernel ``bucket_reduce``): sum_d d S_d = sum_d R_d
  with R_d = sum_{e >= d} S_e, one thread per row, from the top bucket down.
* **Affine results** (host): x = X / ZZ, y = Y / ZZZ with Python ints, one inversion per row.

What a production GPU MSM adds and this one does not yet: sorting on the device (a counting
sort per row block, shared-memory histograms), splitting large buckets (the offset trick
skews digits) and warp-convergent special cases; see cuda/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

import numpy as np
from numba import cuda

from prover.commit import msm_small
from prover.commit.group import G1
from verifier.curve import P as FP_MODULUS

from . import g1
from .kernels import SIMULATOR

#: Threads per block of the MSM kernels (one bucket or one row per thread; the XYZZ additions
#: take many registers, so small blocks on a device too).
BLOCK = 8 if SIMULATOR else 64
#: Grid cap in the simulator (blocks run one after the other there).
MAX_BLOCKS = 4 if SIMULATOR else 65535

_G = g1.build(cuda.jit(device=True))
fp_load = _G.fp_load
xyzz_madd = _G.xyzz_madd
xyzz_add = _G.xyzz_add
xyzz_load = _G.xyzz_load
xyzz_store = _G.xyzz_store
IDENTITY = g1.IDENTITY


@cuda.jit
def bucket_accumulate(tx, ty, tinf, order, start, bx, by, bzz, bzzz):
    """Bucket b = the sum of the table points order[start[b]:start[b + 1]] (XYZZ, mixed
    additions; identity table points are skipped)."""
    first, stride = cuda.grid(1), cuda.gridsize(1)
    for b in range(first, start.shape[0] - 1, stride):
        acc = IDENTITY
        for k in range(start[b], start[b + 1]):
            j = order[k]
            if tinf[j] == 0:
                acc = xyzz_madd(acc, fp_load(tx, j), fp_load(ty, j))
        xyzz_store(bx, by, bzz, bzzz, b, acc)


@cuda.jit
def bucket_reduce(bx, by, bzz, bzzz, buckets, ox, oy, ozz, ozzz):
    """out[row] = sum_d d S_(row, d) over the row's buckets d < ``buckets``, by running sums
    from the top bucket down (bucket 0 is never filled)."""
    first, stride = cuda.grid(1), cuda.gridsize(1)
    for row in range(first, ox.shape[0], stride):
        running = IDENTITY
        total = IDENTITY
        for d in range(buckets - 1, 0, -1):
            running = xyzz_add(running, xyzz_load(bx, by, bzz, bzzz, row * buckets + d))
            total = xyzz_add(total, running)
        xyzz_store(ox, oy, ozz, ozzz, row, total)


def _grid(items: int) -> int:
    return max(1, min(-(-items // BLOCK), MAX_BLOCKS))


def _as_limbs32(a: np.ndarray) -> np.ndarray:
    """uint64[n, 6] Montgomery rows (fp381, R = 2^384) as uint32[n, 12]: the same residues."""
    return np.ascontiguousarray(a, dtype="<u8").view("<u4").astype(np.uint32).reshape(len(a), g1.LIMBS)


def bucket_items(scalars: np.ndarray, window: int, windows: int):
    """(order, start): table-point indices sorted by (row, digit) and each bucket's slice.

    Item (i, j, w) has key i 2^c + digit_w(s_ij) and point w n + j; digit 0 adds nothing and
    is dropped. start[key] .. start[key + 1] is bucket key's slice of ``order``.
    """
    rows, n = scalars.shape
    buckets = 1 << window
    s = np.ascontiguousarray(scalars, dtype=np.uint64)
    keys, points = [], []
    row_base = (np.arange(rows, dtype=np.int64) * buckets)[:, None]
    for w in range(windows):
        digits = ((s >> np.uint64(window * w)) & np.uint64(buckets - 1)).astype(np.int64)
        keys.append((row_base + digits).reshape(-1))
        points.append(np.broadcast_to(np.arange(n, dtype=np.int64) + w * n, (rows, n)).reshape(-1))
    keys = np.concatenate(keys)
    points = np.concatenate(points)
    keep = (keys % buckets) != 0
    keys, points = keys[keep], points[keep]
    order = points[np.argsort(keys, kind="stable")]
    counts = np.bincount(keys, minlength=rows * buckets)
    start = np.zeros(rows * buckets + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    return order, start


def _to_points(ox, oy, ozz, ozzz) -> list[G1]:
    """XYZZ rows (Montgomery limbs) -> arkworks points via their affine 96-byte encoding."""
    out = []
    for X, Y, ZZ, ZZZ in zip(ox, oy, ozz, ozzz):
        zz, zzz = g1.from_montgomery_int(ZZ), g1.from_montgomery_int(ZZZ)
        if zz == 0:
            out.append(G1.identity())
            continue
        x = g1.from_montgomery_int(X) * pow(zz, -1, FP_MODULUS) % FP_MODULUS
        y = g1.from_montgomery_int(Y) * pow(zzz, -1, FP_MODULUS) % FP_MODULUS
        out.append(G1.from_xy_bytes_unchecked_le(x.to_bytes(48, "little") + y.to_bytes(48, "little")))
    return out


def msm_rows(generators: Sequence[G1], scalars: np.ndarray, bits: int, window: int | None = None) -> list[G1]:
    """[sum_j scalars[i, j] G_j for each row i] on the GPU, for unsigned scalars below 2^bits:
    the points ``prover.commit.msm_small.msm_rows`` returns (same arguments, same checks)."""
    scalars = np.asarray(scalars)
    if scalars.ndim != 2:
        raise ValueError(f"scalars must be a [rows, columns] matrix, got shape {scalars.shape}")
    if scalars.dtype.kind not in "iu":
        raise ValueError(f"scalars must be an integer array, got dtype {scalars.dtype}")
    rows, n = scalars.shape
    if n != len(generators):
        raise ValueError(f"{n} scalar columns but {len(generators)} generators")
    if not 1 <= bits <= msm_small.MAX_BITS:
        raise ValueError(f"bits must lie in [1, {msm_small.MAX_BITS}], got {bits}")
    if window is not None and not 1 <= window <= msm_small.MAX_WINDOW_BITS:
        raise ValueError(f"window must lie in [1, {msm_small.MAX_WINDOW_BITS}], got {window}")
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
        window = msm_small.window_bits(n, bits)
    windows = ceil(bits / window)
    tx, ty, tinf = msm_small.generator_table(generators, window, windows)
    order, start = bucket_items(scalars, window, windows)
    buckets = 1 << window
    nb = rows * buckets
    d_tx, d_ty = cuda.to_device(_as_limbs32(tx)), cuda.to_device(_as_limbs32(ty))
    d_tinf = cuda.to_device(np.ascontiguousarray(tinf, dtype=np.uint8))
    d_order = cuda.to_device(order if len(order) else np.zeros(1, np.int64))
    d_start = cuda.to_device(start)
    bucket = [cuda.device_array((nb, g1.LIMBS), dtype=np.uint32) for _ in range(4)]
    out = [cuda.device_array((rows, g1.LIMBS), dtype=np.uint32) for _ in range(4)]
    bucket_accumulate[_grid(nb), BLOCK](d_tx, d_ty, d_tinf, d_order, d_start, *bucket)
    bucket_reduce[_grid(rows), BLOCK](*bucket, buckets, *out)
    return _to_points(*(a.copy_to_host() for a in out))
