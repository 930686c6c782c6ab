"""The CPU field backend: Fr vectors in Montgomery form with numba kernels (DESIGN section 6)."""

from .backend import CpuBackend

__all__ = ["CpuBackend"]
