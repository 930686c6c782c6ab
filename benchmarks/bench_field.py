"""Per-element costs of the Fr vector backends (DESIGN section 3, "Measured building blocks").

    .venv/bin/python benchmarks/bench_field.py [--n 1048576] [--repeat 5] [--backend cpu]

Each operation runs once to warm up (numba compiles or loads its cache), then ``--repeat``
times; the table shows the fastest run, per element (per output for fold, per entry of each
factor for a sumcheck round) and per call. Beside wall-clock time it shows the CPU time the
process used, summed over its threads: on a shared machine, wall time above CPU time divided
by the thread count means other processes took cores away. The load average is printed too.
"""

from __future__ import annotations

import os
import time

import click
import numpy as np

from prover.backends import get_backend


def _best_seconds(fn, repeat: int) -> tuple[float, float]:
    """The smallest wall-clock and the smallest CPU time (all threads) of ``repeat`` runs."""
    fn()  # warm-up: compilation or cache load
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


@click.command()
@click.option("--n", default=1 << 20, show_default=True, help="vector length (even)")
@click.option("--repeat", default=5, show_default=True, help="timed runs per operation")
@click.option("--backend", "backend_name", default="cpu", show_default=True)
@click.option("--seed", default=1, show_default=True)
def main(n: int, repeat: int, backend_name: str, seed: int) -> None:
    if n < 2 or n % 2:
        raise click.BadParameter(f"--n must be even and >= 2, got {n}")
    if repeat < 1:
        raise click.BadParameter(f"--repeat must be >= 1, got {repeat}")
    be = get_backend(backend_name)
    rng = np.random.default_rng(seed)
    # Small int64 values still become full-size 256-bit residues in Montgomery form.
    eq, a, b = (be.from_int64(rng.integers(-(2**62), 2**62, n)) for _ in range(3))
    challenge = int(rng.integers(1, 2**62))
    k = n.bit_length() - 1
    points = [[int(x) for x in rng.integers(1, 2**62, k)] for _ in range(3)]

    def combined_eq_unfused():
        """The claims ledger's combined eq as it was built before eq_table_add: a table, a
        scaling pass and a sum per claim."""
        table = None
        for u in points:
            term = be.scalar_mul(be.eq_table(u), challenge)
            table = term if table is None else be.add(table, term)

    def combined_eq():
        table = None
        for u in points:
            table = be.eq_table_add(table, u, challenge)

    cases = [
        # The memory floor: every vector result is a fresh array whose pages the OS zeroes.
        ("fill a fresh (n, 4) array", n, lambda: np.full((n, 4), 1, dtype=np.uint64), "element"),
        ("mul", n, lambda: be.mul(a, b), "element"),
        ("fold", n // 2, lambda: be.fold(a, challenge), "output"),
        ("inner product", n, lambda: be.inner_product(a, b), "element"),
        ("round sum f*g (3 points)", n, lambda: be.round_evals([a, b], 3), "entry"),
        ("round sum eq*a*b (4 points)", n, lambda: be.round_evals([eq, a, b], 4), "entry"),
        ("eq table", 1 << k, lambda: be.eq_table(points[0]), "element"),
        ("combined eq x3, unfused", 1 << k, combined_eq_unfused, "element"),
        ("combined eq x3, eq_table_add", 1 << k, combined_eq, "element"),
    ]
    load = os.getloadavg()
    threads = ""
    if be.name == "cpu":
        import numba

        threads = f", {numba.get_num_threads()} threads"
        if n < be.parallel_min_rows:
            threads += f" (but one below {be.parallel_min_rows} rows)"
    print(f"backend {be.name}{threads}, n = {n}, best of {repeat}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    row = "{:30s} {:>10s} {:>8s} {:>10s} {:>14s}"
    print(row.format("operation", "ns / unit", "unit", "ms / call", "cpu ns / unit"))
    for name, units, fn, unit in cases:
        wall, cpu = _best_seconds(fn, repeat)
        ns, ms, cpu_ns = wall / units * 1e9, wall * 1e3, cpu / units * 1e9
        print(row.format(name, f"{ns:.1f}", unit, f"{ms:.2f}", f"{cpu_ns:.1f}"))


if __name__ == "__main__":
    main()
