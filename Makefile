# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   creates .venv, installs the project, runs the main job on the embedded default
#   make test   creates or reuses .venv, installs, runs the whole test suite
# Both install the prover and the tests (.[prove,test]); an auditor needs only `pip install .`
# (the verifier), which tests/test_light_install.py builds in a fresh venv.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz mutation bench examples cuda-check clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project metadata changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[prove,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/zktrain demo

test: $(STAMP)
	$(PY) -m pytest -q

# The bundle fuzzer for long: make test runs a bounded pass of the same tests.
fuzz: $(STAMP)
	ZKTRAIN_FUZZ_EXAMPLES=$${ZKTRAIN_FUZZ_EXAMPLES:-5000} $(PY) -m pytest -q tests/test_fuzz_bundle.py

# Delete or weaken every verifier check in turn and run the tests that must notice (SECURITY.md).
mutation: $(STAMP)
	$(PY) tools/mutation.py

# The small example bundle and model the light-install test verifies (tiny run, clear mode).
examples: $(STAMP)
	$(VENV)/bin/zktrain prove --run examples/tiny.yaml --out examples/tiny.zkp --model-out examples/tiny.model.npz

bench: $(STAMP)
	$(PY) benchmarks/bench_field.py

# The GPU build checks, no GPU needed (CUDA toolkit: nvcc, ptxas, libnvvm): every numba.cuda
# field kernel of the cuda backend compiled to PTX for sm_80 and sm_90 and assembled by ptxas
# (registers, spills; fails on spills or local memory), the MSM kernels for sm_90 (spills
# reported; about 35 s of the minute this takes: CUDA_CHECK_FLAGS=--no-msm skips them), and
# every cuda/*.cu built by nvcc.
CUDA_CHECK_FLAGS ?=
cuda-check: $(STAMP)
	NUMBA_ENABLE_CUDASIM=0 $(PY) -m prover.backends.cuda.ptx --cc 80 90 $(CUDA_CHECK_FLAGS)

clean:
	rm -rf $(VENV) build *.egg-info
