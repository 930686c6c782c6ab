"""The CUDA C kernels of ``cuda/fr.cu`` through CuPy's ``RawModule``, for the cuda backend.

Which kernels, and why those: the ones a sumcheck runs over every table in every round, i.e.
where a prove spends its device time (cuda/README.md, kernel table):

* ``fold`` -> ``fr_fold`` (every table, every round: v[2i] + r (v[2i+1] - v[2i]));
* ``round_evals_2`` / ``round_evals_3`` -> ``fr_round_evals_2`` / ``fr_round_evals_3`` (the
  round polynomial of the 2- and 3-factor terms: matmul and eq-weighted products);
* ``inner_product`` -> ``fr_inner_product`` and ``vec_mul`` -> ``fr_vec_mul``;
* ``reduce_partials`` -> ``fr_reduce_partials``, the second level of every reduction (same
  partial layout, rows b K + k, as the numba reduction kernels write).

Everything else (conversions, eq tables, the fused logUp-GKR round, the MSM) stays on the
numba.cuda kernels: those run once per table or are not written in C yet.

How the path is picked (``select``): ``ZKTRAIN_CUDA_KERNELS`` (or ``CudaBackend(kernels=)``)
is "auto" (default), "numba" or "cuda-c". "auto" loads the RawModule when CuPy imports,
numba.cuda is not the simulator, CuPy sees a device and fr.cu compiles (NVRTC) with every
entry point found; otherwise the numba kernels run, with a debug-level log line saying why.
"cuda-c" raises instead of falling back. ``kernel_source()`` / ``CudaBackend.kernel_source``
say which path is active ("cuda-c" or "numba").

Arguments: vectors stay numba device arrays (uint32[n, 8] Montgomery rows, R = 2^256; the
backend's type); a launch hands them to CuPy zero-copy through ``__cuda_array_interface__``
(``cupy.asarray``). Both libraries launch on the legacy default stream, so the numba and the
CUDA C kernels run in launch order. Scalars, which the numba kernels take as 8-tuples of
32-bit limbs, become fr.cu's four 64-bit limbs (the CPU backend's layout of the same
Montgomery value); lengths are ``unsigned long long``, point counts ``unsigned int``.
``ENTRIES`` is the one table of names and argument packing; tests/test_cuda_rawmodule.py checks
it against fr.cu's signatures, its PTX and, through fr.cu's host twins (emulate.py), the CPU
backend.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: The CUDA C source (repository layout: <root>/cuda/fr.cu).
SOURCE = Path(__file__).resolve().parents[3] / "cuda" / "fr.cu"
#: fr_block_reduce's shared rows per thread (4 points) x 32 bytes per element.
_SHARED_BYTES_PER_THREAD = 4 * 32
CHOICES = ("auto", "numba", "cuda-c")
ENV = "ZKTRAIN_CUDA_KERNELS"


def _u64(x: int) -> np.uint64:
    return np.uint64(x)


def scalar_u64x4(limbs8) -> tuple:
    """A kernel scalar as the numba kernels take it (8 little-endian 32-bit limbs of its
    Montgomery form) -> fr.cu's by-value form (four 64-bit limbs, the same value)."""
    if len(limbs8) != 8:
        raise ValueError(f"a scalar is 8 limbs, got {len(limbs8)}")
    w = [int(x) for x in limbs8]
    if any(not 0 <= x < 1 << 32 for x in w):
        raise ValueError("scalar limbs must lie in [0, 2^32)")
    return tuple(np.uint64(w[2 * k] | (w[2 * k + 1] << 32)) for k in range(4))


@dataclass(frozen=True)
class Entry:
    """A backend kernel served by fr.cu: its entry point, whether it reduces (dynamic shared
    memory for fr_block_reduce), and the packing of the numba kernel's arguments into fr.cu's."""

    name: str
    reduces: bool
    pack: Callable[..., tuple]


