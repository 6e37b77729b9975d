"""SyncClient and AsyncClient against a scripted server (httpx.MockTransport): status
streams, polling, streams and uploads, the same assertions for both drivers."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import openfal.client as oc

BASE = "http://openfal.test"
REQ = f"{BASE}/queue/a/b/requests/r1"


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def status(state: str, logs: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": state, **extra}
    if state == "IN_QUEUE":
        body.setdefault("queue_position", 0)
    else:
        body["logs"] = None if logs is None else [{"message": m} for m in logs]
    return body


class FakeServer:
    """Just enough of openfal for the client: one app ``a/b``, one request ``r1``."""

    def __init__(self) -> None:
        self.status_stream: bytes | None = None  # None: the server has no status stream
        self.polls: list[dict[str, Any]] = []
        self.seen: list[tuple[str, str]] = []
        self.files: dict[str, bytes] = {}
        self.parts: dict[int, bytes] = {}
        self.completed_parts: list[int] = []
        self.cdn_fails = False
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append((request.method, path))
        self.headers.append(request.headers)
        handler = self.route(request.method, path)
        return handler(request)

    def route(self, method: str, path: str) -> Callable[[httpx.Request], httpx.Response]:
        routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {
            ("POST", "/queue/a/b"): self.submit,
            ("GET", "/queue/a/b/requests/r1/status/stream"): self.stream_status,
            ("GET", "/queue/a/b/requests/r1/status"): self.poll,
            ("GET", "/queue/a/b/requests/r1"): lambda r: httpx.Response(200, json={"out": 1}),
            ("PUT", "/queue/a/b/requests/r1/cancel"): lambda r: httpx.Response(202, json={}),
            ("POST", "/a/b/stream"): self.stream,
            ("POST", "/rest/storage/auth/token"): self.token,
            ("POST", "/cdn/files/upload"): self.cdn_upload,
            ("POST", "/cdn/files/upload/multipart"): self.multipart_create,
            ("POST", "/files/k/multipart/u/complete"): self.multipart_complete,
            ("POST", "/rest/storage/upload/initiate"): self.initiate,
            ("PUT", "/signed/k"): self.signed_put,
        }
        if method == "PUT" and path.startswith("/files/k/multipart/u/"):
            return self.part
        return routes.get((method, path), lambda r: httpx.Response(404, json={"detail": path}))

    def submit(self, request: httpx.Request) -> httpx.Response:
        urls = {"response_url": REQ, "status_url": f"{REQ}/status", "cancel_url": f"{REQ}/cancel"}
        return httpx.Response(200, json={"request_id": "r1", **urls, "queue_position": 0})

    def stream_status(self, request: httpx.Request) -> httpx.Response:
        if self.status_stream is None:
            return httpx.Response(404, json={"detail": "no"})
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, content=self.status_stream, headers=headers)

    def poll(self, request: httpx.Request) -> httpx.Response:
        body = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        return httpx.Response(202, json=body)

    def stream(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        if payload.get("fail"):
            return httpx.Response(500, json={"detail": "boom", "error_type": "runner_server_error"})
        if payload.get("plain"):
            return httpx.Response(200, json={"not": "a stream"})
        events = sse({"partial": True, "n": 1}, {"partial": False, "n": 2})
        return httpx.Response(
            200, content=b": hello\n\n" + events, headers={"content-type": "text/event-stream"}
        )

    def token(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "token": "t",
                "token_type": "Bearer",
                "base_url": f"{BASE}/cdn",
                "expires_at": "2999-01-01T00:00:00+00:00",
            },
        )

    def cdn_upload(self, request: httpx.Request) -> httpx.Response:
        if self.cdn_fails:
            return httpx.Response(500, json={"detail": "cdn down"})
        assert request.headers["authorization"] == "Bearer t"
        self.files["cdn"] = request.content
        return httpx.Response(200, json={"access_url": f"{BASE}/files/cdn"})

    def multipart_create(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_url": f"{BASE}/files/k", "uploadId": "u"})

    def part(self, request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.rsplit("/", 1)[1])
        self.parts[n] = request.content
        return httpx.Response(200, headers={"etag": f'"e{n}"'})

    def multipart_complete(self, request: httpx.Request) -> httpx.Response:
        parts = json.loads(request.content)["parts"]
        assert all(p["etag"] == f'"e{p["partNumber"]}"' for p in parts)
        self.completed_parts = [p["partNumber"] for p in parts]
        self.files["multipart"] = b"".join(self.parts[n] for n in self.completed_parts)
        return httpx.Response(200, json={"access_url": f"{BASE}/files/k"})

    def initiate(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"upload_url": f"{BASE}/signed/k?sig=1", "file_url": f"{BASE}/files/s"}
        )

    def signed_put(self, request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        self.files["storage"] = request.content
        return httpx.Response(200, json={})


class Driver:
    """Calls a SyncClient or an AsyncClient the same way."""

    def __init__(self, kind: str, fake: FakeServer, **settings: Any) -> None:
        self.kind = kind
        if kind == "sync":
            transport: Any = httpx.MockTransport(fake)
            self.client: Any = oc.SyncClient(base_url=BASE, transport=transport, **settings)
        else:
            transport = httpx.MockTransport(fake)
            self.client = oc.AsyncClient(base_url=BASE, transport=transport, **settings)

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        out = getattr(self.client, name)(*args, **kwargs)
        return self.finish(out)

    def finish(self, out: Any) -> Any:
        if inspect.isasyncgen(out):

            async def collect() -> list[Any]:
                return [x async for x in out]

            return asyncio.run(collect())
        if inspect.isawaitable(out):

            async def wait() -> Any:
                return await out

            return asyncio.run(wait())
        if inspect.isgenerator(out):
            return list(out)
        return out

    def handle(self) -> Any:
        return self("get_handle", "a/b", "r1")

    def events(self, handle: Any, **kwargs: Any) -> list[Any]:
        return self.finish(handle.iter_events(**kwargs))


@pytest.fixture
def fake() -> FakeServer:
    return FakeServer()


@pytest.fixture(params=["sync", "async"])
def drive(request: pytest.FixtureRequest, fake: FakeServer) -> Callable[..., Driver]:
    return lambda **settings: Driver(request.param, fake, **settings)


def test_status_stream_accumulates_log_lines(drive, fake):
    fake.status_stream = b": keep-alive\n\n" + sse(
        status("IN_QUEUE", queue_position=1),
        status("IN_PROGRESS", ["a"], progress={"step": 1, "total": 2}),
        status("IN_PROGRESS", ["b"]),
        status("IN_PROGRESS", []),  # nothing new: not reported again
        status("COMPLETED", [], metrics={"inference_time": 0.1}),
    )
    d = drive()
    events = d.events(d.handle(), with_logs=True)
    assert events == [
        oc.Queued(position=1),
        oc.InProgress(logs=[{"message": "a"}], progress={"step": 1, "total": 2}),
        oc.InProgress(logs=[{"message": "a"}, {"message": "b"}]),
        oc.Completed(logs=[{"message": "a"}, {"message": "b"}], metrics={"inference_time": 0.1}),
    ]
    assert ("GET", "/queue/a/b/requests/r1/status") not in fake.seen


def test_without_a_status_stream_it_polls(drive, fake):
    fake.polls = [status("IN_QUEUE"), status("IN_PROGRESS"), status("COMPLETED")]
    d = drive()
    out = d("subscribe", "a/b", {}, on_queue_update=(seen := []).append, interval=0.01)
    assert out == {"out": 1}
    assert [type(s).__name__ for s in seen] == ["Queued", "InProgress", "Completed"]
    assert fake.seen.count(("GET", "/queue/a/b/requests/r1/status")) == 3


def test_a_stream_that_ends_early_falls_back_to_polling(drive, fake):
    fake.status_stream = sse(status("IN_PROGRESS"))
    fake.polls = [status("COMPLETED", metrics={})]
    d = drive()
    assert d("result", "a/b", "r1") == {"out": 1}
    assert ("GET", "/queue/a/b/requests/r1/status") in fake.seen


def test_stream_events_and_errors(drive):
    d = drive()
    assert d("stream", "a/b", {}) == [{"partial": True, "n": 1}, {"partial": False, "n": 2}]
    with pytest.raises(oc.FalClientHTTPError) as e:
        d("stream", "a/b", {"fail": True})
    assert (e.value.status_code, e.value.error_type) == (500, "runner_server_error")
    with pytest.raises(oc.FalClientStreamError, match="not text/event-stream"):
        d("stream", "a/b", {"plain": True})


def test_multipart_upload_of_bytes_in_memory(drive, fake):
    data = bytes(range(256)) * 3 + b"tail"
    d = drive(multipart_threshold=100, multipart_chunk_size=64, multipart_concurrency=3)
    url = d("upload", data, "application/octet-stream", "blob.bin")
    assert url == f"{BASE}/files/k"
    assert fake.files["multipart"] == data
    assert fake.completed_parts == list(range(1, 14))
    assert all(len(fake.parts[n]) == 64 for n in range(1, 13)) and fake.parts[13] == b"tail"


def test_multipart_upload_of_a_file_reads_it_in_parts(drive, fake, tmp_path: Path):
    path = tmp_path / "clip.json"
    path.write_bytes(b'{"k": "v"}' * 50)
    d = drive(multipart_threshold=100, multipart_chunk_size=128)
    assert d("upload_file", path) == f"{BASE}/files/k"
    assert fake.files["multipart"] == path.read_bytes()
    create = fake.seen.index(("POST", "/cdn/files/upload/multipart"))
    assert fake.headers[create]["x-fal-file-name"] == "clip.json"
    assert fake.headers[create]["content-type"] == "application/json"


def test_small_uploads_and_the_storage_fallback(drive, fake):
    d = drive()
    assert d("upload", "hello", "text/plain") == f"{BASE}/files/cdn"
    assert fake.files["cdn"] == b"hello"
    fake.cdn_fails = True
    assert d("upload", b"again", "text/plain") == f"{BASE}/files/s"
    assert fake.files["storage"] == b"again"
    with pytest.raises(oc.FalClientHTTPError, match="cdn down"):
        d("upload", b"x", "text/plain", repository="fal_v3", fallback_repository=[])


def test_key_and_url_come_from_the_environment(monkeypatch, fake):
    monkeypatch.setenv("OPENFAL_URL", BASE + "/")
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setenv("FAL_KEY_ID", "id")
    monkeypatch.setenv("FAL_KEY_SECRET", "secret")
    client = oc.SyncClient(transport=httpx.MockTransport(fake))
    client.submit("a/b", {"x": 1}, hint="gpu-0")
    assert fake.headers[-1]["authorization"] == "Key id:secret"
    assert fake.headers[-1]["x-fal-runner-hint"] == "gpu-0"
    assert fake.seen[-1] == ("POST", "/queue/a/b")
    monkeypatch.setenv("FAL_KEY", "k2")
    client.cancel("a/b", "r1")
    assert fake.headers[-1]["authorization"] == "Key k2"
    with pytest.raises(ValueError, match="http://"):
        oc.SyncClient(base_url="openfal.test")


def test_async_client_timeout_is_exact_and_cancels(fake):
    """A status stream that stays silent: the async driver still stops on time."""
    silent = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status/stream"):

            async def body():
                yield sse(status("IN_PROGRESS"))
                await silent.wait()

            return httpx.Response(
                200, content=body(), headers={"content-type": "text/event-stream"}
            )
        return fake(request)

    client = oc.AsyncClient(base_url=BASE, transport=httpx.MockTransport(handler))
    seen: list[Any] = []
    started = time.monotonic()
    with pytest.raises(oc.FalClientTimeoutError) as e:
        asyncio.run(client.subscribe("a/b", {}, client_timeout=1.5, on_queue_update=seen.append))
    assert 1.4 < time.monotonic() - started < 10
    assert e.value.request_id == "r1"
    assert seen == [oc.InProgress(logs=None)]
    assert ("PUT", "/queue/a/b/requests/r1/cancel") in fake.seen
    assert fake.headers[0]["x-fal-request-timeout"] == "1.5"
