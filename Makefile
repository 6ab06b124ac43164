# The two commands a newcomer runs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all test-sdist lint bench bench-attacks conformance h2spec fuzz fuzz-smoke docs clean venv

# The interpreters `make test-all` runs the suite on, each in its own .venv-VERSION; one that
# is not installed is skipped with a message.
PYTHONS ?= 3.11 3.12 3.13

# Seconds per fuzz target: `make fuzz FUZZ_BUDGET=600` digs longer.
FUZZ_BUDGET ?= 60

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,trio]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m crosswind serve examples.demo:app --backend asyncio --host 127.0.0.1 --port 8888

test: $(STAMP)
	@command -v curl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq curl) || echo "curl not installed: curl tests will skip"
	@(command -v chromium && command -v chromedriver) >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) || echo "chromium or chromium-driver not installed: the browser tests will skip"
	@command -v redis-server >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq redis-server) || echo "redis-server not installed: Redis broadcast and session tests will skip"
	@command -v h2load >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nghttp2-client) || echo "nghttp2-client not installed: the h2load tests will skip"
	$(BIN)/ruff check core backends adapters tests examples bench fuzz
	$(BIN)/python -m tests.support.mypy_paths
	$(BIN)/mypy
	$(BIN)/python fuzz/run.py --budget 10 --seed 1
	$(BIN)/python -m tests.support.package_check
	$(BIN)/python -m pytest -q -p no:cacheprovider

# `make test` on every interpreter of PYTHONS that this machine has.
test-all:
	@for version in $(PYTHONS); do \
		if python$$version -c "import sys" >/dev/null 2>&1; then \
			echo "== make test on Python $$version"; \
			$(MAKE) --no-print-directory test PY=python$$version VENV=.venv-$$version || exit 1; \
		else \
			echo "== Python $$version is not installed here: make test-all skips it"; \
		fi; \
	done

# Install the sdist with its test extra into a fresh environment and run the whole suite from
# the unpacked sdist, as someone who downloaded it would.
test-sdist: $(STAMP)
	$(BIN)/python -m tests.support.package_check --sdist-tests

fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --budget $(FUZZ_BUDGET)

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

lint: $(STAMP)
	$(BIN)/ruff check core backends adapters tests examples bench fuzz
	$(BIN)/python -m tests.support.mypy_paths
	$(BIN)/mypy

# `make bench BASELINE=HEAD~5` also serves the crosswind rows from that commit, in the same
# run, and reports the working tree's ratio to each (bench/README.md).
BASELINE ?=

bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	@command -v h2load >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nghttp2-client) || echo "nghttp2-client not installed: the HTTP/2 section will be left out"
	@command -v valgrind >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq valgrind) || echo "valgrind not installed: the instruction counts will be left out"
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py$(if $(BASELINE), --baseline '$(BASELINE)')
	$(BIN)/python bench/upload_rss.py
	@if command -v h2load >/dev/null 2>&1; then $(BIN)/python bench/http2.py; else echo "h2load not found: the HTTP/2 section (bench/http2.py) is left out"; fi

# Slowloris and slow-body attackers against each backend while a normal client measures its
# latency; BASELINE serves the same attacks from that commit too (bench/README.md).
bench-attacks: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/attacks.py$(if $(BASELINE), --baseline '$(BASELINE)')

# Every Autobahn|Testsuite case (9.*, 12.* and 13.* too) against the WebSocket echo on each
# backend, with and without permessage-deflate, then the client side when
# bench/conformance_client.py exists; the report goes to bench/results/conformance-COMMIT.md.
conformance: $(STAMP)
	$(BIN)/python bench/conformance.py

# The h2spec-style HTTP/2 cases (tests/support/h2spec) against crosswind on each HTTP/2 backend,
# cleartext and over TLS, then against hypercorn for reference (its failures do not stop make).
h2spec: $(STAMP)
	@for backend in asyncio trio; do for tls in "" --tls; do \
		echo "== crosswind $$backend $${tls:-h2c}"; \
		$(BIN)/python -m tests.support.h2spec --quiet --verbose --crosswind $$backend $$tls || exit 1; \
	done; done
	@echo "== hypercorn"; $(BIN)/python -m tests.support.h2spec --quiet --verbose --hypercorn || true

clean:
	rm -rf $(VENV) .venv-* build *.egg-info core/*.egg-info
