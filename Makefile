# `make demo` and `make test` each build .venv on first use, then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tito export --all
	$(BIN)/tito test --all
	$(BIN)/tito benchmark kernels

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) course workspaces benchmarks .pytest_cache .hypothesis
