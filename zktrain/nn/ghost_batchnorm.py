"""Ghost Batch Normalization.

Hoffer, Hubara & Soudry, "Train longer, generalize better: closing the generalization gap in
large batch training of neural networks", NeurIPS 2017, Algorithm 1.

A large batch of ``N`` samples is split, in order, into ghost (virtual) batches of
``virtual_batch_size`` samples. Each ghost batch is normalized with its own statistics
(mean and biased variance), so the normalization noise is that of small-batch training while
the gradient is averaged over the large batch. The running statistics are updated once per
ghost batch, sequentially, exactly as ``k`` successive ``BatchNorm`` calls would update them
(this is what the authors' code does by looping over chunks; Keras' ``virtual_batch_size`` and
composer's ``momentum / k`` only approximate it).

Uneven last ghost batch (a deliberate convention): ghost batches hold exactly
``virtual_batch_size`` samples, except the last one, which holds the remainder
``N mod virtual_batch_size`` when that is not zero (a batch smaller than the virtual batch size
is one ghost batch). The remainder is normalized with its own statistics and updates the running
statistics like any other ghost batch. A ghost batch of a single sample has no batch variance;
training on one raises ``ValueError`` instead of silently normalizing it to zero.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm


def ghost_batch_sizes(batch_size: int, virtual_batch_size: int) -> list[int]:
    """Sizes of the consecutive ghost batches that a batch of ``batch_size`` is split into."""
    full, remainder = divmod(batch_size, virtual_batch_size)
    return [virtual_batch_size] * full + ([remainder] if remainder else [])


def sequential_ema(running: Tensor, observations: Tensor, momentum: float) -> None:
    """Apply ``running <- (1 - m) running + m s_j`` for j = 1..K in place, in closed form.

    ``observations`` has shape (K, C). Unrolling the K updates gives
    ``r_K = (1 - m)^K r_0 + sum_j m (1 - m)^(K - j) s_j``, computed here with one matrix-vector
    product instead of K small kernels.
    """
    num = observations.shape[0]
    decay = 1.0 - momentum
    exponents = torch.arange(num - 1, -1, -1, device=running.device, dtype=running.dtype)
    weights = momentum * torch.pow(torch.full_like(exponents, decay), exponents)
    running.mul_(decay**num).add_(weights @ observations.to(running.dtype))


class _GhostBatchNorm(_BatchNorm):
    """Shared implementation of :class:`GhostBatchNorm1d` and :class:`GhostBatchNorm2d`.

    The parameters and buffers (``weight``, ``bias``, ``running_mean``, ``running_var``,
    ``num_batches_tracked``) are those of ``torch.nn.BatchNorm``, so state dicts are
    interchangeable with it. ``num_batches_tracked`` counts ghost batches.
    """

    def __init__(
        self,
        num_features: int,
        virtual_batch_size: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        if not isinstance(virtual_batch_size, int) or virtual_batch_size < 2:
            raise ValueError(
                f"virtual_batch_size must be an integer >= 2 (a ghost batch of one sample has "
                f"no variance), got {virtual_batch_size!r}"
            )
        if momentum is None or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be a float in [0, 1], got {momentum!r}")
        if not eps >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        super().__init__(
            num_features,
            eps=eps,
            momentum=momentum,
            affine=affine,
            track_running_stats=True,
            device=device,
            dtype=dtype,
        )
        self.virtual_batch_size = virtual_batch_size

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, virtual_batch_size={self.virtual_batch_size}"

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if not self.training:
            return F.batch_norm(
                input, self.running_mean, self.running_var, self.weight, self.bias,
                False, 0.0, self.eps,
            )
        batch_size = input.shape[0]
        full, remainder = divmod(batch_size, self.virtual_batch_size)
        if remainder == 1 or batch_size == 0:
            raise ValueError(
                f"{type(self).__name__}: a batch of {batch_size} samples with "
                f"virtual_batch_size={self.virtual_batch_size} gives ghost batch sizes "
                f"{ghost_batch_sizes(batch_size, self.virtual_batch_size)}; a ghost batch of one "
                "sample cannot be normalized with batch statistics (choose a batch size whose "
                "remainder modulo virtual_batch_size is not 1)"
            )
        # Full ghost batches are normalized together through a (full, g, C, ...) view and the
        # remainder, if any, through a (1, remainder, C, ...) view.
        pieces = [(self.virtual_batch_size, full)] if full else []
        if remainder:
            pieces.append((remainder, 1))
        values_per_channel = input[0, 0].numel()
        normalized, means, variances, counts = [], [], [], []
        offset = 0
        for size, num in pieces:
            chunk = input[offset : offset + size * num].reshape(num, size, *input.shape[1:])
            reduce_dims = [1, *range(3, chunk.dim())]
            var, mean = torch.var_mean(chunk, dim=reduce_dims, correction=0, keepdim=True)
            normalized.append(((chunk - mean) * torch.rsqrt(var + self.eps)).flatten(0, 1))
            means.append(mean.reshape(num, -1))
            variances.append(var.reshape(num, -1))
            counts += [size * values_per_channel] * num
            offset += size * num
        output = torch.cat(normalized) if len(normalized) > 1 else normalized[0]
        self._update_running_stats(torch.cat(means), torch.cat(variances), counts)
        if self.affine:
            shape = [1, -1] + [1] * (input.dim() - 2)
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output

    @torch.no_grad()
    def _update_running_stats(self, means: Tensor, variances: Tensor, counts: list[int]) -> None:
        """One sequential EMA step per ghost batch, with the unbiased variance as torch does."""
        n = torch.tensor(counts, device=variances.device, dtype=variances.dtype).unsqueeze(1)
        unbiased = variances * n / (n - 1)
        sequential_ema(self.running_mean, means.detach(), self.momentum)
        sequential_ema(self.running_var, unbiased.detach(), self.momentum)
        self.num_batches_tracked.add_(means.shape[0])


class GhostBatchNorm1d(_GhostBatchNorm):
    """Ghost Batch Normalization over (N, C) or (N, C, L) inputs (Hoffer et al. 2017, Alg. 1).

    Args:
        num_features: C, the number of channels.
        virtual_batch_size: samples per ghost batch (>= 2); see the module docstring for the
            uneven last ghost batch.
        momentum: EMA rate of the running statistics, applied once per ghost batch.
        eps: added to the biased ghost-batch variance inside the square root.
        affine: learn a per-channel scale and shift.

    In evaluation mode the running statistics are used, exactly as in ``BatchNorm1d``.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class GhostBatchNorm2d(_GhostBatchNorm):
    """Ghost Batch Normalization over (N, C, H, W) inputs (Hoffer et al. 2017, Alg. 1).

    Statistics are taken per channel over the samples of a ghost batch and all spatial
    positions. Arguments as for :class:`GhostBatchNorm1d`.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")
