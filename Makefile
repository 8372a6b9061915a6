# Two entry points do all the set-up: `make test` and `make demo` each create the
# local virtual environment (CPU build of PyTorch) first if it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch. On this project's machines `pip install torch==2.13.0` resolves
# to a CPU wheel on disk; elsewhere set TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: install test test-all test-gpu demo lint clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_INDEX) "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest

test-all: install
	$(PY) -m pytest -m ""

# The GPU tests (tests/test_cuda.py); they skip, and say so, without a CUDA device or with
# the CPU build of torch (install a CUDA build with TORCH_INDEX=--index-url=<PyTorch's index>).
test-gpu: install
	$(PY) -m pytest -m gpu -rs

demo: install
	$(VENV)/bin/glass-box-umap demo --out demo_output

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

clean:
	rm -rf $(VENV) demo_output .pytest_cache
