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

``HostCudaCRuntime`` does the same for the CUDA C path (``rawmodule.py``): ``cuda/fr.cu`` built
for the host by nvcc (``-DFR_HOST_TEST``: a host twin ``fr_host_NAME`` per kernel ``fr_NAME``,
same arguments, one block's work) stands in for ``cupy.RawModule``, so the loader's argument
packing (types, limbs, Montgomery form, partial layout) runs against fr.cu's arithmetic on the
CPU; each call is checked against the kernel's C signature parsed from fr.cu.
"""

from __future__ import annotations

import ctypes
import subprocess
import types as pytypes
from pathlib import Path

import numpy as np
from numba import njit

from . import field, rawmodule
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


# --- cuda/fr.cu on the host (the CUDA C path's CPU twin) -----------------------------------------


def build_fr_host_library(directory: Path, source: Path = rawmodule.SOURCE) -> ctypes.CDLL:
    """``source`` compiled for the host by nvcc with ``-DFR_HOST_TEST``, loaded with ctypes."""
    lib = Path(directory) / "libfr_host.so"
    cmd = ["nvcc", "-Xcompiler", "-fPIC", "-shared", "-DFR_HOST_TEST", "-o", str(lib), str(source)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nvcc -DFR_HOST_TEST failed on {source}:\n{proc.stderr}")
    return ctypes.CDLL(str(lib))


_CTYPES = {"u32*": ctypes.c_void_p, "u64": ctypes.c_uint64, "u32": ctypes.c_uint32}
_SCALARS = {"u64": np.uint64, "u32": np.uint32}


class HostFunction:
    """A kernel's host twin, called as a ``cupy.RawKernel`` is: ``fn(grid, block, args,
    shared_mem=...)``, with each argument checked against the kernel's C parameter type."""

    def __init__(self, fn, name: str, signature: rawmodule.Signature):
        self.fn, self.name, self.signature = fn, name, signature
        fn.argtypes = [_CTYPES[t] for t in signature.params]
        fn.restype = None
        self.calls = 0

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        if tuple(grid) != (1,):
            raise ValueError(f"{self.name}: the host twin computes a grid of one block, got {grid}")
        params = self.signature.params
        if len(args) != len(params):
            raise TypeError(f"{self.name} takes {len(params)} arguments ({params}), got {len(args)}")
        if self.signature.uses_shared and shared_mem < block[0] * 4 * 32:
            raise ValueError(f"{self.name}: {shared_mem} bytes of shared memory for {block[0]} threads")
        c_args = []
        for k, (t, a) in enumerate(zip(params, args)):
            if t == "u32*":
                ok = (isinstance(a, np.ndarray) and a.dtype == np.uint32 and a.ndim == 2
                      and a.shape[1] == field.LIMBS and a.flags.c_contiguous)
                if not ok:
                    raise TypeError(f"{self.name} argument {k}: Fr rows (C-contiguous uint32[n, 8]) expected, "
                                    f"got {type(a).__name__} {getattr(a, 'dtype', '')} {getattr(a, 'shape', '')}")
                c_args.append(a.ctypes.data)
            else:
                if type(a) is not _SCALARS[t]:
                    raise TypeError(f"{self.name} argument {k}: {t} ({_SCALARS[t].__name__}) expected, "
                                    f"got {type(a).__name__}")
                c_args.append(int(a))
        self.calls += 1
        self.fn(*c_args)


class HostRawModule:
    """A stand-in for ``cupy.RawModule(code=fr.cu)``: ``get_function("fr_NAME")`` is the host
    twin ``fr_host_NAME``, which must exist with the kernel's parameter types."""

    def __init__(self, lib: ctypes.CDLL, source: Path = rawmodule.SOURCE):
        text = Path(source).read_text()
        self.lib = lib
        self.kernels = rawmodule.entry_points(text)
        self.host = rawmodule.entry_points(text, host=True)
        self.functions: dict[str, HostFunction] = {}

    def get_function(self, name: str) -> HostFunction:
        if name not in self.kernels:
            raise AttributeError(f'no extern "C" __global__ {name} in fr.cu')
        host = "fr_host_" + name.removeprefix("fr_")
        if host not in self.host:
            raise AttributeError(f"fr.cu has no host twin {host} of {name}")
        if self.host[host].params != self.kernels[name].params:
            raise TypeError(f"{host}{self.host[host].params} differs from {name}{self.kernels[name].params}")
        self.functions[name] = HostFunction(getattr(self.lib, host), name, self.kernels[name])
        return self.functions[name]


class HostCudaCRuntime:
    """``CudaBackend``'s runtime with numpy arrays for device arrays and fr.cu's host twins
    behind ``rawmodule.RawKernels`` (one block of ``BLOCK`` threads per launch); kernels fr.cu
    does not serve go to ``fallback`` (e.g. a ``CompiledCpuRuntime``) or raise KeyError."""

    block = K.BLOCK
    kernel_source = "cuda-c"

    def __init__(self, lib: ctypes.CDLL, fallback=None):
        self.module = HostRawModule(lib)
        self.raw = rawmodule.RawKernels(self.module)
        self.fallback = fallback

    def grid(self, items: int, max_blocks: int) -> int:
        return 1

    def launch(self, kernel: str, blocks: int, *args) -> None:
        if self.raw.launch(kernel, blocks, self.block, *args):
            return
        if self.fallback is None:
            raise KeyError(f"kernel {kernel!r} is not served by fr.cu and this runtime has no fallback")
        self.fallback.launch(kernel, blocks, *args)

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
