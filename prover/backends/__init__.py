"""Prover backends: field-vector arithmetic (and later MSMs) behind one interface.

``get_backend`` imports a backend only when asked for it, so importing this package loads
neither numba nor a GPU runtime.
"""

from __future__ import annotations

from .base import FieldBackend

BACKENDS = ("reference", "cpu", "cuda", "auto")


def get_backend(name: str) -> FieldBackend:
    """The FieldBackend called ``name``: "reference", "cpu", "cuda" or "auto".

    "auto" is "cpu": the cuda backend is conformance-tested under the simulator and with its
    kernels compiled for the CPU, but has not yet run on a device (benchmarks/bench_gpu.py runs
    its conformance suite there first); ask for it by name. "cuda" runs on a device or, with ``NUMBA_ENABLE_CUDASIM=1`` set before numba.cuda
    is first imported, on numba's CUDA simulator (slow: for tests); with neither it raises
    ValueError (what the callers turn into an option error).
    """
    if name == "reference":
        from .reference import ReferenceBackend

        return ReferenceBackend()
    if name in ("cpu", "auto"):
        from .cpu import CpuBackend

        return CpuBackend()
    if name == "cuda":
        from .cuda import runtime

        if not runtime.available():
            raise ValueError(runtime.UNAVAILABLE)
        from .cuda import CudaBackend

        return CudaBackend()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
