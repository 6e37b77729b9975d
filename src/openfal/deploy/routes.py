"""The admin API for deployed apps, secrets and runners (ADMIN keys once keys exist).

- ``POST /rest/apps/deploy`` ``{"entry": "app.py::Class", "archive": "file"|"tar",
  "source": BASE64, "app_name"?, "strategy"?: "rolling"|"recreate"}``: 201, the revision;
- ``GET /rest/apps``: every app with its revision and scaling;
- ``GET /rest/apps/{owner}/{alias}``: one app, with its revisions;
- ``GET /rest/apps/{owner}/{alias}/revisions/{rev}[?since=N]``: a revision and its build log;
- ``GET /rest/apps/{owner}/{alias}/logs``: the build log of its current revision;
- ``PUT /rest/apps/{owner}/{alias}/revision`` ``{"revision"}``: ``set-rev``;
- ``PATCH /rest/apps/{owner}/{alias}/scaling`` ``{min_concurrency, ...}``: live scaling;
- ``DELETE /rest/apps/{owner}/{alias}``;
- ``GET /rest/secrets`` (names and dates), ``PUT /rest/secrets/{name}`` ``{"value"}``,
  ``DELETE /rest/secrets/{name}``;
- ``GET /rest/runners/{id}/logs[?since=N]``, ``DELETE /rest/runners/{id}`` (kill).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openfal.deploy.secrets import SecretBox, SecretError, check_name
from openfal.deploy.source import MAX_SOURCE, SourceError, entry_text, env_key, static_info
from openfal.gateway.auth import principal_of
from openfal.gateway.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from openfal.gateway.routes.common import parse_json_object, store
from openfal.sdk import AppDefinitionError, app_id_for
from openfal.store.deploy import Revision

# setting -> (type, smallest value); None in a request removes an override
SCALING: dict[str, tuple[type, float]] = {
    "min_concurrency": (int, 0),
    "max_concurrency": (int, 1),
    "concurrency_buffer": (int, 0),
    "max_multiplexing": (int, 1),
    "keep_alive": (float, 0),
    "scaling_delay": (float, 0),
    "request_timeout": (float, 0.001),
    "startup_timeout": (float, 0.001),
}
STRATEGIES = ("rolling", "recreate")


def _admin(request: Request) -> None:
    if not principal_of(request).admin:
        raise Forbidden("Deploying and managing apps needs an ADMIN key")


async def _json(request: Request) -> dict[str, Any]:
    body = parse_json_object(await request.body())
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    return body


def _app_id(request: Request) -> str:
    return f"{request.path_params['owner']}/{request.path_params['alias']}"


def _urls(request: Request, app_id: str) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    return {"run": f"{base}/{app_id}", "queue": f"{base}/queue/{app_id}"}


# ---------------------------------------------------------------------- apps


async def deploy(request: Request) -> Response:
    _admin(request)
    body = await _json(request)
    entry, archive = body.get("entry"), body.get("archive", "file")
    strategy = body.get("strategy") or "rolling"
    if not isinstance(entry, str) or "::" not in entry:
        raise BadRequest("entry must be 'path/to/file.py::ClassName'")
    if strategy not in STRATEGIES:
        raise BadRequest(f"strategy must be rolling or recreate, not {strategy!r}")
    try:
        source = base64.b64decode(str(body.get("source", "")), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("source must be base64") from None
    if not source or len(source) > MAX_SOURCE:
        raise BadRequest(f"source must hold 1 to {MAX_SOURCE} bytes")
    try:
        info = static_info(entry_text(source, str(archive), entry), entry.partition("::")[2])
        name = body.get("app_name") or info.app_name
        if name is not None and not isinstance(name, str):
            raise BadRequest("app_name must be a string like 'owner/alias'")
        app_id = app_id_for(info.class_name, name)
    except (SourceError, AppDefinitionError, UnicodeDecodeError) as e:
        raise BadRequest(str(e)) from None
    rev = Revision(
        revision="",
        app_id=app_id,
        entry=entry,
        archive=str(archive),
        requirements=info.requirements,
        python_version=info.python_version,
        env_key=env_key(info.requirements, info.python_version),
        strategy=strategy,
    )
    rev = await store(request).add_revision(rev, source, owner=principal_of(request).user)
    return JSONResponse({**rev.public(), "urls": _urls(request, app_id)}, status_code=201)


async def list_apps(request: Request) -> Response:
    """Every app; where its code lives on the server's disk is for admins only."""
    s = store(request)
    admin = principal_of(request).admin
    deployments = {d.app_id: d for d in await s.list_deployments()}
    apps = {a.app_id: a for a in await s.list_apps()}
    rows = []
    for app_id in sorted(set(apps) | set(deployments)):
        app, dep = apps.get(app_id), deployments.get(app_id)
        rows.append(
            {
                "app_id": app_id,
                "source": app.source if app and admin else None,
                "settings": app.settings if app else {},
                "endpoints": sorted("/" + p for p in app.endpoints) if app else [],
                "revision": dep.current if dep else None,
                "live_revision": dep.live if dep else None,
                "scaling": dep.scaling if dep else {},
                "urls": _urls(request, app_id),
            }
        )
    return JSONResponse(rows)


