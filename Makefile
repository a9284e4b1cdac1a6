# Quanyi — the two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# where `make run` serves (from the environment, e.g. `PORT=8000 make run`)
HOST ?= 127.0.0.1
PORT ?= 5000
# how the demo's simulated supplier calls us back: seeded into its API URL, so seed and serve
# must agree on it
QUANYI_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
export FLASK_APP := wsgi.py

.PHONY: run test install lint openapi examples collections migrate seed clean bench bench-quick messages vendor

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# the portal's translations, compiled from the committed catalogs
PO := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d app/translations

install: $(STAMP) $(MO)

## messages: extract the portal's strings and merge them into the catalogs (then translate)
messages: install
	mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg -k _l -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d app/translations

## vendor: fetch the pinned web assets (app/static/vendor.json) from the npm registry
vendor:
	$(PYTHON) deploy/vendor_assets.py

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	QUANYI_PUBLIC_BASE_URL=$(QUANYI_PUBLIC_BASE_URL) $(BIN)/flask demo seed

## run: install, migrate, seed the demo partners and serve on http://$(HOST):$(PORT)
run: seed
	@echo "Demo credentials:  $(BIN)/flask partners credentials jinhai-bank"
	@echo "API docs:          http://$(HOST):$(PORT)/api/v1/docs"
	@echo "Admin portal:      http://$(HOST):$(PORT)/admin/   sign in as:"
	@QUANYI_PUBLIC_BASE_URL=$(QUANYI_PUBLIC_BASE_URL) $(BIN)/flask demo logins
	QUANYI_PUBLIC_BASE_URL=$(QUANYI_PUBLIC_BASE_URL) \
	QUANYI_WEBHOOK_ALLOW_PRIVATE=1 $(BIN)/flask run --host $(HOST) --port $(PORT) --with-threads

## test: lint, then the suite on SQLite; again on PostgreSQL+Redis when TEST_DATABASE_URL is set
test: install
	$(BIN)/ruff check app tests migrations/env.py
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL -u REQUIRE_SERVICES $(BIN)/pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then echo "== again on $$TEST_DATABASE_URL"; $(BIN)/pytest; fi

lint: install
	$(BIN)/ruff check app tests migrations/env.py
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy app bench

## bench: the hot paths on gunicorn + PostgreSQL + Redis (TEST_DATABASE_URL / TEST_REDIS_URL)
bench: install
	$(BIN)/python bench/harness.py
	$(BIN)/python bench/portal_bench.py
	$(BIN)/python bench/notifications_bench.py

## bench-quick: the same scenarios, shorter (under 2 minutes)
bench-quick: install
	$(BIN)/python bench/harness.py --quick

openapi: install
	$(BIN)/flask apidocs write openapi

## examples: record the partner operations' examples from a real run (then `make openapi`)
examples: install
	$(BIN)/python -m app.apidocs.examples

## collections: Postman/Bruno collections of both documents, generated into build/collections
collections: install
	$(BIN)/flask apidocs collections build/collections

clean:
	rm -rf $(VENV) instance
