"""CORS for browsers on the whole API (the JS client through ``/api/fal/proxy``, and the
signed upload PUTs it sends straight to this server).

Allowed request headers: ``authorization``, ``content-type``, ``accept`` and any ``x-fal-*``;
exposed response headers: ``x-fal-request-id`` and the other ``x-fal-*`` the clients read.
A preflight asking for another header is answered 400 naming it.

:class:`~openfal.gateway.edge.Edge` applies the policy (it reads the headers once for
every concern of the edge).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message

ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = frozenset({"authorization", "content-type", "accept"})
ALLOW_PREFIX = "x-fal-"
EXPOSE_HEADERS = "x-fal-request-id, x-fal-error-type, x-fal-request-timeout-type, etag"
MAX_AGE = "600"


class CorsPolicy:
    """``origins``: allowed ``Origin`` values, ``"*"`` for any."""

    def __init__(self, origins: Sequence[str] = ("*",)) -> None:
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self.any_origin or origin in self.origins)

    def add_headers(self, message: Message, origin: str) -> None:
        """Onto an ``http.response.start`` message: the allowed origin, exposed headers."""
        message.setdefault("headers", [])
        out = MutableHeaders(scope=message)
        out.update(self._origin_headers(origin))
        out["access-control-expose-headers"] = EXPOSE_HEADERS

    def _origin_headers(self, origin: str) -> dict[str, str]:
        if self.any_origin:
            return {"access-control-allow-origin": "*"}
        return {"access-control-allow-origin": origin, "vary": "Origin"}

    def preflight(self, origin: str, requested_headers: str) -> Response:
        """The answer to ``OPTIONS`` with ``Access-Control-Request-Method``."""
        asked = [h.strip().lower() for h in requested_headers.split(",") if h.strip()]
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
