# openfal: `make serve` and `make test` are all a fresh machine needs.
#
#   make serve                      installs what serving needs (once), then serves the
#                                   built-in apps and examples/ on http://127.0.0.1:8000
#   make serve ARGS="--app my.py::MyApp --demo-weights"    any `openfal serve` options
#   make serve APPS=0               without the built-in model apps (no torch)
#   make test                       installs the test tools too, then lint, types, tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 8000
ARGS ?=
APPS ?= 1
PYTEST_ARGS ?=
# the example apps the README's examples call (examples/README.md)
EXAMPLES := --app examples/steps.py::Steps --app examples/streamer.py::Streamer \
	--app examples/live.py::Live --app examples/files.py::Files --app examples/paint.py::Paint

.PHONY: serve test install lint unit e2e bench clean

$(SERVE_STAMP): pyproject.toml scripts/install.sh
	APPS=$(APPS) bash scripts/install.sh serve
	touch $(SERVE_STAMP)

$(TEST_STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh test
	touch $(TEST_STAMP) $(SERVE_STAMP)

install: $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	$(VENV)/bin/openfal serve --host $(HOST) --port $(PORT) $(EXAMPLES) $(ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports  # the dependency direction of docs/architecture.md

test: $(TEST_STAMP)
	bash scripts/test.sh $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) .openfal .pytest_cache .mypy_cache .ruff_cache
