# The two commands of README.md. Both create ./.venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test venv chromium fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

## Install the service and start it (SQLite, generated dev signing key, console email).
serve: venv
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/attest serve

## Debian's chromium for the passkey browser tests (tests/fido/test_browser.py), installed with apt-get when
## /usr/bin/chromium is missing (CI runs as root). Elsewhere those tests are skipped without it.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "note: /usr/bin/chromium is missing and cannot be installed (needs root and apt-get)"; \
		fi; \
	fi

## Install test dependencies and run the whole suite: lint, types, tests, and a short bounded fuzz run.
test: venv chromium
	$(BIN)/python -m pip install --quiet -e '.[test]' -r fuzz/requirements.txt
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

FUZZ_SECONDS ?= 5

## Fuzz every parser and verifier for FUZZ_SECONDS each (atheris); fails on any crash.
fuzz: venv
	$(BIN)/python -m pip install --quiet -e . -r fuzz/requirements.txt
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)