#: backend kernel name (kernels.py, as CudaBackend launches it) -> fr.cu entry point.
ENTRIES: dict[str, Entry] = {
    "vec_mul": Entry("fr_vec_mul", False, lambda a, b, out: (a, b, out, _u64(out.shape[0]))),
    "inner_product": Entry("fr_inner_product", True, lambda a, b, partial: (a, b, partial, _u64(a.shape[0]))),
    "fold": Entry("fr_fold", False, lambda v, r, out: (v, *scalar_u64x4(r), out, _u64(out.shape[0]))),
    "round_evals_2": Entry("fr_round_evals_2", True, lambda f, g, partial: (f, g, partial, _u64(f.shape[0] // 2))),
    "round_evals_3": Entry(
        "fr_round_evals_3", True, lambda f, g, h, partial: (f, g, h, partial, _u64(f.shape[0] // 2))
    ),
    "reduce_partials": Entry(
        "fr_reduce_partials",
        True,
        lambda partial, k, out: (partial, _u64(partial.shape[0] // int(k)), np.uint32(k), out),
    ),
}
#: The fr.cu entry points the loader looks up.
KERNEL_NAMES = tuple(e.name for e in ENTRIES.values())


@dataclass(frozen=True)
class Signature:
    params: tuple[str, ...]  # C types, e.g. ("u32*", "u64")
    uses_shared: bool  # the body declares extern __shared__ memory


_ENTRY_RE = re.compile(r'extern\s+"C"\s+(__global__\s+)?void\s+(\w+)\s*\(([^)]*)\)')


def entry_points(source: str, host: bool = False) -> dict[str, Signature]:
    """The ``extern "C" __global__`` kernels of a .cu source (``host``: the host functions,
    ``extern "C" void``), name -> parameter types (const dropped, pointer kept)."""
    matches = list(_ENTRY_RE.finditer(source))
    out = {}
    for k, m in enumerate(matches):
        if bool(m.group(1)) == host:
            continue
        params = []
        for p in m.group(3).split(","):
            words = p.replace("*", " * ").split()
            words = [w for w in words if w != "const"][:-1]  # drop the parameter name
            params.append("".join(words))
        end = matches[k + 1].start() if k + 1 < len(matches) else len(source)
        out[m.group(2)] = Signature(tuple(params), "extern __shared__" in source[m.end() : end])
    return out


class RawKernels:
    """fr.cu's kernels from a compiled module (``cupy.RawModule`` or a stand-in with the same
    ``get_function``), launched with the backend's arguments. ``asarray`` turns a backend vector
    into what the module's functions take (``cupy.asarray``: zero-copy)."""

    def __init__(self, module, asarray: Callable = lambda a: a):
        self._asarray = asarray
        self._functions = {kernel: module.get_function(e.name) for kernel, e in ENTRIES.items()}

    def __contains__(self, kernel: str) -> bool:
        return kernel in self._functions

    def pack(self, kernel: str, block: int, *args) -> tuple[tuple, int]:
        """fr.cu's argument list for a launch of ``kernel`` and its dynamic shared bytes."""
        entry = ENTRIES[kernel]
        packed = tuple(a if isinstance(a, np.generic) else self._asarray(a) for a in entry.pack(*args))
        return packed, block * _SHARED_BYTES_PER_THREAD if entry.reduces else 0

    def launch(self, kernel: str, blocks: int, block: int, *args) -> bool:
        """Launch ``kernel`` on fr.cu's entry point; False (nothing launched) if fr.cu does not
        serve it."""
        fn = self._functions.get(kernel)
        if fn is None:
            return False
        packed, shared = self.pack(kernel, block, *args)
        fn((blocks,), (block,), packed, shared_mem=shared)
        return True


def _probe() -> tuple[RawKernels | None, str]:
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 (ImportError, or a broken CUDA install)
        return None, f"cupy not importable ({type(exc).__name__}: {exc})"
    from . import runtime

    if runtime.simulator_enabled():
        return None, "numba.cuda is the CUDA simulator"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, "CuPy sees no CUDA device"
    except Exception as exc:  # noqa: BLE001
        return None, f"CuPy sees no CUDA device ({exc})"
    if not SOURCE.is_file():
        return None, f"{SOURCE} not found (not a source checkout?)"
    try:
        kernels = RawKernels(cupy.RawModule(code=SOURCE.read_text()), cupy.asarray)
    except Exception as exc:  # noqa: BLE001 (NVRTC or lookup failure)
        return None, f"fr.cu did not compile or lacks an entry point ({type(exc).__name__}: {exc})"
    return kernels, "cupy.RawModule(cuda/fr.cu)"


@functools.lru_cache(maxsize=1)
def load() -> RawKernels | None:
    """fr.cu's kernels through CuPy (compiled once per process), or None (logged at debug)."""
    kernels, why = _probe()
    if kernels is None:
        log.debug("cuda backend: numba kernels only: %s", why)
    else:
        log.debug("cuda backend: CUDA C kernels %s from %s", ", ".join(KERNEL_NAMES), why)
    return kernels


def reason() -> str:
    """Why ``load`` gives what it gives (probes again; for reports)."""
    return _probe()[1]


def select(choice: str | None = None) -> RawKernels | None:
    """The RawKernels the backend should launch (None: numba only) for ``choice`` (default:
    $ZKTRAIN_CUDA_KERNELS, else "auto")."""
    choice = choice or os.environ.get(ENV) or "auto"
    if choice not in CHOICES:
        raise ValueError(f"cuda kernels {choice!r}: choose one of {', '.join(CHOICES)}")
    if choice == "numba":
        return None
    kernels = load()
    if kernels is None and choice == "cuda-c":
        raise RuntimeError(f"cuda kernels 'cuda-c' asked for but unavailable: {reason()}")
    return kernels


def kernel_source(choice: str | None = None) -> str:
    """"cuda-c" when the backend would launch fr.cu's kernels, else "numba"."""
    return "numba" if select(choice) is None else "cuda-c"
