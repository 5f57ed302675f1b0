# Movilidad: `make run` serves the demo, `make test` runs every check. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: run test lint fmt messages bench test-steps system-deps static

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Bootstrap cut down to the rules the site uses (scripts/build-css.mjs), built again whenever a
# template or a Python file (widgets, format_html) changes, since either can use another class.
CSS := build/static/vendor/bootstrap/bootstrap.css
CSS_SOURCES := $(shell find templates core accounts eligibility appointments notifications desk allocation reports -name '*.html' -o -name '*.py')

$(CSS): $(CSS_SOURCES) scripts/build-css.mjs node_modules/.installed $(VENV)/.runtime-installed
	PYTHON=$(PY) npm run --silent build

# What `make run` serves: collected into var/static, hashed and gzipped, as in production.
STATIC_SOURCES := $(shell find static -type f)

var/static/staticfiles.json: $(STATIC_SOURCES) $(CSS) $(VENV)/.runtime-installed
	DEBUG=true $(PY) manage.py collectstatic --noinput --verbosity 0
	touch $@

## static: build the CSS and collect the static files `make run` serves (again after editing static/)
static: var/static/staticfiles.json

## run: install what is missing, migrate, load demo data, serve on 127.0.0.1:$(PORT) with a worker and beat
run: $(VENV)/.runtime-installed node_modules/.installed var/static/staticfiles.json
	mkdir -p var/mail var/sms
	DEBUG=true $(PY) manage.py migrate --noinput
	DEBUG=true $(PY) manage.py load_demo_data
	DEBUG=true PORT=$(PORT) scripts/run.sh

## test: lint, migration and translation checks, and the whole suite on throwaway PostgreSQL and Redis
test: $(VENV)/.dev-installed node_modules/.installed $(CSS)
	scripts/system-deps.sh
	$(PY) scripts/with_services.py $(MAKE) --no-print-directory test-steps

# Runs inside scripts/with_services.py, which provides the servers and the test environment.
test-steps:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py translations check
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## messages: extract the source strings into locale/ and compile the catalogues
messages: $(VENV)/.dev-installed
	DEBUG=true $(PY) manage.py translations update

## bench: run every benchmark in bench/ (each writes its results to docs/benchmarks.md)
bench: $(VENV)/.dev-installed node_modules/.installed $(CSS)
	scripts/system-deps.sh
	$(PY) scripts/with_services.py $(PY) bench/run.py
