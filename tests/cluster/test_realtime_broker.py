"""The store-backed realtime broker against real workers: sessions take runner slots
across processes, start runners from zero, and hold back queued requests."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest

from openfal.server.broker import StoreBroker
from openfal.store.redis import RedisStore
from tests.cluster.harness import Cluster, status, submit
from tests.e2e.harness import wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e

APP = "test/overlap"  # max_concurrency=2, max_multiplexing=3


async def sessions_on_runners(redis_url: str, gateway: str) -> None:
    store = RedisStore(redis_url)
    await store.open()
    broker = StoreBroker(store, timeout=60, ttl=6)
    try:
        async with contextlib.AsyncExitStack() as held, httpx.AsyncClient() as http:
            # scale from zero: the first session waits for the runner it caused
            urls = [await held.enter_async_context(broker.acquire(APP)) for _ in range(3)]
            assert len(set(urls)) == 1
            assert (await http.get(f"{urls[0]}/health")).status_code == 200
            # its 3 slots are taken: a 4th session gets a second runner
            urls.append(await held.enter_async_context(broker.acquire(APP)))
            assert urls[3] != urls[0]
            counts = await store.session_counts(APP)
            assert sorted(counts.by_runner.values()) == [1, 3]
            # 2 runners at most (max_concurrency): 2 more sessions fill them up
            for _ in range(2):
                urls.append(await held.enter_async_context(broker.acquire(APP)))
            short = StoreBroker(store, timeout=2, ttl=6)
            with pytest.raises(TimeoutError):
                async with short.acquire(APP):
                    pass
            # a request submitted now waits: every slot is a session's
            async with httpx.AsyncClient(base_url=gateway) as c:
                r = await c.post(f"/queue/{APP}", json={"seconds": 0})
                request_id = r.json()["request_id"]
                await asyncio.sleep(2)
                r = await c.get(f"/queue/{APP}/requests/{request_id}/status")
                assert r.json()["status"] == "IN_QUEUE"
        # the sessions closed: the request runs
        assert (await store.session_counts(APP)).total == 0
        async with httpx.AsyncClient(base_url=gateway) as c:
            for _ in range(300):
                r = await c.get(f"/queue/{APP}/requests/{request_id}/status")
                if r.json()["status"] == "COMPLETED":
                    break
                await asyncio.sleep(0.1)
            assert r.json()["status"] == "COMPLETED"
        with pytest.raises(LookupError):
            async with broker.acquire("nobody/serves-this"):
                pass
    finally:
        await store.close()


def test_realtime_sessions_share_runner_slots_with_requests_across_processes(tmp_path: Path):
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    try:
        cluster.worker("overlap", args=["--lease-ttl", "6"])
        g = cluster.gateway()
        with g.client() as c:
            wait_for(
                lambda: APP in [a["app_id"] for a in c.get("/rest/apps").json()], 30, what="app"
            )
        asyncio.run(sessions_on_runners(redis.url, g.url))
        with g.client() as c:
            request_id = submit(c, APP, {"seconds": 0})
            wait_for(lambda: status(c, APP, request_id)["status"] == "COMPLETED", 60, what="run")
    finally:
        cluster.stop()
        redis.stop()
