"""The stream surface: ``POST /{app_id}[/path]/stream`` as server-sent events (PROTOCOL.md §6).

A streaming call is a request like any other (id, logs, ``openfal requests``, timeouts,
retries): the worker relays the runner's ``event`` lines into the store and this route
relays them from there, each as soon as it is published. SSE is sent whatever ``Accept``
says. An error before the first event is a plain JSON error with its status; an error
after it ends the stream with an ``event: error`` whose data is the error body. The last
data event of a successful stream is the request's result. A client that goes away
cancels the request, which stops the generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from openfal.gateway.errors import GatewayError
from openfal.gateway.ids import EndpointRef, parse_endpoint
from openfal.gateway.routes import run
from openfal.gateway.routes.common import accept, registry, result_response, settings, store
from openfal.store import RequestRecord, Store

__all__ = ["EventStream", "stream"]

log = logging.getLogger("openfal.gateway")

_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


async def stream(request: Request) -> Response:
    """``POST /{path}/stream``: the endpoint at ``path`` (or one literally named ``stream``)."""
    ref, streamed = await _target(request)
    if not streamed:  # "/owner/stream": a direct run of the app called "stream"
        return await run.run_endpoint(request, ref)
    entry = await registry(request).endpoint(ref.app_id, ref.path)
    single = not entry.record.endpoints[ref.path].get("streaming", False)
    rec = await accept(request, ref, mode="stream")
    request.scope["openfal.request_id"] = rec.id
    rec, first = await _until_first_event(request, rec)
    if not first and rec.is_done and not rec.succeeded:
        return result_response(rec)  # failed before streaming: a JSON error, its own status
    keepalive = settings(request).keepalive_interval
    events = _relay(store(request), rec, first, single, keepalive)
    headers = {**_HEADERS, "x-fal-request-id": rec.id}
    return EventStream(events, headers, on_disconnect=lambda: _cancel(store(request), rec.id))


async def _target(request: Request) -> tuple[EndpointRef, bool]:
    """The endpoint called, and whether ``/stream`` asked for its events (not an app id part)."""
    full = parse_endpoint(request.path_params["path"] + "/stream")
    if full.path != "stream" and not full.path.endswith("/stream"):
        return full, False
    entry = await registry(request).get(full.app_id)
    if full.path in entry.record.endpoints:
        return full, True  # the app has an endpoint literally at .../stream
    return EndpointRef(full.app_id, full.path.removesuffix("stream").rstrip("/")), True


async def _until_first_event(
    request: Request, rec: RequestRecord
) -> tuple[RequestRecord, list[bytes]]:
    """Wait for the first event or the end; a caller who leaves meanwhile cancels it."""
    waiting = asyncio.create_task(_first_event(store(request), rec))
    gone = asyncio.create_task(_disconnected(request.receive))
    await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
    left = not waiting.done()
    for task in (waiting, gone):
        task.cancel()
    await asyncio.gather(waiting, gone, return_exceptions=True)
    if left:
        await _cancel(store(request), rec.id)
        raise GatewayError(
            "Client disconnected",
            status_code=499,
            error_type="client_disconnected",
            headers={"x-fal-request-id": rec.id},
        )
    return waiting.result()


async def _first_event(st: Store, rec: RequestRecord) -> tuple[RequestRecord, list[bytes]]:
    while True:
        current = await st.get(rec.id)
        if current is None:
            raise GatewayError("Request vanished", headers={"x-fal-request-id": rec.id})
        # Read after the record: a worker publishes every event before it completes.
        events = await st.get_events(rec.id)
        if events or current.is_done:
            return current, events
        await st.wait_for_change(rec.id, 1.0)


async def _relay(
    st: Store, first_rec: RequestRecord, first: list[bytes], single: bool, keepalive: float
) -> AsyncIterator[bytes]:
    """Every event as it is published, then the end: nothing more, an error or the result."""
    loop = asyncio.get_running_loop()
    request_id, attempt = first_rec.id, _attempt(first_rec)
    for data in first:
        yield _data(data)
    sent, last_write = len(first), loop.time()
    while True:
        rec = await st.get(request_id)
        if rec is not None and (now := _attempt(rec)) not in (None, attempt):
            # a requeue dropped the dead attempt's events: the new attempt's count from 0
            sent = 0 if attempt is not None else sent
            attempt = now
        events = await st.get_events(request_id, since=sent)
        for data in events:
            yield _data(data)
        if events:
            sent, last_write = sent + len(events), loop.time()
        if rec is None:
            return
        if rec.is_done:
            if not rec.succeeded:
                yield b"event: error\n" + _data(_error_body(rec))
            elif sent == 0 and single:  # not a generator: its output is the one event
                yield _data(rec.result or b"null")
            return
        quiet = loop.time() - last_write
        if quiet >= keepalive:
            yield b": keep-alive\n\n"
            last_write = loop.time()
            continue
        await st.wait_for_change(request_id, keepalive - quiet)


def _attempt(rec: RequestRecord) -> tuple[str | None, float] | None:
    """Which run of a request this is (None while it waits in the queue)."""
    return None if rec.started_at is None else (rec.worker_id, rec.started_at)


def _data(payload: bytes) -> bytes:
    # JSON never holds a raw newline, so one data line carries the whole payload
    return b"data: " + payload + b"\n\n"


def _error_body(rec: RequestRecord) -> bytes:
    body: object = None
    with contextlib.suppress(ValueError, TypeError):
        body = json.loads(rec.result or b"")
    if not isinstance(body, dict):
        body = {"detail": rec.error or body, "error_type": rec.error_type}
    return json.dumps({**body, "status_code": rec.status_code}).encode()


async def _cancel(st: Store, request_id: str) -> None:
    rec = await st.get(request_id)
    if rec is not None and not rec.is_done:
        await st.cancel(request_id)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStream(StreamingResponse):
    """``text/event-stream`` that calls ``on_disconnect`` if the client leaves before the end.

    The disconnect is noticed at once (the client's side of the connection is watched while
    the body is sent), not at the next write.
    """

    def __init__(
        self,
        content: AsyncIterator[bytes],
        headers: dict[str, str],
        on_disconnect: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(content, headers=headers, media_type="text/event-stream")
        self.on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = asyncio.create_task(self.stream_response(send))
        gone = asyncio.create_task(_disconnected(receive))
        await asyncio.wait({body, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (body, gone):
            task.cancel()
        await asyncio.gather(body, gone, return_exceptions=True)
        if body.cancelled() or body.exception() is not None:
            error = None if body.cancelled() else body.exception()
            if error is not None and not isinstance(error, OSError):
                log.error("event stream failed", exc_info=error)
            await self.on_disconnect()
