"""The official ``@fal-ai/client`` (npm) with API keys: 401 for a bad key, 404 for another
user's request, results for the owner."""

from __future__ import annotations

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



def test_official_js_client_with_keys(server: Serve) -> None:
    keys = {"ALICE": server.create_key("alice"), "BOB": server.create_key("bob")}
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
