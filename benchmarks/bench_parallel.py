"""Segment-parallel proving (issue 18, item 3): one process against N local gloo ranks.

    .venv/bin/python benchmarks/bench_parallel.py                 # digits 64-128-128-10, batch 64,
                                                                  # 16 steps in 4 segments, clear
    .venv/bin/python benchmarks/bench_parallel.py --workers 1 2 --repeat 3 --mode zk

Each configuration runs in a fresh child process (``--one``), as ``zktrain prove`` would:
``workers 1`` proves in that process (``prove_trace``, numba's threads: all cores),
``workers N`` spawns N ranks (``zktrain.distributed``, cores shared among them), and
``workers 1t`` is one process on one numba thread (the per-core baseline). Every bundle is
verified. The child reports:

- **e2e**: the child's wall time from before training to the bundle (the ranks' start-up,
  imports and JIT-cache loads included); **prove wall**: from the end of training to the
  bundle (for N ranks: rank 0's);
- per rank, its busy seconds (replay, witness, proving; wall and process CPU time) and the pickled bytes it received
  (its jobs: checkpoints and their openings) and sent back (public commitments, proof bodies);
- the coordinator's train, commit (every checkpoint), scatter, gather wait and assemble time;
- for the projection: a step's trace in bytes (what shipping the trace would cost), a step's
  replay time, and the checkpoint's bytes.

Figures under load: the script prints the load average before and after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _config(args) -> dict:
    widths = [int(w) for w in args.widths.split(",")]
    return {
        "name": "bench-parallel", "seed": 0, "data": {"source": "digits"},
        "model": {"kind": "mlp", "widths": widths, "bias": True},
        "train": {"batch_size": args.batch, "steps": args.steps, "loss": "mse", "lr": args.lr},
        "prove": {"zk": args.mode == "zk", "backend": "cpu", "range_check": "limbs", "segment_steps": args.segment},
    }


def measure(args) -> dict:
    """One configuration, in this process."""
    sys.path.insert(0, str(ROOT))
    from verifier.bundle import verify_bundle
    from zktrain.distributed import prove_run_workers, replay_segment
    from zktrain.prove import (
        _bind_data,
        plan_segments,
        prove_trace,
        segment_inputs,
        train_trace,
    )
    from zktrain.run_config import parse_run

    run = parse_run(_config(args))
    out = {"workers": args.one, "load_before": os.getloadavg()}
    t0 = time.perf_counter()
    if args.one in ("1", "1t"):
        statements, backend = plan_segments(run.recipe, run.options)
        t = time.perf_counter()
        trace, _ = train_trace(run)
        out["train_s"] = time.perf_counter() - t
        statements, dataset, shared = _bind_data(run, statements)
        t, cpu = time.perf_counter(), time.process_time()
        proof = prove_trace(statements, backend, trace, run.options.zk, None, dataset, shared, run.data_commitment)
        out["prove_wall_s"] = time.perf_counter() - t
        out["rank_cpu_s"] = [time.process_time() - cpu]
        out["e2e_s"] = time.perf_counter() - t0
        bundle = proof.bundle
        out["rank_busy_s"] = [proof.witness_seconds + proof.prove_seconds]
        out["timings"] = proof.timings
        # For the projection: a segment's trace against its start checkpoint, and the replay.
        st = statements[1]
        inputs = segment_inputs(st.circuit, trace, st.first_step)
        out["trace_bytes_per_step"] = len(pickle.dumps(inputs.steps)) / st.circuit.steps
        start = segment_inputs(statements[0].circuit, trace, 0)
        out["checkpoint_bytes"] = len(pickle.dumps((start.end_weights, start.end_biases, start.end_buffers)))
        t = time.perf_counter()
        replay_segment(run, st, (start.end_weights, start.end_biases, start.end_buffers))
        out["replay_s_per_step"] = (time.perf_counter() - t) / st.circuit.steps
        out["segment_proof_bytes"] = proof.proof_bytes / len(statements)
    else:
        bundle, summary, result = prove_run_workers(run, int(args.one), lambda msg: None)
        out["e2e_s"] = time.perf_counter() - t0
        out["prove_wall_s"] = summary.wall_seconds
        out["train_s"] = result.coordinator["train"]
        out["assignment"] = result.assignment
        out["sent_bytes"] = result.sent_bytes
        out["returned_bytes"] = result.returned_bytes
        out["rank_busy_s"] = result.rank_seconds
        out["rank_cpu_s"] = result.rank_cpu_seconds
        out["coordinator"] = result.coordinator
    report = verify_bundle(bundle)
    out["accepted"], out["verify_s"] = report.accepted, report.seconds
    out["bundle_bytes"] = len(bundle)
    out["load_after"] = os.getloadavg()
    return out


def project(p4: float, tau: float, commit: float, ckpt_mb: float, proof_mb: float, startup: float,
            steps: int = 1024, hosts=(1, 2, 4, 8, 16, 32, 64, 128, 256), gbit: float = 1.0,
            ranks_commit: bool = False) -> str:
    """The many-host projection of benchmarks/parallel.md as a markdown table: wall time of a run
    of ``steps`` steps in segments of S (4, 16, 64) on H single-core ranks, from the measured
    per-step proving time at S = 4 (``p4``, one core), a plain step (``tau``, the coordinator's
    training and a rank's replay), one checkpoint's commitment (``commit``, by the coordinator),
    a checkpoint opening's and a segment proof's size (MB; the coordinator sends two openings
    per segment and receives one proof, over ``gbit`` Gb/s) and a rank's start-up.

        wall(H) = startup + T tau + n commit + n (2 ckpt + proof) / bandwidth
                  + ceil(n / H) S (p(S) + tau),   n = T / S

    p(S) scales p4 by training.md's clear per-step figures at 4, 16 and 64 steps per segment
    (1.02, 0.67, 0.62 s). The speedup is over one process proving the same segments
    (T tau + n commit + T p(S), no start-up or transfer). ``ranks_commit``: the variant where
    each rank commits its own segments' end checkpoints (n commit leaves the serial part, each
    segment's cost gains one commit)."""
    scale = {4: 1.0, 16: 0.67 / 1.02, 64: 0.62 / 1.02}
    lines = ["| S | segments | serial part (train + commits + transfer) | " + " | ".join(f"H = {h}" for h in hosts) + " |",
             "|---|---|---|" + "---|" * len(hosts)]
    for seg, k in scale.items():
        n = steps // seg
        p = p4 * k
        serial = steps * tau + (0 if ranks_commit else n * commit) + n * (2 * ckpt_mb + proof_mb) * 8 / (gbit * 1000)
        one = steps * tau + n * commit + steps * p
        cells = []
        for h in hosts:
            if h > n:
                cells.append("-")
                continue
            wall = startup + serial + -(-n // h) * (seg * (p + tau) + (commit if ranks_commit else 0))
            cells.append(f"{wall:,.0f} s ({one / wall:.1f}x)")
        lines.append(f"| {seg} | {n} | {serial:.0f} s | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="64,128,128,10")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--segment", type=int, default=4, help="steps per segment")
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--mode", choices=["clear", "zk"], default="clear")
    parser.add_argument("--workers", nargs="+", default=["1", "2", "1t"], help="1, N, or 1t (one numba thread)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--project", nargs=6, type=float, metavar=("P4", "TAU", "COMMIT", "CKPT_MB", "PROOF_MB", "STARTUP"),
                        help="print the many-host projection from these figures (project()) and stop")
    args = parser.parse_args()
    if args.project:
        print("The coordinator commits every checkpoint (as implemented):\n")
        print(project(*args.project))
        print("\nEach rank commits its segments' end checkpoints (the next step):\n")
        print(project(*args.project, ranks_commit=True))
        return
    if args.one:
        print(json.dumps(measure(args)))
        return
    print(f"widths {args.widths}, batch {args.batch}, {args.steps} steps in segments of {args.segment}, "
          f"{args.mode}, {os.cpu_count()} cores")
    rows = []
    for rep in range(args.repeat):
        for workers in args.workers:
            env = dict(os.environ)
            if workers == "1t":
                env["NUMBA_NUM_THREADS"] = "1"
            cmd = [sys.executable, __file__, "--one", workers, "--widths", args.widths, "--batch", str(args.batch),
                   "--steps", str(args.steps), "--segment", str(args.segment), "--lr", str(args.lr),
                   "--mode", args.mode]
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
            if done.returncode != 0:
                sys.exit(f"workers {workers} failed:\n{done.stderr[-4000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["process_s"] = time.perf_counter() - start
            rows.append(row)
            print(f"[{rep}] workers {workers:>2}: e2e {row['e2e_s']:6.1f} s, prove wall {row['prove_wall_s']:6.1f} s, "
                  f"busy per rank {[round(b, 1) for b in row['rank_busy_s']]} (CPU {[round(b, 1) for b in row['rank_cpu_s']]}), child process {row['process_s']:.1f} s, "
                  f"accepted {row['accepted']}, load {row['load_before'][0]:.2f} -> {row['load_after'][0]:.2f}",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
