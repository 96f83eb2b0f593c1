# Two commands do everything: `make demo` and `make test`. See README.md.
# Debian's CPython 3.11 is built with profile-guided optimisation; a plain source build (pyenv's
# default, first on PATH on some machines) costs the media path about a fifth more CPU
# (docs/performance.md). Prefer the distribution's when it can make a venv; PYTHON=... overrides.
SYSTEM_PYTHON := $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3.11)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: demo test lint test-sqlite test-postgres test-cache install system-deps clean i18n

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/xueliang demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# `make test` runs lint and the two database passes side by side (make -j3, each pass with its own
# temporary directory and its own simulator, databases and ports; output shown per step as it ends).
# Tests that need no database (marked `nodb` by tests/conftest.py) run once: in the SQLite pass, except
# a few long ones the PostgreSQL pass takes (`pg_pass`) so that the two passes end together.
# It fails if any step fails; a failed pass leaves pytest's exit status in var/test-runs/<pass>.rc (make
# itself only says 2), which .ci/run reads to tell "no tests collected" (5) apart.
# Browser tests that use a database run in both passes when a pass runs alone, in the PostgreSQL one
# only under `make test` (BROWSER_ONCE=1; tests/conftest.py says why).
BROWSER_ONCE ?= 0
PYTEST := $(BIN)/pytest -q -p no:cacheprovider --durations=25
TEST_VAR := var/test-runs

test-sqlite: $(STAMP) test-cache
	@mkdir -p $(TEST_VAR); rm -f $(TEST_VAR)/sqlite.rc
	XUELIANG_TEST_DB=sqlite XUELIANG_TEST_BROWSER_ONCE=$(BROWSER_ONCE) $(PYTEST) --basetemp=$(TEST_VAR)/sqlite -m "not pg_pass" \
	  || { rc=$$?; echo $$rc > $(TEST_VAR)/sqlite.rc; exit $$rc; }

test-postgres: $(STAMP) test-cache
	@mkdir -p $(TEST_VAR); rm -f $(TEST_VAR)/postgres.rc
	XUELIANG_TEST_DB=postgresql XUELIANG_TEST_PG_ADMIN_URL=$(PG_URL) $(PYTEST) --basetemp=$(TEST_VAR)/postgres \
	  -m "not nodb or pg_pass" || { rc=$$?; echo $$rc > $(TEST_VAR)/postgres.rc; exit $$rc; }

# The simulated cameras' loops, encoded once into var/test-cache (git-ignored) before the passes share it.
test-cache: $(STAMP)
	$(BIN)/python -m tests.support.sim

test: $(STAMP) system-deps
	@rm -f $(TEST_VAR)/*.rc
	@$(MAKE) --no-print-directory -k -j3 --output-sync=target BROWSER_ONCE=1 lint test-sqlite test-postgres

# Refresh the translation catalogs after changing UI strings (then translate the new zh_CN entries).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t -o messages.pot --no-location --sort-output src/xueliang/web
	$(BIN)/pybabel update -i messages.pot -d src/xueliang/web/locale -D messages --no-fuzzy-matching
	rm -f messages.pot

clean:
	rm -rf $(VENV) var test-artifacts
