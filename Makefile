# A graph of files: each product depends on its inputs and on the code that makes it.
# The README's two commands are `make map` and `make test`; `make help` lists the verbs.

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/ecoles-map

# --- Installation: stamps, so that a second run installs nothing ----------------------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# --- Inputs ------------------------------------------------------------------------------------
REGISTRY := data/raw/ecoles.csv
LABEL_OFFSETS := data/raw/etiquettes.csv
EMBEDDED := $(wildcard pipeline/data/*.gpkg pipeline/data/*.csv.gz) \
            pipeline/data/sources.json

# --- Code: a product depends on all the code that can change it ---------------------------------
# Every module of the package and the CLI, found by the shell, not kept by hand: a new module
# or an edit anywhere in pipeline/ rebuilds what depends on it.
CODE := cli.py $(shell find pipeline -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort)

# --- Products ----------------------------------------------------------------------------------
PROCESSED := data/processed/couverture.gpkg data/processed/ecoles.csv \
             data/processed/ecoles.md data/processed/rapprochement.md \
             data/processed/registre.csv
MAP := maps/ecoles-de-production-2021.png maps/ecoles-de-production-2021.svg \
       maps/ecoles-de-production-2021.txt

# One process makes them all: importing geopandas and matplotlib costs more than the
# pipeline's own work, so paying it once (and forking for the PNG) beats a process per step.
$(PROCESSED) $(MAP) &: $(REGISTRY) $(LABEL_OFFSETS) $(EMBEDDED) $(CODE) \
                       $(VENV)/.installed
	$(CLI) build $(REGISTRY)

# The other presets of the annex map, for slides and social posts, from the GeoPackage.
FIGURES := $(foreach p,slide social square,$(foreach x,png svg txt,\
             maps/ecoles-de-production-2021-$(p).$(x)))
$(FIGURES) &: data/processed/couverture.gpkg $(LABEL_OFFSETS) $(CODE)
	$(CLI) render $< --preset slide --preset social --preset square -o maps

# Coverage over time: a map per date (annex, then each 31 December), GIF, chart.
OPENINGS := data/raw/ouvertures.csv
HISTORY_DIR := maps/historique
HISTORY := $(HISTORY_DIR)/ecoles-de-production-historique.gif \
           $(HISTORY_DIR)/ecoles-de-production-evolution.png \
           $(HISTORY_DIR)/rapprochement-historique.md data/processed/historique.gpkg
$(HISTORY) &: $(REGISTRY) $(OPENINGS) $(EMBEDDED) $(CODE) $(VENV)/.installed
	$(CLI) history $(REGISTRY) --openings $(OPENINGS) -o $(HISTORY_DIR) \
	  --gpkg data/processed/historique.gpkg

# Every command above writes its files atomically (temporary file, then rename), so a
# failed or interrupted recipe leaves the previous, complete outputs: make must not delete
# them (which .DELETE_ON_ERROR would do to every target of a failed grouped rule).
.PRECIOUS: $(PROCESSED) $(MAP) $(FIGURES) $(HISTORY)

# --- Verbs -------------------------------------------------------------------------------------
.PHONY: help map figures history test bench clean

help: ## List the commands
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

map: $(PROCESSED) $(MAP) ## Build the annex map and the coverage GeoPackage (installs what it needs)

figures: $(FIGURES) ## The annex map as a 16:9 slide, a social card and a square too

history: $(HISTORY) ## Maps per date since the annex, GIF, chart, dated reconciliation

test: $(VENV)/.installed-test ## Lint, type-check and run the tests (installs what it needs)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: $(VENV)/.installed ## Measure times, memory and sizes on this machine (< 5 min)
	$(BIN)/python benchmarks/bench.py

clean: ## Remove generated outputs (keeps the virtual environment)
	find data/processed maps -type f ! -name .gitkeep -delete
	rm -rf $(HISTORY_DIR)
