"""Realtime websockets across machines: a gateway relays to a runner of a worker elsewhere
(found through the store), with a token minted by another gateway."""

from __future__ import annotations

from pathlib import Path

import fal_client
import fal_client.client as fal_module
import pytest

from tests.cluster.harness import Cluster
from tests.e2e.harness import wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e

APP = "test/live"


def test_official_client_realtime_through_a_gateway_to_another_process_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    try:
        worker = cluster.worker("realtime")
        g1, g2 = cluster.gateway(), cluster.gateway()
        with g1.client() as c:
            wait_for(
                lambda: APP in [a["app_id"] for a in c.get("/rest/apps").json()], 30, what="app"
            )
        monkeypatch.setenv("FAL_KEY", "local-dev-key")
        monkeypatch.setattr(fal_module, "REST_URL", f"{g1.url}/rest")  # the token: gateway 1
        monkeypatch.setattr(fal_module, "REALTIME_URL_FORMAT", f"ws://127.0.0.1:{g2.port}/")
        with fal_client.realtime(APP) as connection:  # the socket: gateway 2
            for n in range(10):
                connection.send({"prompt": f"p{n}", "n": n})
                out = connection.recv()
                assert (out["echo"], out["n"]) == (f"p{n}", n)
            with g1.client() as c:  # the session holds a slot the whole cluster sees
                (runner,) = c.get("/rest/runners", params={"app_id": APP}).json()
            assert str(out["pid"]) in worker.logs()
        assert runner["worker_id"] in worker.logs() and runner["state"] == "READY"
    finally:
        cluster.stop()
        redis.stop()
