# A graph of files: each product depends on its inputs and on all the code that can change it.
# The README's two commands are `make map` and `make test`; `make help` lists the verbs.
# To rebuild a product although nothing changed: `make -B map` (it reinstalls nothing).

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
SHELL := /bin/bash

PYTHON ?= python3
# Python keeps the bytecode of the project's own modules (in __pycache__/, ignored by git),
# even where the environment turns that off with PYTHONDONTWRITEBYTECODE: compiling the
# package's 10,000 lines again costs every run about 0.4 s, and every test run 1 s more.
export PYTHONDONTWRITEBYTECODE :=
VENV := .venv
CLI := $(VENV)/bin/ecoles-map
# The locked environment (requirements/*.txt), installed once by scripts/venv.sh; not a make
# target, so that `make -B` forces the outputs, never a reinstall.
ENV_RUN := PYTHON=$(PYTHON) VENV=$(VENV) scripts/venv.sh run
ENV_TEST := PYTHON=$(PYTHON) VENV=$(VENV) scripts/venv.sh test
LOCKS := requirements/run.txt requirements/test.txt pyproject.toml

# --- Inputs ------------------------------------------------------------------------------------
REGISTRY := data/raw/ecoles.csv
OPENINGS := data/raw/ouvertures.csv
LABEL_OFFSETS := data/raw/etiquettes.csv
EMBEDDED := $(wildcard pipeline/data/*.gpkg pipeline/data/*.csv pipeline/data/*.csv.gz) \
            pipeline/data/sources.json

# --- Code: a product depends on all the code that can change it --------------------------------
# Every module of the package and the CLI, found by the shell, not kept by hand: a new module
# or an edit anywhere in pipeline/ rebuilds what depends on it.
CODE := cli.py $(shell find pipeline -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort)
DEPS := $(EMBEDDED) $(CODE) requirements/run.txt

# --- Products ----------------------------------------------------------------------------------
PROCESSED := $(addprefix data/processed/,couverture.gpkg ecoles.csv ecoles.md \
               rapprochement.md registre.csv acces_departements.csv \
               communes_les_plus_eloignees.csv ou_ensuite.csv)
MAP := $(addprefix maps/ecoles-de-production-2021.,png svg pdf txt html) \
       $(addprefix maps/acces-30km-2021.,png svg pdf txt)
FIGURES := $(foreach m,ecoles-de-production acces-30km,$(foreach p,slide social square,\
             $(foreach x,png svg txt,maps/$(m)-2021-$(p).$(x))))
HISTORY_DIR := maps/historique
HISTORY := $(HISTORY_DIR)/ecoles-de-production-historique.gif \
           $(HISTORY_DIR)/ecoles-de-production-historique.html \
           $(HISTORY_DIR)/ecoles-de-production-evolution.png \
           $(HISTORY_DIR)/rapprochement-historique.md data/processed/historique.gpkg
ALL_STAMP := data/processed/.tout

# One process makes them all: importing geopandas and matplotlib costs more than the
# pipeline's own work, so paying it once beats a process per step.
$(PROCESSED) $(MAP) &: $(REGISTRY) $(LABEL_OFFSETS) $(DEPS)
	@$(ENV_RUN)
	$(CLI) build $(REGISTRY)

# The other presets of the annex map, for slides and social posts, from the GeoPackage.
$(FIGURES) &: data/processed/couverture.gpkg $(LABEL_OFFSETS) $(DEPS)
	@$(ENV_RUN)
	$(CLI) render $< --preset slide --preset social --preset square

# Coverage over time: a map per date (annex, then each 31 December), GIF, chart, pages.
$(HISTORY) &: $(REGISTRY) $(OPENINGS) $(DEPS)
	@$(ENV_RUN)
	$(CLI) history $(REGISTRY) --openings $(OPENINGS)

# Every product in one run (one import floor): the annex in every preset, its page, tables
# and GeoPackage, and the coverage over time. The stamp stands for them all.
$(ALL_STAMP): $(REGISTRY) $(OPENINGS) $(LABEL_OFFSETS) $(DEPS)
	@$(ENV_RUN)
	$(CLI) build $(REGISTRY) --preset all --history
	touch $@

# Every command above writes its files as one set (all or nothing), so a failed or
# interrupted recipe leaves the previous, complete outputs: make must not delete them
# (which .DELETE_ON_ERROR would do to every target of a failed grouped rule).
.PRECIOUS: $(PROCESSED) $(MAP) $(FIGURES) $(HISTORY)

# --- Verbs -------------------------------------------------------------------------------------
.PHONY: help map figures history all test test-fast bench lock clean

help: ## List the commands
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

map: $(PROCESSED) $(MAP) ## Build the annex map, its press page and the coverage GeoPackage

figures: $(FIGURES) ## The annex map as a 16:9 slide, a social card and a square too

history: $(HISTORY) ## Maps per date since the annex, GIF, chart, pages, dated reconciliation

all: $(ALL_STAMP) ## Every product above, in one run

test: ## Lint, type-check and run every test (installs what it needs)
	@$(ENV_TEST)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

test-fast: ## The fast tier: unit tests only (no browser, no end-to-end runs)
	@$(ENV_TEST)
	$(VENV)/bin/pytest -q -m "not slow and not browser"

bench: ## Measure times, memory and sizes on this machine (< 5 min)
	@$(ENV_RUN)
	$(VENV)/bin/python benchmarks/bench.py

lock: ## Refresh the locked environment (requirements/*.txt) from pyproject.toml
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check uv==0.13.9
	for kind in run test; do \
	  extra=$$([ $$kind = test ] && echo "--extra test -c requirements/run.txt"); \
	  .venv-lock/bin/uv pip compile pyproject.toml $$extra --universal --generate-hashes \
	    --python-version 3.11 --no-annotate --custom-compile-command "make lock" \
	    --quiet -o requirements/$$kind.txt || exit 1; \
	done

clean: ## Remove generated outputs (keeps the virtual environment)
	find data/processed maps -type f ! -name .gitkeep -delete
	rm -rf $(HISTORY_DIR)
