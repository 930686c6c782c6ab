"""Pippenger's bucket method for the verifier's multi-scalar multiplications.

sum_i k_i P_i for a few thousand points with full 255-bit scalars (Hyrax row combinations,
the inner-product argument's folded generator). The scalars are cut into signed c-bit digits
d in [-2^(c-1), 2^(c-1)) (Bernstein et al., "Faster batch forgery identification", and the
signed-bucket variant of Bootle et al. / Bowe's implementations): a digit of -d puts -P_i into
bucket d, which halves the number of buckets per window. Per window the cost is n additions
plus 2^c additions to sum the buckets (running-sum trick), and c doublings to shift the
accumulator: about ceil(256 / c) (n + 2^c + c) group operations in all.

The code is generic over the group: it needs an addition, a negation and the identity, so
the blst points (native ``+`` and ``-``) and py_ecc's tuples run through the same loop.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

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
    negated = [neg(p) for p in points_kept]
    # Column w holds every scalar's digit in window w (one pass per window below).
    columns = list(zip(*(signed_digits(k, c, num_windows) for _, k in pairs)))
    acc: T | None = None
    for w in range(num_windows - 1, -1, -1):
        if acc is not None:
            for _ in range(c):
                acc = add(acc, acc)
        buckets: list[T | None] = [None] * (1 << (c - 1))
        for d, p, q in zip(columns[w], points_kept, negated):
            if d > 0:
                b, term = d - 1, p
            elif d < 0:
                b, term = -d - 1, q
            else:
                continue
            cur = buckets[b]
            buckets[b] = term if cur is None else add(cur, term)
        # sum_b (b + 1) * bucket_b by running sums from the top bucket down.
        running: T | None = None
        window_sum: T | None = None
        for bucket in reversed(buckets):
            if bucket is not None:
                running = bucket if running is None else add(running, bucket)
            if running is not None:
                window_sum = running if window_sum is None else add(window_sum, running)
        if window_sum is not None:
            acc = window_sum if acc is None else add(acc, window_sum)
    return identity if acc is None else acc
