"""The CUDA C path of the cuda backend (prover/backends/cuda/rawmodule.py): cuda/fr.cu's
kernels through CuPy's RawModule, and its fallback to the numba kernels.

No GPU and no CuPy here, so what runs is: the loader's table against fr.cu's source and its
PTX (nvcc), the choice of path with CuPy absent or faked, and the loader's argument packing
driving fr.cu's host twins (nvcc -DFR_HOST_TEST, emulate.HostCudaCRuntime) inside CudaBackend,
against the CPU backend. The kernels' grid and block code itself runs only on a device
(benchmarks/bench_gpu.py).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from prover.backends import get_backend
from prover.backends.cuda import rawmodule
from verifier.field import MODULUS as R

SOURCE = rawmodule.SOURCE.read_text()
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")


@pytest.fixture
def fresh_loader():
    """rawmodule.load() caches per process: probe afresh, and leave no cached fake behind."""
    rawmodule.load.cache_clear()
    yield
    rawmodule.load.cache_clear()


@pytest.fixture(scope="module")
def fr_host(tmp_path_factory):
    """cuda/fr.cu built for the host (its host twins), once."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not on PATH")
    from prover.backends.cuda import emulate

    return emulate.build_fr_host_library(tmp_path_factory.mktemp("fr_host"))


def _cpu_rows(v) -> np.ndarray:
    """A CPU backend vector (uint64[n, 4] Montgomery) as the device layout uint32[n, 8]."""
    return np.ascontiguousarray(v).view(np.uint32).reshape(-1, 8)


# --- (a) the loader's names are fr.cu's entry points ---------------------------------------------


def test_every_looked_up_kernel_is_an_extern_c_global_of_fr_cu():
    kernels = rawmodule.entry_points(SOURCE)
    assert set(rawmodule.KERNEL_NAMES) <= set(kernels), set(rawmodule.KERNEL_NAMES) - set(kernels)
    # Each is declared once, as extern "C" __global__ (not a host function or a device helper).
    for name in rawmodule.KERNEL_NAMES:
        assert len(re.findall(rf'extern\s+"C"\s+__global__\s+void\s+{name}\s*\(', SOURCE)) == 1, name
    # Reductions are exactly the kernels that need the dynamic shared memory the loader passes.
    for kernel, entry in rawmodule.ENTRIES.items():
        assert entry.reduces == kernels[entry.name].uses_shared, kernel


def test_entry_point_parser_reads_types():
    src = 'extern "C" __global__ void k(const u32* a, u64 n, u32 k) { extern __shared__ u32 sh[]; }\n' \
          'extern "C" void host(u32 *out, u64 n) {}'
    assert rawmodule.entry_points(src) == {"k": rawmodule.Signature(("u32*", "u64", "u32"), True)}
    assert rawmodule.entry_points(src, host=True) == {"host": rawmodule.Signature(("u32*", "u64"), False)}


# --- (b) which path: numba without CuPy, cuda-c with it ------------------------------------------


def test_without_cupy_the_loader_reports_numba_and_the_backend_works(monkeypatch, fresh_loader, caplog, rng):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    monkeypatch.delenv(rawmodule.ENV, raising=False)
    with caplog.at_level(logging.DEBUG, logger=rawmodule.__name__):
        assert rawmodule.load() is None
    assert rawmodule.kernel_source() == "numba"
    assert "cupy not importable" in rawmodule.reason()
    # Silent but for one debug-level note.
    notes = [r for r in caplog.records if r.name == rawmodule.__name__]
    assert notes and all(r.levelno == logging.DEBUG for r in notes) and "cupy" in notes[0].getMessage()
    with pytest.raises(RuntimeError, match="cupy not importable"):
        rawmodule.select("cuda-c")
    with pytest.raises(ValueError, match="choose one of"):
        rawmodule.select("opencl")

    from prover.backends.cuda import runtime

    if not runtime.available():
        pytest.skip("no CUDA device and the simulator is off")
    from prover.backends.cuda import CudaBackend

    gpu = CudaBackend(max_blocks=4)
    assert gpu.kernel_source == "numba" and gpu.runtime.raw is None
    xs, ys = ([rng.randrange(R) for _ in range(40)] for _ in range(2))
    assert gpu.to_ints(gpu.mul(gpu.from_ints(xs), gpu.from_ints(ys))) == [x * y % R for x, y in zip(xs, ys)]


