"""ASGI middleware: host-name routing and the request id on every response."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# fal spreads its API over hosts; a Host header starting with one of these picks the surface.
_HOST_SURFACES = {"queue.": "/queue", "rest.": "/rest", "v3.": "/cdn", "cdn.": "/cdn"}


class HostRouting:
    """``queue.example.com/x`` is served as ``/queue/x`` (same for rest./v3./cdn.)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _host(scope)
            for prefix, mount in _HOST_SURFACES.items():
                if host.startswith(prefix) and not scope["path"].startswith(mount + "/"):
                    scope = {
                        **scope,
                        "path": mount + scope["path"],
                        "openfal.surface": mount.strip("/"),
                    }
                    if mount == "/queue":
                        scope["openfal.surface"] = "queue"
                    break
        await self.app(scope, receive, send)


class RequestId:
    """Every response carries ``x-fal-request-id`` (clients key retries and errors on it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fallback = str(uuid.uuid4())
        scope.setdefault("openfal.request_id", fallback)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-fal-request-id" for k, _ in headers):
                    rid = scope.get("openfal.request_id") or fallback
                    headers.append((b"x-fal-request-id", rid.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"host":
            return str(value.decode("latin-1").lower())
    return ""
