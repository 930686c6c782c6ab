"""CpuBackend: the FieldBackend over uint64[n, 4] Montgomery vectors with numba kernels.

Vectors are C-contiguous numpy uint64 arrays of shape (n, 4), one element of Fr per row in
Montgomery form (``montgomery.py``). Python ints cross the boundary as bytes (one
``int.to_bytes`` / ``int.from_bytes`` per element and a single buffer), never limb by limb.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Iterator, Sequence

import numba
import numpy as np

from verifier.field import BYTES, MODULUS as R
from verifier.polynomial import interpolate_from_evals, univariate_evaluate

from .. import validation
from . import kernels
from .montgomery import LIMBS, MONTGOMERY_R_INV, int_to_limbs, limbs_to_int, to_montgomery_int

#: Below this many rows a kernel runs on the calling thread alone. A parallel region waits
#: for all its threads, and on a loaded machine a descheduled worker costs a scheduler time
#: slice (8 ms measured here, whatever the size) while 2^14 multiplications take 0.35 ms.
PARALLEL_MIN_ROWS = 1 << 14

_ROUND_KERNELS = {1: kernels.round_evals_1, 2: kernels.round_evals_2, 3: kernels.round_evals_3}


def _vec(v) -> np.ndarray:
    """Reject anything but this backend's vector type (a foreign layout would also force a
    fresh numba compilation for a non-contiguous array type)."""
    if not (
        isinstance(v, np.ndarray)
        and v.dtype == np.uint64
        and v.ndim == 2
        and v.shape[1] == LIMBS
        and v.flags.c_contiguous
    ):
        raise TypeError("CpuBackend vectors are C-contiguous uint64 arrays of shape (n, 4)")
    return v


def _scalar(c: int) -> np.ndarray:
    """A Python int as one Montgomery row (uint64[1, 4]), the kernels' scalar argument."""
    return np.array([int_to_limbs(to_montgomery_int(operator.index(c)))], dtype=np.uint64)


def _scalars(xs: Sequence[int]) -> np.ndarray:
    """Python ints (any sign and size) -> canonical little-endian limbs, one row each."""
    buf = b"".join((operator.index(x) % R).to_bytes(BYTES, "little") for x in xs)
    # astype copies: the kernels want a writable array (a read-only one is another numba
    # type, hence another compilation).
    return np.frombuffer(buf, dtype="<u8").astype(np.uint64).reshape(-1, LIMBS)


def _empty(n: int) -> np.ndarray:
    """An uninitialized result vector, allocated by numpy (see kernels.py on huge pages)."""
    return np.empty((n, LIMBS), dtype=np.uint64)


def _extend(evals: list[int], num_points: int) -> list[int]:
    """s(0..num_points-1) from s(0..k-1) of a polynomial of degree < k, by interpolation."""
    if num_points > len(evals):
        coeffs = interpolate_from_evals(evals)
        evals += [univariate_evaluate(coeffs, t) for t in range(len(evals), num_points)]
    return evals


def _times_eq1(u: int, h: list[int], num_points: int) -> list[int]:
    """s(t) = eq1(u, t) h(t) at t < num_points, from h(0), h(1), h(2) of a quadratic h: the
    round of an instance whose eq table's factor in the bound variable was split off
    (``kernels.round_sums_gkr_split_eq``), eq1(u, t) = (1 - u)(1 - t) + u t."""
    h = _extend(h, num_points)
    return [((1 - u) * (1 - t) + u * t) * h[t] % R for t in range(num_points)]


def _reduce(rows: np.ndarray) -> int:
    """The canonical Python int of a sum of Montgomery residues given as rows of limbs
    (a reduction kernel's per-chunk partial sums, or one Montgomery row): sum x_i R is the
    residue of sum x_i."""
    return sum(limbs_to_int(row) for row in rows) * MONTGOMERY_R_INV % R


