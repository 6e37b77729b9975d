#!/usr/bin/env bash
# Everything CI runs: system packages the tests start, lint, types, the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/node-deps.sh
echo "== ruff"
.venv/bin/ruff check src tests benchmarks examples
echo "== mypy"
.venv/bin/mypy
echo "== import contracts (docs/architecture.md, dependency direction)"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/pytest "$@"
