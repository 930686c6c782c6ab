"""Weight Standardization.

Qiao, Wang, Liu, Shen & Yuille, "Micro-Batch Training with Batch-Channel Normalization and
Weight Standardization" (arXiv:1903.10520, 2019), section "Weight Standardization".

Each output channel's weights are standardized over their fan-in before use:

    W_hat[i, :] = (W[i, :] - mu_i) / sqrt(sigma_i^2 + eps),
    mu_i = mean_j W[i, j],   sigma_i^2 = mean_j (W[i, j] - mu_i)^2,

where j runs over the fan-in (in_features for a linear layer, in_channels/groups * kh * kw for a
convolution). Convention used here, stated because sources disagree (see
docs/normalization_batching.md): the **biased** variance (divide by the fan-in) and eps **inside**
the square root, eps = 1e-5 by default. The standardization is differentiated through, as in the
paper: gradients flow to W through mu and sigma. There is no affine term; WS is meant for layers
followed by a normalization layer (BN, GN or :class:`BatchChannelNorm2d`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def standardize_weight(weight: Tensor, eps: float) -> Tensor:
    """Standardize each output row of ``weight`` over its fan-in (biased variance, eps inside)."""
    rows = weight.flatten(1)
    var, mean = torch.var_mean(rows, dim=1, correction=0, keepdim=True)
    return ((rows - mean) * torch.rsqrt(var + eps)).view_as(weight)


def _check_ws_eps(ws_eps: float) -> None:
    if not ws_eps > 0.0:
        raise ValueError(f"ws_eps must be > 0, got {ws_eps!r}")


def _check_fan_in(weight: Tensor) -> None:
    fan_in = weight[0].numel() if weight.shape[0] else 0
    if fan_in < 2:
        raise ValueError(
            f"weight standardization needs a fan-in of at least 2 (got {fan_in}): a single input "
            "weight standardizes to zero"
        )


class WSLinear(nn.Linear):
    """``nn.Linear`` whose weight rows are standardized on every forward (Qiao et al. 2019).

    Args as for ``nn.Linear``, plus ``ws_eps`` (added to the biased variance inside the square
    root). The stored ``weight`` is the raw parameter; :meth:`standardized_weight` is what the
    layer applies.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        ws_eps: float = 1e-5,
    ) -> None:
        _check_ws_eps(ws_eps)
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        _check_fan_in(self.weight)
        self.ws_eps = ws_eps

    def standardized_weight(self) -> Tensor:
        return standardize_weight(self.weight, self.ws_eps)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.standardized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, ws_eps={self.ws_eps}"


class WSConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose filters are standardized on every forward (Qiao et al. 2019).

    Each filter ``W[i]`` (shape in_channels/groups x kh x kw) is standardized over all of its
    entries. Args as for ``nn.Conv2d``, plus ``ws_eps``.
    """

    def __init__(self, *args: Any, ws_eps: float = 1e-5, **kwargs: Any) -> None:
        _check_ws_eps(ws_eps)
        super().__init__(*args, **kwargs)
        _check_fan_in(self.weight)
        self.ws_eps = ws_eps

    def standardized_weight(self) -> Tensor:
        return standardize_weight(self.weight, self.ws_eps)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.standardized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, ws_eps={self.ws_eps}"
