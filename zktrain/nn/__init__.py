"""Normalization layers for large-batch and micro-batch training.

* :class:`GhostBatchNorm1d`, :class:`GhostBatchNorm2d`: Ghost Batch Normalization
  (Hoffer, Hubara & Soudry 2017).
* :class:`WSLinear`, :class:`WSConv2d`: Weight Standardization (Qiao et al. 2019).
* :class:`BatchChannelNorm2d`: Batch-Channel Normalization (Qiao et al. 2019).

Formulas and conventions: docs/normalization_batching.md.
"""

from zktrain.nn.batch_channel_norm import BatchChannelNorm2d
from zktrain.nn.ghost_batchnorm import GhostBatchNorm1d, GhostBatchNorm2d
from zktrain.nn.weight_standardization import WSConv2d, WSLinear

__all__ = ["BatchChannelNorm2d", "GhostBatchNorm1d", "GhostBatchNorm2d", "WSConv2d", "WSLinear"]
