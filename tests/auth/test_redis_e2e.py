"""Keys, limits and webhooks with ``openfal serve --store redis://`` and a real redis-server:
the CLI creates keys in Redis while the server runs, limits count there, and the outbox
delivers from there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openfal.webhooks import verify
from tests.e2e.harness import Serve, wait_for
from tests.store.redis_server import RedisServer, start_redis
from tests.webhooks.conftest import Receiver

pytestmark = pytest.mark.e2e

ECHO = "openfal/echo"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


def openfal(store: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openfal", *args, "--store", store],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_keys_limits_and_webhooks_live_in_redis(
    serve: Any, redis: RedisServer, receiver: Receiver
) -> None:
    s: Serve = serve(
        "echo",
        args=[
            "--store",
            redis.url,
            "--rate-limit",
            "3",
            "--rate-window",
            "600",
            "--webhook-allow",
            "127.0.0.1",
        ],
    )
    key = openfal(redis.url, "keys", "create", "--user", "alice").strip().removeprefix("FAL_KEY=")
    headers = {"authorization": f"Key {key}"}
    with s.client() as c:
        assert c.post(f"/queue/{ECHO}", json={"message": "x"}).status_code == 401
        r = c.post(
            f"/queue/{ECHO}",
            params={"fal_webhook": f"{receiver.url}/r"},
            json={"message": "via redis"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        request_id = r.json()["request_id"]
        post = receiver.next_request(timeout=60)
        jwks = c.get("/.well-known/jwks.json").json()
        codes = [
            c.post(f"/queue/{ECHO}", json={"message": "x"}, headers=headers).status_code
            for _ in range(3)
        ]
    assert json.loads(post.body)["payload"] == {"message": "via redis"}
    assert post.headers["x-fal-webhook-user-id"] == "alice"
    assert verify(post.headers, post.body, jwks)
    assert codes == [200, 200, 429]  # 3 per window, the webhook request was the first
    shown = wait_for(
        lambda: (
            (d := json.loads(openfal(redis.url, "requests", "show", request_id)))["webhook"][
                "state"
            ]
            == "DELIVERED"
            and d
        ),
        30,
        0.3,
        "the delivery to be recorded",
    )
    assert shown["owner"] == "alice" and len(shown["webhook"]["attempts"]) == 1
