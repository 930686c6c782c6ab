"""The tiny run file the bundle, CLI and segment tests prove (4-8-3 MLP, batch 8, 3 steps on
synthetic data): a fresh copy per call, with ``prove`` options and top-level keys overridden."""

from __future__ import annotations

import copy

_TINY = {
    "name": "tiny",
    "seed": 3,
    "data": {"source": "synthetic", "n": 64, "d": 4, "classes": 3, "seed": 1},
    "model": {"kind": "mlp", "widths": [4, 8, 3], "bias": True},
    "train": {"batch_size": 8, "steps": 3, "optimizer": "sgd", "loss": "mse", "lr": 0.5},
    "quant": {"frac_bits": 16, "lr_shift": 16, "value_bits": 32},
    "prove": {"zk": False, "backend": "cpu"},
}


def tiny_run(prove: dict | None = None, **top) -> dict:
    cfg = copy.deepcopy(_TINY)
    cfg["prove"].update(prove or {})
    cfg.update(top)
    return cfg
