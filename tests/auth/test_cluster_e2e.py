"""Keys, limits and webhooks across processes: two ``openfal gateway`` and one ``openfal
worker`` on one redis-server. Every process runs a webhook sender; each webhook is still
POSTed once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openfal.store import WebhookDelivery, WebhookState
from openfal.store.redis import RedisStore
from openfal.webhooks import verify
from tests.cluster.harness import Cluster, Gateway
from tests.e2e.harness import wait_for
from tests.store.redis_server import RedisServer, start_redis
from tests.webhooks.conftest import Receiver

pytestmark = pytest.mark.e2e

ECHO = "openfal/echo"
WEBHOOKS = ["--webhook-allow", "127.0.0.1", "--webhook-retry-base", "0.2"]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    redis = start_redis(tmp_path / "redis")
    c = Cluster(tmp_path, redis)
    yield c
    c.stop()
    redis.stop()


def gateway(c: Cluster, name: str, *args: str) -> Gateway:
    g = Gateway(c.redis.url, c.root / name)
    g.args += list(args)
    c.procs.append(g)
    return g.start()


def create_key(redis: RedisServer, user: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "openfal", "keys", "create", "--user", user, "--store", redis.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return {"authorization": f"Key {done.stdout.strip().removeprefix('FAL_KEY=')}"}


def webhooks(redis: RedisServer, ids: list[str]) -> dict[str, WebhookDelivery | None]:
    async def read() -> dict[str, WebhookDelivery | None]:
        store = RedisStore(redis.url)
        await store.open()
        try:
            return {i: await store.get_webhook(i) for i in ids}
        finally:
            await store.close()

    return asyncio.run(read())


def test_keys_limits_and_webhooks_across_gateways_and_workers(
    cluster: Cluster, receiver: Receiver
) -> None:
    limits = ["--rate-limit", "7", "--rate-window", "600"]
    g1 = gateway(cluster, "g1", *limits, *WEBHOOKS)
    g2 = gateway(cluster, "g2", *limits, *WEBHOOKS)
    cluster.worker("echo", args=WEBHOOKS)
    assert "no API keys yet" in g1.logs() and "--store redis://" in g1.logs()

    alice = create_key(cluster.redis, "alice")
    bob = create_key(cluster.redis, "bob")
    with g1.client() as c1, g2.client() as c2:
        for c in (c1, c2):  # the CLI's key is known to every gateway at once
            assert c.post(f"/queue/{ECHO}", json={"message": "x"}).status_code == 401
        jwks = c1.get("/.well-known/jwks.json").json()
        assert c2.get("/rest/.well-known/jwks.json").json() == jwks and jwks["keys"]

        ids = []
        for i in range(6):
            r = (c1, c2)[i % 2].post(
                f"/queue/{ECHO}",
                params={"fal_webhook": f"{receiver.url}/{i}"},
                json={"message": f"m{i}"},
                headers=alice,
            )
            assert r.status_code == 200, r.text
            ids.append(r.json()["request_id"])
        # the 7th passes, the 8th is over alice's limit, on whichever gateway
        assert c1.post(f"/queue/{ECHO}", json={"message": "7"}, headers=alice).status_code == 200
        r = c2.post(f"/queue/{ECHO}", json={"message": "8"}, headers=alice)
        assert r.status_code == 429 and r.json()["retry_after"] >= 1
        # bob sees none of alice's requests, on either gateway
        for c in (c1, c2):
            assert c.get(f"/queue/{ECHO}/requests/{ids[0]}/status", headers=bob).status_code == 404

    posts = [receiver.next_request(timeout=60) for _ in ids]
    for post in posts:
        assert verify(post.headers, post.body, jwks)
        assert post.headers["x-fal-webhook-user-id"] == "alice"
    assert sorted(json.loads(p.body)["request_id"] for p in posts) == sorted(ids)

    def all_delivered() -> bool:
        found = webhooks(cluster.redis, ids)
        return all(w is not None and w.state is WebhookState.DELIVERED for w in found.values())

    wait_for(all_delivered, 30, 0.2, "every webhook to be recorded as delivered")
    for w in webhooks(cluster.redis, ids).values():
        assert w is not None and len(w.attempts) == 1
    assert receiver.requests.empty()  # three senders, one POST each
