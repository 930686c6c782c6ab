"""The cuda backend on a real device: parity at real sizes, then timings (issue 19, item 5).

    .venv/bin/python benchmarks/bench_gpu.py [--out gpu.json] [--max-log 24] [--skip-tests]
    NUMBA_ENABLE_CUDASIM=1 .venv/bin/python benchmarks/bench_gpu.py --smoke   # logic only

One prepared script meant to fit a 10-minute device slot (first NVVM/driver compilations of the
kernels included; the MSM kernels alone take about a minute to compile):

1. the conformance tests of the cuda backend (``tests/test_backends.py -k cuda``; on a machine
   with an NVIDIA device node conftest.py leaves the simulator off, so they run for real);
2. parity with the CPU backend at 2^16 and 2^20: the device rows of from_int64, mul, fold,
   eq_table and the round evaluations against the CPU backend's, byte for byte;
3. timings (best of ``--repeat``, after a warm-up, ``cuda.synchronize`` around each call) of
   mul, fold, inner_product, round_evals with 2 and 3 factors and the fused logUp-GKR round at
   2^20 .. 2^max-log elements, with the bandwidth each implies (32 bytes per element);
4. a whole 3-factor sumcheck (rounds + folds, device-resident) at 2^20 and 2^22;
5. the row MSM (1024 generators, 16-bit scalars) for 64 and 512 rows, checked against the
   CPU ``msm_small`` on the first rows.

The zkDL per-step shape is not included yet. Everything is printed and written as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sync():
    from numba import cuda

    cuda.synchronize()


def _best(fn, repeat: int) -> float:
    fn()
    _sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync()
        best = min(best, time.perf_counter() - t0)
    return best


def _random_int64(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-(1 << 62), 1 << 62, size=n, dtype=np.int64)


def parity(gpu, cpu, log: int) -> dict:
    """Device results equal to the CPU backend's at 2^log elements (bytes / ints)."""
    from verifier.field import MODULUS as R

    n = 1 << log
    a64, b64, c64 = (_random_int64(n, s) for s in (1, 2, 3))
    ga, gb, gc = (gpu.from_int64(x) for x in (a64, b64, c64))
    ca, cb, cc = (cpu.from_int64(x) for x in (a64, b64, c64))
    same = lambda g, c: bool(np.array_equal(g.copy_to_host().view(np.uint64), c))
    r = 0x1234567890ABCDEF1234567890ABCDEF % R
    point = [(7 * k + 3) % R for k in range(min(log, 16))]
    checks = {
        "from_int64": same(ga, ca),
        "mul": same(gpu.mul(ga, gb), cpu.mul(ca, cb)),
        "fold": same(gpu.fold(ga, r), cpu.fold(ca, r)),
        "eq_table": same(gpu.eq_table(point), cpu.eq_table(point)),
        "inner_product": gpu.inner_product(ga, gb) == cpu.inner_product(ca, cb),
        "round_evals_3": gpu.round_evals([ga, gb, gc], 4) == cpu.round_evals([ca, cb, cc], 4),
        "gkr_round_evals": gpu.gkr_round_evals([ga, gb, gc, ga, gb], 5, 4)
        == cpu.gkr_round_evals([ca, cb, cc, ca, cb], 5, 4),
        "to_int64": bool(np.array_equal(gpu.to_int64(ga), a64)),
    }
    return {"log2_n": log, "checks": checks, "all_equal": all(checks.values())}


def timings(gpu, log: int, repeat: int) -> dict:
    n = 1 << log
    a, b, c, d, e = (gpu.from_int64(_random_int64(n, s)) for s in range(5))
    r = 123456789
    ops = {
        "mul": (lambda: gpu.mul(a, b), 96),
        "fold": (lambda: gpu.fold(a, r), 48),
        "inner_product": (lambda: gpu.inner_product(a, b), 64),
        "round_evals_2": (lambda: gpu.round_evals([a, b], 3), 64),
        "round_evals_3": (lambda: gpu.round_evals([a, b, c], 4), 96),
        "gkr_round_evals": (lambda: gpu.gkr_round_evals([a, b, c, d, e], 5, 4), 160),
    }
    out = {}
    for name, (fn, bytes_per_elem) in ops.items():
        s = _best(fn, repeat)
        out[name] = {"seconds": s, "ns_per_elem": s / n * 1e9, "GB_per_s": bytes_per_elem * n / s / 1e9}
    return {"log2_n": log, "ops": out}


