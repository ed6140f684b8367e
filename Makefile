# ocec_lightning — `make help` lists the targets. The venv location is overridable:
#   make test VENV=/opt/venvs/ocec
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
BENCH_ARGS ?=
PYTEST_ARGS ?= -n 2

.PHONY: help install train test test-fast lint bench clean notebook

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -c constraints.txt -e ".[dev,wandb,sweep,export,mlflow]"
	$(PY) -m ipykernel install --sys-prefix
	touch $(STAMP)

install: $(STAMP)  ## create the venv and install the package with pinned dependencies

train: $(STAMP)  ## train OCEC on the built-in synthetic eyes (extra overrides: make train ARGS="...")
	$(VENV)/bin/ocec-train $(ARGS)

test: $(STAMP)  ## run the whole test suite (CI)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)  ## the suite without the slow tier (notebooks, wheel, DDP, resume kills, sweeps)
	$(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

lint: $(STAMP)  ## ruff lint + format check + the layer contract (import-linter, pyproject.toml)
	$(VENV)/bin/ruff check ocec_lightning hydra_plugins tests notebooks benchmarks
	$(VENV)/bin/ruff format --check ocec_lightning hydra_plugins tests notebooks benchmarks
	$(VENV)/bin/lint-imports

bench: $(STAMP)  ## run the benchmarks (< 20 min; JSON + summary.md under benchmarks/results; BENCH_ARGS=--quick)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

notebook: $(STAMP)  ## open the notebooks in JupyterLab (installs jupyterlab; saving updates .ipynb + .py)
	$(PY) -m pip install -c constraints.txt jupyterlab
	$(VENV)/bin/jupyter lab notebooks/

clean:  ## remove run outputs and caches (keeps the venv)
	rm -rf outputs multirun .cache .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
