# Two entry points do all the set-up: `make test` and `make demo` each create the
# local virtual environment (CPU build of PyTorch) first if it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch. On this project's machines `pip install torch==2.13.0` resolves
# to a CPU wheel on disk; elsewhere set TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: install test test-all test-gpu demo lint clean docs docs-quick test-docs

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

# The documentation site: Sphinx with warnings as errors and nitpicky cross-references; the
# pages are executed (sphinx-gallery), so every figure on them is made by this build. The
# generated pages are removed first: the gallery's cache keys on the page source alone and
# would keep a quick build's figures in a full one. GLASS_BOX_UMAP_DOCS_QUICK=1 (make
# docs-quick, what CI builds) runs the pages on less data and fewer epochs.
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $@

DOCS_GENERATED := docs/_build docs/guide docs/api/generated docs/_generated docs/sg_execution_times.rst

docs: $(VENV)/.docs-installed
	rm -rf $(DOCS_GENERATED)
	$(VENV)/bin/sphinx-build -b html -W --keep-going -n -T docs docs/_build/html

docs-quick:
	GLASS_BOX_UMAP_DOCS_QUICK=1 $(MAKE) docs

# The built site in headless Chromium (tests/test_docs_site.py): every image loaded, the
# embedded explorer answers a hover; screenshots go to docs/_build/screenshots.
test-docs: $(VENV)/.docs-installed
	$(PY) -m pytest -m docs -rs

clean:
	rm -rf $(VENV) demo_output .pytest_cache $(DOCS_GENERATED)
