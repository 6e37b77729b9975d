"""The JS client's proxy protocol (PROTOCOL.md §11): ``/api/fal/proxy``.

``@fal-ai/client`` with ``proxyUrl`` sends every API call here, unchanged except for the
``x-fal-target-url`` header naming the real target. Its host picks the surface
(``fal.run`` run, ``queue.fal.run`` queue, ``rest.fal.ai`` REST; this server's own host is
taken as is), and the path and query are served by this same app in-process: method, body
and headers go in as they came, and the answer, streams included, goes straight back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

from openfal.gateway.errors import BadRequest

TARGET_HEADER = b"x-fal-target-url"
SURFACES = {"fal.run": "", "queue.fal.run": "/queue", "rest.fal.ai": "/rest"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def target_path(target: str, own_host: str) -> tuple[str, str]:
    """``(path, query)`` on this server for a target URL; 400 for any other host."""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"Invalid x-fal-target-url {target!r}: must be an absolute http(s) URL")
    if parts.netloc.lower() == own_host.lower():
        prefix = ""
    elif parts.hostname in SURFACES and parts.port is None:
        prefix = SURFACES[parts.hostname]
    else:
        raise BadRequest(
            f"Invalid x-fal-target-url {target!r}: the host must be fal.run, queue.fal.run, "
            f"rest.fal.ai or this server ({own_host})"
        )
    return prefix + (parts.path or "/"), parts.query


class FalProxy:
    """ASGI endpoint (a class, so the router hands it the raw scope): re-enters the app with
    the target's path, keeping everything else."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _dispatch(scope, receive, send)


async def _dispatch(scope: Scope, receive: Receive, send: Send) -> None:
    target = _header(scope, TARGET_HEADER)
    if not target:
        raise BadRequest("Missing x-fal-target-url header: the JS client's proxyUrl sets it")
    path, query = target_path(target, _header(scope, b"host") or "")
    path = scope.get("root_path", "") + path
    inner = {
        **scope,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k, v) for k, v in scope["headers"] if k != TARGET_HEADER],
    }
    await scope["app"](inner, receive, send)


fal_proxy = FalProxy()
