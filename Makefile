# The two commands a fresh machine needs: `make serve` and `make test`.
# Each creates .venv on first use from requirements.lock: every dependency at the version the tests ran, hash-checked.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data/names.txt
ARTIFACT ?= model_artifacts/names-mlp.pt

# Where torch's CPU wheels are found: a local wheel directory when pip is configured with one (find-links, as on
# machines without access to PyTorch's index), else PyTorch's CPU index.
TORCH_INDEX  := https://download.pytorch.org/whl/cpu/torch/
PIP_WHEELS    = $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
TORCH_WHEELS ?= $(or $(PIP_WHEELS),$(TORCH_INDEX))
FIND_TORCH    = $(foreach place,$(TORCH_WHEELS),--find-links $(place))

# The image: `make image` builds it with docker where its engine answers, else podman. Passed only where set: a CA
# bundle pip must trust (a TLS-intercepting proxy) as a build secret, a local torch wheel directory as a build context.
IMAGE      ?= namegen:0.1.0
BASE_IMAGE ?= python:3.11-slim-bookworm
ENGINE     ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
CA_BUNDLE  ?= $(PIP_CERT)
IMAGE_BUILD_FLAGS = --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	$(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE)) \
	$(if $(wildcard $(firstword $(TORCH_WHEELS))/torch-*.whl),--build-context torch-wheels=$(firstword $(TORCH_WHEELS)) \
	  --build-arg TORCH_WHEELS=/wheels) \
	$(if $(filter podman,$(notdir $(ENGINE))),--format docker --pull=missing)
comma := ,

.PHONY: help venv lock serve test check lint typecheck unit browser-deps image base-image image-test train train-lecture \
	evaluate sweep download download-surnames bench clean

help:
	@echo "make serve      - serve the shipped models on http://127.0.0.1:8000 (sets up .venv if needed)"
	@echo "make test       - lint, type-check and run the whole test suite (sets up .venv if needed)"
	@echo "make check      - the fast lane: lint, type-check and the tests needing no server, browser or training"
	@echo "make lock       - re-resolve requirements.lock from pyproject.toml and requirements.in"
	@echo "make image      - build the container image $(IMAGE) (docker, else podman)"
	@echo "make image-test - run the built image and check it (readiness, API, uid, read-only root, SIGTERM)"
	@echo "make train      - retrain the shipped artifact from $(DATA)"
	@echo "make bench      - run the benchmarks in benchmarks/"

venv: $(BIN)/.installed

# Rebuilt when the lock changes. Exactly the locked versions, hash-checked, then the project itself in place.
$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "the lock is for Python 3.11: make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes $(FIND_TORCH) -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# uv resolves for the image's platform (CPython 3.11, Linux x86-64). It keeps the versions already locked unless
# asked otherwise: make lock LOCK_ARGS=--upgrade (or --upgrade-package NAME). requirements-image.lock is the
# runtime subset, at the same versions, for the Dockerfile.
LOCK_FLAGS = --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 $(FIND_TORCH) \
	--custom-compile-command 'make lock' $(LOCK_ARGS)
lock: venv
	$(BIN)/uv pip compile $(LOCK_FLAGS) --all-extras pyproject.toml requirements.in -o requirements.lock
	$(BIN)/uv pip compile $(LOCK_FLAGS) -c requirements.lock pyproject.toml requirements.in -o requirements-image.lock

serve: venv
	$(BIN)/python -m app.http.serve

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

# The fast lane: the tests that start no server, browser, training run, database or container (each such test is
# marked with its kind, and tests/conftest.py adds `slow` to all of them); `make test` runs them all.
check: lint typecheck
	$(BIN)/python -m pytest -q -m "not slow"

image:
	$(ENGINE) build $(IMAGE_BUILD_FLAGS) -t $(IMAGE) .

# Where no registry serves the base image: the same Debian release and Python from Debian's packages (root).
base-image:
	.ci/base-image $(BASE_IMAGE)

# Runs the built image (it does not rebuild it) and checks it; the figures are printed.
image-test: venv
	NAMEGEN_IMAGE=$(IMAGE) NAMEGEN_IMAGE_ENGINE=$(ENGINE) $(BIN)/python -m pytest -q -s tests/test_image.py

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

print-%:
	@echo $($*)
