"""Benchmark the proof of training (issue 4): prove time per step and its breakdown, verify
time, proof size, peak memory, and the ratio to the plain fixed-point training step.

    python benchmarks/bench_training.py                         # digits 64-128-128-10, batch 64, 16 steps
    python benchmarks/bench_training.py --widths 64,64,10 --steps 16
    python benchmarks/bench_training.py --widths 3072,1024,1024,10 --batch 64 --steps 1 --data synthetic

Figures measured here are in benchmarks/training.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="64,128,128,10")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--data", choices=["digits", "synthetic"], default="digits")
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args()

    from prover.backends import get_backend
    from prover.training import ProverChannel
    from verifier.bundle import encode_bundle, statement_for, verify_bundle
    from verifier.training import TrainingWalk
    from zktrain.fixedpoint.data import encode_dataset
    from zktrain.fixedpoint.engine import train
    from zktrain.prove import build_witness
    from zktrain.run_config import parse_run

    widths = [int(w) for w in args.widths.split(",")]
    data = {"source": "digits"} if args.data == "digits" else {
        "source": "synthetic", "n": 4 * args.batch * args.steps, "d": widths[0], "classes": widths[-1]}
    cfg = {
        "name": "bench", "seed": 0, "data": data,
        "model": {"kind": "mlp", "widths": widths, "bias": True},
        "train": {"batch_size": args.batch, "steps": args.steps, "lr": args.lr},
    }
    run = parse_run(cfg)
    recipe, statement = run.recipe, statement_for(run.recipe)
    backend = get_backend(args.backend)
    print(f"widths {widths}, batch {args.batch}, {args.steps} steps, backend {args.backend}, "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)

    encoded = encode_dataset(run.dataset, recipe)
    t0 = time.perf_counter()
    train(recipe, encoded.x_train, encoded.y_train, encoded.batches, record=False)
    plain_step = (time.perf_counter() - t0) / args.steps

    t0 = time.perf_counter()
    witness, _accuracies = build_witness(run, statement.circuit)
    witness_s = time.perf_counter() - t0

    channel = ProverChannel(statement, witness, backend)
    t0 = time.perf_counter()
    TrainingWalk(statement, channel).run()
    prove_s = time.perf_counter() - t0
    proof = channel.proof_bytes()
    bundle = encode_bundle(recipe, channel.public, proof)

    report = verify_bundle(bundle)
    if not report.accepted:
        sys.exit(f"verification failed: {report.reason}")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    total = witness_s + prove_s
    t = channel.timings
    print(f"plain fixed-point step   {plain_step * 1e3:10.2f} ms")
    print(f"witness                  {witness_s:10.2f} s")
    print(f"commitments              {t['commit']:10.2f} s")
    print(f"sumchecks                {t['sumcheck']:10.2f} s")
    print(f"bit-slice messages       {t['messages']:10.2f} s")
    print(f"openings                 {t['open']:10.2f} s")
    print(f"prove total              {total:10.2f} s   ({total / args.steps:.2f} s per step, "
          f"{total / args.steps / plain_step:,.0f}x the plain step)")
    print(f"verify                   {report.seconds:10.2f} s")
    print(f"proof / bundle           {len(proof):10,} / {len(bundle):,} bytes")
    print(f"peak memory              {peak_gib:10.2f} GiB")


if __name__ == "__main__":
    main()
