"""Batch-Channel Normalization.

Qiao, Wang, Liu, Shen & Yuille, "Micro-Batch Training with Batch-Channel Normalization and
Weight Standardization" (arXiv:1903.10520, 2019), section "Batch-Channel Normalization"; reference code
``joe-siyuan-qiao/Batch-Channel-Normalization`` (README ``BCNorm``/``EstBN``).

    BCN(x) = CN(BN(x))

* BN is a per-channel batch normalization with a per-channel affine. For micro-batch training
  (``estimated=True``) it uses *estimated* statistics (the paper's "EstBN"), with no gradient
  through them: in training, for each channel,

      mu_b      = mean(x)                          over (N, H, W)
      sigma_b^2 = mean((x - mu_hat_old)^2)         about the *previous* estimate, as in the code
      mu_hat    <- (1 - r) mu_hat + r mu_b
      sigma_hat^2 <- (1 - r) sigma_hat^2 + r sigma_b^2

  and x is normalized with the *updated* (mu_hat, sigma_hat^2) in training and in evaluation.
  ``r`` is the moving speed. The reference code defaults it to 0 and expects the trainer to set
  it, which freezes the statistics if forgotten; here it is a constructor argument with a
  non-zero default (0.1, the usual BatchNorm momentum; the paper's value was not found).
  With ``estimated=False`` the BN part is an ordinary batch normalization (batch statistics in
  training, running statistics updated with momentum ``moving_speed``, used in evaluation).
* CN is a channel (group) normalization of each sample over ``num_groups`` groups of channels,
  with a **per-group** affine (as in the reference code), not a per-channel one.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class BatchChannelNorm2d(nn.Module):
    """Batch-Channel Normalization over (N, C, H, W) inputs (Qiao et al. 2019).

    Args:
        num_features: C, the number of channels.
        num_groups: groups of the channel normalization (must divide C; the paper uses 32).
        estimated: use estimated (moving) statistics in the BN part, for micro-batches.
        moving_speed: the EMA rate r of the estimated / running statistics, in (0, 1].
        eps: added to the variances inside the square roots of both stages.

    Parameters: ``weight``, ``bias`` (per channel, BN part); ``group_weight``, ``group_bias``
    (per group, CN part). Buffers: ``running_mean``, ``running_var``, ``num_batches_tracked``.
    """

    def __init__(
        self,
        num_features: int,
        num_groups: int = 32,
        estimated: bool = True,
        moving_speed: float = 0.1,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        if not isinstance(num_groups, int) or num_groups < 1 or num_features % num_groups:
            raise ValueError(
                f"num_groups must be a positive integer dividing num_features={num_features}, "
                f"got {num_groups!r}"
            )
        if not 0.0 < moving_speed <= 1.0:
            raise ValueError(
                f"moving_speed must be in (0, 1] (0 would freeze the statistics), got "
                f"{moving_speed!r}"
            )
        if not eps > 0.0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        factory = {"device": device, "dtype": dtype}
        self.num_features = num_features
        self.num_groups = num_groups
        self.estimated = estimated
        self.moving_speed = moving_speed
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features, **factory))
        self.bias = nn.Parameter(torch.zeros(num_features, **factory))
        self.group_weight = nn.Parameter(torch.ones(num_groups, **factory))
        self.group_bias = nn.Parameter(torch.zeros(num_groups, **factory))
        self.register_buffer("running_mean", torch.zeros(num_features, **factory))
        self.register_buffer("running_var", torch.ones(num_features, **factory))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, num_groups={self.num_groups}, estimated={self.estimated}, "
            f"moving_speed={self.moving_speed}, eps={self.eps}"
        )

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")
        if self.estimated:
            if self.training:
                self._update_estimates(input)
            # No gradient flows through the estimated statistics (they are buffers).
            normalized = F.batch_norm(
                input, self.running_mean, self.running_var, self.weight, self.bias,
                False, 0.0, self.eps,
            )
        else:
            normalized = F.batch_norm(
                input, self.running_mean, self.running_var, self.weight, self.bias,
                self.training, self.moving_speed, self.eps,
            )
            if self.training:
                self.num_batches_tracked.add_(1)
        # Channel normalization with a per-group affine: expanding the group parameters to
        # their channels lets one fused group_norm call do both.
        channels_per_group = self.num_features // self.num_groups
        return F.group_norm(
            normalized,
            self.num_groups,
            self.group_weight.repeat_interleave(channels_per_group),
            self.group_bias.repeat_interleave(channels_per_group),
            self.eps,
        )

    @torch.no_grad()
    def _update_estimates(self, input: Tensor) -> None:
        r = self.moving_speed
        dims = (0, 2, 3)
        batch_mean = input.mean(dim=dims)
        centred = input - self.running_mean.view(1, -1, 1, 1).to(input.dtype)
        batch_var = centred.square().mean(dim=dims)
        self.running_mean.lerp_(batch_mean.to(self.running_mean.dtype), r)
        self.running_var.lerp_(batch_var.to(self.running_var.dtype), r)
        self.num_batches_tracked.add_(1)
