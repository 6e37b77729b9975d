"""``POST /rest/tokens/``: short-lived tokens for realtime and streaming URLs (PROTOCOL §6.1)."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openfal.gateway.errors import BadRequest, ValidationFailed
from openfal.gateway.routes.common import parse_json_object, read_body
from openfal.gateway.tokens import MAX_TTL, mint_token

__all__ = ["create_token"]

_MAX_BODY = 64 * 1024


class TokenRequest(BaseModel):
    allowed_apps: list[str] = Field(min_length=1, max_length=100)
    token_expiration: int = Field(default=120, ge=1, le=MAX_TTL)


async def create_token(request: Request) -> Response:
    """The token as a bare JSON string (what both official clients expect)."""
    data = parse_json_object(await read_body(request, _MAX_BODY))
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object with allowed_apps and token_expiration")
    try:
        asked = TokenRequest.model_validate(data)
    except ValidationError as exc:
        detail = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False)
        ]
        raise ValidationFailed(detail) from None
    try:
        token = mint_token(
            request.scope.get("openfal.owner"), asked.allowed_apps, asked.token_expiration
        )
    except ValueError as exc:
        raise ValidationFailed(
            [{"loc": ["body", "allowed_apps"], "msg": str(exc), "type": "value_error"}]
        ) from None
    return JSONResponse(token)
