"""Rules that carry a small-batch recipe over to a large batch.

* ``scale_lr``: the learning rate as a function of the batch size. Linear for SGD (Goyal et al.
  2017, "Accurate, Large Minibatch SGD"), square root for adaptive methods (Adam, LAMB), as
  predicted by Granziol et al. 2020 ("Learning Rates as a Function of Batch Size: A Random
  Matrix Theory Approach to Neural Network Training"), with an optional cap because the maximal
  stable rate saturates once curvature dominates the gradient noise.
* ``regime_adaptation``: Hoffer, Hubara, Soudry 2017 ("Train longer, generalize better"),
  Section 5: multiply the number of epochs, and every epoch-denominated milestone, by
  ceil(B / b) so that the large batch B makes as many updates as the small batch b did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["scale_lr", "regime_adaptation", "REGIME_EPOCH_KEYS"]

#: The keys of a regime that count epochs and are therefore scaled by ``regime_adaptation``.
REGIME_EPOCH_KEYS = ("epochs", "milestones", "warmup_epochs")


def _check_batch(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")


def scale_lr(
    base_lr: float, base_batch: int, batch: int, rule: str = "linear", max_lr: float | None = None
) -> float:
    """The learning rate for ``batch`` given ``base_lr`` tuned at ``base_batch``.

    ``rule="linear"``: base_lr * batch / base_batch (SGD, LARS).
    ``rule="sqrt"``: base_lr * sqrt(batch / base_batch) (Adam-type: Adam, LAMB).
    The result is capped at ``max_lr`` when given.
    """
    if not base_lr >= 0.0:
        raise ValueError(f"base_lr: must be >= 0, got {base_lr!r}")
    _check_batch("base_batch", base_batch)
    _check_batch("batch", batch)
    if max_lr is not None and not max_lr > 0.0:
        raise ValueError(f"max_lr: must be > 0 or None, got {max_lr!r}")
    ratio = batch / base_batch
    if rule == "linear":
        lr = base_lr * ratio
    elif rule == "sqrt":
        lr = base_lr * math.sqrt(ratio)
    else:
        raise ValueError(f"rule: must be 'linear' or 'sqrt', got {rule!r}")
    return lr if max_lr is None else min(lr, max_lr)


def regime_adaptation(schedule: Mapping[str, Any], base_batch: int, batch: int) -> dict[str, Any]:
    """A copy of ``schedule`` with its epoch counts scaled so the number of updates is kept.

    Every key of ``REGIME_EPOCH_KEYS`` present in ``schedule`` (a number or a list of numbers,
    e.g. ``{"epochs": 30, "milestones": [10, 20]}``) is multiplied by k = ceil(batch /
    base_batch), the factor of Hoffer et al. (2017) and of their ``regime_bb_fix``; the other
    keys are copied unchanged. ``batch`` must not be smaller than ``base_batch``: the rule is
    stated for growing the batch.
    """
    _check_batch("base_batch", base_batch)
    _check_batch("batch", batch)
    if batch < base_batch:
        raise ValueError(f"batch: must be >= base_batch ({base_batch}) for regime adaptation, got {batch}")
    factor = -(-batch // base_batch)
    adapted = dict(schedule)
    for key in REGIME_EPOCH_KEYS:
        if key not in adapted:
            continue
        value = adapted[key]
        if isinstance(value, (list, tuple)):
            adapted[key] = [_scaled(f"{key}[{i}]", item, factor) for i, item in enumerate(value)]
        else:
            adapted[key] = _scaled(key, value, factor)
    return adapted


def _scaled(name: str, value: Any, factor: int) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name}: must be a non-negative number of epochs, got {value!r}")
    return value * factor
