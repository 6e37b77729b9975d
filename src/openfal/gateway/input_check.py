"""A submitted body checked before it is queued: JSON, the endpoint's input model, webhook,
file URLs. Bad input is a 400 or 422 here, never a failure after queueing.

The body is validated as bytes (``model_validate_json``, the parser and validator runners
use): fields the model does not declare are skipped, not built into Python objects. Bodies
above ``POOL_THRESHOLD`` are validated in a helper process (``body_pool``), so the event loop
stays free for other clients. Only a body that carries its webhook in a
``webhook_url`` field the endpoint does not declare is parsed whole (the field is taken out
before queueing).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.requests import Request

from openfal.gateway.body_pool import POOL_THRESHOLD, AnyObject, plain_error, validate_in_pool
from openfal.gateway.errors import BadRequest, ValidationFailed
from openfal.gateway.file_inputs import (
    FILE_MARK,
    check_file_inputs,
    note_file_strings,
    validation_context,
)
from openfal.gateway.registry import AppEntry
from openfal.gateway.webhooks import BODY_FIELD, declares_webhook, take_webhook

__all__ = ["checked_input"]

_BODY_FIELD = BODY_FIELD.encode()


async def checked_input(
    request: Request, entry: AppEntry, path: str, body: bytes
) -> tuple[bytes, str | None]:
    """``(body to queue, vetted webhook URL or None)``; raises 400/422 for bad input."""
    context = validation_context()
    if _BODY_FIELD in body and not declares_webhook(entry, path):
        body, data, webhook = await take_webhook(request, entry, path, body, _parse(body))
        entry.validate(path, data, context)
        note_file_strings(data, context)
    else:
        await _validate_json(entry, path, body, context)
        body, _, webhook = await take_webhook(request, entry, path, body, None)
    await check_file_inputs(request, context)
    return body, webhook


async def _validate_json(entry: AppEntry, path: str, body: bytes, context: dict[str, Any]) -> None:
    model = entry.models.get(path, (None, None))[0]
    text = body.strip() or b"{}"
    if len(text) > POOL_THRESHOLD and (model is None or entry.record.source):
        source = entry.record.source if model is not None else None
        outcome = await validate_in_pool(source, path, text, context)
        if outcome is not None:
            kind, payload = outcome
            if kind == "invalid":
                _refuse(payload)
            context.update(payload[0])  # the file URLs the child's validators listed
            return
    try:
        if model is not None:
            model.model_validate_json(text, context=context)
        elif text.startswith(b"{"):
            AnyObject.model_validate_json(text)
        else:  # not an object: small in practice; the runner says what it expects
            _parse(text)
    except ValidationError as e:
        _refuse([plain_error(err) for err in e.errors(include_url=False)])
    if FILE_MARK in text:  # after the validators: their entries name the field best
        note_file_strings(_parse(text), context)


def _refuse(errors: list[dict[str, Any]]) -> None:
    for err in errors:
        if err["type"] == "json_invalid":
            raise BadRequest(f"Malformed JSON body: {err['problem']}")
    raise ValidationFailed(
        [{"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in errors]
    )


def _parse(body: bytes) -> Any:
    try:
        return from_json(body.strip() or b"{}")
    except ValueError as e:
        raise BadRequest(f"Malformed JSON body: {e}") from None
