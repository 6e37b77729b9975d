"""``openfal serve --store redis://`` is a gateway + worker pair like any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.harness import Cluster, status, submit
from tests.e2e.harness import Serve, wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e


def test_serve_on_redis_runs_what_another_gateway_submits(tmp_path: Path):
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    serve = Serve(tmp_path / "serve", ["overlap"], args=["--store", redis.url])
    try:
        serve.start()
        gateway = cluster.gateway()
        with gateway.client() as c:
            ids = [submit(c, "test/overlap", {"seconds": 0.05}) for _ in range(10)]
            wait_for(
                lambda: all(status(c, "test/overlap", i)["status"] == "COMPLETED" for i in ids),
                90,
                interval=0.2,
                what="the requests",
            )
            runners = c.get("/rest/runners").json()
        assert runners and {r["app_id"] for r in runners} == {"test/overlap"}
        with serve.client() as c:
            assert c.get("/rest/runners").json()[0]["runner_id"] in {
                r["runner_id"] for r in runners
            }
    finally:
        cluster.stop()
        serve.stop()
        redis.stop()
