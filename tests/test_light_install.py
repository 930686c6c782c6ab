"""The light verifier install (issue 13, item 4): ``pip install .`` holds only the verifier's
dependencies (numpy, pyblst, py_ecc, click); the prover's are the ``[prove]`` extra.

The slow test builds a fresh venv with the base install alone, from the registries, and checks
there that torch, numba and arkworks are absent, that ``zktrain verify`` and
``python -m verifier`` accept the committed example bundle and its model
(``examples/tiny.zkp``, ``examples/tiny.model.npz``; ``make examples`` regenerates them) and
reject tampered copies with a non-zero exit, and that ``zktrain prove`` names the missing extra
instead of printing a traceback. The fast tests keep the example honest: it is the tiny run,
and it verifies with this checkout's verifier (rerun ``make examples`` when the bundle or model
format changes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from tiny_run import tiny_run

from verifier.bundle import verify_bundle
from verifier.model import float_copy

ROOT = Path(__file__).resolve().parent.parent
BUNDLE, MODEL = ROOT / "examples" / "tiny.zkp", ROOT / "examples" / "tiny.model.npz"
HEAVY = ("torch", "numba", "llvmlite", "py_arkworks_bls12381", "sklearn", "galois", "cupy", "yaml")


def test_base_dependencies_are_the_verifiers():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split("==")[0] for dep in project["dependencies"]}
    assert names == {"numpy", "pyblst", "py_ecc", "click"}
    prove = {dep.split("==")[0] for dep in project["optional-dependencies"]["prove"]}
    assert {"torch", "numba", "py-arkworks-bls12381", "scikit-learn", "pyyaml"} <= prove
    assert all("==" in dep for dep in project["dependencies"] + project["optional-dependencies"]["prove"])


def test_example_is_the_tiny_run():
    assert yaml.safe_load((ROOT / "examples" / "tiny.yaml").read_text()) == tiny_run()


def test_committed_example_verifies():
    report = verify_bundle(BUNDLE.read_bytes(), weights=MODEL)
    assert report.accepted, f"{report.reason} (regenerate with `make examples`)"
    assert report.mode == "clear" and report.artifacts["model"].startswith("disclosed")


def _run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    """A fresh venv holding the base install only: the package copied out of the checkout (so
    nothing of it is importable from the working directory), installed with pip from the
    registries at the pinned versions."""
    base = tmp_path_factory.mktemp("light")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    for package in ("zktrain", "circuits", "prover", "verifier"):
        shutil.copytree(ROOT / package, src / package, ignore=ignore)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", src], base)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


@pytest.mark.slow
def test_light_install_has_nothing_heavy(light_venv, tmp_path):
    probe = "import importlib.util as u, json; print(json.dumps([m for m in %r if u.find_spec(m)]))" % (HEAVY,)
    out = _run([light_venv / "bin" / "python", "-c", probe], tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout) == [], out.stdout + out.stderr


@pytest.mark.slow
def test_light_install_verifies_the_example(light_venv, tmp_path):
    zktrain = light_venv / "bin" / "zktrain"
    out = _run([zktrain, "verify", BUNDLE, "--weights", MODEL], tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("ACCEPT"), out.stdout + out.stderr
    assert "  model: disclosed: the model file matches the final commitments" in out.stdout
    out = _run([light_venv / "bin" / "python", "-m", "verifier", BUNDLE, "--weights", MODEL, "--json"], tmp_path)
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["accepted"] and report["artifacts"]["model"].startswith("disclosed")
    out = _run([zktrain, "inspect", BUNDLE], tmp_path)
    assert out.returncode == 0 and "MLP [4, 8, 3]" in out.stdout


@pytest.mark.slow
def test_light_install_rejects_tampered_copies(light_venv, tmp_path):
    bundle = bytearray(BUNDLE.read_bytes())
    bundle[len(bundle) // 2] ^= 1
    (tmp_path / "bad.zkp").write_bytes(bytes(bundle))
    with np.load(MODEL, allow_pickle=False) as npz:
        items = {name: npz[name] for name in npz.files}
    items["W2"] = items["W2"].copy()
    items["W2"][0, 0] += 1  # one weight off, its float copy consistent: only the commitment tells
    items["W2.float32"] = float_copy(items["W2"], int(items["scale_bits"]))
    np.savez(tmp_path / "bad.model.npz", **items)
    zktrain = light_venv / "bin" / "zktrain"
    for args in ([zktrain, "verify", tmp_path / "bad.zkp"],
                 [light_venv / "bin" / "python", "-m", "verifier", tmp_path / "bad.zkp"],
                 [zktrain, "verify", BUNDLE, "--weights", tmp_path / "bad.model.npz"],
                 [light_venv / "bin" / "python", "-m", "verifier", BUNDLE, "--weights", tmp_path / "bad.model.npz"]):
        out = _run(args, tmp_path)
        assert out.returncode == 1 and out.stdout.startswith("REJECT: "), out.stdout + out.stderr
        assert "Traceback" not in out.stderr
        if "--weights" in args:
            assert "W2 does not match the bundle's commitment W2.T" in out.stdout


@pytest.mark.slow
def test_light_install_names_the_prove_extra(light_venv, tmp_path):
    for command in (["prove", "--run", ROOT / "examples" / "tiny.yaml"], ["demo"]):
        out = _run([light_venv / "bin" / "zktrain", *command], tmp_path)
        assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
        assert f"zktrain {command[0]} needs the prover (the [prove] extra): pip install 'zktrain[prove]'" in out.stderr
