# `make demo` and `make test` each build .venv on first use, then run.
#
# What each role installs (pyproject.toml):
#   make setup             everything: student + [instructor] + [dev] (the course repository's own .venv)
#   make setup-student     the default install only: what a student needs in a workspace
#   make setup-instructor  the default install + [instructor] (nbgrader)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
ALL_EXTRAS := instructor,dev

.PHONY: demo test setup setup-student setup-instructor clean

setup: $(VENV)/.installed-all

$(VENV)/.installed-all: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[$(ALL_EXTRAS)]"
	$(PIP) check
	@touch $@

setup-student setup-instructor: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".$(if $(filter setup-instructor,$@),[instructor])"
	$(PIP) check

demo: setup
	$(BIN)/tito export --all
	$(BIN)/tito test --all
	$(BIN)/tito benchmark kernels

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) course workspaces benchmarks .pytest_cache .hypothesis
