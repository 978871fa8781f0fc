# Jinshequ: `make demo` runs the system with a demo city; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SCALE ?= small
export PYTHONDONTWRITEBYTECODE := 1
export DATABASE_URL

.PHONY: demo test test-faketime test-properties install install-test assets lint typecheck bench bench-load messages clean system-test system-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

jinshequ/static/vendor/.built: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p jinshequ/static/vendor
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map \
	   node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map \
	   node_modules/echarts/dist/echarts.min.js jinshequ/static/vendor/
	touch $@

install: $(VENV)/.installed assets
install-test: $(VENV)/.installed-test assets
assets: jinshequ/static/vendor/.built

# Debian packages (PDF fonts, Chromium, poppler, faketime): installed when run as root, else the command is shown.
system-test:
	@scripts/system-packages test
system-demo:
	@scripts/system-packages demo

demo: system-demo install
	$(BIN)/jinshequ demo --scale $(SCALE) --port $(PORT)

test: system-test install-test
	$(BIN)/jinshequ check_system --for-tests
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The suite once more under a faked date and time (libfaketime): by default 31 January 17:30 UTC, which is
# already 1 February in Shanghai, so a test that mixes the server's date with Shanghai's fails here.
FAKE_NOW ?= 2027-01-31 17:30:00
test-faketime: system-test install-test
	TZ=UTC faketime '$(FAKE_NOW)' $(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with django-stubs over the files listed in pyproject.toml ([tool.mypy]): today jinshequ/core.
typecheck: install-test
	$(BIN)/mypy

# Every benchmark; the city-scale ones share benchmarks/out/city.sqlite3 (built once, ~2 minutes).
# The property tests at SECURITY.md's T3 CI effort (200 examples, state machines 100 x 30); part of bench.
test-properties: install-test
	JINSHEQU_PROPERTIES=full $(BIN)/python -m pytest -q -m property $(PYTEST_ARGS)

bench: install-test test-properties
	$(BIN)/python benchmarks/import_members.py
	$(BIN)/python benchmarks/pages.py
	$(BIN)/python benchmarks/registration.py
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/manual_pdf.py
	$(BIN)/python benchmarks/cards_pdf.py
	$(BIN)/python benchmarks/load.py $(LOAD_ARGS)

# The load test alone (SECURITY.md T15): 100 users, 5 minutes each on SQLite, PostgreSQL and two app servers
# (PostgreSQL and Redis on 127.0.0.1). LOAD_ARGS=--quick for a one-minute smoke run per configuration.
bench-load: install-test
	$(BIN)/python benchmarks/load.py $(LOAD_ARGS)

# Refresh the English catalogue from the Chinese source strings, then compile it (needs gettext).
# Translate the new entries in jinshequ/locale/en/LC_MESSAGES/django.po and run it again; both the
# .po and the compiled .mo are committed, so running the system needs no gettext.
messages: install-test
	cd jinshequ && ../$(BIN)/python ../manage.py makemessages -l en --add-location=file --no-obsolete
	cd jinshequ && ../$(BIN)/python ../manage.py compilemessages -l en

clean:
	rm -rf $(VENV) node_modules jinshequ/static/vendor var staticfiles
