"""Pippenger's bucket method for the verifier's multi-scalar multiplications.

sum_i k_i P_i for a few thousand points with full 255-bit scalars (Hyrax row combinations,
the inner-product argument's folded generator). The scalars are cut into signed c-bit digits
d in [-2^(c-1), 2^(c-1)) (Bernstein et al., "Faster batch forgery identification", and the
signed-bucket variant of Bootle et al. / Bowe's implementations): a digit of -d puts -P_i into
bucket d, which halves the number of buckets per window. Per window the cost is n additions
plus 2^c additions to sum the buckets (running-sum trick), and c doublings to shift the
accumulator: about ceil(256 / c) (n + 2^c + c) group operations in all.

The code is generic over the group: it needs an addition, a negation and the identity, so
the blst points (native ``+`` and ``-``) and py_ecc's tuples run through the same loop. The
digits of all scalars are cut at once with numpy (``signed_digit_columns``), and each window
visits only its nonzero digits: a 128-bit scalar (the ZK verifier's batch weights,
``verifier.nizk.batch``) costs only the windows it has.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import numpy as np

from .field import MODULUS as R

T = TypeVar("T")

SCALAR_BITS = 255


def window_bits(n: int) -> int:
    """The window size c minimising the cost model ceil(256 / c) (n + 2^c + c) above."""
    best_c, best_cost = 2, None
    for c in range(2, 17):
        cost = -(-(SCALAR_BITS + 1) // c) * (n + (1 << c) + c)
        if best_cost is None or cost < best_cost:
            best_c, best_cost = c, cost
    return best_c


def signed_digits(k: int, c: int, num_windows: int) -> list[int]:
    """Digits d_w in [-2^(c-1), 2^(c-1)) with k = sum_w d_w 2^(c w), least significant first.

    c >= 2: with c = 1 the digits {-1, 0} cannot represent a positive k.
    """
    if c < 2:
        raise ValueError(f"signed digits need a window of at least 2 bits, got {c}")
    half, full, mask = 1 << (c - 1), 1 << c, (1 << c) - 1
    digits = [0] * num_windows
    for w in range(num_windows):
        d = k & mask
        k >>= c
        if d >= half:
            d -= full
            k += 1  # borrow: d + 2^c was taken from the next window
        digits[w] = d
    return digits


def signed_digit_columns(scalars: Sequence[int], c: int, num_windows: int) -> np.ndarray:
    """``signed_digits`` of every scalar in [0, 2^256), as a (num_windows, n) array: row w holds
    every scalar's digit of window w. Vectorized over the scalars (numpy), one window at a time."""
    if c < 2:
        raise ValueError(f"signed digits need a window of at least 2 bits, got {c}")
    n = len(scalars)
    # Little-endian 64-bit limbs, one spare limb of zeros for windows crossing the top.
    limbs = np.zeros((n, 5), dtype=np.uint64)
    limbs[:, :4] = np.frombuffer(b"".join(k.to_bytes(32, "little") for k in scalars), dtype="<u8").reshape(n, 4)
    half, full, mask = 1 << (c - 1), 1 << c, np.uint64((1 << c) - 1)
    out = np.zeros((num_windows, n), dtype=np.int64)
    carry = np.zeros(n, dtype=np.int64)
    for w in range(num_windows):
        start = c * w
        limb, off = divmod(start, 64)
        if limb < 4:
            window = limbs[:, limb] >> np.uint64(off)
            if off + c > 64:
                window |= limbs[:, limb + 1] << np.uint64(64 - off)
            digits = (window & mask).astype(np.int64) + carry
        else:
            digits = carry.copy()
        # d >= 2^(c-1): take d - 2^c and borrow 1 from the next window (as ``signed_digits``).
        carry = (digits >= half).astype(np.int64)
        out[w] = digits - carry * full
    return out


def pippenger(
    points: Sequence[T],
    scalars: Sequence[int],
    add: Callable[[T, T], T],
    neg: Callable[[T], T],
    identity: T,
) -> T:
    """sum_i scalars[i] * points[i] in a group of order r (scalars are reduced mod r first)."""
    if len(points) != len(scalars):
        raise ValueError(f"msm: {len(points)} points but {len(scalars)} scalars")
    pairs = [(p, k % R) for p, k in zip(points, scalars) if k % R]
    if not pairs:
        return identity
    c = window_bits(len(pairs))
    # One extra window absorbs the final borrow of the signed recoding of a 255-bit scalar.
    num_windows = -(-SCALAR_BITS // c) + 1
    points_kept = [p for p, _ in pairs]
    columns = signed_digit_columns([k for _, k in pairs], c, num_windows)
    negated = [neg(p) for p in points_kept] if (columns < 0).any() else []
    acc: T | None = None
    for w in range(num_windows - 1, -1, -1):
        if acc is not None:
            for _ in range(c):
                acc = add(acc, acc)
        column = columns[w]
        # Bucket d holds the points whose digit is +d and the negations of those at -d.
        buckets: list[T | None] = [None] * ((1 << (c - 1)) + 1)
        for terms, sign in ((points_kept, 1), (negated, -1)):
            where = np.flatnonzero(column * sign > 0)
            for i, d in zip(where.tolist(), (column[where] * sign).tolist()):
                cur = buckets[d]
                buckets[d] = terms[i] if cur is None else add(cur, terms[i])
        # sum_d d * bucket_d by running sums from the top bucket down.
        running: T | None = None
        window_sum: T | None = None
        for bucket in reversed(buckets[1:]):
            if bucket is not None:
                running = bucket if running is None else add(running, bucket)
            if running is not None:
                window_sum = running if window_sum is None else add(window_sum, running)
        if window_sum is not None:
            acc = window_sum if acc is None else add(acc, window_sum)
    return identity if acc is None else acc
