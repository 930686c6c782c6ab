"""The critical batch size and the steps / compute trade-off around it.

McCandlish, Kaplan, Amodei et al. 2018 ("An Empirical Model of Large-Batch Training") found that
training to a given loss with batch B takes S steps and E = B * S examples, where

    (S / S_min - 1) * (E / E_min - 1) = 1,      B_crit = E_min / S_min.

Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", Section 5.1) fit the critical
batch as a power of the loss,

    B_crit(L) = B_star / L^(1 / alpha_B)                     (B_star ~ 2e8 tokens, alpha_B ~ 0.21)

and write the trade-off as

    S_min = S / (1 + B_crit / B),        E_min = E / (1 + B / B_crit).

Su et al. 2024 ("Unraveling the Mystery of Scaling Laws") confirm these forms up to 33B
parameters with setup-specific constants, so B_star and alpha_B are arguments here, not
built-in numbers. Batches below B_crit buy steps almost for free in compute; batches above it
buy few steps for a lot of compute.
"""

from __future__ import annotations

__all__ = [
    "critical_batch_size",
    "min_steps",
    "min_examples",
    "steps_at_batch",
    "examples_at_batch",
]


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name}: must be > 0, got {value!r}")


def critical_batch_size(loss: float, B_star: float, alpha_B: float) -> float:
    """B_crit(L) = B_star / L^(1 / alpha_B) (Kaplan et al. 2020, Section 5.1)."""
    _positive("loss", loss)
    _positive("B_star", B_star)
    _positive("alpha_B", alpha_B)
    return B_star / loss ** (1.0 / alpha_B)


def min_steps(steps: float, batch: float, critical_batch: float) -> float:
    """S_min = S / (1 + B_crit / B): the steps the same loss needs at a batch far above B_crit."""
    _positive("steps", steps)
    _positive("batch", batch)
    _positive("critical_batch", critical_batch)
    return steps / (1.0 + critical_batch / batch)


def min_examples(examples: float, batch: float, critical_batch: float) -> float:
    """E_min = E / (1 + B / B_crit): the examples the same loss needs at a batch far below B_crit."""
    _positive("examples", examples)
    _positive("batch", batch)
    _positive("critical_batch", critical_batch)
    return examples / (1.0 + batch / critical_batch)


def steps_at_batch(minimum_steps: float, batch: float, critical_batch: float) -> float:
    """S = S_min * (1 + B_crit / B): the steps to reach the loss at batch B (inverse of min_steps)."""
    _positive("minimum_steps", minimum_steps)
    _positive("batch", batch)
    _positive("critical_batch", critical_batch)
    return minimum_steps * (1.0 + critical_batch / batch)


def examples_at_batch(minimum_examples: float, batch: float, critical_batch: float) -> float:
    """E = E_min * (1 + B / B_crit): the examples to reach the loss at batch B."""
    _positive("minimum_examples", minimum_examples)
    _positive("batch", batch)
    _positive("critical_batch", critical_batch)
    return minimum_examples * (1.0 + batch / critical_batch)
