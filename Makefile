# Bootstrap layer: makes the virtual environment, then hands over to invoke and pytest.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kenning-installed

.PHONY: install demo test test-fast lint

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@

## install everything, then train, compile, benchmark and report on the local board
demo: install
	$(BIN)/invoke demo

## the whole test suite (what CI runs)
test: install
	$(BIN)/python -m pytest

## unit and quick integration tests only: no slow, Docker or SSH tests
test-fast: install
	$(BIN)/python -m pytest -m "not slow and not docker and not ssh"

lint: install
	$(BIN)/ruff check kenning tests bench tasks.py
	$(BIN)/ruff format --check kenning
	$(BIN)/mypy