async def get_app(request: Request) -> Response:
    _admin(request)
    s, app_id = store(request), _app_id(request)
    dep = await s.get_deployment(app_id)
    app = await s.get_app(app_id)
    if dep is None and app is None:
        raise NotFound(f"Application '{app_id}' not found")
    revisions = [r.public() for r in await s.list_revisions(app_id)]
    return JSONResponse(
        {
            "app_id": app_id,
            "revision": dep.current if dep else None,
            "live_revision": dep.live if dep else None,
            "scaling": dep.scaling if dep else {},
            "settings": app.settings if app else {},
            "revisions": revisions,
            "urls": _urls(request, app_id),
        }
    )


async def get_revision(request: Request) -> Response:
    _admin(request)
    s = store(request)
    rev = await s.get_revision(request.path_params["rev"])
    if rev is None or rev.app_id != _app_id(request):
        raise NotFound(f"Revision {request.path_params['rev']} not found")
    since = _int_param(request, "since")
    lines = await s.get_lines(f"build:{rev.revision}", since)
    dep = await s.get_deployment(rev.app_id)
    return JSONResponse(
        {
            **rev.public(),
            "current": bool(dep and dep.current == rev.revision),
            "serving": bool(dep and dep.live == rev.revision),
            "logs": lines,
            "next": since + len(lines),
        }
    )


async def app_logs(request: Request) -> Response:
    _admin(request)
    s, app_id = store(request), _app_id(request)
    revisions = await s.list_revisions(app_id)
    if not revisions:
        raise NotFound(f"Application '{app_id}' has no deployed revision")
    wanted = request.query_params.get("revision") or revisions[-1].revision
    return JSONResponse({"revision": wanted, "logs": await s.get_lines(f"build:{wanted}")})


async def set_revision(request: Request) -> Response:
    _admin(request)
    body = await _json(request)
    revision = body.get("revision")
    if not isinstance(revision, str) or not revision:
        raise BadRequest("revision must be a revision id (see `openfal apps list-rev`)")
    try:
        dep = await store(request).set_current_revision(_app_id(request), revision)
    except KeyError as e:
        raise NotFound(str(e.args[0])) from None
    return JSONResponse(dep.public())


async def scale(request: Request) -> Response:
    _admin(request)
    body = await _json(request)
    changes = {name: _scaling_value(name, value) for name, value in body.items()}
    s, app_id = store(request), _app_id(request)
    if await s.get_app(app_id) is None and await s.get_deployment(app_id) is None:
        raise NotFound(f"Application '{app_id}' not found")
    old = await s.get_deployment(app_id)
    merged = {**(old.scaling if old else {}), **changes}
    low, high = merged.get("min_concurrency") or 0, merged.get("max_concurrency")
    if high is not None and low > high:
        raise BadRequest(f"min_concurrency {low} is above max_concurrency {high}")
    dep = await s.set_scaling(app_id, changes)
    return JSONResponse(dep.public())


