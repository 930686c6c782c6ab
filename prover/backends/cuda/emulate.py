"""The cuda backend's kernels compiled for the CPU with ``@njit``: numba's real integer typing.

The CUDA simulator runs kernels as Python on NumPy scalars, whose integer promotion differs
from compiled numba's (gpu-backend reference notes, section 1.4: a uint32 product wraps in
one and not the other), so a simulator pass says little about the compiled kernels. Here the
very same kernel functions (``kernels.py``, their Python bodies) are compiled by numba's CPU
target, whose typing is the CUDA target's, with:

* ``cuda`` bound to a stand-in module whose ``grid``/``gridsize``/``threadIdx``/``blockIdx``
  describe a grid of one block of one thread, ``syncthreads`` does nothing and
  ``shared.array`` allocates a NumPy array;
* ``BLOCK = 1``, so the block trees are the one-thread case and each reduction's single
  thread walks the whole grid-stride loop;
* the device functions built by ``field.build(njit)``.

``CompiledCpuRuntime`` plugs that into ``CudaBackend`` (``CudaBackend(runtime=...)``), so the
conformance suite runs over every kernel body compiled. What it does not cover: several
threads and blocks (the simulator does, at small sizes) and NVVM's code generation
(``ptx.py`` compiles and assembles every kernel).
"""

from __future__ import annotations

import types as pytypes

import numpy as np
from numba import njit

from . import field
from . import kernels as K

#: The device functions of kernels.py besides field.py's, compiled alongside the kernels.
_DEVICE_FUNCTIONS = ("_tree_level", "_block_reduce", "_gkr_term")


def _fake_cuda() -> pytypes.ModuleType:
    """A numba-compilable stand-in for numba.cuda: one block of one thread."""

    @njit
    def grid(ndim):
        return 0

    @njit
    def gridsize(ndim):
        return 1

    @njit
    def syncthreads():
        pass

    @njit
    def array(shape, dtype):
        return np.zeros(shape, dtype)

    mod = pytypes.ModuleType("zktrain_fake_cuda")
    index = pytypes.ModuleType("zktrain_fake_cuda.index")
    index.x = 0
    shared = pytypes.ModuleType("zktrain_fake_cuda.shared")
    shared.array = array
    mod.grid, mod.gridsize, mod.syncthreads = grid, gridsize, syncthreads
    mod.threadIdx = mod.blockIdx = index
    mod.shared = shared
    return mod


def _py_func(obj):
    return obj.py_func if hasattr(obj, "py_func") else obj


def compile_kernels() -> dict:
    """kernel name -> the kernel's body compiled by ``@njit`` (see the module docstring)."""
    from .ptx import signatures

    namespace = dict(vars(K))
    namespace.update(cuda=_fake_cuda(), BLOCK=1, SHARED_ROWS=K.POINTS)
    namespace.update(vars(field.build(njit)))

    def rebind(fn):
        fn = _py_func(fn)
        return pytypes.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)

    for name in _DEVICE_FUNCTIONS:
        namespace[name] = njit(rebind(getattr(K, name)))
    # The field kernels (the MSM's are msm.py's: their arithmetic is tested through g1.py).
    return {name: njit(rebind(getattr(K, name))) for name in signatures() if hasattr(K, name)}


class CompiledCpuRuntime:
    """``CudaBackend``'s runtime with numpy arrays for device arrays and the kernels compiled
    for the CPU (one thread: the grid is always one block)."""

    block = 1

    def __init__(self):
        self._kernels = compile_kernels()

    def grid(self, items: int, max_blocks: int) -> int:
        return 1

    def launch(self, kernel: str, blocks: int, *args) -> None:
        self._kernels[kernel](*args)

    def empty(self, shape, dtype=np.uint32):
        return np.empty(shape, dtype=dtype)

    def to_device(self, a: np.ndarray):
        return np.array(a, copy=True)

    def to_host(self, a) -> np.ndarray:
        return np.array(a, copy=True)

    def is_vector(self, v) -> bool:
        return (
            isinstance(v, np.ndarray)
            and v.dtype == np.uint32
            and v.ndim == 2
            and v.shape[1] == field.LIMBS
            and v.flags.c_contiguous
        )
