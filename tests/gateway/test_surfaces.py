"""Gateway surfaces in-process: memory store, ASGI transport, no runner (the store plays it)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from openfal.gateway import AppRegistry, create_app
from openfal.sdk import describe, endpoint_models, load_app
from openfal.store import AppRecord, LogEntry, Store
from tests.e2e.harness import app_ref


@pytest.fixture
async def gw() -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    store = Store.from_url("memory://")
    await store.open()
    registry = AppRegistry(store)
    for ref, app_id in ((app_ref("echo"), None), (app_ref("echo"), "1234/test")):
        cls = load_app(ref)
        info = describe(cls)
        record = AppRecord(
            app_id=app_id or info["app_id"],
            source=ref,
            settings=info["settings"],
            endpoints=info["endpoints"],
        )
        await store.register_app(record)
        registry.add_local(record, endpoint_models(cls))
    app = create_app(store, registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c, store
    await store.close()


async def submit(c: httpx.AsyncClient, path: str = "/queue/openfal/echo", **kw) -> dict:
    r = await c.post(path, json={"message": "hi"}, **kw)
    assert r.status_code == 200, r.text
    return r.json()


async def test_submit_answers_the_four_urls_built_from_owner_alias(gw):
    c, _ = gw
    r = await c.post("/queue/openfal/echo/upper", json={"message": "hi"})
    body = r.json()
    rid = body["request_id"]
    base = f"http://testserver/queue/openfal/echo/requests/{rid}"
    assert body == {
        "status": "IN_QUEUE",
        "request_id": rid,
        "gateway_request_id": rid,
        "response_url": base,
        "status_url": base + "/status",
        "cancel_url": base + "/cancel",
        "queue_position": 0,
    }
    assert r.headers["x-fal-request-id"] == rid


async def test_host_routing_and_legacy_ids(gw):
    c, _ = gw
    r = await c.post(
        "/openfal/echo", json={"message": "hi"}, headers={"host": "queue.example"}, params={}
    )
    # queue.* host: POST /openfal/echo is a submit, and the URLs have no /queue prefix
    assert r.status_code == 200
    assert r.json()["status_url"].startswith("http://queue.example/openfal/echo/requests/")
    legacy = await submit(c, "/queue/1234-test")
    assert "/queue/1234/test/requests/" in legacy["status_url"]
    r = await c.get(legacy["status_url"].replace("http://testserver", ""))
    assert r.status_code == 202


async def test_status_shapes_and_logs_flag(gw):
    c, store = gw
    first, second = await submit(c), await submit(c)
    r = await c.get(second["status_url"], params={"logs": "1"})
    assert r.status_code == 202
    assert r.json()["queue_position"] == 1 and "logs" not in r.json()

    rec = await store.claim(["openfal/echo"], "w")
    assert rec is not None and rec.id == first["request_id"]
    await store.append_logs(
        rec.id, [LogEntry("working", "STDOUT", "USER", "2026-01-01T00:00:00+00:00")]
    )
    await store.set_progress(rec.id, {"step": 1, "total": 2, "message": None})
    for flag, logs in (
        (
            "1",
            [
                {
                    "message": "working",
                    "level": "STDOUT",
                    "source": "USER",
                    "timestamp": "2026-01-01T00:00:00+00:00",
                }
            ],
        ),
        ("true", "same"),
        ("0", None),
        ("false", None),
    ):
        body = (await c.get(first["status_url"], params={"logs": flag})).json()
        assert body["status"] == "IN_PROGRESS"
        assert body["progress"] == {"step": 1, "total": 2, "message": None}
        if logs != "same":
            assert body["logs"] == logs
    assert (await c.get(first["status_url"], params={"logs": "yes"})).status_code == 400

    r = await c.get(first["response_url"])
    assert r.status_code == 400 and r.json()["detail"] == "Request is still in progress"

    await store.complete(
        rec.id,
        status_code=200,
        body=b'{"message": "hi"}',
        metrics={"inference_time": 0.5},
        worker_id="w",
    )
    r = await c.get(first["status_url"])
    assert r.status_code == 200
    assert r.json()["status"] == "COMPLETED" and r.json()["logs"] is None
    assert r.json()["metrics"] == {"inference_time": 0.5}
    r = await c.get(first["response_url"])
    assert r.json() == {"message": "hi"} and r.headers["x-fal-request-id"] == rec.id


async def test_failed_result_carries_status_and_error_type(gw):
    c, store = gw
    sub = await submit(c)
    rec = await store.claim(["openfal/echo"], "w")
    await store.fail(rec.id, 500, "Internal Server Error", "runner_server_error", worker_id="w")
    status = (await c.get(sub["status_url"])).json()
    assert status["error"] == "Internal Server Error"
    assert status["error_type"] == "runner_server_error"
    r = await c.get(sub["response_url"])
    assert r.status_code == 500 and r.headers["x-fal-error-type"] == "runner_server_error"


async def test_status_stream_closes_after_completed(gw):
    c, store = gw
    sub = await submit(c)
    rec = await store.claim(["openfal/echo"], "w")
    await store.complete(rec.id, status_code=200, body=b"{}", worker_id="w")
    async with c.stream("GET", sub["status_url"] + "/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) async for line in r.aiter_lines() if line.startswith("data: ")
        ]
    assert [e["status"] for e in events] == ["COMPLETED"]


async def test_cancel_and_priorities(gw):
    c, _ = gw
    normal = await submit(c)
    low = await submit(c, headers={"x-fal-queue-priority": "low"})
    later = await submit(c)
    assert (await c.get(later["status_url"])).json()["queue_position"] == 1  # ahead of low
    assert (await c.get(low["status_url"])).json()["queue_position"] == 2
    r = await c.put(normal["cancel_url"])
    assert r.status_code == 202 and r.json() == {"status": "CANCELLATION_REQUESTED"}
    status = (await c.get(normal["status_url"])).json()
    assert status["status"] == "COMPLETED" and status["error_type"] == "client_cancelled"
    r = await c.put(normal["cancel_url"])
    assert r.status_code == 400 and r.json() == {"status": "ALREADY_COMPLETED"}
    r = await c.post(
        "/queue/openfal/echo", json={"message": "x"}, headers={"x-fal-queue-priority": "urgent"}
    )
    assert r.status_code == 400 and "X-Fal-Queue-Priority" in r.json()["detail"]


async def test_not_found_shapes_all_carry_a_request_id(gw):
    c, _ = gw
    for method, path in (
        ("GET", "/queue/openfal/echo/requests/nope/status"),
        ("PUT", "/queue/openfal/echo/requests/nope/cancel"),
        ("POST", "/queue/nobody/app"),
        ("POST", "/openfal/echo/missing"),
    ):
        r = await c.request(method, path, json={"message": "x"})
        assert r.status_code == 404, (method, path, r.text)
        assert "detail" in r.json() and r.headers["x-fal-request-id"]
    r = await c.get("/no/such/page")  # run paths are POST only
    assert r.status_code == 405 and r.json()["detail"] == "Method Not Allowed"


async def test_request_for_another_app_is_not_found(gw):
    c, _ = gw
    sub = await submit(c)
    r = await c.get(f"/queue/1234/test/requests/{sub['request_id']}/status")
    assert r.status_code == 404


async def test_endpoint_openapi(gw):
    c, _ = gw
    r = await c.get("/rest/openapi/queue/openapi.json", params={"endpoint_id": "openfal/echo"})
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert "/openfal/echo" in doc["paths"]
    assert "/openfal/echo/requests/{request_id}/status" in doc["paths"]
    assert doc["components"]["schemas"]["Input"]["properties"]["message"]["type"] == "string"
    assert (await c.get("/openapi.json")).json()["info"]["title"] == "openfal gateway"
    r = await c.get("/rest/openapi/queue/openapi.json", params={"endpoint_id": "x/y"})
    assert r.status_code == 404
