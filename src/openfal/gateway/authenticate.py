"""The ``Authenticate`` middleware: every HTTP request and WebSocket gets its principal
(see :mod:`openfal.gateway.auth`) before any route runs, or a 401."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from openfal.gateway.auth import Access, access, credentials, resolve
from openfal.gateway.errors import GatewayError, error_response


class Authenticate:
    """Resolves the principal of every HTTP request and WebSocket before any route runs.

    Sets ``scope["openfal.principal"]``, and ``openfal.owner`` / ``openfal.admin`` for
    the routes that read those.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        needs = access(method, scope["path"])
        if needs is Access.PUBLIC:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        creds = credentials(conn.headers, query)
        if needs is Access.OWN_CREDENTIAL and creds is not None and creds[0] == "bearer":
            await self.app(scope, receive, send)  # the route checks its own token
            return
        state = scope["app"].state
        try:
            principal = await resolve(
                state.store,
                state.auth,
                creds,
                scope["path"],
                optional=needs is Access.OPTIONAL,
            )
        except GatewayError as e:
            if scope["type"] == "websocket":
                await _deny_websocket(scope, receive, send, e)
            else:
                await error_response(e, scope.get("openfal.request_id"))(scope, receive, send)
            return
        scope["openfal.principal"] = principal
        scope["openfal.owner"] = principal.user
        scope["openfal.admin"] = principal.admin
        await self.app(scope, receive, send)


async def _deny_websocket(scope: Scope, receive: Receive, send: Send, e: GatewayError) -> None:
    """Refuse the handshake: the error response where the server supports it, else a close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await error_response(e)(scope, receive, send)
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": str(e.detail)[:120]})
