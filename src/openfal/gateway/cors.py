"""CORS for browsers on the whole API (the JS client through ``/api/fal/proxy``, and the
signed upload PUTs it sends straight to this server).

Allowed request headers: ``authorization``, ``content-type``, ``accept`` and any ``x-fal-*``;
exposed response headers: ``x-fal-request-id`` and the other ``x-fal-*`` the clients read.
A preflight asking for another header is answered 400 naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = frozenset({"authorization", "content-type", "accept"})
ALLOW_PREFIX = "x-fal-"
EXPOSE_HEADERS = "x-fal-request-id, x-fal-error-type, x-fal-request-timeout-type, etag"
MAX_AGE = "600"


class Cors:
    """``origins``: allowed ``Origin`` values, ``"*"`` for any."""

    def __init__(self, app: ASGIApp, origins: Sequence[str] = ("*",)) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or not (self.any_origin or origin in self.origins):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                out = MutableHeaders(scope=message)
                out.update(self._origin_headers(origin))
                out["access-control-expose-headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _origin_headers(self, origin: str) -> dict[str, str]:
        if self.any_origin:
            return {"access-control-allow-origin": "*"}
        return {"access-control-allow-origin": origin, "vary": "Origin"}

    def _preflight(self, origin: str, headers: Headers) -> Response:
        asked = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        refused = [h for h in asked if h not in ALLOW_HEADERS and not h.startswith(ALLOW_PREFIX)]
        if refused:
            return PlainTextResponse(
                f"CORS: request header(s) not allowed: {', '.join(refused)}", status_code=400
            )
        return Response(
            status_code=204,
            headers={
                **self._origin_headers(origin),
                "access-control-allow-methods": ALLOW_METHODS,
                "access-control-allow-headers": ", ".join(asked) or "content-type",
                "access-control-max-age": MAX_AGE,
            },
        )
