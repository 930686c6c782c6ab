"""The Power scheduler: a learning rate that follows a power law of the data seen.

Shen, Stallone, Mishra, Zhang, Tan, Prasad, Meza Soria, Cox, Panda, "Power Scheduler: A Batch
Size and Token Number Agnostic Learning Rate Scheduler" (arXiv:2408.13359), Section 4. With n the
number of samples (or tokens) seen so far:

    eta_power(n) = min(eta_max, beta * a * n^b)                       (b < 0)

    eta(n) = n / N_warmup * eta_power(N_warmup)           if n < N_warmup
           = eta_power(n)                                 if N_warmup <= n <= N - N_decay
           = f((n - N + N_decay) / N_decay) * eta_power(N - N_decay)   after that

f is the decay shape, from f(0) = 1 to f(1) = ``final_factor``: ``"exponential"`` (the paper's
choice; the normalization a e^-u + c with f(0) = 1, f(1) = final_factor is the one of IBM's
dolomite-engine) or ``"linear"``. Without a decay phase the schedule never needs N, which is the
point of the method: training can stop or continue at any time.

Where beta lives: the paper writes the rate as beta * a * n^b with beta the batch size, while
dolomite-engine folds beta into a. Here ``batch_factor`` is beta and defaults to 1 (folded).

eta_max is each parameter group's initial learning rate, so with one group the optimizer's
``lr`` is the cap, as in dolomite-engine. Because n counts samples rather than steps, the
scheduler stays correct when the batch size changes: pass the size of each batch to
``step(samples=...)``.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["PowerScheduler", "DECAY_SHAPES"]

DECAY_SHAPES = ("exponential", "linear")


class PowerScheduler(LRScheduler):
    """Warmup, power-law phase eta_power(n) = min(eta_max, beta * a * n^b), optional decay.

    Args:
        optimizer: the wrapped optimizer; each group's initial ``lr`` is its eta_max.
        a: the power-law coefficient (> 0); 4.0 in the paper's released setting (with muP).
        b: the power-law exponent (< 0); -0.51 in the paper's released setting.
        samples_per_step: n advances by this much at each ``step()`` without ``samples``.
        warmup_samples: N_warmup, the length of the linear warmup (0: none).
        decay_samples: N_decay, the length of the final decay (0: none).
        total_samples: N, needed only with a decay phase.
        decay: the decay shape, one of ``DECAY_SHAPES``.
        final_factor: f(1), the fraction of eta_power(N - N_decay) left at the end (in [0, 1)).
        batch_factor: beta, the paper's batch-size factor (1: folded into ``a``).
    """

    #: The training loop passes the size of every batch to ``step(samples=...)``.
    counts_samples = True

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        a: float,
        b: float,
        samples_per_step: int,
        warmup_samples: int = 0,
        decay_samples: int = 0,
        total_samples: int | None = None,
        decay: str = "exponential",
        final_factor: float = 0.0,
        batch_factor: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        if not a > 0.0:
            raise ValueError(f"a: must be > 0, got {a!r}")
        if not b < 0.0:
            raise ValueError(f"b: must be < 0 (the rate decays with the data seen), got {b!r}")
        if not batch_factor > 0.0:
            raise ValueError(f"batch_factor: must be > 0, got {batch_factor!r}")
        _check_count("samples_per_step", samples_per_step, positive=True)
        _check_count("warmup_samples", warmup_samples)
        _check_count("decay_samples", decay_samples)
        if decay not in DECAY_SHAPES:
            raise ValueError(f"decay: must be one of {DECAY_SHAPES}, got {decay!r}")
        if not 0.0 <= final_factor < 1.0:
            raise ValueError(f"final_factor: must be in [0, 1), got {final_factor!r}")
        if decay_samples > 0:
            if total_samples is None:
                raise ValueError("total_samples: required when decay_samples > 0")
            _check_count("total_samples", total_samples, positive=True)
            if total_samples - decay_samples < warmup_samples:
                raise ValueError(
                    f"total_samples: {total_samples} leaves no room for warmup_samples={warmup_samples} "
                    f"before decay_samples={decay_samples}"
                )
        self.a, self.b, self.batch_factor = a, b, batch_factor
        self.samples_per_step = samples_per_step
        self.warmup_samples, self.decay_samples = warmup_samples, decay_samples
        self.total_samples = total_samples
        self.decay, self.final_factor = decay, final_factor
        self.samples_seen = 0
        super().__init__(optimizer, last_epoch)

    def step(self, samples: int | None = None) -> None:  # type: ignore[override]
        """Advance n by ``samples`` (default ``samples_per_step``) and set the new rates.

        Call it after ``optimizer.step()``. The first call, made by the constructor, sets the
        rates for n = 0 and advances nothing.
        """
        if self._step_count > 0:
            advance = self.samples_per_step if samples is None else samples
            _check_count("samples", advance)
            self.samples_seen += advance
        super().step()

    def get_lr(self) -> list[float]:
        return [self.lr_at(self.samples_seen, eta_max) for eta_max in self.base_lrs]

    def power_lr(self, n: int, eta_max: float) -> float:
        """eta_power(n) = min(eta_max, beta * a * n^b); its limit eta_max at n = 0 (b < 0)."""
        if n == 0:
            return eta_max
        return min(eta_max, self.batch_factor * self.a * float(n) ** self.b)

    def lr_at(self, n: int, eta_max: float) -> float:
        """eta(n) for a group whose cap is ``eta_max`` (module docstring)."""
        warmup = self.warmup_samples
        if warmup > 0 and n < warmup:
            return n / warmup * self.power_lr(warmup, eta_max)
        if self.decay_samples == 0:
            return self.power_lr(n, eta_max)
        decay_start = self.total_samples - self.decay_samples
        if n <= decay_start:
            return self.power_lr(n, eta_max)
        progress = min(1.0, (n - decay_start) / self.decay_samples)
        return self._decay_factor(progress) * self.power_lr(decay_start, eta_max)

    def _decay_factor(self, u: float) -> float:
        """f(u) on [0, 1] with f(0) = 1 and f(1) = final_factor."""
        d = self.final_factor
        if self.decay == "linear":
            return 1.0 - (1.0 - d) * u
        e = math.e
        return ((1.0 - d) * e * math.exp(-u) + d * e - 1.0) / (e - 1.0)


def _check_count(name: str, value: object, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        kind = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name}: must be {kind} integer, got {value!r}")
