# OpenDCP — the two commands: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
MANAGE := $(PY) manage.py
WEB_PORT ?= 8000
SANDBOX_PORT ?= 8800
SANDBOX_ADMIN_TOKEN ?= sandbox-admin
export DCP_BASE_DOMAIN ?= opendcp.localhost
RUNDIR := .local/run
RUN_ENV := DCP_PUBLIC_PORT=$(WEB_PORT) DCP_DIP_WEBHOOK_BASE_URL=http://127.0.0.1:$(WEB_PORT) \
  DCP_DIP_BASE_URL_UIT=http://127.0.0.1:$(SANDBOX_PORT)
LOGDIR := .local/log

.PHONY: help install deps services check migrate demo run stop stop-procs test lint typecheck pytest bench clean test-random totp screenshots backup restore drill-outbound drill-outbound-outage drill-inbound audit

help:
	@echo "make run    install, start PostgreSQL/Redis/Celery/web, load demo data, print logins"
	@echo "make stop   stop what make run started"
	@echo "make test   install and run the whole suite, lint and type checks"
	@echo "make test-random  the suite in random order (flake hunt; see docs/development.md)"
	@echo "make bench  run the benchmarks (table + JSON in bench/results/)"
	@echo "make drill-outbound [N=1000]  outbound fault drill (worker killed, Redis flushed mid-run)"
	@echo "make drill-outbound-outage [OUTAGE=20]  time-compressed 72 h DIP outage drill"
	@echo "make drill-inbound [N=500]    inbound fault drill (worker killed, Redis flushed, client endpoint down)"
	@echo "make audit  pip-audit of requirements.lock (says so and exits 0 when no vulnerability database is reachable)"

.venv/bin/python:
	python3.11 -m venv .venv || python3 -m venv .venv

.venv/.installed: .venv/bin/python requirements.lock pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: .venv/.installed

deps:
	@scripts/services.sh deps $(DEPS_FLAGS)

services: install deps
	@scripts/services.sh start

check: install
	@scripts/services.sh check

migrate: services
	$(MANAGE) migrate_schemas --noinput -v 0
	$(MANAGE) bootstrap_platform
	$(MANAGE) collectstatic --noinput -v 0

demo: migrate
	$(MANAGE) load_demo

run: demo
	@mkdir -p $(RUNDIR) $(LOGDIR)
	@$(MAKE) --no-print-directory stop-procs >/dev/null 2>&1 || true
	@$(RUN_ENV) DJANGO_SETTINGS_MODULE=dcp.settings.dev HOST=127.0.0.1 PORT=$(WEB_PORT) \
	  GUNICORN_ACCESS_LOG=$(LOGDIR)/web-access.log nohup .venv/bin/gunicorn \
	  -c python:messaging.inbound.gunicorn_conf dcp.wsgi:application \
	  > $(LOGDIR)/web.log 2>&1 & echo $$! > $(RUNDIR)/web.pid
	@$(RUN_ENV) nohup .venv/bin/celery -A dcp worker -l info -Q inbound,outbound,delivery,certificates,housekeeping \
	  --concurrency 2 > $(LOGDIR)/worker.log 2>&1 & echo $$! > $(RUNDIR)/worker.pid
	@$(RUN_ENV) nohup .venv/bin/celery -A dcp beat -l info -s .local/celerybeat-schedule \
	  > $(LOGDIR)/beat.log 2>&1 & echo $$! > $(RUNDIR)/beat.pid
	@mkdir -p .local/sandbox
	@nohup $(PY) -m sandbox serve --host 127.0.0.1 --port $(SANDBOX_PORT) \
	  --registry sandbox/registry.demo.yaml --db .local/sandbox/sandbox.db \
	  > $(LOGDIR)/sandbox.log 2>&1 & echo $$! > $(RUNDIR)/sandbox.pid
	@for i in $$(seq 60); do curl -fs -o /dev/null -H "Host: $(DCP_BASE_DOMAIN)" http://127.0.0.1:$(WEB_PORT)/healthz && break; sleep 0.5; done
	@curl -fs -o /dev/null -H "Host: $(DCP_BASE_DOMAIN)" http://127.0.0.1:$(WEB_PORT)/healthz \
	  || (echo "web did not start: see $(LOGDIR)/web.log"; tail -20 $(LOGDIR)/web.log; exit 1)
	@for i in $$(seq 60); do curl -fs -o /dev/null http://127.0.0.1:$(SANDBOX_PORT)/healthz && break; sleep 0.5; done
	@curl -fs -o /dev/null http://127.0.0.1:$(SANDBOX_PORT)/healthz \
	  || (echo "DIP sandbox did not start: see $(LOGDIR)/sandbox.log"; tail -20 $(LOGDIR)/sandbox.log; exit 1)
	@$(RUN_ENV) $(MANAGE) sync_channels_to_dip --sandbox-admin-token $(SANDBOX_ADMIN_TOKEN) \
	  || echo "channel registration with the sandbox failed: see above"
	@$(RUN_ENV) $(MANAGE) sync_trust_to_sandbox --sandbox-admin-token $(SANDBOX_ADMIN_TOKEN) \
	  || echo "trusting the tenants' CAs in the sandbox failed: see above"
	@$(RUN_ENV) $(MANAGE) demo_traffic --top-up --sandbox-admin-token $(SANDBOX_ADMIN_TOKEN) \
	  || echo "demo traffic failed: see above"
	@$(RUN_ENV) $(MANAGE) load_demo --print-logins
	@echo "  DIP sandbox       : http://127.0.0.1:$(SANDBOX_PORT)/  (traffic page; Send API at /dip-channel/IF-xxx)"

