# The two set-up commands of the README, and their helpers.
#   make demo  — install into .venv and run the demo network (make demo PORT=9600: other ports)
#   make test  — install into .venv and run every quality gate and test
#   make fuzz  — the long schemathesis run over a node's API (every check, stateful)
#   make lock  — pin every dependency with its hashes again (requirements.lock, the node-only
#                requirements-node.lock) after pyproject.toml changed (docs/operations.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck layers pytest install clean bench fuzz softhsm postgresql chromium lock

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jinqiao needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	@# pip refuses an editable project in hash-checking mode, which hashes in a constraints file
	@# turn on: the locked dependencies first, every file checked against its hash, then the
	@# project alone, built with the locked setuptools.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Both lock files pin exact versions with the sha256 of every file PyPI has for them (pip checks
# them: hashes in a constraints file are enforced for the packages they name). The node's lock is
# the base dependencies alone, at the versions of the full one (deploy/Containerfile installs it).
# Existing pins are kept; `make lock UPGRADE=--upgrade` moves every transitive one to the newest.
LOCK := $(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --universal \
	--quiet --custom-compile-command "make lock" $(UPGRADE)

lock: $(STAMP)
	$(LOCK) --extra dev -o requirements.lock
	$(LOCK) -c requirements.lock -o requirements-node.lock
	$(BIN)/uv pip compile tools/generator/requirements.in --generate-hashes --python-version 3.11 \
		--universal --quiet --custom-compile-command "make lock" $(UPGRADE) -o tools/generator/requirements.lock

PORT ?= 8600

demo: $(STAMP)
	$(BIN)/jinqiao demo --base-port $(PORT)

test: softhsm postgresql chromium lint typecheck layers pytest

# The HSM tests (tests/*/test_hsm*.py) run against a real SoftHSM2 token: install Debian's package
# when it is missing and we are root (CI), otherwise stop and say what to install.
SOFTHSM_MODULE ?= /usr/lib/softhsm/libsofthsm2.so

softhsm:
	@if [ -f $(SOFTHSM_MODULE) ] && command -v softhsm2-util >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing SoftHSM2 (Debian package softhsm2) for the HSM tests"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y softhsm2; \
	else \
		echo "make test needs SoftHSM2 ($(SOFTHSM_MODULE) and softhsm2-util):" \
			"install the Debian/Ubuntu package softhsm2 (sudo apt-get install softhsm2)," \
			"or run make test as root to have it installed" >&2; \
		exit 1; \
	fi

# The index tests (tests/integration/test_index.py) start a throwaway PostgreSQL server of their
# own (tests/helpers/postgres.py): install Debian's server when it is missing and we are root (CI),
# otherwise stop and say what to install.
postgresql:
	@if [ -x "$$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -n 1)" ] || command -v pg_ctl >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing PostgreSQL (Debian package postgresql) for the index tests"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	else \
		echo "make test needs a PostgreSQL server (initdb, pg_ctl) for the index tests:" \
			"install the Debian/Ubuntu package postgresql (sudo apt-get install postgresql)," \
			"or run make test as root to have it installed" >&2; \
		exit 1; \
	fi

# The explorer's browser tests (tests/browser/) drive Debian's Chromium through Playwright
# (Playwright's own browser downloads are not used): install Debian's package when it is missing
# and we are root (CI), otherwise stop and say what to install.
CHROMIUM ?= /usr/bin/chromium

chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing Chromium (Debian package chromium) for the explorer's browser tests"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "make test needs Chromium ($(CHROMIUM)) for the explorer's browser tests:" \
			"install the Debian/Ubuntu package chromium (sudo apt-get install chromium)," \
			"or run make test as root to have it installed" >&2; \
		exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

SCHEMAS := .cache/iso20022/camt.053.001.11.xsd .cache/iso20022/pacs.008.001.13.xsd

$(SCHEMAS): tools/fetch_iso20022_schemas.py | $(STAMP)
	$(BIN)/python tools/fetch_iso20022_schemas.py .cache/iso20022

EPCIS_SCHEMA := .cache/epcis/EPCIS-JSON-Schema.json

$(EPCIS_SCHEMA): tools/fetch_epcis_schemas.py | $(STAMP)
	$(BIN)/python tools/fetch_epcis_schemas.py .cache/epcis

pytest: $(STAMP) $(SCHEMAS) $(EPCIS_SCHEMA)
	$(BIN)/pytest

fuzz: $(STAMP)
	JINQIAO_FUZZ=long $(BIN)/pytest tests/integration/test_api_conformance.py -q -s --timeout 3600

bench: $(STAMP)
	$(BIN)/jinqiao bench execute --output benchmarks/execute.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
