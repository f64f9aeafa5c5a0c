# The one command surface for people and CI.
SHELL := /bin/bash
PY := .venv/bin/python
# The guards of tests/ that need no infrastructure: the house rules (test_architecture) and the generated docs being
# current. `make test` runs them too, once (it runs pytest's testpaths, not this list).
GUARD_TESTS := tests/test_architecture.py tests/test_docs_references.py tests/test_openapi_documents.py \
	tests/test_asyncapi_document.py tests/test_decisions_index.py tests/test_samples_generated.py \
	tests/test_batch_files_doc.py tests/test_reporting_topics_documented.py
UNIT_TESTS := contracts/tests libs/domain/tests libs/platform/tests services/ingest/tests/unit services/validation/tests/unit \
	services/plr-projector/tests/unit services/challenges/tests/unit services/notifier/tests/unit \
	services/reporting/tests/unit tools/cli/tests deploy/k8s/tests services/portal/tests/unit $(GUARD_TESTS)

.PHONY: help bootstrap up down restart infra-restart infra-stop infra-start test test-unit test-integration lint format openapi bench bench-smoke images
.PHONY: faults fuzz docs sbom

help:
	@echo "make up          start Kafka, PostgreSQL, the services, the portal and the Sandpit; submit the sample batches"
	@echo "make down        stop everything 'make up' started"
	@echo "make restart     start the services 'make up' started again with .run/env as it is (after a key change)"
	@echo "make restart SERVICE=plr-projector   that one alone (as named in .run/pids/), the others left running"
	@echo "make infra-restart WHAT=kafka    stop and start again the Kafka (or WHAT=postgres: PostgreSQL) 'make up' started,"
	@echo "                 its data and port kept; make infra-stop / infra-start WHAT=...: one step at a time (a drill)"
	@echo "make bootstrap   install what is missing (uv, the .venv, Kafka's jars, PostgreSQL, Chromium); make up runs it"
	@echo "make test        all tests (starts its own Kafka and PostgreSQL, or uses make up's when .run/env is sourced)"
	@echo "make test-unit   the pure tests only, with the guards of tests/ (no infrastructure, about 5 minutes on 2 cores)"
	@echo "make test-integration   tests/integration alone (Kafka and PostgreSQL as make test finds them)"
	@echo "make lint        ruff + mypy"
	@echo "make format      ruff's fixes and formatting, written to the files"
	@echo "make openapi     docs/openapi/<service>.json again from the services' routes (after a route changes)"
	@echo "make docs        every generated doc again: schema snapshots (compatible changes only), docs/asyncapi.json and"
	@echo "                 docs/events.md, docs/openapi/, docs/rules.md's code tables, docs/decisions/README.md, docs/credentials/example/"
	@echo "make bench       the benchmark (writes bench/results/<date>.json)"
	@echo "make bench-smoke the benchmark's short run (1 batch of 1,000 records; writes bench/results/<date>-smoke.json)"
	@echo "make faults      the fault matrix and a 5,000-case fuzz of ingest (writes docs/reliability.md)"
	@echo "make fuzz        the fuzz of ingest alone"
	@echo "make images      one container image per service with podman (localhost/lrs/<service>:dev)"
	@echo "make sbom        a CycloneDX document per service image (dist/sbom/<service>.cdx.json): its Python packages"
	@echo "                 from uv.lock and the vendored front-end assets and data (scripts/images/vendored-components.json)"

bootstrap:
	@bash scripts/dev/bootstrap.sh

up: bootstrap
	@bash scripts/dev/up.sh

down:
	@bash scripts/dev/down.sh

restart:
	@bash scripts/dev/restart.sh "$(SERVICE)"

infra-restart infra-stop infra-start:
	@bash scripts/infra/infra-restart.sh "$(WHAT)" $(patsubst infra-%,%,$@)

test: bootstrap
	@bash scripts/dev/with-infra.sh $(PY) -m pytest -q -ra --durations=25

test-unit:
	@uv sync --frozen --quiet
	@$(PY) -m pytest -q $(wildcard $(UNIT_TESTS))

test-integration: bootstrap
	@bash scripts/dev/with-infra.sh $(PY) -m pytest -q -ra tests/integration

lint:
	@uv sync --frozen --quiet
	uv lock --check --quiet  # a dependency added to a pyproject.toml without `uv lock` would be installed nowhere
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy -p lrs_contracts -p lrs_platform -p lrs_domain -p lrs_cli -p ingest -p validation \
		-p plr_projector -p challenges -p notifier -p reporting -p portal
	.venv/bin/mypy bench scripts tests contracts/tests libs/domain/tests libs/platform/tests services/*/tests tools/cli/tests

openapi:
	$(PY) scripts/dev/export_openapi.py

# Only regeneration, from the code in this tree: no network. The schema snapshots are the compatibility check's
# baseline, so they are rewritten only after that check passes: an incompatible change stops here (publish a v2).
docs: openapi
	$(PY) -m pytest -q -p no:cacheprovider contracts/tests/test_schema_snapshots.py
	$(PY) -m lrs_contracts.compatibility > /dev/null
	$(PY) scripts/dev/export_asyncapi.py
	$(PY) scripts/dev/export_code_tables.py
	$(PY) scripts/dev/index_decisions.py
	$(PY) scripts/dev/export_credential_example.py

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: bootstrap
	@bash scripts/dev/with-infra.sh $(PY) -m bench.run

bench-smoke: bootstrap
	@bash scripts/dev/with-infra.sh $(PY) -m bench.run --smoke

images:
	@bash scripts/images/build.sh

faults: bootstrap
	@$(PY) -m pytest -q -s -ra tests/faults/full_matrix.py tests/fuzz/full_fuzz.py

fuzz: bootstrap
	@$(PY) -m pytest -q -s -ra tests/fuzz/full_fuzz.py

# Per image: the Python environment uv.lock gives it and the vendored assets its packages ship (not its Debian packages).
sbom: bootstrap
	@$(PY) scripts/images/sbom.py
