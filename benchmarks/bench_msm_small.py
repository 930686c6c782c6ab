"""Numba small-scalar row MSMs (prover/commit/msm_small.py) against arkworks (issue 5, item 3).

    .venv/bin/python benchmarks/bench_msm_small.py                  # the table in commitments.md
    .venv/bin/python benchmarks/bench_msm_small.py --cold-cache     # + compile from scratch
    .venv/bin/python benchmarks/bench_msm_small.py --rows 256 --bits 16

For each bit width b: a [rows, cols] matrix of random unsigned scalars below 2^b and the first
cols Pedersen generators, i.e. the row MSMs of a Hyrax commitment. Measured:

* numba: ``msm_rows`` over the whole matrix, once per --threads count (numba.set_num_threads);
* arkworks: what Hyrax commit did before, per row scalars from numpy bytes and
  ``G1Point.multiexp_unchecked``, on the first --arkworks-rows rows. rayon reads
  RAYON_NUM_THREADS once, at start, so each thread count runs in its own subprocess; the
  rows it returns are checked equal to numba's.
* the first call of ``msm_rows`` in this process: compiling the kernels, or loading them
  from numba's disk cache; with --cold-cache the cache is a fresh temporary directory, so the
  kernels compile from scratch.

Times are wall-clock medians of --repeat runs, reported per matrix element. The machine's
load average is printed before and after: on a shared machine, a busy core inflates both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--cols", type=int, default=1024)
    parser.add_argument("--bits", type=int, nargs="+", default=[1, 16, 17])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--arkworks-rows", type=int, default=128, help="rows timed with arkworks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold-cache", action="store_true", help="compile the kernels from scratch")
    parser.add_argument("--arkworks-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ("rows", "cols", "arkworks_rows", "repeat"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for bits in args.bits:
        if not 1 <= bits <= 64:
            raise ValueError(f"--bits values must lie in [1, 64], got {bits}")
    for threads in args.threads:
        if threads < 1:
            raise ValueError(f"--threads values must be at least 1, got {threads}")
    args.arkworks_rows = min(args.arkworks_rows, args.rows)
    return args


def _scalars(rows: int, cols: int, bits: int):
    import numpy as np

    return np.random.default_rng(bits).integers(0, 1 << bits, size=(rows, cols), dtype=np.uint64)


def _median_seconds(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _arkworks_worker(args) -> None:
    """Time the arkworks rows (this process's rayon pool) and print them, as JSON."""
    from prover.commit import group
    from prover.commit.generators import prover_generators

    generators = prover_generators().vector(args.cols)
    results = {}
    for bits in args.bits:
        scalars = _scalars(args.rows, args.cols, bits)[: args.arkworks_rows]

        def rows():
            return [group.G1.multiexp_unchecked(generators, group.scalars_from_uint64(row)) for row in scalars]

        seconds, points = _median_seconds(rows, args.repeat)
        results[bits] = {"seconds": seconds, "rows": [group.to_bytes(p).hex() for p in points]}
    print(json.dumps(results))


def _arkworks(args, threads: int) -> dict:
    command = [sys.executable, __file__, "--arkworks-worker", "--rows", str(args.rows), "--cols", str(args.cols)]
    command += ["--arkworks-rows", str(args.arkworks_rows), "--repeat", str(args.repeat), "--bits"]
    command += [str(b) for b in args.bits]
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return {int(bits): value for bits, value in json.loads(done.stdout).items()}


def main() -> None:
    args = _parse()
    if args.arkworks_worker:
        _arkworks_worker(args)
        return
    if args.cold_cache:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_msm_small_")  # before numba loads

    import numba

    from prover.commit import group, msm_small
    from prover.commit.generators import prover_generators

    print(f"load average before: {os.getloadavg()}")
    generators = prover_generators().vector(args.cols)
    start = time.perf_counter()
    msm_small.msm_rows(generators[:2], _scalars(2, 2, 8), 8)
    kind = "compile (cold cache)" if args.cold_cache else "first call (numba disk cache)"
    print(f"{kind}: {time.perf_counter() - start:.2f} s")

    elements = args.rows * args.cols
    numba_us: dict[tuple[int, int], float] = {}
    checked: dict[int, list[str]] = {}  # numba's first rows, to compare with arkworks'
    for threads in args.threads:
        numba.set_num_threads(threads)
        for bits in args.bits:
            scalars = _scalars(args.rows, args.cols, bits)
            seconds, points = _median_seconds(lambda: msm_small.msm_rows(generators, scalars, bits), args.repeat)
            numba_us[threads, bits] = seconds / elements * 1e6
            checked[bits] = [group.to_bytes(p).hex() for p in points[: args.arkworks_rows]]
    ark_us: dict[tuple[int, int], float] = {}
    for threads in args.threads:
        for bits, result in _arkworks(args, threads).items():
            ark_us[threads, bits] = result["seconds"] / (args.arkworks_rows * args.cols) * 1e6
            if result["rows"] != checked[bits]:
                raise AssertionError(f"numba and arkworks disagree at {bits} bits")
    print(f"load average after: {os.getloadavg()}")

    print(
        f"\n{args.rows} rows x {args.cols} columns, us per element (median of {args.repeat}); "
        f"arkworks on the first {args.arkworks_rows} rows\n"
    )
    header = " | ".join(f"numba {t} thr | arkworks {t} thr" for t in args.threads)
    print(f"| bits | {header} |")
    print("|---" * (1 + 2 * len(args.threads)) + "|")
    for bits in args.bits:
        cells = " | ".join(f"{numba_us[t, bits]:.2f} | {ark_us[t, bits]:.2f}" for t in args.threads)
        print(f"| {bits} | {cells} |")


if __name__ == "__main__":
    main()
