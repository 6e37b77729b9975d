"""The gateway's ``/stream`` route in-process: a memory store plays the worker, and the ASGI
app is driven directly so every chunk (and a disconnect) is seen as it happens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from openfal.gateway import AppRegistry, GatewaySettings, create_app
from openfal.store import AppRecord, RequestRecord, Store

GENERATOR = {"": {"input_schema": None, "output_schema": None, "streaming": True}}
PLAIN = {"": {"input_schema": None, "output_schema": None}}


@dataclass
class Call:
    """One HTTP call into the ASGI app; chunks are recorded as they are sent."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    sent: asyncio.Event = field(default_factory=asyncio.Event)  # set on every chunk
    disconnect: asyncio.Event = field(default_factory=asyncio.Event)  # set it to hang up

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def wait_for(self, needle: bytes) -> None:
        while needle not in self.body:
            self.sent.clear()
            await asyncio.wait_for(self.sent.wait(), 30)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Any, Store]]:
    store = Store.from_url("memory://")
    await store.open()
    await store.register_app(AppRecord("test/gen", "x.py::Gen", endpoints=GENERATOR))
    await store.register_app(AppRecord("owner/stream", "x.py::S", endpoints=PLAIN))
    app = create_app(store, AppRegistry(store), GatewaySettings(keepalive_interval=0.05))
    yield app, store
    await store.close()


async def post(app: Any, path: str, call: Call, body: bytes = b"{}") -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await call.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            call.status = message["status"]
            call.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message.get("body"):
            call.chunks.append(message["body"])
        call.sent.set()

    await app(scope, receive, send)


async def claimed(store: Store, app_id: str) -> RequestRecord:
    rec = await store.claim([app_id], "worker-1", timeout=30)
    assert rec is not None
    return rec


async def test_events_are_relayed_as_published_with_keepalives_on_quiet_stretches(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/test/gen/stream", call))
    rec = await claimed(store, "test/gen")
    await store.publish_event(rec.id, b'{"i": 0}')
    await call.wait_for(b'data: {"i": 0}\n\n')
    await call.wait_for(b": keep-alive\n\n")  # nothing new for keepalive_interval seconds
    await store.publish_event(rec.id, b'{"i": 1}')
    await store.complete(rec.id, status_code=200, body=b'{"i": 1}', worker_id="worker-1")
    await asyncio.wait_for(serving, 30)
    assert call.status == 200
    assert call.headers["content-type"].startswith("text/event-stream")
    assert call.headers["x-fal-request-id"] == rec.id
    data = [line for line in call.body.split(b"\n") if line.startswith(b"data: ")]
    assert data == [b'data: {"i": 0}', b'data: {"i": 1}']  # the result is not sent twice
    assert (await store.get(rec.id)).mode == "stream"


async def test_a_client_that_hangs_up_cancels_the_request(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/test/gen/stream", call))
    rec = await claimed(store, "test/gen")
    await store.publish_event(rec.id, b'{"i": 0}')
    await call.wait_for(b"data: ")
    call.disconnect.set()
    await asyncio.wait_for(serving, 30)
    assert (await store.get(rec.id)).cancel_requested


async def test_hanging_up_before_the_first_event_cancels_too(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/test/gen/stream", call))
    rec = await claimed(store, "test/gen")
    call.disconnect.set()
    await asyncio.wait_for(serving, 30)
    assert (await store.get(rec.id)).cancel_requested
    assert call.status == 499


async def test_a_failure_before_the_first_event_is_json_with_its_status(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/test/gen/stream", call))
    rec = await claimed(store, "test/gen")
    await store.fail(rec.id, 503, "no runner", "runner_scheduling_failure", worker_id="worker-1")
    await asyncio.wait_for(serving, 30)
    assert call.status == 503
    assert call.headers["content-type"] == "application/json"
    assert call.headers["x-fal-error-type"] == "runner_scheduling_failure"
    assert json.loads(call.body)["detail"] == "no runner"


async def test_a_failure_after_the_first_event_is_an_error_event(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/test/gen/stream", call))
    rec = await claimed(store, "test/gen")
    await store.publish_event(rec.id, b'{"i": 0}')
    await store.fail(rec.id, 504, "too slow", "request_timeout", worker_id="worker-1")
    await asyncio.wait_for(serving, 30)
    assert call.status == 200
    tail = call.body.split(b"\n\n")[-2].split(b"\n")
    assert tail[0] == b"event: error"
    error = json.loads(tail[1].removeprefix(b"data: "))
    assert error == {"detail": "too slow", "error_type": "request_timeout", "status_code": 504}


async def test_a_stream_goes_on_with_the_next_attempt_after_a_requeue(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/test/gen/stream", call))
    rec = await claimed(store, "test/gen")
    for i in range(3):
        await store.publish_event(rec.id, json.dumps({"try": 1, "i": i}).encode())
    await call.wait_for(b'data: {"try": 1, "i": 2}\n\n')
    assert await store.requeue(rec.id, "worker-1", "runner died", "runner_disconnected")
    again = await store.claim(["test/gen"], "worker-2", timeout=30)
    assert again is not None and again.id == rec.id
    await store.publish_event(rec.id, b'{"try": 2, "i": 0}')
    # keep-alives flow meanwhile: bound the whole wait, not each chunk's
    await asyncio.wait_for(call.wait_for(b'data: {"try": 2, "i": 0}\n\n'), 30)
    await store.publish_event(rec.id, b'{"try": 2, "i": 1}')
    await store.complete(rec.id, status_code=200, body=b"{}", worker_id="worker-2")
    await asyncio.wait_for(serving, 30)
    data = [json.loads(line[6:]) for line in call.body.split(b"\n") if line.startswith(b"data: ")]
    assert [(d["try"], d["i"]) for d in data] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    assert await store.get_events(rec.id) == [b'{"try": 2, "i": 0}', b'{"try": 2, "i": 1}']


async def test_an_app_called_stream_is_run_not_streamed(gateway):
    app, store = gateway
    call = Call()
    serving = asyncio.create_task(post(app, "/owner/stream", call))
    rec = await claimed(store, "owner/stream")
    assert rec.mode == "run"
    await store.complete(rec.id, status_code=200, body=b'{"ok": true}', worker_id="worker-1")
    await asyncio.wait_for(serving, 30)
    assert call.headers["content-type"] == "application/json"
    assert json.loads(call.body) == {"ok": True}
