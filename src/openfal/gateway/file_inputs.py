"""File URLs of this server given as app inputs: the submitter must be allowed to read them.

Apps read this server's own file URLs straight from storage, not over HTTP, so the check
``GET /files/{key}`` makes (a private file is its owner's) is made here, at submit: a file
the caller may not read, like a missing one, is a 422 naming the input field, so that the
answer tells nothing about other users' files.

The files come from two places: the validators of typed fields (``FileUrl``, ``ImageUrl``,
``File``) list them in the validation context, and ``note_file_strings`` finds every other
string of the input that names one (an app may download a plain ``str`` field too).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.requests import HTTPConnection

from openfal.gateway.auth import may_read_file
from openfal.gateway.errors import ValidationFailed
from openfal.storage import Storage
from openfal.store.clock import now
from openfal.toolkit import OWN_FILES, own_file_key

__all__ = ["FILE_MARK", "check_file_inputs", "note_file_strings", "validation_context"]

FILE_MARK = b"/files/"  # in every file URL of this server (also /cdn/files/)


def validation_context() -> dict[str, Any]:
    """A fresh context for validating one input; validators list own files in it."""
    return {OWN_FILES: []}


async def check_file_inputs(conn: HTTPConnection, context: dict[str, Any]) -> None:
    """422 on the first listed file that is missing or that the caller may not read."""
    for field, key in context.get(OWN_FILES, []):
        if not await _exists(conn, key) or not await may_read_file(conn, key):
            detail = [
                {
                    "loc": ["body", *_loc(field)],
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


def note_file_strings(data: Any, context: dict[str, Any]) -> None:
    """List every string in ``data`` that is one of this server's file URLs."""
    listed: list[Any] = context.setdefault(OWN_FILES, [])
    seen = {key for _, key in listed}
    for where, text in _strings(data):
        key = own_file_key(text.strip())
        if key is not None and key not in seen:
            listed.append((where, key))
            seen.add(key)


def _strings(data: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:  # no recursion: the parser already bounds nesting, this never adds to it
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            stack.extend(((*where, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*where, i), v) for i, v in enumerate(node))


def _loc(field: Any) -> list[Any]:
    """A validator lists a field name, ``note_file_strings`` a path."""
    if isinstance(field, list | tuple):
        return list(field)
    return [field] if field else []
