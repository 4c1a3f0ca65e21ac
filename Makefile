# newstag — set-up, main job and tests. Every target creates .venv if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint stats metrics clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark,serve,bench]'
	touch $(STAMP)

install: $(STAMP)

## make run: train both tasks with the default experiment, then label data/raw/
run: $(STAMP)
	$(BIN)/newstag-train
	$(BIN)/newstag predict data/raw --format table

## make test: the README's test command (CI runs it through .ci/run), on two
## workers (pytest-xdist); tests sharing a heavy component are grouped
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=15

## make metrics: regenerate experiments/METRICS.md and the README metrics block
metrics: $(STAMP)
	$(BIN)/python -m newstag.reports.docs

## make stats: regenerate data/README.md from the corpus
stats: $(STAMP)
	$(BIN)/newstag data stats --write data/README.md

clean:
	rm -rf $(VENV) experiments/runs experiments/sweeps experiments/registry

## make lint: ruff (lint + format check), mypy on src/, import-linter's layer contracts
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
