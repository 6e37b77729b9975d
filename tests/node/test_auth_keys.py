"""The official ``@fal-ai/client`` (npm) with API keys: 401 for a bad key, 404 for another
user's request, results for the owner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Serve
from tests.node.harness import run_node

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path / "data", ["echo"]).start()
    yield s
    s.stop()


def create_key(s: Serve, user: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openfal",
            "keys",
            "create",
            "--user",
            user,
            "--data-dir",
            str(s.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().removeprefix("FAL_KEY=")


def test_official_js_client_with_keys(server: Serve) -> None:
    keys = {"ALICE": create_key(server, "alice"), "BOB": create_key(server, "bob")}
    out = run_node("auth_keys.mjs", {"OPENFAL_URL": server.url, **keys})

    assert out["run"] == {"message": "hi"}
    assert out["invalid"]["status"] == 401
    assert out["invalid"]["body"] == {"detail": "Invalid API key", "error_type": "unauthorized"}
    assert out["invalid"]["requestId"]
    assert out["aliceResult"] == {"message": "mine"}
    not_found = {"detail": f"Request {out['requestId']} not found"}
    for call in ("bobStatus", "bobResult", "bobCancel"):
        assert out[call]["status"] == 404, (call, out[call])
        assert out[call]["body"] == not_found, (call, out[call])
