"""The CUDA field backend: numba.cuda kernels over device-resident Fr vectors (DESIGN section 6).

``field`` (the limb arithmetic as plain Python device functions) and ``runtime`` (which CUDA
runtime is here) import no CUDA code; ``CudaBackend`` imports ``numba.cuda`` on first use, so
the simulator switch (``NUMBA_ENABLE_CUDASIM=1``) must be set before that.
"""

from __future__ import annotations

__all__ = ["CudaBackend"]


def __getattr__(name: str):
    if name == "CudaBackend":
        from .backend import CudaBackend

        return CudaBackend
    raise AttributeError(name)
