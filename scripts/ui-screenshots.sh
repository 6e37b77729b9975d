#!/usr/bin/env bash
# Re-make docs/images/*.png: the playground's browser tests, saving a screenshot of each
# page they visit (README links them).
set -euo pipefail
cd "$(dirname "$0")/.."
OPENFAL_SCREENSHOTS="$PWD/docs/images" .venv/bin/pytest tests/ui -q -p no:cacheprovider "$@"
