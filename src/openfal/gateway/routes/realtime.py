"""Realtime: ``ws(s)://HOST/{app_id}/{path}`` relayed to one runner (PROTOCOL.md §7).

The caller is checked before the handshake completes: a ``?fal_jwt_token=`` must be valid
and allow this app, else the upgrade is refused with 401/403 (and 404 for an unknown app
or path, 400 for a bad ``max_buffering``, 503 when no runner can be had). Then a runner
slot is held through the ``RealtimeBroker`` for the whole session, and frames go both ways
unchanged (binary stays binary, text stays text; no re-encoding). ``max_buffering`` is
passed on to the runner, which keeps only that many pending inputs. When either side
closes, the other is closed with the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlencode

import websockets
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection

from openfal.gateway.broker import RealtimeBroker
from openfal.gateway.errors import BadRequest, GatewayError, NotFound, ServiceUnavailable
from openfal.gateway.ids import EndpointRef, parse_endpoint
from openfal.gateway.registry import AppRegistry
from openfal.gateway.tokens import verify_token

__all__ = ["relay"]

log = logging.getLogger("openfal.gateway")

MAX_BUFFERING = 60
_NOT_SENDABLE = {1005, 1006, 1015}  # close codes that never travel in a close frame


async def relay(websocket: WebSocket) -> None:
    """Check the caller and the target, then relay the session to a runner."""
    try:
        ref = await _target(websocket)
        _authorize(websocket, ref.app_id)
        query = _runner_query(websocket)
        broker: RealtimeBroker | None = getattr(websocket.app.state, "broker", None)
        if broker is None:
            raise ServiceUnavailable("This gateway has no runners for realtime sessions")
        await _session(websocket, broker, ref, query)
    except GatewayError as exc:
        await _deny(websocket, exc)


async def _target(websocket: WebSocket) -> EndpointRef:
    ref = parse_endpoint(websocket.path_params["path"])
    registry: AppRegistry = websocket.app.state.registry
    entry = await registry.get(ref.app_id)
    if not entry.record.endpoints.get(ref.path, {}).get("websocket"):
        raise NotFound(f"App '{ref.app_id}' has no websocket endpoint at /{ref.path}")
    return ref


def _authorize(websocket: WebSocket, app_id: str) -> None:
    """A token, when given, must allow the app (keys are checked by the auth layer)."""
    token = websocket.query_params.get("fal_jwt_token")
    if token is not None:
        claims = verify_token(token, app_id)
        websocket.scope.setdefault("openfal.owner", claims["sub"])


def _runner_query(websocket: WebSocket) -> str:
    raw = websocket.query_params.get("max_buffering")
    if raw is None:
        return ""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_BUFFERING:
        raise BadRequest(f"Invalid max_buffering {raw!r}: use an integer from 1 to {MAX_BUFFERING}")
    return "?" + urlencode({"max_buffering": raw})


async def _session(
    websocket: WebSocket, broker: RealtimeBroker, ref: EndpointRef, query: str
) -> None:
    try:
        async with broker.acquire(ref.app_id) as base_url:
            url = base_url.replace("http", "ws", 1) + "/" + ref.path + query
            try:
                upstream = await websockets.connect(
                    url, compression=None, max_size=None, open_timeout=30
                )
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                raise GatewayError(
                    f"Runner refused the session: {exc}",
                    status_code=502,
                    error_type="runner_connection_error",
                ) from None
            async with upstream:
                await websocket.accept()
                await _pump(websocket, upstream)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    except (TimeoutError, ConnectionError) as exc:
        raise ServiceUnavailable(str(exc)) from None


async def _pump(client: WebSocket, upstream: ClientConnection) -> None:
    """Frames both ways until one side closes; then close the other with the same code."""
    up = asyncio.create_task(_client_to_runner(client, upstream))
    down = asyncio.create_task(_runner_to_client(upstream, client))
    await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    for task in (up, down):
        task.cancel()
    results = await asyncio.gather(up, down, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, _GONE):
            log.error("realtime relay failed", exc_info=result)


_GONE = (WebSocketDisconnect, websockets.ConnectionClosed, OSError, RuntimeError)


async def _client_to_runner(client: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await client.receive()
        if message["type"] == "websocket.disconnect":
            code = message.get("code", 1000)
            await upstream.close(1000 if code in _NOT_SENDABLE else code)
            return
        data: Any = message.get("bytes")
        await upstream.send(data if data is not None else message["text"])


async def _runner_to_client(upstream: ClientConnection, client: WebSocket) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for data in upstream:
            if isinstance(data, bytes):
                await client.send_bytes(data)
            else:
                await client.send_text(data)
    code = upstream.close_code or 1000
    await client.close(1011 if code in _NOT_SENDABLE else code, upstream.close_reason)


async def _deny(websocket: WebSocket, exc: GatewayError) -> None:
    """Refuse the upgrade with an HTTP answer (or a policy close if the server cannot)."""
    body = exc.body()
    headers = dict(exc.headers)
    if exc.error_type:
        headers["x-fal-error-type"] = exc.error_type
    try:
        await websocket.send_denial_response(
            JSONResponse(body, status_code=exc.status_code, headers=headers)
        )
    except RuntimeError:  # no denial-response extension: accept-less close instead
        await websocket.close(1008, str(exc.detail)[:120])