def sumcheck(gpu, log: int) -> dict:
    """A 3-factor sumcheck over 2^log entries on the device: per round, s(0..3) and 3 folds."""
    tables = [gpu.from_int64(_random_int64(1 << log, s)) for s in range(3)]
    _sync()
    t0 = time.perf_counter()
    for k in range(log):
        gpu.round_evals(tables, 4)
        tables = [gpu.fold(t, 1000003 + k) for t in tables]
    _sync()
    return {"log2_n": log, "seconds": time.perf_counter() - t0}


def msm(rows: int, cols: int, check_rows: int) -> dict:
    from prover.backends.cuda import msm as gpu_msm
    from prover.commit import msm_small
    from prover.commit.generators import prover_generators

    points = prover_generators().vector(cols)
    scalars = np.random.default_rng(5).integers(0, 1 << 16, size=(rows, cols), dtype=np.uint64)
    gpu_msm.msm_rows(points, scalars[:1], 16)  # compile
    _sync()
    t0 = time.perf_counter()
    got = gpu_msm.msm_rows(points, scalars, 16)
    seconds = time.perf_counter() - t0
    equal = got[:check_rows] == msm_small.msm_rows(points, scalars[:check_rows], 16)
    return {"rows": rows, "cols": cols, "seconds": seconds, "us_per_entry": seconds / (rows * cols) * 1e6,
            "equal_to_cpu_on_first_rows": bool(equal)}


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("gpu_bench.json"))
@click.option("--max-log", default=24, show_default=True, help="largest table: 2^max-log elements")
@click.option("--repeat", default=5, show_default=True)
@click.option("--skip-tests", is_flag=True, help="skip the conformance tests (phase 1)")
@click.option("--smoke", is_flag=True, help="tiny sizes (to check the script on the simulator)")
def main(out: Path, max_log: int, repeat: int, skip_tests: bool, smoke: bool) -> None:
    from prover.backends import get_backend
    from prover.backends.cuda import CudaBackend

    gpu, cpu = CudaBackend(), get_backend("cpu")
    report: dict = {"simulator": gpu.simulator, "smoke": smoke}
    if not gpu.simulator:
        from numba import cuda

        dev = cuda.get_current_device()
        report["device"] = {"name": str(dev.name), "cc": list(dev.compute_capability)}
    t_all = time.perf_counter()
    if not skip_tests and not smoke:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_backends.py", "-k", "cuda"], check=False, cwd=ROOT,
                              capture_output=True, text=True)
        report["conformance"] = {"returncode": proc.returncode, "tail": proc.stdout[-2000:]}
        print(proc.stdout[-2000:], flush=True)
    logs = [4, 6] if smoke else [16, 20]
    report["parity"] = [parity(gpu, cpu, k) for k in logs]
    print(json.dumps(report["parity"], indent=1), flush=True)
    sizes = [6] if smoke else list(range(20, max_log + 1, 2))
    report["timings"] = []
    for k in sizes:
        report["timings"].append(timings(gpu, k, 1 if smoke else repeat))
        print(json.dumps(report["timings"][-1], indent=1), flush=True)
    report["sumcheck"] = [sumcheck(gpu, k) for k in ([4] if smoke else [20, 22])]
    print(json.dumps(report["sumcheck"], indent=1), flush=True)
    report["msm"] = [msm(*shape) for shape in ([(2, 4, 2)] if smoke else [(64, 1024, 2), (512, 1024, 2)])]
    print(json.dumps(report["msm"], indent=1), flush=True)
    report["total_seconds"] = time.perf_counter() - t_all
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out} ({report['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
