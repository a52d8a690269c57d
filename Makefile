# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.test-installed: pyproject.toml resource_kit/pyproject.toml \
		examples/resource_server/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The resource-server example's install line from the README (the kit by relative path),
	# then the kit editable, so the tests see its working copy.
	$(BIN)/python -m pip install --quiet -r examples/resource_server/requirements.txt
	$(BIN)/python -m pip install --quiet -e ./resource_kit
	touch $@

## Serve the API on 127.0.0.1:5000 (embedded store unless REDIS_URL is set).
run: $(VENV)/.run-installed
	ROTOR_ENV=$${ROTOR_ENV:-development} WEB_CONCURRENCY=$${WEB_CONCURRENCY:-1} \
		COOKIE_SECURE=$${COOKIE_SECURE:-0} \
		$(BIN)/gunicorn -c gunicorn.conf.py --bind $${GUNICORN_BIND:-127.0.0.1:5000} wsgi:app

## Run the whole suite (starts its own redis-server on a free port).
test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks: Rotor against a Flask ceiling (installs Debian's wrk when missing).
bench: $(VENV)/.test-installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
