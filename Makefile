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

test-sqlite: $(STAMP) test-cache
	XUELIANG_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider --durations=25

# Tests that need no database (marked `nodb` by tests/conftest.py) run once, in the SQLite pass.
test-postgres: $(STAMP) test-cache
	XUELIANG_TEST_DB=postgresql XUELIANG_TEST_PG_ADMIN_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider \
	  --durations=25 -m "not nodb"

# The simulated cameras' loops, encoded once into var/test-cache (git-ignored) for every pass.
test-cache: $(STAMP)
	$(BIN)/python -m tests.support.sim

test: $(STAMP) system-deps lint test-sqlite test-postgres

# Refresh the translation catalogs after changing UI strings (then translate the new zh_CN entries).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t -o messages.pot --no-location --sort-output src/xueliang/web
	$(BIN)/pybabel update -i messages.pot -d src/xueliang/web/locale -D messages --no-fuzzy-matching
	rm -f messages.pot

clean:
	rm -rf $(VENV) var test-artifacts
