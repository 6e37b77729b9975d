"""``/api/fal/proxy`` and CORS in-process (PROTOCOL.md §11, §12.2 option C)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from openfal.gateway import AppRegistry, create_app
from openfal.gateway.auth import AuthSettings
from openfal.gateway.settings import GatewaySettings
from openfal.sdk import describe, endpoint_models, load_app
from openfal.storage import Storage
from openfal.store import AppRecord, LogEntry, Store
from tests.e2e.harness import app_ref

PROXY = "/api/fal/proxy"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store, Starlette]]:
    store = Store.from_url("memory://")
    await store.open()
    storage = Storage.from_url(f"file://{tmp_path / 'files'}", fsync=False)
    await storage.open()
    registry = AppRegistry(store)
    cls = load_app(app_ref("echo"))
    info = describe(cls)
    record = AppRecord(app_id=info["app_id"], source=app_ref("echo"), endpoints=info["endpoints"])
    await store.register_app(record)
    registry.add_local(record, endpoint_models(cls))
    app = create_app(store, registry, storage=storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c, store, app
    await storage.close()
    await store.close()


def via(target: str, **headers: str) -> dict[str, str]:
    return {"x-fal-target-url": target, **headers}


async def test_queue_calls_through_the_proxy_keep_method_body_and_query(gw):
    c, store, _ = gw
    r = await c.post(
        PROXY,
        json={"message": "hi"},
        headers=via("https://queue.fal.run/openfal/echo/upper", **{"x-fal-queue-priority": "low"}),
    )
    assert r.status_code == 200, r.text
    rid = r.json()["request_id"]
    assert r.headers["x-fal-request-id"] == rid
    rec = await store.get(rid)
    assert rec is not None and rec.path == "upper" and json.loads(rec.input) == {"message": "hi"}
    assert rec.priority == 2  # the x-fal-* headers went through

    status = f"https://queue.fal.run/openfal/echo/requests/{rid}/status?logs=1"
    r = await c.get(PROXY, headers=via(status))
    assert r.status_code == 202 and r.json()["status"] == "IN_QUEUE"

    r = await c.put(PROXY, headers=via(f"https://queue.fal.run/openfal/echo/requests/{rid}/cancel"))
    assert r.status_code == 202 and r.json() == {"status": "CANCELLATION_REQUESTED"}
    r = await c.get(PROXY, headers=via(f"https://queue.fal.run/openfal/echo/requests/{rid}"))
    assert r.status_code == 499


async def test_status_stream_passes_through(gw):
    c, store, _ = gw
    rid = (await c.post("/queue/openfal/echo", json={"message": "x"})).json()["request_id"]
    rec = await store.claim(["openfal/echo"], "w")
    assert rec is not None and rec.id == rid
    await store.append_logs(rid, [LogEntry("working", "STDOUT", "USER", "t")])
    await store.complete(rid, status_code=200, body=b'{"message": "x"}', worker_id="w")
    target = f"https://queue.fal.run/openfal/echo/requests/{rid}/status/stream?logs=1"
    r = await c.get(PROXY, headers=via(target, accept="application/json"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["logs"][0]["message"] == "working"


async def test_rest_and_own_host_targets(gw):
    c, _, _ = gw
    r = await c.post(
        PROXY,
        json={"file_name": "a.txt", "content_type": "text/plain"},
        headers=via("https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3"),
    )
    assert r.status_code == 200, r.text
    grant = r.json()
    assert grant["upload_url"].startswith("http://testserver/rest/storage/upload/put/")
    put = await c.put(grant["upload_url"], content=b"abc", headers={"content-type": "text/plain"})
    assert put.status_code == 200
    r = await c.get(PROXY, headers=via(grant["file_url"]))  # this server's own host
    assert r.status_code == 200 and r.content == b"abc"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/openfal/echo", "https://fal.run:8443/x/y", "ftp://fal.run/x", "/x"],
)
async def test_other_targets_are_refused(gw, target):
    c, _, _ = gw
    r = await c.post(PROXY, json={}, headers=via(target))
    assert r.status_code == 400
    assert "x-fal-target-url" in r.json()["detail"]


async def test_missing_target_header(gw):
    c, _, _ = gw
    r = await c.post(PROXY, json={})
    assert r.status_code == 400 and "x-fal-target-url" in r.json()["detail"]


async def test_the_target_is_authenticated_not_the_proxy(gw):
    c, _, app = gw
    app.state.auth = AuthSettings(open_without_keys=False)  # keys required
    r = await c.get(PROXY, headers=via("https://fal.run/health"))
    assert r.status_code == 200  # a public target needs no key through the proxy either
    r = await c.post(
        PROXY, json={"message": "hi"}, headers=via("https://queue.fal.run/openfal/echo")
    )
    assert r.status_code == 401
    r = await c.post(
        PROXY,
        json={"message": "hi"},
        headers=via("https://queue.fal.run/openfal/echo", authorization="Key nope:nope"),
    )
    assert r.status_code == 401


async def test_cors_preflight_and_responses(gw):
    c, _, _ = gw
    asked = "authorization, content-type, x-fal-target-url, x-fal-queue-priority"
    r = await c.options(
        PROXY,
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": asked,
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-headers"] == asked
    assert "PUT" in r.headers["access-control-allow-methods"]

    r = await c.options(
        PROXY,
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-secret",
        },
    )
    assert r.status_code == 400 and "x-secret" in r.text

    r = await c.post(
        PROXY,
        json={"message": "hi"},
        headers=via("https://queue.fal.run/openfal/echo", origin="https://app.example"),
    )
    assert r.status_code == 200
    assert r.headers.get_list("access-control-allow-origin") == ["*"]
    assert "x-fal-request-id" in r.headers["access-control-expose-headers"]
    r = await c.get("/health")
    assert "access-control-allow-origin" not in r.headers  # not a browser


async def test_cors_with_a_list_of_origins():
    store = Store.from_url("memory://")
    await store.open()
    app = create_app(store, settings=GatewaySettings(cors_origins=("https://ok.example",)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        ok = await c.get("/health", headers={"origin": "https://ok.example"})
        assert ok.headers["access-control-allow-origin"] == "https://ok.example"
        assert ok.headers["vary"] == "Origin"
        other = await c.get("/health", headers={"origin": "https://other.example"})
        assert "access-control-allow-origin" not in other.headers
    await store.close()
