"""``openfal serve --store redis://`` is a gateway + worker pair like any other."""

from __future__ import annotations

from pathlib import Path

import fal_client
import fal_client.client as fal_module
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


def test_serve_on_redis_relays_realtime_to_a_runner_of_another_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The serve process has no code for the app: only the worker can start its runners."""
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    serve = Serve(tmp_path / "serve", [], args=["--store", redis.url])
    try:
        worker = cluster.worker("realtime")
        serve.start()
        with serve.client() as c:
            wait_for(
                lambda: "test/live" in [a["app_id"] for a in c.get("/rest/apps").json()],
                30,
                what="the worker's app",
            )
        monkeypatch.setenv("FAL_KEY", "local-dev-key")
        monkeypatch.setattr(fal_module, "REST_URL", f"{serve.url}/rest")
        monkeypatch.setattr(fal_module, "REALTIME_URL_FORMAT", f"ws://127.0.0.1:{serve.port}/")
        with fal_client.realtime("test/live") as connection:
            for n in range(5):
                connection.send({"prompt": f"p{n}", "n": n})
                out = connection.recv()
                assert (out["echo"], out["n"]) == (f"p{n}", n)
            with serve.client() as c:  # the session holds a slot of the worker's runner
                (runner,) = c.get("/rest/runners", params={"app_id": "test/live"}).json()
        assert str(out["pid"]) in worker.logs()
        assert runner["worker_id"] in worker.logs() and runner["state"] == "READY"
    finally:
        cluster.stop()
        serve.stop()
        redis.stop()
