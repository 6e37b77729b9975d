"""Authentication at the edge: every HTTP request and WebSocket gets its principal (see
:mod:`openfal.gateway.auth`) before any route runs, or a 401."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from openfal.gateway.auth import DEV_MODE, Access, access, credentials, resolve
from openfal.gateway.errors import GatewayError, error_response


async def authenticate(
    scope: Scope, receive: Receive, send: Send, authorization: str | None
) -> bool:
    """Resolve the caller of ``scope`` (``authorization``: its first Authorization header).

    Sets ``scope["openfal.principal"]``, and ``openfal.owner`` / ``openfal.admin`` for the
    routes that read those, and returns True; or sends the refusal and returns False.
    """
    method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
    needs = access(method, scope["path"])
    if needs is Access.PUBLIC:
        return True
    state = scope["app"].state
    if needs is not Access.OWN_CREDENTIAL and not await state.auth.keys_required(state.store):
        principal = DEV_MODE  # what resolve answers, without reading the credentials
    else:
        headers = {} if authorization is None else {"authorization": authorization}
        creds = credentials(headers, _Query(scope))
        if needs is Access.OWN_CREDENTIAL and creds is not None and creds[0] == "bearer":
            return True  # the route checks its own token
        try:
            principal = await resolve(
                state.store, state.auth, creds, scope["path"], optional=needs is Access.OPTIONAL
            )
        except GatewayError as e:
            if scope["type"] == "websocket":
                await _deny_websocket(scope, receive, send, e)
            else:
                await error_response(e, scope.get("openfal.request_id"))(scope, receive, send)
            return False
    scope["openfal.principal"] = principal
    scope["openfal.owner"] = principal.user
    scope["openfal.admin"] = principal.admin
    return True


class _Query(Mapping[str, str]):
    """The query's last value of each name, parsed on first use (most requests carry
    their credential in a header, so it is never parsed for them)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._parsed: dict[str, str] | None = None

    def _items(self) -> dict[str, str]:
        if self._parsed is None:
            raw = self.scope.get("query_string", b"").decode()
            self._parsed = {k: v[-1] for k, v in parse_qs(raw).items()}
        return self._parsed

    def __getitem__(self, name: str) -> str:
        return self._items()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


async def _deny_websocket(scope: Scope, receive: Receive, send: Send, e: GatewayError) -> None:
    """Refuse the handshake: the error response where the server supports it, else a close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await error_response(e)(scope, receive, send)
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": str(e.detail)[:120]})
