# muster: `make run` serves on http://127.0.0.1:8000 (SQLite); `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MUSTER_DATABASE_URL ?= sqlite:///var/muster.db

.PHONY: run test lint typecheck check bench attack-table clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "muster needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/muster db upgrade
	$(BIN)/muster bootstrap
	$(BIN)/muster serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	@scripts/ensure-postgres.sh
	@scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts migrations
	$(BIN)/ruff format --check src tests bench scripts migrations

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

attack-table: $(STAMP)
	$(BIN)/python scripts/build_attack_table.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
