"""zktrain's verifier: the specification every prover must satisfy.

Imports nothing from ``prover`` or ``zktrain`` and loads neither torch nor numba, so an
auditor can embed it in a pipeline with only small, well-kept dependencies.
"""

from .errors import VerifyError

__all__ = ["VerifyError"]
