"""Pieces shared by the run and queue surfaces."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from openfal.gateway import limits
from openfal.gateway.errors import BadRequest, PayloadTooLarge
from openfal.gateway.ids import EndpointRef
from openfal.gateway.input_check import checked_input
from openfal.gateway.registry import AppRegistry
from openfal.gateway.settings import GatewaySettings
from openfal.store import LogEntry, Priority, RequestRecord, RequestStatus, Store

# Request headers an app may read (the rest stays with the platform).
_FORWARDED_PREFIXES = ("x-fal-", "x-openfal-", "user-agent", "accept-language")


def store(request: Request) -> Store:
    s: Store = request.app.state.store
    return s


def registry(request: Request) -> AppRegistry:
    r: AppRegistry = request.app.state.registry
    return r


def settings(request: Request) -> GatewaySettings:
    s: GatewaySettings = request.app.state.settings
    return s


SMALL_BODY = 1024 * 1024  # bytes of the JSON bodies of REST calls (keys, uploads, parts)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    # the messages straight from the server: Request.stream's generator costs more than
    # the one message a JSON body comes in
    if hasattr(request, "_body") or request._stream_consumed:  # read before: Starlette's way
        return await _read_stream(request, limit)
    receive = request.receive
    request._stream_consumed = True  # as Request.stream marks it: a second read fails
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _read_stream(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        # the parser runners validate with: it accepts exactly what they accept (nesting
        # deeper than 200 is refused here, not by a runner after queueing), and it is faster
        return from_json(body)
    except ValueError as e:
        raise BadRequest(f"Malformed JSON body: {e}") from None


def _start_timeout(request: Request) -> float | None:
    raw = request.headers.get("x-fal-request-timeout")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise BadRequest(
            f"Invalid X-Fal-Request-Timeout header {raw!r}: "
            "must be a number of seconds greater than 0"
        )
    return value


def _priority(request: Request) -> Priority:
    raw = request.headers.get("x-fal-queue-priority")
    if raw is not None and raw.lower() not in ("normal", "low"):
        raise BadRequest(f"Invalid X-Fal-Queue-Priority header {raw!r}: use 'normal' or 'low'")
    return Priority.parse(raw)


async def accept(request: Request, ref: EndpointRef, *, mode: str) -> RequestRecord:
    """Validate, check the caller's limits and enqueue one request (submit, run and
    stream share this; the caller was authenticated by the middleware)."""
    entry = await registry(request).endpoint(ref.app_id, ref.path)
    body = await read_body(request, settings(request).max_body_size)
    body, webhook_url = await checked_input(request, entry, ref.path, body)
    headers = {k: v for k, v in request.headers.items() if k.startswith(_FORWARDED_PREFIXES)}
    priority = Priority.HIGH if mode != "queue" else _priority(request)
    start_timeout = _start_timeout(request)
    st = store(request)
    request_id = await limits.admit(request, st)
    try:
        return await st.enqueue(
            ref.app_id,
            ref.path,
            body or b"{}",
            priority=priority,
            mode=mode,
            owner=request.scope.get("openfal.owner"),
            start_timeout=start_timeout,
            webhook_url=webhook_url,
            hint=request.headers.get("x-fal-runner-hint"),
            headers=headers,
            request_id=request_id,
            minted=True,  # admit took it from new_request_id
        )
    except BaseException:
        await limits.release(request, st, request_id)
        raise


def result_response(rec: RequestRecord) -> Response:
    headers = {**rec.result_headers, "x-fal-request-id": rec.id}
    if rec.error_type and "x-fal-error-type" not in headers:
        headers["x-fal-error-type"] = rec.error_type
    return Response(
        rec.result or b"null",
        status_code=rec.status_code or 200,
        headers=headers,
        media_type="application/json",
    )


def log_json(entries: list[LogEntry]) -> list[dict[str, str]]:
    return [e.to_json() for e in entries]


def is_pending(rec: RequestRecord) -> bool:
    return rec.status is not RequestStatus.COMPLETED
