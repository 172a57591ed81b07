# Everyday commands. `make demo` and `make test` each set up everything they need first.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
OUT     ?= out
EXTRAS  ?= dev,viz,examples,docs
DEMO_EXTRAS     := viz,examples
NOTEBOOK_EXTRAS := notebooks
DOCS_EXTRAS     := docs

.PHONY: help setup dot browser web demo notebooks test quick lint format typecheck pytest versions bench docs clean

help:
	@echo "make demo   - set up, then train the two-moons MLP and write plots + a rendered graph to $(OUT)/"
	@echo "make notebooks - set up Jupyter, then open the tutorial notebooks (start with 00)"
	@echo "make test   - set up, then lint, type-check, run the test suite and build the docs (strict),"
	@echo "             then the fast tests on each supported Python found here (make versions)"
	@echo "make versions - the fast tests on each supported Python found here, from the built wheel"
	@echo "make quick  - lint and the fast tests (not the notebooks, docs build, examples, benchmarks)"
	@echo "make bench  - side-by-side benchmarks (writes docs/performance.md)"
	@echo "make docs   - build the documentation site into site/"

# One stamp per install, so a second `make test` costs nothing.
$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

setup: $(BIN)/.installed dot browser

dot:
	@bash scripts/ensure-dot.sh

# The demo and the notebooks install only what they need (no test or docs tools).
$(BIN)/.installed-demo: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(DEMO_EXTRAS)]"
	touch $@

# The site needs mkdocs and what executing the notebooks needs, not the test tools.
$(BIN)/.installed-docs: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(DOCS_EXTRAS)]"
	touch $@

$(BIN)/.installed-notebooks: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(NOTEBOOK_EXTRAS)]"
	touch $@

# The system Chromium for the browser tests (tests/browser.py); they skip without it outside CI.
browser:
	@bash scripts/ensure-browser.sh

# What the docs site serves itself (no CDN), pinned in package-lock.json: MathJax, and the
# playground's Pyodide and Graphviz in WebAssembly.
web: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: the docs site needs npm (Node.js) for MathJax and the playground runtimes:" \
	  "apt-get install npm, or see https://nodejs.org" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

demo: $(BIN)/.installed-demo dot
	$(BIN)/python examples/train_moons.py --out $(OUT)

notebooks: $(BIN)/.installed-notebooks dot
	$(BIN)/jupyter notebook examples/notebooks/00_build_your_own_value.ipynb

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests examples benchmarks scripts noxfile.py
	$(BIN)/ruff format --check src tests examples benchmarks scripts noxfile.py

format: $(BIN)/.installed
	$(BIN)/ruff check --fix src tests examples benchmarks scripts noxfile.py
	$(BIN)/ruff format src tests examples benchmarks scripts noxfile.py

typecheck: $(BIN)/.installed
	$(BIN)/mypy

pytest: setup web
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

test: setup lint typecheck pytest versions

# The fast tier on each supported Python this machine has (noxfile.py; scripts/pythons.py finds
# them on PATH and in pyenv's versions folder), each in its own environment from the built wheel.
# It prints which were found and which are absent; an absent one is not an error. Two at a time
# on two cores: each run of pytest keeps one busy.
versions: $(BIN)/.installed
	$(BIN)/nox --parallel auto

# Everyday loop: the tests not marked `slow` (pyproject.toml); `make test` runs them all.
quick: setup lint
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -m "not slow"

bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m pip install --quiet -e ".[bench-torch]" \
	  || echo "bench: PyTorch not installed; the benchmark skips it with a line"
	$(BIN)/python benchmarks/run.py

docs: $(BIN)/.installed-docs dot web
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) node_modules site $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis .nox

# `make docs` builds the playground into site/ too; this serves it (no file:// pages).
.PHONY: playground
playground: docs
	@echo "the playground: http://127.0.0.1:8000/playground/ (Ctrl+C stops the server)"
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory site 8000
