# LiveLoop: `make run` sets everything up and starts the demo; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test setup python-deps npm-deps chromium migrate demo lint typecheck bench clean

run: setup migrate demo  ## Set up, migrate, seed the demo shop once, start on http://127.0.0.1:8000
	@echo "demo login: demo@liveloop.local / liveloop-demo  (also operator@, agent@, anchor@, analyst@liveloop.local)"
	$(BIN)/liveloop run

test: setup chromium  ## Install what the tests need and run the whole suite
	$(BIN)/pytest -q

setup: python-deps npm-deps

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

python-deps: $(UV)
	$(UV) sync --frozen --quiet

npm-deps:
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund --loglevel=error; fi

chromium:  ## Headless Chromium from the system packages, for the page tests
	@if [ ! -x $(CHROMIUM) ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) \
		|| { echo "could not install chromium: install the 'chromium' package, or set CHROMIUM=path"; exit 1; }; fi

migrate: python-deps
	$(BIN)/liveloop migrate

demo: python-deps
	$(BIN)/liveloop demo seed --if-empty

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

bench: setup  ## Benchmarks (print figures; see README "Performance")
	$(BIN)/python bench/import_customers.py
	$(BIN)/python bench/ingest_events.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
