"""The delivery loop against a real HTTP receiver: signed, retried, recorded, exactly once."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest

from openfal.store import Store, WebhookDelivery, WebhookState
from openfal.webhooks import RetryPolicy, SigningKey, jwks, verify
from openfal.webhooks.sender import SenderConfig, WebhookSender

from .conftest import Receiver, _handler, _QuietServer

APP = "acme/echo"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = Store.from_url("memory://")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def config(**kw: object) -> SenderConfig:
    base: dict[str, object] = {
        "retry": RetryPolicy(max_attempts=10, first_delay=0.05, factor=1.5),
        "allow": ("127.0.0.1",),
        "poll_interval": 0.05,
        "timeout": 5.0,
    }
    base.update(kw)
    return SenderConfig(**base)  # type: ignore[arg-type]


async def started(store: Store, key: SigningKey, **kw: object) -> WebhookSender:
    sender = WebhookSender(store, key, config(**kw))
    await sender.start()
    return sender


async def finished(store: Store, request_id: str, timeout: float = 30.0) -> WebhookDelivery:
    async def done() -> WebhookDelivery:
        while True:
            wh = await store.get_webhook(request_id)
            if wh is not None and wh.state in (WebhookState.DELIVERED, WebhookState.FAILED):
                return wh
            await store.wait_for_webhooks(0.05)

    return await asyncio.wait_for(done(), timeout)


@contextmanager
def receiver_on(port: int) -> Iterator[Receiver]:
    """A receiver on a given port (one that was down until now)."""
    rec = Receiver(url=f"http://127.0.0.1:{port}")
    server = _QuietServer(("127.0.0.1", port), _handler(rec))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test_one_signed_post_that_verify_accepts(
    store: Store, key: SigningKey, receiver: Receiver
) -> None:
    sender = await started(store, key)
    try:
        rec = await store.enqueue(APP, "", b"{}", owner="alice", webhook_url=receiver.url + "/h")
        await store.complete(rec.id, status_code=200, body=b'{"images": [1, 2]}')
        got = await asyncio.to_thread(receiver.next_request)
        wh = await finished(store, rec.id)
    finally:
        await sender.stop()
    assert (got.method, got.path) == ("POST", "/h")
    assert json.loads(got.body) == {
        "request_id": rec.id,
        "gateway_request_id": rec.id,
        "status": "OK",
        "payload": {"images": [1, 2]},
    }
    assert got.headers["x-fal-webhook-request-id"] == rec.id
    assert got.headers["x-fal-webhook-user-id"] == "alice"
    assert got.headers["content-type"] == "application/json"
    document = jwks([key])
    assert verify(got.headers, got.body, document)
    altered = bytearray(got.body)
    altered[-2] ^= 1  # one byte
    assert not verify(got.headers, bytes(altered), document)
    assert receiver.requests.empty()  # one POST, no more
    assert wh.state is WebhookState.DELIVERED
    assert [a["status_code"] for a in wh.attempts] == [200]


async def test_receiver_down_at_first_then_delivered_on_a_retry(
    store: Store, key: SigningKey, closed_port: int
) -> None:
    sender = await started(store, key)
    try:
        rec = await store.enqueue(APP, "", b"{}", webhook_url=f"http://127.0.0.1:{closed_port}/")
        await store.complete(rec.id, status_code=200, body=b"{}")

        async def tries() -> int:
            wh = await store.get_webhook(rec.id)
            return len(wh.attempts) if wh is not None else 0

        while await tries() < 2:  # refused twice (nothing listens)
            await store.wait_for_webhooks(0.05)
        with receiver_on(closed_port) as up:
            wh = await finished(store, rec.id)
            got = await asyncio.to_thread(up.next_request)
    finally:
        await sender.stop()
    assert wh.state is WebhookState.DELIVERED
    attempts = wh.attempts
    assert attempts[-1]["status_code"] == 200 and len(attempts) >= 3
    assert all(a["status_code"] is None and "connection" in a["error"] for a in attempts[:-1])
    assert json.loads(got.body)["request_id"] == rec.id


async def test_gives_up_after_max_attempts(store: Store, key: SigningKey, closed_port: int) -> None:
    sender = await started(store, key, retry=RetryPolicy(max_attempts=2, first_delay=0.05))
    try:
        rec = await store.enqueue(APP, "", b"{}", webhook_url=f"http://127.0.0.1:{closed_port}/")
        await store.complete(rec.id, status_code=200, body=b"{}")
        wh = await finished(store, rec.id)
    finally:
        await sender.stop()
    assert wh.state is WebhookState.FAILED
    assert len(wh.attempts) == 2
    assert wh.error.startswith("gave up after 2 attempt(s): connection failed")


async def test_an_error_webhook_carries_the_error(
    store: Store, key: SigningKey, receiver: Receiver
) -> None:
    sender = await started(store, key)
    try:
        rec = await store.enqueue(APP, "", b"{}", webhook_url=receiver.url)
        await store.fail(rec.id, 503, "App acme/echo failed to start", "runner_scheduling_failure")
        app_error = await store.enqueue(APP, "", b"{}", webhook_url=receiver.url)
        await store.complete(app_error.id, status_code=422, body=b'{"detail": [{"loc": ["body"]}]}')
        bodies = {}
        for _ in range(2):
            got = await asyncio.to_thread(receiver.next_request)
            bodies[got.headers["x-fal-webhook-request-id"]] = json.loads(got.body)
    finally:
        await sender.stop()
    assert bodies[rec.id] == {
        "request_id": rec.id,
        "gateway_request_id": rec.id,
        "status": "ERROR",
        "error": "App acme/echo failed to start",
        "payload": {
            "detail": "App acme/echo failed to start",
            "error_type": "runner_scheduling_failure",
        },
    }
    assert bodies[app_error.id]["status"] == "ERROR"
    assert bodies[app_error.id]["error"] == "Invalid status code: 422"
    assert bodies[app_error.id]["payload"] == {"detail": [{"loc": ["body"]}]}


async def test_a_private_url_not_allow_listed_fails_without_a_call(
    store: Store, key: SigningKey, receiver: Receiver
) -> None:
    sender = await started(store, key, allow=())
    try:
        rec = await store.enqueue(APP, "", b"{}", webhook_url=receiver.url)
        await store.complete(rec.id, status_code=200, body=b"{}")
        wh = await finished(store, rec.id)
    finally:
        await sender.stop()
    assert wh.state is WebhookState.FAILED
    assert "is loopback" in wh.error
    assert len(wh.attempts) == 1 and receiver.requests.empty()


async def test_two_senders_deliver_each_webhook_once(
    store: Store, key: SigningKey, receiver: Receiver
) -> None:
    senders = [await started(store, key), await started(store, key)]
    try:
        ids = []
        for i in range(10):
            rec = await store.enqueue(APP, "", b"{}", webhook_url=f"{receiver.url}/{i}")
            ids.append(rec.id)
        for request_id in ids:
            await store.complete(request_id, status_code=200, body=b"{}")
        got = [await asyncio.to_thread(receiver.next_request) for _ in ids]
        for request_id in ids:
            await finished(store, request_id)
    finally:
        for s in senders:
            await s.stop()
    assert sorted(g.headers["x-fal-webhook-request-id"] for g in got) == sorted(ids)
    assert receiver.requests.empty()
    for request_id in ids:
        wh = await store.get_webhook(request_id)
        assert wh is not None and len(wh.attempts) == 1
