"""Batch-size control for large-batch training.

* :class:`AdaptiveBatchSize`: the norm, inner-product and augmented inner-product tests of
  AdAdaGrad (Lau, Liu & Kolar 2024), which grow the batch size from per-sample gradient noise.
* :func:`per_sample_gradients`, :func:`gradient_noise`: the per-sample gradients
  (``torch.func``) and the noise statistics the tests use.

Formulas and conventions: docs/normalization_batching.md.
"""

from zktrain.batching.adaptive import AdaptiveBatchSize, proposed_batch_size
from zktrain.batching.per_sample import GradientNoise, gradient_noise, per_sample_gradients

__all__ = ["AdaptiveBatchSize", "GradientNoise", "gradient_noise", "per_sample_gradients", "proposed_batch_size"]
