# donorflow: `make up` runs it, `make test` proves it. Everything needed is installed from here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DONORFLOW_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install browser up test lint unit integration bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The browser tests drive Debian's chromium (never `playwright install`: it downloads a browser build of its
# own); fonts-noto-cjk so that Chinese renders. Installed once, as root, when missing.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
BROWSER_PACKAGES := chromium fonts-noto-cjk

browser: $(CHROMIUM) $(CJK_FONT)

$(CHROMIUM) $(CJK_FONT):
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y --no-install-recommends $(BROWSER_PACKAGES) \
	  || { apt-get update && apt-get install -y --no-install-recommends $(BROWSER_PACKAGES); }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

unit: install
	$(BIN)/python -m pytest tests/unit -q

# The integration and e2e suites run once per database: SQLite (embedded) and PostgreSQL (production).
integration: install
	DONORFLOW_TEST_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest tests/integration tests/e2e -q

# Two workers, one test file each at a time (module fixtures such as the demo-year replay run once).
test: lint browser
	DONORFLOW_TEST_REQUIRE_POSTGRES=1 DONORFLOW_TEST_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

# The demo branch shows match likelihoods from the shipped SYNTHETIC haplotype set unless told otherwise.
up: install
	DONORFLOW_HLA_HAPLOTYPES="$${DONORFLOW_HLA_HAPLOTYPES-demo}" $(BIN)/donorflow up

bench: install
	$(BIN)/python bench/import_signups.py
	$(BIN)/python bench/prefect_overhead.py
	$(BIN)/python bench/hla_search.py
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/reminders.py

clean:
	rm -rf $(VENV) var build *.egg-info .mypy_cache .ruff_cache .pytest_cache
