"""Prover backends: field-vector arithmetic (and later MSMs) behind one interface.

``get_backend`` imports a backend only when asked for it, so importing this package loads
neither numba nor a GPU runtime.
"""

from __future__ import annotations

from .base import FieldBackend

BACKENDS = ("reference", "cpu", "cuda", "auto")


def get_backend(name: str) -> FieldBackend:
    """The FieldBackend called ``name``: "reference", "cpu", "cuda" or "auto".

    "auto" picks the fastest backend available here; until the CUDA backend exists that is
    always "cpu".
    """
    if name == "reference":
        from .reference import ReferenceBackend

        return ReferenceBackend()
    if name in ("cpu", "auto"):
        from .cpu import CpuBackend

        return CpuBackend()
    if name == "cuda":
        raise ValueError("backend 'cuda' is not implemented yet; use 'cpu' or 'auto'")
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
