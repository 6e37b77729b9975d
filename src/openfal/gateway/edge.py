"""``Edge``, the gateway's one middleware: CORS, host routing, the request id and the
caller's principal, all from one pass over the request's headers; then the hot routes
(:mod:`openfal.gateway.hot_routes`) straight to their handlers, the rest to the router.

One layer instead of four matters on the direct-run path, where the gateway's own work is
most of what a call costs: each ASGI layer is another scope, another header parse and
another wrapper every response message goes through.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openfal.gateway.authenticate import authenticate
from openfal.gateway.cors import CorsPolicy
from openfal.gateway.hot_routes import HotRoutes
from openfal.gateway.ids import new_request_id

REQUEST_ID = b"x-fal-request-id"
# fal spreads its API over hosts; a Host header starting with one of these picks the surface.
_HOST_SURFACES = {"queue.": "/queue", "rest.": "/rest", "v3.": "/cdn", "cdn.": "/cdn"}


class Edge:
    """Wraps the router; ``origins``: the ``Origin`` values CORS allows, ``"*"`` for any.

    - CORS: preflights are answered here (no key needed); other responses to an allowed
      origin get its headers.
    - Every response carries ``x-fal-request-id`` (clients key retries and errors on it):
      the route's, else a fresh one.
    - ``queue.example.com/x`` is served as ``/queue/x`` (same for rest./v3./cdn.).
    - Authentication (:func:`~openfal.gateway.authenticate.authenticate`).
    """

    def __init__(self, app: ASGIApp, origins: Sequence[str] = ("*",)) -> None:
        self.app = app
        self.cors = CorsPolicy(origins)
        self.hot: HotRoutes | None = None  # made on the first request, again if routes change

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            host = authorization = None
            for key, value in scope["headers"]:
                if key == b"host" and host is None:
                    host = value.decode("latin-1")
                elif key == b"authorization" and authorization is None:
                    authorization = value.decode("latin-1")
            scope = _host_routed(scope, host)
            if await authenticate(scope, receive, send, authorization):
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = origin = authorization = asked = None
        preflight = False
        for key, value in scope["headers"]:
            if key == b"host":
                if host is None:
                    host = value.decode("latin-1")
            elif key == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif key == b"origin":
                if origin is None:
                    origin = value.decode("latin-1")
            elif key == b"access-control-request-method":
                preflight = True
            elif key == b"access-control-request-headers" and asked is None:
                asked = value.decode("latin-1")
        cors = self.cors
        if origin is not None and not cors.allows(origin):
            origin = None
        if origin is not None and preflight and scope["method"] == "OPTIONS":
            await cors.preflight(origin, asked or "")(scope, receive, send)
            return
        outer = scope

        async def send_edge(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                for k, _ in headers:
                    if k == REQUEST_ID or k.lower() == REQUEST_ID:
                        break
                else:
                    rid = outer.get("openfal.request_id") or new_request_id()
                    headers = [*headers, (REQUEST_ID, rid.encode())]
                    message = {**message, "headers": headers}
                if origin is not None:
                    cors.add_headers(message, origin)
            await send(message)

        scope = _host_routed(scope, host)
        if not await authenticate(scope, receive, send_edge, authorization):
            return
        hot = self.hot
        if hot is None or hot.stale:
            hot = self.hot = HotRoutes(scope["app"])
        found = hot.match(scope)
        if found is None:
            await self.app(scope, receive, send_edge)
        else:
            await hot.call(found, scope, receive, send_edge)


def _host_routed(scope: Scope, host: str | None) -> Scope:
    """The scope as its host's surface serves it (the same scope when the host picks none)."""
    if host is None:
        return scope
    host = host.lower()
    for prefix, mount in _HOST_SURFACES.items():
        if host.startswith(prefix) and not scope["path"].startswith(mount + "/"):
            return {**scope, "path": mount + scope["path"], "openfal.surface": mount.strip("/")}
    return scope
