"""Adaptive batch sizes from gradient-noise tests (AdAdaGrad).

Lau, Liu & Kolar, "AdAdaGrad: Adaptive Batch Size Schemes for Adaptive Gradient Methods"
(arXiv:2402.11215, 2024); reference code ``timlautk/AdAdaGrad`` (``tests.py``, ``main.py``).
Every ``test_interval`` steps, while the batch size b is below ``max_batch_size``, the
per-sample gradients of the current batch give the statistics of
:mod:`zktrain.batching.per_sample`, and the next batch size is

    norm test (Byrd et al. 2012):
        b <- max(b, ceil( trace_var / (eta^2 ||G||^2) ))
    inner-product test (Bollapragada et al. 2018):
        b <- max(b, ceil( ip_var / (theta^2 ||G||^4) ))
    augmented inner-product test (inner product and orthogonality tests together):
        b <- max(b, ceil( max( ip_var / (theta^2 ||G||^4), orth_var / (nu^2 ||G||^2) ) ))

then rounded up to a multiple of ``batch_size_multiple`` (for example the virtual batch size of
Ghost BN, so that no ghost batch is left over) and capped at ``max_batch_size``. The batch size
therefore never decreases. When G = 0 any
non-zero variance makes the ratio infinite and the batch size jumps to the cap; with no variance
either, b is kept. Pair it with :class:`zktrain.optim.AdaGradNorm` for AdAdaGrad-Norm.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from zktrain.batching.per_sample import GradientNoise, LossFn, gradient_noise, per_sample_gradients

TESTS = ("norm", "inner_product", "augmented")


def _ceil_ratio(numerator: float, denominator: float) -> float:
    if denominator > 0:
        return math.ceil(numerator / denominator)
    return math.inf if numerator > 0 else 0


def proposed_batch_size(noise: GradientNoise, test: str, *, eta: float, theta: float, nu: float) -> float:
    """The batch size a test asks for (before the max with b and the cap); may be inf."""
    g2 = noise.grad_sq_norm
    if test == "norm":
        return _ceil_ratio(noise.trace_var, eta**2 * g2)
    inner = _ceil_ratio(noise.inner_product_var, theta**2 * g2**2)
    if test == "inner_product":
        return inner
    if test == "augmented":
        return max(inner, _ceil_ratio(noise.orthogonal_var, nu**2 * g2))
    raise ValueError(f"unknown test {test!r}; expected one of {TESTS}")


class AdaptiveBatchSize:
    """Batch-size controller of AdAdaGrad (Lau et al. 2024): grows b by a gradient-noise test.

    Args:
        initial_batch_size: b_0 (>= 2: a sample variance needs two samples).
        max_batch_size: the cap (>= initial_batch_size).
        test: ``"norm"``, ``"inner_product"`` or ``"augmented"``.
        eta: norm-test constant (> 0; the reference examples use 0.1 and 0.5).
        theta: inner-product-test constant (> 0; 0.5 in the reference examples).
        nu: orthogonality-test constant (> 0; 1.0 in the reference examples).
        test_interval: run the test every this many steps (>= 1).
        max_test_samples: evaluate per-sample gradients on at most this many samples of the
            batch (>= 2, or None for all): per-sample gradients cost b x (number of parameters)
            memory. The variance estimates stay unbiased on the sub-batch.
        batch_size_multiple: every batch size is a multiple of this (>= 1); the initial and
            maximum sizes must be multiples of it.

    It implements the training loop's batch-size controller protocol
    (``zktrain.train.builders.BatchSizeController``): :meth:`batch_size` gives the size of the
    next batch and :meth:`after_step` receives each step's batch. The test statistics are taken
    at the model's weights when :meth:`after_step` is called: after the optimizer step in
    ``zktrain train``; the reference code takes them just before it, which a hand-written loop
    can do by calling :meth:`after_step` before ``optimizer.step()``.
    """

    def __init__(
        self,
        initial_batch_size: int,
        max_batch_size: int,
        test: str = "norm",
        eta: float = 0.5,
        theta: float = 0.5,
        nu: float = 1.0,
        test_interval: int = 1,
        max_test_samples: int | None = None,
        batch_size_multiple: int = 1,
    ) -> None:
        if not isinstance(initial_batch_size, int) or initial_batch_size < 2:
            raise ValueError(f"initial_batch_size must be an integer >= 2, got {initial_batch_size!r}")
        if not isinstance(max_batch_size, int) or max_batch_size < initial_batch_size:
            raise ValueError(
                f"max_batch_size must be an integer >= initial_batch_size={initial_batch_size}, "
                f"got {max_batch_size!r}"
            )
        if test not in TESTS:
            raise ValueError(f"test must be one of {TESTS}, got {test!r}")
        for name, value in (("eta", eta), ("theta", theta), ("nu", nu)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not isinstance(test_interval, int) or test_interval < 1:
            raise ValueError(f"test_interval must be an integer >= 1, got {test_interval!r}")
        if max_test_samples is not None and (not isinstance(max_test_samples, int) or max_test_samples < 2):
            raise ValueError(f"max_test_samples must be None or an integer >= 2, got {max_test_samples!r}")
        if not isinstance(batch_size_multiple, int) or batch_size_multiple < 1:
            raise ValueError(f"batch_size_multiple must be an integer >= 1, got {batch_size_multiple!r}")
        if initial_batch_size % batch_size_multiple or max_batch_size % batch_size_multiple:
            raise ValueError(
                f"initial_batch_size={initial_batch_size} and max_batch_size={max_batch_size} must be "
                f"multiples of batch_size_multiple={batch_size_multiple}"
            )
        self.max_batch_size = max_batch_size
        self.batch_size_multiple = batch_size_multiple
        self.test = test
        self.eta, self.theta, self.nu = eta, theta, nu
        self.test_interval = test_interval
        self.max_test_samples = max_test_samples
        self._batch_size = initial_batch_size
        self.steps_seen = 0
        self.last_noise: GradientNoise | None = None

    def batch_size(self, step: int) -> int:
        """The batch size of step ``step`` (the current b; it changes only in :meth:`after_step`)."""
        return self._batch_size

    def test_due(self) -> bool:
        """Whether the next :meth:`after_step` runs the test: every ``test_interval`` steps,
        counting from the first, while b is below the cap."""
        return self.steps_seen % self.test_interval == 0 and self._batch_size < self.max_batch_size

    def decide(self, noise: GradientNoise) -> int:
        """Apply one test outcome: b <- min(cap, round_up(max(b, proposal))); returns the new b."""
        proposal = proposed_batch_size(noise, self.test, eta=self.eta, theta=self.theta, nu=self.nu)
        if proposal >= self.max_batch_size:
            self._batch_size = self.max_batch_size
        else:
            multiple = self.batch_size_multiple
            self._batch_size = max(self._batch_size, multiple * math.ceil(proposal / multiple))
        self.last_noise = noise
        return self._batch_size

    def after_step(self, model: nn.Module, loss_fn: LossFn, batch: tuple[Tensor, Tensor]) -> None:
        """Run the test on the step's batch ``(x, y)`` if it is due; ``loss_fn(outputs, y)`` is
        the mean loss."""
        due = self.test_due()
        self.steps_seen += 1
        if not due:
            return
        inputs, targets = batch
        if inputs.shape[0] < 2:
            return  # a short last batch of an epoch: no sample variance, so no test this time
        if self.max_test_samples is not None:
            inputs, targets = inputs[: self.max_test_samples], targets[: self.max_test_samples]
        grads = per_sample_gradients(model, loss_fn, inputs, targets)
        self.decide(gradient_noise(grads.values()))

    def state_dict(self) -> dict[str, Any]:
        return {"batch_size": self._batch_size, "steps_seen": self.steps_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        batch_size, steps_seen = state["batch_size"], state["steps_seen"]
        if not isinstance(batch_size, int) or not 2 <= batch_size <= self.max_batch_size:
            raise ValueError(f"batch_size in state must be an integer in [2, {self.max_batch_size}], got {batch_size!r}")
        if not isinstance(steps_seen, int) or steps_seen < 0:
            raise ValueError(f"steps_seen in state must be a non-negative integer, got {steps_seen!r}")
        self._batch_size, self.steps_seen = batch_size, steps_seen

    def __repr__(self) -> str:
        return (
            f"AdaptiveBatchSize(batch_size={self._batch_size}, max_batch_size={self.max_batch_size}, "
            f"test={self.test!r}, eta={self.eta}, theta={self.theta}, nu={self.nu}, "
            f"test_interval={self.test_interval}, max_test_samples={self.max_test_samples}, "
            f"batch_size_multiple={self.batch_size_multiple})"
        )
