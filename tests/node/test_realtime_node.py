"""The official ``@fal-ai/client`` (Node) ``fal.realtime.connect`` against ``openfal serve``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import Serve
from tests.node.harness import run_node

pytestmark = pytest.mark.e2e


def test_realtime_connect_receives_results_and_errors(tmp_path: Path) -> None:
    server = Serve(tmp_path / "data", ["realtime"]).start()
    try:
        out = run_node("realtime.mjs", {"OPENFAL_URL": server.url, "APP": "test/live"})
    finally:
        server.stop()
    assert [(r["echo"], r["n"]) for r in out["results"]] == [
        *[(f"js{n}", n) for n in range(5)],
        ("after the error", 99),
    ]
    [error] = out["errors"]
    assert error["status"] == 400
    assert error["message"].startswith("VALIDATION_ERROR: prompt: Field required")
    assert out["tokenUrls"] == [f"{server.url}/rest/tokens/"]
    assert set(out["socketUrls"]) == {f"ws://127.0.0.1:{server.port}/test/live/realtime"}