stop-procs:
	@for p in web worker beat sandbox; do \
	  if [ -f $(RUNDIR)/$$p.pid ]; then kill $$(cat $(RUNDIR)/$$p.pid) 2>/dev/null || true; rm -f $(RUNDIR)/$$p.pid; fi; \
	done

stop: stop-procs
	@scripts/services.sh stop

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(PY) scripts/check_test_clocks.py tests

typecheck: install
	.venv/bin/mypy --strict --config-file /dev/null dip
	.venv/bin/mypy .

# pytest-xdist: one worker per core (at most 4; each builds its own test database), tests handed
# out one by one in collection order, the 15 slowest printed. (--dist loadgroup keeps the
# expensive shared fixtures of tests/conftest.py on one worker, but changes which committed rows
# a test sees: see docs/development.md before making it the default.)
PYTEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n > 4 ? 4 : n )))
PYTEST_DIST ?= load
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) --durations=15
# The signing, PKI and independent-signer tests again with the clock running 100x fast.
FAKETIME_TESTS := tests/dip/test_signing.py tests/dip/test_signing_independent.py tests/dip/test_pki.py

pytest: DEPS_FLAGS = --browser
pytest: services
	$(MANAGE) makemigrations --check --dry-run -v 1
	.venv/bin/pytest -q $(PYTEST_XDIST) $(PYTEST_ARGS)
	faketime -f '+0 x100' .venv/bin/pytest -q -p no:cacheprovider $(FAKETIME_TESTS)

# The flake hunt (docs/development.md): random order, a new seed each run (printed at the top).
test-random: DEPS_FLAGS = --browser
test-random: services
	.venv/bin/pytest -q $(PYTEST_XDIST) -p randomly $(PYTEST_ARGS)

test: lint typecheck pytest

bench: services
	$(PY) -m bench.run $(BENCH_ARGS)

clean: stop
	@scripts/services.sh clean
	rm -rf .local staticfiles

totp: install
	@$(MANAGE) demo_totp $(EMAIL)

screenshots: services
	UPDATE_SCREENSHOTS=1 .venv/bin/pytest -q tests/browser -p no:cacheprovider

backup: services
	@scripts/backup.sh $(BACKUP_ARGS)

restore: services
	@test -n "$(BACKUP)" -a -n "$(TARGET_URL)" || { echo "usage: make restore BACKUP=dir TARGET_URL=postgres://…/newdb [MEDIA_ROOT=dir]"; exit 2; }
	@scripts/restore.sh $(BACKUP) --target-url $(TARGET_URL) $(if $(MEDIA_ROOT),--media-root $(MEDIA_ROOT))

drill-outbound: services
	$(PY) scripts/drill_outbound.py $(if $(N),--messages $(N))

drill-outbound-outage: services
	$(PY) scripts/drill_outbound.py --outage $(or $(OUTAGE),20) $(if $(N),--messages $(N))

drill-inbound: services
	$(PY) scripts/drill_inbound.py $(if $(N),--messages $(N))

audit: install
	.venv/bin/python scripts/dependency_audit.py
