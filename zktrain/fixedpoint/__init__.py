"""Exact fixed-point MLP training (DESIGN section 4): the engine that produces the witness.

- ``engine``: ``FixedPointMLP`` (one exact SGD step, recorded) and ``train``;
- ``trace``: ``StepTrace`` / ``TrainingTrace``, every tensor the circuit needs (``MomentumTrace``:
  the momentum buffers of ``optimizer: sgd_momentum``; ``NormTrace``: a Ghost BN layer of
  ``model.norm: ghost_bn``);
- ``ghost_bn``: the vectorized Ghost Batch Norm kernel (docs/ghost_bn.md);
- ``momentum``: the exact kernels of SGD with momentum and weight decay (docs/momentum.md),
  design (A) of which the engine runs;
- ``exact``: exact integer matmuls beyond int64 (float64 BLAS on limbs, int64 carries);
- ``data``: inputs and labels in the recipe's encoding, the seeded batch stream;
- ``reference``: the float PyTorch twin of a recipe, for comparison.

The semantics themselves (rescale, scales, widths, bounds, seeded W_0) live in
``circuits.semantics``, shared with the verifier.
"""

from .engine import FixedPointMLP, WidthError, train
from .trace import LayerTrace, MomentumTrace, NormTrace, StepTrace, TrainingTrace

__all__ = ["FixedPointMLP", "WidthError", "train", "LayerTrace", "MomentumTrace", "NormTrace", "StepTrace",
           "TrainingTrace"]
