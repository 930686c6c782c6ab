"""Benchmark the proof of training (issues 4 and 5): prove time per step and its breakdown,
verify time, proof size, peak memory, and the ratio to the plain fixed-point training step,
for each range gadget and mode asked for, side by side.

    python benchmarks/bench_training.py                  # digits 64-128-128-10, batch 64, 16 steps
    python benchmarks/bench_training.py --gadgets limbs bits --modes clear zk
    python benchmarks/bench_training.py --steps 64 --segment-steps 4 16 64   # cost of a segment
    python benchmarks/bench_training.py --widths 3072,1024,1024,1024,1024,1024,1024,1024,1024,10 \\
        --steps 1 --data synthetic                       # the zkDL shape
    python benchmarks/bench_training.py --recipes sgd-mse ce-momentum --modes clear zk
                                                         # cross-entropy with momentum and decay vs plain SGD/MSE
    python benchmarks/bench_training.py --recipes sgd-mse ce-lars --modes clear zk   # LARS vs plain SGD
    python benchmarks/bench_training.py --recipes sgd-mse ce-lamb --modes clear zk   # LAMB vs plain SGD
    python benchmarks/bench_training.py --recipes sgd-mse bn-mse --lr 0.2 --modes clear zk
                                                         # Ghost BN in both hidden layers vs none
    python benchmarks/bench_training.py --run-file examples/digits_lars.yaml --steps 8 --modes clear zk
                                                         # the first 8 steps of a run file, as written

Every configuration runs in a fresh child process, so each peak memory figure (the child's
maximum resident set) is its own and numba's compiled kernels are loaded, not compiled, in
all but the first. Figures measured here are in benchmarks/training.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


#: What is trained (``--recipes``): plain SGD on the mean MSE at ``--lr``, the mean
#: cross-entropy with torch's SGD(momentum=0.9, weight_decay=1e-4) at the rate the fidelity
#: benchmark uses (docs/momentum.md section 7), or with LARS at the first setting of
#: docs/lars.md section 2 (lr 0.2, eta 0.02, decay 1e-4, mu 0.9), or with LAMB at docs/lamb.md
#: section 2's batch-64 setting (lr 0.01, decay 0.01, betas (0.9, 0.999), eps 1e-6); or plain
#: SGD with a Ghost BN in every hidden layer (``NORMS``: ghost batches of 32, torch's momentum
#: and eps) at examples/digits_ghost_bn.yaml's rate; ``bn-momentum``, ``bn-lars``, ``bn-lamb``
#: are the three optimizer recipes with that Ghost BN (gamma and beta trained by the optimizer);
#: ``ce-sgd`` is plain SGD on the cross-entropy (the stateless step the optimizers compare with).
RECIPES = {
    "sgd-mse": lambda args: {"loss": "mse", "lr": args.lr},
    "ce-sgd": lambda args: {"loss": "cross_entropy", "lr": 0.04},
    "ce-momentum": lambda args: {"loss": "cross_entropy", "lr": 0.04, "momentum": 0.9, "weight_decay": 1e-4},
    "ce-lars": lambda args: {"loss": "cross_entropy", "optimizer": {
        "name": "lars", "lr": 0.2, "momentum": 0.9, "weight_decay": 1e-4, "trust_coefficient": 0.02,
        "decay_bias_and_norm": True}},
    "ce-lamb": lambda args: {"loss": "cross_entropy", "optimizer": {
        "name": "lamb", "lr": 0.01, "weight_decay": 0.01, "decay_bias_and_norm": True}},
    "bn-mse": lambda args: {"loss": "mse", "lr": 0.2},
}
RECIPES |= {f"bn-{name}": RECIPES[f"ce-{name}"] for name in ("momentum", "lars", "lamb")}
NORMS = {name: {"norm": {"name": "ghost_batchnorm", "virtual_batch_size": 32}} for name in RECIPES if name.startswith("bn-")}


def _run_config(args) -> dict:
    if getattr(args, "run_file", None):  # a run file as written, proven with this configuration's options
        import yaml

        cfg = yaml.safe_load(Path(args.run_file).read_text())
        cfg["prove"] = {"zk": args.mode == "zk", "backend": args.backend, "range_check": args.gadget,
                        "segment_steps": args.segment}
        return cfg
    widths = [int(w) for w in args.widths.split(",")]
    data = {"source": "digits"} if args.data == "digits" else {
        "source": "synthetic", "n": 4 * args.batch * args.steps, "d": widths[0], "classes": widths[-1]}
    return {
        "name": "bench", "seed": 0, "data": data,
        "model": {"kind": "mlp", "widths": widths, "bias": True, **NORMS.get(args.recipe, {})},
        "train": {"batch_size": args.batch, "steps": args.steps, **RECIPES[args.recipe](args)},
        "prove": {"zk": args.mode == "zk", "backend": args.backend, "range_check": args.gadget,
                  "segment_steps": args.segment},
    }


def measure(args) -> dict:
    """One configuration, in this process: every figure of one table row."""
    sys.path.insert(0, str(ROOT))
    from prover.backends import get_backend
    from verifier.bundle import verify_bundle
    from zktrain.fixedpoint.data import encode_dataset
    from zktrain.fixedpoint.engine import train
    from zktrain.prove import prove_run
    from zktrain.run_config import parse_run

    run_file = getattr(args, "run_file", None)  # callers that build args themselves (bench_gpu) omit it
    run = parse_run(_run_config(args), Path(run_file).parent if run_file else None, steps=args.steps if run_file else None)
    backend = get_backend(args.backend)
    backend.mle_evaluate(backend.from_ints([1, 2]), [3])  # load the compiled kernels outside the clock

    encoded = encode_dataset(run.dataset, run.recipe)
    t0 = time.perf_counter()
    train(run.recipe, encoded.x_train, encoded.y_train, encoded.batches, record=False)
    plain_step = (time.perf_counter() - t0) / args.steps

    bundle, summary = prove_run(run)
    report = verify_bundle(bundle)
    if not report.accepted:
        raise SystemExit(f"verification failed: {report.reason}")
    timings = dict(summary.timings)
    timings["other"] = summary.prove_seconds - sum(timings.values())
    return {
        "recipe": args.recipe, "gadget": args.gadget, "mode": args.mode, "steps": args.steps, "segment_steps": args.segment,
        "segments": summary.segments, "plain_step_s": plain_step, "witness_s": summary.witness_seconds,
        "prove_s": summary.prove_seconds, **{f"{k}_s": v for k, v in timings.items()},
        "verify_s": report.seconds, "proof_bytes": summary.proof_bytes, "bundle_bytes": summary.bundle_bytes,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


COLUMNS = [
    ("recipe", "{}"), ("gadget", "{}"), ("mode", "{}"), ("segment_steps", "{}"), ("witness_s", "{:.2f}"),
    ("commit_s", "{:.2f}"), ("sumcheck_s", "{:.2f}"), ("logup_s", "{:.2f}"), ("messages_s", "{:.2f}"),
    ("open_s", "{:.2f}"), ("per_step_s", "{:.2f}"), ("ratio", "{:,.0f}x"), ("verify_s", "{:.2f}"),
    ("proof_bytes", "{:,}"), ("peak_gib", "{:.2f}"),
]


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    lines = [head, "|" + "---|" * len(COLUMNS)]
    for r in rows:
        r = dict(r, per_step_s=(r["witness_s"] + r["prove_s"]) / r["steps"])
        r["ratio"] = r["per_step_s"] / r["plain_step_s"]
        lines.append("| " + " | ".join(fmt.format(r[name]) for name, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="64,128,128,10")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--data", choices=["digits", "synthetic"], default="digits")
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=["sgd-mse"])
    parser.add_argument("--run-file", help="Prove the first --steps steps of this run file instead of --recipes.")
    parser.add_argument("--gadgets", nargs="+", choices=["limbs", "bits"], default=["limbs"])
    parser.add_argument("--modes", nargs="+", choices=["clear", "zk"], default=["clear"])
    parser.add_argument("--segment-steps", nargs="+", type=int, default=[0],
                        help="Steps per segment, one configuration each (0: the whole run in one segment).")
    parser.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    parser.add_argument("--one", nargs=4, metavar=("RECIPE", "GADGET", "MODE", "SEGMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # a child: measure one configuration, print its row as JSON
        args.recipe, args.gadget, args.mode, segment = args.one
        args.segment = int(segment) or args.steps
        print(json.dumps(measure(args)), flush=True)
        return

    shape = (f"run file {args.run_file}" if args.run_file else
             f"widths {args.widths}, batch {args.batch}, data {args.data}")
    print(f"{shape}, {args.steps} steps, backend {args.backend}; load {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores", flush=True)
    rows = []
    recipes = [Path(args.run_file).stem] if args.run_file else args.recipes
    configs = [(r, g, m, s) for r in recipes for g in args.gadgets for m in args.modes for s in args.segment_steps]
    for recipe, gadget, mode, segment in configs:
        cmd = [sys.executable, __file__, "--one", recipe, gadget, mode, str(segment), "--widths", args.widths,
               "--batch", str(args.batch), "--steps", str(args.steps), "--lr", str(args.lr),
               "--data", args.data, "--backend", args.backend] + (["--run-file", args.run_file] if args.run_file else [])
        start = time.perf_counter()
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"{recipe} {gadget} {mode} segment {segment}: done in {time.perf_counter() - start:.0f} s", flush=True)
        if args.json:  # written as it goes: a long sweep keeps what it measured
            args.json.write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
