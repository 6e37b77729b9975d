"""The official ``@fal-ai/client`` (npm) through ``/api/fal/proxy``: run, subscribe with
logs (polling and status streaming), queue submit/status/result/cancel, a 422, stream,
storage upload, and realtime (its token through the proxy, its socket through a shim)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Serve
from tests.node.harness import run_node

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path / "data", ["steps", "sleeper", "streamer", "realtime"]).start()
    yield s
    s.stop()


def test_official_js_client_through_the_proxy(server: Serve):
    out = run_node("proxy.mjs", {"OPENFAL_URL": server.url}, timeout=100)

    assert out["run"]["data"] == {"steps": 1, "tag": "run"}
    assert out["run"]["requestId"]

    for mode in ("polling", "streaming"):
        sub = out[f"subscribe_{mode}"]
        assert sub["data"] == {"steps": 3, "tag": mode}
        assert sub["updates"][-1]["status"] == "COMPLETED"
        logs = [line for u in sub["updates"] for line in u["logs"]]
        assert f"step 3 of 3 {mode}" in logs

    queue = out["queue"]
    assert queue["status"] == "COMPLETED"
    assert queue["logs"] == ["step 1 of 2 queue", "step 2 of 2 queue"]
    assert "inference_time" in queue["metrics"]
    assert queue["result"] == {"steps": 2, "tag": "queue"}
    assert queue["resultRequestId"] == queue["requestId"]

    assert out["cancel"]["status"] == "COMPLETED"
    assert out["cancel"]["error_type"] == "client_cancelled"
    assert out["cancel"]["resultError"]["status"] == 499

    assert out["validation"] == {"status": 422, "fields": [["body", "steps"]]}

    assert out["stream"] == {
        "texts": ["js0", "js1", "js2"],
        "partial": [True, True, False],
        "last": "js2",
    }

    assert out["realtime"] == {
        "echo": "through the shim",
        "n": 5,
        "sockets": [f"ws://127.0.0.1:{server.port}/test/live/realtime"],
    }

    upload = out["upload"]
    assert upload["url"].startswith(f"{server.url}/files/")
    assert (upload["status"], upload["text"]) == (200, "hello from @fal-ai/client")

    # every API call went to the proxy, naming a fal host; only the signed upload PUT and
    # the download (raw fetches to URLs the server answered with) went elsewhere
    proxied = [f for f in out["fetched"] if f["url"] == f"{server.url}/api/fal/proxy"]
    assert {f["method"] for f in proxied} == {"GET", "POST", "PUT"}
    hosts = {f["target"].split("/")[2] for f in proxied}
    assert hosts == {"fal.run", "queue.fal.run", "rest.fal.ai"}
    assert all(f["url"].startswith(server.url) for f in out["fetched"])
    assert "https://rest.fal.ai/tokens/" in {f["target"] for f in proxied}  # realtime's token
