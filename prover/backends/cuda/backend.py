"""CudaBackend: the FieldBackend over device-resident uint32[n, 8] Montgomery vectors.

Vectors are numba.cuda device arrays (the simulator's stand-ins under
``NUMBA_ENABLE_CUDASIM=1``) of shape (n, 8) and dtype uint32: one element of Fr per row, in
Montgomery form with R = 2^256, eight little-endian 32-bit limbs (``field.py``). Those are the
bytes of the CPU backend's uint64[n, 4] rows, so a vector moves between the backends with a
copy and a view, no conversion.

Tables stay on the device: elementwise ops, folds, eq-tables and round evaluations take and
return device arrays, and only results the caller asks for as Python ints cross to the host
(a round's s(0..k), at most 4 x 32 bytes; a sum; ``to_ints``). Scalars (fold challenges,
gamma, eq points) go to the kernels by value, as 8-tuples of limbs: nothing is copied for
them. Data enters as int64 or as canonical limbs and is converted to Montgomery form by a
kernel.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from numba import cuda

from verifier.field import BYTES, MODULUS as R
from verifier.polynomial import interpolate_from_evals, univariate_evaluate

from .. import validation
from . import field, rawmodule
from . import kernels as K

LIMBS = field.LIMBS
#: Grid size cap: kernels walk grid-stride loops, so more blocks than this only add partials
#: for the second reduction level. The simulator runs blocks one after the other.
MAX_BLOCKS = 4 if K.SIMULATOR else 1024

_ROUND_KERNELS = {1: "round_evals_1", 2: "round_evals_2", 3: "round_evals_3"}


def _scalar(c: int) -> tuple:
    """A Python int as the kernels' by-value scalar: its Montgomery form's 8 limbs."""
    return field.limb_tuple(field.to_montgomery_int(operator.index(c)))


def _extend(evals: list[int], num_points: int) -> list[int]:
    """s(0..num_points-1) from s(0..k-1) of a polynomial of degree < k, by interpolation."""
    if num_points > len(evals):
        coeffs = interpolate_from_evals(evals)
        evals += [univariate_evaluate(coeffs, t) for t in range(len(evals), num_points)]
    return evals


@contextmanager
def _simulator_switching() -> Iterator[None]:
    """The simulator runs each CUDA thread as a Python thread and its syncthreads waits on
    the GIL: a short switch interval makes block trees several times faster (gpu-backend
    notes, section 5)."""
    if not K.SIMULATOR:
        yield
        return
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)


class DeviceRuntime:
    """Where the kernels run: numba.cuda, on a device or on the simulator. The backend
    reaches the device only through these six methods (``emulate.py`` has a CPU twin).

    ``raw``: fr.cu's CUDA C kernels (``rawmodule.RawKernels``), launched instead of the numba
    kernels they serve (fold, round evaluations, inner product, vec_mul, reduce_partials);
    None: numba only. ``kernel_source`` says which ("cuda-c" or "numba")."""

    block = K.BLOCK

    def __init__(self, raw: rawmodule.RawKernels | None = None):
        self.raw = raw
        self.kernel_source = "numba" if raw is None else "cuda-c"

    def grid(self, items: int, max_blocks: int) -> int:
        return max(1, min(-(-items // K.BLOCK), max_blocks))

    def launch(self, kernel: str, blocks: int, *args) -> None:
        if self.raw is not None and self.raw.launch(kernel, blocks, K.BLOCK, *args):
            return
        with _simulator_switching():
            getattr(K, kernel)[blocks, K.BLOCK](*args)

    def empty(self, shape, dtype=np.uint32):
        return cuda.device_array(shape, dtype=dtype)

    def to_device(self, a: np.ndarray):
        return cuda.to_device(a)

    def to_host(self, a) -> np.ndarray:
        return a.copy_to_host()

    def is_vector(self, v) -> bool:
        shape = getattr(v, "shape", None)
        return (
            hasattr(v, "copy_to_host")  # a numba device array (or the simulator's)
            and getattr(v, "dtype", None) == np.uint32
            and shape is not None
            and len(shape) == 2
            and shape[1] == LIMBS
            and v.is_c_contiguous()
        )


class CudaBackend:
    """FieldBackend on numba.cuda kernels; ``max_blocks`` caps the grid (tests lower it to
    run several grid-stride iterations per thread on small data); ``runtime`` is where the
    kernels run (default: numba.cuda, with fr.cu's CUDA C kernels for the hot paths when CuPy
    and a device are present); ``kernels`` is "auto", "numba" or "cuda-c" (default:
    $ZKTRAIN_CUDA_KERNELS, else "auto"; see ``rawmodule.select``), for the default runtime.
    ``kernel_source`` says which path runs the hot kernels: "cuda-c" or "numba"."""

    name = "cuda"

    def __init__(self, max_blocks: int = MAX_BLOCKS, runtime=None, kernels: str | None = None):
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be >= 1, got {max_blocks}")
        self.max_blocks = max_blocks
        self.runtime = runtime if runtime is not None else DeviceRuntime(rawmodule.select(kernels))
        self.simulator = K.SIMULATOR and runtime is None
        self.kernel_source = getattr(self.runtime, "kernel_source", "numba")

    def _vec(self, v):
        """Reject anything but this backend's vector type."""
        if not self.runtime.is_vector(v):
            raise TypeError("CudaBackend vectors are C-contiguous uint32 device arrays of shape (n, 8)")
        return v

    def _empty(self, n: int):
        return self.runtime.empty((n, LIMBS), np.uint32)

    def _launch(self, kernel: str, items: int, *args) -> None:
        """Run ``kernel`` over ``items`` grid-stride items (nothing to do for none)."""
        if items == 0:
            return
        self.runtime.launch(kernel, self.runtime.grid(items, self.max_blocks), *args)

    def _reduce(self, kernel: str, items: int, k_points: int, *args) -> list[int]:
        """Two-level reduction: block partials from ``kernel``, then one block sums them;
        returns the k_points sums as canonical ints (only they leave the device)."""
        if items == 0:
            return [0] * k_points
        rt = self.runtime
        blocks = rt.grid(items, self.max_blocks)
        partial = rt.empty((blocks * k_points, LIMBS), np.uint32)
        out = rt.empty((k_points, LIMBS), np.uint32)
        rt.launch(kernel, blocks, *args, partial)
        rt.launch("reduce_partials", 1, partial, k_points, out)
        return [field.from_montgomery_int(row) for row in rt.to_host(out)]

    # --- conversions -------------------------------------------------------------------
    def from_int64(self, a: np.ndarray):
        a = validation.int64_vector(a)
        n = len(a)
        # The int64 bytes as two little-endian uint32 limbs per value: the kernel reads the
        # two's complement pattern, so no signed integer type enters device code.
        limbs = np.ascontiguousarray(a, dtype="<i8").view("<u4").astype(np.uint32).reshape(n, 2)
        out = self._empty(n)
        if n:
            self._launch("from_int64", n, self.runtime.to_device(limbs), out)
        return out

    def from_ints(self, xs: Sequence[int]):
        buf = b"".join((operator.index(x) % R).to_bytes(BYTES, "little") for x in xs)
        canonical = np.frombuffer(buf, dtype="<u4").astype(np.uint32).reshape(-1, LIMBS)
        v = self.runtime.to_device(canonical) if len(canonical) else self._empty(0)
        self._launch("to_montgomery", len(canonical), v, v)  # row by row: in place is safe
        return v

    def to_ints(self, v) -> list[int]:
        n = len(self._vec(v))
        if n == 0:
            return []
        canonical = self._empty(n)
        self._launch("from_montgomery", n, v, canonical)
        buf = memoryview(self.runtime.to_host(canonical).astype("<u4", copy=False).tobytes())
        return [int.from_bytes(buf[k : k + BYTES], "little") for k in range(0, len(buf), BYTES)]

    def to_int64(self, v) -> np.ndarray:
        n = len(self._vec(v))
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        out = self.runtime.empty((n, 2), np.uint32)
        fits = self.runtime.empty(n, np.uint8)
        self._launch("to_int64", n, v, out, fits)
        ok = self.runtime.to_host(fits).astype(bool)
        if not ok.all():
            i = int(np.argmin(ok))
            value = self.to_ints(v[i : i + 1])[0]
            signed = value - R if value > R // 2 else value
            raise OverflowError(f"to_int64: element {i} = {signed} lies outside int64")
        return self.runtime.to_host(out).astype("<u4", copy=False).view("<i8").reshape(n).astype(np.int64)

    def length(self, v) -> int:
        return self._vec(v).shape[0]

    def zeros(self, n: int):
        out = self._empty(n)
        self._launch("fill_zero", n, out)
        return out

    def tile(self, v, reps: int):
        # Through the host: the callers tile a few entries (a constant, a slot pattern).
        host = np.tile(self.runtime.to_host(self._vec(v)), (validation.repetitions(reps), 1))
        return self.runtime.to_device(np.ascontiguousarray(host)) if len(host) else self._empty(0)

    def tile_sub_int64(self, pattern, a: np.ndarray):
        # Composed: the CPU backend fuses it to save host memory passes; on the device the
        # three passes are bandwidth-cheap beside the GKR rounds that read the result.
        reps = validation.periods(len(self._vec(pattern)), len(validation.int64_vector(a)))
        return self.sub(self.tile(pattern, reps), self.from_int64(a))

    # The parent layers composed from the elementwise kernels (halves are device slices): a
    # fused device kernel, as the CPU's, would save the temporaries; none was measured.
    def gkr_parent_layer(self, p, q):
        h = validation.halved("gkr_parent_layer", len(self._vec(q)))
        q0, q1 = q[:h], q[h:]
        if p is None:
            return self.add(q0, q1), self.mul(q0, q1)
        validation.same_length("gkr_parent_layer", len(self._vec(p)), len(q))
        return self.add(self.mul(p[:h], q1), self.mul(p[h:], q0)), self.mul(q0, q1)

    def gkr_unit_parent_layer_int64(self, pattern, a: np.ndarray):
        validation.halved("gkr_unit_parent_layer_int64", len(validation.int64_vector(a)))
        return self.gkr_parent_layer(None, self.tile_sub_int64(pattern, a))

    # --- elementwise -------------------------------------------------------------------
    def add(self, a, b):
        return self._elementwise("add", "vec_add", a, b)

    def sub(self, a, b):
        return self._elementwise("sub", "vec_sub", a, b)

    def mul(self, a, b):
        return self._elementwise("mul", "vec_mul", a, b)

    def _elementwise(self, op: str, kernel: str, a, b):
        n = validation.same_length(op, len(self._vec(a)), len(self._vec(b)))
        out = self._empty(n)
        self._launch(kernel, n, a, b, out)
        return out

    def scalar_mul(self, a, c: int):
        out = self._empty(len(self._vec(a)))
        self._launch("scalar_mul", len(a), a, _scalar(c), out)
        return out

    # --- reductions --------------------------------------------------------------------
    def sum(self, a) -> int:
        return self._reduce("vec_sum", len(self._vec(a)), 1, a)[0]

    def inner_product(self, a, b) -> int:
        n = validation.same_length("inner_product", len(self._vec(a)), len(self._vec(b)))
        return self._reduce("inner_product", n, 1, a, b)[0]

    # --- multilinear extensions --------------------------------------------------------
    def fold(self, v, r: int):
        validation.foldable("fold", len(self._vec(v)))
        out = self._empty(len(v) // 2)
        self._launch("fold", len(out), v, _scalar(r), out)
        return out

    # The two int64 operations composed: a device kernel would read the int64 limbs the way
    # ``from_int64`` does; composing costs one field copy of a on the device, not on the host.
    def fold_int64(self, a: np.ndarray, r: int):
        return self.fold(self.from_int64(a), r)

    def split_inner_products_int64(self, v, a: np.ndarray) -> tuple[int, int]:
        a = validation.int64_vector(a)
        validation.same_length("split_inner_products_int64", 2 * len(self._vec(v)), len(a))
        return self.inner_product(v, self.from_int64(a[0::2])), self.inner_product(v, self.from_int64(a[1::2]))

    def bind_axis_int64(self, a: np.ndarray, point: Sequence[int]):
        # Composed (the moved axis innermost, embedded, folded): see fold_int64 above.
        a = validation.axis_to_bind(a, len(point))
        table = self.from_int64(np.moveaxis(a, 1, 2).reshape(-1))
        for r in point:
            table = self.fold(table, r)
        return table

    def eq_table(self, point: Sequence[int]):
        if not point:
            return self.runtime.to_device(np.array([field.int_to_limbs(field.MONTGOMERY_R % R)], dtype=np.uint32))
        table = self._empty(1 << len(point))
        self.runtime.launch("eq_first", 1, table, _scalar(point[0]))
        for j in range(1, len(point)):
            self._launch("eq_double", 1 << j, table, 1 << j, _scalar(point[j]))
        return table

    def eq_table_add(self, acc, point: Sequence[int], scale: int):
        # Composed from the kernels above: on the device the extra passes are cheap.
        table = self.scalar_mul(self.eq_table(point), scale)
        return table if acc is None else self.add(acc, table)

    def mle_evaluate(self, v, point: Sequence[int]) -> int:
        validation.mle_length(len(self._vec(v)), len(point))
        # Bind variable 0 first, as a sumcheck does, into two ping-pong buffers (a fold in
        # place would race: slot i is written while slot 2i may be unread).
        n = len(v)
        if point:
            buffers = [self._empty(n // 2), self._empty(max(n // 4, 1))]
            for k, r in enumerate(point):
                out = buffers[k % 2][: n >> (k + 1)]
                self._launch("fold", len(out), v, _scalar(r), out)
                v = out
        return field.from_montgomery_int(self.runtime.to_host(v[0:1])[0])

    def round_evals(self, factors: Sequence, num_points: int) -> list[int]:
        validation.round_args([len(self._vec(f)) for f in factors], num_points)
        degree = len(factors)
        evals = self._reduce(_ROUND_KERNELS[degree], len(factors[0]) // 2, degree + 1, *factors)
        return _extend(evals[: min(num_points, degree + 1)], num_points)

    # ``eq_coordinate`` is not used yet: the device kernels compute s(t) whatever the eq table
    # (the CPU's split kernels were not ported; the result is the same).
    def gkr_round_evals(self, tables: Sequence, gamma: int, num_points: int,
                        eq_coordinate: int | None = None) -> list[int]:
        validation.gkr_round_args([len(self._vec(f)) for f in tables], num_points)
        evals = self._reduce("round_evals_gkr", len(tables[0]) // 2, 4, *tables, _scalar(gamma))
        return _extend(evals[: min(num_points, 4)], num_points)

    def gkr_leaf_round_evals(self, tables: Sequence, gamma: int, num_points: int,
                             eq_coordinate: int | None = None) -> list[int]:
        # No fused device kernel yet (none was measured): the three products, as round_evals.
        validation.gkr_leaf_round_args([len(self._vec(f)) for f in tables], num_points)
        e, q0, q1 = tables
        terms = [self.round_evals(f, num_points) for f in ([e, q0], [e, q1], [e, q0, q1])]
        return [(a + b + gamma * c) % R for a, b, c in zip(*terms)]
