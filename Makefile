# A graph of files: each product depends on its inputs and on the code that makes it.
# The two commands of the README: `make map` and `make test`. `make help` lists the verbs.

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/ecoles-map

# --- Installation (stamps, so that a second run installs nothing) ---------------------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# --- Inputs and code ------------------------------------------------------------------------
REGISTRY := data/raw/ecoles.csv
EMBEDDED := pipeline/data/departements.gpkg pipeline/data/communes.csv.xz pipeline/data/sources.json
CORE_CODE := pipeline/__init__.py pipeline/config.py pipeline/errors.py pipeline/io.py \
             pipeline/ingest.py pipeline/workflow.py cli.py

# --- Products -------------------------------------------------------------------------------
REGISTRE := data/processed/registre.csv

$(REGISTRE): $(REGISTRY) $(CORE_CODE) pipeline/report.py $(VENV)/.installed
	$(CLI) ingest $(REGISTRY) -o $@

# --- Verbs ----------------------------------------------------------------------------------
.PHONY: help map test lint clean

help: ## List the commands
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

map: $(REGISTRE) ## Build the map and the coverage GeoPackages (installs what it needs)

test: $(VENV)/.installed-test ## Lint, type-check and run the tests (installs what it needs)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

clean: ## Remove generated outputs (keeps the virtual environment)
	find data/processed maps -type f ! -name .gitkeep -delete
