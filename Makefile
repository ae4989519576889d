# `make demo` and `make test` work from a fresh clone: each creates .venv when
# missing and installs the locked environment (requirements/lock.txt) with uv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
LOCK := requirements/lock.txt
# The CPU build of torch lies on this kind of machine's disk; elsewhere the
# lock's torch line needs a find-links that has it (see requirements/constraints.txt).
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
LOCK_EXTRAS := --extra test --extra bench --extra transformers
export UV_NO_PROGRESS := 1

.PHONY: demo test test-latest bench install lock sysdeps node-deps wasm clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip --disable-pip-version-check -q install "uv==$(UV_VERSION)"

$(STAMP): $(LOCK) pyproject.toml | $(PY)
	$(UV) pip install -q --python $(PY) $(FIND_LINKS) -r $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps -e .
	LITELLM_LOCAL_MODEL_COST_MAP=True $(PY) -c "import smolkernel, jupyter_client, litellm, openai, transformers, torch"
	touch $(STAMP)

install: $(STAMP)

# Regenerate the lock from pyproject.toml's ranges (newest versions that fit).
lock: | $(PY)
	$(UV) pip compile -q pyproject.toml $(LOCK_EXTRAS) -c requirements/constraints.txt \
	  --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  $(FIND_LINKS) --no-emit-find-links -o $(LOCK)

# System packages and services the tests use (bubblewrap, Chromium, ...).
# Installs with apt when root on Debian/Ubuntu; elsewhere it says what is
# missing and the tests that need it skip (they fail under CI=true).
sysdeps:
	@bash scripts/sysdeps.sh

# The WebAssembly executor's runtime (npm packages pyodide and deno), installed
# from the committed lock into wasm/node_modules; without npm it says so and
# the wasm tests skip (they fail under CI=true).
WASM_STAMP := wasm/node_modules/.installed
$(WASM_STAMP): wasm/package.json wasm/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd wasm && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "wasm: npm is missing; the wasm executor's tests will skip" >&2; fi

wasm: $(WASM_STAMP)

# Node packages the tests run as real servers (MCP server-everything), from the
# committed package-lock.json; without npm the tests that need them skip.
MCP_NODE := tests/tools/mcp_servers
node-deps: $(MCP_NODE)/node_modules/.package-lock.json

$(MCP_NODE)/node_modules/.package-lock.json: $(MCP_NODE)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(MCP_NODE) --no-audit --no-fund --loglevel=error; \
	else echo "node-deps: npm is missing (make sysdeps installs it); the MCP tests that need Node skip" >&2; fi

DEMO_OUT := build/demo/quickstart.html

# Runs notebooks/quickstart.ipynb in the SmolKernel kernel and writes an HTML
# report. Offline by default (scripted replies); with SMOLKERNEL_MODEL (and its
# API key) set, the notebook's agents use that model instead.
demo: $(STAMP)
	$(VENV)/bin/smolkernel install --sys-prefix
	$(VENV)/bin/smolkernel report notebooks/quickstart.ipynb -o $(DEMO_OUT) --timeout 300
	@echo "Open the report: $(CURDIR)/$(DEMO_OUT)"

test: $(STAMP) sysdeps node-deps wasm
	$(PY) -m pytest $(PYTEST_ARGS)

# The whole suite against the newest versions that pyproject.toml allows, in a
# second venv: finds a break from a new release on purpose, not by accident.
LATEST := .venv-latest
test-latest: sysdeps node-deps wasm
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip --disable-pip-version-check -q install "uv==$(UV_VERSION)"
	$(LATEST)/bin/uv pip install -q --python $(LATEST)/bin/python --upgrade $(FIND_LINKS) \
	  -c requirements/constraints.txt -e ".[test,bench,transformers]"
	$(LATEST)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) $(LATEST) build dist *.egg-info
