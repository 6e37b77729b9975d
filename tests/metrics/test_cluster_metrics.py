"""In a cluster each gateway and each worker serves its own ``/metrics``: requests are
counted by the worker that ran them, the gateway counts none of them, and both read the
shared queue and runner gauges from the store."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cluster.harness import Cluster
from tests.e2e.harness import free_port
from tests.metrics.test_metrics_e2e import scrape, settled, value
from tests.store.redis_server import start_redis

ECHO = "openfal/echo"


def test_gateway_and_worker_serve_their_own_metrics(tmp_path: Path) -> None:
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    port = free_port()
    try:
        worker = cluster.worker("echo", args=["--metrics-port", str(port)])
        gateway = cluster.gateway()
        with gateway.client() as c:
            for _ in range(4):
                assert c.post(f"/{ECHO}", json={"message": "hi"}).status_code == 200
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as w:
                at_worker, runners = settled(c, w)
                at_gateway = scrape(c)
                assert w.get("/other").status_code == 404
                assert w.post("/metrics").status_code == 405
    finally:
        cluster.stop()
        redis.stop()

    total = "openfal_requests_total"
    labels = {"app": ECHO, "endpoint": "/", "mode": "run", "status": "success"}
    assert value(at_worker, total, **labels) == 4
    assert value(at_gateway, total, **labels) is None
    assert value(at_worker, "openfal_request_run_seconds_count", app=ECHO) == 4
    assert value(at_gateway, "openfal_store_operation_seconds_count", operation="enqueue") == 4
    assert not value(at_worker, "openfal_store_operation_seconds_count", operation="enqueue")
    started = len([r for r in runners if r["app_id"] == ECHO])
    assert value(at_worker, "openfal_cold_starts_total", app=ECHO) == started
    assert value(at_worker, "openfal_runners", app=ECHO, state="READY") == started
    assert value(at_gateway, "openfal_runners", app=ECHO, state="READY") == started
    assert value(at_gateway, "openfal_queue_depth", app=ECHO) == 0
    assert worker.logs()  # it ran
