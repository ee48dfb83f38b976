# `make help` lists the targets. `make demo` and `make test` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_TEXT := Hello! I am a talking head made from a single photo. My lips close on every p, b and m, and I blink now and then, just like you.

.DEFAULT_GOAL := help
.PHONY: help system-deps setup setup-dev demo test test-fast lint audit format bench services serve worker flower clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

system-deps: ## Install the Debian packages the pipeline needs (espeak-ng, ffmpeg)
	@scripts/install_system_deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,neural]'
	@touch $@ $(VENV)/.base

setup: system-deps $(VENV)/.base ## Create .venv with the embedded pipeline

setup-dev: system-deps $(VENV)/.dev ## Create .venv with the test tools, the neural backends (torch CPU), Chromium and the eval's face mesh
	@scripts/install_system_deps.sh chromium:chromium
	@$(BIN)/avatar models download face_mesh >/dev/null || echo "face_mesh not downloaded: its tests will skip"

demo: setup ## Make a talking-head video of the demo astronaut saying the demo sentence
	$(BIN)/python -m cli.demo_assets
	$(BIN)/avatar generate --image data/demo/astronaut.png --text "$(DEMO_TEXT)" -o data/demo/demo.mp4
	@echo "Demo video: $(CURDIR)/data/demo/demo.mp4"

services: ## Start PostgreSQL and Redis if they are not answering
	@scripts/ensure_services.sh

test: setup-dev services ## Lint and run every test (unit, integration on real services, end-to-end)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -ra

test-fast: setup-dev ## Unit tests only
	$(BIN)/pytest -q tests/unit

lint: setup-dev ## ruff: lint rules and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

audit: setup-dev ## Check installed packages for known vulnerabilities (pip-audit; needs pypi.org's JSON API or osv.dev)
	$(BIN)/pip-audit --strict --progress-spinner off

format: setup-dev ## ruff format + autofix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup ## Time a fresh `avatar generate`, the warm pipeline and an API job on a 10 s clip at 512x512 (medians of 5)
	$(BIN)/avatar bench --seconds 10 --size 512 --runs 5

serve: setup ## Run the API (embedded: SQLite, in-process jobs, local storage)
	$(BIN)/avatar serve

worker: setup ## Run a Celery worker for the cpu and gpu queues (needs AVATAR_BROKER_URL)
	$(BIN)/avatar worker --queues cpu,gpu

flower: setup ## Run Flower against the broker
	$(BIN)/avatar flower

clean: ## Remove generated data (keeps .venv)
	rm -rf data/work data/storage data/cache .pytest_cache .ruff_cache
