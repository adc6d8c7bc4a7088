# Bootstrap layer: makes the virtual environment, then hands over to invoke and pytest.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kenning-installed

.PHONY: install demo test test-fast lint

install: $(STAMP)

$(STAMP): pyproject.toml kenning/onnxconverters/requirements-converters.txt kenning/onnxconverters/requirements-mxnet.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	# ONNX import converters pin older frameworks in their metadata: installed without deps
	$(BIN)/python -m pip install --quiet --no-deps -r kenning/onnxconverters/requirements-converters.txt
	# MXNet needs numpy<1.24, so it gets a virtual environment of its own
	$(BIN)/python -m kenning.onnxconverters.mxnet_env --check >/dev/null 2>&1 || \
		$(BIN)/python -m kenning.onnxconverters.mxnet_env
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
	$(BIN)/ruff check kenning tests bench tools tasks.py
	$(BIN)/ruff format --check kenning
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
