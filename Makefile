# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   creates .venv, installs the project, runs the main job on the embedded default
#   make test   creates or reuses .venv, installs, runs the whole test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz mutation bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project metadata changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[test]"
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

bench: $(STAMP)
	$(PY) benchmarks/bench_field.py

clean:
	rm -rf $(VENV) build *.egg-info
