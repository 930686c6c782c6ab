"""zktrain: verifiable training of PyTorch models.

``zktrain.Recorder`` (``zktrain.recorder``) records a torch training loop in the exact
fixed-point semantics and proves it. It is imported on first use, so that ``import zktrain``
(the command line, an audit pipeline) loads neither torch nor the prover.
"""

__all__ = ["Recorder", "Fidelity"]


def __getattr__(name: str):
    if name in __all__:
        from . import recorder

        return getattr(recorder, name)
    raise AttributeError(f"module 'zktrain' has no attribute {name!r}")
