# `make run` and `make test` bootstrap everything they need from a bare machine:
# a virtual environment in .venv with the project and its tools installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint unit contract integration e2e demo clean browser bench bench-quick chaos chaos-quick soak invariants restore-drill

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# setuptools warns that an editable install is editable (a dozen lines): not news here.
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The console's browser tests drive Debian's Chromium through Playwright (never
# `playwright install`: it downloads, and cannot here). Installed only when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update && apt-get install -y chromium; }
	@# axe-core, for the console's accessibility test (tests/e2e/axe/package-lock.json).
	@test -f tests/e2e/axe/node_modules/axe-core/axe.min.js || npm ci --prefix tests/e2e/axe --no-audit --no-fund --silent

run: $(STAMP)
	mkdir -p var
	LW_DIRECTORY=$${LW_DIRECTORY:-deploy/demo-directory.yaml} $(BIN)/lonewatch serve

demo: $(STAMP)
	$(BIN)/lonewatch demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint browser
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit

contract: $(STAMP)
	$(BIN)/pytest tests/contract

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP) browser
	$(BIN)/pytest tests/e2e

# The invariant machines (tests/invariants, docs/invariants.md): `make test` runs them on
# a fixed budget (about a minute); `make soak SOAK_SECONDS=600` runs them for that long,
# with fresh random seeds, and prints how many examples and steps each checked.
SOAK_SECONDS ?= 600

invariants: $(STAMP)
	$(BIN)/pytest -s tests/invariants

soak: $(STAMP)
	LW_SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/pytest -s -o timeout=0 tests/invariants

# Benchmarks (benchmarks/, docs/performance.md): each starts its own Mosquitto and
# PostgreSQL database; NAMES=... runs some of them (ingest sos rebuild fleet replay).
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(NAMES)

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick $(NAMES)

# The chaos run (benchmarks/chaos.py, docs/performance.md "Chaos"): the real service on a
# PostgreSQL and a Mosquitto of its own, under device load, while the database, the broker,
# the service and Twilio fail one after another; prints the per-fault table. ~6 min
# (chaos-quick: ~3 min). FAULTS="postgres-stopped service-kill" runs some of them.
# The restore drill (docs/security.md, "Backups"): pg_dump from a PostgreSQL of its own,
# pg_restore into another, then `lonewatch verify` on the restored record. FROM=postgresql://...
# drills a real store's backup instead (with LW_SIGNING_KEY or PUBLIC_KEY=... to check it by).
restore-drill: $(STAMP)
	$(BIN)/python -m simulators.restore_drill $(if $(FROM),--from "$(FROM)") $(if $(PUBLIC_KEY),--public-key "$(PUBLIC_KEY)")

chaos: $(STAMP)
	LW_CHAOS_FAULTS="$(FAULTS)" $(BIN)/python -m benchmarks chaos

chaos-quick: $(STAMP)
	LW_CHAOS_FAULTS="$(FAULTS)" $(BIN)/python -m benchmarks --quick chaos

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
