"""The cuda backend on a real device: parity at real sizes, then timings (issue 19, item 5).

    .venv/bin/python benchmarks/bench_gpu.py [--out gpu.json] [--max-log 24] [--skip-tests]
    .venv/bin/python benchmarks/bench_gpu.py --parts zkdl            # only the zkDL step, cuda vs cpu
    .venv/bin/python benchmarks/bench_gpu.py --kernels numba          # the numba kernels even with CuPy
    NUMBA_ENABLE_CUDASIM=1 .venv/bin/python benchmarks/bench_gpu.py --quick   # logic only, tiny sizes

One prepared script meant to fit a 10-minute device slot (first NVVM/driver compilations of the
kernels included; the MSM kernels alone take about a minute to compile). ``--parts`` picks
among (default: all, in this order):

1. ``tests``: the conformance tests of the cuda backend (``tests/test_backends.py -k cuda``;
   on a machine with an NVIDIA device node conftest.py leaves the simulator off, so they run
   for real, on the CUDA C kernels when CuPy is installed) and ``tests/test_cuda_rawmodule.py``;
2. ``parity``: parity with the CPU backend at 2^16 and 2^20: the device rows of from_int64,
   mul, fold, eq_table and the round evaluations against the CPU backend's, byte for byte;
3. ``timings`` (best of ``--repeat``, after a warm-up, ``cuda.synchronize`` around each call)
   of mul, fold, inner_product, round_evals with 2 and 3 factors and the fused logUp-GKR round
   at 2^20 .. 2^max-log elements, with the bandwidth each implies (32 bytes per element); when
   the CUDA C kernels are active (``kernel_source`` "cuda-c"), the ops they serve are timed on
   the numba kernels too;
4. ``sumcheck``: a whole 3-factor sumcheck (rounds + folds, device-resident) at 2^20 and 2^22;
5. ``msm``: the row MSM (1024 generators, 16-bit scalars) for 64 and 512 rows, checked against
   the CPU ``msm_small`` on the first rows;
6. ``zkdl``: one training step of the zkDL shape (3072-8x1024-10 MLP, batch 64, limb range
   checks, clear mode, synthetic data) proven and verified with ``--backend cuda`` and with the
   cpu backend on the same machine, by ``benchmarks/bench_training.py``'s own ``measure``
   (in this process, one after the other); prints the per-step seconds of each and their
   ratio. About 1.5 minutes per backend on 16 cores (estimate: 82 s per step on the 2-core
   development VM, commitments being half of it, and those run on the CPU with either backend).

``--quick`` runs every part at tiny sizes (the zkDL part as a 16-8-4 MLP, batch 8). Under the
simulator (``NUMBA_ENABLE_CUDASIM=1``) a proof through the simulated kernels takes over ten
minutes even at that size, so there the zkDL part's "cuda" backend is ``CudaBackend`` on the
host stand-ins of ``prover/backends/cuda/emulate.py`` (fr.cu's host twins through the
RawModule loader, the other kernels compiled by ``@njit``): the same backend code and proof
path, not the simulator. Everything is printed and written as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PARTS = ("tests", "parity", "timings", "sumcheck", "msm", "zkdl")
#: The zkDL shape: 3072 inputs, 8 hidden layers of 1024, 10 outputs (benchmarks/training.md).
ZKDL_WIDTHS = "3072," + "1024," * 8 + "10"
ZKDL_QUICK_WIDTHS = "16,8,4"
#: Ops timed on both kernel sources when the CUDA C kernels are active.
CUDA_C_OPS = ("mul", "fold", "inner_product", "round_evals_2", "round_evals_3")


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
        "round_evals_2": gpu.round_evals([ga, gb], 3) == cpu.round_evals([ca, cb], 3),
        "round_evals_3": gpu.round_evals([ga, gb, gc], 4) == cpu.round_evals([ca, cb, cc], 4),
        "gkr_round_evals": gpu.gkr_round_evals([ga, gb, gc, ga, gb], 5, 4)
        == cpu.gkr_round_evals([ca, cb, cc, ca, cb], 5, 4),
        "to_int64": bool(np.array_equal(gpu.to_int64(ga), a64)),
    }
    return {"log2_n": log, "checks": checks, "all_equal": all(checks.values())}


def _ops(gpu, a, b, c, d, e) -> dict:
    r = 123456789
    return {
        "mul": (lambda: gpu.mul(a, b), 96),
        "fold": (lambda: gpu.fold(a, r), 48),
        "inner_product": (lambda: gpu.inner_product(a, b), 64),
        "round_evals_2": (lambda: gpu.round_evals([a, b], 3), 64),
        "round_evals_3": (lambda: gpu.round_evals([a, b, c], 4), 96),
        "gkr_round_evals": (lambda: gpu.gkr_round_evals([a, b, c, d, e], 5, 4), 160),
    }


def timings(gpu, log: int, repeat: int, numba_gpu=None) -> dict:
    """Per-op best times; ``numba_gpu`` (a CudaBackend on the numba kernels, given when ``gpu``
    runs the CUDA C ones) also times the ops fr.cu serves on the numba kernels."""
    n = 1 << log
    tables = [gpu.from_int64(_random_int64(n, s)) for s in range(5)]
    out = {}
    for name, (fn, bytes_per_elem) in _ops(gpu, *tables).items():
        s = _best(fn, repeat)
        out[name] = {"seconds": s, "ns_per_elem": s / n * 1e9, "GB_per_s": bytes_per_elem * n / s / 1e9}
    if numba_gpu is not None:  # same device arrays, the other kernels
        for name, (fn, _) in _ops(numba_gpu, *tables).items():
            if name in CUDA_C_OPS:
                s = _best(fn, repeat)
                out[name].update(numba_seconds=s, numba_over_cuda_c=s / out[name]["seconds"])
    return {"log2_n": log, "kernel_source": gpu.kernel_source, "ops": out}


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


def _host_stand_in():
    """The cuda backend's host stand-in for the quick zkDL part under the simulator: fr.cu's
    host twins through the RawModule loader (nvcc there) over the @njit-compiled kernels."""
    from prover.backends.cuda import emulate
    from prover.backends.cuda.backend import CudaBackend

    runtime = emulate.CompiledCpuRuntime()
    label = "host stand-in: kernels compiled by @njit"
    if shutil.which("nvcc") is not None:
        lib = emulate.build_fr_host_library(Path(tempfile.mkdtemp(prefix="fr_host_")))
        runtime = emulate.HostCudaCRuntime(lib, fallback=runtime)
        label = "host stand-in: fr.cu host twins through the RawModule loader + @njit kernels"
    return (lambda: CudaBackend(runtime=runtime)), label


def zkdl(backends: list[str], widths: str, batch: int, steps: int, stand_in: bool) -> dict:
    """One zkDL-shape configuration (limbs, clear, one segment) per backend, proven and verified
    by bench_training.measure; per-step seconds (witness + prove) and the ratio cpu / cuda."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_training

    out: dict = {"widths": widths, "batch": batch, "steps": steps, "gadget": "limbs", "mode": "clear", "rows": []}
    restore = None
    if stand_in:  # the simulator: a proof through it takes over ten minutes even at quick sizes
        import zktrain.prove as prove_module

        make, out["cuda_runtime"] = _host_stand_in()
        restore = prove_module.get_backend
        prove_module.get_backend = lambda name: make() if name == "cuda" else restore(name)
    try:
        for backend in backends:
            args = types.SimpleNamespace(
                widths=widths, batch=batch, steps=steps, lr=2.0, data="synthetic", backend=backend,
                gadget="limbs", mode="clear", segment=steps, recipe="sgd-mse")
            t0 = time.perf_counter()
            row = bench_training.measure(args)  # raises SystemExit if the proof does not verify
            row.update(backend=backend, wall_s=time.perf_counter() - t0,
                       per_step_s=(row["witness_s"] + row["prove_s"]) / steps)
            if backend == "cuda" and not stand_in:
                from prover.backends import get_backend

                row["kernel_source"] = get_backend("cuda").kernel_source
            out["rows"].append(row)
            print(f"zkdl {backend}: {row['per_step_s']:.2f} s per step (prove {row['prove_s']:.2f} s, "
                  f"verify {row['verify_s']:.2f} s)", flush=True)
    finally:
        if restore is not None:
            prove_module.get_backend = restore
    per_step = {r["backend"]: r["per_step_s"] for r in out["rows"]}
    if "cpu" in per_step and "cuda" in per_step:
        out["cpu_over_cuda"] = per_step["cpu"] / per_step["cuda"]
        print(f"zkdl per step: cuda {per_step['cuda']:.2f} s, cpu {per_step['cpu']:.2f} s, "
              f"cpu / cuda = {out['cpu_over_cuda']:.2f}x", flush=True)
    print(f"rows in order: {', '.join(r['backend'] for r in out['rows'])}\n{bench_training.table(out['rows'])}", flush=True)
    return out


