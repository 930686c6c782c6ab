"""Benchmark the proof of inference (issue 13, item 5): prove time, verify time, proof size and
peak memory for N inputs of a trained model, in each mode, beside a published zkML system.

    python benchmarks/bench_inference.py                          # 784-256-256-10 and 64-128-128-10, N = 1, 8, 64, clear and zk
    python benchmarks/bench_inference.py --shapes 784 --batches 1 8 --modes zk --gadgets limbs bits
    python benchmarks/bench_inference.py --shapes 784 --batches 1 8 --modes zk --inputs public committed

A model needs a training bundle whose final commitments it opens: each shape is trained and
proven once per mode, for one step of batch 64 (``zktrain.prove.prove_run``; 784-256-256-10 on
synthetic data of 784 features, 64-128-128-10 on digits), and the bundle and model file are
kept in ``--workdir``. Each (shape, mode, N) then runs in a fresh child process through
``zktrain.inference.prove_inference_run`` (the code path of ``zktrain prove-inference``: the
inputs file, the model file checked against the commitments, the forward pass, the witness,
the proof) and ``verifier.inference_bundle.verify_inference_bundle``, and reports:

- **prove**: inputs encoded, model checked, forward pass, witness and proof (the whole command
  but reading files and writing the bundle); **witness**: its forward pass and witness part;
- **verify**: the inference proof alone, against the training bundle's final commitments;
  **verify all**: ``verify_inference_bundle`` (the training bundle's verification included);
- **proof**: the proof body's bytes; **bundle**: the inference bundle's (public inputs, or the
  committed inputs' row commitments, and logits included);
- **peak**: the child's maximum resident set (prover and verifier together).

Figures measured here are in benchmarks/inference.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {"784": [784, 256, 256, 10], "64": [64, 128, 128, 10]}
#: A published zkML system on this VM (issue 13): EZKL v23, Halo2/KZG, weights public.
EZKL = {("784", 1): 32.7, ("784", 8): 58.4}


def _run_config(shape: str, mode: str) -> dict:
    widths = SHAPES[shape]
    data = {"source": "digits"} if shape == "64" else {"source": "synthetic", "n": 512, "d": widths[0],
                                                       "classes": widths[-1]}
    return {
        "name": f"bench-infer-{shape}", "seed": 0, "data": data,
        "model": {"kind": "mlp", "widths": widths, "bias": True},
        "train": {"batch_size": 64, "steps": 1, "lr": 2.0},
        "prove": {"zk": mode == "zk", "backend": "cpu", "range_check": "limbs"},
    }


def _paths(workdir: Path, shape: str, mode: str) -> tuple[Path, Path]:
    return workdir / f"train-{shape}-{mode}.zkp", workdir / f"train-{shape}-{mode}.model.npz"


def train(workdir: Path, shape: str, mode: str) -> None:
    """The training bundle and model file of a shape and mode, proven once."""
    bundle_path, model_path = _paths(workdir, shape, mode)
    if bundle_path.exists() and model_path.exists():
        return
    sys.path.insert(0, str(ROOT))
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    start = time.perf_counter()
    bundle, summary = prove_run(parse_run(_run_config(shape, mode)))
    workdir.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(summary.model.to_bytes())
    bundle_path.write_bytes(bundle)
    print(f"trained and proved {shape} ({mode}) in {time.perf_counter() - start:.0f} s", flush=True)


def _inputs(shape: str, rows: int) -> bytes:
    """N rows of the data set's test part, as an .npz with array X (raw features)."""
    from zktrain.data import load_dataset

    spec = _run_config(shape, "clear")["data"]
    x = load_dataset(spec).x_test
    x = x[np.arange(rows) % len(x)]
    out = io.BytesIO()
    np.savez(out, X=x)
    return out.getvalue()


