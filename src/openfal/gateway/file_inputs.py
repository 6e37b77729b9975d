"""File URLs of this server given as app inputs: the submitter must be allowed to read them.

Apps read this server's own file URLs straight from storage, not over HTTP, so the check
``GET /files/{key}`` makes (a private file is its owner's) is made here, at submit: a file
the caller may not read, like a missing one, is a 422 naming the input field, so that the
answer tells nothing about other users' files.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from openfal.gateway.auth import may_read_file
from openfal.gateway.errors import ValidationFailed
from openfal.storage import Storage
from openfal.store.clock import now
from openfal.toolkit import OWN_FILES

__all__ = ["check_file_inputs", "validation_context"]


def validation_context() -> dict[str, Any]:
    """A fresh context for validating one input; validators list own files in it."""
    return {OWN_FILES: []}


async def check_file_inputs(conn: HTTPConnection, context: dict[str, Any]) -> None:
    """422 on the first listed file that is missing or that the caller may not read."""
    for field, key in context.get(OWN_FILES, []):
        if not await _exists(conn, key) or not await may_read_file(conn, key):
            detail = [
                {
                    "loc": ["body", field] if field else ["body"],
                    "msg": "file not found (expired, deleted, or not yours)",
                    "type": "file_not_found",
                }
            ]
            raise ValidationFailed(detail)


async def _exists(conn: HTTPConnection, key: str) -> bool:
    storage: Storage | None = getattr(conn.app.state, "storage", None)
    if storage is None:  # a gateway without storage: the app reports a missing file
        return True
    info = await storage.stat(key)
    return info is not None and not info.is_expired(now())
