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


def prove_and_infer(run, zk: bool):
    """``zktrain prove`` on a parsed run, its bundle verified against the model file, and
    predictions from that model proven and verified against the bundle's W_T: the path every
    optimizer's run-file test walks. Returns (bundle, summary)."""
    import io

    import numpy as np

    from verifier.bundle import verify_bundle
    from verifier.inference_bundle import verify_inference_bundle
    from zktrain.inference import prove_inference_run
    from zktrain.prove import prove_run

    bundle, summary = prove_run(run)
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason
    buf = io.BytesIO()
    np.savez(buf, X=np.random.default_rng(0).normal(size=(2, 4)))
    inference, _ = prove_inference_run(summary.model.to_bytes(), bundle, buf.getvalue(), zk=zk, backend="cpu")
    report = verify_inference_bundle(inference, bundle)
    assert report.accepted, report.reason
    return bundle, summary
