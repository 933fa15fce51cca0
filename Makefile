# The README's two commands: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Outside validators from npm the tests run (tests/js/package.json: the JSON Feed schema, axe-core).
NODE_STAMP := tests/js/node_modules/.installed

.PHONY: run test lint migrations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	touch $(NODE_STAMP)

# Sandbox mode migrates its own database (data/sandbox/gongkai.db).
run: $(STAMP)
	$(BIN)/gongkai run --sandbox

# PYTEST_STATUS=FILE also writes pytest's own exit status to FILE: make itself exits 2 whatever
# the failing command returned, and .ci/run needs to tell "no tests collected" (5) apart.
# PYTEST_XDIST: the tests run in parallel, one pytest-xdist worker per CPU, and a worker that
# runs out of tests takes some from another's queue (worksteal: the tests take from a few
# milliseconds to a minute). `make test PYTEST_XDIST=` runs them in one process;
# PYTEST_ARGS=-n3 (say) picks another number of workers.
PYTEST_XDIST ?= -n auto --dist worksteal
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	status=0; $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS) || status=$$?; \
	$(if $(PYTEST_STATUS),echo $$status >'$(PYTEST_STATUS)';) exit $$status

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/mypy

# Write a new migration file after a model change (review it, then commit it).
migrations: $(STAMP)
	$(BIN)/python -m bot.cli.make_migration $(NAME)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/js/node_modules
