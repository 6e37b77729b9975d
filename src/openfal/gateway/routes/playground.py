"""The playground: its page at ``/``, its static files under ``/ui/``, and the three small
reads it needs besides the public API (every app's schemas, queue depths, who is calling).

The page and its files are public (they hold no data); everything they show comes from
API calls made with the key the user typed, so a user sees what their key may see.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles

from openfal.gateway.auth import principal_of
from openfal.gateway.routes.common import registry, store
from openfal.store import AppRecord

UI_DIR = Path(str(resources.files("openfal") / "ui"))


def static_files() -> StaticFiles:
    return StaticFiles(directory=UI_DIR, check_dir=False)


async def index(request: Request) -> Response:
    return FileResponse(UI_DIR / "index.html", headers={"cache-control": "no-cache"})


def _endpoint(path: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": "/" + path,
        "description": entry.get("description", ""),
        "input_schema": entry.get("input_schema"),
        "output_schema": entry.get("output_schema"),
        "streaming": bool(entry.get("streaming")),
        "websocket": entry.get("websocket"),
    }


def _app(record: AppRecord) -> dict[str, Any]:
    endpoints = [_endpoint(p, e) for p, e in sorted(record.endpoints.items())]
    described = [e["description"] for e in endpoints if e["description"]]
    return {
        "app_id": record.app_id,
        "description": described[0] if described else "",
        "endpoints": endpoints,
    }


async def catalog(request: Request) -> Response:
    """``GET /rest/catalog``: every app with its endpoints' descriptions and schemas."""
    return JSONResponse([_app(record) for record in await registry(request).all()])


async def queues(request: Request) -> Response:
    """``GET /rest/queues``: requests waiting and running, per app."""
    st = store(request)
    rows = []
    for record in await registry(request).all():
        depth, running = await st.queue_depth(record.app_id), await st.in_progress(record.app_id)
        rows.append({"app_id": record.app_id, "queue_depth": depth, "in_progress": running})
    return JSONResponse(rows)


async def whoami(request: Request) -> Response:
    """``GET /rest/whoami``: the caller as the gateway sees them."""
    p = principal_of(request)
    return JSONResponse({"user": p.user, "scope": p.scope.value, "admin": p.admin, "via": p.via})
