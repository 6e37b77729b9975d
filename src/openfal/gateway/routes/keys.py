"""``/rest/keys`` (ADMIN keys only) and the webhook signing keys' JWKS.

- ``GET /rest/keys[?user=NAME]``: every key, without secrets;
- ``POST /rest/keys`` ``{"user", "scope": "API"|"ADMIN", "description", "rate_limit",
  "max_concurrent"}`` (all optional): 201 with the key's secret, shown this once;
- ``DELETE /rest/keys/{key_id}``: revoke (404 for an unknown or already revoked key);
- ``GET /.well-known/jwks.json`` (and under ``/rest``): public, what receivers verify with.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openfal.gateway.auth import principal_of
from openfal.gateway.errors import BadRequest, Forbidden, NotFound
from openfal.gateway.routes.common import SMALL_BODY, parse_json_object, read_body, store
from openfal.gateway.webhooks import webhook_settings
from openfal.store import KeyScope
from openfal.webhooks import jwks

DEFAULT_USER = "default"


def _admin_only(request: Request) -> None:
    if not principal_of(request).admin:
        raise Forbidden("Managing keys needs an ADMIN key")


async def list_keys(request: Request) -> Response:
    _admin_only(request)
    keys = await store(request).list_keys(user=request.query_params.get("user"))
    return JSONResponse([k.public() for k in keys])


async def create_key(request: Request) -> Response:
    _admin_only(request)
    body = parse_json_object(await read_body(request, SMALL_BODY))
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    user = body.get("user") or principal_of(request).user or DEFAULT_USER
    scope = body.get("scope", KeyScope.API.value)
    if scope not in (KeyScope.API.value, KeyScope.ADMIN.value):
        raise BadRequest(f"Invalid scope {scope!r}: use API or ADMIN")
    for name in ("rate_limit", "max_concurrent"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadRequest(f"Invalid {name} {value!r}: must be an integer")
    description = body.get("description", "")
    if not isinstance(user, str) or not isinstance(description, str):
        raise BadRequest("user and description must be strings")
    try:
        key, secret = await store(request).create_key(
            user,
            KeyScope(scope),
            description=description,
            rate_limit=body.get("rate_limit"),
            max_concurrent=body.get("max_concurrent"),
        )
    except ValueError as e:
        raise BadRequest(str(e)) from None
    answer: dict[str, Any] = {
        **key.public(),
        "key_secret": secret,
        "key": f"{key.id}:{secret}",
    }
    return JSONResponse(answer, status_code=201)


async def revoke_key(request: Request) -> Response:
    _admin_only(request)
    key_id = request.path_params["key_id"]
    if not await store(request).revoke_key(key_id):
        raise NotFound(f"Key {key_id} not found or already revoked")
    return JSONResponse({"key_id": key_id, "revoked": True})


async def jwks_document(request: Request) -> Response:
    return JSONResponse(
        jwks(webhook_settings(request).keys), headers={"cache-control": "public, max-age=300"}
    )