def _scaling_value(name: str, value: Any) -> Any:
    if name not in SCALING:
        raise BadRequest(f"unknown scaling setting {name!r}: use {', '.join(SCALING)}")
    if value is None:
        return None
    kind, low = SCALING[name]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or (kind is int and value != int(value)) or not math.isfinite(value) or value < low:
        raise BadRequest(f"{name} must be a {kind.__name__} of at least {low:g}, not {value!r}")
    return kind(value)


async def delete_app(request: Request) -> Response:
    _admin(request)
    s, app_id = store(request), _app_id(request)
    if await s.get_deployment(app_id) is None:
        raise NotFound(
            f"Application '{app_id}' was not deployed (apps given with --app "
            "go away with a restart without them)"
        )
    await s.delete_deployment(app_id)
    await s.unregister_app(app_id)
    return JSONResponse({"app_id": app_id, "deleted": True})


# ---------------------------------------------------------------------- secrets


def _box(request: Request) -> SecretBox:
    box: SecretBox | None = getattr(request.app.state, "secret_box", None)
    if box is None:
        raise ServiceUnavailable("No secrets key on this gateway: set OPENFAL_SECRETS_KEY")
    return box


async def list_secrets(request: Request) -> Response:
    _admin(request)
    return JSONResponse([s.public() for s in await store(request).list_secrets()])


async def set_secret(request: Request) -> Response:
    _admin(request)
    body = await _json(request)
    value = body.get("value")
    if not isinstance(value, str) or not value:
        raise BadRequest("value must be a non-empty string")
    try:
        name = check_name(request.path_params["name"])
    except SecretError as e:
        raise BadRequest(str(e)) from None
    rec = await store(request).put_secret(name, _box(request).encrypt(value))
    return JSONResponse(rec.public())


async def unset_secret(request: Request) -> Response:
    _admin(request)
    name = request.path_params["name"]
    if not await store(request).delete_secret(name):
        raise NotFound(f"Secret {name!r} not found")
    return JSONResponse({"name": name, "deleted": True})


# ---------------------------------------------------------------------- runners


async def runner_logs(request: Request) -> Response:
    _admin(request)
    since = _int_param(request, "since")
    lines = await store(request).get_lines(f"runner:{request.path_params['runner_id']}", since)
    return JSONResponse({"logs": lines, "next": since + len(lines)})


async def kill_runner(request: Request) -> Response:
    _admin(request)
    runner_id = request.path_params["runner_id"]
    found = [r for r in await store(request).list_runners() if r.runner_id == runner_id]
    if not found:
        raise NotFound(f"Runner {runner_id} not found")
    await store(request).request_kill(runner_id)
    return JSONResponse({"runner_id": runner_id, "killed": True})


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "0")
    if not raw.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer")
    return int(raw)


_APP = "/rest/apps/{owner}/{alias}"
ROUTES = [
    Route("/rest/apps", list_apps, methods=["GET"]),
    Route("/rest/apps/deploy", deploy, methods=["POST"]),
    Route(_APP, get_app, methods=["GET"]),
    Route(_APP, delete_app, methods=["DELETE"]),
    Route(_APP + "/revisions/{rev}", get_revision, methods=["GET"]),
    Route(_APP + "/logs", app_logs, methods=["GET"]),
    Route(_APP + "/revision", set_revision, methods=["PUT"]),
    Route(_APP + "/scaling", scale, methods=["PATCH"]),
    Route("/rest/secrets", list_secrets, methods=["GET"]),
    Route("/rest/secrets/{name}", set_secret, methods=["PUT"]),
    Route("/rest/secrets/{name}", unset_secret, methods=["DELETE"]),
    Route("/rest/runners/{runner_id}/logs", runner_logs, methods=["GET"]),
    Route("/rest/runners/{runner_id}", kill_runner, methods=["DELETE"]),
]
