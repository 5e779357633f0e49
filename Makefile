# The two commands a fresh machine needs: `make serve` and `make test`.
# Each creates .venv on first use (torch pinned to the CPU build; see pyproject.toml).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data/names.txt
ARTIFACT ?= model_artifacts/names-mlp.pt

.PHONY: help venv serve test lint typecheck unit browser-deps train train-lecture evaluate sweep download download-surnames bench clean

help:
	@echo "make serve   - serve the shipped models on http://127.0.0.1:8000 (sets up .venv if needed)"
	@echo "make test    - lint, type-check and run the whole test suite (sets up .venv if needed)"
	@echo "make train   - retrain the shipped artifact from $(DATA)"
	@echo "make bench   - run the benchmarks in benchmarks/"

venv: $(BIN)/.installed

# Rebuilt when the dependencies or their pins change. torch first, on its own, so pip takes the pinned CPU build.
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch
	$(BIN)/pip install --quiet -c constraints.txt -e '.[train,dev]'
	touch $@

serve: venv
	$(BIN)/python -m app.serve

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: venv
	$(BIN)/mypy

# Headless Chromium for the browser tests comes from Debian's packages; axe-core (accessibility checks)
# from npm into .cache/axe (git-ignored). Either missing: the tests that need it are skipped.
AXE_CORE ?= axe-core@4.14.1
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; }
	@[ -f .cache/axe/node_modules/axe-core/axe.min.js ] || { \
	  if command -v npm >/dev/null 2>&1; then mkdir -p .cache/axe && npm install --silent --no-audit --no-fund --prefix .cache/axe $(AXE_CORE); \
	  else echo "npm missing: the axe-core accessibility tests will be skipped"; fi; }

unit: venv browser-deps
	$(BIN)/python -m pytest -q

test: lint typecheck unit

train: venv
	$(BIN)/namegen train --recipe default --data $(DATA) --out $(ARTIFACT)

train-lecture: venv
	$(BIN)/namegen train --recipe lecture --data $(DATA) --out model_artifacts/lecture-mlp.pt

evaluate: venv
	$(BIN)/namegen evaluate $(ARTIFACT) $(DATA)

sweep: venv
	$(BIN)/namegen sweep --data $(DATA)

download: venv
	$(BIN)/python -m training.download

download-surnames: venv
	$(BIN)/python -m training.download --dataset us-surnames

bench: venv
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
