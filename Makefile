# Everyday commands. `make demo` and `make test` each set up everything they need first.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
OUT     ?= out
EXTRAS  ?= dev,viz,examples,docs

.PHONY: help setup dot demo test lint format typecheck pytest bench docs clean

help:
	@echo "make demo   - set up, then train the two-moons MLP and write plots + a rendered graph to $(OUT)/"
	@echo "make test   - set up, then lint, type-check, run the test suite and build the docs (strict)"
	@echo "make bench  - side-by-side benchmarks (writes docs/performance.md)"
	@echo "make docs   - build the documentation site into site/"

# One stamp per install, so a second `make test` costs nothing.
$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

setup: $(BIN)/.installed dot

dot:
	@bash scripts/ensure-dot.sh

demo: setup
	$(BIN)/python examples/train_moons.py --out $(OUT)

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts

format: $(BIN)/.installed
	$(BIN)/ruff check --fix src tests examples benchmarks scripts
	$(BIN)/ruff format src tests examples benchmarks scripts

typecheck: $(BIN)/.installed
	$(BIN)/mypy

pytest: setup
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

test: setup lint typecheck pytest

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m pip install --quiet -e ".[bench-torch]" \
	  || echo "bench: PyTorch not installed; the benchmark skips it with a line"
	$(BIN)/python benchmarks/run.py

docs: setup
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) node_modules site $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The browser runtimes the docs site ships (Pyodide, Graphviz in WebAssembly: the playground),
# pinned in package-lock.json; the stamp makes a second `make setup` cost nothing.
.PHONY: playground
# (npm ci writes node_modules/.package-lock.json last: it is the stamp.)
setup: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "make setup: the docs site needs npm (Node.js) for" \
	  "the playground's runtimes: apt-get install npm, or see https://nodejs.org" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

# `make docs` builds the playground into site/ too; this serves it (no file:// pages).
playground: docs
	@echo "the playground: http://127.0.0.1:8000/playground/ (Ctrl+C stops the server)"
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory site 8000
