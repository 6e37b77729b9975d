"""Webhooks at submit time: where the URL comes from, and whether it may be called.

``?fal_webhook=URL`` (what the clients send), or ``webhook_url`` in the JSON body when
the endpoint's input does not declare such a field itself (it is then taken out of the
input). URLs that resolve to private, loopback or link-local addresses are refused with
400 unless allow-listed (``openfal serve --webhook-allow``). Delivery is the sender's
job (``openfal.webhooks.sender``); the gateway only publishes the public keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from openfal.gateway.errors import BadRequest
from openfal.gateway.registry import AppEntry
from openfal.webhooks import SigningKey, UrlGuard, WebhookUrlRefused

BODY_FIELD = "webhook_url"


@dataclass
class WebhookSettings:
    keys: list[SigningKey] = field(default_factory=list)  # served as the JWKS
    allow: tuple[str, ...] = ()  # hosts, addresses or networks private URLs may use

    def guard(self) -> UrlGuard:
        return UrlGuard(self.allow)


def webhook_settings(request: Request) -> WebhookSettings:
    settings: WebhookSettings = request.app.state.webhooks
    return settings


async def take_webhook(
    request: Request, entry: AppEntry, path: str, body: bytes, data: Any
) -> tuple[bytes, Any, str | None]:
    """``(body, data, webhook URL)``: the body without a ``webhook_url`` that is not
    the endpoint's own input, and the vetted URL (None when none was given)."""
    url = request.query_params.get("fal_webhook") if request.scope.get("query_string") else None
    where = "fal_webhook"
    if isinstance(data, dict) and BODY_FIELD in data and not declares_webhook(entry, path):
        data = dict(data)
        from_body = data.pop(BODY_FIELD)
        body = json.dumps(data).encode()
        if url is None and from_body is not None:
            if not isinstance(from_body, str):
                raise BadRequest(f"Invalid {BODY_FIELD}: must be a string URL")
            url, where = from_body, BODY_FIELD
    if url is None:
        return body, data, None
    try:
        await webhook_settings(request).guard().check_async(url)
    except WebhookUrlRefused as e:
        raise BadRequest(
            f"Invalid {where} {url!r}: {e} (a server operator may allow it with "
            "--webhook-allow HOST)"
        ) from None
    return body, data, url


def declares_webhook(entry: AppEntry, path: str) -> bool:
    """Whether the endpoint's own input has a ``webhook_url`` field (then it is input)."""
    schema = entry.record.endpoints.get(path, {}).get("input_schema") or {}
    return BODY_FIELD in (schema.get("properties") or {})
