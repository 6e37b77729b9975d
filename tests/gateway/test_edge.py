"""The edge: hot routes pick what the router would, the status stream stops when its client
leaves, request ids are UUIDs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from starlette.routing import Match

from openfal.gateway import AppRegistry, create_app
from openfal.gateway.hot_routes import HotRoutes
from openfal.gateway.ids import new_request_id
from openfal.sdk import describe, endpoint_models, load_app
from openfal.store import AppRecord, Store
from tests.e2e.harness import app_ref

PATHS = [
    "/",
    "/a",
    "/openfal/echo",
    "/openfal/echo/",
    "/openfal/echo/upper",
    "/openfal/echo/stream",
    "/openfal/stream",
    "/1234-echo",
    "/workflows/a/b/c",
    "/health",
    "/healthy/x",
    "/metrics",
    "/rest/keys",
    "/rest/nothing/here",
    "/restless/x",
    "/files/k",
    "/cdn/files/upload",
    "/ui",
    "/ui/app.js",
    "/api/fal/proxy",
    "/openapi.json",
    "/.well-known/jwks.json",
    "/queue",
    "/queue/",
    "/queue/openfal/echo",
    "/queue/openfal/echo/requests/abc",
    "/queue/openfal/echo/requests/abc/status",
    "/queue/openfal/echo/requests/abc/status/stream",
    "/queue/openfal/echo/requests/abc/cancel",
    "/openfal/echo\nx",
]


def scope_of(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def routed(app: Any, scope: dict[str, Any]) -> Any:
    """The endpoint Starlette's router picks: the first full match."""
    for route in app.router.routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return child.get("endpoint")
    return None


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", PATHS)
def test_a_hot_route_is_the_routers_choice(method: str, path: str) -> None:
    app = create_app(Store.from_url("memory://"))
    scope = scope_of(method, path)
    found = HotRoutes(app).match(scope)
    if found is not None:
        endpoint, param = found
        assert routed(app, scope) is endpoint
        assert param == path.removeprefix("/queue/").removeprefix("/")


def test_the_direct_run_is_hot_but_not_what_a_new_route_takes() -> None:
    app = create_app(Store.from_url("memory://"))
    hot = HotRoutes(app)
    assert hot.match(scope_of("POST", "/openfal/echo")) is not None
    app.router.add_route("/openfal/special", lambda r: None, methods=["POST"])
    assert hot.stale  # the edge makes the table again
    assert HotRoutes(app).match(scope_of("POST", "/openfal/echo")) is None  # the router's


def test_request_ids_are_uuid4() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for rid in ids:
        parsed = uuid.UUID(rid)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == rid


async def test_the_status_stream_stops_when_its_client_leaves() -> None:
    store = Store.from_url("memory://")
    await store.open()
    registry = AppRegistry(store)
    cls = load_app(app_ref("echo"))
    info = describe(cls)
    record = AppRecord(info["app_id"], app_ref("echo"), info["settings"], info["endpoints"])
    await store.register_app(record)
    registry.add_local(record, endpoint_models(cls))
    app = create_app(store, registry)
    rec = await store.enqueue(record.app_id, "", b'{"message": "hi"}')  # no runner: stays queued
    sent: list[dict[str, Any]] = []
    first_event, leave = asyncio.Event(), asyncio.Event()

    async def receive() -> dict[str, Any]:
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body"):
            first_event.set()

    path = f"/queue/{record.app_id}/requests/{rec.id}/status/stream"
    scope = {**scope_of("GET", path), "query_string": b"", "headers": [(b"host", b"t")]}
    served = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(first_event.wait(), 5)
    assert b"IN_QUEUE" in sent[1]["body"]
    leave.set()
    await asyncio.wait_for(served, 5)  # returns: the generator was stopped, nothing raised
    assert not served.cancelled()
    await store.close()
