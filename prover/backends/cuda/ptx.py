"""Compile every numba.cuda kernel of the cuda backend to PTX without a GPU, check it with ptxas.

``python -m prover.backends.cuda.ptx [--cc 80 90] [--out DIR]`` (``make cuda-check``):

* each kernel of ``kernels.py`` is compiled by ``numba.cuda.compile_ptx(kernel.py_func, sig,
  cc=...)`` for each compute capability (NVVM from the CUDA toolkit; no driver needed);
* ``ptxas -arch=sm_XX -v`` assembles the PTX and reports registers, spill stores/loads and
  stack frame per kernel; the check fails on any spill or local memory in a field kernel
  (``kernels.py``). The MSM kernels (``msm.py``: XYZZ additions over 12-limb Fp, inlined)
  do spill; they are reported, compiled for the last capability only (NVVM and ptxas take
  about 35 s on them), and skipped with ``--no-msm``;
* every ``cuda/*.cu`` is built with ``nvcc -arch=sm_XX -cubin -Xptxas -v``.

numba compiles a kernel's device functions by asking the current device for its compute
capability (``numba.cuda.dispatcher.get_current_device``), which needs a driver; the check
replaces that lookup by the capability being compiled for (gpu-backend notes, section 1.3).
Must run with the real numba.cuda: the simulator has no compiler.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
CUDA_DIR = ROOT / "cuda"


def signatures():
    """kernel name -> argument types, as the backend launches them."""
    from numba import types

    u2 = types.Array(types.uint32, 2, "C")
    u8 = types.Array(types.uint8, 1, "C")
    fr = types.UniTuple(types.uint64, 8)
    i64 = types.int64
    i1 = types.Array(types.int64, 1, "C")
    return {
        "reduce_partials": (u2, i64, u2),
        "from_int64": (u2, u2),
        "to_montgomery": (u2, u2),
        "from_montgomery": (u2, u2),
        "to_int64": (u2, u2, u8),
        "fill_zero": (u2,),
        "vec_add": (u2, u2, u2),
        "vec_sub": (u2, u2, u2),
        "vec_mul": (u2, u2, u2),
        "scalar_mul": (u2, fr, u2),
        "vec_sum": (u2, u2),
        "inner_product": (u2, u2, u2),
        "fold": (u2, fr, u2),
        "eq_first": (u2, fr),
        "eq_double": (u2, i64, fr),
        "round_evals_1": (u2, u2),
        "round_evals_2": (u2, u2, u2),
        "round_evals_3": (u2, u2, u2, u2),
        "round_evals_gkr": (u2, u2, u2, u2, u2, fr, u2),
        # msm.py
        "bucket_accumulate": (u2, u2, u8, i1, i1, u2, u2, u2, u2),
        "bucket_reduce": (u2, u2, u2, u2, i64, u2, u2, u2, u2),
    }


def _patch_device_lookup(cc):
    from numba.cuda import dispatcher

    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)


MSM_KERNELS = ("bucket_accumulate", "bucket_reduce")


def compile_kernels(cc, names=None) -> dict[str, str]:
    """PTX text per kernel for compute capability ``cc`` (a tuple like (8, 0))."""
    from numba import cuda

    from . import kernels, msm

    if kernels.SIMULATOR:
        raise RuntimeError("the PTX check needs the real numba.cuda: unset NUMBA_ENABLE_CUDASIM")
    _patch_device_lookup(cc)
    out = {}
    for name, sig in signatures().items():
        if names and name not in names:
            continue
        module = msm if hasattr(msm, name) and not hasattr(kernels, name) else kernels
        ptx, _ = cuda.compile_ptx(getattr(module, name).py_func, sig, cc=cc, device=False)
        out[name] = ptx
    return out


_PTXAS_USED = re.compile(r"Used (\d+) registers")
_PTXAS_SPILL = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")


def ptxas_report(ptx_path: Path, arch: str) -> list[dict]:
    """ptxas -v on one PTX file: registers, stack frame and spills per entry point."""
    proc = subprocess.run(["ptxas", f"-arch={arch}", "-v", "-o", os.devnull, str(ptx_path)],
                          check=False, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"ptxas failed on {ptx_path}:\n{proc.stderr}")
    return _parse_ptxas(proc.stderr)


def _parse_ptxas(text: str) -> list[dict]:
    entries, current = [], None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            current = {"entry": m.group(1)}
            entries.append(current)
            continue
        if current is None:
            continue
        m = _PTXAS_SPILL.search(line)
        if m:
            current["stack"], current["spill_stores"], current["spill_loads"] = map(int, m.groups())
        m = _PTXAS_USED.search(line)
        if m:
            current["registers"] = int(m.group(1))
            m = re.search(r"(\d+) bytes smem", line)
            current["smem"] = int(m.group(1)) if m else 0
    return entries


def check_cu(arch: str) -> list[tuple[str, str]]:
    """nvcc -cubin every cuda/*.cu; returns (file, ptxas report) pairs."""
    results = []
    for cu in sorted(CUDA_DIR.glob("*.cu")):
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(
                ["nvcc", f"-arch={arch}", "-cubin", "-Xptxas", "-v", "-o", str(Path(tmp) / "out.cubin"), str(cu)],
                check=False, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"nvcc failed on {cu}:\n{proc.stderr}")
        results.append((cu.name, proc.stderr.strip()))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cc", nargs="+", default=["80", "90"], help="compute capabilities (default 80 90)")
    parser.add_argument("--out", type=Path, help="keep the PTX files here")
    parser.add_argument("--kernels", nargs="*", help="only these kernels")
    parser.add_argument("--no-msm", action="store_true", help="skip the MSM kernels")
    args = parser.parse_args(argv)
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        print("cuda-check: NUMBA_ENABLE_CUDASIM is set; the PTX check needs the real numba.cuda", file=sys.stderr)
        return 2
    for tool in ("ptxas", "nvcc"):
        if shutil.which(tool) is None:
            print(f"cuda-check: {tool} not found: skipped", file=sys.stderr)
            return 0
    failures = []
    field_kernels = [k for k in signatures() if k not in MSM_KERNELS]
    for index, cc_text in enumerate(args.cc):
        names = args.kernels or field_kernels + ([] if args.no_msm or index < len(args.cc) - 1 else list(MSM_KERNELS))
        cc = (int(cc_text[:-1]), int(cc_text[-1]))
        arch = f"sm_{cc_text}"
        t0 = time.perf_counter()
        ptx = compile_kernels(cc, names)
        t1 = time.perf_counter()
        out_dir = args.out or Path(tempfile.mkdtemp(prefix="zktrain-ptx-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"{arch}: {len(ptx)} numba kernels compiled to PTX in {t1 - t0:.1f} s")
        print(f"  {'kernel':<18} {'regs':>4} {'stack':>5} {'spill st':>8} {'spill ld':>8} {'smem':>6}")
        for name, text in ptx.items():
            path = out_dir / f"{name}.{arch}.ptx"
            path.write_text(text)
            for entry in ptxas_report(path, arch):
                spills = entry.get("spill_stores", 0) + entry.get("spill_loads", 0)
                print(f"  {name:<18} {entry.get('registers', 0):>4} {entry.get('stack', 0):>5} "
                      f"{entry.get('spill_stores', 0):>8} {entry.get('spill_loads', 0):>8} {entry.get('smem', 0):>6}")
                if (spills or entry.get("stack", 0)) and name not in MSM_KERNELS:
                    failures.append(f"{arch} {name}: stack {entry.get('stack')} B, spills {spills} B")
        if args.out is None:
            shutil.rmtree(out_dir)
        for name, report in check_cu(arch):
            print(f"  nvcc {name}: ok")
            for entry in _parse_ptxas(report):
                print(f"  {entry['entry']:<18} {entry.get('registers', 0):>4} {entry.get('stack', 0):>5} "
                      f"{entry.get('spill_stores', 0):>8} {entry.get('spill_loads', 0):>8}")
                if entry.get("spill_stores", 0) + entry.get("spill_loads", 0) or entry.get("stack", 0):
                    failures.append(f"{arch} {name} {entry['entry']}: stack or spills")
    if failures:
        print("cuda-check: FAILED (local memory or spills):\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("cuda-check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
