# The chat's everyday commands. `make` alone lists them.
#
# The virtualenv .venv is made on first use and refreshed only when a requirements file changes:
# a stamp file inside .venv remembers which set was installed last. VENV=DIR uses another one
# (the first-run test starts `make run` on a virtualenv holding requirements.txt alone).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-requirements
DEV_STAMP := $(VENV)/.installed-requirements-dev
CHROMIUM := /usr/bin/chromium
# Test files run in this many processes at once, each file whole in one (its servers are shared).
TEST_PROCESSES ?= 3

.DEFAULT_GOAL := help
.PHONY: help run test lint format bench screenshots clean check-chromium

help:
	@echo "make run      start the backend and the front server (Ctrl-C stops both)"
	@echo "make test     lint and format check, then every test: unit, api, live and browser (needs $(CHROMIUM))"
	@echo "make bench    the benchmark; FULL=1 for the long run, BENCH_ARGS=\"--only 1,4\" for some scenarios"
	@echo "make screenshots  the main screens at desktop and phone widths, light and dark, into tests/artifacts/screens (OUT=DIR for another)"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make format   ruff format and the safe ruff fixes"
	@echo "make clean    remove .venv, the tests' runtime virtualenvs and caches (the chat data in chats/ stays)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@ $(RUN_STAMP)

# Both processes run as background jobs of one bash, which waits for the first of them to end and
# then stops the other: a front server that cannot start does not leave a backend behind, and a
# backend that cannot start (its data directory held by another) does not leave a front server
# answering "backend unavailable". Ctrl-C reaches both gunicorn masters (they install their own
# SIGINT handler even as background jobs); SIGTERM to make reaches the shell, whose trap forwards
# it. Both get a fresh internal secret in their environment (not on their command lines, where
# any local user could read it), so only this front server can call this backend. Flags and
# CHAT_* environment variables: docs/operations.md. BACKEND_ARGS and FRONT_ARGS pass extra flags,
# e.g. make run FRONT_ARGS="--port 8080".
run: SHELL := /bin/bash
run: $(RUN_STAMP)
	@echo "Starting the chat. Open the front server's address below in a browser; Ctrl-C stops both."
	@trap 'kill -TERM $$backend $$front 2>/dev/null; wait' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	export CHAT_INTERNAL_SECRET="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')"; \
	$(PY) backend.py $(BACKEND_ARGS) & backend=$$!; \
	$(PY) MainWServer.py $(FRONT_ARGS) & front=$$!; \
	wait -n $$backend $$front

check-chromium:
	@test -x $(CHROMIUM) || { \
	  echo "The browser tests drive Chromium at $(CHROMIUM), which is missing." >&2; \
	  echo "Install it with: sudo apt-get install -y chromium   (Debian and Ubuntu)" >&2; \
	  exit 1; }

# pytest's exit status passes straight through: 5 (no tests collected) fails like any failure.
test: $(DEV_STAMP) check-chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

# A fresh backend and front server with a small team's chat, photographed in Chromium: look at the
# PNGs after a change to the page (tests/screenshots.py says which screens).
screenshots: $(DEV_STAMP) check-chromium
	$(PY) -m tests.screenshots $(OUT)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(DEV_STAMP)
	$(if $(filter 1,$(FULL)),CHAT_BENCH_FULL=1 )$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache tests/artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
