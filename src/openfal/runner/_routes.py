"""HTTP handlers of a runner, per docs/runner-protocol.md."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from openfal.runner._active import ActiveRequest, DuplicateRequest
from openfal.runner._events import ResultEvent, to_line
from openfal.runner._runner import Runner

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
    stream = request.headers.get(EVENTS, "").lower() == "ndjson"
    body = await request.body()
    try:
        active, task = runner.start(path, request_id, request.headers, body, stream)
    except DuplicateRequest:
        detail = f"Request {request_id} is already running here"
        return JSONResponse({"detail": detail}, status_code=409, headers=headers)
    if stream:
        events = _events(active, task)
        return StreamingResponse(events, media_type="application/x-ndjson", headers=headers)
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


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths (and known paths with another method) in the protocol's 404 shape."""
    if isinstance(exc, HTTPException) and exc.status_code not in (404, 405):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": f"Path {request.url.path} not found"}, status_code=404)
