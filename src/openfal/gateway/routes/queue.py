"""The queue surface: submit, status, status stream, result, cancel (PROTOCOL.md §5)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from openfal.gateway.auth import may_see
from openfal.gateway.errors import BadRequest, NotFound
from openfal.gateway.ids import RequestRef, parse_endpoint, parse_request_path
from openfal.gateway.routes.common import (
    accept,
    is_pending,
    log_json,
    result_response,
    settings,
    store,
)
from openfal.store import CancelOutcome, RequestRecord, RequestStatus


def queue_base(request: Request) -> str:
    """Where the queue surface lives for this caller: host routing or the /queue prefix."""
    root = f"{_origin(request)}{request.scope.get('root_path', '')}"
    if request.scope.get("openfal.surface") == "queue":
        return f"{root}/"
    return f"{root}/queue/"


_ORIGINS: dict[tuple[Any, ...], str] = {}


def _origin(request: Request) -> str:
    """``scheme://netloc`` of the request's URL, remembered: it depends only on the scheme,
    the Host header and the server address, which repeat (building the URL does not)."""
    scope = request.scope
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    server = scope.get("server")
    key = (scope.get("scheme", "http"), host, tuple(server) if server else None)
    origin = _ORIGINS.get(key)
    if origin is None:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        if len(_ORIGINS) >= 64:  # Host headers are the caller's to choose: stay small
            _ORIGINS.clear()
        _ORIGINS[key] = origin
    return origin


def urls(request: Request, rec: RequestRecord) -> dict[str, str]:
    base = f"{queue_base(request)}{rec.app_id}/requests/{rec.id}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


async def status_body(
    request: Request, rec: RequestRecord, logs: list[dict[str, str]] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": rec.status.value, "request_id": rec.id, **urls(request, rec)}
    if rec.status is RequestStatus.IN_QUEUE:
        body["queue_position"] = await store(request).queue_position(rec)
    else:
        body["logs"] = logs
        body["metrics"] = rec.metrics
    if rec.progress is not None and rec.status is RequestStatus.IN_PROGRESS:
        body["progress"] = rec.progress
    if rec.error_type or rec.error:
        body["error"] = rec.error
        body["error_type"] = rec.error_type
    return body


def _logs_flag(request: Request) -> bool:
    if not request.scope.get("query_string"):
        return False
    raw = request.query_params.get("logs", "0").lower()
    if raw not in ("1", "0", "true", "false", ""):
        raise BadRequest(f"Invalid logs flag {raw!r}: use 1, 0, true or false")
    return raw in ("1", "true")


async def submit(request: Request) -> Response:
    ref = parse_endpoint(request.path_params["path"])
    rec = await accept(request, ref, mode="queue")
    body = {
        "status": "IN_QUEUE",
        "request_id": rec.id,
        "gateway_request_id": rec.id,
        **urls(request, rec),
        "queue_position": await store(request).queue_position(rec),
    }
    return JSONResponse(body, headers={"x-fal-request-id": rec.id})


async def get(request: Request) -> Response:
    ref = parse_request_path(request.path_params["path"])
    if ref is None or ref.action == "cancel":
        raise NotFound(f"Path {request.url.path} not found")
    # status reads may be answered from a copy this process keeps current; a result
    # read asks the store (it must not say "in progress" of a request done elsewhere)
    rec = await _find(request, ref, may_lag=ref.action != "result")
    if ref.action == "result":
        if is_pending(rec):
            raise BadRequest("Request is still in progress", headers={"x-fal-request-id": rec.id})
        return result_response(rec)
    if ref.action == "status":
        logs = None
        if _logs_flag(request) and rec.status is not RequestStatus.IN_QUEUE:
            logs = log_json(await store(request).get_logs(rec.id))
        body = await status_body(request, rec, logs)
        return JSONResponse(
            body, status_code=202 if is_pending(rec) else 200, headers={"x-fal-request-id": rec.id}
        )
    return StatusStream(
        _status_events(request, rec, _logs_flag(request)),
        media_type="text/event-stream",
        headers={
            "x-fal-request-id": rec.id,
            "cache-control": "no-store",
            "x-accel-buffering": "no",
        },
    )


class StatusStream(StreamingResponse):
    """A streamed body that stops as soon as the client goes away (Starlette watches the
    connection from a task group; one watcher task that cancels this one costs less)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        this = asyncio.current_task()
        assert this is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            this.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not gone or this.uncancel() > 0:  # a cancel from elsewhere: pass it on
                raise
        finally:
            watcher.cancel()


async def _status_events(
    request: Request, rec: RequestRecord, with_logs: bool
) -> AsyncIterator[bytes]:
    """One event per change, new log lines only in each (the JS client accumulates them);
    a comment line on quiet stretches; the stream ends after COMPLETED."""
    st = store(request)
    sent_logs, last = 0, ""
    keepalive = settings(request).keepalive_interval
    while True:
        logs = None
        if with_logs and rec.status is not RequestStatus.IN_QUEUE:
            new = await st.get_logs(rec.id, since=sent_logs)
            sent_logs += len(new)
            logs = log_json(new)
        body = await status_body(request, rec, logs)
        text = json.dumps(body)
        if text != last or logs:
            last = text
            yield f"data: {text}\n\n".encode()
        if rec.status is RequestStatus.COMPLETED:
            return
        if not await st.wait_for_change(rec.id, keepalive):
            yield b": keep-alive\n\n"
        fresh = await st.get(rec.id, may_lag=True)
        if fresh is None:
            return
        rec = fresh


async def cancel(request: Request) -> Response:
    ref = parse_request_path(request.path_params["path"])
    if ref is None or ref.action != "cancel":
        raise NotFound(f"Path {request.url.path} not found")
    rec = await _find(request, ref)
    outcome = await store(request).cancel(rec.id)
    headers = {"x-fal-request-id": rec.id}
    if outcome in (CancelOutcome.CANCELLED, CancelOutcome.REQUESTED):
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202, headers=headers)
    if outcome is CancelOutcome.ALREADY_COMPLETED:
        return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400, headers=headers)
    return JSONResponse({"status": "NOT_FOUND"}, status_code=404, headers=headers)


async def _find(request: Request, ref: RequestRef, *, may_lag: bool = False) -> RequestRecord:
    rec = await store(request).get(ref.request_id, may_lag=may_lag)
    if rec is None or rec.app_id != ref.app_id or not _may_see(request, rec):
        raise NotFound(
            f"Request {ref.request_id} not found", headers={"x-fal-request-id": ref.request_id}
        )
    return rec


def _may_see(request: Request, rec: RequestRecord) -> bool:
    return may_see(request, rec.owner)