def measure(workdir: Path, shape: str, mode: str, rows: int, gadget: str, inputs: str = "public") -> dict:
    """One configuration, in this process: every figure of one table row."""
    sys.path.insert(0, str(ROOT))
    from prover.backends import get_backend
    from verifier.bundle import parse_bundle
    from verifier.inference import verify_inference
    from verifier.inference_bundle import parse_inference_bundle, verify_inference_bundle
    from zktrain.inference import prove_inference_run

    backend = get_backend("cpu")
    backend.mle_evaluate(backend.from_ints([1, 2]), [3])  # load the compiled kernels outside the clock
    bundle_path, model_path = _paths(workdir, shape, mode)
    training, model, x = bundle_path.read_bytes(), model_path.read_bytes(), _inputs(shape, rows)

    start = time.perf_counter()
    bundle, summary = prove_inference_run(model, training, x, mode == "zk", gadget, "cpu",
                                          committed_inputs=inputs == "committed")
    prove_s = time.perf_counter() - start

    parsed = parse_bundle(training)
    start = time.perf_counter()
    inference = parse_inference_bundle(bundle, parsed.recipe)
    weights = {name: parsed.final.public[name] for name in inference.statement.weight_tensors()}
    verify_inference(inference.statement, weights, inference.proof, inference.zk)
    verify_s = time.perf_counter() - start
    report = verify_inference_bundle(bundle, training)
    if not report.accepted:
        raise SystemExit(f"verification failed: {report.reason}")
    return {
        "shape": "-".join(map(str, SHAPES[shape])), "key": shape, "gadget": gadget, "mode": mode, "inputs": inputs,
        "rows": rows,
        "witness_s": summary.witness_seconds, "prove_s": prove_s, **{f"{k}_s": v for k, v in summary.timings.items()},
        "verify_s": verify_s, "verify_all_s": report.seconds, "proof_bytes": summary.proof_bytes,
        "bundle_bytes": summary.bundle_bytes, "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "soundness_bits": report.soundness_bits,
    }


COLUMNS = [
    ("shape", "{}"), ("gadget", "{}"), ("mode", "{}"), ("inputs", "{}"), ("rows", "{}"), ("witness_s", "{:.2f}"),
    ("prove_s", "{:.2f}"), ("verify_s", "{:.2f}"), ("verify_all_s", "{:.2f}"), ("proof_bytes", "{:,}"), ("bundle_bytes", "{:,}"),
    ("peak_gib", "{:.2f}"), ("ezkl", "{}"),
]


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    lines = [head, "|" + "---|" * len(COLUMNS)]
    for r in rows:
        ezkl = EZKL.get((r["key"], r["rows"]))
        r = dict(r, ezkl=f"{ezkl} s ({ezkl / r['prove_s']:.0f}x)" if ezkl else "")
        lines.append("| " + " | ".join(fmt.format(r[name]) for name, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    parser.add_argument("--modes", nargs="+", choices=["clear", "zk"], default=["clear", "zk"])
    parser.add_argument("--gadgets", nargs="+", choices=["limbs", "bits"], default=["limbs"],
                        help="The inference proof's range gadget (the training bundles use limbs).")
    parser.add_argument("--inputs", nargs="+", choices=["public", "committed"], default=["public"],
                        help="The inputs' binding: public values, or a commitment (prove-inference --committed-inputs).")
    parser.add_argument("--workdir", type=Path, default=ROOT / "out" / "bench-inference")
    parser.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    parser.add_argument("--one", nargs=5, metavar=("SHAPE", "MODE", "ROWS", "GADGET", "INPUTS"), help=argparse.SUPPRESS)
    parser.add_argument("--train", nargs=2, metavar=("SHAPE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.train:  # a child: prove the training bundle of one shape and mode
        train(args.workdir, *args.train)
        return
    if args.one:  # a child: measure one configuration, print its row as JSON
        shape, mode, rows, gadget, inputs = args.one
        print(json.dumps(measure(args.workdir, shape, mode, int(rows), gadget, inputs)), flush=True)
        return

    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rows = []
    for shape in args.shapes:
        for mode in args.modes:
            base = [sys.executable, __file__, "--workdir", str(args.workdir)]
            subprocess.run(base + ["--train", shape, mode], check=True)
            for gadget in args.gadgets:
                for n in args.batches:
                    for inputs in args.inputs:
                        start = time.perf_counter()
                        out = subprocess.run(base + ["--one", shape, mode, str(n), gadget, inputs], check=True,
                                             stdout=subprocess.PIPE, text=True).stdout
                        rows.append(json.loads(out.strip().splitlines()[-1]))
                        print(f"{shape} {gadget} {mode} {inputs} N={n}: done in {time.perf_counter() - start:.0f} s",
                              flush=True)
                        if args.json:  # written as it goes
                            args.json.write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
