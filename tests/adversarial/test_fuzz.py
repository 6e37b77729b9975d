"""Schemathesis over the gateway's OpenAPI and a fixture endpoint's, against ``openfal serve``.

Bounded and reproducible (fixed seed, a few hundred cases each, seconds in all). Every check
schemathesis has runs (no 5xx, no dropped connection, status codes, content types, headers
and bodies as documented, invalid input refused) except three that do not fit fal's API:

- ``unsupported_method`` and ``allow_header_conformance``: ``POST`` to any path is a run of
  the app that path names (fal's URL scheme), so no path answers 405 with an exact ``Allow``;
- ``positive_data_acceptance`` on an endpoint's document: the queue is stateful, and as on
  fal a result asked for before the request completed is 400, as is cancelling a completed
  request; both are documented responses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Serve

pytestmark = pytest.mark.e2e

SEED = "20261203"
UNFIT = "unsupported_method,allow_header_conformance"


def _schemathesis(url: str, tmp_path: Path, exclude: str, examples: int) -> None:
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", url),
        *("--checks", "all", "--exclude-checks", exclude),
        *("--max-examples", str(examples), "--seed", SEED, "--no-shrink"),
        *("--request-timeout", "30", "--workers", "1"),
    ]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=170
    )  # cwd: hypothesis keeps its example database there
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert " passed" in summary and "generated" in summary, summary


def test_fuzz_the_gateway_document(hostile: Serve, tmp_path: Path) -> None:
    _schemathesis(f"{hostile.url}/openapi.json", tmp_path, UNFIT, examples=40)


def test_fuzz_an_endpoint_document(hostile: Serve, tmp_path: Path) -> None:
    url = f"{hostile.url}/rest/openapi/queue/openapi.json?endpoint_id=openfal/echo"
    _schemathesis(url, tmp_path, UNFIT + ",positive_data_acceptance", examples=60)
