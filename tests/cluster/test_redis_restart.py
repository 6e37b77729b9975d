"""Redis with append-only persistence restarted under a live gateway and worker."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tests.cluster.harness import Cluster, ledger, status, submit
from tests.e2e.harness import wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e

APP = "test/ledger"


def test_queued_requests_survive_a_redis_restart_and_processes_reconnect(tmp_path: Path):
    redis = start_redis(tmp_path / "redis", appendonly=True)
    cluster = Cluster(tmp_path, redis)
    out = tmp_path / "out"
    out.mkdir()
    try:
        first = cluster.worker("ledger", args=["--gpus", "0"])
        g = cluster.gateway()
        with g.client() as c:
            wait_for(
                lambda: APP in [a["app_id"] for a in c.get("/rest/apps").json()],
                30,
                what="the app registration",
            )
            first.terminate()  # the app stays registered, with nobody to run it
            assert first.wait(60) == 0, first.logs()
            queued = [submit(c, APP, {"dir": str(out), "tag": str(i)}) for i in range(10)]

            redis.restart(kill=True)  # a crash: only what reached the AOF survives

            assert all(status(c, APP, i)["status"] == "IN_QUEUE" for i in queued)
            cluster.worker("ledger", args=["--gpus", "0"])
            wait_for(
                lambda: all(status(c, APP, i)["status"] == "COMPLETED" for i in queued),
                90,
                interval=0.2,
                what="the queued requests",
            )

            redis.restart()  # now with the worker and the gateway up, idle
            later = [submit(c, APP, {"dir": str(out)}) for _ in range(5)]
            wait_for(
                lambda: all(status(c, APP, i)["status"] == "COMPLETED" for i in later),
                90,
                interval=0.2,
                what="requests submitted after the second restart",
            )
            for request_id in queued + later:
                body = status(c, APP, request_id)
                assert "error_type" not in body, body
    finally:
        cluster.stop()
        redis.stop()
    runs = collections.Counter(line[1] for line in ledger(out) if line[0] == "start")
    assert runs == {i: 1 for i in queued + later}


def test_after_losing_every_key_workers_register_their_apps_and_serve_again(tmp_path: Path):
    """A Redis without persistence restarted: the registrations and runner slots are gone.
    The worker registers its apps again and takes new slots (its old runners, whose slots
    it lost, are stopped); new requests run."""
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    out = tmp_path / "out"
    out.mkdir()
    try:
        worker = cluster.worker("ledger", args=["--gpus", "0", "--lease-ttl", "3"])
        g = cluster.gateway()
        with g.client() as c:
            wait_for(
                lambda: APP in [a["app_id"] for a in c.get("/rest/apps").json()], 30, what="app"
            )
            first = submit(c, APP, {"dir": str(out)})
            wait_for(lambda: status(c, APP, first)["status"] == "COMPLETED", 60, what="a run")

            redis.restart()  # --save '' and no AOF: an empty server comes back
            wait_for(
                lambda: APP in [a["app_id"] for a in c.get("/rest/apps").json()],
                30,
                what="the app to be registered again",
            )
            later = [submit(c, APP, {"dir": str(out)}) for _ in range(3)]
            wait_for(
                lambda: all(status(c, APP, i)["status"] == "COMPLETED" for i in later),
                90,
                interval=0.2,
                what="requests after the restart",
            )
            # the old runner lost its slot with the keys: it is stopped, and the next
            # request gets a runner in a new slot (on the same GPU, given back)
            wait_for(lambda: "lost its slot" in worker.logs(), 30, what="the old runner to stop")
            final = submit(c, APP, {"dir": str(out)})
            wait_for(lambda: status(c, APP, final)["status"] == "COMPLETED", 60, what="a run")
            (runner,) = wait_for(lambda: c.get("/rest/runners").json(), 30, what="a runner")
        assert "registering it again" in worker.logs()
        assert runner["app_id"] == APP and runner["gpus"] == "0"
    finally:
        cluster.stop()
        redis.stop()