def _fake_cupy(module_factory, devices: int = 1):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: devices))
    fake.RawModule = module_factory
    fake.asarray = lambda a: a
    return fake


def test_with_cupy_and_a_device_the_loader_picks_cuda_c(monkeypatch, fresh_loader, fr_host):
    """A stand-in CuPy (fr.cu's host twins as the RawModule, a device present, the simulator
    off): "auto" loads fr.cu, the env switch and "numba" turn it off; failures fall back."""
    from prover.backends.cuda import emulate, runtime

    compiled = []

    def raw_module(code):
        compiled.append(code)
        return emulate.HostRawModule(fr_host)

    monkeypatch.setattr(runtime, "simulator_enabled", lambda: False)
    monkeypatch.delenv(rawmodule.ENV, raising=False)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(raw_module))
    kernels = rawmodule.load()
    assert kernels is not None and compiled == [SOURCE]
    assert rawmodule.kernel_source() == "cuda-c" and rawmodule.select("cuda-c") is kernels
    assert all(k in kernels for k in rawmodule.ENTRIES)
    assert rawmodule.kernel_source("numba") == "numba"
    monkeypatch.setenv(rawmodule.ENV, "numba")
    assert rawmodule.kernel_source() == "numba"
    monkeypatch.delenv(rawmodule.ENV)

    rawmodule.load.cache_clear()
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(raw_module, devices=0))
    assert rawmodule.kernel_source() == "numba" and "no CUDA device" in rawmodule.reason()

    def broken(code):
        raise RuntimeError("NVRTC_ERROR_COMPILATION")

    rawmodule.load.cache_clear()
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(broken))
    assert rawmodule.kernel_source() == "numba" and "did not compile" in rawmodule.reason()


def test_under_the_simulator_the_loader_stays_off(monkeypatch, fresh_loader, fr_host):
    from prover.backends.cuda import emulate, runtime

    monkeypatch.setattr(runtime, "simulator_enabled", lambda: True)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(lambda code: emulate.HostRawModule(fr_host)))
    assert rawmodule.load() is None and "simulator" in rawmodule.reason()


# --- (c) the names are entry points of fr.cu's PTX -----------------------------------------------


@needs_nvcc
def test_fr_cu_ptx_has_every_looked_up_entry(tmp_path):
    ptx = tmp_path / "fr.ptx"
    subprocess.run(["nvcc", "-ptx", "-arch=sm_80", "-o", str(ptx), str(rawmodule.SOURCE)],
                   check=True, capture_output=True, text=True)
    entries = set(re.findall(r"\.visible\s+\.entry\s+(\w+)\s*\(", ptx.read_text()))
    missing = set(rawmodule.KERNEL_NAMES) - entries
    assert not missing, f"not .entry in the PTX (name mangled or not a kernel?): {missing}"


# --- (d) the loader's argument packing against fr.cu's arithmetic, on the host -------------------


def test_scalar_packing_is_the_cpu_layout(rng):
    """An 8-limb kernel scalar becomes the four 64-bit limbs of the CPU backend's row."""
    from prover.backends.cuda import backend as cuda_backend

    cpu = get_backend("cpu")
    for c in [0, 1, R - 1, rng.randrange(R)]:
        assert [int(w) for w in rawmodule.scalar_u64x4(cuda_backend._scalar(c))] == [int(w) for w in cpu.from_ints([c])[0]]
    with pytest.raises(ValueError):
        rawmodule.scalar_u64x4((1, 2, 3, 4))


