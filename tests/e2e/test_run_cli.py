"""``openfal run`` says when the app is ready, with its URL and endpoints."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.e2e.harness import free_port

pytestmark = pytest.mark.e2e


def test_openfal_run_prints_when_ready() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openfal", "run", "examples/steps.py::Steps", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=__file__.rsplit("/tests/", 1)[0],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the first line: the ready line
        assert line.startswith("openfal run: examples/steps.py::Steps ready on ")
        assert f"http://127.0.0.1:{port}" in line and "POST /" in line
        answer = httpx.post(f"http://127.0.0.1:{port}/", json={"steps": 1, "delay": 0})
        assert answer.json() == {"steps": 1, "tag": ""}
    finally:
        proc.terminate()
        proc.wait(30)
