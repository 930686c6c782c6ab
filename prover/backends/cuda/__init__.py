"""The CUDA field backend: numba.cuda kernels over device-resident Fr vectors (DESIGN section 6).

``field`` (the limb arithmetic as plain Python device functions) and ``runtime`` (which CUDA
runtime is here) import no CUDA code; ``CudaBackend`` imports ``numba.cuda`` on first use, so
the simulator switch (``NUMBA_ENABLE_CUDASIM=1``) must be set before that. ``rawmodule``
loads cuda/fr.cu's CUDA C kernels through CuPy for the hot paths when CuPy and a device are
present (``CudaBackend.kernel_source`` says "cuda-c" or "numba").
"""

from __future__ import annotations

__all__ = ["CudaBackend"]


def __getattr__(name: str):
    if name == "CudaBackend":
        from .backend import CudaBackend

        return CudaBackend
    raise AttributeError(name)