def test_cuda_c_path_through_the_loader_matches_the_cpu_backend(fr_host, rng):
    """CudaBackend whose hot kernels are launched through rawmodule.RawKernels onto fr.cu's
    host twins (every argument checked against the kernel's C signature: Fr rows as
    C-contiguous uint32[n, 8], u64 lengths, u32 point counts, the scalar as four u64 limbs)
    gives the CPU backend's Montgomery rows and round values; nothing else is launched."""
    from prover.backends.cuda import emulate
    from prover.backends.cuda.backend import CudaBackend

    rt = emulate.HostCudaCRuntime(fr_host)  # no fallback: a numba kernel launch raises
    gpu, cpu = CudaBackend(runtime=rt), get_backend("cpu")
    assert gpu.kernel_source == "cuda-c"
    n = 2 * 21
    vs = [cpu.from_ints([rng.randrange(R) for _ in range(n)] + [0, R - 1]) for _ in range(3)]
    f, g, h = (_cpu_rows(v) for v in vs)
    r = rng.randrange(R)
    assert np.array_equal(gpu.fold(f, r).view(np.uint64), cpu.fold(vs[0], r))
    assert np.array_equal(gpu.mul(f, g).view(np.uint64), cpu.mul(vs[0], vs[1]))
    assert gpu.inner_product(f, g) == cpu.inner_product(vs[0], vs[1])
    assert gpu.round_evals([f, g], 3) == cpu.round_evals(vs[:2], 3)
    assert gpu.round_evals([f, g, h], 5) == cpu.round_evals(vs, 5)
    point = [rng.randrange(R) for _ in range(5)]
    assert gpu.mle_evaluate(f[:32], point) == cpu.mle_evaluate(vs[0][:32], point)
    assert {name for name, fn in rt.module.functions.items() if fn.calls} == set(rawmodule.KERNEL_NAMES)
    with pytest.raises(KeyError, match="not served by fr.cu"):
        gpu.eq_table(point)


def test_reduce_partials_reads_the_numba_partial_layout(fr_host, rng):
    """Several blocks' partials, rows b K + k as the numba reduction kernels write them: the
    loader's (blocks, k_points) make fr.cu sum each point over the blocks."""
    from prover.backends.cuda import emulate, field

    raw = rawmodule.RawKernels(emulate.HostRawModule(fr_host))
    for k_points in (1, 3, 4):
        values = [[rng.randrange(R) for _ in range(k_points)] for _ in range(5)]  # 5 blocks
        partial = np.array([field.int_to_limbs(field.to_montgomery_int(v)) for row in values for v in row],
                           dtype=np.uint32)
        out = np.zeros((k_points, 8), dtype=np.uint32)
        assert raw.launch("reduce_partials", 1, 128, partial, k_points, out)
        assert [field.from_montgomery_int(row) for row in out] == [sum(c) % R for c in zip(*values)]


def test_host_twin_rejects_a_wrong_argument_layout(fr_host):
    """The harness above can fail: 64-bit rows, a signed length or a missing limb raise."""
    from prover.backends.cuda import emulate

    fn = emulate.HostRawModule(fr_host).get_function("fr_vec_mul")
    a = np.zeros((4, 8), dtype=np.uint32)
    fn((1,), (128,), (a, a, a, np.uint64(4)))
    for bad in [(a.view(np.uint64), a, a, np.uint64(4)), (a, a, a, np.int64(4)), (a, a, a, 4), (a, a, a),
                (a, a, a[:, :4].copy(), np.uint64(4))]:
        with pytest.raises(TypeError):
            fn((1,), (128,), bad)
    with pytest.raises(ValueError, match="shared memory"):
        emulate.HostRawModule(fr_host).get_function("fr_inner_product")((1,), (128,), (a, a, a, np.uint64(4)))


# --- benchmarks/bench_gpu.py --quick ------------------------------------------------------------


def test_bench_gpu_quick_parity_and_zkdl_parts_run(tmp_path, monkeypatch):
    """The device script's quick path on the simulator (about 10 s here): parity, and the zkDL
    part at its tiny shape, whose "cuda" proof runs fr.cu's host twins through the loader (nvcc
    present) over the @njit kernels, verifies, and is timed against the cpu backend's."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from prover.backends.cuda import runtime

    if not runtime.simulator_enabled():
        pytest.skip("the quick bench is sized for the simulator; on a device run bench_gpu.py itself")
    monkeypatch.setenv(rawmodule.ENV, "auto")  # main() sets it; restored after the test
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_gpu

    out = tmp_path / "gpu.json"
    result = CliRunner().invoke(bench_gpu.main, ["--quick", "--parts", "parity,zkdl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["kernel_source"] == "numba" and all(p["all_equal"] for p in report["parity"])
    assert [r["backend"] for r in report["zkdl"]["rows"]] == ["cuda", "cpu"] and report["zkdl"]["cpu_over_cuda"] > 0
    if shutil.which("nvcc"):
        assert "fr.cu host twins" in report["zkdl"]["cuda_runtime"]