def _parts(value: str) -> list[str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise click.BadParameter(f"unknown part(s) {bad}; choose from {', '.join(PARTS)}")
    return parts


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("gpu_bench.json"))
@click.option("--parts", "parts_arg", default=",".join(PARTS), show_default=True,
              help="comma-separated parts to run")
@click.option("--max-log", default=24, show_default=True, help="largest table: 2^max-log elements")
@click.option("--repeat", default=5, show_default=True)
@click.option("--skip-tests", is_flag=True, help="skip the conformance tests (part 'tests')")
@click.option("--kernels", type=click.Choice(["auto", "numba", "cuda-c"]), default="auto", show_default=True,
              help="hot kernels: fr.cu through CuPy when present (auto), or forced")
@click.option("--zkdl-backends", default="cuda,cpu", show_default=True)
@click.option("--zkdl-steps", default=1, show_default=True)
@click.option("--quick", "--smoke", "quick", is_flag=True,
              help="tiny sizes (to check the script on the simulator)")
def main(out: Path, parts_arg: str, max_log: int, repeat: int, skip_tests: bool, kernels: str,
         zkdl_backends: str, zkdl_steps: int, quick: bool) -> None:
    from prover.backends import get_backend
    from prover.backends.cuda import CudaBackend, rawmodule

    parts = _parts(parts_arg)
    os.environ[rawmodule.ENV] = kernels  # also for the backends bench_training makes by name
    gpu, cpu = CudaBackend(kernels=kernels), get_backend("cpu")
    numba_gpu = CudaBackend(kernels="numba") if gpu.kernel_source == "cuda-c" else None
    report: dict = {"simulator": gpu.simulator, "quick": quick, "parts": parts, "kernels": kernels,
                    "kernel_source": gpu.kernel_source, "rawmodule": rawmodule.reason()}
    print(f"kernel_source {gpu.kernel_source} ({report['rawmodule']})", flush=True)
    if not gpu.simulator:
        from numba import cuda

        dev = cuda.get_current_device()
        report["device"] = {"name": str(dev.name), "cc": list(dev.compute_capability)}
    t_all = time.perf_counter()
    if "tests" in parts and not skip_tests and not quick:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_backends.py", "-k", "cuda", "tests/test_cuda_rawmodule.py"],
                              check=False, cwd=ROOT, capture_output=True, text=True)
        report["conformance"] = {"returncode": proc.returncode, "tail": proc.stdout[-2000:]}
        print(proc.stdout[-2000:], flush=True)
    if "parity" in parts:
        report["parity"] = [parity(gpu, cpu, k) for k in ([4, 6] if quick else [16, 20])]
        print(json.dumps(report["parity"], indent=1), flush=True)
    if "timings" in parts:
        report["timings"] = []
        for k in [6] if quick else list(range(20, max_log + 1, 2)):
            report["timings"].append(timings(gpu, k, 1 if quick else repeat, numba_gpu))
            print(json.dumps(report["timings"][-1], indent=1), flush=True)
    if "sumcheck" in parts:
        report["sumcheck"] = [sumcheck(gpu, k) for k in ([4] if quick else [20, 22])]
        print(json.dumps(report["sumcheck"], indent=1), flush=True)
    if "msm" in parts:
        report["msm"] = [msm(*shape) for shape in ([(2, 4, 2)] if quick else [(64, 1024, 2), (512, 1024, 2)])]
        print(json.dumps(report["msm"], indent=1), flush=True)
    if "zkdl" in parts:
        backends = [b.strip() for b in zkdl_backends.split(",") if b.strip()]
        report["zkdl"] = zkdl(backends, ZKDL_QUICK_WIDTHS if quick else ZKDL_WIDTHS, 8 if quick else 64,
                              zkdl_steps, stand_in=gpu.simulator)
    report["total_seconds"] = time.perf_counter() - t_all
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out} ({report['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
