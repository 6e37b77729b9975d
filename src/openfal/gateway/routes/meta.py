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

    # a failed request's result carries the app's own status and error body
    error = {"default": _json(_ERROR_SCHEMA, "An error: the request's, or bad input")}

    def ok(ref: str) -> dict[str, Any]:
        return {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    return {
        "openapi": "3.1.0",
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
                    "responses": {"200": ok("QueueStatus"), **error},
                }
            },
            req + "/status": {
                "get": {
                    "operationId": "status",
                    "parameters": [*rid, _LOGS_PARAM],
                    "responses": {"200": ok("QueueStatus"), "202": ok("QueueStatus"), **error},
                }
            },
            req + "/cancel": {
                "put": {
                    "operationId": "cancel",
                    "parameters": rid,
                    "responses": {
                        "202": {"description": "Cancellation requested"},
                        "400": {"description": "Already completed"},
                        **error,
                    },
                }
            },
            req: {
                "get": {
                    "operationId": "result",
                    "parameters": rid,
                    "responses": {
                        "200": ok("Output"),
                        "400": {"description": "Still in the queue or running"},
                        **error,
                    },
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


_LOGS_PARAM = {
    "name": "logs",
    "in": "query",
    "description": "1 (or true) to include the request's logs",
    "schema": {"type": "string", "enum": ["1", "0", "true", "false", ""]},
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {}, "error_type": {"type": ["string", "null"]}},
}


def _param(name: str, where: str = "path", **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": {"type": "string", **schema},
    }


_APP_PARAMS = [
    _param("owner", pattern="^[^/]+$", description="The app's owner, as in owner/alias"),
    _param("alias", pattern="^[^/]+$", description="The app's name, as in owner/alias"),
]
_REQUEST_PARAMS = [*_APP_PARAMS, _param("request_id", description="As submit answered it")]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, params: list[dict[str, Any]], **responses: Any) -> dict[str, Any]:
    answers = {code.removeprefix("r"): answer for code, answer in responses.items()}
    answers.setdefault("200", {"description": "OK"})
    answers["default"] = _json(_ERROR_SCHEMA, "An error: 4xx for bad input, 5xx for ours")
    return {"summary": summary, "parameters": params, "responses": answers}


def gateway_openapi() -> dict[str, Any]:
    """The platform's own surfaces (apps document themselves per endpoint), OpenAPI 3.1.

    Application ids are ``owner/alias``: two path parameters, so that every templated path
    declares what it templates."""
    app, rid = "/{owner}/{alias}", "/queue/{owner}/{alias}/requests/{request_id}"
    body = {"content": {"application/json": {"schema": {"type": "object"}}}}
    status = _json(_STATUS_SCHEMA)
    logs = [*_REQUEST_PARAMS, _LOGS_PARAM]
    array = _json({"type": "array", "items": {"type": "object"}})
    return {
        "openapi": "3.1.0",
        "info": {"title": "openfal gateway", "version": "0.1.0"},
        "paths": {
            app: {
                "post": {
                    **_op("Run an endpoint and wait for its output", _APP_PARAMS),
                    "requestBody": body,
                }
            },
            "/queue" + app: {
                "post": {
                    **_op("Submit a request to the queue", _APP_PARAMS, r200=status),
                    "requestBody": body,
                }
            },
            rid + "/status": {
                "get": _op("Request status (?logs=1 for logs)", logs, r200=status, r202=status)
            },
            rid + "/status/stream": {"get": _op("Status as server-sent events", logs)},
            rid: {"get": _op("Request result", _REQUEST_PARAMS)},
            rid + "/cancel": {
                "put": _op(
                    "Cancel a request",
                    _REQUEST_PARAMS,
                    r202=_json({"type": "object"}, "Cancellation requested"),
                )
            },
            "/rest/apps": {"get": _op("Registered apps", [], r200=array)},
            "/rest/runners": {
                "get": _op(
                    "Live runners in the cluster (admin keys only)",
                    [_param("app_id", "query")],
                    r200=array,
                )
            },
            "/rest/openapi/queue/openapi.json": {
                "get": _op(
                    "OpenAPI of one endpoint",
                    [{**_param("endpoint_id", "query", pattern="^[^/]+/[^/]+"), "required": True}],
                    r200=_json({"type": "object"}),
                )
            },
            "/health": {"get": _op("Liveness", [], r200=_json({"type": "object"}))},
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(gateway_openapi())
