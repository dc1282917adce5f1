# The whole set-up on a fresh machine: `make run` and `make test` create .venv and install
# Vigil from this repository's own files before they do anything else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean chromium

# Rebuilt when a compiled module's source changes, so a stale build never shadows an edit.
$(STAMP): pyproject.toml setup.py $(wildcard src/vigil/*/*.pyx)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The main job on the embedded default: a demo world, models trained on its first 23 days,
# the last 7 replayed through the real-time engine, the scorecard printed, the report written.
run: $(STAMP)
	$(BIN)/vigil simulate --out data/demo --accounts 20000 --days 30 --seed 7
	$(BIN)/vigil train --data data/demo --out models/demo --until 2026-01-24
	$(BIN)/vigil replay --data data/demo --models models/demo --out runs/demo --aml
	$(BIN)/vigil report runs/demo

# The dashboard's browser tests drive Debian's chromium through Playwright (no browser download);
# installed once, as root, when it is missing. Under CI=true those tests fail without it.
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] \
		&& DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: /usr/bin/chromium missing (apt-get install chromium as root)" >&2

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/latency.py

clean:
	rm -rf $(VENV) data models runs