class CpuBackend:
    """FieldBackend on numba kernels; ``parallel_min_rows`` is the size from which kernels
    use all of numba's threads (tests lower it to run the parallel paths on small data)."""

    name = "cpu"

    def __init__(self, parallel_min_rows: int = PARALLEL_MIN_ROWS):
        if parallel_min_rows < 0:
            raise ValueError(f"parallel_min_rows must be >= 0, got {parallel_min_rows}")
        self.parallel_min_rows = parallel_min_rows

    @contextmanager
    def _threads(self, rows: int) -> Iterator[int]:
        """numba's thread count for a kernel over ``rows`` rows (1 below the threshold);
        yields it, as the reductions take one partial sum per thread."""
        if rows >= self.parallel_min_rows:
            yield numba.get_num_threads()
            return
        saved = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            yield 1
        finally:
            numba.set_num_threads(saved)

    # --- conversions -------------------------------------------------------------------
    def from_int64(self, a: np.ndarray) -> np.ndarray:
        a = validation.kernel_integers(a)
        out = _empty(len(a))
        with self._threads(len(a)):
            kernels.from_int64(a, out)
        return out

    def from_ints(self, xs: Sequence[int]) -> np.ndarray:
        limbs = _scalars(xs)
        with self._threads(len(limbs)):
            kernels.to_montgomery(limbs, limbs)  # row by row, so in place is safe
        return limbs

    def to_ints(self, v: np.ndarray) -> list[int]:
        canonical = _empty(len(_vec(v)))
        with self._threads(len(v)):
            kernels.from_montgomery(v, canonical)
        buf = memoryview(canonical.astype("<u8", copy=False).tobytes())
        return [int.from_bytes(buf[k : k + BYTES], "little") for k in range(0, len(buf), BYTES)]

    def to_int64(self, v: np.ndarray) -> np.ndarray:
        n = len(_vec(v))
        out, fits = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_)
        with self._threads(n):
            kernels.to_int64(v, out, fits)
        if not fits.all():
            i = int(np.argmin(fits))
            value = self.to_ints(v[i : i + 1])[0]
            signed = value - R if value > R // 2 else value
            raise OverflowError(f"to_int64: element {i} = {signed} lies outside int64")
        return out

    def length(self, v: np.ndarray) -> int:
        return _vec(v).shape[0]

    def zeros(self, n: int) -> np.ndarray:
        # 0 is its own Montgomery form.
        return np.zeros((n, LIMBS), dtype=np.uint64)

    def tile(self, v: np.ndarray, reps: int) -> np.ndarray:
        # Montgomery rows copied as they are: np.tile's result is a fresh C-contiguous array.
        return np.tile(_vec(v), (validation.repetitions(reps), 1))

    def tile_sub_int64(self, pattern: np.ndarray, a: np.ndarray) -> np.ndarray:
        a = validation.kernel_integers(a)
        validation.periods(len(_vec(pattern)), len(a))
        out = _empty(len(a))
        with self._threads(len(a)):
            kernels.tile_sub_int64(pattern, a, out)
        return out

    def gkr_parent_layer(self, p: np.ndarray | None, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = validation.halved("gkr_parent_layer", len(_vec(q)))
        if p is not None:
            validation.same_length("gkr_parent_layer", len(_vec(p)), len(q))
        out_p, out_q = _empty(h), _empty(h)
        with self._threads(h):
            if p is None:
                kernels.gkr_unit_parent(q, out_p, out_q)
            else:
                kernels.gkr_parent(p, q, out_p, out_q)
        return out_p, out_q

    def gkr_unit_parent_layer_int64(self, pattern: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = validation.kernel_integers(a)
        validation.periods(len(_vec(pattern)), len(a))
        h = validation.halved("gkr_unit_parent_layer_int64", len(a))
        out_p, out_q = _empty(h), _empty(h)
        with self._threads(h):
            kernels.gkr_unit_parent_int64(pattern, a, out_p, out_q)
        return out_p, out_q

    # --- elementwise -------------------------------------------------------------------
    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._elementwise("add", kernels.vec_add, a, b)

    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._elementwise("sub", kernels.vec_sub, a, b)

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._elementwise("mul", kernels.vec_mul, a, b)

    def _elementwise(self, op: str, kernel, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        n = validation.same_length(op, len(_vec(a)), len(_vec(b)))
        out = _empty(n)
        with self._threads(n):
            kernel(a, b, out)
        return out

    def scalar_mul(self, a: np.ndarray, c: int) -> np.ndarray:
        out = _empty(len(_vec(a)))
        with self._threads(len(a)):
            kernels.scalar_mul(a, _scalar(c), out)
        return out

    # --- reductions --------------------------------------------------------------------
    def sum(self, a: np.ndarray) -> int:
        with self._threads(len(_vec(a))) as threads:
            return _reduce(kernels.vec_sum(a, threads))

    def inner_product(self, a: np.ndarray, b: np.ndarray) -> int:
        n = validation.same_length("inner_product", len(_vec(a)), len(_vec(b)))
        with self._threads(n) as threads:
            return _reduce(kernels.inner_product(a, b, threads))

    # --- multilinear extensions --------------------------------------------------------
    def fold(self, v: np.ndarray, r: int) -> np.ndarray:
        validation.foldable("fold", len(_vec(v)))
        out = _empty(len(v) // 2)
        with self._threads(len(out)):
            kernels.fold(v, _scalar(r), out)
        return out

    def fold_int64(self, a: np.ndarray, r: int) -> np.ndarray:
        a = validation.kernel_integers(a)
        validation.foldable("fold_int64", len(a))
        out = _empty(len(a) // 2)
        with self._threads(len(out)):
            kernels.fold_int64(a, _scalar(r), out)
        return out

    def split_inner_products_int64(self, v: np.ndarray, a: np.ndarray) -> tuple[int, int]:
        a = validation.kernel_integers(a)
        n = validation.same_length("split_inner_products_int64", 2 * len(_vec(v)), len(a)) // 2
        with self._threads(n) as threads:
            partial = kernels.split_inner_products_int64(v, a, threads)
        return tuple((_reduce(partial[:, 2 * k]) - _reduce(partial[:, 2 * k + 1])) % R for k in range(2))

    def bind_axis_int64(self, a: np.ndarray, point: Sequence[int]) -> np.ndarray:
        a = validation.axis_to_bind(a, len(point))
        out = _empty(a.shape[0] * a.shape[2])
        eq = self.eq_table(point)
        with self._threads(a.size):
            kernels.bind_axis_int64(a, eq, out)
        return out

    def eq_table(self, point: Sequence[int]) -> np.ndarray:
        # eq(u, x) = eq(u_low, x_low) eq(u_high, x_high): two half-size tables built on one
        # thread, then one parallel pass for their product.
        u = self.from_ints(point)
        half = len(point) // 2
        low, high = _empty(1 << half), _empty(1 << (len(point) - half))
        kernels.eq_table_doubling(u[:half], low)
        kernels.eq_table_doubling(u[half:], high)
        out = _empty(len(low) * len(high))
        with self._threads(len(out)):
            kernels.eq_table_product(low, high, out)
        return out

    def eq_table_add(self, acc: np.ndarray | None, point: Sequence[int], scale: int) -> np.ndarray:
        # eq_table's two half tables, the high one (the smaller) scaled; then one parallel pass
        # writes acc + low high in place: no full-size table, scaling pass or sum pass.
        u = self.from_ints(point)
        half = len(point) // 2
        low, high = _empty(1 << half), _empty(1 << (len(point) - half))
        kernels.eq_table_doubling(u[:half], low)
        kernels.eq_table_doubling(u[half:], high)
        high = self.scalar_mul(high, scale)
        if acc is None:
            out = _empty(len(low) * len(high))
            with self._threads(len(out)):
                kernels.eq_table_product(low, high, out)
            return out
        validation.same_length("eq_table_add", len(_vec(acc)), len(low) * len(high))
        with self._threads(len(acc)):
            kernels.eq_table_product_add(low, high, acc)
        return acc

    def mle_evaluate(self, v: np.ndarray, point: Sequence[int]) -> int:
        validation.mle_length(len(_vec(v)), len(point))
        # Bind variable 0 first, as a sumcheck does: n - 1 multiplications in all.
        for r in point:
            v = self.fold(v, r)
        return _reduce(v)

    def round_evals(self, factors: Sequence[np.ndarray], num_points: int) -> list[int]:
        validation.round_args([len(_vec(f)) for f in factors], num_points)
        degree = len(factors)
        # A product of `degree` multilinear factors has degree `degree` in t: the kernel
        # computes s(0..degree) and further points follow by interpolation.
        computed = min(num_points, degree + 1)
        with self._threads(len(factors[0]) // 2) as threads:
            partial = _ROUND_KERNELS[degree](*factors, computed, threads)
        return _extend([_reduce(partial[:, t]) for t in range(computed)], num_points)

    def gkr_round_evals(self, tables: Sequence[np.ndarray], gamma: int, num_points: int,
                        eq_coordinate: int | None = None) -> list[int]:
        validation.gkr_round_args([len(_vec(f)) for f in tables], num_points)
        if eq_coordinate is not None:
            with self._threads(len(tables[0]) // 2) as threads:
                partial = kernels.round_sums_gkr_split_eq(*tables, _scalar(gamma), threads)
            return _times_eq1(eq_coordinate, [_reduce(partial[:, t]) for t in range(3)], num_points)
        computed = min(num_points, 4)
        with self._threads(len(tables[0]) // 2) as threads:
            partial = kernels.round_evals_gkr(*tables, _scalar(gamma), computed, threads)
        return _extend([_reduce(partial[:, t]) for t in range(computed)], num_points)

    def gkr_leaf_round_evals(self, tables: Sequence[np.ndarray], gamma: int, num_points: int,
                             eq_coordinate: int | None = None) -> list[int]:
        validation.gkr_leaf_round_args([len(_vec(f)) for f in tables], num_points)
        if eq_coordinate is not None:
            with self._threads(len(tables[0]) // 2) as threads:
                partial = kernels.round_sums_gkr_leaf_split_eq(*tables, _scalar(gamma), _scalar(1), threads)
            return _times_eq1(eq_coordinate, [_reduce(partial[:, t]) for t in range(3)], num_points)
        computed = min(num_points, 4)
        with self._threads(len(tables[0]) // 2) as threads:
            partial = kernels.round_evals_gkr_leaf(*tables, _scalar(gamma), _scalar(1), computed, threads)
        return _extend([_reduce(partial[:, t]) for t in range(computed)], num_points)
