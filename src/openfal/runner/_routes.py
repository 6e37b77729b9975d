"""HTTP handlers of a runner, per docs/runner-protocol.md."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from openfal.runner._active import ActiveRequest, DuplicateRequest
from openfal.runner._events import Event, OutputEvent, ResultEvent, to_line
from openfal.runner._runner import Runner
from openfal.runner._stream import sse

__all__ = ["cancel", "endpoint_handler", "health", "not_found"]

REQUEST_ID = "x-fal-request-id"
EVENTS = "x-openfal-events"


def _runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


async def health(request: Request) -> JSONResponse:
    """200 with status, hints and in-flight count; 503 when the app reports a problem."""
    runner = _runner(request)
    try:
        return JSONResponse(await runner.health())
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        body = {"status": "error", "detail": detail, "in_flight": len(runner.requests)}
        return JSONResponse(body, status_code=503)


async def cancel(request: Request) -> JSONResponse:
    """Cancel the running request named by the x-fal-request-id header."""
    request_id = request.headers.get(REQUEST_ID)
    if not request_id:
        return JSONResponse({"detail": f"Missing {REQUEST_ID} header"}, status_code=400)
    active = _runner(request).requests.get(request_id)
    if active is None:
        return JSONResponse({"detail": f"Request {request_id} is not running here"}, 404)
    active.cancel()
    return JSONResponse({"status": "CANCELLATION_REQUESTED"}, headers={REQUEST_ID: request_id})


def endpoint_handler(path: str) -> Callable[[Request], Awaitable[Response]]:
    """The POST handler of the endpoint at `path` (without its leading slash)."""

    async def handle(request: Request) -> Response:
        return await _call(request, path)

    return handle


async def _call(request: Request, path: str) -> Response:
    runner = _runner(request)
    request_id = request.headers.get(REQUEST_ID) or str(uuid.uuid4())
    headers = {REQUEST_ID: request_id}
    ndjson = request.headers.get(EVENTS, "").lower() == "ndjson"
    streaming = runner.endpoints[path].is_generator
    body = await request.body()
    try:
        active, task = runner.start(path, request_id, request.headers, body, ndjson or streaming)
    except DuplicateRequest:
        detail = f"Request {request_id} is already running here"
        return JSONResponse({"detail": detail}, status_code=409, headers=headers)
    if ndjson:
        events = _events(active, task)
        return StreamingResponse(events, media_type="application/x-ndjson", headers=headers)
    if streaming:
        return await _server_sent(active, task, headers)
    result = await task
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)


async def _events(active: ActiveRequest, task: asyncio.Task[ResultEvent]) -> AsyncIterator[bytes]:
    assert active.events is not None
    try:
        while True:
            event = await active.events.get()
            yield to_line(event)
            if isinstance(event, ResultEvent):
                return
    finally:
        if not task.done():
            active.cancel()  # the reader went away: nobody will read the result


async def _server_sent(
    active: ActiveRequest, task: asyncio.Task[ResultEvent], headers: dict[str, str]
) -> Response:
    """A streaming endpoint in plain mode: SSE of its items, or JSON if it fails first."""
    first = await _next_output(active)
    if isinstance(first, ResultEvent) and first.status_code >= 400:
        return JSONResponse(first.body, status_code=first.status_code, headers=headers)
    events = _sse_events(active, task, first)
    headers = {**headers, "cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def _next_output(active: ActiveRequest) -> OutputEvent | ResultEvent:
    assert active.events is not None
    while True:
        event: Event = await active.events.get()
        if isinstance(event, OutputEvent | ResultEvent):
            return event


async def _sse_events(
    active: ActiveRequest, task: asyncio.Task[ResultEvent], first: OutputEvent | ResultEvent
) -> AsyncIterator[bytes]:
    event = first
    try:
        while isinstance(event, OutputEvent):
            yield sse(event.data)
            event = await _next_output(active)
        if event.status_code >= 400:  # failed after its first item: say so as the last event
            yield sse(error_event(event), "error")
    finally:
        if not task.done():
            active.cancel()  # the reader went away


def error_event(result: ResultEvent) -> dict[str, Any]:
    """The data of the SSE event that ends a stream which failed after it started."""
    body = result.body if isinstance(result.body, dict) else {"detail": result.body}
    return {**body, "status_code": result.status_code}


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths (and known paths with another method) in the protocol's 404 shape."""
    if isinstance(exc, HTTPException) and exc.status_code not in (404, 405):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": f"Path {request.url.path} not found"}, status_code=404)
