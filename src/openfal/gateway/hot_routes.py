"""The hot routes, found by prefix before the router's regular expressions: direct runs
(``POST /{app_id}[/path]``) and the queue (``POST /queue/...``, ``GET /queue/...``).

A request goes this way only where the router would pick the same handler: no other route
may share the first path segment (the table is made from the app's routes), and what
may be a stream call (``.../stream``) or another method goes to the router. The handler
then runs as the router would run it, with the app's exception handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from openfal.gateway.routes import queue, realtime, run, stream

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]

_QUEUE = "/queue/"
# the catch-alls the table stands in for, or that it leaves to the router
_CATCH_ALLS = {run.run, stream.stream, realtime.relay}


class HotRoutes:
    """The table for ``app``'s routes (``match``), and the handler runner (``call``)."""

    def __init__(self, app: Starlette) -> None:
        self.router = app.router
        self.size = len(app.router.routes)
        taken, queue_alone = _first_segments(app.router.routes)
        self.taken = taken  # None: some route's first segment is a parameter
        self.queue = queue_alone
        self.by_type: dict[type, Handler] = {}
        self.by_status: dict[int, Handler] = {}
        for key, handler in app.exception_handlers.items():
            if key in (500, Exception):
                continue  # the server error middleware's, outside this one
            if isinstance(key, int):
                self.by_status[key] = handler
            else:
                self.by_type[key] = handler

    @property
    def stale(self) -> bool:
        """Whether routes were added since the table was made (it must be made again)."""
        return len(self.router.routes) != self.size

    def match(self, scope: Scope) -> tuple[Endpoint, str] | None:
        """``(handler, path parameter)`` when the router would pick that handler."""
        path: str = scope["path"]
        if scope.get("root_path") or "\n" in path:
            return None  # the router's own rules (a path parameter stops at a newline)
        method = scope["method"]
        if path.startswith(_QUEUE):
            if not self.queue:
                return None
            if method == "POST":
                return queue.submit, path[len(_QUEUE) :]
            if method == "GET":
                return queue.get, path[len(_QUEUE) :]
            return None
        if method != "POST" or self.taken is None or not path.startswith("/"):
            return None
        if path.endswith("/stream") or path[1:].partition("/")[0] in self.taken:
            return None
        return run.run, path[1:]

    async def call(
        self, found: tuple[Endpoint, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the handler as the router and its exception middleware would."""
        endpoint, param = found
        scope["router"] = scope.get("router") or self.router
        scope["endpoint"] = endpoint
        scope["path_params"] = {**scope.get("path_params", {}), "path": param}
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        if isinstance(exc, HTTPException) and exc.status_code in self.by_status:
            return self.by_status[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.by_type:
                return self.by_type[cls]
        return None


def _first_segments(routes: list[BaseRoute]) -> tuple[frozenset[str] | None, bool]:
    """The first path segments the routes other than the catch-alls take (None when one is a
    parameter), and whether the queue's routes are alone under ``/queue/``."""
    taken: set[str] = set()
    queue_alone = True
    for route in routes:
        endpoint: Any = getattr(route, "endpoint", None)
        if isinstance(route, Route | WebSocketRoute) and endpoint in _CATCH_ALLS:
            continue
        if not isinstance(route, Route | Mount | WebSocketRoute):
            return None, False  # a kind of route the table does not know
        first = route.path.removeprefix("/").partition("/")[0]
        if "{" in first:
            return None, False
        if first == "queue" and endpoint not in (queue.submit, queue.get, queue.cancel):
            queue_alone = False
        taken.add(first)
    return frozenset(taken), queue_alone
