"""Health, the gateway's own OpenAPI document, per-endpoint OpenAPI and the app list."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openfal.gateway.auth import principal_of
from openfal.gateway.errors import BadRequest, Forbidden
from openfal.gateway.ids import parse_endpoint
from openfal.gateway.routes.common import registry, store

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "request_id"],
    "properties": {
        "status": {"type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]},
        "request_id": {"type": "string"},
        "response_url": {"type": "string"},
        "status_url": {"type": "string"},
        "cancel_url": {"type": "string"},
        "queue_position": {"type": "integer"},
        "logs": {"type": ["array", "null"], "items": {"type": "object"}},
        "metrics": {"type": "object"},
        "progress": {"type": "object"},
        "error": {"type": "string"},
        "error_type": {"type": "string"},
    },
}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def list_apps(request: Request) -> Response:
    """The apps; where their code lives on the server's disk is for admins only."""
    apps = await registry(request).all()
    admin = principal_of(request).admin
    return JSONResponse(
        [
            {
                "app_id": a.app_id,
                "source": a.source if admin else None,
                "settings": a.settings,
                "endpoints": sorted("/" + p for p in a.endpoints),
            }
            for a in apps
        ]
    )


async def list_runners(request: Request) -> Response:
    """Every live runner in the cluster, from the store's registry (``?app_id=`` filters);
    their internal URLs are for admins only."""
    if not principal_of(request).admin:
        raise Forbidden("Listing runners needs an ADMIN key")
    runners = await store(request).list_runners(request.query_params.get("app_id") or None)
    t = time.time()
    return JSONResponse([{**r.to_json(), "uptime": round(t - r.started_at, 3)} for r in runners])


async def endpoint_openapi(request: Request) -> Response:
    """fal's per-endpoint document: the queue surface of one endpoint with its schemas."""
    endpoint_id = request.query_params.get("endpoint_id")
    if not endpoint_id:
        raise BadRequest("Missing query parameter endpoint_id")
    ref = parse_endpoint(endpoint_id)
    entry = await registry(request).endpoint(ref.app_id, ref.path)
    schemas = entry.record.endpoints[ref.path]
    full_id = "/".join(p for p in (ref.app_id, ref.path) if p)
    return JSONResponse(queue_openapi(full_id, ref.app_id, schemas))


def queue_openapi(endpoint_id: str, app_id: str, schemas: dict[str, Any]) -> dict[str, Any]:
    input_schema = schemas.get("input_schema") or {"type": "object"}
    output_schema = schemas.get("output_schema") or {"type": "object"}
    components = {
        "Input": _strip_defs(input_schema),
        "Output": _strip_defs(output_schema),
        "QueueStatus": _STATUS_SCHEMA,
    }
    for schema in (input_schema, output_schema):
        components.update(schema.get("$defs", {}))
    req = "/" + app_id + "/requests/{request_id}"
    rid = [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}]

    def ok(ref: str) -> dict[str, Any]:
        return {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    return {
        "openapi": "3.0.4",
        "info": {
            "title": endpoint_id,
            "version": "1.0.0",
            "x-fal-metadata": {"endpointId": endpoint_id},
        },
        "servers": [{"url": "/queue"}],
        "paths": {
            "/" + endpoint_id: {
                "post": {
                    "operationId": "submit",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Input"}}
                        },
                    },
                    "responses": {"200": ok("QueueStatus")},
                }
            },
            req + "/status": {
                "get": {
                    "operationId": "status",
                    "parameters": [
                        *rid,
                        {"name": "logs", "in": "query", "schema": {"type": "number"}},
                    ],
                    "responses": {"200": ok("QueueStatus")},
                }
            },
            req + "/cancel": {
                "put": {
                    "operationId": "cancel",
                    "parameters": rid,
                    "responses": {"202": {"description": "Requested"}},
                }
            },
            req: {
                "get": {
                    "operationId": "result",
                    "parameters": rid,
                    "responses": {"200": ok("Output")},
                }
            },
        },
        "components": {"schemas": components},
    }


def _strip_defs(schema: dict[str, Any]) -> dict[str, Any]:
    stripped: dict[str, Any] = _rewrite_refs({k: v for k, v in schema.items() if k != "$defs"})
    return stripped


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def gateway_openapi() -> dict[str, Any]:
    """The platform's own surfaces (apps document themselves per endpoint)."""

    def op(summary: str) -> dict[str, Any]:
        return {"summary": summary, "responses": {"200": {"description": "OK"}}}

    rid = "/queue/{app_id}/requests/{request_id}"
    return {
        "openapi": "3.0.4",
        "info": {"title": "openfal gateway", "version": "0.1.0"},
        "paths": {
            "/{app_id}": {"post": op("Run an endpoint and wait for its output")},
            "/queue/{app_id}": {"post": op("Submit a request to the queue")},
            rid + "/status": {"get": op("Request status (?logs=1 for logs)")},
            rid + "/status/stream": {"get": op("Status as server-sent events")},
            rid: {"get": op("Request result")},
            rid + "/cancel": {"put": op("Cancel a request")},
            "/rest/apps": {"get": op("Registered apps")},
            "/rest/runners": {"get": op("Live runners in the cluster (?app_id= filters)")},
            "/rest/openapi/queue/openapi.json": {"get": op("OpenAPI of one endpoint")},
            "/health": {"get": op("Liveness")},
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(gateway_openapi())
