# The two commands of README.md. Both create ./.venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

## Install the service and start it (SQLite, generated dev signing key, console email).
serve: venv
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/attest serve

## Install test dependencies and run the whole suite: lint, types, tests.
test: venv
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest
