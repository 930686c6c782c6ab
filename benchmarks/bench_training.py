"""Benchmark the proof of training (issues 4 and 5): prove time per step and its breakdown,
verify time, proof size, peak memory, and the ratio to the plain fixed-point training step,
for each range gadget and mode asked for, side by side.

    python benchmarks/bench_training.py                  # digits 64-128-128-10, batch 64, 16 steps
    python benchmarks/bench_training.py --gadgets limbs bits --modes clear zk
    python benchmarks/bench_training.py --widths 3072,1024,1024,1024,1024,1024,1024,1024,1024,10 \\
        --steps 1 --data synthetic                       # the zkDL shape

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


def _run_config(args) -> dict:
    widths = [int(w) for w in args.widths.split(",")]
    data = {"source": "digits"} if args.data == "digits" else {
        "source": "synthetic", "n": 4 * args.batch * args.steps, "d": widths[0], "classes": widths[-1]}
    return {
        "name": "bench", "seed": 0, "data": data,
        "model": {"kind": "mlp", "widths": widths, "bias": True},
        "train": {"batch_size": args.batch, "steps": args.steps, "lr": args.lr},
        "prove": {"zk": args.mode == "zk", "backend": args.backend, "range_check": args.gadget},
    }


def measure(args) -> dict:
    """One configuration, in this process: every figure of one table row."""
    sys.path.insert(0, str(ROOT))
    from prover.backends import get_backend
    from prover.training import ProverChannel
    from prover.zk_training import ZkProverChannel
    from verifier.bundle import encode_bundle, statement_for, verify_bundle
    from verifier.training import TrainingWalk
    from zktrain.fixedpoint.data import encode_dataset
    from zktrain.fixedpoint.engine import train
    from zktrain.prove import build_witness
    from zktrain.run_config import parse_run

    run = parse_run(_run_config(args))
    recipe, statement = run.recipe, statement_for(run.recipe, args.gadget)
    backend = get_backend(args.backend)
    backend.mle_evaluate(backend.from_ints([1, 2]), [3])  # load the compiled kernels outside the clock

    encoded = encode_dataset(run.dataset, recipe)
    t0 = time.perf_counter()
    train(recipe, encoded.x_train, encoded.y_train, encoded.batches, record=False)
    plain_step = (time.perf_counter() - t0) / args.steps

    t0 = time.perf_counter()
    witness, _accuracies = build_witness(run, statement.circuit)
    witness_s = time.perf_counter() - t0

    zk = args.mode == "zk"
    channel = (ZkProverChannel if zk else ProverChannel)(statement, witness, backend)
    t0 = time.perf_counter()
    TrainingWalk(statement, channel).run()
    prove_s = time.perf_counter() - t0
    proof = channel.proof_bytes()
    bundle = encode_bundle(recipe, [(channel.public, proof)], zk=zk, range_check=args.gadget)
    timings = dict(channel.timings, other=prove_s - sum(channel.timings.values()))
    del witness, channel  # the verifier's memory is not the prover's
    report = verify_bundle(bundle)
    if not report.accepted:
        raise SystemExit(f"verification failed: {report.reason}")
    committed = sum(1 << statement.tensor_vars(n) for n in statement.committed_tensors())
    return {
        "gadget": args.gadget, "mode": args.mode, "steps": args.steps,
        "plain_step_s": plain_step, "witness_s": witness_s, "prove_s": prove_s,
        **{f"{k}_s": v for k, v in timings.items()},
        "committed_entries": committed, "verify_s": report.seconds, "proof_bytes": len(proof),
        "bundle_bytes": len(bundle), "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


COLUMNS = [
    ("gadget", "{}"), ("mode", "{}"), ("committed_entries", "{:,}"), ("witness_s", "{:.2f}"),
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
    parser.add_argument("--gadgets", nargs="+", choices=["limbs", "bits"], default=["limbs"])
    parser.add_argument("--modes", nargs="+", choices=["clear", "zk"], default=["clear"])
    parser.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    parser.add_argument("--one", nargs=2, metavar=("GADGET", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # a child: measure one configuration, print its row as JSON
        args.gadget, args.mode = args.one
        print(json.dumps(measure(args)), flush=True)
        return

    print(f"widths {args.widths}, batch {args.batch}, {args.steps} steps, data {args.data}, backend "
          f"{args.backend}; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rows = []
    for gadget in args.gadgets:
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--one", gadget, mode, "--widths", args.widths, "--batch",
                   str(args.batch), "--steps", str(args.steps), "--lr", str(args.lr), "--data", args.data,
                   "--backend", args.backend]
            start = time.perf_counter()
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(f"{gadget:5s} {mode:5s} done in {time.perf_counter() - start:.0f} s", flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
