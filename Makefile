# finsentry — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
FS := $(VENV)/bin/finsentry
STAMP := $(VENV)/.installed
DEMO_SECONDS ?= 0

.PHONY: install demo test check lint typecheck format clean browser

install: $(STAMP)

# torch first, pinned to the local CPU build, so the project's torch range installs nothing more.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

check: lint typecheck

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline consumers models alerts migrations tests
	$(VENV)/bin/ruff format --check pipeline consumers models alerts migrations tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format pipeline consumers models alerts migrations tests
	$(VENV)/bin/ruff check --fix pipeline consumers models alerts migrations tests

# The dashboard's browser test drives Debian's headless Chromium through its chromedriver
# (Selenium is pointed at both; nothing is downloaded from elsewhere).
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver)

test: check browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/pytest -q

demo: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DEMO_SECONDS=$(DEMO_SECONDS) bash scripts/demo.sh

clean:
	rm -rf $(VENV) finsentry-data .pytest_cache .mypy_cache .ruff_cache
