"""Learning-rate and batch-size rules for large-batch training."""

from zktrain.schedules.critical_batch import (
    critical_batch_size,
    examples_at_batch,
    min_examples,
    min_steps,
    steps_at_batch,
)
from zktrain.schedules.power import PowerScheduler
from zktrain.schedules.scaling import regime_adaptation, scale_lr

__all__ = [
    "PowerScheduler",
    "critical_batch_size",
    "examples_at_batch",
    "min_examples",
    "min_steps",
    "regime_adaptation",
    "scale_lr",
    "steps_at_batch",
]
