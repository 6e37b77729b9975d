"""Realtime sessions over a WebSocket (PROTOCOL.md §7), for both drivers.

Inputs go out as msgpack binary frames. Binary frames coming back are msgpack results; text
frames are JSON: ``x-fal-message`` is dropped, ``x-fal-error`` raises :class:`RealtimeError`,
anything else is a result (non-JSON text comes as ``{"type": "text", "payload": ...}``).
The session is opened with a short-lived token from ``POST /rest/tokens/`` (``use_jwt``), or
with the key in the handshake headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import msgpack
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.sync.client import ClientConnection as SyncConnection

from openfal.client._exceptions import FalClientError
from openfal.client._flows import call
from openfal.client._ops import Flow
from openfal.client._server import AppId, Server

OPEN_TIMEOUT = 90.0
TOKEN_EXPIRATION = 120
Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]


class RealtimeError(FalClientError, RuntimeError):
    """The realtime endpoint sent an ``x-fal-error``, or the connection broke."""

    def __init__(self, error: str, reason: str | None = None, payload: Any = None) -> None:
        self.error = error
        self.reason = reason or ""
        self.payload = payload or {}
        super().__init__(f"{error}: {self.reason}" if self.reason else error)


def token(server: Server, application: str, expiration: int) -> Flow[str]:
    """A token good for ``application``'s alias (PROTOCOL.md §6.1)."""
    body = {"allowed_apps": [AppId.parse(application).alias], "token_expiration": expiration}
    request = server.request("POST", server.rest_url("/tokens/"), json_body=body)
    data = (yield from call(request, timeout=server.default_timeout)).json()
    if isinstance(data, dict):
        data = data.get("token", data.get("detail"))
    if not isinstance(data, str):
        raise FalClientError(f"Unexpected token answer: {data!r}")
    return data


def url(
    server: Server,
    application: str,
    token: str | None,
    *,
    path: str,
    max_buffering: int | None,
) -> str:
    """``ws(s)://HOST/[ns/]owner/alias[/endpoint path][/path]?fal_jwt_token=..``."""
    app = AppId.parse(application)
    target = app.app + (f"/{app.path}" if app.path else "")
    if path.strip("/"):
        target += "/" + path.strip("/")
    query: dict[str, str] = {}
    if token:
        query["fal_jwt_token"] = token
    if max_buffering is not None:
        if not 1 <= max_buffering <= 60:
            raise ValueError(f"max_buffering must be from 1 to 60, got {max_buffering}")
        query["max_buffering"] = str(max_buffering)
    out = server.ws_url(target)
    return f"{out}?{urlencode(query)}" if query else out


def handshake_headers(server: Server, use_jwt: bool) -> dict[str, str] | None:
    return None if use_jwt else server.headers()


def encode(message: Any, encoder: Encoder | None) -> bytes:
    if encoder is not None:
        return encoder(message)
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def decode(frame: str | bytes, decoder: Decoder | None) -> Any | None:
    """A received frame as a result, or None for a control message to skip."""
    if isinstance(frame, bytes | bytearray | memoryview):
        raw = bytes(frame)
        return decoder(raw) if decoder is not None else msgpack.unpackb(raw, raw=False)
    try:
        payload = json.loads(frame)
    except ValueError:
        return {"type": "text", "payload": frame}
    if isinstance(payload, dict):
        kind = payload.get("type")
        if kind == "x-fal-error":
            raise RealtimeError(
                str(payload.get("error", "UNKNOWN_ERROR")), payload.get("reason"), payload
            )
        if kind == "x-fal-message":
            return None
    return payload


def check_close(exc: ConnectionClosed) -> None:
    """A normal close ends the session quietly; a broken connection raises."""
    if not isinstance(exc, ConnectionClosedOK):
        raise RealtimeError("CONNECTION_CLOSED", str(exc)) from exc


class _Session:
    def __init__(
        self, ws: Any, encoder: Encoder | None = None, decoder: Decoder | None = None
    ) -> None:
        self._ws, self._encode, self._decode = ws, encoder, decoder


class RealtimeConnection(_Session):
    """A blocking realtime session: :meth:`send` an input, :meth:`recv` a result (None once
    the server closed the session normally)."""

    _ws: SyncConnection

    def send(self, arguments: Any) -> None:
        self._ws.send(encode(arguments, self._encode))

    def recv(self) -> Any | None:
        results = (decode(frame, self._decode) for frame in self._ws)
        try:
            return next((r for r in results if r is not None), None)
        except ConnectionClosed as exc:  # iterating ends at a normal close
            check_close(exc)
            return None

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> RealtimeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRealtimeConnection(_Session):
    """The asyncio twin of :class:`RealtimeConnection`."""

    _ws: AsyncConnection

    async def send(self, arguments: Any) -> None:
        await self._ws.send(encode(arguments, self._encode))

    async def recv(self) -> Any | None:
        while True:
            try:
                frame = await self._ws.recv()
            except ConnectionClosed as exc:
                check_close(exc)
                return None
            if (result := decode(frame, self._decode)) is not None:
                return result

    async def close(self) -> None:
        await self._ws.close()

    async def __aenter__(self) -> AsyncRealtimeConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
