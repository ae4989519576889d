# `make demo` and `make test` work from a fresh clone: each creates .venv when
# missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(PIP) install -e ".[test,bench]" "transformers>=4.45" tokenizers "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
	LITELLM_LOCAL_MODEL_COST_MAP=True $(PY) -c "import smolkernel, jupyter_client, litellm, openai, transformers, torch"
	touch $(STAMP)

install: $(STAMP)

DEMO_OUT := build/demo/quickstart.html

# Runs notebooks/quickstart.ipynb in the SmolKernel kernel and writes an HTML
# report. Offline by default (scripted replies); with SMOLKERNEL_MODEL (and its
# API key) set, the notebook's agents use that model instead.
demo: $(STAMP)
	$(VENV)/bin/smolkernel install --sys-prefix
	$(VENV)/bin/smolkernel report notebooks/quickstart.ipynb -o $(DEMO_OUT) --timeout 300
	@echo "Open the report: $(CURDIR)/$(DEMO_OUT)"

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
