# The two set-up commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: demo test venv dry-run lint format clean readme-tables

demo: $(STAMP)  ## install, then run the default DAG (the offline demo)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)  ## install, then run the test suite
	$(BIN)/pytest

venv: $(STAMP)

# Exact pins (torch==2.13.0: a CPU build where one is on local disk, else PyPI's wheel).
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

readme-tables: $(STAMP)  ## rewrite README.md's result tables from this folder's results/ (after make demo)
	$(BIN)/python -m dnabert.report.readme_tables

dry-run: $(STAMP)
	$(BIN)/snakemake -n

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: $(STAMP)
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf .snakemake results resources logs benchmarks
