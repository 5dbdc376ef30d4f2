# sash: `make help` lists every target with its one-line description.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
CARGO       ?= cargo
# CI machines have 2 cores; never ask for more jobs than that.
export CARGO_BUILD_JOBS ?= 2

.PHONY: help demo test test-rust test-corpus test-python test-c test-jvm bench bench-rust python-dev lint fmt venv clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp ## Create the project's Python venv (.venv) with dev and benchmark tools

demo: python-dev ## Build the wheel into .venv and run examples/quickstart.py on the bundled real access log
	$(PY) examples/quickstart.py examples/data/apache_combined_10k.log

test: test-rust test-corpus test-python test-c test-jvm ## Run every test of every language

test-rust: ## Rust unit, conformance and property tests
	$(CARGO) test --release --workspace --exclude sash-python

test-corpus: venv ## Re-derive the conformance corpus's expectations (brute force + DuckDB) and test the bench harness
	$(PY) tests/conformance/oracle.py --check
	$(PY) -m pytest -q bench/test_run.py

python-dev: venv ## Build the Python wheel (release) and install it into .venv (maturin develop)
	cd bindings-python && VIRTUAL_ENV=$(abspath $(VENV)) $(abspath $(VENV))/bin/maturin develop --release --quiet

test-python: python-dev ## Python binding tests (tests/python: corpus, equivalence, zero-copy, memory)
	$(PY) -m pytest -q tests/python

test-c: ## C binding tests (issue #5)
	@echo "test-c: the C binding does not exist yet (issue #5); nothing to run"

test-jvm: ## JVM binding tests (issue #6)
	@echo "test-jvm: the JVM binding does not exist yet (issue #6); nothing to run"

bench: bench-rust python-dev ## Benchmark sash (Rust and through the Python wheel) against DuckDB, Polars, pandas on 10M rows
	$(PY) bench/run.py

bench-rust: ## Build the Rust kernel benchmark binary only
	$(CARGO) build --release -p sash-core --bench kernels

lint: ## rustfmt check and clippy with -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the Rust code
	$(CARGO) fmt --all

clean: ## Remove build outputs and the venv
	$(CARGO) clean
	rm -rf $(VENV)
