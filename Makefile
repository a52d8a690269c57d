# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
NPM    ?= npm
JS     := clients/js

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

# The Python client (clients/python) in the same virtualenv: its tests start Rotor from it.
$(VENV)/.clients-installed: clients/python/pyproject.toml | $(VENV)/.test-installed
	$(BIN)/python -m pip install --quiet -e 'clients/python[test]'
	touch $@

# The TypeScript client (clients/js): pinned devDependencies from package-lock.json, then
# tsc (dist/, types) and esbuild (dist/rotor.browser.js).
$(JS)/node_modules/.package-lock.json: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && $(NPM) ci --no-audit --no-fund --loglevel=error

$(JS)/dist/rotor.browser.js: $(JS)/node_modules/.package-lock.json $(JS)/tsconfig.json $(wildcard $(JS)/src/*.ts)
	cd $(JS) && $(NPM) run --silent build

# The demo page (examples/web/) loads the browser build; the copy is committed so that
# `make run` serves the demo without Node.
examples/web/rotor.js: $(JS)/dist/rotor.browser.js
	cp $< $@

## Serve the API on 127.0.0.1:5000 (embedded store unless REDIS_URL is set).
run: $(VENV)/.run-installed
	ROTOR_ENV=$${ROTOR_ENV:-development} WEB_CONCURRENCY=$${WEB_CONCURRENCY:-1} \
		COOKIE_SECURE=$${COOKIE_SECURE:-0} \
		$(BIN)/gunicorn -c gunicorn.conf.py --bind $${GUNICORN_BIND:-127.0.0.1:5000} wsgi:app

## Run the whole suite (starts its own redis-servers on free ports), then the clients' suites.
test: $(VENV)/.test-installed $(VENV)/.clients-installed examples/web/rotor.js
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest clients/python
	cd $(JS) && ROTOR_PYTHON=$(CURDIR)/$(BIN)/python $(NPM) test --silent

## Benchmarks: Rotor against a Flask ceiling (installs Debian's wrk when missing).
bench: $(VENV)/.test-installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py

lint: $(VENV)/.test-installed $(JS)/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(JS) && $(NPM) run --silent check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(JS)/node_modules $(JS)/dist
