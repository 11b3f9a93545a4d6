# Two commands: `make demo` and `make test`. Both create .venv and install weir first.
# `make docs` builds the documentation site (docs/, mkdocs.yml) into site/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast typecheck bench bench-detection lint docs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "weir needs Python >= 3.11" or 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -rf demo
	$(BIN)/weir init demo/flights --example flights
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir run
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir status
	@echo "\n== broken deliveries: 2013-02-15 arrives again truncated, 2013-02-20 with delays as text =="
	cd demo/flights && ../../$(BIN)/python land.py --damage 2013-02-15
	cd demo/flights && ../../$(BIN)/python land.py --damage 2013-02-20 --how types
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir ingest flights_landing --partition 2013-02-20 || echo "(exit $$?: the landing file breaks its contract)"
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir run --stale || echo "(exit $$?: the damaged days are blocked; readers keep their last good version)"
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir checks flights --partition 2013-02-15 --failed
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir history flights --partition 2013-02-15
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir metrics flights --column dep_delay --metric mean --from 2013-02-01 --to 2013-02-28
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir monitors
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir chart flights_landing --metric row_count --out ../row_count.png
	@echo "\n== what changed, and which dashboards to treat with care =="
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir diagnose flights --partition 2013-02-15
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir trust
	@echo "\n== what the ops lead was told (route ops-lead, outbox/business.txt) =="
	cd demo/flights && cat outbox/business.txt
	@echo "\n== what the data team was told about the newest incident (route data-team, outbox/team.txt) =="
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir alerts show --audience team
	@echo "\n== the good files arrive: the two days are rebuilt and their incidents resolve themselves =="
	cd demo/flights && ../../$(BIN)/python land.py --repair 2013-02-15 2013-02-20
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir run --stale
	cd demo/flights && ../../$(BIN)/weir --workspace ../.weir alerts --audience business

test: install
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

test-fast: install  # the quick loop while changing code: leaves out the slow end-to-end tests
	$(BIN)/python -m pytest -n auto -m "not slow"

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run.py

bench-detection: install  # three real data sets delivered day by day; workspaces kept for re-judging (ARGS="--quick" ...)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/detection.py --keep bench/results/workspaces $(ARGS)

lint: install
	$(BIN)/ruff check src tests bench

docs: install  # offline: no web fonts or CDN; --strict fails on a broken link or a page left out of the nav
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf demo .weir .pytest_cache site
